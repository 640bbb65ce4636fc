//! Per-request stage traces: what each stage saw and decided.
//!
//! A [`TraceRecorder`] travels with a request (in its extensions). Each stage records one
//! [`StageRecord`]: its outcome, a `detail` object with what really happened (decoded claims, SQL
//! and query plan, cache key, …), the modelled latency it added and the real time its own code
//! took. When the response is back, [`TraceRecorder::finish`] produces the [`Trace`], with stages
//! in pipeline order.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::scenario::StageKind;

/// What a stage did with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Passed the request on.
    Pass,
    /// Answered from a cache.
    Hit,
    /// Looked in a cache and did not find it.
    Miss,
    /// Refused the request (it ends here with an error status).
    Reject,
    /// Failed unexpectedly.
    Error,
    /// Did not apply to this request.
    Skip,
}

impl Outcome {
    /// The outcome as written in traces.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Reject => "reject",
            Outcome::Error => "error",
            Outcome::Skip => "skip",
        }
    }
}

/// One stage's record.
#[derive(Debug, Clone, Serialize)]
pub struct StageRecord {
    /// Stage id from the scenario.
    pub stage: String,
    /// Stage kind.
    pub kind: StageKind,
    /// What the stage did.
    pub outcome: Outcome,
    /// What really happened, as a JSON object.
    pub detail: Value,
    /// Modelled latency added by this stage, in milliseconds (engine clock).
    pub modelled_ms: f64,
    /// Real time the stage's own code took, in microseconds (wall clock; informational only —
    /// nothing decides on it, so virtual runs stay deterministic).
    pub measured_us: u64,
}

impl StageRecord {
    /// One line saying what happened at this stage, for text output.
    pub fn summary(&self) -> String {
        let d = &self.detail;
        let text = |key: &str| d.get(key).and_then(Value::as_str).map(str::to_string);
        let error = text("error");
        let summary = match self.kind {
            StageKind::Dns => text("answer"),
            StageKind::Cdn | StageKind::Cache => {
                match (text("result").or_else(|| text("cache")), text("key")) {
                    (Some(result), Some(key)) if result == "invalidate" => {
                        let n = d
                            .get("invalidated")
                            .and_then(Value::as_array)
                            .map_or(0, Vec::len);
                        Some(format!(
                            "invalidated {n} key(s) under {}",
                            text("prefix").unwrap_or(key)
                        ))
                    }
                    (Some(result), Some(key)) => Some(format!("{result}: {key}")),
                    _ => text("note").or_else(|| text("reason")),
                }
            }
            StageKind::Waf => d.get("remaining_this_minute").map(|r| {
                format!(
                    "{r} requests left this minute for {}",
                    text("client_ip").unwrap_or_default()
                )
            }),
            StageKind::LoadBalancer => text("instance").map(|i| format!("→ {i}")),
            StageKind::Gateway => text("route"),
            StageKind::RequestId => text("request_id"),
            StageKind::Sanitize => d.get("text_fields_checked").map(|n| {
                let trimmed = d
                    .get("trimmed")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                format!("{n} text field(s) checked, {trimmed} trimmed; URL clean")
            }),
            StageKind::Validate => text("against")
                .map(|t| format!("body checked against {t}"))
                .or_else(|| text("reason")),
            StageKind::RateLimit => d.get("remaining").map(|r| {
                format!(
                    "{r} of {} left ({})",
                    d.get("burst").cloned().unwrap_or_default(),
                    text("key").unwrap_or_default()
                )
            }),
            StageKind::Auth => text("verdict").or_else(|| {
                d.get("checks")
                    .and_then(Value::as_array)
                    .and_then(|c| c.last())
                    .and_then(|c| c.get("detail"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }),
            StageKind::Tenant => Some(format!(
                "host {} / token {}",
                d.get("host_tenant").cloned().unwrap_or_default(),
                d.get("token_tenant").cloned().unwrap_or_default()
            )),
            StageKind::Rbac => text("role_mask").map(|m| {
                let missing: Vec<String> = d
                    .get("missing")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if missing.is_empty() {
                    format!("{m} & {} ok", text("required_mask").unwrap_or_default())
                } else {
                    format!("{m} lacks {}", missing.join(", "))
                }
            }),
            StageKind::Controller => text("route").map(|r| {
                format!(
                    "{} on {r}",
                    d.get("action").and_then(Value::as_str).unwrap_or("?")
                )
            }),
            StageKind::Database => text("sql").map(|sql| {
                format!(
                    "{sql}  → {} row(s)",
                    d.get("rows").cloned().unwrap_or_default()
                )
            }),
            StageKind::BrokerPublish => {
                d.get("published").and_then(Value::as_array).map(|events| {
                    events
                        .iter()
                        .filter_map(|e| {
                            Some(format!(
                                "{} → {}",
                                e.get("event")?.as_str()?,
                                e.get("topic")?.as_str()?
                            ))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
            }
            StageKind::Response => d
                .get("status")
                .map(|s| format!("{s} {}", text("reason").unwrap_or_default())),
        };
        match (error, summary) {
            (Some(error), Some(summary))
                if self.outcome == Outcome::Reject || self.outcome == Outcome::Error =>
            {
                format!("{error}: {summary}")
            }
            (Some(error), None) => error,
            (_, Some(summary)) => summary,
            (None, None) => text("reason").unwrap_or_default(),
        }
    }
}

/// The request as the trace describes it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TracedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Host header.
    pub host: String,
    /// Persona who sent it, if known.
    pub persona: Option<String>,
}

/// A finished trace.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    /// The request.
    pub request: TracedRequest,
    /// Response status.
    pub status: u16,
    /// Stage records in pipeline order.
    pub stages: Vec<StageRecord>,
    /// Response body (JSON, or a short description of a non-JSON body).
    pub response: Value,
    /// Total modelled latency in milliseconds.
    pub total_modelled_ms: f64,
}

impl Trace {
    /// The record of stage kind `kind`, if the request reached it.
    pub fn stage(&self, kind: StageKind) -> Option<&StageRecord> {
        self.stages.iter().find(|s| s.kind == kind)
    }

    /// The first stage that refused the request.
    pub fn rejected_at(&self) -> Option<&StageRecord> {
        self.stages
            .iter()
            .find(|s| matches!(s.outcome, Outcome::Reject | Outcome::Error))
    }
}

/// Collects stage records for one request and keeps its modelled timeline; cheap to clone
/// (shared).
#[derive(Debug, Clone, Default)]
pub struct TraceRecorder {
    inner: Arc<Mutex<Vec<StageRecord>>>,
    /// Modelled time not slept yet, in ms (always below 1 ms between stages).
    owed_ms: Arc<Mutex<f64>>,
}

/// A stage in progress: measures the stage's own code until [`StageTimer::finish`].
#[derive(Debug)]
pub struct StageTimer {
    stage: String,
    kind: StageKind,
    modelled_ms: f64,
    started: std::time::Instant,
    measured: std::time::Duration,
}

impl StageTimer {
    /// Starts timing stage `stage` of kind `kind` that added `modelled_ms` of modelled latency.
    pub fn start(stage: &str, kind: StageKind, modelled_ms: f64) -> Self {
        Self {
            stage: stage.to_string(),
            kind,
            modelled_ms,
            started: std::time::Instant::now(),
            measured: std::time::Duration::ZERO,
        }
    }

    /// Stops the clock while the request is elsewhere (inner stages); [`resume`](Self::resume)
    /// starts it again.
    pub fn pause(&mut self) {
        self.measured += self.started.elapsed();
    }

    /// Restarts the clock after [`pause`](Self::pause).
    pub fn resume(&mut self) {
        self.started = std::time::Instant::now();
    }

    /// Adds modelled latency applied after the timer started.
    pub fn add_modelled(&mut self, ms: f64) {
        self.modelled_ms += ms;
    }

    /// Finishes the stage (the clock must be running) and records it.
    pub fn finish(mut self, recorder: &TraceRecorder, outcome: Outcome, detail: Value) {
        self.measured += self.started.elapsed();
        self.record(recorder, outcome, detail);
    }

    /// Records the stage with the time measured so far (the clock is paused).
    pub fn finish_paused(self, recorder: &TraceRecorder, outcome: Outcome, detail: Value) {
        self.record(recorder, outcome, detail);
    }

    fn record(self, recorder: &TraceRecorder, outcome: Outcome, detail: Value) {
        recorder.push(StageRecord {
            stage: self.stage,
            kind: self.kind,
            outcome,
            detail,
            modelled_ms: self.modelled_ms,
            measured_us: self.measured.as_micros() as u64,
        });
    }
}

impl TraceRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `ms` of modelled latency to this request as a real sleep on the engine clock.
    ///
    /// Tokio's timer counts whole milliseconds, and a sleep of 0.3 ms would last 1 ms. So the
    /// request keeps a running debt and sleeps only its whole milliseconds: a request's elapsed
    /// engine time stays within 1 ms of the sum of its stages' modelled latencies.
    pub async fn delay(&self, ms: f64) {
        let whole = {
            let mut owed = self
                .owed_ms
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *owed += ms.max(0.0);
            let whole = owed.floor();
            *owed -= whole;
            whole
        };
        if whole >= 1.0 {
            tokio::time::sleep(std::time::Duration::from_millis(whole as u64)).await;
        }
    }

    /// Appends a stage record.
    pub fn push(&self, record: StageRecord) {
        self.lock().push(record);
    }

    /// Whether stage `stage` was recorded.
    pub fn has(&self, stage: &str) -> bool {
        self.lock().iter().any(|r| r.stage == stage)
    }

    /// The records so far, in the order they were recorded.
    pub fn records(&self) -> Vec<StageRecord> {
        self.lock().clone()
    }

    /// Builds the trace; `order` gives each stage id's position in the pipeline.
    pub fn finish(
        &self,
        request: TracedRequest,
        status: u16,
        response: Value,
        order: &dyn Fn(&str) -> usize,
    ) -> Trace {
        let mut stages = self.records();
        stages.sort_by_key(|s| order(&s.stage));
        let total_modelled_ms = stages.iter().map(|s| s.modelled_ms).sum();
        Trace {
            request,
            status,
            stages,
            response,
            total_modelled_ms,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<StageRecord>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
