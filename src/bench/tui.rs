//! The terminal UI: how long each view takes to draw at 160×48, against the same terminal
//! drawing a blank frame (ratatui's own diff and buffer work), and how long the first frame
//! takes from a standing start (scenario, engine, database, first snapshot, first draw).
//!
//! The app is the headless one the rendering tests drive: the real state, fed by a real
//! virtual-time engine 20 seconds into the default scenario, with its log lines captured, so
//! every view has its working-day content on screen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::timing::interleaved;
use super::{Effort, Row, Verdict, client_runtime, time};
use crate::engine::EngineError;
use crate::scenario::load_or_default;
use crate::tui::ThemeName;
use crate::tui::headless::Headless;
use crate::tui::keymap::Key;
use crate::tui::log_capture::{self, LogBuffer};
use crate::tui::state::AppState;
use crate::tui::theme::Theme;

const COLUMNS: u16 = 160;
const ROWS: u16 = 48;
/// Target: every view drawn in under this many seconds.
const DRAW_TARGET_S: f64 = 0.5e-3;
/// Target: the first frame within this many seconds.
const FIRST_FRAME_TARGET_S: f64 = 0.1;
const DRAW: &str = "TUI: the slowest view's draw at 160×48";
const FIRST: &str = "TUI: first frame from a standing start";
/// The views, by the key that opens each.
const VIEWS: [(char, &str); 4] = [
    ('1', "lifecycle"),
    ('2', "schema"),
    ('3', "broker"),
    ('4', "logs"),
];

/// The rows: the slowest view's draw time, and the first frame.
pub fn measure(effort: Effort) -> Vec<Row> {
    let runtime = match client_runtime() {
        Ok(runtime) => runtime,
        Err(why) => return vec![skipped(DRAW, why)],
    };
    // Log lines go to the Logs view, as in the terminal app.
    let logs = LogBuffer::new();
    let _guard = tracing::subscriber::set_default(log_capture::subscriber(&logs));
    let first = match first_frame() {
        Ok(first) => first,
        Err(why) => return vec![skipped(FIRST, why)],
    };
    let app = match runtime.block_on(working_app(logs)) {
        Ok(app) => app,
        Err(why) => return vec![skipped(DRAW, why)],
    };
    vec![draw_row(&app.state, effort), first_row(first)]
}

/// From nothing to a drawn first frame: load the scenario, start the engine, take a snapshot,
/// draw.
fn first_frame() -> Result<Duration, String> {
    let started = Instant::now();
    let scenario = load_or_default(None).map_err(|e| format!("{e:?}"))?;
    let app = Headless::start(scenario, Theme::new(ThemeName::Dark)).map_err(describe)?;
    let mut terminal = Terminal::new(TestBackend::new(COLUMNS, ROWS)).map_err(|e| e.to_string())?;
    terminal
        .draw(|frame| crate::tui::views::draw(frame, &app.state))
        .map_err(|e| e.to_string())?;
    let took = started.elapsed();
    drop(app);
    Ok(took)
}

/// The app 20 engine seconds in, after a sample request, with its logs read.
async fn working_app(logs: LogBuffer) -> Result<Headless, String> {
    let scenario = load_or_default(None).map_err(|e| format!("{e:?}"))?;
    let mut app = Headless::start(scenario, Theme::new(ThemeName::Dark))
        .map_err(describe)?
        .with_logs(logs);
    app.press(Key::Enter).await;
    app.advance(Duration::from_secs(20)).await;
    Ok(app)
}

fn describe(error: EngineError) -> String {
    error.to_string()
}

fn draw_row(state: &AppState, effort: Effort) -> Row {
    let (rounds, slice) = match effort {
        Effort::Quick => (3, Duration::from_millis(100)),
        Effort::Full => (7, Duration::from_millis(300)),
    };
    let mut per_view = Vec::new();
    let mut blank_s = f64::INFINITY;
    for (key, name) in VIEWS {
        let mut state = state.clone();
        state.handle_key(Key::Char(key));
        state.resize(COLUMNS, ROWS);
        let state = Arc::new(state);
        let (view_rate, blank_rate) = interleaved(
            rounds,
            slice,
            frames(
                move |frame, state: &AppState| crate::tui::views::draw(frame, state),
                state.clone(),
            ),
            frames(
                |frame, _: &AppState| frame.render_widget(ratatui::widgets::Clear, frame.area()),
                state,
            ),
        );
        per_view.push((name, 1.0 / view_rate));
        blank_s = blank_s.min(1.0 / blank_rate);
    }
    let Some(&(slowest, worst_s)) = per_view.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return skipped(DRAW, "no view was drawn".into());
    };
    let every = per_view
        .iter()
        .map(|(name, s)| format!("{name} {}", time(*s)))
        .collect::<Vec<_>>()
        .join(", ");
    Row {
        measure: DRAW,
        archsim: format!("{slowest}: {}", time(worst_s)),
        baseline: format!("a blank frame: {}", time(blank_s)),
        ratio: format!("{:.1}× a blank frame", worst_s / blank_s),
        target: "< 0.5 ms",
        verdict: if worst_s < DRAW_TARGET_S {
            Verdict::Met
        } else {
            Verdict::Missed
        },
        note: format!("each view: {every}"),
    }
}

/// A side for [`interleaved`]: draws ten frames of `draw` on its own test terminal.
fn frames(
    draw: impl Fn(&mut ratatui::Frame, &AppState),
    state: Arc<AppState>,
) -> impl FnMut() -> u64 {
    let mut terminal = Terminal::new(TestBackend::new(COLUMNS, ROWS)).ok();
    move || {
        let Some(terminal) = terminal.as_mut() else {
            return 0;
        };
        for _ in 0..10 {
            let _ = terminal.draw(|frame| draw(frame, &state));
        }
        10
    }
}

fn first_row(first: Duration) -> Row {
    let seconds = first.as_secs_f64();
    Row {
        measure: FIRST,
        archsim: time(seconds),
        baseline: "— (target only)".into(),
        ratio: "—".into(),
        target: "< 100 ms",
        verdict: if seconds < FIRST_FRAME_TARGET_S {
            Verdict::Met
        } else {
            Verdict::Missed
        },
        note: "load the scenario, start the engine and seed its database, take a snapshot, \
               draw at 160×48 (terminal set-up not included)"
            .into(),
    }
}

fn skipped(measure: &'static str, why: String) -> Row {
    Row {
        measure,
        archsim: "—".into(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: if measure == DRAW {
            "< 0.5 ms"
        } else {
            "< 100 ms"
        },
        verdict: Verdict::Skipped,
        note: format!("could not run: {why}"),
    }
}
