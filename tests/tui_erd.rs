//! The Tenant schema view driven by real keys through the headless app (virtual time, the
//! default scenario's seed): the filter, the way back after following a key, the rows view's
//! keys and frozen key column, shared tables, hidden secret columns, the neighbourhood graph,
//! and the position every scrolling panel shows. Snapshots at 80×24, 120×40, 160×48, 250×70.

use std::sync::Arc;
use std::time::Duration;

use archsim::scenario::{DEFAULT_SCENARIO, load_str};
use archsim::tui::ThemeName;
use archsim::tui::headless::Headless;
use archsim::tui::keymap::Key;
use archsim::tui::state::erd::{ErdFocus, ErdMode};
use archsim::tui::theme::Theme;

mod common;
use common::screen_text as text;

const SIZES: [(u16, u16); 4] = [(80, 24), (120, 40), (160, 48), (250, 70)];

/// A headless app 20 engine seconds into the default scenario, on the schema view.
async fn app() -> Headless {
    let scenario =
        Arc::new(load_str("saas.toml", DEFAULT_SCENARIO).expect("the default scenario is valid"));
    let mut app = Headless::start(scenario, Theme::new(ThemeName::Dark)).expect("engine starts");
    app.advance(Duration::from_secs(20)).await;
    app.press(Key::Char('2')).await;
    app
}

async fn type_text(app: &mut Headless, text: &str) {
    for c in text.chars() {
        app.press(Key::Char(c)).await;
    }
}

/// Selects `table` in the list by moving down (the list starts on the first table).
async fn select(app: &mut Headless, table: &str) {
    for _ in 0..20 {
        if app.state.erd.current_name() == table {
            return;
        }
        app.press(Key::Down).await;
    }
    panic!("no table {table}");
}

fn screen(app: &Headless, columns: u16, rows: u16) -> String {
    text(&app.render(columns, rows))
}

/// The line of `screen` holding `needle`.
fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{screen}"))
}

#[tokio::test(start_paused = true)]
async fn esc_clears_the_filter_and_slash_starts_afresh() {
    let mut app = app().await;
    app.press(Key::Char('/')).await;
    type_text(&mut app, "uszzz").await;
    let typed = screen(&app, 120, 40);
    assert!(typed.contains("(no match)"), "{typed}");
    // No stale table beside an empty list: the view says what happened and how to get out.
    assert!(typed.contains("No table matches “uszzz”"), "{typed}");
    assert!(!typed.contains("Columns"), "{typed}");
    insta::assert_snapshot!("erd_filter_no_match_80x24", screen(&app, 80, 24));

    // Esc while typing: the filter is gone, the whole list is back, on the table it was on
    // before `/` (typing had moved to the first match, users).
    app.press(Key::Esc).await;
    let erd = &app.state.erd;
    assert!(!erd.filtering && erd.filter.is_empty());
    assert_eq!(erd.visible_tables().len(), 10);
    assert_eq!(erd.current_name(), "tenants");
    let cleared = screen(&app, 120, 40);
    assert!(!cleared.contains("uszzz") && !cleared.contains("(no match)"));
    assert!(line_with(&cleared, " Tables ").contains("Tables 1/10"));

    // Enter keeps a filter; Esc afterwards (not typing) clears it too.
    app.press(Key::Char('/')).await;
    type_text(&mut app, "pay").await;
    app.press(Key::Enter).await;
    assert_eq!(app.state.erd.filter, "pay");
    assert_eq!(app.state.erd.current_name(), "payments");
    assert!(screen(&app, 120, 40).contains("/pay"));
    app.press(Key::Esc).await;
    assert_eq!(app.state.erd.filter, "");
    assert_eq!(app.state.erd.current_name(), "payments", "the table stays");

    // A second `/` starts a fresh filter instead of appending to the last one.
    app.press(Key::Char('/')).await;
    type_text(&mut app, "pay").await;
    app.press(Key::Enter).await;
    app.press(Key::Char('/')).await;
    type_text(&mut app, "role").await;
    assert_eq!(app.state.erd.filter, "role");
    assert_eq!(app.state.erd.current_name(), "roles");
}

#[tokio::test(start_paused = true)]
async fn back_restores_the_table_its_column_and_its_rows_position() {
    let mut app = app().await;
    select(&mut app, "users").await;
    // Rows of users: the third row selected, then back to the schema.
    app.press_all(&[Key::Char('r'), Key::Down, Key::Down, Key::Char('r')])
        .await;
    // Columns: role_id (the third), followed to roles.
    app.press_all(&[Key::Right, Key::Down, Key::Down]).await;
    assert_eq!(app.state.erd.item, 2);
    app.press(Key::Enter).await;
    assert_eq!(app.state.erd.trail, vec!["users", "roles"]);
    assert_eq!(app.state.erd.item, 0, "roles.id, the referenced column");
    app.press(Key::Backspace).await;
    let erd = &app.state.erd;
    assert_eq!(erd.current_name(), "users");
    assert_eq!(erd.item, 2, "the column cursor is back on role_id");
    assert_eq!(erd.focus, ErdFocus::Columns);
    let back = screen(&app, 120, 40);
    assert!(line_with(&back, "role_id ").contains("→ roles.id"));
    assert!(
        line_with(&back, "┏ Columns").contains("Columns 3/6"),
        "{back}"
    );
    app.press(Key::Char('r')).await;
    assert_eq!(app.state.erd.row, 2, "the rows view is where it was");
    assert!(screen(&app, 120, 40).contains("Rows 3/5"));
}

#[tokio::test(start_paused = true)]
async fn rows_view_has_an_obvious_way_back_and_home_end_keys() {
    let mut app = app().await;
    select(&mut app, "users").await;
    app.press(Key::Char('r')).await;
    let rows = screen(&app, 80, 24);
    assert!(
        rows.contains("Esc schema"),
        "the way back is on screen: {rows}"
    );
    app.press(Key::End).await;
    assert_eq!(app.state.erd.row, 4);
    assert!(screen(&app, 80, 24).contains("Rows 5/5"));
    app.press(Key::Home).await;
    assert_eq!(app.state.erd.row, 0);
    app.press(Key::Char('G')).await;
    assert_eq!(app.state.erd.row, 4);
    app.press(Key::Char('g')).await;
    assert_eq!(app.state.erd.row, 0);
    // PgDn stops on the last row instead of running into blank space.
    app.press_all(&[Key::PageDown, Key::PageDown]).await;
    assert_eq!(app.state.erd.row, 4);
    app.press(Key::Up).await;
    assert_eq!(app.state.erd.row, 3, "one key up is one row up");
    // ←/→ scroll the columns; Esc and Backspace both go back to the schema.
    app.press_all(&[Key::Right, Key::Left]).await;
    assert_eq!(app.state.erd.mode, ErdMode::Rows);
    app.press(Key::Esc).await;
    assert_eq!(app.state.erd.mode, ErdMode::Schema);
    app.press(Key::Char('r')).await;
    app.press(Key::Backspace).await;
    assert_eq!(app.state.erd.mode, ErdMode::Schema);
    // The help lists the keys, Esc included.
    app.press(Key::Char('?')).await;
    let help = screen(&app, 80, 24);
    assert!(
        help.contains("Esc       clear the filter / leave rows"),
        "{help}"
    );
    insta::assert_snapshot!("erd_help_80x24", help);
    app.press(Key::Char('?')).await;
    // In the schema, Home and End jump in the table list.
    app.press(Key::End).await;
    assert_eq!(app.state.erd.current_name(), "audit_log");
    app.press(Key::Home).await;
    assert_eq!(app.state.erd.current_name(), "tenants");
}

#[tokio::test(start_paused = true)]
async fn the_key_column_stays_while_the_others_scroll() {
    let mut app = app().await;
    select(&mut app, "users").await;
    app.press(Key::Char('r')).await;
    // As in the app, the screen is drawn before the next key: the view learns its width.
    screen(&app, 80, 24);
    app.press_all(&[Key::Right, Key::Right, Key::Right]).await;
    let rows = screen(&app, 80, 24);
    // The rows pane starts after the 20 columns of the table list and its own border.
    let pane = |line: &str| line.chars().skip(21).collect::<String>();
    let header = pane(line_with(&rows, "password_hash  "));
    assert!(header.starts_with("id  "), "id stays first: {header}");
    assert!(!header.contains("tenant_id"), "scrolled past: {header}");
    // From the third column on everything fits: → stops there rather than hide one more.
    assert!(rows.contains("cols 3–5/5"), "{rows}");
    let alice = pane(line_with(&rows, "Alice"));
    assert!(alice.starts_with("1 "), "{alice}");
    for (columns, lines) in SIZES {
        insta::assert_snapshot!(
            format!("erd_rows_scrolled_right_{columns}x{lines}"),
            screen(&app, columns, lines)
        );
    }
    // Where every column fits, → has nothing to reveal: it hides nothing on the left either.
    app.press_all(&[Key::Left, Key::Left, Key::Left]).await;
    let wide = screen(&app, 250, 70);
    app.press(Key::Right).await;
    assert_eq!(app.state.erd.column_offset, 0);
    assert_eq!(screen(&app, 250, 70), wide);
    assert!(line_with(&wide, "password_hash  ").contains("tenant_id"));
}

#[tokio::test(start_paused = true)]
async fn shared_tables_say_so_and_tenant_rows_say_whose() {
    let mut app = app().await;
    select(&mut app, "roles").await;
    app.press(Key::Char('t')).await; // tenant 1
    let roles = screen(&app, 120, 40);
    let title = line_with(&roles, "┏ Rows");
    assert!(title.contains("shared by all tenants"), "{title}");
    assert!(!title.contains("acme"), "{title}");
    // The tenants table is filtered to the tenant's own row: its name is right there.
    app.press_all(&[Key::Esc, Key::Up]).await;
    assert_eq!(app.state.erd.current_name(), "tenants");
    let schema = screen(&app, 120, 40);
    assert!(schema.contains("(one row per tenant)"), "{schema}");
    assert!(!schema.contains("shared by all tenants"), "{schema}");
    app.press(Key::Char('r')).await;
    let tenants = screen(&app, 120, 40);
    assert!(
        line_with(&tenants, "┏ Rows").contains("tenant 1 (acme)"),
        "{tenants}"
    );
    assert_eq!(app.state.erd.row_count(), 1);
    // The SQL wraps rather than losing its WHERE off the edge of a narrow screen.
    let narrow = screen(&app, 80, 24);
    assert!(narrow.contains(r#"WHERE "id" = ?1"#), "{narrow}");
}

#[tokio::test(start_paused = true)]
async fn a_secret_column_is_shown_hidden_with_the_reason() {
    let mut app = app().await;
    select(&mut app, "users").await;
    app.press(Key::Char('r')).await;
    let rows = screen(&app, 160, 48);
    assert!(
        rows.contains("password_hash ••• hidden: secret (Argon2id hash; only login reads it)"),
        "{rows}"
    );
    assert!(line_with(&rows, "Alice").contains("•••"), "{rows}");
    assert!(!rows.contains("$argon2"), "no hash on screen");
}

#[tokio::test(start_paused = true)]
async fn the_neighbourhood_is_a_graph_where_it_fits_and_a_list_where_not() {
    let mut app = app().await;
    select(&mut app, "users").await;
    app.press_all(&[Key::Right, Key::Down]).await; // tenant_id: an outgoing key
    let roomy = screen(&app, 120, 40);
    assert!(roomy.contains("┏ users "), "the table is a box: {roomy}");
    assert!(
        line_with(&roomy, "─owner_id").contains("projects ─owner_id"),
        "an incoming key: {roomy}"
    );
    assert!(
        line_with(&roomy, "─tenant_id").contains("▶ tenants"),
        "an outgoing key: {roomy}"
    );
    let narrow = screen(&app, 80, 24);
    assert!(narrow.contains("← projects.owner_id"), "{narrow}");
    assert!(narrow.contains("→ tenants (tenant_id)"), "{narrow}");
    for (columns, rows) in SIZES {
        insta::assert_snapshot!(
            format!("erd_users_neighbourhood_{columns}x{rows}"),
            screen(&app, columns, rows)
        );
    }
    // Never a panic, however small.
    for (columns, rows) in [(20, 5), (40, 10), (60, 12), (119, 29), (120, 30)] {
        app.render(columns, rows);
    }
}

#[tokio::test(start_paused = true)]
async fn every_scrolling_panel_says_where_it_is() {
    let mut app = app().await;
    // tenants: eight keys point at it, more than the 80×24 list shows.
    app.press(Key::Right).await;
    app.press(Key::End).await; // the last incoming key
    let narrow = screen(&app, 80, 24);
    assert!(narrow.contains("Keys ← 8/8"), "{narrow}");
    assert!(
        narrow.contains("← audit_log.tenant_id"),
        "scrolled to it: {narrow}"
    );
    assert!(
        line_with(&narrow, "┏ Columns").contains("Columns 4"),
        "{narrow}"
    );
    // Rows that do not fit: the position in the title and a scrollbar on the border.
    app.press_all(&[Key::Left]).await;
    select(&mut app, "analytics_events").await;
    app.press(Key::Char('r')).await;
    let count = app.state.erd.row_count();
    assert!(count > 20, "enough rows to scroll: {count}");
    app.press(Key::PageDown).await;
    let rows = screen(&app, 80, 24);
    assert!(rows.contains(&format!("Rows 11/{count}")), "{rows}");
    assert!(rows.contains('█'), "a scrollbar thumb: {rows}");
}
