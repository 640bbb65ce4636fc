//! A `tracing` layer that keeps the engine's log lines for the Logs view.
//!
//! ```text
//!   engine code ── tracing::info!(…) ──▶ CaptureLayer ──▶ LogBuffer (bounded ring)
//!                                                              │ drained by the engine thread
//!                                                              ▼ every tick
//!                                                      EngineUpdate::Logs ──▶ UI state
//! ```
//!
//! The layer only formats and pushes into a mutex-guarded ring; it never blocks on the UI.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Lines of each level kept before that level's oldest are dropped (the UI keeps its own
/// bounded copy). Per level, so a burst of INFO lines between two drains cannot push out a WARN.
pub const BUFFER_LINES: usize = 5_000;

/// One captured log line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Milliseconds since capture started (engine clock when logged from the engine).
    pub at_ms: u64,
    /// Severity.
    pub level: Level,
    /// Where it came from (`archsim::request`, …).
    pub target: String,
    /// The line as shown: for a request, `status method path latency` first, then the other
    /// fields as `key=value`; otherwise the message followed by its fields.
    pub text: String,
}

/// A line with its arrival number, which orders lines logged in the same millisecond.
#[derive(Debug, Clone)]
struct Stamped {
    seq: u64,
    line: LogLine,
}

/// Log lines in one bounded ring per level, read back merged by time.
///
/// A single ring lets the chattiest level decide what survives: at a few hundred INFO lines a
/// second, the WARN lines a learner filters for were gone within a minute. Here each level
/// drops only its own oldest lines.
#[derive(Debug, Clone)]
pub struct LevelRings {
    /// Error, warn, info, debug (trace shares the debug ring).
    rings: [VecDeque<Stamped>; 4],
    /// Lines kept of each of error and warn.
    severe: usize,
    /// Lines kept of each of info and debug.
    chatter: usize,
    next_seq: u64,
    dropped: u64,
}

fn ring_index(level: Level) -> usize {
    match level {
        Level::ERROR => 0,
        Level::WARN => 1,
        Level::INFO => 2,
        _ => 3,
    }
}

impl LevelRings {
    /// Empty rings keeping up to `capacity` lines of each level.
    pub fn new(capacity: usize) -> Self {
        Self::with_capacities(capacity, capacity)
    }

    /// Empty rings keeping up to `severe` lines of each of ERROR and WARN and `chatter` of each
    /// of INFO and DEBUG.
    pub fn with_capacities(severe: usize, chatter: usize) -> Self {
        Self {
            rings: Default::default(),
            severe: severe.max(1),
            chatter: chatter.max(1),
            next_seq: 0,
            dropped: 0,
        }
    }

    /// Appends a line; returns the line its level's ring dropped to make room, if any.
    pub fn push(&mut self, line: LogLine) -> Option<LogLine> {
        let index = ring_index(line.level);
        let capacity = if index < 2 { self.severe } else { self.chatter };
        let ring = &mut self.rings[index];
        let dropped = if ring.len() >= capacity {
            self.dropped += 1;
            ring.pop_front().map(|s| s.line)
        } else {
            None
        };
        ring.push_back(Stamped {
            seq: self.next_seq,
            line,
        });
        self.next_seq += 1;
        dropped
    }

    /// Lines kept, all levels.
    pub fn len(&self) -> usize {
        self.rings.iter().map(VecDeque::len).sum()
    }

    /// No line kept.
    pub fn is_empty(&self) -> bool {
        self.rings.iter().all(VecDeque::is_empty)
    }

    /// Lines dropped so far to keep within the capacity.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The kept lines at `min_level` or more severe, oldest first (by time, then arrival).
    pub fn merged(&self, min_level: Level) -> Vec<&LogLine> {
        // tracing orders levels by verbosity: ERROR < WARN < INFO < DEBUG.
        let mut lines: Vec<&Stamped> = self
            .rings
            .iter()
            .flatten()
            .filter(|s| s.line.level <= min_level)
            .collect();
        // The rings are each sorted already: the sort merges a few runs.
        lines.sort_by_key(|s| (s.line.at_ms, s.seq));
        lines.into_iter().map(|s| &s.line).collect()
    }

    /// Takes every line out, oldest first.
    pub fn drain(&mut self) -> Vec<LogLine> {
        let mut lines: Vec<Stamped> = self.rings.iter_mut().flat_map(|r| r.drain(..)).collect();
        lines.sort_by_key(|s| (s.line.at_ms, s.seq));
        lines.into_iter().map(|s| s.line).collect()
    }
}

/// The shared rings the layer writes and the engine thread drains.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    inner: Arc<Mutex<LevelRings>>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new(LevelRings::new(BUFFER_LINES))),
        }
    }
}

impl LogBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a line, dropping the oldest of its level when that level is full.
    pub fn push(&self, line: LogLine) {
        let mut rings = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        rings.push(line);
    }

    /// Takes every line pushed since the last call, oldest first.
    pub fn drain(&self) -> Vec<LogLine> {
        let mut rings = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        rings.drain()
    }
}

/// The `tracing` layer feeding a [`LogBuffer`].
#[derive(Debug, Clone)]
pub struct CaptureLayer {
    buffer: LogBuffer,
    started: tokio::time::Instant,
}

impl CaptureLayer {
    /// A layer writing into `buffer`; times count from now (on tokio's clock when called inside
    /// a runtime, so a paused test clock gives reproducible times).
    pub fn new(buffer: LogBuffer) -> Self {
        Self {
            buffer,
            started: tokio::time::Instant::now(),
        }
    }
}

/// An event's message and its other fields, in the order they were written.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.rest.push((field.name(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.rest.push((field.name(), format!("{value:?}")));
        }
    }
}

/// The fields that make a request line's headline, in the order they are shown.
const HEADLINE: [&str; 3] = ["status", "method", "path"];

/// The field holding a request line's latency, shown after the headline as a duration.
const LATENCY: &str = "modelled_ms";

impl Fields {
    fn value(&self, name: &str) -> Option<&str> {
        self.rest
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The line's text. A request line (it has status, method and path) reads
    /// `403 POST /api/v1/projects 12.5 ms stopped_at=rbac request_id=…`: what a learner looks
    /// for comes before anything a narrow terminal may cut. Fields valued `-` (nothing) are
    /// left out.
    fn text(&self) -> String {
        let headline: Option<Vec<&str>> = HEADLINE.iter().map(|name| self.value(name)).collect();
        let mut out = match &headline {
            Some(parts) => {
                let mut lead = parts.join(" ");
                if let Some(latency) = self.value(LATENCY).and_then(|v| v.parse::<f64>().ok()) {
                    let _ = write!(lead, " {}", crate::units::ms(latency));
                }
                lead
            }
            None => self.message.clone(),
        };
        let shown_in_headline =
            |name: &str| headline.is_some() && (HEADLINE.contains(&name) || name == LATENCY);
        for (name, value) in &self.rest {
            if value != "-" && !shown_in_headline(name) {
                let _ = write!(out, " {name}={value}");
            }
        }
        out
    }
}

impl<S: Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let at = crate::engine::engine_time().unwrap_or_else(|| self.started.elapsed());
        let at_ms = at.as_millis() as u64;
        self.buffer.push(LogLine {
            at_ms,
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            text: fields.text(),
        });
    }
}

/// The subscriber the Logs view reads: the capture layer into `buffer`, with archsim's events at
/// debug and above and others at warn. The app installs it globally ([`install`]); the headless
/// app's tests and `archsim bench` set it as the default of their thread.
pub fn subscriber(buffer: &LogBuffer) -> impl tracing::Subscriber + Send + Sync + 'static {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter = Targets::new()
        .with_target("archsim", Level::DEBUG)
        .with_default(Level::WARN);
    tracing_subscriber::registry().with(CaptureLayer::new(buffer.clone()).with_filter(filter))
}

/// Installs [`subscriber`] as the global subscriber. Returns the buffer; `None` if a global
/// subscriber was already set.
pub fn install() -> Option<LogBuffer> {
    use tracing_subscriber::util::SubscriberInitExt;
    let buffer = LogBuffer::new();
    subscriber(&buffer).try_init().ok().map(|()| buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn events_become_lines_with_their_fields() {
        let buffer = LogBuffer::new();
        let subscriber = tracing_subscriber::registry().with(CaptureLayer::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "archsim::request", status = 200, path = "/x", "request");
            tracing::warn!("careful");
        });
        let lines = buffer.drain();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].target, "archsim::request");
        assert_eq!(lines[0].text, "request status=200 path=/x");
        assert_eq!(lines[1].level, Level::WARN);
        assert!(buffer.drain().is_empty());
    }

    fn line(at_ms: u64, level: Level) -> LogLine {
        LogLine {
            at_ms,
            level,
            target: "t".into(),
            text: String::new(),
        }
    }

    #[test]
    fn each_level_is_bounded() {
        let buffer = LogBuffer::new();
        for i in 0..BUFFER_LINES + 10 {
            buffer.push(line(i as u64, Level::INFO));
        }
        let lines = buffer.drain();
        assert_eq!(lines.len(), BUFFER_LINES);
        assert_eq!(lines[0].at_ms, 10);
    }

    #[test]
    fn a_flood_of_info_does_not_push_out_the_warnings() {
        let mut rings = LevelRings::new(100);
        rings.push(line(0, Level::WARN));
        rings.push(line(1, Level::ERROR));
        for i in 0..1_000 {
            rings.push(line(2 + i, Level::INFO));
        }
        rings.push(line(5_000, Level::WARN));
        let warnings: Vec<u64> = rings.merged(Level::WARN).iter().map(|l| l.at_ms).collect();
        assert_eq!(warnings, vec![0, 1, 5_000]);
        assert_eq!(
            rings.merged(Level::INFO).len(),
            103,
            "100 info lines and 3 others"
        );
        assert_eq!(rings.dropped(), 900);
    }

    #[test]
    fn severe_levels_can_keep_more_than_chatter() {
        let mut rings = LevelRings::with_capacities(3, 1);
        for at in 0..5 {
            rings.push(line(at, Level::WARN));
            rings.push(line(at, Level::INFO));
        }
        let kept: Vec<(u64, Level)> = rings
            .merged(Level::INFO)
            .iter()
            .map(|l| (l.at_ms, l.level))
            .collect();
        assert_eq!(
            kept,
            vec![
                (2, Level::WARN),
                (3, Level::WARN),
                (4, Level::WARN),
                (4, Level::INFO)
            ]
        );
    }

    #[test]
    fn levels_merge_back_in_time_order() {
        let mut rings = LevelRings::new(10);
        for (at, level) in [
            (5, Level::INFO),
            (3, Level::WARN),
            (5, Level::ERROR),
            (9, Level::DEBUG),
        ] {
            rings.push(line(at, level));
        }
        let merged: Vec<(u64, Level)> = rings
            .merged(Level::TRACE)
            .iter()
            .map(|l| (l.at_ms, l.level))
            .collect();
        // Same millisecond: arrival order.
        assert_eq!(
            merged,
            vec![
                (3, Level::WARN),
                (5, Level::INFO),
                (5, Level::ERROR),
                (9, Level::DEBUG)
            ]
        );
        assert_eq!(rings.drain().len(), 4);
        assert!(rings.is_empty());
    }

    #[test]
    fn a_request_line_leads_with_what_a_learner_looks_for() {
        let buffer = LogBuffer::new();
        let subscriber = tracing_subscriber::registry().with(CaptureLayer::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                target: "archsim::request",
                status = 403,
                method = "POST",
                path = "/api/v1/projects",
                modelled_ms = "12.53",
                stopped_at = "rbac",
                request_id = "req-1",
                "request"
            );
            tracing::info!(
                target: "archsim::request",
                status = 200,
                method = "GET",
                path = "/static/app.js",
                modelled_ms = "7.0",
                stopped_at = "-",
                request_id = "-",
                "request"
            );
        });
        let texts: Vec<String> = buffer.drain().into_iter().map(|l| l.text).collect();
        assert_eq!(
            texts,
            vec![
                "403 POST /api/v1/projects 12.5 ms stopped_at=rbac request_id=req-1",
                "200 GET /static/app.js 7.00 ms",
            ]
        );
    }
}
