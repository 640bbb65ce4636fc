//! The scenario file format, exactly as written in TOML.
//!
//! These serde types mirror the file one to one and carry source positions
//! ([`Sp`](crate::scenario::span::Sp)) on every value that validation may need to point at. They
//! are *not* the model the engine runs: `validate` checks every cross-reference and turns them
//! into the immutable [`crate::scenario::Scenario`].
//! Doc comments here become descriptions in the JSON Schema, which editors show while completing.
//!
//! One module per section of the file:
//!
//! ```text
//!  settings   [scenario] [auth] [edge] [load_balancer] [rate_limit] [cache] [database]
//!  identity   [[tenants]] [[permissions]] [[roles]] [[personas]]
//!  tables     [[tables]] with columns, indexes and seed rows
//!  stages     [[stages]]            dist    latency / service-time distributions
//!  routes     [[routes]]            broker  [[topics]] [[workers]]
//!  traffic    [[requests]] [[traffic]]
//!  faults     [[faults]]            tours   [[tours]]
//! ```

mod broker;
mod dist;
mod faults;
mod identity;
mod routes;
mod settings;
mod stages;
mod tables;
mod tours;
mod traffic;

use schemars::JsonSchema;
use serde::Deserialize;

pub use broker::*;
pub use dist::*;
pub use faults::*;
pub use identity::*;
pub use routes::*;
pub use settings::*;
pub use stages::*;
pub use tables::*;
pub use tours::*;
pub use traffic::*;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "archsim scenario")]
pub struct RawScenario {
    /// Name, title, seed and domain of the scenario.
    pub scenario: RawMeta,
    /// How access tokens are signed and checked.
    pub auth: RawAuth,
    /// DNS, CDN and WAF settings at the edge.
    #[serde(default)]
    pub edge: RawEdge,
    /// The app instances behind the load balancer.
    #[serde(default)]
    pub load_balancer: RawLoadBalancer,
    /// The per-tenant, per-user request quota.
    #[serde(default)]
    pub rate_limit: RawRateLimit,
    /// The read cache in front of the database.
    #[serde(default)]
    pub cache: RawCache,
    /// The database's connection pool.
    #[serde(default)]
    pub database: RawDatabase,
    /// The tenants (customers) of the SaaS; each has its own subdomain.
    #[serde(default)]
    pub tenants: Vec<RawTenant>,
    /// Named permission bits that roles combine into a bitmask.
    #[serde(default)]
    pub permissions: Vec<RawPermission>,
    /// Roles: named sets of permissions.
    #[serde(default)]
    pub roles: Vec<RawRole>,
    /// The people who use the system in traces, sample requests and traffic.
    #[serde(default)]
    pub personas: Vec<RawPersona>,
    /// Database tables: columns, keys, indexes and seed rows.
    #[serde(default)]
    pub tables: Vec<RawTable>,
    /// The stages a request passes through, as a graph.
    #[serde(default)]
    pub stages: Vec<RawStage>,
    /// The HTTP API.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Broker topics (queues), including dead-letter topics.
    #[serde(default)]
    pub topics: Vec<RawTopic>,
    /// Worker pools that consume topics.
    #[serde(default)]
    pub workers: Vec<RawWorkerPool>,
    /// Named requests: shown in the lifecycle picker and used by traffic.
    #[serde(default)]
    pub requests: Vec<RawRequest>,
    /// Load generators.
    #[serde(default)]
    pub traffic: Vec<RawTraffic>,
    /// Faults injected at fixed times of a run.
    #[serde(default)]
    pub faults: Vec<RawFault>,
    /// Guided tours through the views.
    #[serde(default)]
    pub tours: Vec<RawTour>,
}
