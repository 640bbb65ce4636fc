//! Configured values in prose. A stage's `explain` may write `{{rate_limit.burst}}` where it
//! means the scenario's own number: the text is rendered from the model when the scenario
//! loads, so it cannot go stale when an author changes `[rate_limit]`. `check` rejects a name
//! it does not know, at its position.

use std::ops::Range;

use super::model::Scenario;

/// Every placeholder name, with what it renders.
pub const NAMES: &[(&str, &str)] = &[
    (
        "rate_limit.requests_per_second",
        "each caller's sustained quota, requests per second",
    ),
    ("rate_limit.burst", "each caller's burst, requests"),
    (
        "rate_limit.tenant_requests_per_second",
        "each tenant's sustained quota, all its callers together (`none` without one)",
    ),
    (
        "rate_limit.tenant_burst",
        "each tenant's burst, requests (`none` without a tenant quota)",
    ),
    (
        "edge.waf_requests_per_minute",
        "the WAF's limit per client IP, requests per minute",
    ),
    ("edge.max_body_bytes", "the largest request body, bytes"),
    ("edge.cdn_ttl_s", "how long the CDN keeps an asset, seconds"),
    (
        "edge.max_connections",
        "the connections `serve` holds at once",
    ),
    (
        "edge.idle_timeout_s",
        "how long `serve` keeps a silent connection, seconds",
    ),
    (
        "edge.header_timeout_s",
        "how long `serve` waits for a request head to arrive whole, seconds",
    ),
    (
        "edge.max_uri_bytes",
        "the longest request target the WAF lets through, bytes (fixed)",
    ),
    (
        "edge.max_header_bytes",
        "the most header bytes the WAF lets through (fixed)",
    ),
    (
        "cache.max_entries",
        "the application cache's capacity, entries",
    ),
    (
        "cache.ttl_jitter",
        "the spread of cache TTLs, a fraction (0 = exact TTLs)",
    ),
    (
        "database.connections",
        "the database's connection pool size (`unlimited` without one)",
    ),
    (
        "database.queue_timeout_ms",
        "the longest wait for a pooled connection, ms (`none` without a pool)",
    ),
    ("auth.token_ttl_s", "how long a token is valid, seconds"),
    (
        "auth.leeway_s",
        "the clock skew tolerated on exp/nbf, seconds",
    ),
    ("auth.issuer", "the issuer tokens must name"),
    (
        "load_balancer.instances",
        "how many app instances the load balancer spreads over",
    ),
];

/// The value `name` stands for in `scenario`, as a learner reads it; `None` for an unknown name.
pub fn value(scenario: &Scenario, name: &str) -> Option<String> {
    let number = |n: f64| {
        if n.fract() == 0.0 {
            format!("{n:.0}")
        } else {
            format!("{n}")
        }
    };
    Some(match name {
        "rate_limit.requests_per_second" => number(scenario.rate_limit.requests_per_second),
        "rate_limit.burst" => scenario.rate_limit.burst.to_string(),
        "edge.waf_requests_per_minute" => scenario.edge.waf_requests_per_minute.to_string(),
        "edge.max_body_bytes" => scenario.edge.max_body_bytes.to_string(),
        "edge.cdn_ttl_s" => number(scenario.edge.cdn_ttl.as_secs_f64()),
        "edge.max_connections" => scenario.edge.max_connections.to_string(),
        "edge.idle_timeout_s" => number(scenario.edge.idle_timeout.as_secs_f64()),
        "edge.header_timeout_s" => number(scenario.edge.header_timeout.as_secs_f64()),
        "edge.max_uri_bytes" => super::model::WAF_MAX_URI_BYTES.to_string(),
        "edge.max_header_bytes" => super::model::WAF_MAX_HEADER_BYTES.to_string(),
        "cache.max_entries" => scenario.cache.max_entries.to_string(),
        "cache.ttl_jitter" => number(scenario.cache.ttl_jitter),
        "rate_limit.tenant_requests_per_second" => scenario
            .rate_limit
            .tenant
            .map_or_else(|| "none".into(), |t| number(t.requests_per_second)),
        "rate_limit.tenant_burst" => scenario
            .rate_limit
            .tenant
            .map_or_else(|| "none".into(), |t| t.burst.to_string()),
        "database.connections" => scenario
            .database
            .pool
            .map_or_else(|| "unlimited".into(), |p| p.connections.to_string()),
        "database.queue_timeout_ms" => scenario.database.pool.map_or_else(
            || "none".into(),
            |p| number(p.queue_timeout.as_secs_f64() * 1000.0),
        ),
        "auth.token_ttl_s" => number(scenario.auth.token_ttl.as_secs_f64()),
        "auth.leeway_s" => number(scenario.auth.leeway.as_secs_f64()),
        "auth.issuer" => scenario.auth.issuer.clone(),
        "load_balancer.instances" => scenario.load_balancer.instances.to_string(),
        _ => return None,
    })
}

/// Each `{{name}}` in `text`: its byte range (braces included) and the trimmed name.
pub fn find(text: &str) -> Vec<(Range<usize>, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
            break;
        };
        found.push((open..close + 2, text[open + 2..close].trim()));
        from = close + 2;
    }
    found
}

/// Whether `name` is a placeholder the scenario can fill.
pub fn is_known(name: &str) -> bool {
    NAMES.iter().any(|(known, _)| *known == name)
}

/// `text` with every known placeholder replaced by its value (unknown ones, which `check`
/// refuses, are left as written).
pub fn render(text: &str, scenario: &Scenario) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (range, name) in find(text) {
        if let Some(value) = value(scenario, name) {
            out.push_str(&text[last..range.start]);
            out.push_str(&value);
            last = range.end;
        }
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_render_the_configured_values() {
        let mut scenario = (*crate::scenario::load_or_default(None).expect("built in")).clone();
        scenario.rate_limit.requests_per_second = 7.0;
        scenario.rate_limit.burst = 9;
        let text =
            "A quota of {{rate_limit.requests_per_second}}/s, bursts of {{ rate_limit.burst }}.";
        assert_eq!(render(text, &scenario), "A quota of 7/s, bursts of 9.");
        // Every listed name has a value; nothing else does.
        for (name, _) in NAMES {
            assert!(value(&scenario, name).is_some(), "{name}");
        }
        assert_eq!(value(&scenario, "rate_limit.brust"), None);
        assert_eq!(
            render("{{nope}} and {\"json\": 1}", &scenario),
            "{{nope}} and {\"json\": 1}"
        );
    }

    #[test]
    fn a_changed_quota_changes_the_stage_text() {
        let explain = |text: &str| {
            let scenario = crate::scenario::load_str("saas.toml", text).expect("valid");
            scenario
                .stages
                .iter()
                .find(|s| s.id == "rate_limit")
                .map(|s| s.explain.clone())
                .expect("a rate_limit stage")
        };
        let shipped = crate::scenario::DEFAULT_SCENARIO;
        assert!(explain(shipped).contains("20 requests per second with bursts of 30"));
        let edited = shipped
            .replace("requests_per_second = 20", "requests_per_second = 5")
            .replace("burst = 30", "burst = 8");
        assert!(explain(&edited).contains("5 requests per second with bursts of 8"));
    }

    #[test]
    fn the_authors_guide_lists_every_placeholder() {
        let guide = include_str!("../../scenarios/README.md");
        for (name, _) in NAMES {
            assert!(
                guide.contains(&format!("`{{{{{name}}}}}`")),
                "{name} is undocumented"
            );
        }
    }

    #[test]
    fn find_reports_ranges_and_names() {
        let text = "a {{x.y}} b {{ z }} c {{unclosed";
        let found = find(text);
        assert_eq!(found, vec![(2..9, "x.y"), (12..19, "z")]);
    }
}
