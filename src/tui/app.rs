//! The application loop: one inbox, fed by an input thread and the engine thread; each message
//! becomes an action or an update; the screen is redrawn when something changed, at most 30
//! times a second.
//!
//! ```text
//!  input thread ── Inbox::Input ──┐
//!  engine thread ─ Inbox::Engine ─┼─▶ inbox ─▶ update / apply ─▶ (dirty) ─▶ draw ≤ 30 fps
//!  file watcher ── ScenarioChanged┘                 └─ Outgoing ─▶ bridge ─▶ engine
//! ```
//!
//! Between messages the UI thread sleeps in `recv_timeout`: an idle screen costs the engine's
//! four snapshots a second and nothing else.
//!
//! Started from a file, the app watches it (see [`super::reload`]): a valid save swaps the
//! engine for one on the new scenario, an invalid one leaves the old engine running and shows
//! why.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event};

use super::engine_link::{EngineLink, Inbox};
use super::keymap::Key;
use super::log_capture::{self, LogBuffer};
use super::reload::{self, ScenarioWatcher};
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
/// named (the caller checks it exists), in presenter mode when `present`. When the scenario
/// came from `file`, saving the file reloads it. The terminal is restored on every path.
pub fn run(
    scenario: Arc<Scenario>,
    theme: ThemeName,
    tour: Option<&str>,
    present: bool,
    file: Option<&Path>,
) -> Result<(), TuiError> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TerminalError::NotATerminal.into());
    }
    let logs = log_capture::install();
    let (inbox, receiver) = mpsc::channel();
    let mut link = EngineLink::start(scenario.clone(), inbox.clone(), logs.clone())
        .map_err(TuiError::Engine)?;
    let mut state = AppState::new(scenario, Theme::new(theme), Clock::Paced(1.0));
    let (mut reloader, _watcher) = match file {
        Some(file) => {
            let (reloader, watcher) = Reloader::start(file, inbox.clone(), logs);
            if let Err(why) = &watcher {
                state.notice = Some(format!("{why}: saving it will not reload it"));
            }
            (Some(reloader), watcher.ok())
        }
        None => (None, None),
    };
    install_panic_hook();
    let mut guard = TerminalGuard::enter()?;
    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(inbox, stop.clone());
    if present {
        state.set_presenter(true);
    }
    for command in tour.and_then(|id| state.start_tour(id)).unwrap_or_default() {
        link.send(command);
    }
    let result = event_loop(
        &mut guard.terminal,
        &mut state,
        &receiver,
        &mut link,
        reloader.as_mut(),
    );
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
        // Only an app started from a file watches it, and its loop reloads (see `Reloader`).
        Inbox::ScenarioChanged => false,
    }
}

/// What a reload needs besides the state and the link: the file, what it held when last
/// loaded, and what a new engine link is given.
struct Reloader {
    path: PathBuf,
    /// The text the running scenario came from: a save that changes nothing restarts nothing.
    text: Option<String>,
    inbox: Sender<Inbox>,
    logs: Option<LogBuffer>,
}

impl Reloader {
    /// The reloader of `path` and the watcher that tells it when the file changed (or why the
    /// file cannot be watched).
    fn start(
        path: &Path,
        inbox: Sender<Inbox>,
        logs: Option<LogBuffer>,
    ) -> (Self, Result<ScenarioWatcher, String>) {
        let changed = inbox.clone();
        let watcher = ScenarioWatcher::start(path, reload::QUIET, move || {
            changed.send(Inbox::ScenarioChanged).is_ok()
        });
        let reloader = Self {
            path: path.to_path_buf(),
            text: std::fs::read_to_string(path).ok(),
            inbox,
            logs,
        };
        (reloader, watcher)
    }

    /// Reads the file again. Valid and changed: a new engine replaces `link` and the state
    /// moves onto it; what the old engine sent and is still `queued` or in the `inbox` is
    /// dropped, so nothing it said lands on the new state (other messages wait in `queued`).
    /// Invalid or unreadable: the state shows why and the old engine runs on.
    fn reload(
        &mut self,
        state: &mut AppState,
        link: &mut EngineLink,
        inbox: &Receiver<Inbox>,
        queued: &mut VecDeque<Inbox>,
    ) {
        let name = reload::short_name(&self.path);
        let loaded = match reload::read(&self.path) {
            Ok(loaded) => loaded,
            Err(problem) => {
                state.reload_failed(problem);
                return;
            }
        };
        if self.text.as_deref() == Some(loaded.text.as_str()) {
            // Saved unchanged (or fixed back to what runs): nothing to restart.
            if state.reload_problem.take().is_some() {
                state.notice = Some(format!("{name} is valid again: the engine runs on"));
            }
            return;
        }
        let started = EngineLink::start(
            loaded.scenario.clone(),
            self.inbox.clone(),
            self.logs.clone(),
        );
        let fresh = match started {
            Ok(fresh) => fresh,
            Err(why) => {
                let summary = format!("{name} did not start");
                state.reload_failed(reload::Problem {
                    title: format!("{summary} — {}", reload::KEEPS_RUNNING),
                    summary,
                    lines: vec![format!("the engine did not start: {why}")],
                    count: 1,
                });
                return;
            }
        };
        // Once the old bridge has stopped, whatever it sent is in the inbox. The new one's
        // first tick may be there too: it goes as well (the next comes 250 ms later); replies
        // to the commands below cannot be, as they are not sent yet.
        std::mem::replace(link, fresh).shutdown();
        queued.extend(inbox.try_iter());
        queued.retain(|m| !matches!(m, Inbox::Engine(_) | Inbox::EngineStopped(_)));
        self.text = Some(loaded.text);
        for command in state.reload(loaded.scenario, &name) {
            link.send(command);
        }
    }
}

fn event_loop(
    terminal: &mut Tty,
    state: &mut AppState,
    inbox: &Receiver<Inbox>,
    link: &mut EngineLink,
    mut reloader: Option<&mut Reloader>,
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
        let mut messages = match inbox.recv_timeout(wait) {
            Ok(message) => vec![message],
            Err(RecvTimeoutError::Timeout) => Vec::new(),
            Err(RecvTimeoutError::Disconnected) => break,
        };
        messages.extend(inbox.try_iter());
        let mut messages = VecDeque::from(messages);
        while let Some(message) = messages.pop_front() {
            match (message, reloader.as_deref_mut()) {
                (Inbox::ScenarioChanged, Some(reloader)) => {
                    reloader.reload(state, link, inbox, &mut messages);
                    dirty = true;
                }
                (message, _) => dirty |= handle(state, message, link),
            }
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
