//! A TTL cache on the engine clock, with hit/miss counters: the app's cache-aside store and the
//! CDN's edge cache.
//!
//! Storage and eviction are moka's (bounded, TinyLFU). moka keeps its own clock, which does not
//! follow tokio's paused time, so expiry is not left to it: each entry carries its deadline on the
//! *engine* clock and a read past the deadline is a miss that also removes the entry.
//!
//! [`SingleFlight`] coalesces concurrent loads of one key (request coalescing): the first miss
//! becomes the *leader* and loads; misses that arrive while it loads *follow* it and wait for its
//! value instead of loading again.
//!
//! ```text
//!   miss(k) ─▶ join(k) ─┬─ Leader(guard) ─▶ database ─▶ put(k) ─▶ guard.complete(value)
//!                       └─ Follower(wait) ─────────────────────────▶ value (or Failed: load it yourself)
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use serde::Serialize;
use tokio::sync::watch;
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
    /// Misses that waited for another request's load of the same key instead of reading the
    /// database themselves (single flight). Database reads caused by misses are
    /// `misses − coalesced`.
    pub coalesced: u64,
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
    coalesced: AtomicU64,
}

impl<V: Clone + Send + Sync + 'static> TtlCache<V> {
    /// A cache holding at most `max_entries`.
    pub fn new(max_entries: u64) -> Self {
        Self {
            entries: Cache::new(max_entries),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
        }
    }

    /// Counts a miss that was answered by another request's load (see [`SingleFlight`]).
    pub fn count_coalesced(&self) {
        self.coalesced.fetch_add(1, Ordering::Relaxed);
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
                expires_at: crate::engine::clock::deadline_after(Instant::now(), ttl),
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
            coalesced: self.coalesced.load(Ordering::Relaxed),
        }
    }
}

/// What a load in flight ended with, as its followers see it.
#[derive(Debug, Clone)]
enum Landed<V> {
    /// The leader loaded (and cached) this value.
    Loaded(V),
    /// The leader's load failed or was dropped.
    Failed,
}

/// One load in flight: who started it, and where its result lands.
struct Flight<V> {
    leader: String,
    landed: watch::Receiver<Option<Landed<V>>>,
}

/// Coalesces concurrent loads of the same key (see the module docs).
///
/// A failed load never poisons its followers: they are told it failed and each loads for
/// itself, and the key's next miss starts a fresh flight.
pub struct SingleFlight<V: Clone + Send + Sync + 'static> {
    // A std mutex held only to look up or insert a flight, never across an await; a BTreeMap
    // because nothing here may depend on a random hasher (determinism).
    flights: Mutex<BTreeMap<String, Flight<V>>>,
}

impl<V: Clone + Send + Sync + 'static> Default for SingleFlight<V> {
    fn default() -> Self {
        Self {
            flights: Mutex::new(BTreeMap::new()),
        }
    }
}

/// The part a request plays in a key's load.
pub enum Join<'a, V: Clone + Send + Sync + 'static> {
    /// No load was in flight: this request loads, and must [`complete`](LeaderGuard::complete)
    /// (dropping the guard unfinished tells the followers the load failed).
    Leader(LeaderGuard<'a, V>),
    /// A load is in flight: wait for it with [`Follower::wait`].
    Follower(Follower<V>),
}

/// The leader's duty to report its load.
pub struct LeaderGuard<'a, V: Clone + Send + Sync + 'static> {
    flights: &'a SingleFlight<V>,
    key: String,
    landed: watch::Sender<Option<Landed<V>>>,
}

impl<V: Clone + Send + Sync + 'static> LeaderGuard<'_, V> {
    /// Hands `value` to every follower and ends the flight.
    pub fn complete(self, value: V) {
        self.landed.send_replace(Some(Landed::Loaded(value)));
        // Drop ends the flight.
    }
}

impl<V: Clone + Send + Sync + 'static> Drop for LeaderGuard<'_, V> {
    fn drop(&mut self) {
        self.flights.lock().remove(&self.key);
        // Followers still waiting learn that the load failed (a completed load already sent).
        self.landed.send_if_modified(|landed| {
            if landed.is_none() {
                *landed = Some(Landed::Failed);
                true
            } else {
                false
            }
        });
    }
}

/// A request waiting for another's load.
pub struct Follower<V> {
    /// The request id of the leader (empty when the scenario gives requests no id).
    pub leader: String,
    landed: watch::Receiver<Option<Landed<V>>>,
}

impl<V: Clone + Send + Sync + 'static> Follower<V> {
    /// Waits for the leader; `Some(value)` when it loaded, `None` when its load failed (then
    /// the caller loads for itself).
    pub async fn wait(mut self) -> Option<V> {
        match self.landed.wait_for(Option::is_some).await {
            Ok(landed) => match landed.clone() {
                Some(Landed::Loaded(value)) => Some(value),
                _ => None,
            },
            // The sender is gone without a value: the leader's task was dropped.
            Err(_) => None,
        }
    }
}

impl<V: Clone + Send + Sync + 'static> SingleFlight<V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Flight<V>>> {
        self.flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Joins the load of `key`: leads it if none is in flight (as request `leader`), else
    /// follows the one that is.
    pub fn join(&self, key: &str, leader: &str) -> Join<'_, V> {
        let mut flights = self.lock();
        if let Some(flight) = flights.get(key) {
            return Join::Follower(Follower {
                leader: flight.leader.clone(),
                landed: flight.landed.clone(),
            });
        }
        let (landed, receiver) = watch::channel(None);
        flights.insert(
            key.to_string(),
            Flight {
                leader: leader.to_string(),
                landed: receiver,
            },
        );
        Join::Leader(LeaderGuard {
            flights: self,
            key: key.to_string(),
            landed,
        })
    }

    /// Loads in flight now.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.lock().len()
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

    #[tokio::test(start_paused = true)]
    async fn followers_get_the_leaders_value_and_the_flight_ends() {
        let flights = SingleFlight::<u32>::default();
        let Join::Leader(leader) = flights.join("k", "req-1") else {
            panic!("the first miss leads");
        };
        let Join::Follower(follower) = flights.join("k", "req-2") else {
            panic!("a second miss follows");
        };
        assert_eq!(follower.leader, "req-1");
        let waiting = tokio::spawn(follower.wait());
        tokio::time::sleep(Duration::from_millis(5)).await;
        leader.complete(7);
        assert_eq!(waiting.await.expect("joined"), Some(7));
        assert_eq!(flights.in_flight(), 0);
        assert!(matches!(flights.join("k", "req-3"), Join::Leader(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_load_releases_its_followers() {
        let flights = SingleFlight::<u32>::default();
        let leader = flights.join("k", "req-1");
        let Join::Follower(follower) = flights.join("k", "req-2") else {
            panic!("a second miss follows");
        };
        let waiting = tokio::spawn(follower.wait());
        drop(leader);
        assert_eq!(waiting.await.expect("joined"), None, "told, not stuck");
        assert!(matches!(flights.join("k", "req-3"), Join::Leader(_)));
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
