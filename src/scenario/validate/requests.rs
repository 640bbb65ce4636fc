//! Named requests, traffic generators and scheduled faults.

use super::{Cx, secs};
use crate::scenario::model::*;
use crate::scenario::raw::{FaultKind, RawFault, RawRequest, RawTraffic};
use crate::scenario::span::Sp;

pub(crate) fn validate_requests(
    cx: &mut Cx,
    raw: &[RawRequest],
    personas: &[Persona],
    routes: &[Route],
) -> Vec<NamedRequest> {
    let mut requests = Vec::new();
    for request in raw {
        let who = format!("request `{}`", request.id);
        cx.declare("request", &request.id);
        cx.expect_declared("persona", &request.persona, &who);
        if let Some(host) = &request.host_tenant {
            cx.expect_declared("tenant", host, &who);
        }
        let path = request.path.split('?').next().unwrap_or_default();
        let is_static = cx.is_declared("asset", path);
        let same_path: Vec<&Route> = routes.iter().filter(|r| r.matches_path(path)).collect();
        if !request.path.starts_with('/') {
            cx.error(
                request.path.span(),
                format!("{who}: path `{}` must start with `/`", request.path),
                "write it like \"/api/v1/projects\"",
            );
        } else if !is_static && same_path.is_empty() {
            cx.error(
                request.path.span(),
                format!("{who}: no route or asset matches `{}`", request.path),
                "use the path of a `[[routes]]` entry (with a real id for `{id}`) or an `[[edge.assets]]` path",
            );
        } else if is_static && *request.method != Method::Get {
            cx.error(
                request.method.span(),
                format!(
                    "{who}: `{}` is a static asset, served for GET only, not {}",
                    request.path,
                    request.method.as_str()
                ),
                "the CDN only serves assets: use `method = \"GET\"`",
            );
        } else if !is_static && !same_path.iter().any(|r| r.method == *request.method) {
            let methods: Vec<&str> = same_path.iter().map(|r| r.method.as_str()).collect();
            cx.error(
                request.method.span(),
                format!(
                    "{who}: `{}` is served for {}, not {}",
                    request.path,
                    methods.join(", "),
                    request.method.as_str()
                ),
                format!("use {}", methods.join(" or ")),
            );
        }
        if *request.repeat == 0 {
            cx.error(
                request.repeat.span(),
                format!("{who} is sent 0 times"),
                "use `repeat = 1` or more",
            );
        }
        if let Some(body) = &request.body {
            check_body(cx, body, *request.method, &who);
        }
        let host_tenant = match &request.host_tenant {
            Some(host) => host.get().clone(),
            None => personas
                .iter()
                .find(|p| p.name == *request.persona)
                .map(|p| p.tenant.clone())
                .unwrap_or_default(),
        };
        requests.push(NamedRequest {
            id: request.id.get().clone(),
            title: request.title.clone(),
            explain: request.explain.trim().to_string(),
            persona: request.persona.get().clone(),
            method: *request.method,
            path: request.path.get().clone(),
            host_tenant,
            token: request.token,
            headers: request.headers.clone(),
            body: request.body.as_ref().map(|b| b.get().clone()),
            repeat: *request.repeat,
            sample: request.sample,
        });
    }
    requests
}

/// A body is a JSON object, and only on methods that carry one.
fn check_body(cx: &mut Cx, body: &Sp<serde_json::Value>, method: Method, who: &str) {
    if matches!(method, Method::Get | Method::Delete) {
        cx.error(
            body.span(),
            format!("{who}: a {} request has no body", method.as_str()),
            "remove `body`",
        );
    } else if !body.is_object() || is_toml_datetime(body) {
        cx.error(
            body.span(),
            format!("{who}: `body` must be a JSON object (an inline table)"),
            "write the fields as an inline table, e.g. `body = { name = \"Launch\" }`",
        );
    }
}

/// TOML date-times reach serde_json as a one-key object; they are not a body.
fn is_toml_datetime(value: &serde_json::Value) -> bool {
    value
        .as_object()
        .is_some_and(|map| map.contains_key("$__toml_private_datetime"))
}

pub(super) fn positive(cx: &mut Cx, value: &Sp<f64>, what: &str, help: &str) {
    if !(value.is_finite() && **value > 0.0) {
        cx.error(
            value.span(),
            format!("{what} must be above 0, not {value}"),
            help,
        );
    }
}

pub(super) fn not_negative(cx: &mut Cx, value: &Sp<f64>, what: &str, help: &str) {
    if !(value.is_finite() && **value >= 0.0) {
        cx.error(
            value.span(),
            format!("{what} must not be negative, not {value}"),
            help,
        );
    }
}

pub(crate) fn validate_traffic(
    cx: &mut Cx,
    raw: &[RawTraffic],
    _requests: &[NamedRequest],
) -> Vec<Traffic> {
    let mut traffic = Vec::new();
    for generator in raw {
        let who = format!("traffic `{}`", generator.name);
        cx.declare("traffic", &generator.name);
        not_negative(
            cx,
            &generator.rate_per_s,
            &format!("{who}: `rate_per_s`"),
            "use requests per second, e.g. 20",
        );
        match (generator.mix.is_empty(), &generator.publish) {
            (true, None) => cx.error(
                generator.name.span(),
                format!("{who} sends nothing: it has no `mix` and no `publish`"),
                "add `mix = [{ request = \"...\", weight = 1 }]` to send requests, or \
                 `publish = { topic = \"...\", event = \"...\" }` to publish straight to a topic",
            ),
            (false, Some(publish)) => cx.error(
                publish.topic.span(),
                format!("{who} has both a `mix` and a `publish`"),
                "one generator does one thing: split it into two `[[traffic]]` entries",
            ),
            _ => {}
        }
        let publish = generator.publish.as_ref().and_then(|p| {
            super::broker::validate_publishes(cx, std::slice::from_ref(p), &who)
                .into_iter()
                .next()
        });
        for entry in &generator.mix {
            cx.expect_declared("request", &entry.request, &who);
            positive(
                cx,
                &entry.weight,
                &format!("{who}: weight of `{}`", entry.request),
                "weights are relative shares, e.g. 3 and 1",
            );
        }
        for burst in &generator.bursts {
            not_negative(
                cx,
                &burst.at_s,
                &format!("{who}: burst `at_s`"),
                "seconds from the start of the run",
            );
            positive(
                cx,
                &burst.duration_s,
                &format!("{who}: burst `duration_s`"),
                "the length of the burst in seconds",
            );
            positive(
                cx,
                &burst.multiplier,
                &format!("{who}: burst `multiplier`"),
                "a multiplier of 0 stops the traffic: use e.g. 5 for five times the rate (below 1 \
                 slows it)",
            );
        }
        traffic.push(Traffic {
            name: generator.name.get().clone(),
            arrival: generator.arrival,
            rate_per_s: *generator.rate_per_s,
            mix: generator
                .mix
                .iter()
                .map(|m| (m.request.get().clone(), *m.weight))
                .collect(),
            publish,
            bursts: generator
                .bursts
                .iter()
                .map(|b| Burst {
                    at: secs(*b.at_s),
                    duration: secs(*b.duration_s),
                    multiplier: *b.multiplier,
                })
                .collect(),
        });
    }
    traffic
}

/// Reports a field a fault kind needs but lacks (or has but ignores).
fn fault_field<T: Clone>(
    cx: &mut Cx,
    fault: &RawFault,
    field: &Option<Sp<T>>,
    name: &str,
    needed: bool,
) -> Option<T> {
    let kind = serde_json::to_value(*fault.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    match (field, needed) {
        (Some(value), true) => Some(value.get().clone()),
        (None, true) => {
            cx.error(
                fault.kind.span(),
                format!("a `{kind}` fault needs `{name}`"),
                format!("add `{name} = ...` to the fault"),
            );
            None
        }
        (Some(value), false) => {
            cx.error(
                value.span(),
                format!("`{name}` does not apply to a `{kind}` fault"),
                "remove it",
            );
            None
        }
        (None, false) => None,
    }
}

/// Workers to kill: at least one, and no more than the pool has (when the pool is known).
fn check_kill_count(cx: &mut Cx, count: &Sp<u32>, pool: Option<&Sp<String>>, size: Option<u32>) {
    let range = size.map_or("a count of 1 or more".to_string(), |n| {
        format!("a count from 1 to {n}")
    });
    if **count == 0 {
        cx.error(
            count.span(),
            "killing 0 workers does nothing",
            format!("use {range}"),
        );
    } else if let (Some(size), Some(pool)) = (size, pool)
        && **count > size
    {
        cx.error(
            count.span(),
            format!("cannot kill {count} workers: pool `{pool}` has {size}"),
            format!("use {range}"),
        );
    }
}

pub(crate) fn validate_faults(
    cx: &mut Cx,
    raw: &[RawFault],
    workers: &[WorkerPool],
    topics: &[Topic],
) -> Vec<Fault> {
    let mut faults = Vec::new();
    for fault in raw {
        not_negative(
            cx,
            &fault.at_s,
            "fault `at_s`",
            "seconds from the start of the run",
        );
        let who = format!("the fault at {} s", fault.at_s);
        let action = validate_fault(cx, fault, &who, workers, topics);
        faults.push(Fault {
            at: secs(*fault.at_s),
            duration: fault.duration_s.as_ref().map(|d| secs(**d)),
            action,
        });
    }
    faults.sort_by_key(|f| f.at);
    faults
}

/// Checks one fault (scheduled, or a tour step's action) and builds what it does; `who` names
/// it in messages.
pub(crate) fn validate_fault(
    cx: &mut Cx,
    fault: &RawFault,
    who: &str,
    workers: &[WorkerPool],
    topics: &[Topic],
) -> FaultAction {
    let kind = *fault.kind;
    use FaultKind as K;
    let needs_pool = matches!(kind, K::KillWorkers | K::SlowWorkers);
    let needs_topic = matches!(kind, K::PoisonMessage | K::PauseTopic | K::Redrive);
    let needs_extra = matches!(kind, K::SlowWorkers | K::SlowDatabase);
    let takes_duration = matches!(
        kind,
        K::SlowWorkers | K::SlowDatabase | K::TrafficSpike | K::PauseTopic | K::KillWorkers
    );
    let pool = fault_field(cx, fault, &fault.pool, "pool", needs_pool);
    let topic = fault_field(cx, fault, &fault.topic, "topic", needs_topic);
    let count = fault_field(cx, fault, &fault.count, "count", kind == K::KillWorkers);
    let extra_ms = fault_field(cx, fault, &fault.extra_ms, "extra_ms", needs_extra);
    let multiplier = fault_field(
        cx,
        fault,
        &fault.multiplier,
        "multiplier",
        kind == K::TrafficSpike,
    );
    match &fault.duration_s {
        Some(d) if !takes_duration => cx.error(
            d.span(),
            "`duration_s` does not apply to this fault",
            "it happens once; remove `duration_s`",
        ),
        Some(d) => positive(
            cx,
            d,
            "fault `duration_s`",
            "leave it out for a fault that lasts until the end of the run",
        ),
        None => {}
    }
    let pool_size = match &fault.pool {
        Some(p) if needs_pool && cx.expect_declared("worker pool", p, who) => workers
            .iter()
            .find(|w| w.name == **p)
            .map(|w| w.concurrency),
        _ => None,
    };
    if let Some(c) = fault.count.as_ref().filter(|_| kind == K::KillWorkers) {
        check_kill_count(cx, c, fault.pool.as_ref(), pool_size);
    }
    if let Some(t) = &fault.topic
        && needs_topic
        && cx.expect_declared("topic", t, who)
        && kind == K::Redrive
        && !topics
            .iter()
            .any(|s| s.dead_letter.as_deref() == Some(t.as_str()))
    {
        cx.error(
            t.span(),
            format!("{who} redrives `{t}`, which is not a dead-letter topic"),
            "name a topic that another topic's `dead_letter` points to, e.g. `payments.dlq`",
        );
    }
    if let Some(extra) = fault.extra_ms.as_ref().filter(|_| needs_extra) {
        not_negative(
            cx,
            extra,
            "fault `extra_ms`",
            "the delay added, in milliseconds, e.g. 50",
        );
    }
    if let Some(multiplier) = fault
        .multiplier
        .as_ref()
        .filter(|_| kind == K::TrafficSpike)
    {
        positive(
            cx,
            multiplier,
            "fault `multiplier`",
            "a multiplier of 0 stops the traffic: use e.g. 3 for three times the rate (below \
                 1 slows it)",
        );
    }
    match kind {
        K::KillWorkers => FaultAction::KillWorkers {
            pool: pool.unwrap_or_default(),
            count: count.unwrap_or(1),
        },
        K::SlowWorkers => FaultAction::SlowWorkers {
            pool: pool.unwrap_or_default(),
            extra_ms: extra_ms.unwrap_or_default(),
        },
        K::SlowDatabase => FaultAction::SlowDatabase {
            extra_ms: extra_ms.unwrap_or_default(),
        },
        K::FlushCache => FaultAction::FlushCache,
        K::TrafficSpike => FaultAction::TrafficSpike {
            multiplier: multiplier.unwrap_or(1.0),
        },
        K::PoisonMessage => FaultAction::PoisonMessage {
            topic: topic.unwrap_or_default(),
        },
        K::PauseTopic => FaultAction::PauseTopic {
            topic: topic.unwrap_or_default(),
        },
        K::Redrive => FaultAction::Redrive {
            topic: topic.unwrap_or_default(),
        },
    }
}
