//! Running-total limits (`max_remaining`): how much of a total on one row is still open, given
//! the rows that already use it up — e.g. an invoice's amount minus its pending and completed
//! payments.
//!
//! The used part is kept as a running total, as a real system would: a small `_used_…` table per
//! rule, maintained by SQLite triggers in the same transaction as every insert, update and delete
//! of the counted table. Summing the counted rows on every check instead costs a scan per
//! request — quadratic over a run (an hour of checkout traffic made a one-hour run 15× slower).
//!
//! ```text
//!  INSERT INTO payments … status 'pending'    ──trigger──▶ _used_payments_amount_cents += amount
//!  UPDATE payments SET status = 'failed'      ──trigger──▶ _used_payments_amount_cents −= amount
//! ```

use rusqlite::types::Value as SqlValue;

use serde_json::Value;

use super::sql::quote;
use super::{QueryRecord, Store, StoreError};
use crate::scenario::model::{Remaining, Scenario, TENANT_COLUMN, Table};

/// The running-total table of `column` of `table`.
fn used_table(table: &str, column: &str) -> String {
    format!("_used_{table}_{column}")
}

/// A JSON scalar as an SQL literal, for trigger conditions (scenario values, validated).
fn sql_literal(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Number(n) => n.to_string(),
        _ => "NULL".to_string(),
    }
}

/// The DDL of every running total: its table and the triggers that keep it.
pub(super) fn running_total_ddl(scenario: &Scenario) -> Vec<String> {
    let mut ddl = Vec::new();
    for table in &scenario.tables {
        for column in &table.columns {
            if let Some(rule) = &column.max_remaining {
                ddl.extend(triggers(table, &column.name, rule));
            }
        }
    }
    ddl
}

fn triggers(own: &Table, column: &str, rule: &Remaining) -> Vec<String> {
    let name = used_table(&own.name, column);
    let used = quote(&name);
    let table = quote(&own.name);
    let via = quote(&rule.via);
    let amount = quote(column);
    let tenant = |row: &str| {
        if own.tenant_scoped {
            format!("{row}.{}", quote(TENANT_COLUMN))
        } else {
            "0".to_string()
        }
    };
    let counts = |row: &str| {
        let mut conditions = vec![format!("{row}.{via} IS NOT NULL")];
        for (name, values) in &rule.counting {
            let list: Vec<String> = values.iter().map(sql_literal).collect();
            conditions.push(format!("{row}.{} IN ({})", quote(name), list.join(", ")));
        }
        conditions.join(" AND ")
    };
    let add = |row: &str, sign: &str| {
        format!(
            "INSERT OR IGNORE INTO {used} (tenant_id, via) VALUES ({t}, {row}.{via});              UPDATE {used} SET used = used {sign} COALESCE({row}.{amount}, 0)              WHERE tenant_id = {t} AND via = {row}.{via};",
            t = tenant(row)
        )
    };
    let trigger = |suffix: &str, event: &str, row: &str, sign: &str| {
        format!(
            "CREATE TRIGGER {} AFTER {event} ON {table} WHEN {} BEGIN {} END",
            quote(&format!("{name}_{suffix}")),
            counts(row),
            add(row, sign)
        )
    };
    vec![
        format!(
            "CREATE TABLE {used} (tenant_id INTEGER NOT NULL, via INTEGER NOT NULL,              used NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, via)) WITHOUT ROWID"
        ),
        trigger("insert", "INSERT", "NEW", "+"),
        trigger("delete", "DELETE", "OLD", "-"),
        trigger("update_old", "UPDATE", "OLD", "-"),
        trigger("update_new", "UPDATE", "NEW", "+"),
    ]
}

/// What a running-total query found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Headroom {
    /// The total on the referenced row.
    pub total: f64,
    /// The part of it the counted rows use.
    pub used: f64,
}

impl Headroom {
    /// What remains: `total − used`.
    pub fn remaining(&self) -> f64 {
        self.total - self.used
    }
}

impl Store {
    /// The headroom of `column` of `table` (a column with `max_remaining = rule`) on the row of
    /// `rule.of.table` whose key is `via_id`, in the tenant: its total and the running sum of
    /// `column` over the tenant's rows of `table` pointing at it that match `rule.counting`.
    ///
    /// ```sql
    /// SELECT "o"."amount_cents" AS "total",
    ///        COALESCE((SELECT "u"."used" FROM "_used_payments_amount_cents" AS "u"
    ///                  WHERE "u"."tenant_id" = ?1 AND "u"."via" = ?2), 0) AS "used"
    /// FROM "invoices" AS "o" WHERE "o"."tenant_id" = ?1 AND "o"."id" = ?2
    /// ```
    ///
    /// `?1` is the tenant and `?2` the referenced key, also when a table is shared (SQLite numbers
    /// parameters by the largest index, so an unused `?1` is fine). `None` when the referenced
    /// row is not in the tenant or its total is NULL. The record holds the statement, its
    /// plan and its one row, for the trace.
    pub fn headroom(
        &self,
        table: &str,
        column: &str,
        rule: &Remaining,
        tenant_id: i64,
        via_id: i64,
    ) -> Result<(Option<Headroom>, QueryRecord), StoreError> {
        let own = self.table(table)?;
        let of = self.table(&rule.of.table)?;
        let key = own
            .column(&rule.via)
            .and_then(|c| c.references.as_ref())
            .map(|fk| fk.column.clone())
            .ok_or_else(|| StoreError::UnknownColumn(rule.via.clone()))?;
        let params = vec![SqlValue::Integer(tenant_id), SqlValue::Integer(via_id)];
        let used_tenant = if own.tenant_scoped { "?1" } else { "0" };
        let mut target = vec![format!("\"o\".{} = ?2", quote(&key))];
        if of.tenant_scoped {
            target.insert(0, format!("\"o\".{} = ?1", quote(TENANT_COLUMN)));
        }
        let sql = format!(
            "SELECT \"o\".{total} AS \"total\", COALESCE((SELECT \"u\".\"used\" FROM {used} AS \
             \"u\" WHERE \"u\".\"tenant_id\" = {used_tenant} AND \"u\".\"via\" = ?2), 0) AS \"used\" \
             FROM {of} AS \"o\" WHERE {target}",
            total = quote(&rule.of.column),
            used = quote(&used_table(&own.name, column)),
            of = quote(&of.name),
            target = target.join(" AND "),
        );
        let record = self.run(own, &sql, params)?;
        let number = |name: &str| {
            record
                .rows
                .first()
                .and_then(|row| row.get(name))
                .and_then(serde_json::Value::as_f64)
        };
        let headroom = match (number("total"), number("used")) {
            (Some(total), Some(used)) => Some(Headroom { total, used }),
            _ => None,
        };
        Ok((headroom, record))
    }
}
