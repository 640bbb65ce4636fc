//! The validated, immutable scenario the engine runs.
//!
//! Every name in here has been checked: a route's table exists, a persona's role exists, the stage
//! graph is a DAG that ends in one response stage, every distribution is sane. Code that holds a
//! [`Scenario`] may look things up by name and rely on finding them.
//!
//! The sections live in the same modules as their raw counterparts in [`super::raw`]:
//! `settings`, `identity`, `tables`, `stages`, `dist`, `routes`, `broker`, `traffic`, `faults`
//! and `tours`; this module holds the [`Scenario`] that ties them together.

mod broker;
mod conditions;
mod dist;
mod effects;
mod faults;
mod identity;
mod routes;
mod settings;
mod stages;
mod tables;
mod tours;
mod traffic;

use serde::Serialize;

pub use super::raw::{
    Action, Arrival, AutoValue, BalanceStrategy, ColumnType, FillFrom, FullPolicy, Method,
    PublishMode, StageKind, TokenKind, View,
};
pub use broker::*;
pub use conditions::*;
pub use dist::*;
pub use effects::*;
pub use faults::*;
pub use identity::*;
pub use routes::*;
pub use settings::*;
pub use stages::*;
pub use tables::*;
pub use tours::*;
pub use traffic::*;

/// A whole validated scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// Name, title, seed and domain.
    pub meta: Meta,
    /// Token signing and checking.
    pub auth: AuthConfig,
    /// CDN and WAF.
    pub edge: EdgeConfig,
    /// App instances.
    pub load_balancer: LoadBalancerConfig,
    /// Per-tenant, per-user quota.
    pub rate_limit: RateLimitConfig,
    /// Read cache.
    pub cache: CacheConfig,
    /// The database's connection pool.
    pub database: DatabaseConfig,
    /// Tenants, in file order; a tenant's database id is its position + 1.
    pub tenants: Vec<Tenant>,
    /// Permission bits.
    pub permissions: Vec<Permission>,
    /// Roles with their masks.
    pub roles: Vec<Role>,
    /// User accounts.
    pub personas: Vec<Persona>,
    /// Database tables.
    pub tables: Vec<Table>,
    /// Request stages (a DAG; see [`crate::topology`]).
    pub stages: Vec<Stage>,
    /// API routes.
    pub routes: Vec<Route>,
    /// Broker topics.
    pub topics: Vec<Topic>,
    /// Worker pools.
    pub workers: Vec<WorkerPool>,
    /// Named requests.
    pub requests: Vec<NamedRequest>,
    /// Load generators.
    pub traffic: Vec<Traffic>,
    /// Scheduled faults, sorted by time.
    pub faults: Vec<Fault>,
    /// Guided tours.
    pub tours: Vec<Tour>,
}

impl Scenario {
    /// The tenant with this subdomain.
    pub fn tenant(&self, subdomain: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.subdomain == subdomain)
    }

    /// The tenant with this database id.
    pub fn tenant_by_id(&self, id: i64) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// The role with this name.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The persona with this name.
    pub fn persona(&self, name: &str) -> Option<&Persona> {
        self.personas.iter().find(|p| p.name == name)
    }

    /// The host name of tenant `subdomain`, e.g. `acme.archsim.test`.
    pub fn host_of(&self, subdomain: &str) -> String {
        format!("{subdomain}.{}", self.meta.domain)
    }

    /// The permission with this name.
    pub fn permission(&self, name: &str) -> Option<&Permission> {
        self.permissions.iter().find(|p| p.name == name)
    }

    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The stage with this id.
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// The first stage of this kind.
    pub fn stage_of_kind(&self, kind: StageKind) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == kind)
    }

    /// The topic with this name.
    pub fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// The worker pool with this name.
    pub fn worker_pool(&self, name: &str) -> Option<&WorkerPool> {
        self.workers.iter().find(|w| w.name == name)
    }

    /// The named request with this id.
    pub fn request(&self, id: &str) -> Option<&NamedRequest> {
        self.requests.iter().find(|r| r.id == id)
    }

    /// The route a named request is sent to (its method and path match).
    pub fn route_of(&self, request: &NamedRequest) -> Option<&Route> {
        let path = request.path.split('?').next().unwrap_or_default();
        self.routes
            .iter()
            .find(|r| r.method == request.method && r.matches_path(path))
    }

    /// The named request that feeds `topic`: the first whose route publishes to it, else the
    /// first whose route publishes to a topic a worker pool forwards to it (a payment feeds
    /// webhooks through the payment processor). The broker view fires it to show a message's
    /// whole journey; `None` when no request leads to the topic.
    pub fn request_feeding(&self, topic: &str) -> Option<&NamedRequest> {
        // Topics that reach `topic`, nearest first, through the pools' follow-up events.
        let mut reaching = vec![topic.to_string()];
        let mut next = 0;
        while let Some(current) = reaching.get(next).cloned() {
            next += 1;
            for pool in &self.workers {
                if pool.publishes.iter().any(|p| p.topic == current)
                    && !reaching.contains(&pool.topic)
                {
                    reaching.push(pool.topic.clone());
                }
            }
        }
        reaching.iter().find_map(|wanted| {
            self.requests.iter().find(|request| {
                self.route_of(request)
                    .is_some_and(|route| route.publishes.iter().any(|p| &p.topic == wanted))
            })
        })
    }

    /// The names of the permissions set in `mask`, lowest bit first.
    pub fn permission_names(&self, mask: u64) -> Vec<&str> {
        let mut names: Vec<&Permission> = self
            .permissions
            .iter()
            .filter(|p| mask & p.mask() != 0)
            .collect();
        names.sort_by_key(|p| p.bit);
        names.into_iter().map(|p| p.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{DEFAULT_SCENARIO, load_str};

    #[test]
    fn the_request_feeding_a_topic_follows_routes_then_worker_follow_ups() {
        let scenario = load_str("saas.toml", DEFAULT_SCENARIO).expect("default scenario");
        let payments = scenario
            .request_feeding("payments")
            .expect("a request pays");
        assert_eq!(payments.id, "alice-pays-invoice");
        // Webhooks are published by the payment processor, not by a route.
        let webhooks = scenario
            .request_feeding("webhooks")
            .expect("reached via payments");
        assert_eq!(webhooks.id, "alice-pays-invoice");
        assert!(scenario.request_feeding("no-such-topic").is_none());
    }
}
