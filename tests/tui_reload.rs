//! Hot reload of the scenario file: the state keeps its place on the new scenario, a broken save
//! shows its positioned errors over the running view, and the watcher reports a save once.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use archsim::engine::Clock;
use archsim::scenario::{DEFAULT_SCENARIO, Scenario, load_str};
use archsim::tui::ThemeName;
use archsim::tui::action::Tab;
use archsim::tui::headless::{Headless, render};
use archsim::tui::keymap::Key;
use archsim::tui::reload::{self, ScenarioWatcher};
use archsim::tui::state::AppState;
use archsim::tui::theme::Theme;

const SIZES: [(u16, u16); 4] = [(80, 24), (120, 40), (160, 48), (250, 70)];

/// The default scenario with `from` replaced by `to` (each must be there).
fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = DEFAULT_SCENARIO.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "the default scenario has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    text
}

fn scenario(text: &str) -> Arc<Scenario> {
    Arc::new(load_str("saas.toml", text).unwrap_or_else(|d| panic!("invalid:\n{d}")))
}

async fn app() -> Headless {
    let mut app = Headless::start(scenario(DEFAULT_SCENARIO), Theme::new(ThemeName::Dark))
        .expect("engine starts");
    app.advance(Duration::from_secs(2)).await;
    app
}

fn typed(text: &str) -> Vec<Key> {
    text.chars().map(Key::Char).collect()
}

/// The names of the places the user can be in, to compare before and after a reload.
fn place(state: &AppState) -> (Tab, Option<String>, Option<String>, String, String) {
    let stage = state.lifecycle.sent.as_ref().and_then(|sent| {
        sent.trace()
            .and_then(|t| t.stages.get(sent.stage))
            .map(|s| s.stage.clone())
    });
    (
        state.tab,
        state.lifecycle.selected_sample().map(|s| s.id.clone()),
        stage,
        state.erd.current_name().to_string(),
        state.scenario.topics[state.broker.selected].name.clone(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_valid_save_keeps_every_views_place_on_the_new_scenario() {
    let mut app = app().await;
    // Bob's create, refused at RBAC, opened at that stage.
    app.press_all(&[Key::Char('j'), Key::Char('j'), Key::Enter])
        .await;
    let rbac = app
        .state
        .lifecycle
        .sent
        .as_ref()
        .and_then(|s| s.trace())
        .and_then(|t| t.stages.iter().position(|s| s.stage == "rbac"))
        .expect("the request reached rbac");
    for _ in 0..rbac {
        app.press(Key::Right).await;
    }
    // The users table, and the webhooks topic, where the Broker view is left open.
    app.press_all(&[Key::Char('2'), Key::Char('/')]).await;
    app.press_all(&typed("users")).await;
    app.press_all(&[Key::Enter, Key::Char('3'), Key::Char('j')])
        .await;
    app.press(Key::Char('+')).await;
    let before = place(&app.state);
    assert_eq!(
        before,
        (
            Tab::Broker,
            Some("bob-creates-project".into()),
            Some("rbac".into()),
            "users".into(),
            "webhooks".into()
        )
    );

    // The author changes a rate limit and a worker count, and saves.
    let text = edited(&[
        ("requests_per_second = 20", "requests_per_second = 5"),
        ("concurrency = 3", "concurrency = 6"),
    ]);
    app.reload(scenario(&text), "saas.toml")
        .await
        .expect("the new engine starts");

    assert_eq!(place(&app.state), before, "every view kept its place");
    assert_eq!(app.state.scenario.rate_limit.requests_per_second, 5.0);
    assert_eq!(app.state.scenario.workers[0].concurrency, 6);
    let sent = app.state.lifecycle.sent.as_ref().expect("sent again");
    assert_eq!(sent.trace().map(|t| t.status), Some(403));
    assert_eq!(app.state.lifecycle.tour_note, None);
    assert_eq!(app.state.rate, 1.5, "the rate chosen is kept");
    assert!(
        app.state
            .notice
            .as_deref()
            .is_some_and(|n| n.starts_with("reloaded saas.toml")),
        "{:?}",
        app.state.notice
    );
    // The new engine runs the new pool: six workers on payments.
    app.advance(Duration::from_secs(1)).await;
    let snapshot = app.state.snapshot.as_ref().expect("a snapshot");
    let payments = snapshot
        .topics
        .iter()
        .find(|t| t.topic.name == "payments")
        .expect("payments");
    assert_eq!(payments.live_workers, 6);
}

#[tokio::test(start_paused = true)]
async fn what_the_new_scenario_lacks_falls_back_to_a_fresh_start() {
    let mut app = app().await;
    app.press_all(&[Key::Char('j'), Key::Char('j'), Key::Enter])
        .await;
    assert!(app.state.lifecycle.sent.is_some());
    // A tour on its last step, Carol's guess.
    let commands = app.state.start_tour("tenant-isolation").expect("a tour");
    app.run(commands).await;
    app.press_all(&[Key::Char('n'), Key::Char('n'), Key::Char('n')])
        .await;
    let selected = app.state.lifecycle.selected_sample().map(|s| s.id.clone());

    // The selected request renamed: the picker goes back to its first request, nothing is sent.
    let text = edited(&[("id = \"carol-guesses-an-id\"", "id = \"carol-tries-an-id\"")]);
    let renamed = text.replace(
        "request = \"carol-guesses-an-id\"",
        "request = \"carol-tries-an-id\"",
    );
    assert_eq!(selected.as_deref(), Some("carol-guesses-an-id"));
    app.reload(scenario(&renamed), "saas.toml")
        .await
        .expect("reloads");
    assert_eq!(app.state.lifecycle.selected, 0);
    assert!(app.state.lifecycle.sent.is_none());
    let playing = app.state.tour.playing.expect("the tour plays on");
    assert_eq!(
        app.state.scenario.tours[playing.tour].id,
        "tenant-isolation"
    );
    assert_eq!(playing.step, 3, "at the same step");

    // The tour renamed: it ends.
    let text = renamed.replace("id = \"tenant-isolation\"", "id = \"isolation\"");
    app.reload(scenario(&text), "saas.toml")
        .await
        .expect("reloads");
    assert_eq!(app.state.tour.playing, None);
}

#[test]
fn a_reload_keeps_the_screen_as_the_user_set_it_and_reads_the_rows_again() {
    let mut state = AppState::new(
        scenario(DEFAULT_SCENARIO),
        Theme::new(ThemeName::Light),
        Clock::Virtual,
    );
    state.set_presenter(true);
    state.handle_key(Key::Char('2'));
    state.handle_key(Key::Char('r'));
    state.reload_failed(broken());
    let commands = state.reload(scenario(DEFAULT_SCENARIO), "saas.toml");
    assert_eq!(state.tab, Tab::Erd);
    assert!(
        state.presenter && state.zoom,
        "presenter mode and zoom stay"
    );
    assert_eq!(state.theme, Theme::new(ThemeName::Light));
    assert!(
        state.reload_problem.is_none(),
        "a valid save ends the overlay"
    );
    assert!(
        matches!(
            commands.as_slice(),
            [archsim::tui::engine_link::Outgoing {
                command: archsim::engine::Command::Rows { .. },
                ..
            }]
        ),
        "the rows on screen are read from the new engine: {commands:?}"
    );
    assert_eq!(state.erd.mode, archsim::tui::state::erd::ErdMode::Rows);
}

fn broken() -> reload::Problem {
    let text = edited(&[
        ("requests_per_second = 20", "requests_per_secnd = 20"),
        ("concurrency = 3", "concurrency = \"three\""),
    ]);
    match reload::check("saas.toml", text) {
        Ok(_) => panic!("the broken edit validated"),
        Err(problem) => problem,
    }
}

#[test]
fn a_broken_save_lists_each_error_with_its_line_and_column() {
    let problem = broken();
    assert_eq!(problem.count, 2, "{problem:?}");
    assert!(
        problem
            .title
            .starts_with("saas.toml has 2 errors — the old scenario keeps running")
    );
    let positioned: Vec<&String> = problem
        .lines
        .iter()
        .filter(|l| l.starts_with("saas.toml:"))
        .collect();
    assert_eq!(positioned.len(), 2, "{:#?}", problem.lines);
    assert!(
        positioned[0].starts_with("saas.toml:44:1: error:"),
        "{positioned:?}"
    );
}

#[test]
fn the_error_overlay_at_every_size_and_esc_hides_it() {
    let mut state = AppState::new(
        scenario(DEFAULT_SCENARIO),
        Theme::new(ThemeName::Dark),
        Clock::Virtual,
    );
    state.reload_failed(broken());
    for (columns, rows) in SIZES {
        insta::assert_snapshot!(
            format!("reload_errors_{columns}x{rows}"),
            common::screen_text(&render(&state, columns, rows))
        );
    }
    state.handle_key(Key::Esc);
    assert!(state.shown_reload_problem().is_none());
    let screen = common::screen_text(&render(&state, 120, 40));
    assert!(!screen.contains("Esc hides"), "{screen}");
    assert!(
        screen.contains("saas.toml has 2 errors"),
        "the status bar still says so:\n{screen}"
    );
}

#[test]
fn an_unreadable_file_is_reported_in_words() {
    let mut state = AppState::new(
        scenario(DEFAULT_SCENARIO),
        Theme::new(ThemeName::Dark),
        Clock::Virtual,
    );
    let gone = reload::read(Path::new("/nonexistent/archsim/saas.toml")).expect_err("missing");
    state.reload_failed(gone);
    let screen = common::screen_text(&render(&state, 120, 40));
    assert!(screen.contains("cannot read saas.toml"), "{screen}");
    assert!(
        screen.contains("/nonexistent/archsim/saas.toml: No such file or directory"),
        "{screen}"
    );
}

/// The watcher test's quiet time: longer than the app's [`reload::QUIET`], so that a loaded machine
/// (two cores shared by several builds) pausing the test between two writes of one storm does
/// not split it.
const TEST_QUIET: Duration = Duration::from_secs(1);

/// Waits up to 10 s for a change; true if one came.
fn changed(changes: &mpsc::Receiver<()>) -> bool {
    changes.recv_timeout(Duration::from_secs(10)).is_ok()
}

/// No change comes within two quiet times.
fn still(changes: &mpsc::Receiver<()>) -> bool {
    changes.recv_timeout(TEST_QUIET * 2).is_err()
}

#[test]
fn the_watcher_reports_a_save_once_however_it_is_written() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("saas.toml");
    std::fs::write(&file, DEFAULT_SCENARIO).expect("write");
    let (sender, changes) = mpsc::channel();
    let _watcher = ScenarioWatcher::start(&file, TEST_QUIET, move || sender.send(()).is_ok())
        .expect("the directory can be watched");

    // A plain write.
    std::fs::write(&file, edited(&[("concurrency = 3", "concurrency = 4")])).expect("write");
    assert!(changed(&changes), "a write is reported");

    // A save storm: several writes in quick succession restart once.
    let storm: Vec<String> = (5..10)
        .map(|n| edited(&[("concurrency = 3", &format!("concurrency = {n}"))]))
        .collect();
    for text in storm {
        std::fs::write(&file, text).expect("write");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(changed(&changes), "the storm is reported");
    assert!(still(&changes), "once");

    // An editor's save: a new file renamed over the old one (a watch on the file would miss it).
    let swap = dir.path().join(".saas.toml.swp");
    std::fs::write(&swap, DEFAULT_SCENARIO).expect("write");
    assert!(still(&changes), "another file in the directory is not ours");
    std::fs::rename(&swap, &file).expect("rename");
    assert!(changed(&changes), "a rename over the file is reported");
    assert!(still(&changes), "once");

    // Reading the file (as a reload does) is not a change.
    let _ = std::fs::read_to_string(&file).expect("read");
    assert!(still(&changes), "a read is not a change");

    // Deleted: reported (the app says it cannot read it), and back again.
    std::fs::remove_file(&file).expect("remove");
    assert!(changed(&changes), "a delete is reported");
    std::fs::write(&file, DEFAULT_SCENARIO).expect("write");
    assert!(changed(&changes), "the file coming back is reported");
}

/// The real binary in a pseudo-terminal, as a scenario author uses it.
mod in_a_terminal {
    use super::common::pty::Terminal;

    #[test]
    fn saving_the_file_changes_the_running_tui_and_a_broken_save_shows_where() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("mine.toml");
        let original = archsim::scenario::DEFAULT_SCENARIO;
        std::fs::write(&file, original).expect("write");
        let mut screen = Terminal::spawn(&[file.as_os_str()], 120, 40);
        screen.wait_for("Sample requests");
        screen.press(b"3");
        screen.wait_for("3 workers");

        // Seven payment workers instead of three: the Broker view says so.
        std::fs::write(
            &file,
            original.replacen("concurrency = 3", "concurrency = 7", 1),
        )
        .expect("write");
        screen.wait_for("reloaded mine.toml");
        screen.wait_for("7 workers");

        // A broken edit: the overlay says where and why, the old engine runs on.
        let broken = original.replacen("concurrency = 3", "concurrency = \"seven\"", 1);
        let line = broken
            .lines()
            .position(|l| l.contains("\"seven\""))
            .expect("the edit")
            + 1;
        std::fs::write(&file, &broken).expect("write");
        screen.wait_for("mine.toml has 1 error — the old scenario keeps running");
        screen.wait_for(&format!("mine.toml:{line}:15: error:"));
        screen.press(b"\x1b");
        screen.wait_gone("Esc hides");

        // Deleted: said in words; back and valid: the overlay goes and the new file runs.
        std::fs::remove_file(&file).expect("remove");
        screen.wait_for("No such file or directory");
        std::fs::write(
            &file,
            original.replacen("concurrency = 3", "concurrency = 5", 1),
        )
        .expect("write");
        screen.wait_for("5 workers");
        screen.wait_gone("Esc hides");
        screen.press(b"q");
        screen.wait_exit();
    }
}
