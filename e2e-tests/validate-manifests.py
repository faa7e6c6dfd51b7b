#!/usr/bin/env python3
"""Validates Kubernetes manifests against the real OpenAPI schemas.

Usage: validate-manifests.py --kubernetes-version 1.35 [--kubernetes-version ...] FILE...

Every document of every FILE (multi-document YAML) must be valid:

* Kinds of Kubernetes itself (Deployment, Service, webhook configurations,
  ...) against the strict schemas (no unknown field) that kubernetes-validate
  ships for each Kubernetes minor version given, generated from that
  version's OpenAPI document.
* The custom resources the project's manifests use (cert-manager's Issuer
  and Certificate, Kubewarden's ClusterAdmissionPolicy and AdmissionPolicy)
  against the schemas below: written here from each project's documented
  API types (no CRD file is fetched or committed), strict about the fields
  they define, and made of the same Kubernetes definitions (ObjectMeta,
  RuleWithOperations, LabelSelector, ...) for the parts the CRDs borrow.
* Any other kind is an error: nothing is skipped silently.

Prints one line per problem (file, document, kind/name, Kubernetes version,
field path, reason) and exits 1 when there is any; prints a summary and
exits 0 otherwise. e2e-tests/manifests.bats runs it on deploy/ and examples/.
"""

import argparse
import functools
import re
import sys

import jsonschema
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

# Where the Kubernetes definitions are, as the shipped schemas name them.
DEFS = "https://kubernetes.io/api/_definitions.json#/$defs/"


def ref(name):
    return {"$ref": DEFS + name}


def strict_object(properties, required=()):
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def custom_resource(spec):
    return strict_object(
        {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
            "spec": spec,
        },
        required=("apiVersion", "kind", "metadata", "spec"),
    )


STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"}

# cert-manager.io/v1 (cert-manager's API reference: IssuerSpec,
# SelfSignedIssuer, CAIssuer, CertificateSpec, CertificatePrivateKey,
# ObjectReference).
ISSUER = custom_resource(
    {
        "type": "object",
        "properties": {
            "selfSigned": strict_object({"crlDistributionPoints": STRINGS}),
            "ca": strict_object(
                {
                    "secretName": STRING,
                    "crlDistributionPoints": STRINGS,
                    "ocspServers": STRINGS,
                    "issuingCertificateURLs": STRINGS,
                },
                required=("secretName",),
            ),
            # The other issuer types are objects of their own; this project
            # uses none of them, so any of their fields is accepted.
            "acme": {"type": "object"},
            "vault": {"type": "object"},
            "venafi": {"type": "object"},
        },
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    }
)
CERTIFICATE = custom_resource(
    strict_object(
        {
            "secretName": STRING,
            "secretTemplate": strict_object(
                {
                    "annotations": {"type": "object", "additionalProperties": STRING},
                    "labels": {"type": "object", "additionalProperties": STRING},
                }
            ),
            "issuerRef": strict_object(
                {"name": STRING, "kind": STRING, "group": STRING}, required=("name",)
            ),
            "commonName": STRING,
            "dnsNames": STRINGS,
            "ipAddresses": STRINGS,
            "uris": STRINGS,
            "emailAddresses": STRINGS,
            "duration": DURATION,
            "renewBefore": DURATION,
            "renewBeforePercentage": {"type": "integer"},
            "isCA": {"type": "boolean"},
            "usages": STRINGS,
            "privateKey": strict_object(
                {
                    "algorithm": {"enum": ["RSA", "ECDSA", "Ed25519"]},
                    "size": {"type": "integer"},
                    "encoding": {"enum": ["PKCS1", "PKCS8"]},
                    "rotationPolicy": {"enum": ["Never", "Always"]},
                }
            ),
            "subject": {"type": "object"},
            "literalSubject": STRING,
            "revisionHistoryLimit": {"type": "integer"},
            "keystores": {"type": "object"},
            "nameConstraints": {"type": "object"},
            "otherNames": {"type": "array"},
            "signatureAlgorithm": STRING,
            "encodeUsagesInRequest": {"type": "boolean"},
        },
        required=("secretName", "issuerRef"),
    )
)

# policies.kubewarden.io/v1 (kubewarden-controller api/policies/v1:
# PolicySpec, and ClusterAdmissionPolicySpec's additions).
POLICY_SPEC = {
    "policyServer": STRING,
    "mode": {"enum": ["protect", "monitor"]},
    "module": {"type": "string", "minLength": 1},
    "settings": {"type": ["object", "null"]},
    "rules": {
        "type": "array",
        "items": ref("io.k8s.api.admissionregistration.v1.RuleWithOperations"),
    },
    "failurePolicy": {"enum": ["Ignore", "Fail"]},
    "mutating": {"type": "boolean"},
    "backgroundAudit": {"type": "boolean"},
    "matchPolicy": {"enum": ["Exact", "Equivalent"]},
    "matchConditions": {
        "type": "array",
        "maxItems": 64,
        "items": ref("io.k8s.api.admissionregistration.v1.MatchCondition"),
    },
    "objectSelector": ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"),
    "sideEffects": {"enum": ["None", "NoneOnDryRun"]},
    "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 30},
    "message": STRING,
}
ADMISSION_POLICY = custom_resource(
    strict_object(POLICY_SPEC, required=("module", "rules", "mutating"))
)
CLUSTER_ADMISSION_POLICY = custom_resource(
    strict_object(
        {
            **POLICY_SPEC,
            "namespaceSelector": ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"),
            "contextAwareResources": {
                "type": "array",
                "items": strict_object(
                    {"apiVersion": STRING, "kind": STRING}, required=("apiVersion", "kind")
                ),
            },
            "allowInsideAdmissionControllerNamespace": {"type": "boolean"},
        },
        required=("module", "rules", "mutating"),
    )
)

CUSTOM_RESOURCES = {
    ("cert-manager.io/v1", "Issuer"): ISSUER,
    ("cert-manager.io/v1", "ClusterIssuer"): ISSUER,
    ("cert-manager.io/v1", "Certificate"): CERTIFICATE,
    ("policies.kubewarden.io/v1", "AdmissionPolicy"): ADMISSION_POLICY,
    ("policies.kubewarden.io/v1", "ClusterAdmissionPolicy"): CLUSTER_ADMISSION_POLICY,
}


@functools.lru_cache(maxsize=None)
def schema_file(version, name):
    """A strict schema kubernetes-validate ships for Kubernetes `version` (major.minor)."""
    return kv.schema_contents(f"kubernetes-json-schema/v{version}.0-local-strict/{name}", version)


def builtin_schema(document, version):
    """The schema of a kind of Kubernetes itself, or None; named as kubernetes-validate
    names them (`deployment-apps-v1.json`, `service-v1.json`)."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", document["apiVersion"])
    try:
        return schema_file(version, f"{document['kind'].lower()}-{group_version}.json")
    except FileNotFoundError:
        return None


@functools.lru_cache(maxsize=None)
def definitions_registry(version):
    return Resource.from_contents(schema_file(version, "_definitions.json")) @ Registry()


def errors(document, schema, version):
    """Every error of `document` against `schema`, whose `$ref`s name the
    version's `_definitions.json` (by its `$id`)."""
    registry = definitions_registry(version)
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])


def path_of(error):
    return ".".join(str(p) for p in error.absolute_path) or "(document)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-version", action="append", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    problems = []
    checked = 0
    for file in args.files:
        try:
            with open(file, encoding="utf-8") as f:
                documents = [d for d in yaml.safe_load_all(f) if d is not None]
        except (OSError, yaml.YAMLError) as e:
            problems.append(f"{file}: cannot read: {e}")
            continue
        for index, document in enumerate(documents, start=1):
            if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
                problems.append(f"{file}: document {index}: not a Kubernetes object (no apiVersion and kind)")
                continue
            kind, api_version = document["kind"], document["apiVersion"]
            name = (document.get("metadata") or {}).get("name", "?")
            where = f"{file}: document {index} ({kind}/{name})"
            for version in args.kubernetes_version:
                schema = CUSTOM_RESOURCES.get((api_version, kind)) or builtin_schema(document, version)
                if schema is None:
                    problems.append(
                        f"{where}: no schema for {api_version} {kind} in Kubernetes {version} "
                        "or among the custom resources this check knows"
                    )
                    continue
                checked += 1
                for error in errors(document, schema, version):
                    problems.append(f"{where}: Kubernetes {version}: {path_of(error)}: {error.message}")

    for problem in problems:
        print(problem)
    versions = ", ".join(args.kubernetes_version)
    if problems:
        print(f"{len(problems)} manifest problems (Kubernetes {versions})")
        return 1
    print(f"{checked} checks of {len(args.files)} files against Kubernetes {versions}: all valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
