//! Random-duration distributions: each shape needs its own keys and sane values.

use super::Cx;
use crate::scenario::model::Distribution;
use crate::scenario::raw::{DistributionKind, RawDistribution};
use crate::scenario::span::Sp;

/// Validates a distribution; `what` names its owner in messages ("latency of stage `auth`").
pub(crate) fn validate_distribution(
    cx: &mut Cx,
    raw: &Sp<RawDistribution>,
    what: &str,
) -> Option<Distribution> {
    let span = raw.span();
    let keys: [(&str, &Option<Sp<f64>>); 6] = [
        ("ms", &raw.ms),
        ("min_ms", &raw.min_ms),
        ("max_ms", &raw.max_ms),
        ("mean_ms", &raw.mean_ms),
        ("p50_ms", &raw.p50_ms),
        ("p99_ms", &raw.p99_ms),
    ];
    // The shape's name with its article, for messages: "a constant", "an exponential".
    let (name, needed): (&str, &[&str]) = match raw.dist {
        DistributionKind::Constant => ("a constant", &["ms"]),
        DistributionKind::Uniform => ("a uniform", &["min_ms", "max_ms"]),
        DistributionKind::Exponential => ("an exponential", &["mean_ms"]),
        DistributionKind::Lognormal => ("a lognormal", &["p50_ms", "p99_ms"]),
    };
    let example = match raw.dist {
        DistributionKind::Constant => "{ dist = \"constant\", ms = 5 }",
        DistributionKind::Uniform => "{ dist = \"uniform\", min_ms = 2, max_ms = 8 }",
        DistributionKind::Exponential => "{ dist = \"exponential\", mean_ms = 40 }",
        DistributionKind::Lognormal => "{ dist = \"lognormal\", p50_ms = 4, p99_ms = 30 }",
    };
    let takes = needed
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(" and ");
    let mut ok = true;
    for (key, value) in keys {
        match value {
            None if needed.contains(&key) => {
                cx.error(
                    span.clone(),
                    format!("{what}: {name} distribution needs `{key}`"),
                    format!("write it like {example}"),
                );
                ok = false;
            }
            Some(v) if !needed.contains(&key) => {
                cx.error(
                    v.span(),
                    format!("{what}: `{key}` does not apply to {name} distribution"),
                    format!("{name} distribution takes {takes}; write it like {example}"),
                );
                ok = false;
            }
            Some(v) if !(v.is_finite() && **v >= 0.0) => {
                cx.error(
                    v.span(),
                    format!("{what}: `{key}` must be a finite number ≥ 0, not {v}"),
                    format!("write it like {example}"),
                );
                ok = false;
            }
            _ => {}
        }
    }
    if !ok {
        return None;
    }
    let get = |v: &Option<Sp<f64>>| v.as_ref().map_or(0.0, |v| **v);
    // Where a problem between two keys is shown: at the second key's value.
    let at = |v: &Option<Sp<f64>>| v.as_ref().map_or(span.clone(), Sp::span);
    let dist = match raw.dist {
        DistributionKind::Constant => Distribution::Constant { ms: get(&raw.ms) },
        DistributionKind::Uniform => Distribution::Uniform {
            min_ms: get(&raw.min_ms),
            max_ms: get(&raw.max_ms),
        },
        DistributionKind::Exponential => Distribution::Exponential {
            mean_ms: get(&raw.mean_ms),
        },
        DistributionKind::Lognormal => Distribution::Lognormal {
            p50_ms: get(&raw.p50_ms),
            p99_ms: get(&raw.p99_ms),
        },
    };
    match dist {
        Distribution::Uniform { min_ms, max_ms } if min_ms > max_ms => {
            cx.error(
                at(&raw.max_ms),
                format!("{what}: `max_ms` ({max_ms}) is below `min_ms` ({min_ms})"),
                "swap the two values",
            );
            None
        }
        Distribution::Exponential { mean_ms } if mean_ms <= 0.0 => {
            cx.error(
                at(&raw.mean_ms),
                format!("{what}: `mean_ms` must be above 0"),
                "use a positive mean, or a constant distribution of 0 ms",
            );
            None
        }
        Distribution::Lognormal { p50_ms, p99_ms } if p50_ms <= 0.0 => {
            cx.error(
                at(&raw.p50_ms),
                format!("{what}: `p50_ms` must be above 0 (it is {p50_ms})"),
                format!("a log-normal median is positive; p99 is {p99_ms}"),
            );
            None
        }
        Distribution::Lognormal { p50_ms, p99_ms } if p99_ms < p50_ms => {
            cx.error(
                at(&raw.p99_ms),
                format!("{what}: `p99_ms` ({p99_ms}) is below `p50_ms` ({p50_ms})"),
                "the 99th percentile can't be below the median: need p99 ≥ p50 > 0",
            );
            None
        }
        other => Some(other),
    }
}
