//! HTTPS: the listener, TLS, the routes, the body limit, reloads and
//! graceful shutdown.
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
//! Bodies over [`BODY_LIMIT`] get 413, bodies that are not an
//! `admission.k8s.io/v1` AdmissionReview get 400, each with a one-line
//! message. Other methods get 405, other paths 404.
//!
//! SIGTERM or SIGINT: stop accepting, report not ready, let every open
//! connection finish the request it is on (its evaluation included), close
//! idle keep-alive connections, and return once all are closed or after
//! `--drain-timeout-ms`. SIGHUP, and every `--reload-interval-ms`, reloads
//! settings and certificate ([`super::reload`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_rustls::TlsAcceptor;

use crate::output::ValidationResponse;
use crate::payload::validate_payload;
use crate::serve::metrics::{ErrorKind, Metrics};
use crate::serve::pool::Pool;
use crate::serve::reload::{CertStore, Reloaded, SettingsStore, reload_settings};
use crate::serve::review::{Endpoint, admission_response, parse_review, response_review};
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

/// Time a client has to send the request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// False once shutdown starts.
    pub ready: AtomicBool,
    /// The signature verification cache's counters, appended to /metrics.
    pub verification_cache: Option<Arc<CacheStats>>,
}

/// How the server runs.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How often to look for changed settings and certificate files; `None`
    /// for SIGHUP only.
    pub reload_interval: Option<Duration>,
    /// How long to wait for open connections at shutdown.
    pub drain_timeout: Duration,
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Serves on `listener` until SIGTERM or SIGINT, then drains.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
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
    let graceful = GracefulShutdown::new();
    app.ready.store(true, Ordering::SeqCst);

    let stop = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    let watcher = graceful.watcher();
                    let acceptor = acceptor.clone();
                    let app = Arc::clone(&app);
                    tokio::spawn(async move {
                        let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => tls,
                            // A failed handshake is the client's business
                            // (wrong CA, port scanner); nothing to answer.
                            Ok(Err(_)) | Err(_) => return,
                        };
                        let service = hyper::service::service_fn(move |request| {
                            let app = Arc::clone(&app);
                            async move { Ok::<_, Infallible>(handle(&app, request).await) }
                        });
                        let connection = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_TIMEOUT)
                            .serve_connection(TokioIo::new(tls), service);
                        // Errors here are the client's: a reset, a closed
                        // socket, a malformed request line (answered 400 by hyper).
                        let _ = watcher.watch(connection).await;
                    });
                }
                // Out of file descriptors and the like: wait, don't spin.
                Err(error) => {
                    eprintln!("imagegate serve: cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = sigterm.recv() => break "SIGTERM",
            _ = sigint.recv() => break "SIGINT",
        }
    };

    app.ready.store(false, Ordering::SeqCst);
    drop(listener);
    eprintln!(
        "imagegate serve: {stop}: not accepting connections; draining {} open connection(s)",
        graceful.count()
    );
    match tokio::time::timeout(options.drain_timeout, graceful.shutdown()).await {
        Ok(()) => eprintln!("imagegate serve: drained; exiting"),
        Err(_) => eprintln!(
            "imagegate serve: connections still open after the drain timeout of {}; exiting",
            crate::runtime::format_duration(options.drain_timeout)
        ),
    }
    reloader.abort();
    Ok(())
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
            eprintln!(
                "imagegate serve: settings reloaded from \"{}\" (generation {generation})",
                app.settings.path().display()
            );
        }
        Err(error) => {
            app.metrics.reload(false, 0);
            eprintln!(
                "imagegate serve: settings reload refused, the previous settings stay in force: \
                 {error:#}"
            );
        }
    }
    match app.certs.reload(forced) {
        Ok(false) => {}
        Ok(true) => eprintln!("imagegate serve: TLS certificate reloaded"),
        Err(error) => eprintln!(
            "imagegate serve: TLS certificate reload refused, the previous one stays in force: \
             {error:#}"
        ),
    }
}

/// Answers one request and counts it.
async fn handle(app: &App, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let response = route(app, request).await;
    app.metrics.request(&path, response.status().as_u16());
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
        ("/metrics", Method::GET) => {
            let mut body = app.metrics.render(app.pool.replaced_total());
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
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return too_large(app, declared);
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, read_body(request.into_body())).await {
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
    let review = match parse_review(&body) {
        Ok(review) => review,
        Err(error) => {
            app.metrics.error(ErrorKind::BadRequest);
            return text(
                StatusCode::BAD_REQUEST,
                &format!("{path}: not an admission.k8s.io/v1 AdmissionReview: {error}"),
            );
        }
    };

    // The settings in force now; a reload during the evaluation does not
    // change this request's settings.
    let settings = app.settings.current();
    let validation = match validate_payload(&review.request, &settings.json) {
        Ok(payload) => {
            let evaluation = app.pool.call("validate", payload).await;
            if evaluation.timed_out() {
                app.metrics.timeout();
            }
            if evaluation.reply.is_err() {
                app.metrics.error(ErrorKind::Policy);
            }
            ValidationResponse::from_guest(evaluation.reply)
        }
        Err(reason) => {
            app.metrics.error(ErrorKind::Policy);
            ValidationResponse::internal_error(&format!("cannot encode the request: {reason}"))
        }
    };
    let admission = admission_response(endpoint, &review, &validation);
    app.metrics
        .verdict(path, admission.allowed, started.elapsed());
    match response_review(&admission) {
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

async fn read_body(mut body: Incoming) -> BodyRead {
    let mut bytes = Vec::new();
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
        if total <= BODY_LIMIT {
            bytes.extend_from_slice(&data);
        } else if total > DRAIN_LIMIT {
            return BodyRead::TooLarge;
        } else {
            bytes = Vec::new();
        }
    }
    if total > BODY_LIMIT {
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
