//! Hot reload of the scenario file: a watcher that says "the file changed" once per save, and
//! the reading of the file into either a new scenario or the problems to show.
//!
//! ```text
//!  editor saves ─▶ notify (the file's directory) ─▶ filter: our file name; a write, create,
//!                  rename or remove ─▶ Debounce (quiet 250 ms) ─▶ on_change()
//!                                                                  └─▶ Inbox::ScenarioChanged
//!  app loop ─▶ read(path) ─▶ Ok(Loaded) → a new engine   |   Err(Problem) → the overlay
//! ```
//!
//! The directory is watched rather than the file: editors save by writing a new file and renaming
//! it over the old one, and a watch on the old file's inode would miss every save after the
//! first. An editor's save is a burst of events (create, write, rename, attributes); the
//! debounce turns a burst into one reload, decided by [`Debounce`], a pure type tested without
//! sleeping.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::scenario::{self, Scenario};

/// How long the file must stay quiet after an event before it is read again.
pub const QUIET: Duration = Duration::from_millis(250);

/// Turns a burst of events into one: due once [`Debounce::quiet`] has passed since the last
/// event noted, then idle until the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    /// The quiet time that ends a burst.
    pub quiet: Duration,
    last: Option<Instant>,
}

impl Debounce {
    /// A debounce that waits `quiet` after the last event.
    pub fn new(quiet: Duration) -> Self {
        Self { quiet, last: None }
    }

    /// An event arrived at `now`: the burst goes on (and the wait starts again).
    pub fn note(&mut self, now: Instant) {
        self.last = Some(now);
    }

    /// Whether a burst ended by `now`; true once per burst (the burst is then forgotten).
    pub fn due(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.saturating_duration_since(last) >= self.quiet => {
                self.last = None;
                true
            }
            _ => false,
        }
    }

    /// How long until the burst is due, from `now`; `None` when no burst is going on.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.last.map(|last| {
            self.quiet
                .saturating_sub(now.saturating_duration_since(last))
        })
    }
}

/// Whether an event of `kind` can mean the file's content changed. Opening or reading the file
/// (which the reload itself does) does not; closing it after writing does.
fn may_change_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
    }
}

/// What reaches the debounce thread.
enum Signal {
    /// An event about the file.
    Event,
    /// The watcher is dropped: the thread ends.
    Stop,
}

/// Watches one scenario file; stops (and its thread ends) when dropped.
pub struct ScenarioWatcher {
    watcher: Option<RecommendedWatcher>,
    stop: mpsc::Sender<Signal>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ScenarioWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioWatcher").finish_non_exhaustive()
    }
}

impl ScenarioWatcher {
    /// Watches `file` (through its directory, see the module doc) and calls `on_change` once per
    /// burst of changes, `quiet` after the last; `on_change` returning false stops the watching.
    /// Fails when the directory cannot be watched (it does not exist, no inotify watch is left).
    pub fn start(
        file: &Path,
        quiet: Duration,
        mut on_change: impl FnMut() -> bool + Send + 'static,
    ) -> Result<Self, String> {
        let name: OsString = file
            .file_name()
            .ok_or_else(|| format!("{} names no file", file.display()))?
            .to_os_string();
        let directory = match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (raw, events) = mpsc::channel();
        let stop = raw.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let ours = event.is_ok_and(|event| {
                    may_change_content(&event.kind)
                        && event
                            .paths
                            .iter()
                            .any(|p| p.file_name() == Some(name.as_os_str()))
                });
                if ours {
                    let _ = raw.send(Signal::Event);
                }
            })
            .map_err(|e| format!("cannot watch {}: {e}", file.display()))?;
        watcher
            .watch(&directory, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", directory.display()))?;
        let thread = std::thread::Builder::new()
            .name("archsim-watch".into())
            .spawn(move || {
                let mut debounce = Debounce::new(quiet);
                loop {
                    // Idle: sleep until an event; in a burst, until it would be due.
                    let wait = debounce
                        .wait(Instant::now())
                        .unwrap_or(Duration::from_secs(3600));
                    match events.recv_timeout(wait) {
                        Ok(Signal::Event) => debounce.note(Instant::now()),
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(Signal::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                    if debounce.due(Instant::now()) && !on_change() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("cannot start the watcher thread: {e}"))?;
        Ok(Self {
            watcher: Some(watcher),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ScenarioWatcher {
    fn drop(&mut self) {
        self.watcher = None;
        let _ = self.stop.send(Signal::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A scenario read from its file, with the text it was read from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated scenario.
    pub scenario: Arc<Scenario>,
    /// The file's text (a save that changes nothing is not worth a restart).
    pub text: String,
}

/// Why the file on disk cannot replace the running scenario, ready for the overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The overlay's title, e.g. `saas.toml has 2 errors — the old scenario keeps running`.
    pub title: String,
    /// The same in a few words for the status bar, e.g. `saas.toml has 2 errors`.
    pub summary: String,
    /// The problems as `archsim check` prints them: `FILE:LINE:COL: error: …`, its `help:`,
    /// the source line and a caret line under the offending text.
    pub lines: Vec<String>,
    /// How many errors (1 for a file that cannot be read).
    pub count: usize,
}

/// What is said about the old engine while the file is wrong.
pub const KEEPS_RUNNING: &str = "the old scenario keeps running";

/// The name `path` is shown by in titles (its file name).
pub fn short_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// Reads and validates the scenario at `path` with the loader `archsim check` uses.
pub fn read(path: &Path) -> Result<Loaded, Problem> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        let summary = format!("cannot read {}", short_name(path));
        Problem {
            title: format!("{summary} — {KEEPS_RUNNING}"),
            summary,
            lines: vec![format!(
                "cannot read {}: {}",
                path.display(),
                io_words(&error)
            )],
            count: 1,
        }
    })?;
    check(&path.display().to_string(), text)
}

/// Validates `text`, read from the file called `file` (as errors name it).
pub fn check(file: &str, text: String) -> Result<Loaded, Problem> {
    match scenario::load_str(file, &text) {
        Ok(scenario) => Ok(Loaded {
            scenario: Arc::new(scenario),
            text,
        }),
        Err(diagnostics) => {
            let count = diagnostics.len();
            let summary = format!(
                "{} has {}",
                short_name(Path::new(file)),
                crate::units::count(count as u64, "error")
            );
            Err(Problem {
                title: format!("{summary} — {KEEPS_RUNNING}"),
                summary,
                lines: diagnostics.render().lines().map(str::to_string).collect(),
                count,
            })
        }
    }
}

/// An I/O error in words, without the `(os error 2)` tail.
fn io_words(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_burst_of_events_is_due_once_after_the_quiet_time() {
        let start = Instant::now();
        let mut debounce = Debounce::new(250 * MS);
        assert!(!debounce.due(start), "nothing happened yet");
        assert_eq!(debounce.wait(start), None);
        for i in 0..10 {
            debounce.note(start + i * 20 * MS);
        }
        let last = start + 180 * MS;
        assert!(!debounce.due(last + 249 * MS), "still within the burst");
        assert_eq!(debounce.wait(last + 100 * MS), Some(150 * MS));
        assert!(debounce.due(last + 250 * MS));
        assert!(!debounce.due(last + 400 * MS), "due once per burst");
        assert_eq!(debounce.wait(last + 400 * MS), None);
    }

    #[test]
    fn an_event_within_the_quiet_time_restarts_the_wait() {
        let start = Instant::now();
        let mut debounce = Debounce::new(250 * MS);
        debounce.note(start);
        debounce.note(start + 200 * MS);
        assert!(!debounce.due(start + 300 * MS));
        assert!(debounce.due(start + 450 * MS));
        // A second burst later is due again.
        debounce.note(start + 1000 * MS);
        assert!(debounce.due(start + 1250 * MS));
    }

    #[test]
    fn reading_and_opening_do_not_count_as_changes() {
        use notify::event::{CreateKind, ModifyKind};
        assert!(!may_change_content(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!may_change_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(may_change_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(may_change_content(&EventKind::Create(CreateKind::File)));
        assert!(may_change_content(&EventKind::Modify(ModifyKind::Any)));
    }

    #[test]
    fn a_missing_file_is_a_problem_in_words() {
        let problem = read(Path::new("/nonexistent/archsim/gone.toml")).expect_err("missing");
        assert_eq!(problem.count, 1);
        assert!(problem.title.starts_with("cannot read gone.toml"));
        assert_eq!(
            problem.lines,
            vec!["cannot read /nonexistent/archsim/gone.toml: No such file or directory"]
        );
    }
}
