//! The command line: argument definitions only. The commands live in
//! `commands/`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::capabilities::LogSink;
use crate::registry::DEFAULT_LOOKUP_TIMEOUT_MS;
use crate::runtime::{DEFAULT_MAX_INSTANCES, DEFAULT_MEMORY_LIMIT_MIB, RuntimeOptions};

/// Run the imagegate container-image admission policy (policy.wasm, a
/// Kubewarden waPC module) outside a cluster.
#[derive(Debug, Parser)]
#[command(name = "imagegate", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate one admission request; print the AdmissionResponse as `kwctl run` does.
    Run(RunArgs),
    /// Ask the policy whether settings are valid; print its answer.
    CheckSettings(CheckSettingsArgs),
    /// Embed Kubewarden metadata into a policy module (as `kwctl annotate`).
    Annotate(AnnotateArgs),
    /// Print the Kubewarden metadata embedded in a policy module.
    Inspect(InspectArgs),
    /// Measure the latency of validate and validate_settings.
    Bench(BenchArgs),
    /// Check every object in manifest files and directories; report, and exit 3 when any is rejected.
    Scan(ScanArgs),
    /// Serve the policy as a Kubernetes validating and mutating admission webhook over HTTPS.
    Serve(ServeArgs),
    /// Push an (annotated) policy module to an OCI registry as a Kubewarden policy artifact (as `kwctl push`).
    Push(PushArgs),
    /// Pull a Kubewarden policy artifact from an OCI registry (as `kwctl pull`).
    Pull(PullArgs),
    /// Print imagegate settings equivalent to a Gatekeeper, trusted-repos-policy, OpenShift or policy.json policy, and what changes.
    Import(ImportArgs),
    /// Print a shell completion script (as `kwctl completions`): e.g.
    /// `source <(imagegate completions bash)`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a
    /// directory.
    Man(ManArgs),
}

/// `imagegate completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `imagegate man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `imagegate.1` and `imagegate-COMMAND.1` for every command into
    /// this directory instead of printing `imagegate.1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `--policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The policy module: a file, or `registry://HOST/REPO:TAG` (or
    /// `@sha256:…`), pulled, checked against its digests and cached (see
    /// README "Publishing").
    #[arg(
        long,
        value_name = "WASM|URI",
        env = "IMAGEGATE_POLICY",
        default_value = "policy.wasm"
    )]
    pub policy: PathBuf,
}

/// The limits each policy instance runs with.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Time limit of each policy call, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub timeout_ms: u64,

    /// Cap on the policy's linear memory, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MEMORY_LIMIT_MIB,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub memory_limit_mib: u64,
}

impl LimitArgs {
    /// The runtime options these limits give.
    pub fn runtime_options(&self, offline: bool, guest_output: LogSink) -> RuntimeOptions {
        RuntimeOptions {
            memory_limit: self.memory_limit_mib * 1024 * 1024,
            timeout: Duration::from_millis(self.timeout_ms),
            offline,
            guest_output,
            max_instances: DEFAULT_MAX_INSTANCES,
            module_cache: true,
        }
    }
}

/// `--settings FILE | --settings-json JSON`; `{}` when neither is given.
#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Policy settings, YAML or JSON (an object).
    #[arg(
        long,
        value_name = "FILE",
        visible_alias = "settings-path",
        conflicts_with = "settings_json"
    )]
    pub settings: Option<String>,

    /// Policy settings as a JSON object on the command line.
    #[arg(long, value_name = "JSON")]
    pub settings_json: Option<String>,
}

/// What `run` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunOutput {
    /// The AdmissionResponse, as `kwctl run` prints it.
    Admission,
    /// The policy's own ValidationResponse.
    Validation,
    /// For people: `ALLOWED` or `REJECTED: <message>`, then the warnings.
    Text,
}

/// `imagegate run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The request: an AdmissionReview, an AdmissionRequest or a Kubernetes
    /// object (wrapped as CREATE), YAML or JSON; `-` reads stdin.
    #[arg(
        long,
        short = 'r',
        value_name = "FILE|-",
        visible_alias = "request-path"
    )]
    pub request: String,

    #[command(flatten)]
    pub settings: SettingsArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// What to print.
    #[arg(long, short = 'o', value_enum, default_value_t = RunOutput::Admission)]
    pub output: RunOutput,

    /// Print the decoded JSON Patch (a pretty JSON array, `[]` when none).
    #[arg(long, conflicts_with = "output")]
    pub patch: bool,

    #[command(flatten)]
    pub host: HostArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// How `run` answers the policy's host capabilities (registry lookups).
#[derive(Debug, Args)]
pub struct HostArgs {
    /// Refuse host capabilities that need the network.
    #[arg(long)]
    pub offline: bool,

    /// Answer host capabilities from a recording instead of the network:
    /// JSON or YAML with any of the keys `manifest_digest` (`{"<image>":
    /// "sha256:..."}`), `oci_manifest` (`{"<image>": <manifest or index>}`),
    /// `oci_manifest_config` (`{"<image>": {"manifest": ..., "digest": ...,
    /// "config": ...}}`) and `verify` (`{"<image>": {"digest": "sha256:...",
    /// "signatures": [...]}}`); any answer may be `{"error": "<message>"}`.
    /// An image not in it fails with `no answer recorded for <image>` (see
    /// README "The imagegate host").
    #[arg(long, value_name = "FILE")]
    pub host_capabilities: Option<String>,

    /// Sigstore trust root for keyless signatures (`kubewarden/oci/v2/verify`):
    /// a trusted_root.json, or a client trust configuration holding one
    /// (as policy-server's flag). Read once, never fetched; without it,
    /// keyless requirements fail and public keys and certificates still work.
    #[arg(long, value_name = "FILE")]
    pub sigstore_trust_config: Option<PathBuf>,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// How to reach registries: for the policy's lookups, and for
/// `--policy registry://…`, `push` and `pull`. One definition for every
/// command that talks to registries.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Reach this registry over plain HTTP instead of HTTPS (repeatable).
    /// Written as the image names it: `127.0.0.1:5000`, `[::1]:5000`.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = registry_name)]
    pub insecure_registry: Vec<String>,

    /// Registry credentials: a Docker config.json (`auths` entries, `auth`
    /// or `username`/`password`). Default: $DOCKER_CONFIG/config.json, else
    /// ~/.docker/config.json, when present; else anonymous.
    #[arg(long, value_name = "FILE")]
    pub docker_config: Option<PathBuf>,

    /// Time limit of one registry lookup (and of connecting and of each
    /// read in pushes and pulls), in milliseconds. Time spent in lookups
    /// does not count against --timeout-ms.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_LOOKUP_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub lookup_timeout_ms: u64,
}

/// A tip for a usage error that a kwctl habit explains: kwctl's `annotate
/// -o FILE` and `pull -o FILE` are `--output-path FILE` here, where `-o` is
/// always an output format; `-f` is `--force`, never a format. `args` are the
/// process arguments, the program name first.
pub fn usage_tip(args: &[String]) -> Option<&'static str> {
    let command = args.get(1).map(String::as_str)?;
    let value_after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args.get(i + 1).map(String::as_str).unwrap_or_default())
    };
    match command {
        "annotate" if value_after("-o").is_some() => Some(
            "tip: write the annotated module with --output-path FILE (kwctl's -o FILE); in \
             imagegate -o is always an output format",
        ),
        "pull" if value_after("-o").is_some_and(|v| v.contains(['.', '/'])) => Some(
            "tip: write the module to a file with --output-path FILE (kwctl's -o FILE); in \
             imagegate -o is always an output format (text or json)",
        ),
        "scan" if value_after("-f").is_some() => {
            Some("tip: the report format is -o/--output (or --format), e.g. scan -o json")
        }
        _ => None,
    }
}

/// `--insecure-registry`: a registry as image references write it.
fn registry_name(text: &str) -> Result<String, String> {
    let bad = |why: &str| {
        Err(format!(
            "{why}; write the registry as images name it, HOST[:PORT], e.g. 127.0.0.1:5000 \
             or [::1]:5000"
        ))
    };
    if text.contains("://") {
        return bad("no scheme");
    }
    if text.contains('/') {
        return bad("no path");
    }
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c == '@') {
        return bad("not a registry name");
    }
    Ok(text.to_owned())
}

/// `--verification-cache-size`: 1 to a million entries.
fn parse_cache_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n @ 1..=1_000_000) => Ok(n),
        _ => Err("expected a number of entries from 1 to 1000000 (use \
                  --verification-cache-ttl-ms 0 to turn the cache off)"
            .into()),
    }
}

/// What `check-settings` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckSettingsOutput {
    /// For people: `settings are valid`, or `settings are NOT valid:` and
    /// the policy's message, one problem per line.
    Text,
    /// The policy's answer, `{"valid":…,"message":…}`, on one line.
    Json,
}

/// `imagegate check-settings`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("settings-source").required(true).args(["settings", "settings_json"])))]
pub struct CheckSettingsArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,

    /// What to print (default: text on a terminal, else json).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<CheckSettingsOutput>,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `imagegate annotate`.
#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// Kubewarden metadata (metadata.yml).
    #[arg(long, short = 'm', value_name = "FILE")]
    pub metadata: PathBuf,

    /// A file to embed as the `io.kubewarden.policy.usage` annotation.
    #[arg(long, short = 'u', value_name = "FILE")]
    pub usage: Option<PathBuf>,

    /// Where to write the annotated module (kwctl's `-o FILE`: in imagegate
    /// `-o` is always an output format).
    #[arg(long, value_name = "FILE")]
    pub output_path: PathBuf,

    /// The policy module to annotate.
    #[arg(value_name = "WASM")]
    pub policy: PathBuf,
}

/// How `inspect` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    /// YAML, like metadata.yml.
    Yaml,
    /// Pretty JSON, as stored in the module.
    Json,
}

/// `imagegate inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = InspectFormat::Yaml)]
    pub output: InspectFormat,

    /// The (annotated) policy module: a file or `registry://HOST/REPO:TAG`.
    #[arg(value_name = "WASM|URI")]
    pub file: PathBuf,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `imagegate bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The request to evaluate (same forms as `run`).
    #[arg(
        long,
        short = 'r',
        value_name = "FILE|-",
        visible_alias = "request-path"
    )]
    pub request: String,

    #[command(flatten)]
    pub settings: SettingsArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Measured evaluations per row.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub iterations: u64,

    /// Unmeasured evaluations before each row.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub warmup: u64,

    /// Also measure a fresh instance per evaluation (instantiate, wapc_init,
    /// call), as Kubewarden's policy-server runs policies.
    #[arg(long)]
    pub fresh_instance: bool,

    /// Answer host capabilities from a recording (as `run
    /// --host-capabilities`); without it they are refused, as with
    /// `--offline`: a benchmark does not measure the network.
    #[arg(long, value_name = "FILE")]
    pub host_capabilities: Option<String>,

    /// Also measure this module (another policy, such as a peer) on the same
    /// request, interleaved with `--policy` in rounds within one process, so
    /// that changes in the machine's speed hit both alike; prints both and
    /// the ratio.
    #[arg(long, value_name = "WASM")]
    pub compare: Option<PathBuf>,

    /// Settings for the `--compare` module (YAML or JSON); default: the same
    /// settings.
    #[arg(long, value_name = "FILE", requires = "compare")]
    pub compare_settings: Option<String>,

    /// Also run the policy core compiled into this imagegate (native code,
    /// the host's version of it) on the same payload, interleaved with the
    /// module like `--compare`: what running as wasm costs. Both must answer
    /// alike, so it is meant for imagegate's own policy.wasm of the same
    /// version; lookups are refused on both sides.
    #[arg(long, conflicts_with = "host_capabilities")]
    pub native: bool,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// How `scan` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// For people: the objects with findings, each violation with a fix, and a summary.
    Text,
    /// One JSON document: every object, its violations and warnings, and the summary.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
    /// JUnit XML, for CI dashboards.
    Junit,
    /// wgpolicyk8s.io/v1alpha2 PolicyReports (per namespace) and a ClusterPolicyReport, as a v1 List.
    Policyreport,
}

/// `imagegate scan`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("settings-source").required(true).args(["settings", "settings_json"])))]
pub struct ScanArgs {
    /// Manifest files and directories (searched recursively for *.yaml,
    /// *.yml, *.json); `-` reads stdin.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<String>,

    #[command(flatten)]
    pub settings: SettingsArgs,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Report format (`--format` is an alias).
    #[arg(long, short = 'o', visible_alias = "format", value_enum, default_value_t = ScanFormat::Text)]
    pub output: ScanFormat,

    /// The file name the report gives stdin (`-`), as linters'
    /// `--stdin-filename`; default `<stdin>`.
    #[arg(long, value_name = "NAME")]
    pub stdin_filename: Option<String>,

    /// Objects evaluated at once, each thread with its own policy instance
    /// (default: the number of cores). The report is the same for any N.
    #[arg(long, short = 'j', value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,

    #[command(flatten)]
    pub host: HostArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What `push` and `pull` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PublishOutput {
    /// One line for people, as kwctl prints it.
    Text,
    /// One JSON object: `{"immutable_ref": …}` (as `kwctl push -o json`);
    /// `pull` adds `layer_digest`, `path` and `from_cache`.
    Json,
}

/// `imagegate push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The policy module to push (annotated, see `imagegate annotate`).
    #[arg(value_name = "WASM")]
    pub policy: PathBuf,

    /// Where to: `registry://HOST[:PORT]/REPO:TAG` (`registry://` may be left out).
    #[arg(value_name = "URI")]
    pub destination: String,

    /// Push a module without Kubewarden metadata too (as `kwctl push --force`).
    #[arg(long, short = 'f')]
    pub force: bool,

    /// What to print.
    #[arg(long, short = 'o', value_enum, default_value_t = PublishOutput::Text)]
    pub output: PublishOutput,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `imagegate pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The artifact: `registry://HOST[:PORT]/REPO:TAG` or `…@sha256:…`
    /// (`registry://` may be left out, as for `push`).
    #[arg(value_name = "URI")]
    pub source: String,

    /// Also write the module to this file (kwctl's `-o FILE`: in imagegate
    /// `-o` is always an output format); it always goes into the cache (see
    /// README "Publishing"), and the path printed is this file's, else the
    /// cache's.
    #[arg(long, value_name = "FILE")]
    pub output_path: Option<PathBuf>,

    /// What to print.
    #[arg(long, short = 'o', alias = "format", value_enum, default_value_t = PublishOutput::Text)]
    pub output: PublishOutput,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `imagegate serve`.
#[derive(Debug, Args)]
#[command(
    mut_arg("timeout_ms", |arg| arg.help(
        "Deadline of each evaluation as a whole, in milliseconds: the policy's own time, \
         waiting for a free instance and registry lookups; past it the request is denied \
         (code 500)")),
    mut_arg("lookup_timeout_ms", |arg| arg.help(
        "Time limit of one registry lookup, in milliseconds; lookups count against \
         --timeout-ms here, so keep it below that")),
)]
pub struct ServeArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Policy settings, YAML or JSON (an object): checked at start-up (not
    /// valid: exit 1), reloaded on SIGHUP and when the file changes.
    #[arg(long, value_name = "FILE")]
    pub settings: PathBuf,

    /// The server's certificate chain (PEM); reloaded as the settings are.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,

    /// The server's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,

    /// Address to listen on (port 0: any free port, printed at start-up).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8443")]
    pub addr: std::net::SocketAddr,

    /// Policy instances kept ready, and evaluations run at once (default:
    /// the number of cores).
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub instances: Option<u16>,

    /// How often to look for changed settings and certificate files, in
    /// milliseconds; 0: only on SIGHUP.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub reload_interval_ms: u64,

    /// After SIGTERM/SIGINT, how long to keep accepting and answering (with
    /// /readyz failing) so that requests routed before the endpoints are
    /// updated still get answers, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    pub shutdown_delay_ms: u64,

    /// Then, how long open connections may take to finish, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 15_000)]
    pub drain_timeout_ms: u64,

    /// Close a keep-alive connection idle this long, in milliseconds: longer
    /// than clients keep idle connections (the API server: 90 s), so that
    /// the client closes first.
    #[arg(long, value_name = "MS", default_value_t = 120_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,

    /// At most this many connections open at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub max_connections: u32,

    /// The largest request head (request line and headers) in bytes; larger
    /// ones get 431.
    #[arg(long, value_name = "BYTES", default_value_t = 32 * 1024,
          value_parser = clap::value_parser!(u32).range(8192..=1_048_576))]
    pub max_header_bytes: u32,

    /// Request bodies admitted at once, in bytes of their Content-Length
    /// (3 MiB for a body without one): others wait, unread, up to the
    /// deadline (then 503). Bodies up to 64 KiB have a quarter of this on
    /// top, so ordinary requests never wait behind large ones.
    #[arg(long, value_name = "BYTES", default_value_t = crate::serve::budget::DEFAULT_BUDGET as u64,
          value_parser = clap::value_parser!(u64).range(3 * 1024 * 1024..=4 * 1024 * 1024 * 1024))]
    pub max_body_bytes_in_flight: u64,

    /// Also serve GET /metrics over plain HTTP on this address (for
    /// Prometheus, without the webhook's certificate).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Log lines below this level are dropped.
    #[arg(long, value_enum, default_value_t = crate::serve::log::LogLevel::Info)]
    pub log_level: crate::serve::log::LogLevel,

    /// Log lines as JSON objects (one per line) or as text.
    #[arg(long, value_enum, default_value_t = crate::serve::log::LogFormat::Json)]
    pub log_format: crate::serve::log::LogFormat,

    /// How long a successful signature verification is reused for the same
    /// image digest and requirement, in milliseconds; 0: never cached.
    #[arg(long, value_name = "MS", default_value_t = crate::verify::cache::DEFAULT_TTL_MS,
          value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    pub verification_cache_ttl_ms: u64,

    /// At most this many verifications are cached (oldest dropped first).
    #[arg(long, value_name = "N", default_value_t = crate::verify::cache::DEFAULT_CAPACITY,
          value_parser = parse_cache_size)]
    pub verification_cache_size: usize,

    #[command(flatten)]
    pub host: HostArgs,

    // --timeout-ms bounds each evaluation as a whole here: the policy's own
    // time, waiting for a free instance, and registry lookups. An evaluation
    // that runs out of time is denied (code 500, "internal server error:
    // policy exceeded its time limit of …").
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What `import` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportOutput {
    /// The settings as commented YAML on stdout, the differences on stderr.
    Yaml,
    /// One JSON document: settings, differences and the match advice.
    Json,
}

/// `imagegate import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The policy to import (YAML or JSON); `-` reads stdin.
    #[arg(value_name = "SOURCE_FILE")]
    pub source: String,

    /// Which policy it is; default: told from the document.
    #[arg(long, value_enum)]
    pub from: Option<crate::import::SourceKind>,

    /// How your K8sAllowedRepos template compares images with `repos`:
    /// `startswith` (the gatekeeper-library template) or `contains` (its older
    /// version, and Rancher's copy).
    #[arg(long, value_enum, default_value = "startswith")]
    pub repos_match: crate::import::ReposMatch,

    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ImportOutput::Yaml)]
    pub output: ImportOutput,

    /// Print a ready Kubewarden ClusterAdmissionPolicy holding the settings
    /// (with Gatekeeper's match as its namespaceSelector and objectSelector).
    #[arg(long)]
    pub manifest: bool,

    /// The ClusterAdmissionPolicy's name, with --manifest.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "imagegate",
        requires = "manifest"
    )]
    pub name: String,

    /// Compare verdicts instead of printing settings: the images of FILE
    /// (one per line), under the old policy's semantics and imagegate's.
    #[arg(long, value_name = "FILE", conflicts_with = "manifest")]
    pub images: Option<String>,

    /// Compare verdicts for every image of these manifests (files,
    /// directories, `-` for stdin, e.g. a `kubectl get ... -A -o json` dump).
    #[arg(long, value_name = "PATH", conflicts_with = "manifest")]
    pub scan: Vec<String>,

    #[command(flatten)]
    pub policy: PolicyArgs,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

#[cfg(test)]
mod tests {
    //! The flag conventions (README "Command-line conventions"), checked on
    //! every flag of every subcommand, so that a new flag that breaks them
    //! fails here.

    use std::collections::BTreeMap;

    use clap::CommandFactory as _;

    use super::*;

    /// The subcommands whose output has a format (`-o/--output`).
    const WITH_FORMAT: [&str; 7] = [
        "run",
        "inspect",
        "push",
        "pull",
        "scan",
        "check-settings",
        "import",
    ];

    fn subcommands() -> Vec<clap::Command> {
        let mut cli = Cli::command();
        cli.build();
        cli.get_subcommands().cloned().collect()
    }

    fn takes_a_format(arg: &clap::Arg) -> bool {
        arg.get_action().takes_values() && !arg.get_possible_values().is_empty()
    }

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dash_o_is_always_an_output_format() {
        for command in subcommands() {
            let name = command.get_name();
            for arg in command.get_arguments() {
                let long = arg.get_long().unwrap_or_default();
                if arg.get_short() == Some('o') || long == "output" {
                    assert_eq!(
                        (arg.get_short(), long),
                        (Some('o'), "output"),
                        "{name}: -o and --output go together"
                    );
                    assert!(
                        takes_a_format(arg),
                        "{name} --output must be a format (a closed list of values)"
                    );
                }
                let aliases = arg.get_all_aliases().unwrap_or_default();
                if aliases.contains(&"format") || long == "format" {
                    assert_eq!(
                        long, "output",
                        "{name}: --format is only an alias of --output"
                    );
                }
                if long.starts_with("output") && long != "output" {
                    assert_eq!(
                        long, "output-path",
                        "{name}: a file to write is --output-path"
                    );
                    assert!(!takes_a_format(arg), "{name} --output-path is a file");
                    assert_eq!(
                        arg.get_short(),
                        None,
                        "{name} --output-path has no short form"
                    );
                }
            }
            let has_format = command.get_arguments().any(|a| a.get_short() == Some('o'));
            assert_eq!(
                has_format,
                WITH_FORMAT.contains(&name),
                "{name}: -o/--output on exactly the commands with an output format"
            );
        }
    }

    #[test]
    fn dash_f_is_always_force() {
        for command in subcommands() {
            for arg in command.get_arguments() {
                if arg.get_short() == Some('f') {
                    assert_eq!(arg.get_long(), Some("force"), "{}", command.get_name());
                    assert!(!arg.get_action().takes_values());
                }
            }
        }
    }

    #[test]
    fn a_short_flag_means_one_thing_everywhere() {
        let mut meaning: BTreeMap<char, (String, String)> = BTreeMap::new();
        for command in subcommands() {
            for arg in command.get_arguments() {
                let (Some(short), Some(long)) = (arg.get_short(), arg.get_long()) else {
                    continue;
                };
                let here = (long.to_owned(), command.get_name().to_owned());
                let first = meaning.entry(short).or_insert_with(|| here.clone());
                assert_eq!(
                    first.0, here.0,
                    "-{short} is --{} in {} but --{} in {}",
                    first.0, first.1, here.0, here.1
                );
            }
        }
    }

    #[test]
    fn a_long_flag_takes_the_same_kind_of_value_everywhere() {
        // `--output` is the exception by design: each command has its formats.
        let mut meaning: BTreeMap<String, (bool, String)> = BTreeMap::new();
        for command in subcommands() {
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long().filter(|l| *l != "output") else {
                    continue;
                };
                let here = (
                    arg.get_action().takes_values(),
                    command.get_name().to_owned(),
                );
                let first = meaning
                    .entry(long.to_owned())
                    .or_insert_with(|| here.clone());
                assert_eq!(
                    first.0, here.0,
                    "--{long} takes a value in one of {} and {} but not the other",
                    first.1, here.1
                );
            }
        }
    }

    #[test]
    fn scan_takes_o_and_format_alike() {
        for flags in [["-o", "json"], ["--output", "json"], ["--format", "json"]] {
            let cli = Cli::try_parse_from(
                ["imagegate", "scan", "k8s/", "--settings", "s.yaml"]
                    .into_iter()
                    .chain(flags),
            )
            .map_err(|e| e.to_string());
            let Ok(Cli {
                command: Command::Scan(args),
            }) = cli
            else {
                panic!("{flags:?}: {cli:?}");
            };
            assert_eq!(args.output, ScanFormat::Json);
        }
    }

    #[test]
    fn kwctl_habits_get_a_tip() {
        let args = |line: &str| -> Vec<String> {
            std::iter::once("imagegate")
                .chain(line.split(' '))
                .map(str::to_owned)
                .collect()
        };
        for line in [
            "annotate -m metadata.yml -o out.wasm policy.wasm",
            "pull registry://r/p:1 -o pulled.wasm",
        ] {
            assert!(
                usage_tip(&args(line)).is_some_and(|t| t.contains("--output-path FILE")),
                "{line}"
            );
            // And the parse fails: `-o` is no file anywhere.
            assert!(Cli::try_parse_from(args(line)).is_err(), "{line}");
        }
        assert!(usage_tip(&args("scan k8s -f json")).is_some_and(|t| t.contains("scan -o json")));
        assert_eq!(usage_tip(&args("pull registry://r/p:1 -o yaml")), None);
        assert_eq!(usage_tip(&args("run -o nope")), None);
    }

    #[test]
    fn pull_takes_the_format_as_o_output_and_its_old_name() {
        for flags in [["-o", "json"], ["--output", "json"], ["--format", "json"]] {
            let cli = Cli::try_parse_from(["imagegate", "pull", "r/p:1"].into_iter().chain(flags))
                .map_err(|e| e.to_string());
            let Ok(Cli {
                command: Command::Pull(args),
            }) = cli
            else {
                panic!("{flags:?}: {cli:?}");
            };
            assert_eq!(args.output, PublishOutput::Json);
        }
    }

    #[test]
    fn host_capabilities_help_names_every_recorded_kind() {
        let run = subcommands()
            .into_iter()
            .find(|c| c.get_name() == "run")
            .expect("run");
        let help = run
            .get_arguments()
            .find(|a| a.get_long() == Some("host-capabilities"))
            .and_then(|a| a.get_help())
            .map(ToString::to_string)
            .unwrap_or_default();
        for kind in [
            "manifest_digest",
            "oci_manifest",
            "oci_manifest_config",
            "verify",
        ] {
            assert!(
                help.contains(&format!("`{kind}`")),
                "{kind} missing: {help}"
            );
        }
    }

    #[test]
    fn serve_timeout_help_says_what_it_bounds() {
        let serve = subcommands()
            .into_iter()
            .find(|c| c.get_name() == "serve")
            .expect("serve");
        let help = |long: &str| {
            serve
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .and_then(|a| a.get_help())
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        assert!(
            help("timeout-ms").contains("as a whole"),
            "{}",
            help("timeout-ms")
        );
        assert!(help("lookup-timeout-ms").contains("count against --timeout-ms here"));
    }
}
