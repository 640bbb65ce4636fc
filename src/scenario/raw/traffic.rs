//! What is sent: named `[[requests]]` and the `[[traffic]]` generators that mix them.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Method;
use crate::scenario::span::Sp;

/// Which token a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A freshly signed, valid token for the persona.
    #[default]
    Valid,
    /// No Authorization header.
    Missing,
    /// A token whose `exp` has passed.
    Expired,
    /// A token signed with the wrong key.
    BadSignature,
    /// An unsigned token with header `alg: none`.
    AlgNone,
    /// A token for another audience.
    WrongAudience,
}

/// A named request.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// Unique id, used by traffic mixes and tours.
    pub id: Sp<String>,
    /// One line shown in the lifecycle picker.
    pub title: String,
    /// What the learner should notice.
    #[serde(default)]
    pub explain: String,
    /// Who sends it.
    pub persona: Sp<String>,
    /// HTTP method.
    pub method: Sp<Method>,
    /// Path, with real ids, e.g. `/api/v1/projects/2`.
    pub path: Sp<String>,
    /// Subdomain to send it to; defaults to the persona's tenant.
    #[serde(default)]
    pub host_tenant: Option<Sp<String>>,
    /// Which token it carries.
    #[serde(default)]
    pub token: TokenKind,
    /// Extra headers.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// JSON body: an inline table. Not on GET or DELETE.
    #[serde(default)]
    pub body: Option<Sp<serde_json::Value>>,
    /// Send it this many times in a row (to show a rate limit).
    #[serde(default = "default_repeat")]
    #[schemars(range(max = 1000))]
    pub repeat: Sp<u32>,
    /// List it in the lifecycle view's picker.
    #[serde(default = "default_true")]
    pub sample: bool,
}

fn default_repeat() -> Sp<u32> {
    Sp::new(1, 0..0)
}

fn default_true() -> bool {
    true
}

/// Arrival process of a traffic generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Evenly spaced.
    Constant,
    /// Random, independent arrivals (exponential gaps).
    #[default]
    Poisson,
}

/// One entry of a request mix.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMixEntry {
    /// Id of a `[[requests]]` entry.
    pub request: Sp<String>,
    /// Relative weight.
    pub weight: Sp<f64>,
}

/// A burst: the rate is multiplied for a while.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBurst {
    /// Start, seconds from the beginning of the run.
    #[schemars(range(max = 31536000))]
    pub at_s: Sp<f64>,
    /// Length in seconds.
    #[schemars(range(max = 31536000))]
    pub duration_s: Sp<f64>,
    /// Rate multiplier during the burst, above 0.
    #[schemars(range(max = 100))]
    pub multiplier: Sp<f64>,
}

/// A load generator.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    /// Name shown in reports.
    pub name: Sp<String>,
    /// How arrivals are spaced.
    #[serde(default)]
    pub arrival: Arrival,
    /// Mean requests per second.
    #[schemars(range(max = 10000))]
    pub rate_per_s: Sp<f64>,
    /// Which requests are sent, by weight (or `publish` instead).
    #[serde(default)]
    pub mix: Vec<RawMixEntry>,
    /// Instead of requests: publish this event straight to a topic at each arrival (a queue-only
    /// lesson: no HTTP, no database, just the arrival process).
    #[serde(default)]
    pub publish: Option<super::RawPublish>,
    /// Scheduled bursts.
    #[serde(default)]
    pub bursts: Vec<RawBurst>,
}
