//! Random durations (`{ dist = "...", ... }`), used for stage latency and worker service time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::span::Sp;

/// Shape of a random duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DistributionKind {
    /// Always `ms`.
    Constant,
    /// Evenly between `min_ms` and `max_ms`.
    Uniform,
    /// Memoryless, with mean `mean_ms`.
    Exponential,
    /// Long-tailed, with median `p50_ms` and 99th percentile `p99_ms`.
    Lognormal,
}

/// A random duration in milliseconds, e.g. `{ dist = "lognormal", p50_ms = 4, p99_ms = 30 }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDistribution {
    // The values are spanned so validation can point at one key; `extend` keeps the schema's
    // `"default": null`, which schemars derives for a plain `Option<f64>` but not through `Sp`.
    /// The shape; decides which other keys are needed.
    pub dist: DistributionKind,
    /// `constant`: the duration.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    #[schemars(range(max = 3600000))]
    pub ms: Option<Sp<f64>>,
    /// `uniform`: the shortest duration.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    #[schemars(range(max = 3600000))]
    pub min_ms: Option<Sp<f64>>,
    /// `uniform`: the longest duration.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    #[schemars(range(max = 3600000))]
    pub max_ms: Option<Sp<f64>>,
    /// `exponential`: the mean.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    #[schemars(range(max = 3600000))]
    pub mean_ms: Option<Sp<f64>>,
    /// `lognormal`: the median.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    #[schemars(range(max = 3600000))]
    pub p50_ms: Option<Sp<f64>>,
    /// `lognormal`: the 99th percentile.
    #[serde(default)]
    #[schemars(extend("default" = null))]
    #[schemars(range(max = 3600000))]
    pub p99_ms: Option<Sp<f64>>,
}
