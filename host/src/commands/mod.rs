//! One module per subcommand. Commands return `anyhow::Result<ExitCode>`:
//! `Ok` carries 0, 1 for settings that are not valid (`check-settings`) or
//! [`REJECTED`]; an error is printed by `main` and exits 2, except
//! [`InvalidSettings`], which exits 1 (README "Exit codes").

pub mod annotate;
pub mod bench;
pub mod check_settings;
pub mod completions;
pub mod import;
pub mod inspect;
pub mod man;
pub mod pull;
pub mod push;
pub mod run;
pub mod scan;
pub mod serve;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Map, Value};

use crate::artifact;
use crate::capabilities::CapabilityProvider;
use crate::cli::{Command, HostArgs, PolicyArgs, RegistryArgs, SettingsArgs};
use crate::docker_config;
use crate::input;
pub use crate::invalid_settings::InvalidSettings;
use crate::recorded::Recorded;
use crate::registry::{Registry, RegistryOptions};
use crate::runtime::{Instance, LoadError, Policy, RuntimeOptions};
use crate::verify::SignatureOptions;
use crate::verify::cache::CacheStats;

pub use crate::exit_code::REJECTED;

/// Runs the command.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(args) => run::run(&args),
        Command::CheckSettings(args) => check_settings::run(&args),
        Command::Annotate(args) => annotate::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Scan(args) => scan::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Push(args) => push::run(&args),
        Command::Pull(args) => pull::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
    }
}

/// Refuses more than one of `--request -`, `--settings -` and
/// `--host-capabilities -`: stdin can be read once.
pub fn one_stdin_reader(
    request: &str,
    settings: &SettingsArgs,
    host_capabilities: Option<&str>,
) -> anyhow::Result<()> {
    let readers: Vec<&str> = [
        ("--request -", Some(request)),
        ("--settings -", settings.settings.as_deref()),
        ("--host-capabilities -", host_capabilities),
    ]
    .into_iter()
    .filter(|(_, path)| *path == Some("-"))
    .map(|(flag, _)| flag)
    .collect();
    match readers.as_slice() {
        [] | [_] => Ok(()),
        [a, b] => anyhow::bail!("{a} and {b} cannot both read stdin"),
        _ => anyhow::bail!("{} cannot all read stdin", readers.join(", ")),
    }
}

/// The recorded host answers `--host-capabilities FILE` names, if any.
pub fn load_recorded(path: Option<&str>) -> anyhow::Result<Option<Recorded>> {
    Ok(path.map(Recorded::load).transpose()?)
}

/// What answers the policy's host capabilities in `run`: the recording, or
/// the registries (credentials read now, so a bad config.json is an input
/// error before anything runs). `None` with `--offline`: the runtime's
/// default refuses every capability, saying so.
pub fn host_provider(args: &HostArgs) -> anyhow::Result<Option<Box<dyn CapabilityProvider>>> {
    Ok(host_provider_with_cache(args, None)?.0)
}

/// The verification cache's counters, when the registries answer with a
/// cache.
pub type CacheCounters = Option<Arc<CacheStats>>;

/// [`host_provider`] with `serve`'s verification cache (time to keep a
/// success, entries kept), and the cache's counters when the registries
/// answer.
pub fn host_provider_with_cache(
    args: &HostArgs,
    cache: Option<(Duration, usize)>,
) -> anyhow::Result<(Option<Box<dyn CapabilityProvider>>, CacheCounters)> {
    if let Some(recorded) = load_recorded(args.host_capabilities.as_deref())? {
        return Ok((Some(Box::new(recorded)), None));
    }
    if args.offline {
        return Ok((None, None));
    }
    let signatures = SignatureOptions {
        trust_root: args.sigstore_trust_config.clone(),
        cache,
    };
    let registry = registry_client_with(&args.registry, signatures)?;
    let stats = registry.signatures().cache_stats();
    Ok((Some(Box::new(registry)), stats))
}

/// A registry client for the flags (credentials read now, so a bad
/// config.json is an input error before anything runs).
pub fn registry_client(args: &RegistryArgs) -> anyhow::Result<Registry> {
    registry_client_with(args, SignatureOptions::default())
}

/// [`registry_client`] that also verifies signatures as `signatures` says
/// (the trust root is read now).
fn registry_client_with(
    args: &RegistryArgs,
    signatures: SignatureOptions,
) -> anyhow::Result<Registry> {
    let credentials =
        docker_config::load(args.docker_config.as_deref()).map_err(anyhow::Error::msg)?;
    Registry::new(RegistryOptions {
        insecure: args.insecure_registry.clone(),
        timeout: Duration::from_millis(args.lookup_timeout_ms),
        credentials,
        signatures,
    })
    .map_err(anyhow::Error::msg)
}

/// Loads and compiles the policy `--policy` names: the file, or, for
/// `registry://…`, the artifact from the cache or pulled into it (manifest
/// and layer digests checked; see [`crate::artifact`]). The one place where
/// a `registry://` policy turns into module bytes.
pub fn load_policy_from(
    policy: &PolicyArgs,
    registry: &RegistryArgs,
    options: RuntimeOptions,
) -> anyhow::Result<Policy> {
    let path = &policy.policy;
    match path.to_str().filter(|p| artifact::is_registry_uri(p)) {
        Some(uri) => {
            let module = artifact::pull_for_policy(&registry_client(registry)?, uri)?;
            Ok(Policy::from_bytes(path, &module, options)?)
        }
        None => load_policy(path, options),
    }
}

/// The settings object the flags give; `{}` when none.
pub fn load_settings(args: &SettingsArgs) -> anyhow::Result<Value> {
    Ok(match (&args.settings, &args.settings_json) {
        (Some(path), _) => input::load_settings_file(path)?,
        (None, Some(json)) => input::parse_settings_json(json)?,
        (None, None) => Value::Object(Map::new()),
    })
}

/// Loads and compiles the policy, with a hint when the default is missing.
pub fn load_policy(path: &Path, options: RuntimeOptions) -> anyhow::Result<Policy> {
    match Policy::load(path, options) {
        Ok(policy) => Ok(policy),
        Err(error @ LoadError::Read { .. }) if !path.exists() => Err(anyhow::anyhow!(
            "{error} (pass --policy WASM or set IMAGEGATE_POLICY)"
        )),
        Err(error) => Err(error.into()),
    }
}

/// A fresh instance of the policy; one that cannot start (instantiation,
/// `_start` or `wapc_init` fails) is an error of the policy module (exit 2).
pub fn start(policy: &Policy, path: &Path) -> anyhow::Result<Instance> {
    policy
        .instantiate()
        .map_err(|e| anyhow::anyhow!("policy \"{}\" cannot start: {e}", path.display()))
}

/// Writes `text` and a newline to stdout.
pub fn print_line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}
