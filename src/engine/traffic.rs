//! Load generators: the scenario's traffic entries as real requests through the pipeline.
//!
//! Each generator is an open-loop arrival process (constant gaps or Poisson, i.e. exponential
//! gaps) at `rate_per_s`, multiplied by any scheduled burst, the live rate multiplier and any
//! traffic-spike fault. Each arrival picks a named request by weight and is sent on its own task,
//! so a slow backend does not slow the arrivals — exactly what makes queues grow. A generator
//! with `publish` instead hands each arrival straight to a topic: a queue with nothing in front.

use std::time::Duration;

use rand_distr::{Distribution as _, Exp};
use serde_json::json;

use super::latency::ms_to_duration;
use super::request::ApiRequest;
use super::system::System;
use crate::scenario::{Arrival, Traffic};

/// The rate of `traffic` at `elapsed` since the run started, before live multipliers.
pub fn scheduled_rate(traffic: &Traffic, elapsed: Duration) -> f64 {
    let burst: f64 = traffic
        .bursts
        .iter()
        .filter(|b| elapsed >= b.at && elapsed < b.at + b.duration)
        .map(|b| b.multiplier)
        .product();
    traffic.rate_per_s * burst
}

/// Runs one generator until the task is dropped.
///
/// Arrivals follow an absolute schedule: each is due one gap after the previous one's *exact*
/// due time, and the task sleeps until then. tokio's timer fires on whole milliseconds, so a
/// relative `sleep(gap)` would round every gap up and lose arrivals (17% of them at 360/s);
/// rounding a deadline delays one arrival by under a millisecond and shifts none after it.
pub async fn run_generator(engine: System, traffic: Traffic, started: tokio::time::Instant) {
    let total_weight: f64 = traffic.mix.iter().map(|(_, w)| *w).sum();
    if total_weight <= 0.0 && traffic.publish.is_none() {
        return;
    }
    let core = engine.core().clone();
    let mut due = tokio::time::Instant::now();
    let mut sent: u64 = 0;
    loop {
        let control = &core.traffic;
        let rate =
            scheduled_rate(&traffic, started.elapsed()) * control.multiplier() * control.spike();
        if rate <= 0.0 {
            if control.stopped() {
                // Paused by hand: nothing is sent until a knob changes, so wait for that
                // rather than waking every 100 ms for nothing (the idle TUI's CPU).
                control.resumed().await;
            } else {
                // The schedule is at zero now: look again shortly.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            due = tokio::time::Instant::now();
            continue;
        }
        let gap_s = match traffic.arrival {
            Arrival::Constant => 1.0 / rate,
            Arrival::Poisson => core
                .rng
                .with(|rng| Exp::new(rate).map_or(1.0 / rate, |d| d.sample(rng))),
        };
        due += ms_to_duration(gap_s * 1000.0);
        tokio::time::sleep_until(due).await;
        sent += 1;
        if let Some(publish) = &traffic.publish {
            // Refused when the topic is full: counted by the broker as a rejection, like a
            // producer that drops what it cannot hand over.
            let payload = json!({ "traffic": traffic.name, "n": sent });
            let _ = core
                .broker
                .try_publish(&publish.topic, &publish.event, payload, false);
            continue;
        }
        let pick = core.rng.unit() * total_weight;
        let mut acc = 0.0;
        let chosen = traffic
            .mix
            .iter()
            .find(|(_, w)| {
                acc += w;
                pick < acc
            })
            .or(traffic.mix.last())
            .map(|(id, _)| id.clone());
        let Some(id) = chosen else { continue };
        if let Ok(request) = ApiRequest::named(engine.scenario(), &id) {
            let engine = engine.clone();
            tokio::spawn(async move {
                let _ = engine.fire(request).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Burst;

    #[test]
    fn bursts_multiply_the_rate_while_they_last() {
        let traffic = Traffic {
            name: "t".into(),
            arrival: Arrival::Poisson,
            rate_per_s: 10.0,
            mix: vec![("r".into(), 1.0)],
            publish: None,
            bursts: vec![Burst {
                at: Duration::from_secs(5),
                duration: Duration::from_secs(2),
                multiplier: 3.0,
            }],
        };
        assert_eq!(scheduled_rate(&traffic, Duration::from_secs(4)), 10.0);
        assert_eq!(scheduled_rate(&traffic, Duration::from_secs(6)), 30.0);
        assert_eq!(scheduled_rate(&traffic, Duration::from_secs(7)), 10.0);
    }
}
