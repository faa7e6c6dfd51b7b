//! `imagegate serve`: policy.wasm as a standalone Kubernetes admission
//! webhook, one module per concern:
//!
//! * [`server`]: HTTPS (hyper 1 + tokio-rustls), routes, limits,
//!   graceful shutdown;
//! * [`connection`]: one connection's idle and header timers;
//! * [`budget`]: the byte budget of request bodies in flight;
//! * [`log`]: JSON-lines (or text) logs, one decision line per review;
//! * [`review`]: the AdmissionReview wire format, reusing `output.rs`'s
//!   AdmissionResponse so verdicts equal `imagegate run`'s;
//! * [`pool`]: pre-instantiated policy instances, deadline, replacement of
//!   trapped instances;
//! * [`reload`]: settings and certificate, reloaded on SIGHUP or change;
//! * [`metrics`]: Prometheus text exposition.

pub mod budget;
pub mod connection;
pub mod log;
pub mod metrics;
pub mod pool;
pub mod reload;
pub mod review;
pub mod server;
