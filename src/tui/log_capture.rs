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

/// Lines kept before the oldest are dropped (the UI keeps its own bounded copy).
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
    /// The message followed by its fields as `key=value`.
    pub text: String,
}

#[derive(Debug, Default)]
struct Ring {
    lines: VecDeque<LogLine>,
    dropped: u64,
}

/// The shared ring the layer writes and the engine thread drains.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    inner: Arc<Mutex<Ring>>,
}

impl LogBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a line, dropping the oldest when full.
    pub fn push(&self, line: LogLine) {
        let mut ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if ring.lines.len() == BUFFER_LINES {
            ring.lines.pop_front();
            ring.dropped += 1;
        }
        ring.lines.push_back(line);
    }

    /// Takes every line pushed since the last call.
    pub fn drain(&self) -> Vec<LogLine> {
        let mut ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        ring.lines.drain(..).collect()
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

struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields {
            message: String::new(),
            rest: String::new(),
        };
        event.record(&mut fields);
        let at = crate::engine::engine_time().unwrap_or_else(|| self.started.elapsed());
        let at_ms = at.as_millis() as u64;
        self.buffer.push(LogLine {
            at_ms,
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            text: format!("{}{}", fields.message, fields.rest),
        });
    }
}

/// Installs the capture layer as the global subscriber (archsim's events at debug and above,
/// others at warn). Returns the buffer; `None` if a global subscriber was already set.
pub fn install() -> Option<LogBuffer> {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let buffer = LogBuffer::new();
    let filter = Targets::new()
        .with_target("archsim", Level::DEBUG)
        .with_default(Level::WARN);
    tracing_subscriber::registry()
        .with(CaptureLayer::new(buffer.clone()).with_filter(filter))
        .try_init()
        .ok()
        .map(|()| buffer)
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

    #[test]
    fn the_ring_is_bounded() {
        let buffer = LogBuffer::new();
        for i in 0..BUFFER_LINES + 10 {
            buffer.push(LogLine {
                at_ms: i as u64,
                level: Level::INFO,
                target: "t".into(),
                text: String::new(),
            });
        }
        let lines = buffer.drain();
        assert_eq!(lines.len(), BUFFER_LINES);
        assert_eq!(lines[0].at_ms, 10);
    }
}
