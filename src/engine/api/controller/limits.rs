//! Business rules that need the database: running-total limits (`max_remaining`), checked by the
//! database stage right before the write, e.g. "a payment is at most what is still open of its
//! invoice".
//!
//! ```text
//!  body { invoice_id: 2, amount_cents: 500000 }
//!    └─▶ SELECT total, used … invoices ⟕ payments(pending, completed)   → 490000, 0
//!    └─▶ 500000 > 490000 − 0  ⇒  422 limit_exceeded, nothing written
//! ```
//!
//! These checks run in the database stage and not in the validate stage because they read rows
//! that concurrent requests change: checked at validate time, two payments could both fit the
//! same open amount before either is written. The caller holds [`Core::limits`] from these
//! checks through the write.
//!
//! [`Core::limits`]: crate::engine::core::Core::limits

use axum::http::StatusCode;
use serde_json::Value;

use super::shared::{Call, singular};
use crate::engine::core::Core;
use crate::engine::pipeline::error::ApiError;
use crate::engine::store::StoreError;
use crate::engine::trace::detail::{FieldProblem, LimitCheck};
use crate::scenario::{Action, Table, plain_number};

/// Checks every `max_remaining` limit of `table` that the body's values are subject to (creates
/// only: an update's new value would also count its own old one). Returns the checks that ran
/// and the fields that broke their limit.
pub(super) fn check_limits(
    core: &Core,
    call: &Call,
    table: &Table,
) -> Result<(Vec<LimitCheck>, Vec<FieldProblem>), StoreError> {
    let mut checks = Vec::new();
    let mut problems = Vec::new();
    if call.route.action != Action::Create {
        return Ok((checks, problems));
    }
    for column in &table.columns {
        let Some(rule) = &column.max_remaining else {
            continue;
        };
        let (Some(value), Some(via_id)) = (
            call.body.get(&column.name).and_then(Value::as_f64),
            call.body.get(&rule.via).and_then(Value::as_i64),
        ) else {
            continue;
        };
        let (headroom, query) =
            core.store
                .headroom(&table.name, &column.name, rule, call.tenant_id, via_id)?;
        let passed = headroom.is_none_or(|h| value <= h.remaining());
        if let (false, Some(h)) = (passed, headroom) {
            let remaining = h.remaining().max(0.0);
            problems.push(FieldProblem::new(
                &column.name,
                format!(
                    "must be at most {}: {} {via_id}'s {} is {}, and earlier {} take {} of it",
                    plain_number(remaining),
                    singular(&rule.of.table),
                    rule.of.column,
                    plain_number(h.total),
                    table.name,
                    plain_number(h.used),
                ),
            ));
        }
        checks.push(LimitCheck {
            field: column.name.clone(),
            value: number(value),
            sql: query.sql,
            params: query.params,
            total: headroom.map(|h| number(h.total)),
            used: headroom.map(|h| number(h.used)),
            remaining: headroom.map(|h| number(h.remaining())),
            passed,
        });
    }
    Ok((checks, problems))
}

/// A number as JSON: whole numbers as integers (amounts in cents read `125000`, not `125000.0`).
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9e15 {
        Value::from(value as i64)
    } else {
        Value::from(value)
    }
}

/// The 422 for values over their limit: names the fields, and the limit in `fields`.
pub(super) fn limit_error(problems: &[FieldProblem]) -> ApiError {
    let message = match problems {
        [one] => format!("`{}` {}", one.field, one.problem),
        _ => format!("{} values are over their limits", problems.len()),
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "limit_exceeded", message)
        .with_detail("fields", serde_json::to_value(problems).unwrap_or_default())
}
