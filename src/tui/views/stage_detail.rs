//! The detail pane of the Request lifecycle view: what a stage is for and what really happened
//! there, with the parts a learner should look at brought forward (the permission bits that
//! are missing, the SQL with its parameters and query plan, the token's checks…).

use ratatui::text::{Line, Span};

use super::super::theme::{Theme, outcome_symbol};
use super::super::widgets::json_lines;
use super::super::widgets::ms;
use crate::engine::detail::{AuthDetail, DatabaseDetail, RbacDetail};
use crate::engine::{StageDetail, StageRecord, Trace};
use crate::scenario::{Scenario, StageKind};

/// The lines describing stage `record` of `trace`.
pub fn lines(
    scenario: &Scenario,
    trace: &Trace,
    record: &StageRecord,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let stage = scenario.stage(&record.stage);
    let title = stage.map_or(record.stage.clone(), |s| s.title.clone());
    out.push(Line::from(vec![
        Span::styled(
            format!("{} {} ", outcome_symbol(record.outcome), title),
            theme.outcome(record.outcome),
        ),
        Span::styled(
            format!("{} · {}", record.kind.as_str(), record.outcome.as_str()),
            theme.outcome(record.outcome),
        ),
        Span::styled(
            format!(
                "   modelled {} · measured {}",
                ms(record.modelled_ms),
                crate::units::us(record.measured_us)
            ),
            theme.dim,
        ),
    ]));
    if let Some(stage) = stage {
        out.push(Line::styled(stage.explain.clone(), theme.text));
    }
    out.push(Line::raw(""));
    out.push(Line::from(vec![
        Span::styled("What happened: ", theme.accent),
        Span::styled(
            match &record.detail {
                // The SQL itself is shown below; say what it returned.
                StageDetail::Database(DatabaseDetail {
                    rows: Some(rows), ..
                }) => match record.error.as_deref() {
                    // The query decided the refusal (a 404 for an id not in this tenant).
                    Some(error) => format!("{error}: {rows} row(s) matched in this tenant"),
                    None => format!("{rows} row(s)"),
                },
                _ => record.summary(),
            },
            theme.outcome(record.outcome),
        ),
    ]));
    // The parts worth a closer look get their own section; the rest of the detail follows as
    // generic lines, without the fields already shown.
    let shown: &[&str] = match &record.detail {
        StageDetail::Rbac(Some(detail)) => {
            rbac(&mut out, detail, theme);
            &["role_mask", "required_mask", "and", "missing_mask", "rule"]
        }
        StageDetail::Database(detail) => {
            database(&mut out, detail, theme);
            &["sql", "params", "plan"]
        }
        StageDetail::Auth(detail) => {
            auth(&mut out, detail, theme);
            &["checks", "verdict"]
        }
        _ => &[],
    };
    let rest = json_lines::lines(&record.detail_json(), shown, 2, theme);
    if !rest.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled("Detail", theme.accent));
        out.extend(rest);
    }
    if record.kind == StageKind::Response {
        out.push(Line::raw(""));
        out.push(Line::from(vec![
            Span::styled("Response ", theme.accent),
            Span::styled(trace.status.to_string(), theme.status_code(trace.status)),
            Span::styled(
                format!("   total modelled {}", ms(trace.total_modelled_ms)),
                theme.dim,
            ),
        ]));
        out.extend(json_lines::lines(&trace.response, &[], 2, theme));
    }
    out
}

/// The role's mask against the route's, with the missing bits marked under them.
fn rbac(out: &mut Vec<Line<'static>>, detail: &RbacDetail, theme: &Theme) {
    out.push(Line::raw(""));
    out.push(Line::styled("Permission bits", theme.accent));
    let row = |label: &str, mask: &str| {
        Line::from(vec![
            Span::styled(format!("  {label:<13}"), theme.dim),
            Span::styled(mask.to_string(), theme.text),
        ])
    };
    out.push(row(&format!("role {}", detail.role), &detail.role_mask));
    out.push(row("required", &detail.required_mask));
    out.push(row("role & req", &detail.and));
    // Mark the bits that are required but not granted.
    let mut marks = vec![Span::styled(format!("  {:<13}", "missing"), theme.dim)];
    for c in detail.missing_mask.chars() {
        let (mark, style) = match c {
            '1' => ("^", theme.reject),
            _ => (" ", theme.text),
        };
        marks.push(Span::styled(mark, style));
    }
    if detail.missing_mask.contains('1') {
        out.push(Line::from(marks));
    }
    out.push(Line::styled(format!("  rule: {}", detail.rule), theme.dim));
}

/// The SQL that ran, its parameters and SQLite's query plan.
fn database(out: &mut Vec<Line<'static>>, detail: &DatabaseDetail, theme: &Theme) {
    let Some(sql) = &detail.sql else {
        return;
    };
    out.push(Line::raw(""));
    out.push(Line::styled("SQL", theme.accent));
    out.push(Line::styled(format!("  {sql}"), theme.hit));
    let bound = detail
        .params
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| format!("?{} = {}", i + 1, p))
        .collect::<Vec<_>>()
        .join("   ");
    if !bound.is_empty() {
        out.push(Line::styled(format!("  {bound}"), theme.text));
    }
    let plan = detail.plan.as_deref().unwrap_or_default();
    if !plan.is_empty() {
        out.push(Line::styled("Query plan", theme.accent));
    }
    for step in plan {
        out.push(Line::styled(format!("  {step}"), theme.text));
    }
}

/// The token's checks, each passed or failed.
fn auth(out: &mut Vec<Line<'static>>, detail: &AuthDetail, theme: &Theme) {
    let Some(checks) = &detail.checks else {
        return;
    };
    out.push(Line::raw(""));
    out.push(Line::styled("Token checks", theme.accent));
    for check in checks {
        out.push(Line::from(vec![
            Span::styled(
                if check.ok { "  ✓ " } else { "  ✗ " },
                if check.ok { theme.pass } else { theme.reject },
            ),
            Span::styled(format!("{:<10}", check.check), theme.text),
            Span::styled(check.detail.clone(), theme.dim),
        ]));
    }
}
