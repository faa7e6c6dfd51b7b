#!/usr/bin/env bash
# Evaluates every workload in demo/workloads against demo/settings.yaml with
# `imagegate run` and prints each verdict. Usage: demo/run.sh IMAGEGATE POLICY
set -euo pipefail
imagegate=${1:?usage: demo/run.sh IMAGEGATE POLICY}
policy=${2:?usage: demo/run.sh IMAGEGATE POLICY}
here=$(cd "$(dirname "$0")" && pwd)

echo "settings: demo/settings.yaml"
"$imagegate" check-settings --policy "$policy" --settings "$here/settings.yaml"
for workload in "$here"/workloads/*.yaml; do
  echo
  echo "== demo/workloads/$(basename "$workload")"
  # -o text exits 3 for a rejection: the verdict is the point of the demo.
  "$imagegate" run --policy "$policy" --settings "$here/settings.yaml" --request "$workload" --output text ||
    [ $? -eq 3 ]
done
