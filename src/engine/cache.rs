//! A TTL cache on the engine clock, with hit/miss counters: the app's cache-aside store and the
//! CDN's edge cache.
//!
//! Storage and eviction are moka's (bounded, TinyLFU). moka keeps its own clock, which does not
//! follow tokio's paused time, so expiry is not left to it: each entry carries its deadline on the
//! *engine* clock and a read past the deadline is a miss that also removes the entry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use serde::Serialize;
use tokio::time::Instant;

#[derive(Clone)]
struct Entry<V> {
    value: V,
    expires_at: Instant,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<V> {
    /// Found and fresh, with the time it has left.
    Hit {
        /// The cached value.
        value: V,
        /// Time until it expires.
        ttl_left: Duration,
    },
    /// Not there, or expired.
    Miss {
        /// True when an entry was there but had expired.
        expired: bool,
    },
}

/// Counters of a cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CacheStats {
    /// Lookups that found a fresh entry.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries currently held.
    pub entries: u64,
}

impl CacheStats {
    /// hits / (hits + misses), or 0 before the first lookup.
    pub fn hit_ratio(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

/// A bounded cache whose entries expire on the engine clock.
pub struct TtlCache<V: Clone + Send + Sync + 'static> {
    entries: Cache<String, Entry<V>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V: Clone + Send + Sync + 'static> TtlCache<V> {
    /// A cache holding at most `max_entries`.
    pub fn new(max_entries: u64) -> Self {
        Self {
            entries: Cache::new(max_entries),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Looks `key` up, counting a hit or a miss.
    pub fn get(&self, key: &str) -> Lookup<V> {
        let now = Instant::now();
        let lookup = match self.entries.get(key) {
            Some(entry) if entry.expires_at > now => Lookup::Hit {
                ttl_left: entry.expires_at - now,
                value: entry.value,
            },
            Some(_) => {
                self.entries.invalidate(key);
                Lookup::Miss { expired: true }
            }
            None => Lookup::Miss { expired: false },
        };
        let counter = if matches!(lookup, Lookup::Hit { .. }) {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        lookup
    }

    /// Stores `value` under `key` for `ttl`.
    pub fn put(&self, key: String, value: V, ttl: Duration) {
        self.entries.insert(
            key,
            Entry {
                value,
                expires_at: Instant::now() + ttl,
            },
        );
    }

    /// Removes `key`; true if it was there.
    pub fn invalidate(&self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.entries.invalidate_all();
        self.entries.run_pending_tasks();
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        self.entries.run_pending_tasks();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.entries.entry_count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_on_the_engine_clock() {
        let cache = TtlCache::new(100);
        cache.put("t1:projects:list".into(), 7, Duration::from_secs(30));
        assert!(matches!(
            cache.get("t1:projects:list"),
            Lookup::Hit { value: 7, .. }
        ));
        tokio::time::sleep(Duration::from_secs(29)).await;
        match cache.get("t1:projects:list") {
            Lookup::Hit { ttl_left, .. } => assert_eq!(ttl_left, Duration::from_secs(1)),
            other => panic!("expected a hit, got {other:?}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            cache.get("t1:projects:list"),
            Lookup::Miss { expired: true }
        );
        assert_eq!(
            cache.get("t1:projects:list"),
            Lookup::Miss { expired: false }
        );
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (2, 2));
    }

    #[test]
    fn invalidating_one_key_leaves_the_others() {
        let cache = TtlCache::new(100);
        for key in ["t1:projects:list", "t1:projects:2", "t2:projects:list"] {
            cache.put(key.into(), 1, Duration::from_secs(60));
        }
        assert!(cache.invalidate("t1:projects:list"));
        assert!(!cache.invalidate("t1:projects:list"), "already gone");
        assert!(matches!(cache.get("t2:projects:list"), Lookup::Hit { .. }));
        assert!(matches!(cache.get("t1:projects:2"), Lookup::Hit { .. }));
    }
}
