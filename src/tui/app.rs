//! The application loop: one inbox, fed by an input thread and the engine thread; each message
//! becomes an action or an update; the screen is redrawn when something changed, at most 30
//! times a second.
//!
//! ```text
//!  input thread ── Inbox::Input ──┐
//!  engine thread ─ Inbox::Engine ─┼─▶ inbox ─▶ update / apply ─▶ (dirty) ─▶ draw ≤ 30 fps
//!                                 │                 └─ Outgoing ─▶ bridge ─▶ engine
//! ```
//!
//! Between messages the UI thread sleeps in `recv_timeout`: an idle screen costs the engine's
//! four snapshots a second and nothing else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event};

use super::engine_link::{EngineLink, Inbox};
use super::keymap::Key;
use super::log_capture;
use super::state::AppState;
use super::terminal::{TerminalError, TerminalGuard, Tty, draw_synchronized, install_panic_hook};
use super::theme::{Theme, ThemeName};
use super::views;
use crate::engine::Clock;
use crate::scenario::Scenario;

/// Shortest time between two frames (30 fps).
pub const FRAME: Duration = Duration::from_millis(33);

/// How long the input thread waits for a key before checking whether to stop.
const INPUT_POLL: Duration = Duration::from_millis(250);

/// Frame-time statistics, printed on exit when `ARCHSIM_FRAME_STATS` is set.
#[derive(Debug, Default, Clone, Copy)]
pub struct FrameStats {
    /// Frames drawn.
    pub frames: u64,
    /// Total time spent drawing.
    pub total: Duration,
    /// Slowest frame.
    pub max: Duration,
}

impl FrameStats {
    fn record(&mut self, took: Duration) {
        self.frames += 1;
        self.total += took;
        self.max = self.max.max(took);
    }
}

/// Why the TUI could not run (or stopped with an error).
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// The terminal is not interactive, or could not be set up or drawn to.
    #[error(transparent)]
    Terminal(#[from] TerminalError),
    /// The engine did not start.
    #[error("the engine did not start: {0}")]
    Engine(String),
    /// Drawing failed.
    #[error("cannot draw: {0}")]
    Draw(#[from] std::io::Error),
}

/// Runs the TUI on `scenario` until the user quits, starting on guided tour `tour` when one is
/// named (the caller checks it exists), in presenter mode when `present`. The terminal is
/// restored on every path.
pub fn run(
    scenario: Arc<Scenario>,
    theme: ThemeName,
    tour: Option<&str>,
    present: bool,
) -> Result<(), TuiError> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TerminalError::NotATerminal.into());
    }
    let logs = log_capture::install();
    let (inbox, receiver) = mpsc::channel();
    let link =
        EngineLink::start(scenario.clone(), inbox.clone(), logs).map_err(TuiError::Engine)?;
    install_panic_hook();
    let mut guard = TerminalGuard::enter()?;
    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(inbox, stop.clone());
    let mut state = AppState::new(scenario, Theme::new(theme), Clock::Paced(1.0));
    if present {
        state.set_presenter(true);
    }
    for command in tour.and_then(|id| state.start_tour(id)).unwrap_or_default() {
        link.send(command);
    }
    let result = event_loop(&mut guard.terminal, &mut state, &receiver, &link);
    stop.store(true, Ordering::Relaxed);
    drop(guard);
    link.shutdown();
    let _ = input.map(|handle| handle.join());
    let stats = result?;
    if std::env::var_os("ARCHSIM_FRAME_STATS").is_some() && stats.frames > 0 {
        eprintln!(
            "frames: {}, mean {}, max {}",
            stats.frames,
            crate::units::us(micros(stats.total / stats.frames as u32)),
            crate::units::us(micros(stats.max))
        );
    }
    Ok(())
}

fn spawn_input(inbox: Sender<Inbox>, stop: Arc<AtomicBool>) -> Option<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("archsim-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match event::poll(INPUT_POLL) {
                    Ok(true) => match event::read() {
                        Ok(event) => {
                            if inbox.send(Inbox::Input(event)).is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    },
                    Ok(false) => {}
                    Err(_) => return,
                }
            }
        })
        .ok()
}

/// Applies one inbox message; returns whether the screen needs redrawing.
pub fn handle(state: &mut AppState, message: Inbox, link: &EngineLink) -> bool {
    match message {
        Inbox::Input(Event::Key(key)) => match Key::from_event(&key) {
            Some(key) => {
                for command in state.handle_key(key) {
                    link.send(command);
                }
                true
            }
            None => false,
        },
        Inbox::Input(Event::Resize(columns, rows)) => {
            state.resize(columns, rows);
            true
        }
        Inbox::Input(_) => false,
        Inbox::Engine(update) => {
            for command in state.apply(update) {
                link.send(command);
            }
            true
        }
        Inbox::EngineStopped(reason) => {
            state.engine_stopped = Some(reason.unwrap_or_else(|| "it stopped".into()));
            true
        }
    }
}

fn event_loop(
    terminal: &mut Tty,
    state: &mut AppState,
    inbox: &Receiver<Inbox>,
    link: &EngineLink,
) -> std::io::Result<FrameStats> {
    let mut stats = FrameStats::default();
    if let Ok(size) = terminal.size() {
        state.resize(size.width, size.height);
    }
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    loop {
        let wait = match (dirty, last_draw) {
            (true, Some(at)) => FRAME.saturating_sub(at.elapsed()),
            (true, None) => Duration::ZERO,
            (false, _) => Duration::from_secs(1),
        };
        match inbox.recv_timeout(wait) {
            Ok(message) => dirty |= handle(state, message, link),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while let Ok(message) = inbox.try_recv() {
            dirty |= handle(state, message, link);
        }
        if state.quit {
            break;
        }
        if dirty && last_draw.is_none_or(|at| at.elapsed() >= FRAME) {
            let started = Instant::now();
            draw_synchronized(terminal, |frame| views::draw(frame, state))?;
            stats.record(started.elapsed());
            last_draw = Some(Instant::now());
            dirty = false;
        }
    }
    Ok(stats)
}

/// Whole microseconds of `duration`, saturating (a frame never takes 584,000 years).
fn micros(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
