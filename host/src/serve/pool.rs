//! The pool of policy instances behind `/validate` and `/mutate`.
//!
//! Unlike Kubewarden's policy-server (a fresh instance per request, SPEC §6),
//! the server keeps `size` instances (one per core by default) instantiated
//! ahead of time and reuses each across requests: the guest then keeps its
//! compiled settings (cached by their bytes) from one request to the next.
//! A semaphore with `size` permits is the queue: at most `size` evaluations
//! run at once, each on tokio's blocking threads, never on the threads that
//! drive connections.
//!
//! Each call runs under the runtime's limits (epoch deadline, memory cap,
//! see [`crate::runtime`]). An instance whose call trapped, ran out of time
//! or memory, or exited is dropped, never reused (its memory may be half
//! written), and a new one is instantiated in its place in the background.
//! On top of the guest's own deadline, [`Pool::call`] bounds the whole wait
//! (queueing and registry lookups included) by the same deadline plus
//! [`OUTER_MARGIN`], so a request is answered in time even when every
//! instance is busy.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::runtime::{GuestError, Instance, Policy};

/// How long after the deadline the pool stops waiting: the guest's own
/// deadline (epoch ticks of 10 ms) fires first when the guest is what takes
/// the time, so the answer names it and the instance is replaced at once;
/// this bound catches time spent queueing or in registry lookups.
pub const OUTER_MARGIN: Duration = Duration::from_millis(100);

/// The policy's answer, or why there is none.
#[derive(Debug)]
pub struct Evaluation {
    /// The guest's reply, or its failure; a deadline missed while queued or
    /// in a registry lookup is a [`GuestError::Timeout`] too.
    pub reply: Result<Vec<u8>, GuestError>,
}

impl Evaluation {
    /// Whether the evaluation ran out of time.
    #[cfg(test)]
    pub fn timed_out(&self) -> bool {
        matches!(self.reply, Err(GuestError::Timeout { .. }))
    }
}

/// Pre-instantiated instances of one compiled policy.
pub struct Pool {
    policy: Policy,
    idle: Mutex<Vec<Instance>>,
    permits: Arc<Semaphore>,
    size: usize,
    deadline: Duration,
    replaced: AtomicU64,
}

impl Pool {
    /// Instantiates `size` instances of `policy` (at least one). `deadline`
    /// bounds each [`Pool::call`] as a whole.
    pub fn new(policy: Policy, size: usize, deadline: Duration) -> Result<Pool, GuestError> {
        let size = size.max(1);
        let idle = (0..size)
            .map(|_| policy.instantiate())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pool {
            policy,
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(size)),
            size,
            deadline,
            replaced: AtomicU64::new(0),
        })
    }

    /// How many evaluations may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Instances dropped (and replaced) so far.
    pub fn replaced_total(&self) -> u64 {
        self.replaced.load(Ordering::Relaxed)
    }

    /// The compiled policy (for settings validation in fresh instances).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `operation` in an idle instance (waiting for one), within the
    /// deadline.
    #[cfg(test)]
    pub async fn call(self: &Arc<Self>, operation: &'static str, payload: Vec<u8>) -> Evaluation {
        let reply = self
            .run(operation, move |evaluator| {
                evaluator.call(operation, &payload)
            })
            .await;
        Evaluation {
            reply: reply.and_then(|reply| reply),
        }
    }

    /// Evaluations running now (instances in use).
    pub fn busy(&self) -> usize {
        self.size.saturating_sub(self.permits.available_permits())
    }

    /// Runs `job` on a blocking thread once an instance is free, all within
    /// the deadline; `job` calls the policy through its [`Evaluator`]. The
    /// work around the call (decoding the request, encoding the answer) runs
    /// in the same thread handoff and under the same permit, so its CPU and
    /// memory are bounded as the evaluations are. `operation` names the
    /// work in a timeout's message. A deadline missed is a
    /// [`GuestError::Timeout`] and `job`'s result is dropped.
    pub async fn run<T, F>(
        self: &Arc<Self>,
        operation: &'static str,
        job: F,
    ) -> Result<T, GuestError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Evaluator<'_>) -> T + Send + 'static,
    {
        let started = Arc::new(AtomicBool::new(false));
        let pool = Arc::clone(self);
        let running = Arc::clone(&started);
        let work = async move {
            // The semaphore is never closed; if it were, there is no instance to use.
            let permit = Arc::clone(&pool.permits).acquire_owned().await.ok();
            let task = tokio::task::spawn_blocking(move || {
                // The permit goes with the work: an evaluation that outlives
                // the deadline keeps its slot until the epoch stops it.
                let _permit = permit;
                running.store(true, Ordering::Relaxed);
                job(&mut Evaluator { pool: &pool })
            });
            task.await
        };
        match tokio::time::timeout(self.deadline + OUTER_MARGIN, work).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(join)) => Err(GuestError::Trap {
                during: operation.to_owned(),
                message: format!("the evaluation task failed: {join}"),
            }),
            Err(_) => Err(GuestError::Timeout {
                limit: self.deadline,
                during: if started.load(Ordering::Relaxed) {
                    format!("{operation}, registry lookups included")
                } else {
                    format!("the queue: all {} policy instances were busy", self.size)
                },
            }),
        }
    }

    fn call_blocking(self: &Arc<Self>, operation: &str, payload: &[u8]) -> Evaluation {
        let taken = self.idle().pop();
        let mut instance = match taken {
            Some(instance) => instance,
            None => match self.policy.instantiate() {
                Ok(instance) => instance,
                Err(error) => {
                    return Evaluation { reply: Err(error) };
                }
            },
        };
        let reply = instance.call(operation, payload);
        let reusable = match &reply {
            Ok(_) => true,
            Err(error) => is_reusable_after(error),
        };
        if reusable {
            let mut idle = self.idle();
            if idle.len() < self.size {
                idle.push(instance);
            }
        } else {
            drop(instance);
            self.replaced.fetch_add(1, Ordering::Relaxed);
            // Refill on another blocking thread, so the answer does not wait
            // for it (and is not lost if the caller stopped waiting).
            let pool = Arc::clone(self);
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => drop(handle.spawn_blocking(move || pool.refill())),
                Err(_) => pool.refill(),
            }
        }
        Evaluation { reply }
    }

    /// Puts one new instance in the pool, if there is room.
    fn refill(&self) {
        if self.idle().len() >= self.size {
            return;
        }
        match self.policy.instantiate() {
            Ok(instance) => {
                let mut idle = self.idle();
                if idle.len() < self.size {
                    idle.push(instance);
                }
            }
            // The next call instantiates again, and answers with this error
            // if it persists.
            Err(error) => eprintln!("imagegate serve: cannot replace a policy instance: {error}"),
        }
    }
}

/// What a [`Pool::run`] job calls the policy with.
pub struct Evaluator<'a> {
    pool: &'a Arc<Pool>,
}

impl Evaluator<'_> {
    /// Calls `operation` in an idle instance (a new one if none is idle).
    pub fn call(&mut self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, GuestError> {
        self.pool.call_blocking(operation, payload).reply
    }
}

/// Whether an instance can serve again after a call failed this way: yes
/// when the guest returned normally (it reported a failure, or its reply
/// was unusable), no when it was stopped mid-call.
fn is_reusable_after(error: &GuestError) -> bool {
    match error {
        GuestError::CallFailed(_)
        | GuestError::NoResponse(_)
        | GuestError::InvalidReply { .. }
        | GuestError::TooLarge { .. } => true,
        GuestError::Timeout { .. }
        | GuestError::OutOfMemory { .. }
        | GuestError::Trap { .. }
        | GuestError::Exited { .. }
        | GuestError::Instantiate(_)
        | GuestError::Broken(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::capabilities::LogSink;
    use crate::runtime::RuntimeOptions;

    /// A waPC module whose `validate` answers at once, and whose `spin`
    /// loops forever (and `trap` traps), to see instances replaced.
    const WAT: &str = r#"
    (module
      (import "wapc" "__guest_request" (func $req (param i32 i32)))
      (import "wapc" "__guest_response" (func $resp (param i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "{\"accepted\":true}")
      (global $calls (mut i32) (i32.const 0))
      (func (export "__guest_call") (param $op i32) (param $msg i32) (result i32)
        (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
        (call $req (i32.const 1024) (i32.const 2048))
        ;; operation names differ by length: "validate" 8, "spin" 4, "trap" 4 with 't'
        (if (i32.eq (local.get $op) (i32.const 4))
          (then
            (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 116))
              (then unreachable))
            (loop $forever (br $forever))))
        (call $resp (i32.const 0) (i32.const 17))
        (i32.const 1)))
    "#;

    fn pool(size: usize, timeout: Duration) -> Arc<Pool> {
        let bytes = wat::parse_str(WAT).unwrap();
        let policy = Policy::from_bytes(
            Path::new("test.wat"),
            &bytes,
            RuntimeOptions {
                timeout,
                guest_output: LogSink::Discard,
                ..RuntimeOptions::default()
            },
        )
        .unwrap();
        Arc::new(Pool::new(policy, size, timeout + Duration::from_secs(5)).unwrap())
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn instances_are_reused_and_a_timed_out_one_is_replaced() {
        let pool = pool(1, Duration::from_millis(50));
        runtime().block_on(async {
            let first = pool.call("validate", b"{}".to_vec()).await;
            assert_eq!(
                first.reply.as_deref().ok(),
                Some(&b"{\"accepted\":true}"[..])
            );
            assert_eq!(pool.replaced_total(), 0);
            assert_eq!(pool.idle().len(), 1, "the instance went back");

            let spin = pool.call("spin", Vec::new()).await;
            assert!(spin.timed_out(), "{:?}", spin.reply);
            assert_eq!(pool.replaced_total(), 1);

            let trap = pool.call("trap", Vec::new()).await;
            assert!(
                matches!(&trap.reply, Err(GuestError::Trap { .. })),
                "{:?}",
                trap.reply
            );
            assert_eq!(pool.replaced_total(), 2);

            // The pool still answers, from a new instance.
            let again = pool.call("validate", b"{}".to_vec()).await;
            assert!(again.reply.is_ok(), "{:?}", again.reply);
            assert_eq!(pool.replaced_total(), 2);
        });
    }

    #[test]
    fn the_whole_wait_is_bounded_by_the_deadline() {
        // The guest's own limit is long; the pool's deadline is short.
        let bytes = wat::parse_str(WAT).unwrap();
        let policy = Policy::from_bytes(
            Path::new("test.wat"),
            &bytes,
            RuntimeOptions {
                timeout: Duration::from_millis(400),
                guest_output: LogSink::Discard,
                ..RuntimeOptions::default()
            },
        )
        .unwrap();
        let pool = Arc::new(Pool::new(policy, 1, Duration::from_millis(100)).unwrap());
        runtime().block_on(async {
            let (a, b) = tokio::join!(
                pool.call("spin", Vec::new()),
                pool.call("validate", b"{}".to_vec())
            );
            assert!(
                a.timed_out() && b.timed_out(),
                "{:?} {:?}",
                a.reply,
                b.reply
            );
            let messages = [a, b].map(|e| e.reply.err().map(|e| e.to_string()).unwrap_or_default());
            assert!(
                messages
                    .iter()
                    .any(|m| m.contains("all 1 policy instances were busy")),
                "{messages:?}"
            );
        });
    }
}
