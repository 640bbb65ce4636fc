//! Rendering snapshots of every TUI view at 80×24, 120×40, 160×48 and 250×70, from a
//! deterministic engine (virtual time, the scenario's seed) driven by
//! real keys through the headless app.

mod common;

use std::time::Duration;

use archsim::tui::ThemeName;
use archsim::tui::headless::{Headless, render};
use archsim::tui::keymap::Key;
use archsim::tui::theme::Theme;
use ratatui::buffer::Buffer;

const SIZES: [(u16, u16); 4] = [(80, 24), (120, 40), (160, 48), (250, 70)];

fn text(buffer: &Buffer) -> String {
    common::screen_text(buffer)
}

/// A headless app 20 engine seconds into the default scenario, with logs captured.
async fn app() -> (Headless, tracing::subscriber::DefaultGuard) {
    common::headless_with_logs(20).await
}

fn snapshot_all(app: &Headless, name: &str) {
    for (columns, rows) in SIZES {
        insta::assert_snapshot!(
            format!("{name}_{columns}x{rows}"),
            text(&app.render(columns, rows))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn lifecycle_before_and_after_a_request() {
    let (mut app, _logs) = app().await;
    snapshot_all(&app, "lifecycle_empty");
    // Bob (viewer) tries to create a project: refused at RBAC with the missing bit marked.
    app.press_all(&[Key::Char('j'), Key::Char('j'), Key::Enter])
        .await;
    let sent = app
        .state
        .lifecycle
        .sent
        .as_ref()
        .expect("a trace came back");
    assert_eq!(sent.trace().map(|t| t.status), Some(403));
    let rbac = sent
        .trace()
        .and_then(|t| t.stages.iter().position(|s| s.stage == "rbac"))
        .expect("the request reached rbac");
    for _ in 0..rbac {
        app.press(Key::Right).await;
    }
    snapshot_all(&app, "lifecycle_rbac_reject");
    // Colour carries meaning: the refused stage in the reject colour, unreached ones dim.
    let theme = Theme::new(ThemeName::Dark);
    let buffer = app.render(160, 48);
    let style_of = |needle: &str| {
        let area = buffer.area;
        (0..area.height).find_map(|y| {
            let row: Vec<&str> = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
            let line = row.concat();
            line.find(needle).map(|byte| {
                let column = line[..byte].chars().count() as u16;
                buffer[(column, y)].style()
            })
        })
    };
    assert_eq!(
        style_of("Database").and_then(|s| s.fg),
        theme.dim.fg,
        "a stage the request never reached is dim"
    );
    assert_eq!(
        style_of("✓ DNS").and_then(|s| s.fg),
        theme.pass.fg,
        "a stage passed is in the pass colour"
    );
    assert_eq!(
        style_of("rbac · reject").and_then(|s| s.fg),
        theme.reject.fg,
        "the refusal is in the reject colour"
    );
}

/// Selects the sample request `id` in the picker and sends it.
async fn send_sample(app: &mut Headless, id: &str) {
    let index = app
        .state
        .lifecycle
        .samples
        .iter()
        .position(|s| s.id == id)
        .expect("a sample request with that id");
    for _ in 0..index {
        app.press(Key::Char('j')).await;
    }
    app.press(Key::Enter).await;
}

#[tokio::test(start_paused = true)]
async fn every_lifecycle_stage_is_visible_at_every_size() {
    let (mut app, _logs) = app().await;
    // A payment runs the longest path: every stage through publish and response.
    send_sample(&mut app, "alice-pays-invoice").await;
    let trace = app
        .state
        .lifecycle
        .sent
        .as_ref()
        .and_then(|s| s.trace())
        .expect("a trace came back")
        .clone();
    for _ in 1..trace.stages.len() {
        app.press(Key::Right).await;
    }
    let titles: Vec<String> = app
        .state
        .topology
        .layers()
        .into_iter()
        .flatten()
        .map(|stage| stage.title.clone())
        .collect();
    for (columns, rows) in SIZES {
        let screen = text(&app.render(columns, rows));
        // The last stage is where the learner is: always on screen, whatever the size.
        assert!(
            screen.contains("Response"),
            "{columns}×{rows}: the current stage is not drawn:\n{screen}"
        );
        if columns >= 120 && rows >= 30 {
            // The graph layout: every stage of the pipeline, not only those reached.
            for title in &titles {
                let shown = title.chars().take(6).collect::<String>();
                assert!(
                    screen.contains(&shown),
                    "{columns}×{rows}: stage {title} is not drawn:\n{screen}"
                );
            }
        }
        insta::assert_snapshot!(format!("lifecycle_last_stage_{columns}x{rows}"), screen);
    }
}

#[tokio::test(start_paused = true)]
async fn another_copy_of_a_burst_opens_at_the_same_stage() {
    let (mut app, _logs) = app().await;
    send_sample(&mut app, "bob-burst").await;
    let stage_id = |app: &Headless| {
        let sent = app.state.lifecycle.sent.as_ref().expect("sent");
        sent.trace()
            .and_then(|t| t.stages.get(sent.stage))
            .map(|s| s.stage.clone())
    };
    let copies = app
        .state
        .lifecycle
        .sent
        .as_ref()
        .map_or(0, |s| s.traces.len());
    assert!(copies > 1, "a burst sends copies");
    // Walk to the response of the copy shown, then look at the others: still the response.
    for _ in 0..30 {
        app.press(Key::Right).await;
    }
    assert_eq!(stage_id(&app).as_deref(), Some("response"));
    for _ in 0..copies {
        app.press(Key::Char('[')).await;
        assert_eq!(stage_id(&app).as_deref(), Some("response"));
    }
    app.press(Key::Char(']')).await;
    assert_eq!(stage_id(&app).as_deref(), Some("response"));
}

#[tokio::test(start_paused = true)]
async fn lifecycle_database_stage_shows_sql_and_plan() {
    let (mut app, _logs) = app().await;
    // Pay an invoice: a write, with SQL, parameters and published events.
    let pay = app
        .state
        .lifecycle
        .samples
        .iter()
        .position(|s| s.id == "alice-pays-invoice")
        .expect("the payment sample");
    for _ in 0..pay {
        app.press(Key::Down).await;
    }
    app.press(Key::Enter).await;
    let trace = app
        .state
        .lifecycle
        .sent
        .as_ref()
        .and_then(|s| s.trace())
        .expect("a trace");
    assert_eq!(trace.status, 201);
    let db = trace
        .stages
        .iter()
        .position(|s| s.stage == "database")
        .expect("reached the database");
    for _ in 0..db {
        app.press(Key::Char('l')).await;
    }
    snapshot_all(&app, "lifecycle_database");
}

#[tokio::test(start_paused = true)]
async fn erd_schema_follow_a_key_and_rows() {
    let (mut app, _logs) = app().await;
    app.press(Key::Char('2')).await;
    app.press_all(&[Key::Char('j'), Key::Char('j'), Key::Char('l')])
        .await; // users, columns focused
    snapshot_all(&app, "erd_users");
    app.press_all(&[Key::Char('j'), Key::Enter]).await; // tenant_id → tenants
    assert_eq!(app.state.erd.current_name(), "tenants");
    assert_eq!(app.state.erd.trail, vec!["users", "tenants"]);
    app.press(Key::Backspace).await;
    assert_eq!(app.state.erd.current_name(), "users");
    app.press(Key::Char('r')).await;
    snapshot_all(&app, "erd_rows_all_tenants");
    app.press(Key::Char('t')).await;
    let rows = app.state.erd.shown_rows().expect("rows read");
    let record = rows.result.as_ref().expect("rows");
    assert!(
        record
            .rows
            .iter()
            .all(|r| r.get("tenant_id").and_then(|v| v.as_i64()) == Some(1)),
        "tenant 1's view holds only its own rows"
    );
    snapshot_all(&app, "erd_rows_tenant_1");
}

#[tokio::test(start_paused = true)]
async fn rows_on_screen_follow_what_the_workers_write() {
    let (mut app, _logs) = app().await;
    app.press(Key::Char('2')).await;
    while app.state.erd.current_name() != "payments" {
        app.press(Key::Char('j')).await;
    }
    app.press(Key::Char('r')).await;
    let count = |app: &Headless, status: &str| {
        let rows = app.state.erd.shown_rows().expect("rows read");
        let record = rows.result.as_ref().expect("rows");
        record.rows.iter().filter(|r| r["status"] == status).count()
    };
    let before = count(&app, "completed");
    // Checkout traffic runs and the payment workers settle payments: the rows shown are read
    // again while they are on screen, without a key.
    app.advance(Duration::from_secs(3)).await;
    let after = count(&app, "completed");
    assert!(after > before, "completed payments {before} → {after}");
    assert!(
        text(&app.render(160, 48)).contains("completed"),
        "the screen shows them"
    );
}

#[tokio::test(start_paused = true)]
async fn broker_view_and_a_killed_worker() {
    let (mut app, _logs) = app().await;
    app.press(Key::Char('3')).await;
    snapshot_all(&app, "broker");
    app.press(Key::Char('K')).await;
    app.press(Key::Enter).await;
    assert!(
        app.state.broker.followed.is_some(),
        "the payment is followed"
    );
    app.advance(Duration::from_secs(5)).await;
    let crashed = app
        .state
        .snapshot
        .as_ref()
        .and_then(|s| s.topics.first())
        .map(|t| {
            t.workers
                .iter()
                .filter(|w| matches!(w, archsim::engine::WorkerState::Crashed))
                .count()
        });
    assert_eq!(crashed, Some(1));
    snapshot_all(&app, "broker_after_kill");
}

#[tokio::test(start_paused = true)]
async fn logs_and_help() {
    let (mut app, _logs) = app().await;
    app.press(Key::Char('4')).await;
    snapshot_all(&app, "logs");
    app.press(Key::Char('l')).await; // warn and above
    snapshot_all(&app, "logs_warn");
    app.press(Key::Char('?')).await;
    snapshot_all(&app, "help_logs");
    app.press(Key::Char('1')).await;
    app.press(Key::Char('?')).await;
    snapshot_all(&app, "help_lifecycle");
}

#[tokio::test(start_paused = true)]
async fn every_theme_renders_every_view() {
    let (app, _logs) = app().await;
    for name in [ThemeName::Dark, ThemeName::Light, ThemeName::HighContrast] {
        let mut state = app.state.clone();
        state.theme = Theme::new(name);
        for key in ['1', '2', '3', '4'] {
            state.handle_key(Key::Char(key));
            let buffer = render(&state, 100, 30);
            assert!(text(&buffer).contains("archsim"));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn z_gives_the_main_panel_the_whole_screen_and_back() {
    let (mut app, _logs) = app().await;
    send_sample(&mut app, "alice-pays-invoice").await;
    app.press(Key::Char('z')).await;
    for (columns, rows) in SIZES {
        let screen = text(&app.render(columns, rows));
        assert!(
            !screen.contains("Sample requests"),
            "{columns}×{rows}:\n{screen}"
        );
        assert!(
            screen.contains("Stage graph") && screen.contains("Stage 1/"),
            "{screen}"
        );
    }
    insta::assert_snapshot!("lifecycle_zoomed_80x24", text(&app.render(80, 24)));
    app.press(Key::Char('3')).await;
    let screen = text(&app.render(120, 40));
    assert!(
        !screen.contains("Events"),
        "only the topic panel:\n{screen}"
    );
    assert!(screen.contains("payments"), "{screen}");
    app.press(Key::Char('z')).await;
    assert!(text(&app.render(120, 40)).contains("Events"));
    // The schema: the table without the list of tables.
    app.press_all(&[Key::Char('2'), Key::Char('z')]).await;
    let screen = text(&app.render(120, 40));
    assert!(!screen.contains("Tables"), "{screen}");
    assert!(screen.contains("tenants"), "{screen}");
}

#[tokio::test(start_paused = true)]
async fn the_stage_detail_says_where_it_is_scrolled_and_stops_at_the_end() {
    let (mut app, _logs) = app().await;
    send_sample(&mut app, "alice-pays-invoice").await;
    // The database stage: SQL, parameters and plan make a long detail.
    let database = app
        .state
        .lifecycle
        .sent
        .as_ref()
        .and_then(|s| s.trace())
        .and_then(|t| t.stages.iter().position(|s| s.stage == "database"))
        .expect("the payment reached the database");
    for _ in 0..database {
        app.press(Key::Right).await;
    }
    let screen = text(&app.render(80, 24));
    assert!(
        screen.contains("lines 1–"),
        "a position when it does not fit:\n{screen}"
    );
    for _ in 0..50 {
        app.press(Key::PageDown).await;
        app.render(80, 24);
    }
    let bottom = text(&app.render(80, 24));
    let position = bottom
        .lines()
        .find_map(|l| l.split("lines ").nth(1))
        .expect("a position");
    // At the end: the last line shown is the last line there is.
    let (shown, total) = position
        .split_once(" of ")
        .map(|(range, rest)| {
            let last = range.split('–').nth(1).unwrap_or_default().to_string();
            let total: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (last, total)
        })
        .expect("lines a–b of n");
    assert_eq!(shown, total, "{bottom}");
    // One PgUp moves back at once, not after working off the extra PgDn presses.
    app.press(Key::PageUp).await;
    assert_ne!(text(&app.render(80, 24)), bottom);
}

#[tokio::test(start_paused = true)]
async fn a_small_terminal_is_told_the_minimum_size_in_words_that_fit() {
    let (app, _logs) = app().await;
    for (columns, rows) in [(20, 5), (40, 10), (60, 15), (79, 40), (120, 23)] {
        let screen = text(&app.render(columns, rows));
        assert!(
            screen.contains("80×24"),
            "{columns}×{rows} does not name the minimum:\n{screen}"
        );
        // Whole lines only: nothing cut, no frames drawn around nothing.
        for line in screen.lines() {
            let line = line.trim_end();
            assert!(!line.ends_with('…'), "{columns}×{rows}: cut line {line:?}");
            assert!(
                !line.contains('┌') && !line.contains('╭'),
                "{columns}×{rows}: a frame"
            );
        }
    }
    let screen = text(&app.render(60, 15));
    assert!(screen.contains("this one is 60×15"), "{screen}");
    assert!(!text(&app.render(80, 24)).contains("needs"));
}

/// Not an assertion on time (DESIGN §6): prints the mean frame time of each view, and of a blank
/// frame on the same terminal as the baseline, for the notes.
#[tokio::test(start_paused = true)]
async fn broker_dead_letter_table_and_the_redrive_key() {
    let (mut app, _logs) = app().await;
    // A poison message into payments fails its five attempts and is dead-lettered.
    app.press_all(&[Key::Char('3'), Key::Char('x')]).await;
    app.advance(Duration::from_secs(10)).await;
    let row = |app: &Headless| {
        text(&app.render(160, 48))
            .lines()
            .find_map(|line| {
                let start = line.find("│payments.dlq")?;
                Some(line[start..].chars().take(94).collect::<String>())
            })
            .expect("the dead-letter table lists payments.dlq")
    };
    let before = row(&app);
    let columns: Vec<&str> = before.split_whitespace().collect();
    assert_eq!(columns.get(1), Some(&"1"), "depth 1: {before}");
    assert!(
        before.contains("poison message: the handler cannot"),
        "the last error: {before}"
    );

    app.press(Key::Char('R')).await;
    let notice = app.state.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("redrive of payments.dlq: 1 dead letter(s) sent back, 0 left"),
        "{notice}"
    );
    let after = row(&app);
    let columns: Vec<&str> = after.split_whitespace().collect();
    // topic, depth, oldest, parked, redriven
    assert_eq!(
        columns.get(1..5),
        Some(&["0", "-", "0", "1"][..]),
        "depth 0, no oldest, none parked, 1 redriven: {after}"
    );
}

/// The API line above the broker view's panels: the same 10 s window as the queues, at every
/// size, and a slow database (`d`) shows in it as late answers and a higher p99.
#[tokio::test(start_paused = true)]
async fn broker_api_line_shows_a_slow_database() {
    let (mut app, _logs) = app().await;
    app.press(Key::Char('3')).await;
    let api_line = |app: &Headless, columns: u16, rows: u16| {
        let screen = text(&app.render(columns, rows));
        screen
            .lines()
            .nth(1)
            .map(|line| line.trim_end().to_string())
            .unwrap_or_default()
    };
    for (columns, rows) in [(80, 24), (120, 40), (160, 48), (250, 70)] {
        let line = api_line(&app, columns, rows);
        assert!(
            line.starts_with("API now (10 s): ") && line.contains(" req/s · p99 "),
            "{columns}×{rows}: {line}"
        );
        assert!(line.chars().count() <= usize::from(columns), "{line}");
    }
    let healthy = api_line(&app, 250, 70);
    assert!(healthy.contains("(late 0/s)"), "{healthy}");
    app.press(Key::Char('d')).await;
    app.advance(Duration::from_secs(10)).await;
    let slow = api_line(&app, 250, 70);
    assert!(!slow.contains("(late 0/s)"), "{healthy}\n{slow}");
    insta::assert_snapshot!(
        "broker_api_line_slow_database",
        format!("{healthy}\n{slow}")
    );
}

#[tokio::test(start_paused = true)]
async fn broker_event_panel_filtered_frozen_and_pinned() {
    let (mut app, _logs) = app().await;
    // Follow a payment, then make trouble so that "problems" has something to list.
    app.press_all(&[Key::Char('3'), Key::Enter]).await;
    app.advance(Duration::from_secs(2)).await;
    app.press(Key::Char('x')).await;
    app.advance(Duration::from_secs(4)).await;
    app.press_all(&[Key::Char('e'), Key::Char('f')]).await; // problems, frozen
    let frozen = text(&app.render(120, 40));
    // The stream moves on for 20 s; the frozen panel and the pinned payment do not.
    app.advance(Duration::from_secs(20)).await;
    let broker = &app.state.broker;
    assert!(broker.is_frozen());
    let followed = broker.followed.as_ref().expect("the payment is followed");
    assert!(
        broker.pinned.len() >= 2,
        "published and acked at least: {:?}",
        broker.pinned
    );
    assert!(
        !broker.events.iter().any(|e| broker.is_followed(e)),
        "the stream has moved past {:?}",
        followed.messages
    );
    let later = text(&app.render(120, 40));
    let panel = |screen: &str| -> Vec<String> {
        screen
            .lines()
            .map(|l| l.chars().skip(72).collect::<String>())
            .collect()
    };
    // Below the panel's title (under the tab bar, the API line and the flow strip), above
    // the status line.
    let (frozen, later_lines) = (panel(&frozen), panel(&later));
    let body = later_lines
        .iter()
        .position(|l| l.contains("PAUSED"))
        .expect("the frozen panel's title")
        + 1;
    assert_eq!(
        frozen[body..39],
        later_lines[body..39],
        "the frozen panel's lines do not move"
    );
    assert!(
        later.contains("┌ PAUSED · ") && later.contains("· problems ("),
        "{later}"
    );
    for (columns, rows) in SIZES {
        insta::assert_snapshot!(
            format!("broker_events_problems_frozen_pinned_{columns}x{rows}"),
            text(&app.render(columns, rows))
        );
    }
    // Every topic, every kind, following again; then Esc unpins.
    app.press_all(&[
        Key::Char('t'),
        Key::Char('e'),
        Key::Char('e'),
        Key::Char('e'),
    ])
    .await;
    app.press(Key::Char('f')).await;
    let title = text(&app.render(160, 48));
    assert!(title.contains("Events · all topics "), "{title}");
    assert!(!title.contains("PAUSED"), "{title}");
    app.press(Key::Esc).await;
    assert!(app.state.broker.followed.is_none() && app.state.broker.pinned.is_empty());
    assert!(!text(&app.render(160, 48)).contains("Esc unpins"));
    // The help lists the panel's keys, Esc included.
    app.press(Key::Char('?')).await;
    snapshot_all(&app, "help_broker");
}

#[tokio::test(start_paused = true)]
async fn broker_flow_graph_at_every_size() {
    let (mut app, _logs) = app().await;
    app.press(Key::Char('3')).await;
    // Roomy: the flow is a strip across the top, boxes with figures and rates on the arrows.
    // At 120×40 it would squeeze the topic panels' wait and theory lines out: off until `g`.
    assert!(!text(&app.render(120, 40)).contains("Flow"));
    for (columns, rows) in [(250, 70)] {
        insta::assert_snapshot!(
            format!("broker_flow_{columns}x{rows}"),
            text(&app.render(columns, rows))
        );
    }
    let screen = text(&app.render(160, 48));
    assert!(screen.contains("Flow"), "{screen}");
    assert!(
        screen.contains("┌ payment-processor "),
        "a pool box: {screen}"
    );
    // The selected topic's box stands out.
    let theme = Theme::new(ThemeName::Dark);
    app.press(Key::Char('j')).await; // webhooks
    let buffer = app.render(160, 48);
    let title = (0..buffer.area.height).find_map(|y| {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        let byte = line.find(" webhooks ")?;
        Some((line[..byte].chars().count() as u16 + 1, y))
    });
    let (x, y) = title.expect("the webhooks box");
    assert_eq!(buffer[(x, y)].style().fg, theme.selected.fg);
    assert_eq!(buffer[(x - 2, y)].symbol(), "┏", "drawn thick");
    app.press(Key::Char('k')).await;
    // Narrow: `g` shows the flow in place of the selected topic's panel, one line per node.
    app.press(Key::Char('g')).await;
    for (columns, rows) in [(80, 24), (100, 30), (120, 40)] {
        insta::assert_snapshot!(
            format!("broker_flow_{columns}x{rows}"),
            text(&app.render(columns, rows))
        );
    }
    // Where it shows by default, the same key hides the strip.
    assert!(!text(&app.render(160, 48)).contains("Flow"));
    // Never a panic, however small.
    for (columns, rows) in [(20, 5), (40, 10), (60, 12), (119, 29), (120, 30)] {
        app.render(columns, rows);
    }
}

#[tokio::test(start_paused = true)]
async fn a_guided_tour_drives_the_views_step_by_step() {
    let (mut app, _logs) = app().await;
    app.press(Key::Char('T')).await;
    let picker = text(&app.render(120, 40));
    assert!(picker.contains("Guided tours"), "{picker}");
    assert!(
        picker.contains("How tenants are kept apart (4 steps)"),
        "{picker}"
    );
    // The second tour: tenants kept apart. It opens on the schema, at the tenants table.
    app.press_all(&[Key::Down, Key::Enter]).await;
    assert_eq!(app.state.tab, archsim::tui::action::Tab::Erd);
    assert_eq!(app.state.erd.current_name(), "tenants");
    let screen = text(&app.render(120, 40));
    assert!(
        screen.contains("Tour · How tenants are kept apart · step 1/4"),
        "{screen}"
    );
    assert!(screen.contains("Every tenant is a row here"), "{screen}");
    app.press(Key::Char('n')).await;
    assert_eq!(app.state.erd.current_name(), "projects");
    // Step 3 sends Mallory's request and opens the stage that refuses it.
    app.press(Key::Char('n')).await;
    assert_eq!(app.state.tab, archsim::tui::action::Tab::Lifecycle);
    let stage = |app: &Headless| {
        let sent = app.state.lifecycle.sent.as_ref().expect("a trace");
        let trace = sent.trace().expect("a copy");
        (
            sent.id.clone(),
            trace.stages[sent.stage].stage.clone(),
            trace.status,
        )
    };
    assert_eq!(
        stage(&app),
        ("mallory-reads-acme".into(), "tenant".into(), 403)
    );
    app.press(Key::Char('n')).await;
    assert_eq!(
        stage(&app),
        ("carol-guesses-an-id".into(), "database".into(), 404)
    );
    for (columns, rows) in SIZES {
        let screen = text(&app.render(columns, rows));
        assert!(screen.contains("step 4/4"), "{columns}×{rows}:\n{screen}");
        insta::assert_snapshot!(format!("tour_last_step_{columns}x{rows}"), screen);
    }
    // Past the end nothing moves; back one step is Mallory again; T ends the tour.
    app.press(Key::Char('n')).await;
    assert_eq!(stage(&app).1, "database");
    app.press(Key::Char('p')).await;
    assert_eq!(stage(&app).0, "mallory-reads-acme");
    app.press(Key::Char('T')).await;
    assert!(!text(&app.render(120, 40)).contains("Tour ·"));
}

#[tokio::test(start_paused = true)]
async fn steps_on_one_request_walk_one_trace() {
    let (mut app, _logs) = app().await;
    let commands = app.state.start_tour("first-request").expect("a tour");
    assert_eq!(commands.len(), 1, "the first step sends its request");
    app.press_all(&[Key::Char('T'), Key::Char('T')]).await; // end it, open the picker
    app.press(Key::Enter).await; // the first tour, through the keys this time
    let sent = |app: &Headless| {
        let sent = app.state.lifecycle.sent.as_ref().expect("a trace");
        let trace = sent.trace().expect("a copy");
        (
            trace.request.request_id.clone(),
            trace.stages[sent.stage].stage.clone(),
        )
    };
    let (first_id, stage) = sent(&app);
    assert_eq!(stage, "dns");
    app.press_all(&[Key::Char('n'), Key::Char('n')]).await;
    let (same_id, stage) = sent(&app);
    assert_eq!(stage, "rbac");
    assert_eq!(same_id, first_id, "the same trace, not a new request");
    // Twenty seconds of traffic warmed the cache: this run never reached the database, and
    // the view says so instead of pretending.
    app.press(Key::Char('n')).await;
    let note = app.state.lifecycle.tour_note.clone().unwrap_or_default();
    assert!(note.contains("never reached `database`"), "{note}");
    assert!(note.contains("`cache` answered it"), "{note}");
    assert!(text(&app.render(120, 40)).contains("never reached `database`"));
}

#[tokio::test(start_paused = true)]
async fn presenter_mode_zooms_and_shows_the_keys_pressed() {
    let (mut app, _logs) = app().await;
    app.press(Key::Char('P')).await;
    assert!(app.state.presenter && app.state.zoom);
    app.press_all(&[Key::Char('j'), Key::Enter, Key::Right])
        .await;
    let screen = text(&app.render(120, 40));
    assert!(screen.contains("keys: j Enter →"), "{screen}");
    assert!(!screen.contains("Sample requests"), "zoomed:\n{screen}");
    // Only the last six keys stay on screen.
    for _ in 0..8 {
        app.press(Key::Left).await;
    }
    let status = text(&app.render(120, 40));
    assert!(status.contains("keys: ← ← ← ← ← ←"), "{status}");
    app.press(Key::Char('P')).await;
    let back = text(&app.render(120, 40));
    assert!(
        !back.contains("keys:") && back.contains("Sample requests"),
        "{back}"
    );
}
