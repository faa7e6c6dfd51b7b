//! The byte budget of request bodies in flight.
//!
//! A body is admitted, before a byte of it is read, only once its size
//! (its `Content-Length`, or the 3 MiB limit when it has none) fits in the
//! budget; it gives the bytes back when its request is answered. So however
//! many clients send large bodies at once, the server holds at most the
//! budget in bodies (and each body's payload copy is bounded by the pool:
//! only `--instances` requests are decoded at once). Clients over the
//! budget wait, unread, in their TCP windows; one that cannot be admitted
//! within the request deadline gets 503.
//!
//! Bodies up to [`SMALL_BODY`] (every ordinary AdmissionReview: a Pod is a
//! few KiB) draw from a lane of their own, a quarter of the budget on top of
//! it, so that an ordinary request never queues behind large ones: the
//! semaphore is fair, and a 2 KiB request in a shared queue would wait for
//! every 3 MiB one ahead of it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bodies up to this size use the small lane.
pub const SMALL_BODY: usize = 64 * 1024;

/// The default budget of the large lane: 16 MiB, five bodies at the 3 MiB
/// limit at once.
pub const DEFAULT_BUDGET: usize = 16 * 1024 * 1024;

/// Bytes admitted, given back when dropped.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
}

/// The two lanes of the budget.
#[derive(Debug)]
pub struct BodyBudget {
    large: Arc<Semaphore>,
    small: Arc<Semaphore>,
    large_size: usize,
    small_size: usize,
}

impl BodyBudget {
    /// A budget of `large` bytes for large bodies (at least `body_limit`,
    /// so the largest body accepted can be admitted) plus a quarter of it
    /// (at least [`SMALL_BODY`]) for small ones.
    pub fn new(large: usize, body_limit: usize) -> BodyBudget {
        let large = large.max(body_limit);
        let small = (large / 4).max(SMALL_BODY);
        BodyBudget {
            large: Arc::new(Semaphore::new(large)),
            small: Arc::new(Semaphore::new(small)),
            large_size: large,
            small_size: small,
        }
    }

    /// Both lanes' bytes.
    pub fn total(&self) -> usize {
        self.large_size + self.small_size
    }

    /// Bytes of bodies admitted now, both lanes.
    pub fn in_use(&self) -> usize {
        self.large_size
            .saturating_sub(self.large.available_permits())
            + self
                .small_size
                .saturating_sub(self.small.available_permits())
    }

    /// Admits `bytes` (at least 1), waiting up to `wait`; `None` when the
    /// budget stayed full that long.
    pub async fn admit(&self, bytes: usize, wait: Duration) -> Option<Admitted> {
        let lane = if bytes <= SMALL_BODY {
            &self.small
        } else {
            &self.large
        };
        let permits = u32::try_from(bytes.max(1)).ok()?;
        let acquire = Arc::clone(lane).acquire_many_owned(permits);
        match tokio::time::timeout(wait, acquire).await {
            Ok(Ok(permit)) => Some(Admitted { _permit: permit }),
            // Closed (never) or timed out.
            Ok(Err(_)) | Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_bodies_wait_for_room_and_small_ones_do_not_wait_behind_them() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let wait = Duration::from_millis(50);
            let budget = BodyBudget::new(100, 60);
            assert_eq!(budget.total(), 100 + SMALL_BODY);
            let budget = BodyBudget::new(200_000, 100_000);
            let a = budget.admit(100_000, wait).await.unwrap();
            let _b = budget.admit(100_000, wait).await.unwrap();
            assert!(budget.admit(100_000, wait).await.is_none(), "full");
            // A small body still gets in at once.
            let small = budget.admit(2_000, wait).await;
            assert!(small.is_some());
            assert_eq!(budget.in_use(), 202_000);
            drop(a);
            assert!(budget.admit(100_000, wait).await.is_some(), "room again");
        });
    }
}
