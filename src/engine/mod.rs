//! The running system: a real multi-tenant SaaS backend inside the process, behind one front
//! door. No terminal code lives here.
//!
//! ```text
//!  scenario file ─▶ scenario::load ─▶ Arc<Scenario> ─▶ Engine::spawn(scenario, Clock)
//!                                                            │ engine thread, own runtime
//!                                                            ▼
//!   clients: TUI, run, trace,       ┌──────────────── EngineHandle ────────────────┐
//!   serve, token, tests             │ execute(Command) → Pending<Reply>            │
//!        ───── Command ───────────▶ │ subscribe()      → EventStream (replayed)    │
//!        ◀──── Reply / Event ─────  │ snapshot()/watch → Arc<Snapshot>             │
//!                                   │ serve(handle, listener, shutdown) → HTTP     │
//!                                   └──────────────────────┬───────────────────────┘
//!                                                          ▼
//!   Simulation (traffic, scheduled faults, sampler) ─▶ System: the HTTP service
//!   root ─▶ dns ─▶ cdn ─▶ waf ─▶ load balancer ─▶ app instance (gateway, middleware,
//!   controller, cache, database, publish) ─▶ broker ─▶ worker pools
//! ```
//!
//! Every client speaks the same vocabulary: a [`Command`] is plain data, its [`Reply`] comes back
//! once it took effect, [`Event`]s narrate what happened, and a [`Snapshot`] holds every figure
//! the views and reports show. The same pipeline serves in-process requests
//! ([`Command::Send`]) and real HTTP ([`serve()`]). Every stage is real code; modelled latencies
//! are real sleeps on the engine clock, which is tokio's — paused in virtual time (see
//! [`Clock`]).

mod api;
mod api_window;
mod auth;
pub(crate) mod broker;
mod cache;
pub(crate) mod clock;
mod command;
mod core;
mod db_pool;
mod edge;
mod effects;
mod error;
mod event;
mod faults;
mod forecast;
pub use self::forecast::model_is_exact as forecast_model_is_exact;
mod handle;
mod history;
pub(crate) mod latency;
mod metrics;
mod options;
mod pacer;
mod pipeline;
pub mod probe;
mod relay;
mod report;
mod request;
mod runtime;
mod serve;
mod sim;
mod steady;
mod store;
mod system;
mod trace;
mod traffic;
mod wallet;
mod window;
mod workers;

pub use self::api_window::{ApiView, ApiWindow};
pub use self::broker::LedgerReport;
pub use self::broker::group::GroupCounters;
pub use self::broker::{
    BrokerEvent, DeadLetterOrigin, DeadLetterSnapshot, GroupSnapshot, LatencySummary, Message,
    MessageId, RedriveError, RedriveOutcome, TopicSnapshot,
};
pub use self::cache::CacheStats;
pub use self::clock::{Clock, Epoch, VIRTUAL_EPOCH_MS, engine_time};
pub use self::command::{Command, Reply};
pub use self::db_pool::{PoolStats, PoolWait};
pub use self::error::EngineError;
pub use self::event::{Event, EventStream, Level, StreamError};
pub use self::handle::{Engine, EngineHandle, Pending};
pub use self::history::{HISTORY_SECONDS, HistoryView, TopicSecond};
pub use self::metrics::{RequestReport, SecondSample};
pub use self::options::{Options, Sabotage};
pub use self::pacer::{MAX_SCALE, MIN_SCALE};
pub use self::report::{
    BrokerTotals, CacheReport, Invariants, LittlesLaw, Percentiles, Report, RequestsReport,
    ServiceMs, TheoryReport, TopicReport, TopicSeries, WaitMs,
};
pub use self::request::{ApiRequest, Exchange};
pub use self::serve::{ServeLimits, serve, serve_with};
pub use self::sim::{READY_MESSAGE, Snapshot, TopicView};
pub use self::steady::{SteadyState, WaitInterval};
pub use self::store::{OutboxStats, QueryRecord, SECRET_COLUMN};
pub use self::trace::{Outcome, StageDetail, StageRecord, Trace, TracedRequest, detail};
pub use self::window::{WINDOW, WindowView};
pub use self::workers::{EffectTally, WorkerChange, WorkerState};

/// Engine parts for the broker micro-benchmarks (feature `internals`). Not an API: nothing else
/// may use it, and it may change without notice.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use super::broker::Broker;
    pub use super::clock::EngineClock;
    pub use super::latency::SeededRng;
}
