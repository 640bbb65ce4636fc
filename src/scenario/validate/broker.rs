//! Broker topics (with retry and dead-letter policy) and the worker pools that consume them.

use petgraph::algo::toposort;
use petgraph::graphmap::DiGraphMap;

use super::dist::validate_distribution;
use super::{Cx, millis};
use crate::scenario::model::*;
use crate::scenario::raw::{RawPublish, RawTopic, RawWorkerPool};

pub(crate) fn validate_topics(cx: &mut Cx, raw: &[RawTopic]) -> Vec<Topic> {
    for topic in raw {
        cx.declare("topic", &topic.name);
    }
    let mut topics = Vec::new();
    for topic in raw {
        let who = format!("topic `{}`", topic.name);
        if *topic.capacity == 0 {
            cx.error(
                topic.capacity.span(),
                format!("{who} has capacity 0"),
                "a topic must hold at least one message; e.g. `capacity = 1000`",
            );
        }
        if *topic.max_attempts == 0 {
            cx.error(
                topic.max_attempts.span(),
                format!("{who} allows 0 attempts"),
                "use `max_attempts = 1` for no retries",
            );
        }
        if *topic.visibility_timeout_ms == 0 {
            cx.error(
                topic.visibility_timeout_ms.span(),
                format!("{who} has a visibility timeout of 0 ms"),
                "a lease must last longer than a worker needs; e.g. 30000",
            );
        }
        match (topic.on_full, &topic.block_timeout_ms) {
            (FullPolicy::Block, None) => cx.error(
                topic.name.span(),
                format!("{who} blocks publishers when full but has no `block_timeout_ms`"),
                "add `block_timeout_ms = 500` (the longest a publisher waits)",
            ),
            (FullPolicy::Block, Some(timeout)) if **timeout == 0 => cx.error(
                timeout.span(),
                format!("{who} blocks publishers when full, but for 0 ms"),
                "a wait of 0 ms refuses at once, like `on_full = \"reject\"`: set the longest \
                 wait, e.g. `block_timeout_ms = 250`, or use `on_full = \"reject\"`",
            ),
            (FullPolicy::Reject, Some(timeout)) => cx.error(
                timeout.span(),
                format!("`block_timeout_ms` has no effect: {who} rejects when full"),
                "remove it, or set `on_full = \"block\"`",
            ),
            _ => {}
        }
        if let Some(dead_letter) = &topic.dead_letter {
            if dead_letter.get() == topic.name.get() {
                cx.error(
                    dead_letter.span(),
                    format!("{who} dead-letters into itself"),
                    "name a separate dead-letter topic, e.g. `payments.dlq`",
                );
            } else {
                cx.expect_declared("topic", dead_letter, &format!("the dead letter of {who}"));
            }
        }
        let backoff = match &topic.backoff {
            Some(b) => {
                if b.initial_ms.is_nan() || *b.initial_ms < 0.0 {
                    cx.error(
                        b.initial_ms.span(),
                        format!(
                            "{who}: backoff `initial_ms` must not be negative, not {}",
                            b.initial_ms
                        ),
                        "the delay before the first retry, in milliseconds: 0 or more, e.g. 100",
                    );
                } else if b.max_ms.is_nan() || *b.max_ms < *b.initial_ms {
                    cx.error(
                        b.max_ms.span(),
                        format!(
                            "{who}: backoff `max_ms` ({}) is below `initial_ms` ({})",
                            b.max_ms, b.initial_ms
                        ),
                        "need 0 ≤ initial_ms ≤ max_ms",
                    );
                }
                if *b.multiplier < 1.0 {
                    cx.error(
                        b.multiplier.span(),
                        format!(
                            "{who}: backoff multiplier {} shrinks the delay",
                            b.multiplier
                        ),
                        "use a multiplier ≥ 1 (2 doubles each retry)",
                    );
                }
                if !(0.0..=1.0).contains(&*b.jitter) {
                    cx.error(
                        b.jitter.span(),
                        format!("{who}: jitter {} is not a fraction", b.jitter),
                        "use a value from 0 to 1, e.g. 0.2 for ±20%",
                    );
                }
                Backoff {
                    initial: millis(*b.initial_ms),
                    max: millis(*b.max_ms),
                    multiplier: *b.multiplier,
                    jitter: *b.jitter,
                }
            }
            None => Backoff {
                initial: millis(100.0),
                max: millis(10_000.0),
                multiplier: 2.0,
                jitter: 0.0,
            },
        };
        topics.push(Topic {
            name: topic.name.get().clone(),
            explain: topic.explain.trim().to_string(),
            capacity: *topic.capacity,
            on_full: topic.on_full,
            block_timeout: millis(topic.block_timeout_ms.as_ref().map_or(0.0, |t| **t as f64)),
            max_attempts: *topic.max_attempts,
            visibility_timeout: millis(*topic.visibility_timeout_ms as f64),
            backoff,
            dead_letter: topic.dead_letter.as_ref().map(|d| d.get().clone()),
        });
    }
    check_dead_letter_cycles(cx, raw);
    topics
}

/// Dead-letter chains end: following `dead_letter` from any topic never comes back to it. (A
/// topic that dead-letters into itself is reported where it is read.)
fn check_dead_letter_cycles(cx: &mut Cx, raw: &[RawTopic]) {
    let next = |name: &str| {
        raw.iter()
            .find(|t| *t.name == name)
            .and_then(|t| t.dead_letter.as_ref())
            .map(|d| d.as_str())
            .filter(|d| *d != name)
    };
    let mut reported: Vec<&str> = Vec::new();
    for topic in raw {
        let mut chain = vec![topic.name.as_str()];
        while let Some(to) = next(chain[chain.len() - 1]) {
            if to == chain[0] {
                break;
            }
            if chain.contains(&to) || chain.len() > raw.len() {
                chain.clear(); // a loop further down the chain, found from its own topics
                break;
            }
            chain.push(to);
        }
        let closes = chain.len() > 1 && next(chain[chain.len() - 1]) == Some(chain[0]);
        if !closes || chain.iter().any(|t| reported.contains(t)) {
            continue;
        }
        reported.extend(chain.iter().copied());
        // Point at the `dead_letter` declared last in the file: the one that closed the loop.
        let Some(last) = raw
            .iter()
            .filter(|t| chain.contains(&t.name.as_str()))
            .filter_map(|t| t.dead_letter.as_ref())
            .max_by_key(|d| d.span().start)
        else {
            continue;
        };
        let mut names: Vec<String> = chain.iter().map(|t| format!("`{t}`")).collect();
        names.push(format!("`{}`", chain[0]));
        cx.error(
            last.span(),
            format!("dead-letter topics form a loop: {}", names.join(" → ")),
            "a dead-letter topic is where failed messages come to rest: leave `dead_letter` \
             out on the last topic of the chain",
        );
    }
}

/// Checks the topics of `publishes`; returns them in model form.
pub(crate) fn validate_publishes(cx: &mut Cx, raw: &[RawPublish], who: &str) -> Vec<Publish> {
    raw.iter()
        .map(|p| {
            cx.expect_declared("topic", &p.topic, who);
            if p.event.trim().is_empty() {
                cx.error(
                    p.topic.span(),
                    format!("{who} publishes an event without a name"),
                    "set `event`, e.g. \"payment.requested\"",
                );
            }
            Publish {
                topic: p.topic.get().clone(),
                event: p.event.clone(),
            }
        })
        .collect()
}

pub(crate) fn validate_workers(
    cx: &mut Cx,
    raw: &[RawWorkerPool],
    topics: &[Topic],
) -> Vec<WorkerPool> {
    let mut pools = Vec::new();
    for pool in raw {
        let who = format!("worker pool `{}`", pool.name);
        cx.declare("worker pool", &pool.name);
        cx.expect_declared("topic", &pool.topic, &who);
        if *pool.concurrency == 0 {
            cx.error(
                pool.concurrency.span(),
                format!("{who} has no workers"),
                "set `concurrency` to at least 1",
            );
        }
        if !(0.0..=1.0).contains(&*pool.failure_probability) {
            cx.error(
                pool.failure_probability.span(),
                format!(
                    "{who}: failure probability {} is not in [0, 1]",
                    pool.failure_probability
                ),
                "use a probability from 0 (never fails) to 1 (always fails)",
            );
        }
        if let Some(timeout) = &pool.timeout_ms
            && **timeout == 0
        {
            cx.error(
                timeout.span(),
                format!("{who}: a timeout of 0 ms fails every message"),
                "remove `timeout_ms` or make it longer than the service time",
            );
        }
        let service_time =
            validate_distribution(cx, &pool.service_time, &format!("service time of {who}"));
        let publishes = validate_publishes(cx, &pool.publishes, &who);
        pools.push(WorkerPool {
            name: pool.name.get().clone(),
            topic: pool.topic.get().clone(),
            explain: pool.explain.trim().to_string(),
            concurrency: *pool.concurrency,
            service_time: service_time.unwrap_or(Distribution::Constant { ms: 0.0 }),
            failure_probability: *pool.failure_probability,
            timeout: pool.timeout_ms.as_ref().map(|t| millis(**t as f64)),
            publishes,
            // Filled in once tables and routes are known (`effects`).
            effects: PoolEffects::default(),
        });
    }
    check_event_loops(cx, raw, topics);
    pools
}

/// Workers that publish follow-ups must not form a loop (one message would fan out forever).
fn check_event_loops(cx: &mut Cx, raw: &[RawWorkerPool], topics: &[Topic]) {
    let mut graph: DiGraphMap<&str, ()> = DiGraphMap::new();
    for topic in topics {
        graph.add_node(topic.name.as_str());
    }
    for pool in raw {
        for publish in &pool.publishes {
            graph.add_edge(pool.topic.as_str(), publish.topic.as_str(), ());
        }
    }
    if let Err(cycle) = toposort(&graph, None) {
        let topic = cycle.node_id();
        if let Some(pool) = raw
            .iter()
            .find(|p| p.topic.as_str() == topic && !p.publishes.is_empty())
        {
            cx.error(
                pool.publishes[0].topic.span(),
                format!("worker pools publish in a loop through topic `{topic}`"),
                "a follow-up event must not lead back to the topic that caused it",
            );
        }
    }
}
