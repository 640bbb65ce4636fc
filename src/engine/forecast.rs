//! The transient forecast: for every topic, the expected number of messages waiting over time,
//! from the arrival rate the traffic schedule implies and the workers actually live.
//!
//! ```text
//!  each engine second (t−h, t], cut at burst edges and at a worker change, per piece:
//!    external topic:  λ = share × Σ rate(s) of the generators that can reach it
//!    follow-up topic: λ = share × Σ expected throughput of the pools publishing to it
//!    p ← p advanced by the birth–death chain's forward equations (uniformization)
//!    E[depth](t) = Σ (n − c)⁺ pₙ(t)
//! ```
//!
//! Which generators reach a topic is read from the scenario: a producer publishing straight to
//! it, or a generator whose requests hit a route that publishes to it. A direct producer's rate
//! is the topic's λ exactly; through the API a *share* of the generated arrivals reaches it
//! (some requests are refused, each payment publishes one event), measured as the topic's
//! deliveries so far over its feeders' generated arrivals so far. A follow-up topic (fed by a
//! pool's `publishes`) or a dead-letter topic is fed by its upstream pools' throughput, so a
//! burst that saturates payments reaches webhooks only as fast as payments' workers go. The
//! chain assumes Poisson arrivals and exponential service with the configured mean (plus any
//! slow-down): exact for that model, an approximation otherwise (retries, non-exponential
//! service, a follow-up stream that is not Poisson while its upstream is out of steady state).

use std::time::Duration;

use super::traffic::scheduled_rate;
use crate::scenario::{Arrival, Scenario, Traffic};
use crate::theory::transient::Chain;

/// What the sampler measured for one topic over the second just closed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ForecastInput {
    /// Arrivals so far (publishes accepted and retries).
    pub arrived: u64,
    /// Worker-µs that were available during the second (live workers × time).
    pub available_us: u64,
    /// Live workers at the end of the second.
    pub live_workers: u32,
    /// The pool's extra service time now (a slow-workers fault), ms.
    pub extra_ms: f64,
}

/// One topic's chain and where its arrivals come from.
#[derive(Debug)]
struct TopicForecast {
    chain: Chain,
    /// Mean service time as configured, ms; `None` when no pool reads the topic.
    service_ms: Option<f64>,
    /// Generators whose arrivals can reach this topic (straight, or through routes).
    feeders: Vec<usize>,
    /// Topics whose pools publish follow-ups to this one, or that dead-letter into it.
    upstream: Vec<usize>,
    /// Fed only by producers publishing straight to it: λ is their rate, nothing measured.
    exact: bool,
    /// Arrivals its sources offered up to the previous step (∫ basis dt), what the share is
    /// measured against.
    offered: f64,
    /// The topic's arrivals up to the previous step: the share compares it with `offered`
    /// over the same seconds (this second's arrivals against last second's offer would
    /// double λ in the first seconds).
    arrived: u64,
    /// Live workers at the end of the previous step.
    servers: u32,
}

/// Every topic's forecast, advanced once per engine second by the sampler.
#[derive(Debug)]
pub(crate) struct Forecast {
    traffic: Vec<Traffic>,
    topics: Vec<TopicForecast>,
    /// Topic indexes, every topic after those feeding it.
    order: Vec<usize>,
}

impl Forecast {
    /// Empty queues at time 0, with every pool at its configured size.
    pub(crate) fn new(scenario: &Scenario) -> Self {
        let topics = scenario
            .topics
            .iter()
            .map(|topic| {
                let pool = scenario.workers.iter().find(|w| w.topic == topic.name);
                let Sources { feeders, upstream } = Sources::of(scenario, &topic.name);
                let exact = upstream.is_empty()
                    && !feeders.is_empty()
                    && feeders.iter().all(|&g| {
                        scenario.traffic[g]
                            .publish
                            .as_ref()
                            .is_some_and(|p| p.topic == topic.name)
                    });
                TopicForecast {
                    chain: Chain::new(u64::from(topic.capacity)),
                    service_ms: pool.map(|p| p.service_time.mean_ms()),
                    feeders,
                    upstream,
                    exact,
                    offered: 0.0,
                    arrived: 0,
                    servers: pool.map_or(0, |p| p.concurrency),
                }
            })
            .collect::<Vec<_>>();
        Self {
            order: upstream_first(&topics),
            traffic: scenario.traffic.clone(),
            topics,
        }
    }

    /// Advances every topic over `(from, to]` with the live traffic knobs `multiplier` × `spike`
    /// and what was measured (`inputs`, one per topic); returns each topic's expected number
    /// waiting at `to`.
    pub(crate) fn step(
        &mut self,
        from: Duration,
        to: Duration,
        multiplier: f64,
        spike: f64,
        inputs: &[ForecastInput],
    ) -> Vec<f64> {
        let h = to.saturating_sub(from).as_secs_f64();
        if h <= 0.0 {
            return self.expected();
        }
        let pieces = self.pieces(from, to);
        // The share of its sources' offer that reached each topic, both counted up to the
        // previous second: constant over this second.
        let shares: Vec<f64> = self
            .topics
            .iter()
            .map(|topic| {
                if topic.exact {
                    1.0
                } else if topic.offered > 0.0 {
                    topic.arrived as f64 / topic.offered
                } else {
                    0.0
                }
            })
            .collect();
        let switches: Vec<Option<Duration>> = self
            .topics
            .iter()
            .zip(inputs)
            .map(|(topic, input)| servers_switch(from, to, topic.servers, input))
            .collect();
        let mut throughput = vec![0.0; self.topics.len()];
        for (start, end) in &pieces {
            let middle = *start + (*end - *start) / 2;
            let length = end.saturating_sub(*start).as_secs_f64();
            let rates: Vec<f64> = self
                .traffic
                .iter()
                .map(|t| scheduled_rate(t, middle) * multiplier * spike)
                .collect();
            for &index in &self.order {
                let (Some(topic), Some(input)) = (self.topics.get(index), inputs.get(index)) else {
                    continue;
                };
                let basis: f64 = topic.feeders.iter().map(|&g| rates[g]).sum::<f64>()
                    + topic.upstream.iter().map(|&u| throughput[u]).sum::<f64>();
                let lambda = shares[index] * basis;
                let service_ms = topic.service_ms.map(|ms| ms + input.extra_ms);
                let (before, after) = (topic.servers, input.live_workers);
                let topic = &mut self.topics[index];
                topic.offered += basis * length;
                // The piece, split where the worker count changed if it did inside it.
                let cut = switches[index];
                let mut parts = vec![(*start, before)];
                match cut {
                    Some(at) if at > *start && at < *end => parts.push((at, after)),
                    Some(at) if at <= *start => parts[0].1 = after,
                    _ => {}
                }
                let mut completed = 0.0;
                for (i, (part_start, servers)) in parts.iter().enumerate() {
                    let part_end = parts.get(i + 1).map_or(*end, |next| next.0);
                    let h = part_end.saturating_sub(*part_start).as_secs_f64();
                    match service_ms {
                        Some(ms) => {
                            let busy_before = topic.chain.expected_in_service(*servers);
                            topic.chain.advance(lambda, ms, *servers, h);
                            let busy_after = topic.chain.expected_in_service(*servers);
                            // Completions over the part: μ × mean busy servers (trapezoid).
                            completed += 1000.0 / ms * (busy_before + busy_after) / 2.0 * h;
                        }
                        None => topic.chain.advance(lambda, 1.0, 0, h),
                    }
                }
                throughput[index] = if length > 0.0 {
                    completed / length
                } else {
                    0.0
                };
            }
        }
        for (topic, input) in self.topics.iter_mut().zip(inputs) {
            topic.servers = input.live_workers;
            topic.arrived = input.arrived;
        }
        self.expected()
    }

    /// Each topic's expected number waiting now.
    fn expected(&self) -> Vec<f64> {
        self.topics
            .iter()
            .map(|t| {
                let servers = if t.service_ms.is_some() { t.servers } else { 0 };
                t.chain.expected_queue(servers)
            })
            .collect()
    }

    /// `(from, to]` cut at every scheduled burst's start and end inside it, so each piece has
    /// one scheduled rate.
    fn pieces(&self, from: Duration, to: Duration) -> Vec<(Duration, Duration)> {
        let mut cuts: Vec<Duration> = self
            .traffic
            .iter()
            .flat_map(|t| t.bursts.iter().flat_map(|b| [b.at, b.at + b.duration]))
            .filter(|at| *at > from && *at < to)
            .collect();
        cuts.push(from);
        cuts.push(to);
        cuts.sort_unstable();
        cuts.dedup();
        cuts.windows(2).map(|w| (w[0], w[1])).collect()
    }

    /// Whether a scheduled burst overlaps `(from, to]`.
    pub(crate) fn burst_during(&self, from: Duration, to: Duration) -> bool {
        self.traffic
            .iter()
            .flat_map(|t| &t.bursts)
            .any(|b| b.at < to && b.at + b.duration > from)
    }
}

/// Whether `traffic`'s arrivals can reach `topic`: it publishes there, or one of its requests
/// hits a route publishing there. (Follow-ups and dead letters are the upstream's, not this.)
/// Where a topic's arrivals come from.
struct Sources {
    /// Generators whose arrivals can reach the topic (straight, or through routes).
    feeders: Vec<usize>,
    /// Topics whose pools publish follow-ups to it, or that dead-letter into it.
    upstream: Vec<usize>,
}

impl Sources {
    fn of(scenario: &Scenario, topic: &str) -> Self {
        let index_of = |name: &str| scenario.topics.iter().position(|t| t.name == name);
        let feeders = scenario
            .traffic
            .iter()
            .enumerate()
            .filter(|(_, t)| generator_reaches(scenario, t, topic))
            .map(|(i, _)| i)
            .collect();
        let mut upstream: Vec<usize> = scenario
            .workers
            .iter()
            .filter(|w| w.publishes.iter().any(|p| p.topic == topic))
            .filter_map(|w| index_of(&w.topic))
            .chain(
                scenario
                    .topics
                    .iter()
                    .filter(|t| t.dead_letter.as_deref() == Some(topic))
                    .filter_map(|t| index_of(&t.name)),
            )
            .collect();
        upstream.sort_unstable();
        upstream.dedup();
        Self { feeders, upstream }
    }
}

/// Whether the forecast for `topic` is the exact M/M/c/K model of what runs, not an
/// approximation: only Poisson producers publishing straight to it (no API share to
/// measure, no upstream pool), and a pool with exponential service. Retries (a runtime
/// matter) would still bend it; the caller checks those.
pub fn model_is_exact(scenario: &Scenario, topic: &str) -> bool {
    let Sources { feeders, upstream } = Sources::of(scenario, topic);
    let poisson_direct = feeders.iter().all(|&g| {
        let traffic = &scenario.traffic[g];
        traffic.arrival == Arrival::Poisson
            && traffic.publish.as_ref().is_some_and(|p| p.topic == topic)
    });
    let exponential = scenario
        .workers
        .iter()
        .find(|w| w.topic == topic)
        .is_some_and(|w| (w.service_time.scv() - 1.0).abs() < 1e-9);
    upstream.is_empty() && !feeders.is_empty() && poisson_direct && exponential
}

fn generator_reaches(scenario: &Scenario, traffic: &Traffic, topic: &str) -> bool {
    if let Some(publish) = &traffic.publish {
        return publish.topic == topic;
    }
    traffic.mix.iter().any(|(id, _)| {
        scenario
            .requests
            .iter()
            .filter(|r| &r.id == id)
            .any(|request| {
                scenario.routes.iter().any(|route| {
                    route.method == request.method
                        && path_matches(&route.path, &request.path)
                        && route.publishes.iter().any(|p| p.topic == topic)
                })
            })
    })
}

/// Whether concrete `path` fits route `pattern` (`{name}` segments match anything).
fn path_matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let (mut pattern, mut path) = (pattern.split('/'), path.split('/'));
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p == s || (p.starts_with('{') && p.ends_with('}')) => {}
            _ => return false,
        }
    }
}

/// Topic indexes ordered so every topic comes after the topics feeding it (follow-ups form a
/// DAG; a cycle, which `check` forbids, would only leave the rest in scenario order).
fn upstream_first(topics: &[TopicForecast]) -> Vec<usize> {
    let mut order = Vec::with_capacity(topics.len());
    let mut placed = vec![false; topics.len()];
    for _ in 0..topics.len() {
        for (index, topic) in topics.iter().enumerate() {
            if !placed[index] && topic.upstream.iter().all(|&u| placed[u] || u == index) {
                placed[index] = true;
                order.push(index);
            }
        }
    }
    order.extend((0..topics.len()).filter(|&i| !placed[i]));
    order
}

/// When, inside `(from, to]`, the pool went from `before` to the live workers at `to`.
///
/// The pool's available worker-time over the second is the area under c(t); with one change
/// from `before` to `after` at instant s, that area is `before·(s−from) + after·(to−s)`, which
/// places s exactly. `None` when the count did not change.
fn servers_switch(
    from: Duration,
    to: Duration,
    before: u32,
    input: &ForecastInput,
) -> Option<Duration> {
    let after = input.live_workers;
    if after == before {
        return None;
    }
    let h_us = to.saturating_sub(from).as_micros() as f64;
    let average = input.available_us as f64 / h_us.max(1.0);
    // Fraction of the second spent at the new count.
    let at_new =
        ((average - f64::from(before)) / (f64::from(after) - f64::from(before))).clamp(0.0, 1.0);
    Some(to - Duration::from_secs_f64(at_new * h_us / 1e6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Distribution;

    #[test]
    fn route_patterns_match_concrete_paths() {
        assert!(path_matches("/api/v1/projects/{id}", "/api/v1/projects/7"));
        assert!(path_matches("/api/v1/payments", "/api/v1/payments?x=1"));
        assert!(!path_matches("/api/v1/projects/{id}", "/api/v1/projects"));
        assert!(!path_matches("/api/v1/invoices", "/api/v1/payments"));
    }

    #[test]
    fn the_model_is_exact_only_for_poisson_producers_and_exponential_service() {
        let mut scenario =
            (*crate::scenario::load_or_default(None).expect("built-in scenario")).clone();
        // Fed through the API (a measured share) or by an upstream pool: an approximation.
        for topic in &scenario.topics {
            assert!(!model_is_exact(&scenario, &topic.name), "{}", topic.name);
        }
        // A Poisson producer straight to payments, whose pool serves exponentially.
        scenario.traffic.truncate(1);
        let producer = &mut scenario.traffic[0];
        producer.mix.clear();
        producer.publish = Some(crate::scenario::Publish {
            topic: "payments".into(),
            event: "payment.requested".into(),
        });
        producer.arrival = Arrival::Poisson;
        let pool = scenario
            .workers
            .iter_mut()
            .find(|w| w.topic == "payments")
            .expect("payments pool");
        pool.service_time = Distribution::Exponential { mean_ms: 40.0 };
        assert!(model_is_exact(&scenario, "payments"));
        assert!(
            !model_is_exact(&scenario, "webhooks"),
            "still fed by a pool"
        );
        // Evenly spaced arrivals are not Poisson.
        scenario.traffic[0].arrival = Arrival::Constant;
        assert!(!model_is_exact(&scenario, "payments"));
    }

    #[test]
    fn the_built_in_scenario_feeds_payments_from_checkout_and_webhooks_from_payments() {
        let scenario = crate::scenario::load_or_default(None).expect("built-in scenario");
        let forecast = Forecast::new(&scenario);
        let index = |name: &str| {
            scenario
                .topics
                .iter()
                .position(|t| t.name == name)
                .expect("topic")
        };
        let checkout = scenario
            .traffic
            .iter()
            .position(|t| t.name == "checkout")
            .expect("checkout traffic");
        let payments = &forecast.topics[index("payments")];
        assert_eq!(payments.feeders, [checkout], "browsing publishes nothing");
        assert!(payments.upstream.is_empty() && !payments.exact);
        let webhooks = &forecast.topics[index("webhooks")];
        assert!(webhooks.feeders.is_empty());
        assert_eq!(webhooks.upstream, [index("payments")]);
        let position = |i: usize| forecast.order.iter().position(|&o| o == i);
        assert!(position(index("payments")) < position(index("webhooks")));
        assert!(position(index("payments")) < position(index("payments.dlq")));
    }

    #[test]
    fn one_worker_change_is_placed_where_the_worker_time_says() {
        // 4 workers, then 2 from 0.25 s into the second: area 4·0.25 + 2·0.75 = 2.5 worker-s.
        let input = ForecastInput {
            live_workers: 2,
            available_us: 2_500_000,
            ..ForecastInput::default()
        };
        let at = servers_switch(Duration::from_secs(9), Duration::from_secs(10), 4, &input);
        assert_eq!(at, Some(Duration::from_millis(9250)));
        let same = ForecastInput {
            live_workers: 4,
            ..input
        };
        assert_eq!(
            servers_switch(Duration::from_secs(9), Duration::from_secs(10), 4, &same),
            None
        );
    }
}
