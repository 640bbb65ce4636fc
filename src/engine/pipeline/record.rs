//! The bookkeeping of one stage of one request: its modelled latency, the time its own code
//! takes, and its record in the trace — written exactly once, on every path.
//!
//! A [`StageRun`] is a drop guard: a stage that returns normally ends it with an outcome
//! ([`StageRun::finish`], [`StageRun::refuse`], [`StageRun::end`]); a stage whose code panics, or
//! whose request is dropped half-way, still gets a record, with the `error` outcome and an
//! [`AbortDetail`](crate::engine::trace::detail::AbortDetail) saying which.

use std::time::Duration;

use axum::response::Response;

use super::error::ApiError;
use super::stage::{Finished, StageCtx};
use crate::engine::db_pool::PoolWait;
use crate::engine::trace::detail::AbortDetail;
use crate::engine::trace::{Outcome, StageDetail, StageRecord, TraceRecorder};
use crate::scenario::StageKind;

/// One stage of one request in progress (see the module docs).
#[derive(Debug)]
pub struct StageRun {
    /// `None` once recorded.
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    trace: TraceRecorder,
    stage: String,
    kind: StageKind,
    modelled_ms: f64,
    /// Whether the stage's own code is timed (not for a trace nobody reads).
    timed: bool,
    /// When the clock last started; `None` while paused.
    running_since: Option<std::time::Instant>,
    measured: Duration,
    /// The wait for a pooled connection, added to a database detail when it is recorded.
    pool: Option<PoolWait>,
}

impl StageRun {
    /// Applies the stage's modelled latency to the request (a real sleep on the engine clock)
    /// and starts timing the stage's own code.
    pub async fn enter(ctx: &StageCtx, trace: &TraceRecorder) -> Self {
        Self::enter_with(ctx, trace, 0.0).await
    }

    /// [`enter`](Self::enter) with `extra_ms` of modelled latency on top of the stage's own (an
    /// injected slow-database fault).
    pub async fn enter_with(ctx: &StageCtx, trace: &TraceRecorder, extra_ms: f64) -> Self {
        let mut modelled = ctx.core.model_latency(&ctx.stage, trace).await;
        if extra_ms > 0.0 {
            trace.delay(extra_ms, &ctx.core.clock).await;
            modelled += extra_ms;
        }
        Self::start(&ctx.stage.id, ctx.stage.kind, modelled, trace)
    }

    /// Starts timing stage `stage` of kind `kind`, whose `modelled_ms` were already applied.
    /// A trace nobody reads is not timed: each reading of the wall clock costs, and there are
    /// four per stage.
    pub fn start(stage: &str, kind: StageKind, modelled_ms: f64, trace: &TraceRecorder) -> Self {
        let timed = !trace.is_unread();
        Self {
            pending: Some(Pending {
                trace: trace.clone(),
                stage: stage.to_string(),
                kind,
                modelled_ms,
                timed,
                running_since: timed.then(std::time::Instant::now),
                measured: Duration::ZERO,
                pool: None,
            }),
        }
    }

    /// Notes the query's wait for a pooled connection: whichever way the database stage ends
    /// (and there are a dozen, reads, writes, logins, each with its failures), its detail shows
    /// the wait, so it is attached here once rather than at each of them.
    pub fn with_pool_wait(mut self, wait: PoolWait) -> Self {
        if let Some(pending) = &mut self.pending {
            pending.pool = Some(wait);
        }
        self
    }

    /// Stops the clock while the request is elsewhere (later stages, the handler).
    pub fn pause(&mut self) {
        if let Some(pending) = &mut self.pending
            && let Some(since) = pending.running_since.take()
        {
            pending.measured += since.elapsed();
        }
    }

    /// Starts the clock again after [`pause`](Self::pause).
    pub fn resume(&mut self) {
        if let Some(pending) = &mut self.pending
            && pending.timed
            && pending.running_since.is_none()
        {
            pending.running_since = Some(std::time::Instant::now());
        }
    }

    /// Records the stage with `outcome` and `detail`.
    pub fn finish(self, outcome: Outcome, detail: StageDetail) {
        self.record(outcome, detail, None);
    }

    /// Records the stage with `outcome`, `detail` and the error that ended it (a code, or the
    /// store's message).
    pub fn fail(self, outcome: Outcome, detail: StageDetail, error: impl Into<String>) {
        self.record(outcome, detail, Some(error.into()));
    }

    /// Ends the request at this stage with `error`: records a rejection (an error for a 5xx)
    /// with `detail` and returns the error's response.
    pub fn refuse(self, error: ApiError, detail: StageDetail) -> Response {
        self.end(Finished::refused(error, detail))
    }

    /// Records how the stage `finished` and returns its response.
    pub fn end(self, finished: Finished) -> Response {
        self.record(finished.outcome, finished.detail, finished.error);
        finished.response
    }

    fn record(mut self, outcome: Outcome, detail: StageDetail, error: Option<String>) {
        self.pause();
        if let Some(pending) = self.pending.take() {
            pending.record(outcome, detail, error);
        }
    }
}

impl Pending {
    fn record(self, outcome: Outcome, mut detail: StageDetail, error: Option<String>) {
        if let (StageDetail::Database(database), Some(pool)) = (&mut detail, self.pool) {
            database.pool = Some(pool);
        }
        self.trace.push(StageRecord {
            stage: self.stage,
            kind: self.kind,
            outcome,
            detail,
            error,
            modelled_ms: self.modelled_ms,
            measured_us: u64::try_from(self.measured.as_micros()).unwrap_or(u64::MAX),
        });
    }
}

impl Drop for StageRun {
    fn drop(&mut self) {
        self.pause();
        let Some(pending) = self.pending.take() else {
            return;
        };
        // Unwinding from a panic, or the request's future dropped (a client that went away):
        // either way the stage ran and the trace says so.
        let (error, reason) = if std::thread::panicking() {
            (
                "panicked",
                "a panic unwound through this stage before it finished",
            )
        } else {
            (
                "cancelled",
                "the request was dropped before this stage finished",
            )
        };
        pending.record(
            Outcome::Error,
            StageDetail::Aborted(AbortDetail {
                reason: reason.to_string(),
            }),
            Some(error.to_string()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail() -> StageDetail {
        StageDetail::Aborted(AbortDetail {
            reason: "a test stage".into(),
        })
    }

    /// Runs one stage that takes 2 ms of wall time on `trace`; returns its record.
    fn two_millisecond_stage(trace: &TraceRecorder) -> StageRecord {
        let run = StageRun::start("db", StageKind::Database, 3.0, trace);
        std::thread::sleep(Duration::from_millis(2));
        run.finish(Outcome::Pass, detail());
        let mut records = trace.records();
        assert_eq!(records.len(), 1, "the stage is recorded either way");
        records.remove(0)
    }

    #[test]
    fn a_read_trace_times_the_stage_and_an_unread_one_does_not() {
        let read = two_millisecond_stage(&TraceRecorder::new());
        assert!(read.measured_us >= 2_000, "{} µs", read.measured_us);
        let unread = two_millisecond_stage(&TraceRecorder::unread());
        assert_eq!(unread.measured_us, 0);
        assert_eq!(
            (unread.modelled_ms, unread.outcome),
            (3.0, Outcome::Pass),
            "everything else is recorded as before"
        );
    }
}
