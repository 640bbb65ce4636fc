//! Per-request stage traces: what each stage saw and decided.
//!
//! A [`TraceRecorder`] travels with a request (in its extensions). Each stage records one
//! [`StageRecord`]: its outcome, a typed [`StageDetail`] with what really happened (decoded claims, SQL
//! and query plan, cache key, …), the modelled latency it added and the real time its own code
//! took. When the response is back, [`TraceRecorder::finish`] produces the [`Trace`], with stages
//! in pipeline order.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

pub use self::detail::StageDetail;
use self::detail::{CacheResult, EdgeCacheResult, QuotaScope};
use crate::engine::clock::EngineClock;
use crate::scenario::StageKind;

pub mod detail;

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
///
/// Serialised as `{"stage", "kind", "outcome", "detail", "modelled_ms", "measured_us"}`, where
/// `detail` is the [`StageDetail`]'s fields plus `error` when the stage refused or failed.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRecord {
    /// Stage id from the scenario.
    pub stage: String,
    /// Stage kind.
    pub kind: StageKind,
    /// What the stage did.
    pub outcome: Outcome,
    /// What really happened.
    pub detail: StageDetail,
    /// Why the stage refused or failed: the API error code (`forbidden`), or the store's own
    /// message when a query failed.
    pub error: Option<String>,
    /// Modelled latency added by this stage, in milliseconds (engine clock).
    pub modelled_ms: f64,
    /// Real time the stage's own code took, in microseconds (wall clock; informational only —
    /// nothing decides on it, so virtual runs stay deterministic).
    pub measured_us: u64,
}

/// The `detail` object of a record: the typed detail's fields, then `error`.
#[derive(Serialize)]
struct DetailJson<'a> {
    #[serde(flatten)]
    detail: &'a StageDetail,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl Serialize for StageRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("StageRecord", 6)?;
        out.serialize_field("stage", &self.stage)?;
        out.serialize_field("kind", &self.kind)?;
        out.serialize_field("outcome", &self.outcome)?;
        out.serialize_field("detail", &self.detail_json_ref())?;
        out.serialize_field("modelled_ms", &self.modelled_ms)?;
        out.serialize_field("measured_us", &self.measured_us)?;
        out.end()
    }
}

impl StageRecord {
    fn detail_json_ref(&self) -> DetailJson<'_> {
        DetailJson {
            detail: &self.detail,
            error: self.error.as_deref(),
        }
    }

    /// The `detail` object exactly as `archsim trace --json` writes it (always an object), for
    /// generic display.
    pub fn detail_json(&self) -> Value {
        serde_json::to_value(self.detail_json_ref())
            .unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
    }

    /// One line saying what happened at this stage, for text output.
    pub fn summary(&self) -> String {
        let summary = self.what_happened();
        match (self.error.as_deref(), summary) {
            (Some(error), Some(summary))
                if self.outcome == Outcome::Reject || self.outcome == Outcome::Error =>
            {
                format!("{error}: {summary}")
            }
            (Some(error), None) => error.to_string(),
            (_, Some(summary)) => summary,
            (None, None) => String::new(),
        }
    }

    /// The detail in a few words, without the error.
    fn what_happened(&self) -> Option<String> {
        match &self.detail {
            StageDetail::Skipped(skip) => Some(skip.reason.clone()),
            StageDetail::Aborted(abort) => Some(abort.reason.clone()),
            StageDetail::Dns(dns) => dns.answer.clone(),
            StageDetail::Cdn(cdn) => match (cdn.cache, &cdn.key) {
                (Some(EdgeCacheResult::Hit), Some(key)) => Some(format!("hit: {key}")),
                (Some(EdgeCacheResult::Miss), Some(key)) => Some(format!("miss: {key}")),
                _ => cdn.note.clone(),
            },
            StageDetail::Cache(cache) => match (cache.result, &cache.key) {
                (CacheResult::Invalidate, _) => {
                    let keys = cache.keys.as_deref().unwrap_or_default();
                    let invalidated = cache.invalidated.as_deref().unwrap_or_default();
                    Some(format!(
                        "invalidated {} of {} key(s): {}",
                        invalidated.len(),
                        keys.len(),
                        keys.join(", ")
                    ))
                }
                (CacheResult::Hit, Some(key)) => Some(match cache.waited_ms {
                    Some(waited) if cache.coalesced == Some(true) => format!(
                        "coalesced: {key} — waited {waited} ms for the load started by {}",
                        leader_name(cache.leader.as_deref())
                    ),
                    _ => format!("hit: {key}"),
                }),
                (CacheResult::Miss, Some(key)) => {
                    let mut line = format!("miss: {key}");
                    if let (Some(waited), Some(false)) = (cache.waited_ms, cache.coalesced) {
                        line.push_str(&format!(
                            "; waited {waited} ms for {}, whose load failed, then read the \
                             database itself",
                            leader_name(cache.leader.as_deref())
                        ));
                    }
                    if let (Some(ttl), Some(base)) = (cache.ttl_s, cache.ttl_base_s) {
                        line.push_str(&format!("; kept {ttl} s (TTL {base} s, jittered)"));
                    }
                    Some(line)
                }
                _ => None,
            },
            StageDetail::Waf(waf) => waf.too_large.clone().or_else(|| {
                waf.remaining_this_minute
                    .map(|r| format!("{r} requests left this minute for {}", waf.client_ip))
            }),
            StageDetail::LoadBalancer(lb) => Some(format!("→ {}", lb.instance)),
            StageDetail::Gateway(gateway) => gateway.route.clone(),
            StageDetail::RequestId(id) => Some(id.request_id.clone()),
            StageDetail::Sanitize(sanitize) => sanitize.text_fields_checked.map(|n| {
                let trimmed = sanitize.trimmed.as_ref().map_or(0, Vec::len);
                format!("{n} text field(s) checked, {trimmed} trimmed; URL clean")
            }),
            StageDetail::Validate(validate) => {
                let against = validate.against.as_ref()?;
                Some(match validate.errors.as_deref() {
                    Some([first, rest @ ..]) => format!(
                        "body checked against {against}: {} {}{}",
                        first.field,
                        first.problem,
                        if rest.is_empty() {
                            String::new()
                        } else {
                            format!(" (+{} more)", rest.len())
                        }
                    ),
                    _ => format!("body checked against {against}"),
                })
            }
            StageDetail::RateLimit(limit) => Some(match (limit.refused_by, &limit.tenant_quota) {
                (Some(QuotaScope::Tenant), Some(tenant)) => format!(
                    "tenant quota used up: 0 of {} left ({}, {}/s)",
                    tenant.burst, tenant.key, tenant.refill_per_s
                ),
                (_, Some(tenant)) => format!(
                    "{} of {} left ({}); tenant {} of {} left",
                    limit.remaining, limit.burst, limit.key, tenant.remaining, tenant.burst
                ),
                (Some(QuotaScope::User), None) => format!(
                    "user quota used up: {} of {} left ({})",
                    limit.remaining, limit.burst, limit.key
                ),
                _ => format!(
                    "{} of {} left ({})",
                    limit.remaining, limit.burst, limit.key
                ),
            }),
            StageDetail::Auth(auth) => auth.verdict.clone().or_else(|| {
                auth.checks
                    .as_ref()
                    .and_then(|c| c.last())
                    .map(|c| c.detail.clone())
            }),
            StageDetail::Tenant(tenant) => Some(format!(
                "host {} / token {}",
                tenant.host_tenant.as_deref().unwrap_or("-"),
                tenant.token_tenant.as_deref().unwrap_or("-")
            )),
            StageDetail::Rbac(None) => None,
            StageDetail::Rbac(Some(rbac)) => Some(if rbac.missing.is_empty() {
                format!("{} & {} ok", rbac.role_mask, rbac.required_mask)
            } else {
                format!("{} lacks {}", rbac.role_mask, rbac.missing.join(", "))
            }),
            StageDetail::Controller(controller) => {
                let action = format!("{} on {}", action_name(controller.action), controller.route);
                Some(match &controller.idempotency {
                    Some(key) => format!(
                        "{action}; Idempotency-Key {}: {}",
                        key.key,
                        key.outcome.as_str()
                    ),
                    None => action,
                })
            }
            StageDetail::Database(db) if db.pool.as_ref().is_some_and(|p| p.timed_out) => {
                db.pool.as_ref().map(|pool| {
                    format!(
                        "no free connection: all {} busy, waited {} ms (the limit)",
                        pool.connections, pool.waited_ms
                    )
                })
            }
            StageDetail::Database(db) => {
                let what = match (&db.sql, &db.lookup) {
                    (Some(sql), _) => Some(format!("{sql}  → {} row(s)", db.rows.unwrap_or(0))),
                    (None, Some(lookup)) => {
                        Some(format!("{lookup}  → {} row(s)", db.rows.unwrap_or(0)))
                    }
                    (None, None) => db.limit_checks.iter().find(|c| !c.passed).map(|c| {
                        format!(
                            "{} {} is over the {} that remains",
                            c.field,
                            c.value,
                            c.remaining.clone().unwrap_or_default()
                        )
                    }),
                };
                match db.pool.as_ref().filter(|pool| pool.waited_ms > 0.0) {
                    Some(pool) => what.map(|what| {
                        format!("{what}; waited {} ms for a connection", pool.waited_ms)
                    }),
                    None => what,
                }
            }
            StageDetail::BrokerPublish(publish) => Some(
                publish
                    .published
                    .iter()
                    .map(|e| format!("{} → {}", e.event, e.topic))
                    .chain(publish.deferred.iter().map(|e| {
                        format!(
                            "{} → outbox #{} (relay later: {})",
                            e.event, e.outbox_id, e.reason
                        )
                    }))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            StageDetail::Response(response) => Some(format!(
                "{} {}",
                response.status,
                response.reason.unwrap_or_default()
            )),
        }
    }
}

/// How a summary names the request a coalesced miss waited for.
fn leader_name(leader: Option<&str>) -> &str {
    match leader {
        Some(id) if !id.is_empty() => id,
        _ => "an earlier request",
    }
}

/// An action's name as scenarios write it, e.g. `issue_token`.
fn action_name(action: crate::scenario::Action) -> String {
    match serde_json::to_value(action) {
        Ok(Value::String(name)) => name,
        _ => format!("{action:?}"),
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
    /// The id the request-id stage gave it (absent when the request ended before that stage,
    /// or the scenario has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
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

/// A request's records in brief (see [`TraceRecorder::summary`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    /// The sum of every recorded stage's modelled latency, ms.
    pub modelled_ms: f64,
    /// The earliest stage in pipeline order that rejected the request or failed.
    pub stopped_at: Option<String>,
    /// The route pattern the gateway matched, if the request passed it.
    pub route: Option<String>,
}

/// Collects stage records for one request and keeps its modelled timeline; cheap to clone
/// (shared).
#[derive(Debug, Clone, Default)]
pub struct TraceRecorder {
    /// One allocation per request, shared by every stage's clone (one count to bump, not three).
    books: Arc<Mutex<Books>>,
    /// Nobody will read this request's trace (generated traffic, HTTP clients): its stages skip
    /// timing their own code on the wall clock, the one figure only a trace shows.
    unread: bool,
}

/// What a [`TraceRecorder`] keeps for its request.
#[derive(Debug)]
struct Books {
    records: Vec<StageRecord>,
    /// The id the request-id stage gave the request.
    request_id: Option<String>,
    /// Where the request is on its modelled timeline.
    timeline: Timeline,
}

/// Room for every stage of a pipeline and the handler's own, so recording never reallocates
/// (each reallocation moved every record so far).
const RECORDS_EXPECTED: usize = 24;

impl Default for Books {
    fn default() -> Self {
        Self {
            records: Vec::with_capacity(RECORDS_EXPECTED),
            request_id: None,
            timeline: Timeline::default(),
        }
    }
}

/// A request's modelled timeline (see [`TraceRecorder::delay`]).
#[derive(Debug, Default)]
struct Timeline {
    /// Modelled time not slept yet, in ms (always below 1 ms between stages).
    owed_ms: f64,
    /// The instant the last modelled sleep was due.
    slept_to: Option<tokio::time::Instant>,
    /// When the last modelled sleep returned.
    woke_at: Option<tokio::time::Instant>,
}

/// A gap since the last modelled sleep shorter than this is the request's own code running (and
/// the timer waking late), not a wait: the next sleep continues the timeline instead of starting
/// from now. One millisecond is the timer's resolution; in virtual time code takes no time and
/// every wait at least one tick, so there the rule changes nothing.
const COMPUTE_GAP: std::time::Duration = std::time::Duration::from_millis(1);

impl TraceRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A recorder for a request whose trace nobody will read (see [`TraceRecorder::is_unread`]).
    pub fn unread() -> Self {
        Self {
            unread: true,
            ..Self::default()
        }
    }

    /// Whether nobody will read this trace: the stages still run and record (the access log
    /// and the metrics read the records), but measuring their code's wall time is skipped.
    pub fn is_unread(&self) -> bool {
        self.unread
    }

    /// Applies `ms` of modelled latency to this request as a real sleep on the engine clock.
    ///
    /// Tokio's timer counts whole milliseconds, and a sleep of 0.3 ms would last 1 ms. So the
    /// request keeps a running debt and sleeps only its whole milliseconds: a request's elapsed
    /// engine time stays within 1 ms of the sum of its stages' modelled latencies.
    ///
    /// On the wall clock each sleep also wakes a little late (up to the next millisecond tick,
    /// plus the scheduler), and the stage's own code takes time; eight stages added 60% to a
    /// 12 ms request. So each sleep runs until an instant on the request's own timeline — the
    /// previous sleep's due instant plus this one's time — rather than for a span from now, and
    /// lateness is absorbed instead of added up. A real wait since the last sleep (a pooled
    /// connection, a lock; anything from [`COMPUTE_GAP`] up) starts the timeline again from now,
    /// so it still adds to the request's latency. The instant handed to tokio's timer is the
    /// nearest millisecond tick to the due one ([`EngineClock::timer_deadline`]), not the next
    /// one up, so the last sleep's rounding no longer lengthens every request.
    pub async fn delay(&self, ms: f64, clock: &EngineClock) {
        let due = {
            let mut books = self.lock();
            let timeline = &mut books.timeline;
            timeline.owed_ms += ms.max(0.0);
            let whole = timeline.owed_ms.floor();
            timeline.owed_ms -= whole;
            if whole < 1.0 {
                return;
            }
            let now = tokio::time::Instant::now();
            let from = match (timeline.slept_to, timeline.woke_at) {
                (Some(due), Some(woke)) if now.saturating_duration_since(woke) < COMPUTE_GAP => due,
                _ => now,
            };
            let due = from + std::time::Duration::from_millis(whole as u64);
            timeline.slept_to = Some(due);
            due
        };
        tokio::time::sleep_until(clock.timer_deadline(due)).await;
        self.lock().timeline.woke_at = Some(tokio::time::Instant::now());
    }

    /// Appends a stage record.
    pub fn push(&self, record: StageRecord) {
        self.lock().records.push(record);
    }

    /// Notes the request's id (the request-id stage calls this), for the trace's request record.
    pub fn set_request_id(&self, id: &str) {
        self.lock().request_id = Some(id.to_string());
    }

    /// The request's id, once the request-id stage gave it one.
    pub fn request_id(&self) -> Option<String> {
        self.lock().request_id.clone()
    }

    /// Whether a stage recorded so far refused the request (rejected it or failed): the
    /// controller asks, so that it does not blame itself for what a stage it drove decided.
    pub fn refused(&self) -> bool {
        self.lock()
            .records
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Reject | Outcome::Error))
    }

    /// The records so far, in the order they were recorded.
    #[cfg(test)]
    pub fn records(&self) -> Vec<StageRecord> {
        self.lock().records.clone()
    }

    /// What the access log and the metrics need of the records so far, read in place (cloning
    /// every record of every request just to sum a column was a tenth of a virtual run's time):
    /// the modelled total, the route the gateway matched and the earliest stage, by
    /// `position`, that refused the request.
    pub fn summary(&self, position: &dyn Fn(&str) -> usize) -> TraceSummary {
        let books = self.lock();
        let records = &books.records;
        let modelled_ms = records.iter().map(|r| r.modelled_ms).sum();
        let stopped_at = records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Reject | Outcome::Error))
            .min_by_key(|r| position(&r.stage))
            .map(|r| r.stage.clone());
        let route = records
            .iter()
            .filter(|r| r.outcome == Outcome::Pass)
            .find_map(|r| match &r.detail {
                StageDetail::Gateway(gateway) => gateway.route.clone(),
                _ => None,
            });
        TraceSummary {
            modelled_ms,
            stopped_at,
            route,
        }
    }

    /// Builds the trace; `order` gives each stage id's position in the pipeline. The request
    /// record gets the request's id if the caller did not know it.
    pub fn finish(
        &self,
        mut request: TracedRequest,
        status: u16,
        response: Value,
        order: &dyn Fn(&str) -> usize,
    ) -> Trace {
        if request.request_id.is_none() {
            request.request_id = self.request_id();
        }
        // The trace is finished once: it takes the records rather than copying them.
        let mut stages = std::mem::take(&mut self.lock().records);
        stages.sort_by_cached_key(|s| order(&s.stage));
        let total_modelled_ms = stages.iter().map(|s| s.modelled_ms).sum();
        Trace {
            request,
            status,
            stages,
            response,
            total_modelled_ms,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
