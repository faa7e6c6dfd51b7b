//! `imagegate serve`'s cache of signature verifications: results per
//! (repository@digest, requirement) for a bounded time, at most a bounded
//! number of them, with counters for the metrics endpoint.
//!
//! Only successes are kept, as in Kubewarden's policy-evaluator (60 s): an
//! image signed a moment after it was rejected is admitted on the next try,
//! not a TTL later. The key is the digest, never the tag, so a tag moved to
//! an unsigned image is verified anew; the repository is part of it because
//! signatures are stored per repository. Entries leave when they expire or,
//! when the cache is full, oldest first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Default time a verification is kept, as Kubewarden keeps it.
pub const DEFAULT_TTL_MS: u64 = 60_000;
/// Default number of verifications kept.
pub const DEFAULT_CAPACITY: usize = 4096;

/// (`registry/repository@digest`, hash of the requirement).
pub type CacheKey = (String, Vec<u8>);

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Verifications answered from the cache.
    pub hits: AtomicU64,
    /// Verifications that had to go to the registry.
    pub misses: AtomicU64,
    /// Verifications that failed (not cached).
    pub failures: AtomicU64,
    /// Entries removed to make room.
    pub evictions: AtomicU64,
    /// Entries held now.
    pub entries: AtomicU64,
}

impl CacheStats {
    /// (hits, misses, failures, evictions, entries).
    pub fn snapshot(&self) -> (u64, u64, u64, u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.failures.load(Ordering::Relaxed),
            self.evictions.load(Ordering::Relaxed),
            self.entries.load(Ordering::Relaxed),
        )
    }

    /// The counters in Prometheus' text format, appended to `out`.
    pub fn render_into(&self, out: &mut String) {
        use std::fmt::Write as _;
        let (hits, misses, failures, evictions, entries) = self.snapshot();
        let series: [(&str, &str, &str, u64); 5] = [
            (
                "signature_cache_hits_total",
                "counter",
                "Signature verifications answered from the cache.",
                hits,
            ),
            (
                "signature_cache_misses_total",
                "counter",
                "Signature verifications that went to the registry.",
                misses,
            ),
            (
                "signature_verification_failures_total",
                "counter",
                "Signature verifications that failed (never cached).",
                failures,
            ),
            (
                "signature_cache_evictions_total",
                "counter",
                "Cached verifications removed to make room.",
                evictions,
            ),
            (
                "signature_cache_entries",
                "gauge",
                "Verifications cached now.",
                entries,
            ),
        ];
        for (name, kind, help, value) in series {
            let _ = write!(
                out,
                "# HELP imagegate_{name} {help}\n# TYPE imagegate_{name} {kind}\n\
                 imagegate_{name} {value}\n"
            );
        }
    }
}

struct Entries {
    map: HashMap<CacheKey, Instant>,
    /// Keys in insertion order (a key inserted again appears twice; the
    /// stale position is skipped when it comes up).
    order: VecDeque<(CacheKey, Instant)>,
}

/// The cache.
pub struct VerificationCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<Entries>,
    stats: std::sync::Arc<CacheStats>,
}

impl VerificationCache {
    /// A cache keeping up to `capacity` successes for `ttl` each.
    pub fn new(ttl: Duration, capacity: usize) -> VerificationCache {
        VerificationCache {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            stats: std::sync::Arc::default(),
        }
    }

    /// The counters, shared with the metrics endpoint.
    pub fn stats(&self) -> std::sync::Arc<CacheStats> {
        std::sync::Arc::clone(&self.stats)
    }

    /// Whether `key` was verified less than the TTL ago; counts a hit or a
    /// miss.
    pub fn lookup(&self, key: &CacheKey, now: Instant) -> bool {
        let hit = self.with_entries(|entries| match entries.map.get(key) {
            Some(at) if now.duration_since(*at) < self.ttl => true,
            Some(_) => {
                entries.map.remove(key);
                false
            }
            None => false,
        });
        let counter = if hit {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    /// Records a successful verification.
    pub fn insert(&self, key: CacheKey, now: Instant) {
        self.with_entries(|entries| {
            // Expired entries go first, then, while full, the oldest.
            while let Some((old, at)) = entries.order.front() {
                let stale = entries.map.get(old) != Some(at);
                let expired = now.duration_since(*at) >= self.ttl;
                let full = entries.map.len() >= self.capacity;
                if !(stale || expired || full) {
                    break;
                }
                if let Some((old, at)) = entries.order.pop_front()
                    && entries.map.get(&old) == Some(&at)
                {
                    entries.map.remove(&old);
                    if !expired {
                        self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            entries.map.insert(key.clone(), now);
            entries.order.push_back((key, now));
        });
    }

    /// Counts a failed verification.
    pub fn record_failure(&self) {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut Entries) -> T) -> T {
        // A panic while holding the lock leaves consistent-enough data (a
        // map and a queue of keys); keep serving rather than poison.
        let mut guard = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = f(&mut guard);
        self.stats
            .entries
            .store(guard.map.len() as u64, Ordering::Relaxed);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CacheKey {
        (format!("r/app@sha256:{n}"), vec![n])
    }

    #[test]
    fn hits_within_the_ttl_and_misses_after() {
        let cache = VerificationCache::new(Duration::from_secs(60), 10);
        let t0 = Instant::now();
        assert!(!cache.lookup(&key(1), t0));
        cache.insert(key(1), t0);
        assert!(cache.lookup(&key(1), t0 + Duration::from_secs(59)));
        assert!(!cache.lookup(&key(1), t0 + Duration::from_secs(60)));
        assert!(!cache.lookup(&key(2), t0));
        cache.record_failure();
        assert_eq!(cache.stats().snapshot(), (1, 3, 1, 0, 0));
    }

    #[test]
    fn a_full_cache_drops_the_oldest_first() {
        let cache = VerificationCache::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        cache.insert(key(1), t0);
        cache.insert(key(2), t0 + Duration::from_secs(1));
        cache.insert(key(3), t0 + Duration::from_secs(2));
        let t = t0 + Duration::from_secs(3);
        assert!(!cache.lookup(&key(1), t));
        assert!(cache.lookup(&key(2), t));
        assert!(cache.lookup(&key(3), t));
        let (_, _, _, evictions, entries) = cache.stats().snapshot();
        assert_eq!((evictions, entries), (1, 2));
    }

    #[test]
    fn expired_entries_make_room_without_counting_as_evictions() {
        let cache = VerificationCache::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        cache.insert(key(1), t0);
        cache.insert(key(2), t0);
        cache.insert(key(3), t0 + Duration::from_secs(11));
        let (_, _, _, evictions, entries) = cache.stats().snapshot();
        assert_eq!((evictions, entries), (0, 1));
    }

    #[test]
    fn the_same_key_twice_keeps_one_entry() {
        let cache = VerificationCache::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        cache.insert(key(1), t0);
        cache.insert(key(1), t0 + Duration::from_secs(1));
        cache.insert(key(2), t0 + Duration::from_secs(2));
        let t = t0 + Duration::from_secs(3);
        assert!(cache.lookup(&key(1), t));
        assert!(cache.lookup(&key(2), t));
        assert_eq!(cache.stats().snapshot().3, 0);
    }
}
