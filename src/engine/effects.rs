//! Turns a worker's [`Effect`] into SQL for one message: evaluates its `$` values against the
//! message and the attempt, and builds the tenant-scoped insert or update the store runs.

use serde_json::{Map, Value};

use super::broker::Message;
use super::store::{Returning, Statement, StoreError, insert_statement, update_statement};
use crate::scenario::{ColumnType, Effect, EffectWrite, Expr, Table, Var};

/// What an effect's `$` values are read from.
#[derive(Debug)]
pub(crate) struct EffectInput<'a> {
    /// The message processed.
    pub message: &'a Message,
    /// Delivery number, from 1.
    pub attempt: u32,
    /// `Some(true)`: the attempt succeeded; `Some(false)`: it failed; `None`: not about one attempt.
    pub delivered: Option<bool>,
    /// The failure, if any.
    pub error: Option<&'a str>,
    /// How long the attempt took, ms.
    pub latency_ms: f64,
    /// Engine time, Unix seconds: formatted as RFC 3339 only when an effect reads `$now`
    /// (formatting it for every message cost 5% of a queue run whose pools write nothing).
    pub now_unix_secs: u64,
}

/// The row a message is about (`payload.row`), where the `$row.…` values come from.
pub(crate) fn message_row(message: &Message) -> Option<&Map<String, Value>> {
    message.payload.get("row")?.as_object()
}

/// The tenant of the row a message is about (0 when it has none: a shared table).
pub(crate) fn message_tenant(message: &Message) -> i64 {
    message_row(message)
        .and_then(|row| row.get("tenant_id"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Why an effect could not be built for a message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EffectError {
    /// The message has no value for a `$row.…` the effect needs.
    #[error("the message has no `{0}`: its payload carries no such column")]
    Missing(String),
    /// The store refused to build the statement.
    #[error("{0}")]
    Store(#[from] StoreError),
}

fn value_of(expr: &Expr, input: &EffectInput<'_>) -> Result<Value, EffectError> {
    let var = match expr {
        Expr::Literal(value) => return Ok(value.clone()),
        Expr::Var(var) => var,
    };
    let message = input.message;
    Ok(match var {
        Var::Now => Value::String(crate::engine::clock::rfc3339(input.now_unix_secs)),
        Var::Event => Value::String(message.event.clone()),
        Var::Topic => Value::String(message.topic.to_string()),
        Var::Message => Value::from(message.id),
        Var::Key => Value::String(message.key.clone()),
        Var::Attempt => Value::from(input.attempt),
        Var::Outcome => Value::String(
            match input.delivered {
                Some(true) => "delivered",
                _ => "failed",
            }
            .to_string(),
        ),
        Var::Error => input
            .error
            .map_or(Value::Null, |e| Value::String(e.to_string())),
        Var::LatencyMs => Value::from((input.latency_ms * 1000.0).round() / 1000.0),
        Var::Tenant => message
            .payload
            .get("tenant")
            .cloned()
            .unwrap_or(Value::Null),
        Var::Row(column) => message_row(message)
            .and_then(|row| row.get(column))
            .cloned()
            .ok_or_else(|| EffectError::Missing(var.source()))?,
    })
}

/// Fits a computed value to its column: text cut to `max_length` (an error message can be
/// long), numbers to the column's kind.
fn fit(value: Value, table: &Table, column: &str) -> Value {
    let Some(column) = table.column(column) else {
        return value;
    };
    match (&value, column.ty) {
        (Value::String(text), _) => match column.max_length {
            Some(max) if text.chars().count() > max as usize => {
                let cut: String = text.chars().take(max.saturating_sub(1) as usize).collect();
                Value::String(format!("{cut}…"))
            }
            _ => value,
        },
        (Value::Number(n), ColumnType::Integer) if n.is_f64() => {
            Value::from(n.as_f64().unwrap_or_default().round() as i64)
        }
        _ => value,
    }
}

/// The statement `effect` runs for `input`, in the message's tenant.
pub(crate) fn statement(
    effect: &Effect,
    table: &Table,
    input: &EffectInput<'_>,
) -> Result<Statement, EffectError> {
    let mut values = Map::new();
    for (column, expr) in &effect.values {
        values.insert(column.clone(), fit(value_of(expr, input)?, table, column));
    }
    let tenant = message_tenant(input.message);
    match &effect.write {
        EffectWrite::Insert => Ok(insert_statement(table, tenant, &values, Returning::Count)?),
        EffectWrite::Update { row } => {
            let id = value_of(row, input)?
                .as_i64()
                .ok_or_else(|| EffectError::Missing("an integer row id".to_string()))?;
            // An update with nothing to set still names its row: read it back instead.
            match update_statement(table, tenant, id, &values, Returning::Count)? {
                Some(statement) => Ok(statement),
                None => Err(EffectError::Missing("a column to set".to_string())),
            }
        }
    }
}
