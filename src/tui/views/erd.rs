//! The Tenant schema view: tables, their columns and keys, the selected table's neighbourhood
//! drawn as a small graph, and the real rows — per tenant or all together with `tenant_id`
//! coloured, to make isolation visible.
//!
//! ```text
//!  ┌ Tables 3/11 ────┐ breadcrumb · Schema Rows · table explain
//!  │ tenants         │┏ Columns 2/7: type PK FK UQ NN IX → target explain ┓
//!  │▶users           │┌ References: projects ─owner_id─▶┏ users ┓─tenant_id─▶ tenants ┐
//!  │                 │┌ Indexes ───────────────────────────────────────────────────────┐
//!  └─────────────────┘  (or, with r: the rows, key column frozen, and the SQL that read them)
//! ```
//!
//! Every panel that can hold more than it shows says where it is (`3/11` in its title).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table as TableWidget, Wrap};

use super::super::state::AppState;
use super::super::state::erd::{ErdFocus, ErdMode, ErdState, RowScope, hidden_reason};
use super::super::theme::Theme;
use super::super::widgets::json_lines::scalar;
use super::super::widgets::neighbourhood::{Edge, Neighbourhood, Pick};
use super::super::widgets::{fit, pad, pane, scrollbar};
use crate::engine::QueryRecord;
use crate::scenario::{Column, FillFrom, TENANT_COLUMN, Table};

/// Widest a rows column gets; longer values are cut.
const MAX_CELL_W: usize = 28;
/// Space between rows columns.
const CELL_GAP: u16 = 2;

/// Draws the view into `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState) {
    let wide = area.width >= 120 && area.height >= 30;
    // `z`: the table alone, without the list of tables beside it.
    let left_w = match (state.zoom, wide) {
        (true, _) => 0,
        (false, true) => 28,
        (false, false) => 20,
    };
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(20)]).areas(area);
    if !state.zoom {
        draw_tables(frame, left, state);
    }
    let erd = &state.erd;
    let table = erd.current().filter(|_| !erd.visible_tables().is_empty());
    let Some(table) = table else {
        draw_no_match(frame, right, state);
        return;
    };
    // The table's explanation gets the lines it needs (up to a limit), not a fixed one or two
    // that cut it mid-sentence.
    let most = if wide { 3 } else { 2 };
    let explain_h =
        wrapped_lines(&explain_text(table, wide), usize::from(right.width)).clamp(1, most);
    let [header, body] =
        Layout::vertical([Constraint::Length(1 + explain_h as u16), Constraint::Min(3)])
            .areas(right);
    draw_header(frame, header, state, table, wide);
    match erd.mode {
        ErdMode::Schema => draw_schema(frame, body, state, table, wide),
        ErdMode::Rows => draw_rows(frame, body, state, table),
    }
}

/// A filter that matches nothing: say so, and how to get out, instead of a stale table.
fn draw_no_match(frame: &mut Frame, area: Rect, state: &AppState) {
    let text = if state.erd.filter.is_empty() {
        "This scenario has no tables.".to_string()
    } else {
        format!(
            "No table matches “{}”. Backspace edits the filter, Esc clears it.",
            state.erd.filter
        )
    };
    frame.render_widget(
        Paragraph::new(text)
            .style(state.theme.dim)
            .wrap(Wrap { trim: true })
            .block(pane(" Schema ", false, &state.theme)),
        area,
    );
}

/// `3/11` for the selected one of `total`, or just `11` when none is selected.
fn position(at: Option<usize>, total: usize) -> String {
    at.map_or(total.to_string(), |i| format!("{}/{total}", i + 1))
}

/// The longest of `titles` that fits a pane `width` wide (the last one if none does).
fn title_for(width: u16, titles: &[String]) -> String {
    let room = usize::from(width.saturating_sub(2));
    titles
        .iter()
        .find(|t| t.chars().count() <= room)
        .or(titles.last())
        .cloned()
        .unwrap_or_default()
}

/// First line to show of `total` so that `at` is on screen in `height` lines.
fn scroll_to(at: usize, total: usize, height: usize) -> usize {
    at.saturating_sub(height.saturating_sub(1))
        .min(total.saturating_sub(height))
}

fn draw_tables(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let erd = &state.erd;
    // In the rows view the keys move the rows: the list does not look focused then.
    let focused = erd.focus == ErdFocus::Tables && erd.mode == ErdMode::Schema;
    let visible = erd.visible_tables();
    let at = (!visible.is_empty()).then(|| erd.list_index().0);
    let count = position(at, visible.len());
    let title = title_for(
        area.width,
        &[
            format!(" Tables {count} (/ filter) "),
            format!(" Tables {count} "),
        ],
    );
    let block = pane(title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut lines = Vec::new();
    if erd.filtering || !erd.filter.is_empty() {
        let cursor = if erd.filtering { "▏" } else { "" };
        lines.push(Line::from(vec![
            Span::styled("/", theme.accent),
            Span::styled(format!("{}{cursor}", erd.filter), theme.text),
        ]));
    }
    if visible.is_empty() {
        lines.push(Line::styled("(no match)", theme.dim));
    }
    let room = usize::from(inner.height).saturating_sub(lines.len());
    // The legend only when every table fits above it: the list scrolls before it hides a name.
    let legend = visible.len() + 2 <= room;
    let offset = scroll_to(at.unwrap_or(0), visible.len(), room);
    for table in visible.iter().skip(offset).take(room) {
        let selected = table.name == erd.current_name();
        let marker = if table.tenant_scoped { "◆" } else { " " };
        let text = pad(&format!("{marker} {}", table.name), width.saturating_sub(2));
        let style = match (selected, focused) {
            (true, true) => theme.selected,
            (true, false) => theme.accent,
            _ => theme.text,
        };
        lines.push(Line::styled(text, style));
    }
    if legend {
        lines.push(Line::raw(""));
        lines.push(Line::styled("◆ tenant-scoped", theme.dim));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    scrollbar(frame, area, visible.len(), offset, room, &state.theme);
}

fn draw_header(frame: &mut Frame, area: Rect, state: &AppState, table: &Table, wide: bool) {
    let theme = &state.theme;
    let erd = &state.erd;
    let mut crumbs = vec![Span::styled(" ", theme.text)];
    for (i, name) in erd.trail.iter().enumerate() {
        if i > 0 {
            crumbs.push(Span::styled(" › ", theme.dim));
        }
        let last = i + 1 == erd.trail.len();
        crumbs.push(Span::styled(
            name.clone(),
            if last { theme.accent } else { theme.dim },
        ));
    }
    let schema_style = tab_style(erd.mode == ErdMode::Schema, theme);
    let rows_style = tab_style(erd.mode == ErdMode::Rows, theme);
    crumbs.push(Span::raw("   "));
    crumbs.push(Span::styled(" Schema ", schema_style));
    crumbs.push(Span::styled(" Rows ", rows_style));
    crumbs.push(Span::styled(" (r)", theme.dim));
    if erd.trail.len() > 1 {
        crumbs.push(Span::styled("  Backspace: back", theme.dim));
    }
    let lines = vec![
        Line::from(crumbs),
        Line::from(vec![
            Span::styled(format!(" {} ", table.explain), theme.text),
            Span::styled(format!("({})", scope_note(table, wide)), theme.dim),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

/// Whether the table's rows belong to tenants, for the header: a sentence where there is
/// room, a word where there is not (the table list's ◆ legend says the rest).
fn scope_note(table: &Table, wide: bool) -> &'static str {
    match (table.tenant_scoped, wide) {
        (true, true) => "tenant-scoped: every row has a tenant_id and every query filters on it",
        (true, false) => "tenant-scoped",
        (false, _) => sharing(table),
    }
}

/// The header's second line as plain text (for its height).
fn explain_text(table: &Table, wide: bool) -> String {
    format!(" {} ({})", table.explain, scope_note(table, wide))
}

/// Lines `text` takes wrapped at spaces into `width` columns (as the header's word wrap does).
fn wrapped_lines(text: &str, width: usize) -> usize {
    let width = width.max(1);
    let mut lines = 1;
    let mut used = 0;
    for word in text.split_whitespace() {
        let w = word.chars().count().max(1);
        if used > 0 && used + 1 + w <= width {
            used += 1 + w;
            continue;
        }
        if used > 0 {
            lines += 1;
        }
        // The word starts a line; one longer than a line takes several.
        lines += (w - 1) / width;
        used = (w - 1) % width + 1;
    }
    lines
}

/// How a table without a tenant column is shared: the tenants table holds one row per tenant
/// (a tenant's rows view shows its own), any other is the same for every tenant.
fn sharing(table: &Table) -> &'static str {
    if table.fill == Some(FillFrom::Tenants) {
        "one row per tenant"
    } else {
        "shared by all tenants"
    }
}

fn tab_style(active: bool, theme: &Theme) -> Style {
    if active { theme.tab_active } else { theme.dim }
}

/// `PK FK UQ NN IX` markers of a column, as fixed-width text.
pub fn markers(table: &Table, column: &Column) -> String {
    let flag = |on: bool, text: &'static str| if on { text } else { "  " };
    [
        flag(column.primary_key, "PK"),
        flag(column.references.is_some(), "FK"),
        flag(column.unique, "UQ"),
        flag(!column.nullable, "NN"),
        flag(table.is_indexed(&column.name), "IX"),
    ]
    .join(" ")
}

fn draw_schema(frame: &mut Frame, area: Rect, state: &AppState, table: &Table, wide: bool) {
    let erd = &state.erd;
    let hood = neighbourhood(erd, table, &state.theme);
    let about_h = if wide { 0 } else { 3 };
    let keys_min = (hood.list_height() + 2).min(6);
    let columns_h = (table.columns.len() as u16 + 3)
        .min(area.height.saturating_sub(keys_min + about_h))
        .max(4);
    let rest = area.height.saturating_sub(columns_h + about_h);
    let graph_h = hood.graph_height() + 2;
    let indexes_h = (table.indexes.len().max(1) as u16 + 2).min(8);
    // The graph wants the full width; when it does not fit there, the keys come as a list
    // beside the indexes, as they did before there was a graph.
    let graph = hood.fits_as_graph(area.width.saturating_sub(2), hood.graph_height())
        && graph_h + indexes_h <= rest;
    let [columns_area, keys_area, about_area] = Layout::vertical([
        Constraint::Length(columns_h),
        Constraint::Min(3),
        Constraint::Length(about_h),
    ])
    .areas(area);
    draw_columns(frame, columns_area, state, table, wide);
    let (references_area, index_area) = if graph {
        let [top, bottom] =
            Layout::vertical([Constraint::Length(graph_h), Constraint::Min(3)]).areas(keys_area);
        (top, bottom)
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                .areas(keys_area);
        (left, right)
    };
    draw_references(frame, references_area, state, table, &hood);
    draw_indexes(frame, index_area, state, table);
    if about_h > 0 {
        let text = selected_explain(erd, table);
        frame.render_widget(
            Paragraph::new(text)
                .style(state.theme.dim)
                .wrap(Wrap { trim: true })
                .block(pane(" About ", false, &state.theme)),
            about_area,
        );
    }
}

fn draw_columns(frame: &mut Frame, area: Rect, state: &AppState, table: &Table, wide: bool) {
    let theme = &state.theme;
    let erd = &state.erd;
    let focused = erd.focus == ErdFocus::Columns;
    let count = position(
        (erd.item < table.columns.len()).then_some(erd.item),
        table.columns.len(),
    );
    let title = title_for(
        area.width,
        &[
            format!(" Columns {count} (→ focus, Enter follows FK) "),
            format!(" Columns {count} "),
        ],
    );
    let block = pane(title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let name_w = table
        .columns
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(4)
        .min(18);
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "{:<name_w$} {:<9} PK FK UQ NN IX  references",
                "column", "type"
            ),
            width,
        ),
        theme.dim,
    )];
    let height = usize::from(inner.height).saturating_sub(1);
    let offset = scroll_to(erd.item, table.columns.len(), height);
    for (i, column) in table.columns.iter().enumerate().skip(offset).take(height) {
        let fk = column
            .references
            .as_ref()
            .map_or(String::new(), |r| format!("→ {r}"));
        let explain = if wide {
            format!("  {}", column.explain)
        } else {
            String::new()
        };
        let text = format!(
            "{:<name_w$} {:<9} {}  {fk:<18}{explain}",
            fit(&column.name, name_w),
            column.ty.as_str(),
            markers(table, column),
        );
        let style = item_style(erd, i, focused, theme, column.name == TENANT_COLUMN);
        lines.push(Line::styled(pad(&text, width), style));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    // Beside the columns, below the heading line.
    let beside_columns = Rect::new(
        area.x,
        area.y + 1,
        area.width,
        area.height.saturating_sub(1),
    );
    scrollbar(
        frame,
        beside_columns,
        table.columns.len(),
        offset,
        height,
        &state.theme,
    );
}

fn item_style(erd: &ErdState, index: usize, focused: bool, theme: &Theme, tenant: bool) -> Style {
    match (erd.item == index, focused) {
        (true, true) => theme.selected,
        (true, false) => theme.accent,
        _ if tenant => theme.tenant(1),
        _ => theme.text,
    }
}

fn selected_explain(erd: &ErdState, table: &Table) -> String {
    match table.columns.get(erd.item) {
        Some(column) => format!("{}: {}", column.name, column.explain),
        None => {
            let incoming = erd.incoming(&table.name);
            incoming
                .get(erd.item - table.columns.len())
                .map_or(String::new(), |key| {
                    format!(
                        "{}.{} points at {}.{}: Enter opens {}",
                        key.table, key.column, table.name, key.target, key.table
                    )
                })
        }
    }
}

/// The table's neighbourhood: the keys pointing at it (the items after its columns, in the
/// same order) and its own foreign keys, the selected one picked.
fn neighbourhood<'a>(erd: &ErdState, table: &'a Table, theme: &'a Theme) -> Neighbourhood<'a> {
    let incoming: Vec<Edge> = erd
        .incoming(&table.name)
        .into_iter()
        .map(|key| Edge {
            table: key.table,
            column: key.column,
        })
        .collect();
    let keys: Vec<&Column> = table
        .columns
        .iter()
        .filter(|c| c.references.is_some())
        .collect();
    let outgoing: Vec<Edge> = keys
        .iter()
        .filter_map(|c| {
            c.references.as_ref().map(|r| Edge {
                table: r.table.clone(),
                column: c.name.clone(),
            })
        })
        .collect();
    let pick = match table.columns.get(erd.item) {
        Some(column) => keys
            .iter()
            .position(|c| c.name == column.name)
            .map(Pick::Outgoing),
        None => Some(Pick::Incoming(erd.item - table.columns.len())),
    }
    .filter(|_| erd.focus == ErdFocus::Columns);
    let primary: Vec<&str> = table
        .primary_key()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let facts = vec![
        format!("PK {}", primary.join(", ")),
        format!("{} columns, {} FK", table.columns.len(), keys.len()),
        if table.tenant_scoped {
            "tenant-scoped".to_string()
        } else {
            sharing(table).to_string()
        },
    ];
    Neighbourhood::new(&table.name, facts, incoming, outgoing, theme).pick(pick)
}

fn draw_references(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    table: &Table,
    hood: &Neighbourhood,
) {
    let erd = &state.erd;
    let incoming = erd.incoming(&table.name).len();
    let outgoing = table
        .columns
        .iter()
        .filter(|c| c.references.is_some())
        .count();
    let at = erd.item.checked_sub(table.columns.len());
    let count = position(at, incoming);
    let title = title_for(
        area.width,
        &[
            format!(" Keys: ← {count} point here (Enter follows) · → {outgoing} point out "),
            format!(" Keys ← {count} → {outgoing} "),
        ],
    );
    let block = pane(title, false, &state.theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(hood, inner);
    if !hood.fits_as_graph(inner.width, inner.height) {
        let shown = usize::from(inner.height);
        let total = usize::from(hood.list_height());
        scrollbar(
            frame,
            area,
            total,
            hood.list_offset(shown),
            shown,
            &state.theme,
        );
    }
}

fn draw_indexes(frame: &mut Frame, area: Rect, state: &AppState, table: &Table) {
    let theme = &state.theme;
    let room = usize::from(area.height.saturating_sub(2));
    let total = table.indexes.len();
    // Not scrollable (nothing to select there), so a cut list says how much it shows.
    let title = if total > room {
        format!(" Indexes {room} of {total} shown ")
    } else {
        " Indexes ".to_string()
    };
    let lines: Vec<Line> = if table.indexes.is_empty() {
        vec![Line::styled("primary key only", theme.dim)]
    } else {
        table
            .indexes
            .iter()
            .map(|index| {
                Line::from(vec![
                    Span::styled(
                        format!(
                            "{}{} ",
                            if index.unique { "UNIQUE " } else { "" },
                            index.name
                        ),
                        theme.text,
                    ),
                    Span::styled(format!("({}) ", index.columns.join(", ")), theme.accent),
                    Span::styled(index.explain.clone(), theme.dim),
                ])
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(pane(title, false, theme)), area);
}

/// Whose rows are shown, in words.
fn scope_text(state: &AppState) -> String {
    match state.erd.row_scope() {
        RowScope::AllTenants => "all tenants".to_string(),
        RowScope::Tenant(id) => match state.scenario.tenant_by_id(id) {
            Some(tenant) => format!("tenant {} ({})", tenant.id, tenant.subdomain),
            None => format!("tenant {id}"),
        },
        RowScope::Shared => "shared by all tenants (no tenant_id)".to_string(),
    }
}

/// The rows columns that fit `width`: the primary key first (frozen, it never scrolls away),
/// then the other columns from `offset` on, with their widths; and how many of those others
/// are shown (at least one, cut if need be).
fn rows_columns<'t>(
    table: &'t Table,
    record: Option<&QueryRecord>,
    offset: usize,
    width: u16,
) -> (Vec<(&'t Column, u16)>, usize) {
    let width_of = |column: &Column| -> u16 {
        let longest = record
            .into_iter()
            .flat_map(|r| r.rows.iter())
            .map(|row| {
                row.get(&column.name)
                    .map_or(0, |v| scalar(v).chars().count())
            })
            .max()
            .unwrap_or(0)
            .max(column.name.chars().count())
            .min(MAX_CELL_W);
        u16::try_from(longest).unwrap_or(u16::MAX)
    };
    let mut shown: Vec<(&Column, u16)> = table
        .columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| (c, width_of(c)))
        .collect();
    let mut used: u16 = shown
        .iter()
        .fold(0, |sum, (_, w)| sum.saturating_add(w + CELL_GAP));
    let mut scrolled = 0;
    for column in table.columns.iter().filter(|c| !c.primary_key).skip(offset) {
        let w = width_of(column);
        if scrolled > 0 && used.saturating_add(w) > width {
            break;
        }
        shown.push((column, w));
        used = used.saturating_add(w + CELL_GAP);
        scrolled += 1;
    }
    (shown, scrolled)
}

fn draw_rows(frame: &mut Frame, area: Rect, state: &AppState, table: &Table) {
    let theme = &state.theme;
    let erd = &state.erd;
    let rows = erd.shown_rows();
    let record = rows.and_then(|r| r.result.as_ref().ok());
    let count = erd.row_count();
    let at = (count > 0).then(|| erd.row.min(count - 1));
    let rows_at = position(at, count);
    let scope = scope_text(state);
    let title = title_for(
        area.width,
        &[
            format!(" Rows {rows_at} · {scope} "),
            format!(" Rows {rows_at} "),
        ],
    );
    let scrolling = erd.scrolling_columns();
    let inner_w = area.width.saturating_sub(2);
    // The first offset from which every remaining column fits: scrolling further would only
    // hide columns on the left.
    let useful = (0..scrolling)
        .find(|&o| rows_columns(table, record, o, inner_w).1 >= scrolling - o)
        .unwrap_or(scrolling.saturating_sub(1));
    erd.column_offset_max
        .set(u16::try_from(useful).unwrap_or(u16::MAX));
    let offset = erd.column_offset.min(useful);
    let (columns, scrolled) = rows_columns(table, record, offset, inner_w);
    let columns_at = if scrolled < scrolling {
        format!(
            "cols {}–{}/{scrolling} ←→ · ",
            offset + 1,
            offset + scrolled
        )
    } else {
        String::new()
    };
    let hints = fit(
        &format!(" {columns_at}↑↓ g G rows · t tenant · Esc schema "),
        usize::from(area.width.saturating_sub(2)),
    );
    let block = pane(title, true, theme).title_bottom(Line::styled(hints, theme.dim));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match rows.map(|r| &r.result) {
        None => frame.render_widget(
            Paragraph::new("reading the rows from the embedded database…").style(theme.dim),
            inner,
        ),
        Some(Err(error)) => frame.render_widget(
            Paragraph::new(format!("could not read the rows: {error}")).style(theme.reject),
            inner,
        ),
        Some(Ok(record)) => draw_record(frame, inner, state, table, record, &columns),
    }
}

/// The SQL that read the rows, the columns it left out and why, and the rows.
fn draw_record(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    table: &Table,
    record: &QueryRecord,
    columns: &[(&Column, u16)],
) {
    let theme = &state.theme;
    let width = usize::from(area.width);
    let params = record
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| format!("?{}={p}", i + 1))
        .collect::<Vec<_>>()
        .join(" ");
    let mut lines = vec![
        // Wrapped, not cut: the WHERE on tenant_id at its end is the point of the view.
        Line::styled(format!("{}  {params}", record.sql), theme.hit),
        Line::styled(format!("{} row(s)", record.rows.len()), theme.dim),
    ];
    // A column the store never reads back is shown as hidden, with the reason, not left out.
    for column in &table.columns {
        if let Some(reason) = hidden_reason(&column.name) {
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", column.name), theme.accent),
                Span::styled(format!("••• hidden: {reason}"), theme.dim),
            ]));
        }
    }
    let notes_h: usize = lines
        .iter()
        .map(|line| {
            let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
            wrapped_lines(&text, width)
        })
        .sum();
    // The rows keep at least their header and a few lines.
    let notes_h = u16::try_from(notes_h)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(4).max(2));
    let [notes_area, table_area] =
        Layout::vertical([Constraint::Length(notes_h), Constraint::Min(1)]).areas(area);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), notes_area);
    let header = Row::new(columns.iter().map(|(column, _)| {
        let style = if column.name == TENANT_COLUMN {
            theme.warn
        } else {
            theme.accent
        };
        Cell::from(column.name.clone()).style(style)
    }));
    let rows_shown = usize::from(table_area.height).saturating_sub(1);
    let selected = state.erd.row.min(record.rows.len().saturating_sub(1));
    let scroll = scroll_to(selected, record.rows.len(), rows_shown);
    let body = record
        .rows
        .iter()
        .enumerate()
        .skip(scroll)
        .take(rows_shown)
        .map(|(i, row)| {
            let tenant = row.get(TENANT_COLUMN).and_then(|v| v.as_i64());
            let cells = columns.iter().map(|(column, _)| {
                if hidden_reason(&column.name).is_some() {
                    return Cell::from("•••").style(theme.dim);
                }
                let value = row.get(&column.name).map(scalar).unwrap_or_default();
                let style = match (column.name == TENANT_COLUMN, tenant) {
                    (true, Some(id)) => theme.tenant(id),
                    _ => theme.text,
                };
                Cell::from(value).style(style)
            });
            let row = Row::new(cells);
            if i == selected {
                row.style(theme.selected)
            } else {
                row
            }
        });
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|(_, w)| Constraint::Length(*w))
        .collect();
    frame.render_widget(
        TableWidget::new(body, widths)
            .header(header)
            .column_spacing(CELL_GAP),
        table_area,
    );
    // On the pane's right border, beside the rows (below the column names).
    let beside_rows = Rect::new(
        table_area.x,
        table_area.y,
        table_area.width + 1,
        table_area.height + 1,
    );
    scrollbar(
        frame,
        beside_rows,
        record.rows.len(),
        scroll,
        rows_shown,
        &state.theme,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_count_as_the_word_wrap_breaks_them() {
        assert_eq!(wrapped_lines("", 10), 1);
        assert_eq!(wrapped_lines("one two", 7), 1);
        assert_eq!(wrapped_lines("one two", 6), 2);
        assert_eq!(wrapped_lines("abcdefghijkl", 5), 3);
        assert_eq!(wrapped_lines("ab abcdefghijkl", 5), 4);
    }
}
