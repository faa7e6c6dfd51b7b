//! HTTPS: the listener, TLS, the routes, the limits, reloads and graceful
//! shutdown.
//!
//! hyper 1 (HTTP/1.1, what the API server speaks to webhooks) over
//! tokio-rustls with the ring provider. Routes:
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /validate` | AdmissionReview: the verdict, never a patch |
//! | `POST /mutate` | AdmissionReview: the verdict and the JSON Patch |
//! | `GET /healthz` | 200 while the process serves (liveness) |
//! | `GET /readyz` | 200 when ready, 503 once shutting down (readiness) |
//! | `GET /metrics` | Prometheus text exposition ([`super::metrics`]) |
//!
//! `--metrics-addr` serves `GET /metrics` again over plain HTTP, so that
//! Prometheus scrapes the Pod without the webhook's certificate.
//!
//! Limits, each a flag: at most `--max-connections` connections (more are
//! closed at once); at most `--max-header-bytes` of request head (more:
//! 431); bodies up to [`BODY_LIMIT`] (more: 413), admitted within the byte
//! budget of [`super::budget`] before they are read (no room within the
//! deadline: 503); a connection idle for `--idle-timeout-ms` is closed, one
//! whose request head is not in within [`HEADER_TIMEOUT`] is dropped
//! ([`super::connection`]). Plain HTTP sent to the TLS port gets a plain
//! 400 that says to use HTTPS.
//!
//! SIGTERM or SIGINT: `/readyz` fails at once; for `--shutdown-delay-ms`
//! the server still accepts and answers (the endpoints that route to it are
//! not all updated yet), each answer with `Connection: close` so clients
//! move to new connections; then it stops accepting, lets every open
//! connection finish the request it is on, closes idle ones, and returns
//! once all are closed or after `--drain-timeout-ms`. A second signal
//! during the delay ends it. SIGHUP, and every `--reload-interval-ms`,
//! reloads settings and certificate ([`super::reload`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::output::ValidationResponse;
use crate::payload::write_validate_payload_raw;
use crate::runtime::GuestError;
use crate::serve::budget::{Admitted, BodyBudget};
use crate::serve::connection::{Activity, RequestGuard, Verdict, Watched};
use crate::serve::log::{Field, LogLevel, Logger};
use crate::serve::metrics::{ErrorKind, HostCalls, Metrics};
use crate::serve::pool::{Evaluator, Pool};
use crate::serve::reload::{CertStore, Reloaded, SettingsStore, reload_settings};
use crate::serve::review::{
    Endpoint, RequestHead, ReviewError, admission_response, fired_rules, parse_review,
    response_review,
};
use crate::verify::cache::CacheStats;

/// The largest request body accepted: the API server's own limit on
/// request bodies (3 MiB), so every object it admits fits.
pub const BODY_LIMIT: usize = 3 * 1024 * 1024;

/// How much of an over-long body is read (and dropped) before the 413, so
/// that a client that writes its whole body first still reads the answer.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Time a client has to send the whole body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a client has to send a request's head once its first byte came.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How often each connection looks at its idle and header timers.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// While draining, how often each connection looks whether it may close.
const DRAIN_CHECK_EVERY: Duration = Duration::from_millis(5);

/// While draining, how long a new connection may take to send its first
/// request (its client opened it to send one).
const NEW_CONNECTION_GRACE: Duration = Duration::from_secs(1);

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Everything a request needs.
pub struct App {
    /// The policy instances.
    pub pool: Arc<Pool>,
    /// The settings in force.
    pub settings: SettingsStore,
    /// The certificate in force.
    pub certs: Arc<CertStore>,
    /// The counters.
    pub metrics: Metrics,
    /// The host capability calls (registry lookups) made, counted.
    pub host_calls: Arc<HostCalls>,
    /// False once shutdown starts.
    pub ready: AtomicBool,
    /// The signature verification cache's counters, appended to /metrics.
    pub verification_cache: Option<Arc<CacheStats>>,
    /// The byte budget of bodies in flight.
    pub budget: BodyBudget,
    /// Open connections: one permit each.
    pub connections: Arc<Semaphore>,
    /// `--max-connections`.
    pub max_connections: usize,
    /// How long a request may wait for room in the budget (the deadline).
    pub deadline: Duration,
    /// The log.
    pub log: Logger,
}

/// How the server runs.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How often to look for changed settings and certificate files; `None`
    /// for SIGHUP only.
    pub reload_interval: Option<Duration>,
    /// After SIGTERM, how long to keep accepting and answering.
    pub shutdown_delay: Duration,
    /// Then, how long to wait for open connections.
    pub drain_timeout: Duration,
    /// Idle keep-alive connections are closed after this long.
    pub idle_timeout: Duration,
    /// The largest request head, in bytes.
    pub max_header_bytes: usize,
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Serves on `listener` (and `/metrics` on `metrics`) until SIGTERM or
/// SIGINT, then stops as the module says.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    options: ServeOptions,
) -> anyhow::Result<()> {
    let signal_error = |e: std::io::Error| anyhow::anyhow!("cannot handle signals: {e}");
    let mut sigterm = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let sighup = signal(SignalKind::hangup()).map_err(signal_error)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&app.certs) as Arc<_>);
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));

    let reloader = tokio::spawn(reload_loop(
        Arc::clone(&app),
        sighup,
        options.reload_interval,
    ));
    let metrics_server =
        metrics.map(|listener| tokio::spawn(serve_metrics(Arc::clone(&app), listener)));
    let (drain, draining) = watch::channel(false);
    app.ready.store(true, Ordering::SeqCst);

    let first = accept_until(&app, &listener, &acceptor, &draining, options, async {
        tokio::select! {
            _ = sigterm.recv() => "SIGTERM",
            _ = sigint.recv() => "SIGINT",
        }
    })
    .await;
    app.ready.store(false, Ordering::SeqCst);
    app.log.log(
        LogLevel::Info,
        "shutting down: /readyz fails; still accepting and answering during the shutdown delay",
        &[
            ("signal", Field::Str(first)),
            (
                "shutdownDelayMs",
                Field::U64(millis(options.shutdown_delay)),
            ),
        ],
    );
    if !options.shutdown_delay.is_zero() {
        let again = accept_until(&app, &listener, &acceptor, &draining, options, async {
            tokio::select! {
                () = tokio::time::sleep(options.shutdown_delay) => "the shutdown delay ended",
                _ = sigterm.recv() => "SIGTERM again",
                _ = sigint.recv() => "SIGINT again",
            }
        })
        .await;
        app.log.log(
            LogLevel::Info,
            "stop accepting",
            &[("because", Field::Str(again))],
        );
    }
    drop(listener);
    let open = app.max_connections - app.connections.available_permits().min(app.max_connections);
    app.log.log(
        LogLevel::Info,
        "not accepting connections; draining",
        &[
            ("openConnections", Field::U64(open as u64)),
            ("drainTimeoutMs", Field::U64(millis(options.drain_timeout))),
        ],
    );
    let _ = drain.send(true);
    let all = u32::try_from(app.max_connections).unwrap_or(u32::MAX);
    match tokio::time::timeout(options.drain_timeout, app.connections.acquire_many(all)).await {
        Ok(_) => app.log.info("drained; exiting"),
        Err(_) => app.log.warn(&format!(
            "connections still open after the drain timeout of {}; exiting",
            crate::runtime::format_duration(options.drain_timeout)
        )),
    }
    reloader.abort();
    if let Some(task) = metrics_server {
        task.abort();
    }
    Ok(())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Accepts connections until `stop` resolves; returns what `stop` said.
async fn accept_until(
    app: &Arc<App>,
    listener: &TcpListener,
    acceptor: &TlsAcceptor,
    draining: &watch::Receiver<bool>,
    options: ServeOptions,
    stop: impl std::future::Future<Output = &'static str>,
) -> &'static str {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    let Ok(permit) = Arc::clone(&app.connections).try_acquire_owned() else {
                        // Over the cap: closed at once, so stalled clients
                        // cannot hold more memory than the cap allows.
                        app.metrics.connection_refused();
                        app.log.log(
                            LogLevel::Debug,
                            "connection refused: --max-connections reached",
                            &[("maxConnections", Field::U64(app.max_connections as u64))],
                        );
                        drop(tcp);
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(connection(
                        Arc::clone(app),
                        acceptor.clone(),
                        tcp,
                        draining.clone(),
                        options,
                        permit,
                    ));
                }
                // Out of file descriptors and the like: wait, don't spin.
                Err(error) => {
                    app.log.error(&format!("cannot accept a connection: {error}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            said = &mut stop => return said,
        }
    }
}

/// One connection, from the first byte to the close.
async fn connection(
    app: Arc<App>,
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    mut draining: watch::Receiver<bool>,
    options: ServeOptions,
    _permit: OwnedSemaphorePermit,
) {
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return,
    }
    if first[0] != TLS_HANDSHAKE {
        if first[0].is_ascii_alphabetic() {
            answer_plain_http(&app, tcp).await;
        }
        // Otherwise not TLS and not HTTP: nothing sensible to answer.
        return;
    }
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        // A failed handshake is the client's business (wrong CA, port
        // scanner); nothing to answer.
        Ok(Err(_)) | Err(_) => return,
    };
    let activity = Activity::new();
    let service = {
        let app = Arc::clone(&app);
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |request| {
            let guard = RequestGuard::start(&activity);
            let app = Arc::clone(&app);
            async move {
                let response = handle(&app, request).await;
                drop(guard);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let io = TokioIo::new(Watched::new(tls, Arc::clone(&activity)));
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Idle and header timeouts are kept apart by `activity`.
        .header_read_timeout(None)
        .max_buf_size(options.max_header_bytes)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut drain_requested = false;
    let mut closing = false;
    loop {
        let check_after = if drain_requested {
            DRAIN_CHECK_EVERY
        } else {
            CHECK_EVERY
        };
        tokio::select! {
            // Errors here are the client's: a reset, a closed socket, a
            // malformed request line (answered 400 by hyper), headers over
            // the limit (431).
            _ = connection.as_mut() => return,
            _ = draining.wait_for(|d| *d), if !drain_requested => drain_requested = true,
            () = tokio::time::sleep(check_after), if !closing => {
                if drain_requested && activity.may_close_for_drain(NEW_CONNECTION_GRACE) {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                    continue;
                }
                match activity.check(options.idle_timeout, HEADER_TIMEOUT) {
                    Verdict::Fine => {}
                    Verdict::Idle => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    Verdict::SlowHeaders => return,
                }
            }
        }
    }
}

/// Plain HTTP on the TLS port: a plain answer, not TLS alert bytes.
async fn answer_plain_http(app: &App, mut tcp: TcpStream) {
    app.metrics.error(ErrorKind::PlainHttp);
    let message = "this port serves HTTPS only: use https://\n";
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{message}",
        message.len()
    );
    let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await?;
        // Read what the client still sends (briefly), so the close is a
        // FIN after the answer, not a reset that could discard it.
        let mut sink = [0u8; 4096];
        let mut total = 0usize;
        while total < 64 * 1024 {
            match tcp.read(&mut sink).await? {
                0 => break,
                n => total += n,
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// `/metrics` (and nothing else) over plain HTTP.
async fn serve_metrics(app: Arc<App>, listener: TcpListener) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let app = Arc::clone(&app);
                async move {
                    let response = match (request.method(), request.uri().path()) {
                        (&Method::GET, "/metrics") => metrics_response(&app),
                        (_, "/metrics") => not_allowed("use GET /metrics", "GET"),
                        (_, path) => text(
                            StatusCode::NOT_FOUND,
                            &format!("no such path {path:?}; the metrics port serves GET /metrics"),
                        ),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn metrics_response(app: &App) -> Response<Full<Bytes>> {
    let mut body = app.metrics.render(app.pool.replaced_total());
    crate::serve::metrics::render_gauges(
        &mut body,
        &[
            (
                "pool_busy_instances",
                "Policy instances evaluating now.",
                app.pool.busy() as u64,
            ),
            (
                "open_connections",
                "Connections open on the webhook port.",
                (app.max_connections - app.connections.available_permits().min(app.max_connections))
                    as u64,
            ),
            (
                "max_connections",
                "--max-connections.",
                app.max_connections as u64,
            ),
            (
                "body_budget_bytes",
                "Bytes of request bodies that may be in flight.",
                app.budget.total() as u64,
            ),
            (
                "body_budget_in_use_bytes",
                "Bytes of request bodies admitted now.",
                app.budget.in_use() as u64,
            ),
        ],
    );
    app.host_calls.render_into(&mut body);
    if let Some(stats) = &app.verification_cache {
        stats.render_into(&mut body);
    }
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Reloads on SIGHUP (always) and on every interval (when files changed).
async fn reload_loop(
    app: Arc<App>,
    mut sighup: tokio::signal::unix::Signal,
    interval: Option<Duration>,
) {
    loop {
        let forced = tokio::select! {
            _ = sighup.recv() => true,
            () = sleep_or_never(interval) => false,
        };
        let app = Arc::clone(&app);
        // Reading files and running validate_settings block: not on the
        // threads that drive connections.
        let _ = tokio::task::spawn_blocking(move || reload_all(&app, forced)).await;
    }
}

async fn sleep_or_never(interval: Option<Duration>) {
    match interval {
        Some(interval) => tokio::time::sleep(interval).await,
        None => std::future::pending().await,
    }
}

fn reload_all(app: &App, forced: bool) {
    match reload_settings(&app.settings, app.pool.policy(), forced) {
        Ok(Reloaded::Unchanged) => {}
        Ok(Reloaded::Applied(generation)) => {
            app.metrics.reload(true, generation);
            app.log.log(
                LogLevel::Info,
                "settings reloaded",
                &[
                    (
                        "file",
                        Field::Str(&app.settings.path().display().to_string()),
                    ),
                    ("generation", Field::U64(generation)),
                ],
            );
        }
        Err(error) => {
            app.metrics.reload(false, 0);
            app.log.warn(&format!(
                "settings reload refused, the previous settings stay in force: {error:#}"
            ));
        }
    }
    match app.certs.reload(forced) {
        Ok(false) => {}
        Ok(true) => app.log.info("TLS certificate reloaded"),
        Err(error) => app.log.warn(&format!(
            "TLS certificate reload refused, the previous one stays in force: {error:#}"
        )),
    }
}

/// Answers one request and counts it; once shutdown started, every answer
/// closes its connection, so clients reconnect (to another replica once
/// the endpoints are updated).
async fn handle(app: &App, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let mut response = route(app, request).await;
    app.metrics.request(&path, response.status().as_u16());
    if !app.ready.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn route(app: &App, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    match (request.uri().path(), method) {
        ("/validate", Method::POST) => admission(app, Endpoint::Validate, request).await,
        ("/mutate", Method::POST) => admission(app, Endpoint::Mutate, request).await,
        ("/healthz", Method::GET) => text(StatusCode::OK, "ok"),
        ("/readyz", Method::GET) => {
            if app.ready.load(Ordering::SeqCst) {
                text(StatusCode::OK, "ready")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
            }
        }
        ("/metrics", Method::GET) => metrics_response(app),
        (path @ ("/validate" | "/mutate"), method) => {
            not_allowed(&format!("{method} {path}: use POST"), "POST")
        }
        (path @ ("/healthz" | "/readyz" | "/metrics"), method) => {
            not_allowed(&format!("{method} {path}: use GET"), "GET")
        }
        (path, _) => text(
            StatusCode::NOT_FOUND,
            &format!(
                "no such path {path:?}; imagegate serves POST /validate, POST /mutate, \
                 GET /healthz, /readyz and /metrics"
            ),
        ),
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a Metrics);

impl<'a> InFlight<'a> {
    fn start(metrics: &'a Metrics) -> InFlight<'a> {
        metrics.in_flight(1);
        InFlight(metrics)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight(-1);
    }
}

/// What the evaluation job found, for the answer, the metrics and the log.
struct Decision {
    uid: String,
    head: RequestHead,
    allowed: bool,
    patched: bool,
    rules: Vec<(&'static str, &'static str)>,
    /// The policy failed (trap, deadline…); `Some(true)`: by the deadline.
    failed: Option<bool>,
    /// The response AdmissionReview.
    encoded: Result<Vec<u8>, serde_json::Error>,
}

/// Decodes the review, runs the policy, encodes the answer: all on the
/// evaluation's thread, within its deadline. `uid` gets the request's uid
/// as soon as it is known, so a deadline missed later still answers it.
fn decide(
    endpoint: Endpoint,
    body: &[u8],
    settings_json: &[u8],
    evaluator: &mut Evaluator<'_>,
    uid: &OnceLock<String>,
) -> Result<Decision, ReviewError> {
    let review = parse_review(body)?;
    let _ = uid.set(review.uid.clone());
    let mut payload = Vec::with_capacity(body.len() + settings_json.len() + 64);
    let mut failed = None;
    let validation = match write_validate_payload_raw(&mut payload, &review.fields, settings_json) {
        Ok(()) => {
            let reply = evaluator.call("validate", &payload);
            drop(payload);
            if let Err(error) = &reply {
                failed = Some(matches!(error, GuestError::Timeout { .. }));
            }
            ValidationResponse::from_guest(reply)
        }
        Err(reason) => {
            failed = Some(false);
            ValidationResponse::internal_error(&format!("cannot encode the request: {reason}"))
        }
    };
    let admission = admission_response(endpoint, &review, &validation);
    Ok(Decision {
        rules: fired_rules(&admission),
        allowed: admission.allowed,
        patched: admission.patch.is_some(),
        encoded: response_review(&admission),
        uid: review.uid,
        head: review.head,
        failed,
    })
}

/// `/validate` and `/mutate`.
async fn admission(
    app: &App,
    endpoint: Endpoint,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let _in_flight = InFlight::start(&app.metrics);
    let started = Instant::now();
    let path = endpoint.path();

    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(size) = declared.filter(|n| *n > BODY_LIMIT as u64) {
        // Known too large before a byte is read: read and drop (up to a
        // bound) only so that the client reads the 413.
        if size <= DRAIN_LIMIT as u64 {
            let _ = tokio::time::timeout(BODY_TIMEOUT, read_body(request.into_body(), 0)).await;
        }
        return too_large(app, declared);
    }
    // Room in the budget first, then the body.
    let charge = declared.map_or(BODY_LIMIT, |n| usize::try_from(n).unwrap_or(BODY_LIMIT));
    let Some(admitted) = app.budget.admit(charge, app.deadline).await else {
        app.metrics.error(ErrorKind::Busy);
        app.log.log(
            LogLevel::Warn,
            "request refused: the budget of request bodies in flight stayed full",
            &[
                ("path", Field::Str(path)),
                ("bodyBytes", Field::U64(charge as u64)),
            ],
        );
        let mut response = text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "busy: request bodies in flight filled the budget of {} bytes for {}; retry",
                app.budget.total(),
                crate::runtime::format_duration(app.deadline)
            ),
        );
        // The body was not read: the connection cannot be reused.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    };
    let body =
        match tokio::time::timeout(BODY_TIMEOUT, read_body(request.into_body(), charge)).await {
            Ok(BodyRead::Whole(body)) => body,
            Ok(BodyRead::TooLarge) => return too_large(app, declared),
            Ok(BodyRead::Failed(reason)) => {
                app.metrics.error(ErrorKind::BadRequest);
                return text(
                    StatusCode::BAD_REQUEST,
                    &format!("cannot read the request body: {reason}"),
                );
            }
            Err(_) => {
                app.metrics.error(ErrorKind::BadRequest);
                return text(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!(
                        "the request body did not arrive within {}",
                        crate::runtime::format_duration(BODY_TIMEOUT)
                    ),
                );
            }
        };

    // The settings in force now; a reload during the evaluation does not
    // change this request's settings.
    let settings = app.settings.current();
    let uid = Arc::new(OnceLock::new());
    let job_uid = Arc::clone(&uid);
    // Shared with the job, so that a request whose deadline passed in the
    // queue (the job never ran) can still be read for its uid and denied.
    let body = Arc::new(body);
    let job_body = Arc::clone(&body);
    let outcome = app
        .pool
        .run("validate", move |evaluator| {
            decide(endpoint, &job_body, &settings.json, evaluator, &job_uid)
        })
        .await;
    let decision = match outcome {
        Ok(Ok(decision)) => decision,
        Ok(Err(error)) => {
            app.metrics.error(ErrorKind::BadRequest);
            return text(
                StatusCode::BAD_REQUEST,
                &format!("{path}: not an admission.k8s.io/v1 AdmissionReview: {error}"),
            );
        }
        // The deadline passed (or the job failed) outside the policy's own
        // call: denied, as any policy failure, with the request's uid.
        Err(error) => {
            let known = match uid.get() {
                Some(uid) => Ok(uid.clone()),
                // Never read (it waited in the queue): read it now, off the
                // pool; this path only runs once the deadline has passed.
                None => parse_review(&body).map(|review| review.uid),
            };
            let uid = match known {
                Ok(uid) => uid,
                Err(review_error) => {
                    app.metrics.error(ErrorKind::BadRequest);
                    return text(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "{path}: not an admission.k8s.io/v1 AdmissionReview: {review_error}"
                        ),
                    );
                }
            };
            let timed_out = matches!(error, GuestError::Timeout { .. });
            let validation = ValidationResponse::from_guest(Err(error));
            let admission =
                crate::output::AdmissionResponse::from_validation(&uid, None, &validation);
            Decision {
                uid,
                head: RequestHead::default(),
                allowed: false,
                patched: false,
                rules: Vec::new(),
                failed: Some(timed_out),
                encoded: response_review(&admission),
            }
        }
    };
    // The body's bytes go back to the budget.
    drop(body);
    drop::<Admitted>(admitted);
    if let Some(timed_out) = decision.failed {
        app.metrics.error(ErrorKind::Policy);
        if timed_out {
            app.metrics.timeout();
        }
    }
    let elapsed = started.elapsed();
    app.metrics.verdict(path, decision.allowed, elapsed);
    app.metrics.rules(&decision.rules);
    log_decision(app, path, &decision, elapsed);
    match decision.encoded {
        Ok(bytes) => {
            let mut response = Response::new(Full::new(Bytes::from(bytes)));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot encode the AdmissionReview: {error}"),
        ),
    }
}

/// The decision line: who asked what, and the answer; never the object.
fn log_decision(app: &App, path: &str, decision: &Decision, elapsed: Duration) {
    if !app.log.enabled(LogLevel::Info) {
        return;
    }
    let rules: Vec<String> = decision
        .rules
        .iter()
        .map(|(rule, action)| format!("{rule}:{action}"))
        .collect();
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let head = &decision.head;
    app.log.log(
        LogLevel::Info,
        "admission",
        &[
            ("path", Field::Str(path)),
            ("uid", Field::Str(&decision.uid)),
            ("kind", Field::OptStr(head.kind.as_deref())),
            ("namespace", Field::OptStr(head.namespace.as_deref())),
            ("name", Field::OptStr(head.name.as_deref())),
            ("operation", Field::OptStr(head.operation.as_deref())),
            ("dryRun", Field::Bool(head.dry_run.unwrap_or(false))),
            ("allowed", Field::Bool(decision.allowed)),
            ("patched", Field::Bool(decision.patched)),
            ("rules", Field::List(&rules)),
            ("policyFailed", Field::Bool(decision.failed.is_some())),
            ("durationMs", Field::F64(elapsed.as_secs_f64() * 1000.0)),
        ],
    );
}

/// A request body, read up to [`BODY_LIMIT`].
enum BodyRead {
    /// All of it.
    Whole(Vec<u8>),
    /// More than the limit; the rest was read and dropped, up to
    /// [`DRAIN_LIMIT`], so that the client (which writes the whole body
    /// before it reads) gets the 413 rather than a reset connection.
    TooLarge,
    /// The connection failed mid-body.
    Failed(String),
}

/// Reads `body`, keeping up to [`BODY_LIMIT`] bytes in a buffer of
/// `capacity` (its declared length, so it is allocated once); 0: keeps
/// nothing (a body only drained).
async fn read_body(mut body: Incoming, capacity: usize) -> BodyRead {
    let keep = capacity > 0;
    let mut bytes = Vec::with_capacity(capacity.min(BODY_LIMIT));
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => return BodyRead::Failed(error.to_string()),
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len());
        if keep && total <= BODY_LIMIT {
            bytes.extend_from_slice(&data);
        } else if total > DRAIN_LIMIT {
            return BodyRead::TooLarge;
        } else {
            bytes = Vec::new();
        }
    }
    if total > BODY_LIMIT || !keep {
        BodyRead::TooLarge
    } else {
        BodyRead::Whole(bytes)
    }
}

fn too_large(app: &App, declared: Option<u64>) -> Response<Full<Bytes>> {
    app.metrics.error(ErrorKind::TooLarge);
    let size = declared
        .map(|n| format!(" ({n} bytes)"))
        .unwrap_or_default();
    let mut response = text(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "the request body{size} is larger than the limit of {BODY_LIMIT} bytes (3 MiB, the \
             API server's own limit)"
        ),
    );
    // The rest of an over-long body is not read: the connection can't be reused.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn not_allowed(message: &str, allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, message);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// A one-line plain-text answer.
fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
