//! Prometheus metrics of `imagegate serve`, in the text exposition format
//! (version 0.0.4), written by hand: a dozen series need no client library.
//!
//! Series (all prefixed `imagegate_`):
//!
//! * `http_requests_total{path,code}`: every answered HTTP request; paths
//!   other than the served ones are counted as `other`;
//! * `admission_verdicts_total{path,verdict}`: `allowed` or `denied`, for
//!   each AdmissionReview answered on `/validate` and `/mutate`;
//! * `admission_duration_seconds{path}`: histogram of the time from the
//!   request's headers to the response being ready (reading the body,
//!   queueing for an instance, the policy's evaluation);
//! * `admission_rules_total{rule,action}`: AdmissionReviews in which a
//!   rule id fired, with its action (`deny` or `warn`);
//! * `errors_total{kind}`: `bad_request` (400), `too_large` (413), `busy`
//!   (503: the body budget stayed full), `plain_http` (HTTP without TLS on
//!   the TLS port), `policy` (the policy failed: trap, out of memory,
//!   deadline; answered as a denial);
//! * `connections_refused_total`: connections closed at once over
//!   `--max-connections`;
//! * `host_calls_total{capability,result}`: host capability calls of the
//!   policy (registry lookups, signature verification), `ok` or `error`;
//! * `pool_busy_instances`, `open_connections`, `max_connections`,
//!   `body_budget_bytes`, `body_budget_in_use_bytes`: gauges of the pool,
//!   the connections and the body budget;
//! * `timeouts_total`: evaluations that hit the deadline (also in
//!   `errors_total{kind="policy"}`);
//! * `instances_replaced_total`: instances dropped after a trap or timeout;
//! * `settings_reloads_total{result}`: `ok` or `error` (the old settings stay);
//! * `in_flight_requests`, `pool_instances`, `settings_generation`: gauges.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The paths the server answers; anything else is `other`.
const PATHS: [&str; 5] = ["/validate", "/mutate", "/healthz", "/readyz", "/metrics"];

/// A path as a label value: one of [`PATHS`] or `other`, so a scanner
/// trying random paths cannot grow the series without bound.
pub fn path_label(path: &str) -> &'static str {
    PATHS.into_iter().find(|p| *p == path).unwrap_or("other")
}

/// What went wrong, for `errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// 400: not an AdmissionReview.
    BadRequest,
    /// 413: body over the limit.
    TooLarge,
    /// 503: no room in the body budget within the deadline.
    Busy,
    /// Plain HTTP on the TLS port.
    PlainHttp,
    /// The policy failed (answered as a denial).
    Policy,
}

impl ErrorKind {
    fn label(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Busy => "busy",
            ErrorKind::PlainHttp => "plain_http",
            ErrorKind::Policy => "policy",
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per-bucket counts (not cumulative), plus the `+Inf` bucket last.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let index = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        if let Some(slot) = self.counts.get_mut(index) {
            *slot += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: BTreeMap<(&'static str, u16), u64>,
    verdicts: BTreeMap<(&'static str, bool), u64>,
    rules: BTreeMap<(&'static str, &'static str), u64>,
    connections_refused: u64,
    latency: BTreeMap<&'static str, Histogram>,
    errors: BTreeMap<ErrorKind, u64>,
    timeouts: u64,
    reloads_ok: u64,
    reloads_failed: u64,
    in_flight: i64,
    settings_generation: u64,
}

/// The server's counters; cheap to update from any task.
#[derive(Debug)]
pub struct Metrics {
    counters: Mutex<Counters>,
    pool_instances: usize,
}

impl Metrics {
    /// Counters at zero for a pool of `pool_instances`.
    pub fn new(pool_instances: usize) -> Metrics {
        Metrics {
            counters: Mutex::new(Counters::default()),
            pool_instances,
        }
    }

    fn update(&self, f: impl FnOnce(&mut Counters)) {
        // A poisoned lock only means another thread panicked mid-update;
        // the counters are still usable.
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut counters);
    }

    /// One answered HTTP request.
    pub fn request(&self, path: &str, code: u16) {
        let path = path_label(path);
        self.update(|c| *c.requests.entry((path, code)).or_default() += 1);
    }

    /// One admission verdict and how long it took.
    pub fn verdict(&self, path: &str, allowed: bool, elapsed: Duration) {
        let path = path_label(path);
        self.update(|c| {
            *c.verdicts.entry((path, allowed)).or_default() += 1;
            c.latency
                .entry(path)
                .or_default()
                .observe(elapsed.as_secs_f64());
        });
    }

    /// The rule ids (and actions) that fired in one AdmissionReview.
    pub fn rules(&self, fired: &[(&'static str, &'static str)]) {
        if fired.is_empty() {
            return;
        }
        self.update(|c| {
            for key in fired {
                *c.rules.entry(*key).or_default() += 1;
            }
        });
    }

    /// One connection closed at once over `--max-connections`.
    pub fn connection_refused(&self) {
        self.update(|c| c.connections_refused += 1);
    }

    /// One error.
    pub fn error(&self, kind: ErrorKind) {
        self.update(|c| *c.errors.entry(kind).or_default() += 1);
    }

    /// One evaluation that hit the deadline.
    pub fn timeout(&self) {
        self.update(|c| c.timeouts += 1);
    }

    /// One settings reload, applied or refused.
    pub fn reload(&self, ok: bool, generation: u64) {
        self.update(|c| {
            if ok {
                c.reloads_ok += 1;
                c.settings_generation = generation;
            } else {
                c.reloads_failed += 1;
            }
        });
    }

    /// A request starts (`+1`) or ends (`-1`).
    pub fn in_flight(&self, delta: i64) {
        self.update(|c| c.in_flight += delta);
    }

    /// The exposition text; the pool counts its replaced instances itself.
    pub fn render(&self, instances_replaced: u64) -> String {
        let c = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        let mut lines: Vec<String> = Vec::new();

        header(
            &mut out,
            "http_requests_total",
            "counter",
            "HTTP requests answered, by path and status code.",
        );
        for ((path, code), n) in &c.requests {
            lines.push(format!(
                "imagegate_http_requests_total{{path=\"{path}\",code=\"{code}\"}} {n}"
            ));
        }
        flush(&mut out, &mut lines);

        header(
            &mut out,
            "admission_verdicts_total",
            "counter",
            "AdmissionReviews answered, by path and verdict.",
        );
        for ((path, allowed), n) in &c.verdicts {
            let verdict = if *allowed { "allowed" } else { "denied" };
            lines.push(format!(
                "imagegate_admission_verdicts_total{{path=\"{path}\",verdict=\"{verdict}\"}} {n}"
            ));
        }
        flush(&mut out, &mut lines);

        header(
            &mut out,
            "admission_rules_total",
            "counter",
            "AdmissionReviews in which a rule id fired, by rule and action (deny or warn).",
        );
        for ((rule, action), n) in &c.rules {
            lines.push(format!(
                "imagegate_admission_rules_total{{rule=\"{rule}\",action=\"{action}\"}} {n}"
            ));
        }
        flush(&mut out, &mut lines);

        header(
            &mut out,
            "admission_duration_seconds",
            "histogram",
            "Time from the request headers to the response: body, queueing and evaluation.",
        );
        for (path, h) in &c.latency {
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
                cumulative += n;
                lines.push(format!(
                    "imagegate_admission_duration_seconds_bucket{{path=\"{path}\",le=\"{bound}\"}} {cumulative}"
                ));
            }
            lines.push(format!(
                "imagegate_admission_duration_seconds_bucket{{path=\"{path}\",le=\"+Inf\"}} {}",
                h.count
            ));
            lines.push(format!(
                "imagegate_admission_duration_seconds_sum{{path=\"{path}\"}} {}",
                h.sum
            ));
            lines.push(format!(
                "imagegate_admission_duration_seconds_count{{path=\"{path}\"}} {}",
                h.count
            ));
        }
        flush(&mut out, &mut lines);

        header(
            &mut out,
            "errors_total",
            "counter",
            "Requests that failed: bad_request (400), too_large (413), policy (denied).",
        );
        for kind in [
            ErrorKind::BadRequest,
            ErrorKind::TooLarge,
            ErrorKind::Busy,
            ErrorKind::PlainHttp,
            ErrorKind::Policy,
        ] {
            let n = c.errors.get(&kind).copied().unwrap_or(0);
            lines.push(format!(
                "imagegate_errors_total{{kind=\"{}\"}} {n}",
                kind.label()
            ));
        }
        flush(&mut out, &mut lines);

        let scalars: [(&str, &str, &str, String); 6] = [
            (
                "connections_refused_total",
                "counter",
                "Connections closed at once because --max-connections were open.",
                c.connections_refused.to_string(),
            ),
            (
                "timeouts_total",
                "counter",
                "Evaluations that hit the deadline (answered as denials).",
                c.timeouts.to_string(),
            ),
            (
                "instances_replaced_total",
                "counter",
                "Policy instances dropped after a trap or timeout.",
                instances_replaced.to_string(),
            ),
            (
                "in_flight_requests",
                "gauge",
                "Requests being answered.",
                c.in_flight.to_string(),
            ),
            (
                "pool_instances",
                "gauge",
                "Size of the policy instance pool.",
                self.pool_instances.to_string(),
            ),
            (
                "settings_generation",
                "gauge",
                "Settings in use: 0 from start-up, +1 for each reload applied.",
                c.settings_generation.to_string(),
            ),
        ];
        for (name, kind, help, value) in scalars {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "imagegate_{name} {value}");
        }

        header(
            &mut out,
            "settings_reloads_total",
            "counter",
            "Settings reloads, applied (ok) or refused (error; the old settings stay).",
        );
        let _ = writeln!(
            out,
            "imagegate_settings_reloads_total{{result=\"ok\"}} {}",
            c.reloads_ok
        );
        let _ = writeln!(
            out,
            "imagegate_settings_reloads_total{{result=\"error\"}} {}",
            c.reloads_failed
        );
        out
    }
}

/// Appends gauges: `(name without the prefix, help, value)`.
pub fn render_gauges(out: &mut String, gauges: &[(&str, &str, u64)]) {
    for (name, help, value) in gauges {
        header(out, name, "gauge", help);
        let _ = writeln!(out, "imagegate_{name} {value}");
    }
}

/// Host capability calls (registry lookups, signature verification) made
/// by the policy, by capability and result.
#[derive(Debug, Default)]
pub struct HostCalls {
    counts: Mutex<BTreeMap<(&'static str, bool), u64>>,
}

impl HostCalls {
    /// One call of `capability`, answered or failed.
    pub fn count(&self, capability: &'static str, ok: bool) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry((capability, ok)).or_default() += 1;
    }

    /// Appends `imagegate_host_calls_total`.
    pub fn render_into(&self, out: &mut String) {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        header(
            out,
            "host_calls_total",
            "counter",
            "Host capability calls of the policy (registry lookups), by capability and result.",
        );
        for ((capability, ok), n) in counts.iter() {
            let result = if *ok { "ok" } else { "error" };
            let _ = writeln!(
                out,
                "imagegate_host_calls_total{{capability=\"{capability}\",result=\"{result}\"}} {n}"
            );
        }
    }
}

/// A capability provider that counts the calls it passes on.
pub struct CountingProvider {
    /// The provider that answers.
    pub inner: Box<dyn crate::capabilities::CapabilityProvider>,
    /// Where calls are counted.
    pub calls: std::sync::Arc<HostCalls>,
}

impl crate::capabilities::CapabilityProvider for CountingProvider {
    fn call(
        &self,
        capability: crate::capabilities::Capability,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        let answer = self.inner.call(capability, payload);
        self.calls.count(capability.name(), answer.is_ok());
        answer
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP imagegate_{name} {help}");
    let _ = writeln!(out, "# TYPE imagegate_{name} {kind}");
}

fn flush(out: &mut String, lines: &mut Vec<String>) {
    for line in lines.drain(..) {
        out.push_str(&line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_family_and_cumulative_buckets() {
        let m = Metrics::new(2);
        m.request("/validate", 200);
        m.request("/validate", 200);
        m.request("/nope", 404);
        m.verdict("/validate", true, Duration::from_micros(300));
        m.verdict("/validate", false, Duration::from_millis(3));
        m.error(ErrorKind::TooLarge);
        m.rules(&[("source", "deny"), ("digest", "warn")]);
        m.rules(&[("source", "deny")]);
        m.connection_refused();
        m.timeout();
        m.reload(true, 1);
        let text = m.render(3);
        for line in [
            "imagegate_http_requests_total{path=\"/validate\",code=\"200\"} 2",
            "imagegate_http_requests_total{path=\"other\",code=\"404\"} 1",
            "imagegate_admission_verdicts_total{path=\"/validate\",verdict=\"allowed\"} 1",
            "imagegate_admission_verdicts_total{path=\"/validate\",verdict=\"denied\"} 1",
            "imagegate_admission_duration_seconds_bucket{path=\"/validate\",le=\"0.0005\"} 1",
            "imagegate_admission_duration_seconds_bucket{path=\"/validate\",le=\"0.0025\"} 1",
            "imagegate_admission_duration_seconds_bucket{path=\"/validate\",le=\"0.005\"} 2",
            "imagegate_admission_duration_seconds_bucket{path=\"/validate\",le=\"+Inf\"} 2",
            "imagegate_admission_duration_seconds_count{path=\"/validate\"} 2",
            "imagegate_errors_total{kind=\"too_large\"} 1",
            "imagegate_errors_total{kind=\"bad_request\"} 0",
            "imagegate_timeouts_total 1",
            "imagegate_admission_rules_total{rule=\"source\",action=\"deny\"} 2",
            "imagegate_admission_rules_total{rule=\"digest\",action=\"warn\"} 1",
            "imagegate_connections_refused_total 1",
            "imagegate_errors_total{kind=\"busy\"} 0",
            "imagegate_instances_replaced_total 3",
            "imagegate_pool_instances 2",
            "imagegate_settings_generation 1",
            "imagegate_settings_reloads_total{result=\"ok\"} 1",
            "# TYPE imagegate_admission_duration_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
