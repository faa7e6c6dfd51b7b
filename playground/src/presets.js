// Example settings and workloads: the README's scenarios (each is also a case
// in testdata/cases), written as a person would paste them. `host` holds
// recorded host answers (the `imagegate run --host-capabilities` format) for
// the rules that ask the host.

export const presets = [
  {
    id: 'private-registry',
    title: 'Private registry only',
    about:
      'Only private.example.com is trusted (the Rancher example). nginx:1.27 is Docker Hub, ' +
      'so it is rejected; point the image at private.example.com to admit it.',
    settings: `registries:
  allow: [private.example.com]
`,
    workload: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
`,
  },
  {
    id: 'trusted-registries-warn',
    title: 'Trusted registries, warn mode',
    about:
      'A list of trusted registries with the source rule in warn mode (the Compliant Kubernetes ' +
      'example): the untrusted image is admitted with a warning. Set actions.source to deny to reject it.',
    settings: `registries:
  allow: [harbor.corp.example, registry.k8s.io, ghcr.io]
actions:
  source: warn
`,
    workload: `apiVersion: v1
kind: Pod
metadata:
  name: demo
spec:
  containers:
    - name: nginx
      image: harbor.example.com/demo/nginx:1.27
`,
  },
  {
    id: 'openshift-registries',
    title: 'OpenShift registry patterns',
    about:
      "OpenShift's allowedRegistriesForImport example: *.mydomain.com over plain HTTP (port 80), " +
      'local.registry.corp only on port 5000. local.registry.corp/bar names no port, so it is rejected.',
    settings: `registries:
  allow:
    - registry.redhat.io
    - {domainName: "*.mydomain.com", insecure: true}
    - local.registry.corp:5000
`,
    workload: `apiVersion: v1
kind: Pod
metadata:
  name: imports
spec:
  containers:
    - name: app
      image: reg.mydomain.com/app:v1
    - name: foo
      image: reg1.mydomain.com:80/foo
    - name: bar
      image: local.registry.corp/bar
`,
  },
  {
    id: 'pull-policy-always',
    title: 'Pull policy: enforceAlways',
    about:
      'The AlwaysPullImages admission controller as a policy: every container of a Pod is ' +
      'pulled Always. The request is admitted with the object mutated; the patch is what a host sends.',
    settings: `pullPolicy:
  enforceAlways: true
`,
    workload: `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  initContainers:
    - name: migrate
      image: ghcr.io/org/migrate:1.4.2
  containers:
    - name: web
      image: ghcr.io/org/web:1.4.2
      imagePullPolicy: IfNotPresent
    - name: sidecar
      image: ghcr.io/org/sidecar:2.0
      imagePullPolicy: Always
`,
  },
  {
    id: 'my-organisation',
    title: 'Only my organisation',
    about:
      'Repository entries match at a "/" boundary: ghcr.io/org admits ghcr.io/org/..., never ' +
      'ghcr.io/org-evil/...; the longer reject of ghcr.io/org/experimental wins over the allow.',
    settings: `repositories:
  allow: [ghcr.io/org]
  reject: [ghcr.io/org/experimental]
`,
    workload: `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: report
              image: ghcr.io/org/team/report:3.1
            - name: evil
              image: ghcr.io/org-evil/report:3.1
            - name: beta
              image: ghcr.io/org/experimental/report:0.1
`,
  },
  {
    id: 'tags-and-digests',
    title: 'Tags and digests',
    about:
      'Reject latest and snapshot tags and require a written tag. A pinned image (with a digest) ' +
      'has no effective tag, so the tag rules do not apply to it.',
    settings: `tags:
  reject: [latest, "*-SNAPSHOT"]
  requireExplicit: true
`,
    workload: `apiVersion: v1
kind: Pod
metadata:
  name: tags
spec:
  containers:
    - name: shell
      image: busybox
    - name: app
      image: ghcr.io/org/app:1.0-SNAPSHOT
    - name: pinned
      image: ghcr.io/org/app@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
`,
  },
  {
    id: 'signatures',
    title: 'Signatures (Sigstore), recorded answers',
    about:
      "The team's images must be signed by its key, and are pinned to the digest whose signature " +
      'was verified. The host answers come from the recording below (what the registry holds); the ' +
      'api image is signed by another key, so it is rejected. Sign it with the team key in the ' +
      'recording to admit it.',
    settings: `signatures:
  - repository: ghcr.io/example-org
    keys:
      - |
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAED7pN8tRjI+lUZZDw/MSni0eNrkbk
        Af7gOzK4BSsvyGQ+rVJjhNMeM+4Z4V9NxzPa+VPiFx5WQfOjPvwjkIpgdg==
        -----END PUBLIC KEY-----
digests:
  resolve: AttemptRewrite
  rewriteKinds: [Pod, Deployment]   # by default only Pods are rewritten
`,
    workload: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
        - name: web
          image: ghcr.io/example-org/web:2.3.0
        - name: api
          image: ghcr.io/example-org/api:2.3.0
`,
    host: `verify:
  ghcr.io/example-org/web:2.3.0:
    digest: sha256:d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1
    signatures:
      - key: |
          -----BEGIN PUBLIC KEY-----
          MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAED7pN8tRjI+lUZZDw/MSni0eNrkbk
          Af7gOzK4BSsvyGQ+rVJjhNMeM+4Z4V9NxzPa+VPiFx5WQfOjPvwjkIpgdg==
          -----END PUBLIC KEY-----
  ghcr.io/example-org/api:2.3.0:
    digest: sha256:d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2
    signatures:
      - key: |
          -----BEGIN PUBLIC KEY-----
          MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVghu9/AleIC6JZ8KnDytHTzQLsfi
          6ZTxCC+OryAYdmvM9sNaoL+P0lwMwjYkmsTTmnP34JDbMApFxLoDl2yFeA==
          -----END PUBLIC KEY-----
`,
  },
];
