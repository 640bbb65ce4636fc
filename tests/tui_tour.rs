//! A tour that acts on the system, played in the TUI: the step's actions reach the engine as
//! the keys' commands do (the workers really die), its wait and expectations show live under
//! the narration with the figures as they stand, and going back does not act twice.

mod common;

use std::time::Duration;

use archsim::engine::Command;
use archsim::scenario::FaultAction;
use archsim::tui::action::Tab;
use archsim::tui::headless::Headless;
use archsim::tui::keymap::Key;

const SIZES: [(u16, u16); 4] = [(80, 24), (120, 40), (160, 48), (250, 70)];

fn text(app: &Headless, columns: u16, rows: u16) -> String {
    common::screen_text(&app.render(columns, rows))
}

/// The app on the default scenario with one tour step's text `from` changed to `to`.
fn with_step_changed(from: &str, to: &str) -> Headless {
    let toml = archsim::scenario::DEFAULT_SCENARIO.replace(from, to);
    assert_ne!(
        toml,
        archsim::scenario::DEFAULT_SCENARIO,
        "the step to change is there"
    );
    let scenario = archsim::scenario::load_str("saas.toml", &toml).expect("valid");
    Headless::start(
        std::sync::Arc::new(scenario),
        archsim::tui::theme::Theme::new(archsim::tui::ThemeName::Dark),
    )
    .expect("starts")
}

fn live_payment_workers(app: &Headless) -> u32 {
    app.engine()
        .snapshot()
        .topics
        .iter()
        .find(|t| t.topic.name == "payments")
        .map(|t| t.live_workers)
        .expect("the payments topic")
}

#[tokio::test(start_paused = true)]
async fn a_step_kills_workers_waits_for_the_queue_and_shows_its_figures() {
    let (mut app, _logs) = common::headless_with_logs(5).await;
    let first = app.state.start_tour("async-payments").expect("the tour");
    app.run(first).await;
    // Step 2 lets a minute pass: the narration counts it down, then ticks it and its figures.
    app.press(Key::Char('n')).await;
    assert_eq!(app.state.tab, Tab::Broker);
    let waiting = text(&app, 120, 40);
    assert!(
        waiting.contains("… letting 60 s of engine time pass: 60 s to go"),
        "{waiting}"
    );
    app.advance(Duration::from_secs(61)).await;
    let waited = text(&app, 120, 40);
    assert!(waited.contains("✓ 60 s of engine time passed"), "{waited}");
    assert!(
        waited.contains("✓ expects payments.live_workers == 3: now 3"),
        "{waited}"
    );

    // Step 3 kills two workers through the engine's fault command, exactly as `K` would.
    assert_eq!(live_payment_workers(&app), 3);
    let step = app.state.tour.playing.expect("playing").step;
    app.press(Key::Char('n')).await;
    assert_eq!(app.state.tour.playing.expect("playing").step, step + 1);
    assert_eq!(live_payment_workers(&app), 1, "two of three were killed");
    let pending = text(&app, 120, 40);
    assert!(
        pending.contains("… until payments.queued >= 20: now"),
        "{pending}"
    );
    // One worker at 300 ms cannot keep up with the checkouts: the queue passes 20 and the
    // wait ends by itself.
    for _ in 0..30 {
        app.advance(Duration::from_secs(1)).await;
        if app.state.tour.playing.is_some_and(|p| p.waited) {
            break;
        }
    }
    let held = text(&app, 120, 40);
    assert!(
        held.contains("✓ until payments.queued >= 20: held after"),
        "{held}"
    );
    assert!(
        held.contains("✓ expects payments.live_workers == 1: now 1"),
        "{held}"
    );
    for (columns, rows) in SIZES {
        let screen = text(&app, columns, rows);
        assert!(screen.contains("step 3/7"), "{columns}×{rows}:\n{screen}");
        insta::assert_snapshot!(format!("tour_kill_step_{columns}x{rows}"), screen);
    }

    // Back to step 2 and forward again: the kill is not applied a second time.
    app.press_all(&[Key::Char('p'), Key::Char('n')]).await;
    app.advance(Duration::from_millis(200)).await;
    assert_eq!(live_payment_workers(&app), 1, "no second kill");
    let again = text(&app, 120, 40);
    assert!(
        !again.contains("┃✗ expects"),
        "a step shown again is not failing:\n{again}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_steps_actions_are_the_commands_the_keys_send() {
    let (mut app, _logs) = common::headless_with_logs(1).await;
    app.state.start_tour("async-payments").expect("the tour");
    app.press(Key::Char('n')).await;
    // Step 3's commands, as the state hands them to the engine link (the headless app would
    // run them at once).
    let mut state = app.state.clone();
    let commands = state.handle_key(Key::Char('n'));
    assert!(
        commands.iter().any(|c| c.command
            == Command::Fault {
                action: FaultAction::KillWorkers {
                    pool: "payment-processor".into(),
                    count: 2,
                },
                duration_ms: Some(120_000),
            }),
        "{commands:?}"
    );
    // Back and forward again: nothing is sent for the actions a second time.
    let again: Vec<_> = [Key::Char('p'), Key::Char('n')]
        .into_iter()
        .flat_map(|key| state.handle_key(key))
        .collect();
    assert!(
        again
            .iter()
            .all(|c| !matches!(c.command, Command::Fault { .. })),
        "{again:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn schema_steps_select_a_column_follow_its_key_and_open_rows() {
    use archsim::tui::state::erd::ErdMode;
    let mut app = with_step_changed(
        r#"table = "projects", column = "tenant_id", say"#,
        r#"table = "projects", column = "tenant_id", follow = true, row = 2, say"#,
    );
    let first = app.state.start_tour("tenant-isolation").expect("the tour");
    app.run(first).await;
    // Step 1 opens the tenants' rows at the first.
    assert_eq!(app.state.erd.current_name(), "tenants");
    assert_eq!((app.state.erd.mode, app.state.erd.row), (ErdMode::Rows, 0));
    // Step 2 selects projects.tenant_id and follows it to the tenants table, second row.
    app.press(Key::Char('n')).await;
    assert_eq!(app.state.erd.trail, ["projects", "tenants"]);
    assert_eq!((app.state.erd.mode, app.state.erd.row), (ErdMode::Rows, 1));
    let screen = text(&app, 120, 40);
    assert!(screen.contains("Globex"), "the tenants' rows:\n{screen}");
}

#[tokio::test(start_paused = true)]
async fn a_tour_step_shows_the_first_copy_of_a_repeated_request_as_the_check_does() {
    // Bob's burst of 40: a learner's own send shows the first refused copy (the 429); a tour
    // step shows the first copy, the one `tour --check` holds its `expect` to.
    let mut app = with_step_changed(
        r#"{ view = "lifecycle", request = "alice-lists-projects", stage = "dns","#,
        r#"{ view = "lifecycle", request = "bob-burst", stage = "rate_limit","#,
    );
    let first = app.state.start_tour("first-request").expect("the tour");
    app.run(first).await;
    let sent = app
        .state
        .lifecycle
        .sent
        .as_ref()
        .expect("the burst's traces");
    assert_eq!(sent.traces.len(), 40);
    assert_eq!(sent.copy, 0, "the first copy");
    assert_eq!(sent.trace().map(|t| t.status), Some(200));
    // The learner's own Enter on the same request shows the first refused copy.
    app.state.tour.playing = None;
    let index = app
        .state
        .lifecycle
        .samples
        .iter()
        .position(|s| s.id == "bob-burst")
        .expect("a sample");
    app.state.lifecycle.selected = index;
    app.state.tab = Tab::Lifecycle;
    app.press(Key::Enter).await;
    let sent = app
        .state
        .lifecycle
        .sent
        .as_ref()
        .expect("the burst's traces");
    assert_eq!(
        sent.trace().map(|t| t.status),
        Some(429),
        "copy {}",
        sent.copy
    );
}
