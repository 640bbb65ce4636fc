//! The engine's shared state: everything the stages of every app instance share.
//!
//! One `Core` per engine, behind an `Arc`. The app instances are stateless, like real ones: they
//! share the database, the cache, the broker and the limiters through this struct and nothing
//! else.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use super::auth::TokenService;
use super::broker::Broker;
use super::cache::{SingleFlight, TtlCache};
use super::clock::EngineClock;
use super::db_pool::DbPool;
use super::event::EventOutlet;
use super::latency::SeededRng;
use super::metrics::Metrics;
use super::store::Store;
use super::trace::TraceRecorder;
use crate::scenario::{Route, Scenario, Stage, StageKind};
use crate::topology::Topology;

/// A keyed GCRA limiter on the engine clock that reports the remaining burst.
pub type KeyedLimiter =
    RateLimiter<String, HashMapStateStore<String>, EngineClock, StateInformationMiddleware>;

/// A static asset as the CDN keeps it.
#[derive(Debug, Clone)]
pub struct CachedAsset {
    /// MIME type.
    pub content_type: String,
    /// The body.
    pub body: Bytes,
}

/// Load-balancer state: the round-robin cursor and in-flight requests per instance.
#[derive(Debug)]
pub struct BalancerState {
    /// Next instance for round robin.
    pub cursor: AtomicUsize,
    /// Requests in progress per instance.
    pub in_flight: Vec<AtomicUsize>,
}

/// Fault knobs the request path reads (set by scenario faults or live controls).
#[derive(Debug, Default)]
pub struct PathFaults {
    /// Extra milliseconds added to every database query (f64 bits).
    db_extra_ms_bits: AtomicU64,
}

impl PathFaults {
    /// Extra database latency in milliseconds.
    pub fn db_extra_ms(&self) -> f64 {
        f64::from_bits(self.db_extra_ms_bits.load(Ordering::Relaxed))
    }

    /// Sets the extra database latency.
    pub fn set_db_extra_ms(&self, ms: f64) {
        self.db_extra_ms_bits
            .store(ms.max(0.0).to_bits(), Ordering::Relaxed);
    }
}

/// Live knobs shared by every traffic generator.
#[derive(Debug)]
pub struct TrafficControl {
    multiplier_bits: AtomicU64,
    spike_bits: AtomicU64,
    /// Woken whenever a knob changes, for generators waiting out a pause.
    changed: tokio::sync::Notify,
}

impl Default for TrafficControl {
    fn default() -> Self {
        Self {
            multiplier_bits: AtomicU64::new(1f64.to_bits()),
            spike_bits: AtomicU64::new(1f64.to_bits()),
            changed: tokio::sync::Notify::new(),
        }
    }
}

impl TrafficControl {
    /// The live rate multiplier (the `+`/`-` keys).
    pub fn multiplier(&self) -> f64 {
        f64::from_bits(self.multiplier_bits.load(Ordering::Relaxed))
    }

    /// Sets the live rate multiplier (clamped to 0–100).
    pub fn set_multiplier(&self, value: f64) {
        self.multiplier_bits
            .store(value.clamp(0.0, 100.0).to_bits(), Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// The traffic-spike fault's multiplier (1 when none is active).
    pub fn spike(&self) -> f64 {
        f64::from_bits(self.spike_bits.load(Ordering::Relaxed))
    }

    /// Sets the traffic-spike multiplier.
    pub fn set_spike(&self, value: f64) {
        self.spike_bits
            .store(value.max(0.0).to_bits(), Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// Whether the knobs stop all traffic (the multiplier or a spike fault at 0).
    pub fn stopped(&self) -> bool {
        self.multiplier() * self.spike() <= 0.0
    }

    /// Returns once the knobs no longer stop all traffic ([`TrafficControl::stopped`]).
    pub async fn resumed(&self) {
        loop {
            // Registered before the check, so a change between the two is not missed.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if !self.stopped() {
                return;
            }
            changed.await;
        }
    }
}

/// Shared state of one engine.
pub struct Core {
    /// The scenario the engine runs.
    pub scenario: Arc<Scenario>,
    /// Its stage graph.
    pub topology: Topology,
    /// Its API routes, shared with the gateway.
    pub routes: Vec<Arc<Route>>,
    stage_position: HashMap<String, usize>,
    /// The engine clock.
    pub clock: EngineClock,
    /// The seeded random source (shared with the broker and the workers).
    pub rng: Arc<SeededRng>,
    /// The embedded database.
    pub store: Store,
    /// The app's read cache (cache-aside).
    pub cache: TtlCache<Bytes>,
    /// The read cache's loads in flight, when the scenario coalesces misses
    /// (`[cache] single_flight`).
    pub flights: Option<SingleFlight<Bytes>>,
    /// The CDN's edge cache.
    pub cdn: TtlCache<CachedAsset>,
    /// Token signing and verification.
    pub tokens: TokenService,
    /// Per tenant-and-user quota.
    pub user_limiter: KeyedLimiter,
    /// Per-tenant quotas (all of a tenant's callers together), by plan; the scenario-wide
    /// `tenant_` quota under the empty name. Empty when the scenario sets none.
    pub tenant_limiters: BTreeMap<String, KeyedLimiter>,
    /// The database's connection pool, when the scenario bounds it (`[database] connections`).
    pub db_pool: Option<DbPool>,
    /// Per client-IP WAF limit.
    pub ip_limiter: KeyedLimiter,
    /// Load-balancer state.
    pub balancer: BalancerState,
    /// The event broker.
    pub broker: Arc<Broker>,
    /// The engine's event stream for the broker and the worker pools (connected when the
    /// simulation starts).
    pub(crate) events: EventOutlet,
    /// Request metrics and per-second series.
    pub metrics: Metrics,
    /// Live traffic knobs.
    pub traffic: TrafficControl,
    /// Fault knobs of the request path.
    pub faults: PathFaults,
    /// Wakes the outbox relay when a request leaves events it could not publish.
    pub outbox_wake: tokio::sync::Notify,
    /// A deliberate bug to run with (tests of the ledger only).
    pub sabotage: Option<super::options::Sabotage>,
    /// Held by a write across its `max_remaining` checks and the write itself, so two concurrent
    /// writes cannot both spend what remains of the same total (the live runtime has several
    /// threads; in virtual time the section never yields anyway). A `std` mutex: the section is
    /// synchronous and takes microseconds.
    pub limits: std::sync::Mutex<()>,
}

fn quota(per_period: Duration, burst: u32) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(per_period.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl Core {
    /// Builds the shared state; the store is created and seeded here.
    pub fn new(scenario: Arc<Scenario>, clock: EngineClock, store: Store) -> Self {
        let topology = Topology::new(&scenario);
        let stage_position = topology
            .order()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let rate = &scenario.rate_limit;
        let user_quota = quota(
            Duration::from_secs_f64(1.0 / rate.requests_per_second.max(1e-9)),
            rate.burst,
        );
        let per_minute = scenario.edge.waf_requests_per_minute.max(1);
        let ip_quota = quota(Duration::from_secs(60) / per_minute, per_minute);
        let instances = scenario.load_balancer.instances.max(1) as usize;
        let rng = Arc::new(SeededRng::new(scenario.meta.seed));
        let events = EventOutlet::default();
        Self {
            broker: Arc::new(
                Broker::new(&scenario, clock, rng.clone()).with_events(events.clone()),
            ),
            events,
            metrics: Metrics::new(
                scenario
                    .routes
                    .iter()
                    .filter_map(|r| Some((r.name(), r.deadline?)))
                    .collect(),
            ),
            traffic: TrafficControl::default(),
            rng,
            cache: TtlCache::new(scenario.cache.max_entries),
            flights: scenario.cache.single_flight.then(SingleFlight::default),
            tenant_limiters: rate
                .tenant
                .map(|tenant| (String::new(), tenant))
                .into_iter()
                .chain(rate.plans.iter().map(|(plan, q)| (plan.clone(), *q)))
                .map(|(plan, tenant)| {
                    let quota = quota(
                        Duration::from_secs_f64(1.0 / tenant.requests_per_second.max(1e-9)),
                        tenant.burst,
                    );
                    let limiter = KeyedLimiter::new(quota, HashMapStateStore::default(), clock);
                    (plan, limiter)
                })
                .collect(),
            db_pool: scenario.database.pool.map(DbPool::new),
            cdn: TtlCache::new(1024),
            tokens: TokenService::new(&scenario.auth),
            user_limiter: KeyedLimiter::new(user_quota, HashMapStateStore::default(), clock),
            ip_limiter: KeyedLimiter::new(ip_quota, HashMapStateStore::default(), clock),
            balancer: BalancerState {
                cursor: AtomicUsize::new(0),
                in_flight: (0..instances).map(|_| AtomicUsize::new(0)).collect(),
            },
            faults: PathFaults::default(),
            outbox_wake: tokio::sync::Notify::new(),
            sabotage: None,
            limits: std::sync::Mutex::new(()),
            routes: scenario.routes.iter().cloned().map(Arc::new).collect(),
            topology,
            stage_position,
            clock,
            store,
            scenario,
        }
    }

    /// Position of stage `id` in pipeline order (unknown ids last).
    pub fn stage_position(&self, id: &str) -> usize {
        self.stage_position.get(id).copied().unwrap_or(usize::MAX)
    }

    /// The scenario's stages of `kind`, in pipeline order.
    pub fn stages_of(&self, kind: StageKind) -> impl Iterator<Item = &Stage> {
        self.topology.order().filter(move |s| s.kind == kind)
    }

    /// How long a cached read of a route with TTL `base` is kept: `base` itself, or with
    /// `[cache] ttl_jitter` set, `base` × a seeded uniform draw in `[1 − j, 1 + j]`, so entries
    /// filled together do not all expire together. (No draw without jitter, so scenarios without
    /// it consume the seeded sequence exactly as before.)
    pub fn cache_ttl(&self, base: Duration) -> Duration {
        let jitter = self.scenario.cache.ttl_jitter;
        if jitter <= 0.0 {
            return base;
        }
        let factor = 1.0 + jitter * (2.0 * self.rng.unit() - 1.0);
        Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(base)
    }

    /// Draws stage `stage`'s modelled latency and applies it to the request `trace` on the
    /// engine clock; returns the ms.
    pub async fn model_latency(&self, stage: &Stage, trace: &TraceRecorder) -> f64 {
        let Some(dist) = &stage.latency else {
            return 0.0;
        };
        let ms = self.rng.sample_ms(dist);
        trace.delay(ms, &self.clock).await;
        ms
    }
}
