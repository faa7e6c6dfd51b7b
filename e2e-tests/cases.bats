#!/usr/bin/env bats
# One test per case in testdata/cases: the same table the native core
# (policy/tests/cases.rs) and the host (host/tests/cases.rs) run, here
# through annotated-policy.wasm and `imagegate run`, compared with jq.

load helpers

@test "admissionreview_is_unwrapped: an AdmissionReview is read like its request" {
  run_case admissionreview_is_unwrapped
}

@test "bad_shape_is_rejected: a pod spec of the wrong shape is rejected with its path" {
  run_case bad_shape_is_rejected
}

@test "bypass_contains_substring: SPEC: Gatekeeper contains(image, 'private.example.com') admits evil.io/private.example.com/x" {
  run_case bypass_contains_substring
}

@test "bypass_default_port_written: ghcr.io:443 is ghcr.io" {
  run_case bypass_default_port_written
}

@test "bypass_docker_hub_reject_by_alias_entry: a reject written as registry-1.docker.io rejects plain short names" {
  run_case bypass_docker_hub_reject_by_alias_entry
}

@test "bypass_ephemeral_container_update: SPEC: trusted-repos does not check ephemeral containers; kubectl debug adds one through pods/ephemeralcontainers" {
  run_case bypass_ephemeral_container_update
}

@test "bypass_index_docker_io_any_case: INDEX.DOCKER.IO is Docker Hub too, in any letter case" {
  run_case bypass_index_docker_io_any_case
}

@test "bypass_library_on_other_registry: SPEC: trusted-repos allow nginx admits evil.io/library/nginx; an image entry names one repository on one registry" {
  run_case bypass_library_on_other_registry
}

@test "bypass_library_on_other_registry_repositories: the same bypass through a repository entry" {
  run_case bypass_library_on_other_registry_repositories
}

@test "bypass_other_port: ghcr.io:8443 is another registry" {
  run_case bypass_other_port
}

@test "bypass_percent_encoding: percent-encoding is not part of the grammar" {
  run_case bypass_percent_encoding
}

@test "bypass_registry_1_docker_io: SPEC: registry-1.docker.io/... slips past a Docker Hub reject; it is docker.io" {
  run_case bypass_registry_1_docker_io
}

@test "bypass_startswith_org_evil: SPEC: Gatekeeper startswith(image, 'ghcr.io/org') admits ghcr.io/org-evil/x; a repository entry matches at a / boundary only" {
  run_case bypass_startswith_org_evil
}

@test "bypass_trailing_dot_host: a trailing dot in a host is not valid" {
  run_case bypass_trailing_dot_host
}

@test "bypass_unicode_lookalike_host: a Cyrillic letter in the host is not the trusted registry and not a valid reference" {
  run_case bypass_unicode_lookalike_host
}

@test "bypass_uppercase_domain: SPEC: trusted-repos takes EVILHOST/app as Docker Hub; an upper-case first component is a registry" {
  run_case bypass_uppercase_domain
}

@test "container_without_image: a container without an image is a reference violation" {
  run_case container_without_image
}

@test "delete_is_accepted: only CREATE and UPDATE are checked" {
  run_case delete_is_accepted
}

@test "digest_attempt_rewrite_pins_what_resolves: AttemptRewrite pins every image whose digest the host resolves (to its normalized name) and leaves the others" {
  run_case digest_attempt_rewrite_pins_what_resolves
}

@test "digest_no_answer_recorded: a lookup the host cannot answer is a failure with the host's words" {
  run_case digest_no_answer_recorded
}

@test "digest_only_is_not_latest: SPEC: trusted-repos rejects digest-only images as latest; a pinned image has no effective tag" {
  run_case digest_only_is_not_latest
}

@test "digest_pinned_images_are_not_looked_up: pinned images are left alone (no lookup is recorded for them)" {
  run_case digest_pinned_images_are_not_looked_up
}

@test "digest_require_after_failed_rewrite: require with AttemptRewrite: an image left unpinned by a failed lookup is rejected" {
  run_case digest_require_after_failed_rewrite
}

@test "digest_required_rejects_unresolvable: Required rejects an image whose digest cannot be resolved, with the host's reason; nothing is mutated" {
  run_case digest_required_rejects_unresolvable
}

@test "digest_required_warn_mode_still_pins: Required in warn mode: a warning for the image that does not resolve, the others pinned" {
  run_case digest_required_warn_mode_still_pins
}

@test "digest_rewrite_in_deployment_template: AttemptRewrite pins images in controllers' pod templates too" {
  run_case digest_rewrite_in_deployment_template
}

@test "digests_require: digests.require rejects unpinned images" {
  run_case digests_require
}

@test "digests_require_pinned_ok: digests.require accepts pinned images" {
  run_case digests_require_pinned_ok
}

@test "ephemeral_container_in_pod_create: a Pod CREATE that carries ephemeral containers is checked too" {
  run_case ephemeral_container_in_pod_create
}

@test "exempt_image_skips_every_rule: exemptImages skip every rule" {
  run_case exempt_image_skips_every_rule
}

@test "image_volume_is_checked: image volumes (volumes[*].image.reference) are images too" {
  run_case image_volume_is_checked
}

@test "implicit_latest_is_latest: an image with neither tag nor digest runs as latest" {
  run_case implicit_latest_is_latest
}

@test "invalid_settings_in_validate: settings that do not compile reject the request with every problem" {
  run_case invalid_settings_in_validate
}

@test "ipv6_registry_allowed: IPv6 registries are bracketed and keep their port" {
  run_case ipv6_registry_allowed
}

@test "ipv6_registry_other_port_rejected: [::1]:5000 does not admit [::1]:5001" {
  run_case ipv6_registry_other_port_rejected
}

@test "ipv6_star_is_default_port_only: * matches [::1] only on the default port" {
  run_case ipv6_star_is_default_port_only
}

@test "kind_cronjob_create_trusted: cronjob_create.json from a trusted repository is accepted" {
  run_case kind_cronjob_create_trusted
}

@test "kind_cronjob_create_untrusted: every image of cronjob_create.json is checked with its field path" {
  run_case kind_cronjob_create_untrusted
}

@test "kind_daemonset_create_trusted: daemonset_create.json from a trusted repository is accepted" {
  run_case kind_daemonset_create_trusted
}

@test "kind_daemonset_create_untrusted: every image of daemonset_create.json is checked with its field path" {
  run_case kind_daemonset_create_untrusted
}

@test "kind_deployment_create_trusted: deployment_create.json from a trusted repository is accepted" {
  run_case kind_deployment_create_trusted
}

@test "kind_deployment_create_untrusted: every image of deployment_create.json is checked with its field path" {
  run_case kind_deployment_create_untrusted
}

@test "kind_job_create_trusted: job_create.json from a trusted repository is accepted" {
  run_case kind_job_create_trusted
}

@test "kind_job_create_untrusted: every image of job_create.json is checked with its field path" {
  run_case kind_job_create_untrusted
}

@test "kind_pod_create_trusted: pod_create.json from a trusted repository is accepted" {
  run_case kind_pod_create_trusted
}

@test "kind_pod_create_untrusted: every image of pod_create.json is checked with its field path" {
  run_case kind_pod_create_untrusted
}

@test "kind_podtemplate_create_trusted: podtemplate_create.json from a trusted repository is accepted" {
  run_case kind_podtemplate_create_trusted
}

@test "kind_podtemplate_create_untrusted: every image of podtemplate_create.json is checked with its field path" {
  run_case kind_podtemplate_create_untrusted
}

@test "kind_replicaset_create_trusted: replicaset_create.json from a trusted repository is accepted" {
  run_case kind_replicaset_create_trusted
}

@test "kind_replicaset_create_untrusted: every image of replicaset_create.json is checked with its field path" {
  run_case kind_replicaset_create_untrusted
}

@test "kind_replicationcontroller_create_trusted: replicationcontroller_create.json from a trusted repository is accepted" {
  run_case kind_replicationcontroller_create_trusted
}

@test "kind_replicationcontroller_create_untrusted: every image of replicationcontroller_create.json is checked with its field path" {
  run_case kind_replicationcontroller_create_untrusted
}

@test "kind_statefulset_create_trusted: statefulset_create.json from a trusted repository is accepted" {
  run_case kind_statefulset_create_trusted
}

@test "kind_statefulset_create_untrusted: every image of statefulset_create.json is checked with its field path" {
  run_case kind_statefulset_create_untrusted
}

@test "longer_repository_reject_beats_shorter_allow: ghcr.io/org allowed, ghcr.io/org/experimental rejected" {
  run_case longer_repository_reject_beats_shorter_allow
}

@test "malformed_reference_bad_digest: a digest must have 64 lower-case hex characters" {
  run_case malformed_reference_bad_digest
}

@test "malformed_reference_empty: an empty image string" {
  run_case malformed_reference_empty
}

@test "malformed_reference_spaces: whitespace is not part of any image name" {
  run_case malformed_reference_spaces
}

@test "malformed_reference_uppercase: SPEC: a string that does not parse is a reference violation, never allowed, even with empty settings" {
  run_case malformed_reference_uppercase
}

@test "most_specific_image_beats_registry_reject: Docker Hub is rejected except one image" {
  run_case most_specific_image_beats_registry_reject
}

@test "most_specific_image_other_tag_rejected: Docker Hub is rejected except one image: another tag is rejected" {
  run_case most_specific_image_other_tag_rejected
}

@test "only_my_registry_plus_one_image: only my registry, plus busybox:1.36 from Docker Hub" {
  run_case only_my_registry_plus_one_image
}

@test "other_kind_is_accepted: kinds without pod specs are accepted untouched" {
  run_case other_kind_is_accepted
}

@test "pull_policy_allow_effective: allow: the effective policy, written or the Kubernetes default, must be in the set" {
  run_case pull_policy_allow_effective
}

@test "pull_policy_always_for_unpinned: alwaysForUnpinned: images without a digest must be pulled Always" {
  run_case pull_policy_always_for_unpinned
}

@test "pull_policy_bad_settings: values outside Always, IfNotPresent, Never are refused" {
  run_case pull_policy_bad_settings
}

@test "pull_policy_enforce_always_adds_missing_field: enforceAlways adds imagePullPolicy where it is not written, and leaves Always alone" {
  run_case pull_policy_enforce_always_adds_missing_field
}

@test "pull_policy_enforce_always_leaves_controllers: enforceAlways mutates Pods only: a Deployment is left untouched" {
  run_case pull_policy_enforce_always_leaves_controllers
}

@test "pull_policy_enforce_always_nothing_to_change: when every container already pulls Always there is no mutation" {
  run_case pull_policy_enforce_always_nothing_to_change
}

@test "pull_policy_enforce_always_pod: enforceAlways: every container, init container and ephemeral container of a Pod is pulled Always; nothing else changes" {
  run_case pull_policy_enforce_always_pod
}

@test "pull_policy_rejection_wins_over_mutation: when another rule rejects, the rejection wins and nothing is mutated" {
  run_case pull_policy_rejection_wins_over_mutation
}

@test "pull_policy_require_explicit: requireExplicit: containers and image volumes without a pull policy are violations that say how to fix them" {
  run_case pull_policy_require_explicit
}

@test "pull_policy_warn_mode: actions.pullPolicy: warn accepts with warnings" {
  run_case pull_policy_warn_mode
}

@test "registry_aliases_join_mirror_names: registryAliases makes harbor.corp.example:8443 the same registry" {
  run_case registry_aliases_join_mirror_names
}

@test "repository_org_admits_org_subpaths: ghcr.io/org admits ghcr.io/org/team/app" {
  run_case repository_org_admits_org_subpaths
}

@test "scenario_compliant_kubernetes_deny: Compliant Kubernetes: harbor.example.com/demo is not in the trusted list" {
  run_case scenario_compliant_kubernetes_deny
}

@test "scenario_compliant_kubernetes_warn: Compliant Kubernetes in warn mode" {
  run_case scenario_compliant_kubernetes_warn
}

@test "scenario_ecr_repository_nginx_rejected: ECR: only one repository; nginx is rejected" {
  run_case scenario_ecr_repository_nginx_rejected
}

@test "scenario_ecr_repository_ok: ECR: the repository itself" {
  run_case scenario_ecr_repository_ok
}

@test "scenario_openshift_insecure_not_443: OpenShift: an insecure entry does not match :443" {
  run_case scenario_openshift_insecure_not_443
}

@test "scenario_openshift_insecure_port_80: OpenShift: oc import-image --from reg1.mydomain.com:80/foo is allowed" {
  run_case scenario_openshift_insecure_port_80
}

@test "scenario_openshift_insecure_subdomain: OpenShift: oc tag --insecure reg.mydomain.com/app:v1 is allowed by the *.mydomain.com rule" {
  run_case scenario_openshift_insecure_subdomain
}

@test "scenario_openshift_parent_domain_not_matched: OpenShift: mydomain.com itself is not matched by *.mydomain.com" {
  run_case scenario_openshift_parent_domain_not_matched
}

@test "scenario_openshift_port_mismatch: OpenShift: oc tag local.registry.corp/bar is rejected, the port does not match 5000" {
  run_case scenario_openshift_port_mismatch
}

@test "scenario_openshift_star_star: OpenShift: *:* matches every registry on every port" {
  run_case scenario_openshift_star_star
}

@test "scenario_rancher_private_registry_ok: Rancher: an image from private.example.com" {
  run_case scenario_rancher_private_registry_ok
}

@test "scenario_rancher_private_registry_only: Rancher: only private.example.com" {
  run_case scenario_rancher_private_registry_only
}

@test "short_names_rejected: shortNames: reject asks for a registry" {
  run_case short_names_rejected
}

@test "short_names_rejected_full_name_ok: shortNames: reject accepts a full name" {
  run_case short_names_rejected_full_name_ok
}

@test "spec_section_4_example: the example message of SPEC section 4" {
  run_case spec_section_4_example
}

@test "status_subresource_is_accepted: subresources other than ephemeralcontainers are not checked" {
  run_case status_subresource_is_accepted
}

@test "tag_allow_regex: allowRegex must match the whole tag" {
  run_case tag_allow_regex
}

@test "tag_allow_regex_ok: allowRegex admits a semver tag" {
  run_case tag_allow_regex_ok
}

@test "tag_glob_reject: tags.reject globs are case-sensitive" {
  run_case tag_glob_reject
}

@test "tag_require_explicit: requireExplicit: unpinned images must write a tag" {
  run_case tag_require_explicit
}

@test "tie_reject_wins: a wildcard allow and a wildcard reject at equal specificity: reject wins" {
  run_case tie_reject_wins
}

@test "two_rules_two_violations: SPEC 2.9: an untrusted image with a rejected tag counts twice" {
  run_case two_rules_two_violations
}

@test "warn_and_deny_mixed: warn violations go to warnings even when the request is rejected" {
  run_case warn_and_deny_mixed
}

@test "warn_mode_gives_warnings: actions.source: warn accepts with one warning per violation" {
  run_case warn_mode_gives_warnings
}

@test "every case in testdata/cases has a test here" {
  for case in "$CASES"/*.json; do
    name=$(basename "$case" .json)
    grep -q "^  run_case $name\$" "$BATS_TEST_FILENAME" || { echo "no test for $name"; return 1; }
  done
}
