//! `imagegate serve`: start-up, then the server ([`crate::serve`]).
//!
//! Start-up checks everything before listening, so a bad deployment fails
//! at once with a message rather than answering wrongly: the policy loads
//! and instantiates (exit 2), the settings file parses and the policy's
//! `validate_settings` accepts it (exit 1 with the policy's message, as
//! `imagegate run`), the certificate and key load and match (exit 2), the
//! address can be bound (exit 2). Then one line goes to stdout,
//! `imagegate serve: listening on https://ADDR (N policy instances)` (with
//! `, metrics on http://ADDR/metrics` under `--metrics-addr`), and
//! the server runs until SIGTERM or SIGINT (exit 0 once drained). Logs go
//! to stderr ([`crate::serve::log`]).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::capabilities::LogSink;
use crate::cli::ServeArgs;
use crate::commands::{host_provider_with_cache, load_policy_from, print_line};
use tokio::sync::Semaphore;

use crate::serve::budget::BodyBudget;
use crate::serve::log::Logger;
use crate::serve::metrics::{CountingProvider, HostCalls, Metrics};
use crate::serve::pool::Pool;
use crate::serve::reload::{CertStore, SettingsStore, check_settings, read_settings};
use crate::serve::server::{App, BODY_LIMIT, ServeOptions, bind, serve};

/// Runs `imagegate serve`.
pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let cache = (args.verification_cache_ttl_ms > 0).then(|| {
        (
            Duration::from_millis(args.verification_cache_ttl_ms),
            args.verification_cache_size,
        )
    });
    let (provider, verification_cache) = host_provider_with_cache(&args.host, cache)?;
    let host_calls = Arc::new(HostCalls::default());
    let provider = provider.map(|inner| {
        Box::new(CountingProvider {
            inner,
            calls: Arc::clone(&host_calls),
        }) as Box<dyn crate::capabilities::CapabilityProvider>
    });
    let size = args.instances.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        usize::from,
    );
    let mut options = args
        .limits
        .runtime_options(args.host.offline, LogSink::Stderr);
    // The pool's instances, as many again being replaced after a timeout or
    // trap, and the settings check.
    options.max_instances =
        u32::try_from(size.saturating_mul(2).saturating_add(1)).unwrap_or(u32::MAX);
    // A file, or `registry://…` pulled (and cached) as `run` does.
    let mut policy = load_policy_from(&args.policy, &args.host.registry, options)?;
    if let Some(provider) = provider {
        policy.set_provider(provider);
    }

    let settings = read_settings(&args.settings, 0)?;
    check_settings(&policy, &settings)?;

    let tls_provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertStore::load(args.tls_cert.clone(), args.tls_key.clone(), tls_provider)?;

    let deadline = Duration::from_millis(args.limits.timeout_ms);
    let pool = Pool::new(policy, size, deadline).map_err(|e| {
        anyhow::anyhow!(
            "policy \"{}\" cannot start: {e}",
            args.policy.policy.display()
        )
    })?;
    let max_connections = args.max_connections as usize;
    let app = Arc::new(App {
        metrics: Metrics::new(pool.size()),
        pool: Arc::new(pool),
        settings: SettingsStore::new(args.settings.clone(), settings),
        certs: Arc::new(certs),
        host_calls,
        ready: AtomicBool::new(false),
        verification_cache,
        budget: BodyBudget::new(
            usize::try_from(args.max_body_bytes_in_flight).unwrap_or(usize::MAX),
            BODY_LIMIT,
        ),
        connections: Arc::new(Semaphore::new(max_connections)),
        max_connections,
        deadline,
        log: Logger::new(args.log_level, args.log_format),
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("imagegate-serve")
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the server's runtime: {e}"))?;
    let listener = runtime.block_on(bind(args.addr))?;
    let local = listener.local_addr().unwrap_or(args.addr);
    let metrics = args
        .metrics_addr
        .map(|addr| runtime.block_on(bind(addr)))
        .transpose()?;
    let metrics_line = match &metrics {
        Some(metrics) => format!(
            ", metrics on http://{}/metrics",
            metrics
                .local_addr()
                .map_or_else(|_| "?".to_owned(), |a| a.to_string())
        ),
        None => String::new(),
    };
    print_line(&format!(
        "imagegate serve: listening on https://{local} ({} policy instances){metrics_line}",
        app.pool.size()
    ))?;
    let options = ServeOptions {
        reload_interval: (args.reload_interval_ms > 0)
            .then(|| Duration::from_millis(args.reload_interval_ms)),
        shutdown_delay: Duration::from_millis(args.shutdown_delay_ms),
        drain_timeout: Duration::from_millis(args.drain_timeout_ms),
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
        max_header_bytes: args.max_header_bytes as usize,
    };
    let served = runtime.block_on(serve(Arc::clone(&app), listener, metrics, options));
    // The runtime goes first: the policy's registry client owns a runtime of
    // its own, which must not be dropped inside this one.
    drop(runtime);
    drop(app);
    served?;
    Ok(ExitCode::SUCCESS)
}
