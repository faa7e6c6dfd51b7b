//! `imagegate bench`: latency of one evaluation, measured simply.
//!
//! For each row: `--warmup` unmeasured calls, then `--iterations` calls each
//! timed with `Instant`; the row shows mean, median (p50) and p99 (nearest
//! rank) in microseconds. Rows:
//!
//! * `validate` and `validate_settings` in ONE instance reused for every call
//!   (what `kwctl bench` measures);
//! * with `--fresh-instance`, the same two with a new instance per call:
//!   instantiate from the precompiled `InstancePre`, run `wapc_init`, call.
//!   This is how policy-server runs every request (SPEC §6).
//!
//! Every reply is checked to be `Ok` (a policy that fails is not benchmarked);
//! the guest's output is discarded. Host capabilities are refused as with
//! `--offline` (a benchmark does not measure the network), or answered from
//! `--host-capabilities FILE`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use imagegate_policy::capabilities::Offline;

use crate::capabilities::LogSink;
use crate::cli::BenchArgs;
use crate::commands::{
    load_policy, load_policy_from, load_recorded, load_settings, one_stdin_reader, print_line,
};
use crate::input;
use crate::module_cache::Origin;
use crate::payload::validate_payload;
use crate::runtime::GuestError;

/// Summary of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Mean.
    pub mean: Duration,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: u64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).clamp(1, n);
    sorted
        .get(usize::try_from(rank - 1).unwrap_or(0))
        .copied()
        .unwrap_or_default()
}

/// Summarizes samples.
pub fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let total: Duration = samples.iter().sum();
    let count = u32::try_from(samples.len().max(1)).unwrap_or(u32::MAX);
    Stats {
        mean: total / count,
        p50: percentile(&samples, 50),
        p99: percentile(&samples, 99),
    }
}

fn measure(
    warmup: u64,
    iterations: u64,
    mut call: impl FnMut() -> Result<Vec<u8>, GuestError>,
) -> Result<Stats, GuestError> {
    for _ in 0..warmup {
        call()?;
    }
    let mut samples = Vec::with_capacity(usize::try_from(iterations).unwrap_or(0));
    time_calls(iterations, &mut call, &mut samples)?;
    Ok(stats(samples))
}

/// Times `count` calls of `call` into `samples`; a failed call stops it.
fn time_calls(
    count: u64,
    call: &mut impl FnMut() -> Result<Vec<u8>, GuestError>,
    samples: &mut Vec<Duration>,
) -> Result<(), GuestError> {
    for _ in 0..count {
        let start = Instant::now();
        let reply = call();
        let elapsed = start.elapsed();
        reply?;
        samples.push(elapsed);
    }
    Ok(())
}

/// Prints an interleaved measurement: a heading, one row per side, and the
/// ratio `over / under` of p50s and of means.
fn print_interleaved(
    what: &str,
    rows: [(&str, &str, &Stats); 2],
    ratio: &str,
    (over, under): (&Stats, &Stats),
) -> anyhow::Result<()> {
    let divide =
        |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(f64::MIN_POSITIVE);
    print_line(&format!(
        "validate, {what}, interleaved in {ROUNDS} rounds:"
    ))?;
    for (operation, instance, stats) in rows {
        print_line(&row(operation, instance, stats))?;
    }
    print_line(&format!(
        "ratio ({ratio}): p50 {:.2}x, mean {:.2}x",
        divide(over.p50, under.p50),
        divide(over.mean, under.mean),
    ))?;
    Ok(())
}

/// Checks that the module and the native core gave the same answer (as
/// JSON values): otherwise `--native` would time two different things.
fn same_answer(module: &[u8], native: &[u8]) -> anyhow::Result<()> {
    let read = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
    let answer = read(module);
    if answer.is_some() && answer == read(native) {
        return Ok(());
    }
    anyhow::bail!(
        "--native: the module and imagegate's own core answer differently, so they are not \
         the same evaluation (is --policy imagegate's policy.wasm of this version?)\n  \
         module: {}\n  native: {}",
        String::from_utf8_lossy(module),
        String::from_utf8_lossy(native)
    )
}

/// Rounds `--compare` splits its iterations into.
const ROUNDS: u64 = 20;

/// Measures `a` and `b` alternately, `iterations / ROUNDS` calls each per
/// round, after `warmup` calls of each: both see the same machine.
fn interleaved(
    warmup: u64,
    iterations: u64,
    mut a: impl FnMut() -> Result<Vec<u8>, GuestError>,
    mut b: impl FnMut() -> Result<Vec<u8>, GuestError>,
) -> Result<(Stats, Stats), GuestError> {
    for _ in 0..warmup {
        a()?;
        b()?;
    }
    let per_round = iterations.div_ceil(ROUNDS).max(1);
    let capacity = usize::try_from(per_round * ROUNDS).unwrap_or(0);
    let (mut xs, mut ys) = (Vec::with_capacity(capacity), Vec::with_capacity(capacity));
    for _ in 0..ROUNDS {
        time_calls(per_round, &mut a, &mut xs)?;
        time_calls(per_round, &mut b, &mut ys)?;
    }
    Ok((stats(xs), stats(ys)))
}

fn micros(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn row(operation: &str, instance: &str, s: &Stats) -> String {
    format!(
        "{operation:<18} {instance:<8} {:>10} {:>10} {:>10}",
        micros(s.mean),
        micros(s.p50),
        micros(s.p99)
    )
}

/// Runs `imagegate bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let recording = args.host_capabilities.as_deref();
    one_stdin_reader(&args.request, &args.settings, recording)?;
    let request = input::load_request(&args.request)?;
    let settings = load_settings(&args.settings)?;
    let recorded = load_recorded(recording)?;
    let settings_payload = serde_json::to_vec(&settings)?;
    let payload = validate_payload(&request, &settings_payload)?;

    let start = Instant::now();
    let mut policy = load_policy_from(
        &args.policy,
        &args.registry,
        args.limits.runtime_options(true, LogSink::Discard),
    )?;
    if let Some(recorded) = recorded {
        policy.set_provider(Box::new(recorded));
    }
    let compile = start.elapsed();

    print_line(&format!(
        "policy {}: loaded in {:.1} ms ({}); {} iterations after {} warm-up calls per row",
        args.policy.policy.display(),
        compile.as_secs_f64() * 1e3,
        match policy.origin() {
            Origin::Cached => "from the module cache",
            Origin::Compiled => "compiled",
        },
        args.iterations,
        args.warmup
    ))?;
    print_line(&format!(
        "{:<18} {:<8} {:>10} {:>10} {:>10}",
        "operation", "instance", "mean µs", "p50 µs", "p99 µs"
    ))?;

    let mut instance = policy
        .instantiate()
        .context("cannot instantiate the policy")?;
    let s = measure(args.warmup, args.iterations, || instance.validate(&payload))
        .context("validate failed")?;
    print_line(&row("validate", "reused", &s))?;
    let s = measure(args.warmup, args.iterations, || {
        instance.validate_settings(&settings_payload)
    })
    .context("validate_settings failed")?;
    print_line(&row("validate_settings", "reused", &s))?;

    if let Some(other) = &args.compare {
        let other_settings = match &args.compare_settings {
            Some(path) => input::load_settings_file(path)?,
            None => settings.clone(),
        };
        let other_payload = validate_payload(&request, &serde_json::to_vec(&other_settings)?)?;
        let other_policy = load_policy(other, args.limits.runtime_options(true, LogSink::Discard))?;
        let mut other_instance = other_policy
            .instantiate()
            .with_context(|| format!("cannot instantiate {}", other.display()))?;
        let (ours, theirs) = interleaved(
            args.warmup,
            args.iterations,
            || instance.validate(&payload),
            || other_instance.validate(&other_payload),
        )
        .context("validate failed")?;
        print_interleaved(
            "reused instances",
            [
                ("validate", "reused", &ours),
                ("  --compare", "reused", &theirs),
            ],
            "--compare / --policy",
            (&theirs, &ours),
        )?;
    }

    if args.native {
        // The same evaluation natively: what the module's `validate` export
        // does (evaluate, serialize the response), in this process.
        let mut native = || -> Result<Vec<u8>, GuestError> {
            Ok(
                serde_json::to_vec(&imagegate_policy::validate(&payload, &Offline))
                    .unwrap_or_default(),
            )
        };
        same_answer(&instance.validate(&payload)?, &native()?)?;
        let (module, native) = interleaved(
            args.warmup,
            args.iterations,
            || instance.validate(&payload),
            &mut native,
        )
        .context("validate failed")?;
        print_interleaved(
            "the module and the native core",
            [
                ("validate", "reused", &module),
                ("  --native", "-", &native),
            ],
            "--policy / --native",
            (&module, &native),
        )?;
    }

    if args.fresh_instance {
        let s = measure(args.warmup, args.iterations, || policy.validate(&payload))
            .context("validate failed")?;
        print_line(&row("validate", "fresh", &s))?;
        let s = measure(args.warmup, args.iterations, || {
            policy.validate_settings(&settings_payload)
        })
        .context("validate_settings failed")?;
        print_line(&row("validate_settings", "fresh", &s))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let s = stats(samples);
        assert_eq!(s.p50, Duration::from_micros(50));
        assert_eq!(s.p99, Duration::from_micros(99));
        assert_eq!(s.mean, Duration::from_nanos(50_500));
        let one = stats(vec![Duration::from_micros(7)]);
        assert_eq!(
            (one.p50, one.p99),
            (Duration::from_micros(7), Duration::from_micros(7))
        );
    }
}
