//! The Logs view as a learner meets it: failed requests under the WARN filter (as many as the
//! status bar counts), request lines that keep status, method, path and latency on screen at
//! every size, the `/` search with its match count, and the scroll position while paging.

mod common;

use archsim::tui::headless::Headless;
use archsim::tui::keymap::Key;
use common::{headless_with_logs, screen_text};
use tracing::Level;

/// The sizes the issue was tried at.
const SIZES: [(u16, u16); 4] = [(80, 24), (120, 40), (160, 48), (250, 70)];

fn screen(app: &Headless, columns: u16, rows: u16) -> String {
    screen_text(&app.render(columns, rows))
}

/// The pane title (the screen's second row).
fn title(screen: &str) -> &str {
    screen.lines().nth(1).unwrap_or_default()
}

/// Request lines the Logs view keeps at WARN or above.
fn failed_request_lines(app: &Headless) -> usize {
    app.state
        .logs
        .visible()
        .iter()
        .filter(|l| l.target == "archsim::request" && l.level <= Level::WARN)
        .count()
}

#[tokio::test(start_paused = true)]
async fn the_warn_filter_shows_every_failed_request_the_status_bar_counts() {
    // 90 s of traffic: far more INFO lines than the view keeps of them, and 4xx along the way.
    let (mut app, _logs) = headless_with_logs(90).await;
    app.press_all(&[Key::Char('4'), Key::Char('l')]).await;
    assert_eq!(app.state.logs.min_level, Level::WARN);
    let errors = app.state.error_count();
    assert!(errors > 10, "the default scenario has refused requests");
    assert_eq!(
        failed_request_lines(&app) as u64,
        errors,
        "every counted error is a WARN+ line, and INFO did not push one out"
    );
    let first = app.state.logs.visible().first().map(|l| l.at_ms);
    assert!(
        first.is_some_and(|at| at < 5_000),
        "the first seconds' warnings are still there: {first:?}"
    );
    // The filter also shows the engine's own warnings (a fault, events skipped): the title
    // counts them with the failed requests.
    let others = app.state.logs.visible().len() as u64 - errors;
    let screen = screen(&app, 120, 40);
    assert!(
        screen.contains(&format!("│ {errors} errors")),
        "status bar:\n{screen}"
    );
    assert!(
        title(&screen).contains(&format!("of {} ", errors + others)),
        "{}",
        title(&screen)
    );
}

#[tokio::test(start_paused = true)]
async fn request_lines_keep_status_method_path_and_latency_at_every_size() {
    let (mut app, _logs) = headless_with_logs(20).await;
    app.press(Key::Char('4')).await;
    for (columns, rows) in SIZES {
        let screen = screen(&app, columns, rows);
        let request_rows: Vec<&str> = screen
            .lines()
            .filter(|row| row.contains(" GET /") || row.contains(" POST /"))
            .collect();
        assert!(request_rows.len() > 10, "{screen}");
        for row in request_rows {
            // `… 200 GET /api/v1/projects 10.4 ms …`: the latency made it onto the screen.
            let after_path = row
                .split_once(" /")
                .and_then(|(_, rest)| rest.split_once(' '))
                .map(|(_, rest)| rest);
            assert!(
                after_path.is_some_and(|r| r.contains(" ms") || r.contains(" s ")),
                "{columns}×{rows}: the latency was cut from {row:?}"
            );
        }
        insta::assert_snapshot!(format!("logs_{columns}x{rows}"), screen);
    }
    // The failed ones, at the two sizes a new user tries first.
    app.press(Key::Char('l')).await;
    for (columns, rows) in [(80, 24), (120, 40)] {
        let screen = screen(&app, columns, rows);
        assert!(screen.contains("403 GET /api/v1/projects/1"), "{screen}");
        insta::assert_snapshot!(format!("logs_warn_{columns}x{rows}"), screen);
    }
}

#[tokio::test(start_paused = true)]
async fn slash_searches_case_insensitively_and_shows_the_match_count() {
    let (mut app, _logs) = headless_with_logs(20).await;
    app.press_all(&[Key::Char('4'), Key::Char('/')]).await;
    for c in "PAYMENTS".chars() {
        app.press(Key::Char(c)).await;
    }
    let matches = app.state.logs.visible().len();
    assert!(matches > 0);
    assert!(
        app.state
            .logs
            .visible()
            .iter()
            .all(|l| l.text.contains("payments")),
        "only matching lines"
    );
    let typing = screen(&app, 80, 24);
    assert!(
        title(&typing).contains(&format!("/PAYMENTS▏ {matches} matches")),
        "{}",
        title(&typing)
    );
    insta::assert_snapshot!("logs_search_typing_80x24", typing);

    // q is a letter while typing; Enter keeps the search.
    app.press_all(&[Key::Char('q'), Key::Backspace, Key::Enter])
        .await;
    assert!(!app.state.quit);
    assert_eq!(app.state.logs.visible().len(), matches);
    insta::assert_snapshot!("logs_search_kept_120x40", screen(&app, 120, 40));

    // A search nothing matches says so, and Esc clears it.
    app.press_all(&[Key::Char('/'), Key::Char('z'), Key::Char('z')])
        .await;
    assert!(screen(&app, 80, 24).contains("No line at level ≥ info contains \"PAYMENTSzz\""));
    app.press(Key::Esc).await;
    assert!(app.state.logs.search.is_empty());
    assert!(app.state.logs.visible().len() > matches);
    assert!(!title(&screen(&app, 80, 24)).contains("matches"));
}

#[tokio::test(start_paused = true)]
async fn paging_shows_where_the_view_is_and_stops_at_either_end() {
    let (mut app, _logs) = headless_with_logs(20).await;
    app.press(Key::Char('4')).await;
    app.state.resize(80, 24);
    let total = app.state.logs.visible().len();
    let at_bottom = screen(&app, 80, 24);
    assert!(
        title(&at_bottom).contains(&format!("{}–{total} of {total}", total - 19)),
        "{}",
        title(&at_bottom)
    );
    app.press(Key::PageUp).await;
    let up = screen(&app, 80, 24);
    assert!(
        title(&up).contains(&format!("{}–{} of {total}", total - 38, total - 19)),
        "a page is the 20 lines shown, less one kept for reading across: {}",
        title(&up)
    );
    insta::assert_snapshot!("logs_paged_up_80x24", up);
    for _ in 0..total {
        app.press(Key::PageUp).await;
    }
    let top = screen(&app, 80, 24);
    assert!(
        title(&top).contains(&format!("1–20 of {total}")),
        "{}",
        title(&top)
    );
    // The scrollbar's thumb sits at the top of the right border.
    let thumb_row = top.lines().position(|row| row.ends_with('█'));
    assert_eq!(thumb_row, Some(2), "{top}");
    for _ in 0..total {
        app.press(Key::PageDown).await;
    }
    let bottom = screen(&app, 80, 24);
    assert!(
        title(&bottom).contains(&format!("–{total} of {total}")),
        "PgDn stops at the last line: {}",
        title(&bottom)
    );
    assert!(
        !bottom.contains(
            "┃                                                                              ┃\n┗"
        ),
        "no blank rows after the last line:\n{bottom}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_status_bar_counts_one_error_in_the_singular() {
    let (mut app, _logs) = headless_with_logs(0).await;
    // Bob (viewer) tries to create a project: refused with a 403.
    app.press_all(&[Key::Char('j'), Key::Char('j'), Key::Enter])
        .await;
    assert_eq!(app.state.error_count(), 1);
    let screen = screen(&app, 120, 40);
    let status = screen.lines().last().unwrap_or_default();
    assert!(status.contains("│ 1 error "), "{status}");
    // …and the Logs view's WARN filter shows that one.
    app.press_all(&[Key::Char('4'), Key::Char('l')]).await;
    assert_eq!(failed_request_lines(&app), 1);
}

#[tokio::test(start_paused = true)]
async fn request_statuses_are_drawn_in_their_levels_colour() {
    let (mut app, _logs) = headless_with_logs(20).await;
    app.press(Key::Char('4')).await;
    let theme = archsim::tui::theme::Theme::new(archsim::tui::ThemeName::Dark);
    // The colour of the first character of `needle` on the screen.
    let colour_of = |app: &Headless, needle: &str| {
        let buffer = app.render(120, 40);
        (0..buffer.area.height).find_map(|y| {
            let row: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect();
            row.find(needle).map(|byte| {
                let column = row[..byte].chars().count() as u16;
                buffer[(column, y)].style().fg
            })
        })
    };
    assert_eq!(colour_of(&app, "200 GET "), Some(theme.pass.fg));
    app.press(Key::Char('l')).await;
    let failed = colour_of(&app, "403 GET ");
    assert_eq!(failed, Some(theme.warn.fg));
    assert_ne!(
        failed,
        Some(theme.text.fg),
        "it stands out from the rest of the line"
    );
}
