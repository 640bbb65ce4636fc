//! The database's connection pool: a shared bottleneck, so one tenant's flood can slow the
//! others down.
//!
//! Without `[database] connections` every query runs at once (the modelled latency is a delay,
//! not a queue), so load never makes anyone wait. With it, a query holds one of N connections
//! (a FIFO tokio [`Semaphore`] on the engine clock) for its whole modelled time; a query that
//! gets none within `queue_timeout_ms` fails, and its request ends with 503 `database_busy`.
//!
//! ```text
//!   query ─▶ acquire (wait ≤ queue_timeout) ─┬─ connection ─▶ modelled latency + SQL ─▶ release
//!                                            └─ timeout ──▶ 503 database_busy
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::scenario::PoolConfig;

/// The pool's counters, as the engine snapshot shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PoolStats {
    /// Connections in the pool (`None` when the scenario sets no limit).
    pub connections: Option<u32>,
    /// Connections held by a query right now.
    pub in_use: u64,
    /// Queries waiting for a connection right now.
    pub waiting: u64,
    /// Queries that got a connection.
    pub acquired: u64,
    /// Queries that gave up waiting (each one a 503 `database_busy`).
    pub timeouts: u64,
    /// The longest wait for a connection so far, ms.
    pub max_wait_ms: f64,
}

/// What one query's wait for a connection looked like (the database stage's `pool` detail).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolWait {
    /// Connections in the pool.
    pub connections: u32,
    /// How long this query waited for one, ms (engine time).
    pub waited_ms: f64,
    /// Connections in use when it got one (itself included) or gave up.
    pub in_use: u64,
    /// Other queries still queued behind it at that moment.
    pub queued_behind: u64,
    /// The longest it could have waited, ms.
    pub queue_timeout_ms: f64,
    /// Whether it gave up (the request then ends with 503 `database_busy`).
    pub timed_out: bool,
}

/// A connection held by one query; dropping it gives the connection back.
#[derive(Debug)]
pub struct Connection {
    _permit: OwnedSemaphorePermit,
}

/// A bounded pool of connections (see the module docs).
#[derive(Debug)]
pub struct DbPool {
    config: PoolConfig,
    connections: Arc<Semaphore>,
    waiting: AtomicU64,
    acquired: AtomicU64,
    timeouts: AtomicU64,
    max_wait_us: AtomicU64,
}

/// Counts a query as waiting while it lives, so a wait cut short (the request dropped) is
/// still uncounted.
struct Waiting<'a>(&'a AtomicU64);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl DbPool {
    /// A pool as `config` says.
    pub fn new(config: PoolConfig) -> Self {
        Self {
            connections: Arc::new(Semaphore::new(config.connections as usize)),
            config,
            waiting: AtomicU64::new(0),
            acquired: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            max_wait_us: AtomicU64::new(0),
        }
    }

    fn in_use(&self) -> u64 {
        let free = self.connections.available_permits() as u64;
        u64::from(self.config.connections).saturating_sub(free)
    }

    /// Waits (at most the queue timeout) for a connection. `Err` carries the failed wait.
    pub async fn acquire(&self) -> Result<(Connection, PoolWait), PoolWait> {
        let started = Instant::now();
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let waiting = Waiting(&self.waiting);
        let got = tokio::time::timeout(
            self.config.queue_timeout,
            self.connections.clone().acquire_owned(),
        )
        .await;
        drop(waiting);
        let waited = started.elapsed();
        self.max_wait_us.fetch_max(
            u64::try_from(waited.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let mut wait = PoolWait {
            connections: self.config.connections,
            waited_ms: (waited.as_secs_f64() * 1e6).round() / 1e3,
            in_use: self.in_use(),
            queued_behind: self.waiting.load(Ordering::Relaxed),
            queue_timeout_ms: self.config.queue_timeout.as_secs_f64() * 1000.0,
            timed_out: false,
        };
        match got {
            Ok(Ok(permit)) => {
                self.acquired.fetch_add(1, Ordering::Relaxed);
                Ok((Connection { _permit: permit }, wait))
            }
            // The semaphore is never closed, so an error is a timeout in all but name.
            _ => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                wait.timed_out = true;
                Err(wait)
            }
        }
    }

    /// The pool's counters now.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            connections: Some(self.config.connections),
            in_use: self.in_use(),
            waiting: self.waiting.load(Ordering::Relaxed),
            acquired: self.acquired.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            max_wait_ms: self.max_wait_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_pool_queues_then_times_out() {
        let pool = Arc::new(DbPool::new(PoolConfig {
            connections: 1,
            queue_timeout: Duration::from_millis(50),
        }));
        let (held, first) = pool.acquire().await.expect("a free connection");
        assert_eq!((first.waited_ms, first.in_use), (0.0, 1));
        // Freed after 20 ms: the next query waits exactly that long.
        let releaser = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(held);
        });
        let (held, second) = pool.acquire().await.expect("freed in time");
        releaser.await.expect("released");
        assert_eq!(second.waited_ms, 20.0);
        // Never freed: the third gives up at the timeout.
        let refused = pool.acquire().await.expect_err("times out");
        assert!(refused.timed_out);
        assert_eq!(refused.waited_ms, 50.0);
        let stats = pool.stats();
        assert_eq!((stats.acquired, stats.timeouts, stats.in_use), (2, 1, 1));
        assert_eq!((stats.waiting, stats.max_wait_ms), (0, 50.0));
        drop(held);
    }
}
