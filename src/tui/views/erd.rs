//! The Tenant schema view: tables, their columns and keys, where each foreign key leads, and
//! the real rows — per tenant or all together with `tenant_id` coloured, to make isolation
//! visible.
//!
//! ```text
//!  ┌ tables / filter ┐┌ breadcrumb · table explain ───────────────────┐
//!  │ tenants         ││ columns: type PK FK UQ NN IX → target explain  │
//!  │▶users           ││ referenced by …        indexes …               │
//!  ├ schema map ─────┤│  (or, with r: the rows and the SQL that read them)
//!  └─────────────────┘└────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table as TableWidget, Wrap};

use super::super::state::AppState;
use super::super::state::erd::{ErdFocus, ErdMode, ErdState};
use super::super::theme::Theme;
use super::super::widgets::json_lines::scalar;
use super::super::widgets::{fit, pad, pane};
use crate::scenario::{Column, TENANT_COLUMN, Table};

/// Draws the view into `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState) {
    let wide = area.width >= 120 && area.height >= 30;
    let left_w = if wide { 28 } else { 20 };
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(20)]).areas(area);
    if wide {
        let map_h = state.scenario.tables.len() as u16 + 2;
        let [list, map] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(map_h)]).areas(left);
        draw_tables(frame, list, state);
        draw_map(frame, map, state);
    } else {
        draw_tables(frame, left, state);
    }
    let erd = &state.erd;
    let Some(table) = erd.current() else {
        frame.render_widget(
            Paragraph::new("No table matches the filter.").block(pane(
                " Schema ",
                false,
                &state.theme,
            )),
            right,
        );
        return;
    };
    let [header, body] = Layout::vertical([
        Constraint::Length(if wide { 3 } else { 2 }),
        Constraint::Min(3),
    ])
    .areas(right);
    draw_header(frame, header, state, table);
    match erd.mode {
        ErdMode::Schema => draw_schema(frame, body, state, table, wide),
        ErdMode::Rows => draw_rows(frame, body, state, table),
    }
}

fn draw_tables(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let erd = &state.erd;
    let focused = erd.focus == ErdFocus::Tables;
    let block = pane(" Tables (/ filter) ", focused, theme);
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
    let visible = erd.visible_tables();
    if visible.is_empty() {
        lines.push(Line::styled("(no match)", theme.dim));
    }
    let counts_room = width.saturating_sub(2);
    for table in visible {
        let selected = table.name == erd.current_name();
        let marker = if table.tenant_scoped { "◆" } else { " " };
        let text = pad(&format!("{marker} {}", table.name), counts_room);
        let style = match (selected, focused) {
            (true, true) => theme.selected,
            (true, false) => theme.accent,
            _ => theme.text,
        };
        lines.push(Line::styled(text, style));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("◆ tenant-scoped", theme.dim));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The schema graph in miniature: each table with the tables it points at.
fn draw_map(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let current = state.erd.current_name();
    let block = pane(" Schema map ", false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let related = |table: &Table| {
        table
            .columns
            .iter()
            .any(|c| c.references.as_ref().is_some_and(|r| r.table == current))
            || state.erd.current().is_some_and(|t| {
                t.columns
                    .iter()
                    .any(|c| c.references.as_ref().is_some_and(|r| r.table == table.name))
            })
    };
    let lines: Vec<Line> = state
        .scenario
        .tables
        .iter()
        .map(|table| {
            let mut targets: Vec<&str> = table
                .columns
                .iter()
                .filter_map(|c| c.references.as_ref().map(|r| r.table.as_str()))
                .collect();
            targets.dedup();
            let style = if table.name == current {
                theme.selected
            } else if related(table) {
                theme.accent
            } else {
                theme.dim
            };
            let arrow = if targets.is_empty() {
                String::new()
            } else {
                format!(" → {}", targets.join(","))
            };
            Line::styled(
                fit(&format!("{}{arrow}", table.name), usize::from(inner.width)),
                style,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_header(frame: &mut Frame, area: Rect, state: &AppState, table: &Table) {
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
    let scope = if table.tenant_scoped {
        "tenant-scoped: every row has a tenant_id and every query filters on it"
    } else {
        "shared by all tenants"
    };
    let lines = vec![
        Line::from(crumbs),
        Line::from(vec![
            Span::styled(format!(" {} ", table.explain), theme.text),
            Span::styled(format!("({scope})"), theme.dim),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
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
    let theme = &state.theme;
    let erd = &state.erd;
    let focused = erd.focus == ErdFocus::Columns;
    let incoming = erd.incoming(&table.name);
    let about_h = if wide { 0 } else { 3 };
    let keys_min = (incoming.len().max(table.indexes.len()) as u16 + 2).min(6);
    let columns_h = (table.columns.len() as u16 + 3)
        .min(area.height.saturating_sub(keys_min + about_h))
        .max(4);
    let [columns_area, keys_area, about_area] = Layout::vertical([
        Constraint::Length(columns_h),
        Constraint::Min(3),
        Constraint::Length(about_h),
    ])
    .areas(area);
    let block = pane(" Columns (→ focus, Enter follows FK) ", focused, theme);
    let inner = block.inner(columns_area);
    frame.render_widget(block, columns_area);
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
    let offset = erd
        .item
        .saturating_sub(height.saturating_sub(1))
        .min(table.columns.len().saturating_sub(height));
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
    draw_keys(frame, keys_area, state, table, focused);
    if about_h > 0 {
        let text = selected_explain(erd, table);
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.dim)
                .wrap(Wrap { trim: true })
                .block(pane(" About ", false, theme)),
            about_area,
        );
    }
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

fn draw_keys(frame: &mut Frame, area: Rect, state: &AppState, table: &Table, focused: bool) {
    let theme = &state.theme;
    let erd = &state.erd;
    let [incoming_area, index_area] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let incoming = erd.incoming(&table.name);
    let lines: Vec<Line> = if incoming.is_empty() {
        vec![Line::styled("nothing points here", theme.dim)]
    } else {
        incoming
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let index = table.columns.len() + i;
                Line::styled(
                    format!("← {}.{} ({})", key.table, key.column, key.target),
                    item_style(erd, index, focused, theme, false),
                )
            })
            .collect()
    };
    frame.render_widget(
        Paragraph::new(lines).block(pane(" Referenced by ", false, theme)),
        incoming_area,
    );
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
    frame.render_widget(
        Paragraph::new(lines).block(pane(" Indexes ", false, theme)),
        index_area,
    );
}

fn draw_rows(frame: &mut Frame, area: Rect, state: &AppState, table: &Table) {
    let theme = &state.theme;
    let erd = &state.erd;
    let scope = match erd.tenant.and_then(|id| state.scenario.tenant_by_id(id)) {
        Some(tenant) => format!("tenant {} ({})", tenant.id, tenant.subdomain),
        None => "all tenants".to_string(),
    };
    let title = format!(" Rows · {scope} (t: tenant, ↑↓ ←→ scroll) ");
    let block = pane(title, true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(rows) = erd.shown_rows() else {
        frame.render_widget(
            Paragraph::new("reading the rows from the embedded database…").style(theme.dim),
            inner,
        );
        return;
    };
    let record = match &rows.result {
        Ok(record) => record,
        Err(error) => {
            frame.render_widget(
                Paragraph::new(format!("could not read the rows: {error}")).style(theme.reject),
                inner,
            );
            return;
        }
    };
    let [sql_area, table_area] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    let params = record
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| format!("?{}={p}", i + 1))
        .collect::<Vec<_>>()
        .join(" ");
    let note = if !table.tenant_scoped && erd.tenant.is_some() && table.fill.is_none() {
        "  (shared table: the same for every tenant)"
    } else {
        ""
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::styled(
                fit(
                    &format!("{}  {params}", record.sql),
                    usize::from(sql_area.width),
                ),
                theme.hit,
            ),
            Line::styled(format!("{} row(s){note}", record.rows.len()), theme.dim),
        ]),
        sql_area,
    );
    let names: Vec<String> = match record.rows.first() {
        Some(row) => row.keys().cloned().collect(),
        None => table.columns.iter().map(|c| c.name.clone()).collect(),
    };
    let offset = erd.column_offset.min(names.len().saturating_sub(1));
    let names = &names[offset..];
    let header = Row::new(names.iter().map(|name| {
        let style = if name == TENANT_COLUMN {
            theme.warn
        } else {
            theme.accent
        };
        Cell::from(name.clone()).style(style)
    }));
    let rows_shown = usize::from(table_area.height).saturating_sub(1);
    let scroll = erd
        .row_scroll
        .min(record.rows.len().saturating_sub(rows_shown));
    let body = record.rows.iter().skip(scroll).take(rows_shown).map(|row| {
        let tenant = row.get(TENANT_COLUMN).and_then(|v| v.as_i64());
        Row::new(names.iter().map(|name| {
            let value = row.get(name).map(scalar).unwrap_or_default();
            let style = match (name == TENANT_COLUMN, tenant) {
                (true, Some(id)) => theme.tenant(id),
                _ => theme.text,
            };
            Cell::from(value).style(style)
        }))
    });
    let widths: Vec<Constraint> = names
        .iter()
        .map(|name| {
            let longest = record
                .rows
                .iter()
                .map(|r| r.get(name).map_or(0, |v| scalar(v).chars().count()))
                .max()
                .unwrap_or(0)
                .max(name.len());
            Constraint::Length(longest.min(28) as u16)
        })
        .collect();
    frame.render_widget(
        TableWidget::new(body, widths)
            .header(header)
            .column_spacing(2),
        table_area,
    );
}
