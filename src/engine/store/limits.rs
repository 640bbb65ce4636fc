//! Running-total limits (`max_remaining`): how much of a total on one row is still open, given
//! the rows that already use it up — e.g. an invoice's amount minus its pending and completed
//! payments.

use rusqlite::types::Value as SqlValue;

use super::records::json_to_sql;
use super::sql::quote;
use super::{QueryRecord, Store, StoreError};
use crate::scenario::model::{Remaining, TENANT_COLUMN};

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
    /// `rule.of.table` whose key is `via_id`, in the tenant: its total and the sum of `column`
    /// over the tenant's rows of `table` pointing at it that match `rule.counting`.
    ///
    /// ```sql
    /// SELECT "o"."amount_cents" AS "total",
    ///        COALESCE((SELECT SUM("r"."amount_cents") FROM "payments" AS "r"
    ///                  WHERE "r"."tenant_id" = ?1 AND "r"."invoice_id" = ?2
    ///                    AND "r"."status" IN (?3, ?4)), 0) AS "used"
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
        let mut params = vec![SqlValue::Integer(tenant_id), SqlValue::Integer(via_id)];
        let mut counted = vec![format!("\"r\".{} = ?2", quote(&rule.via))];
        if own.tenant_scoped {
            counted.insert(0, format!("\"r\".{} = ?1", quote(TENANT_COLUMN)));
        }
        for (name, values) in &rule.counting {
            let first = params.len() + 1;
            params.extend(values.iter().map(json_to_sql));
            let slots: Vec<String> = (first..params.len() + 1).map(|i| format!("?{i}")).collect();
            counted.push(format!("\"r\".{} IN ({})", quote(name), slots.join(", ")));
        }
        let mut target = vec![format!("\"o\".{} = ?2", quote(&key))];
        if of.tenant_scoped {
            target.insert(0, format!("\"o\".{} = ?1", quote(TENANT_COLUMN)));
        }
        let sql = format!(
            "SELECT \"o\".{total} AS \"total\", COALESCE((SELECT SUM(\"r\".{column}) FROM {own} AS \
             \"r\" WHERE {counted}), 0) AS \"used\" FROM {of} AS \"o\" WHERE {target}",
            total = quote(&rule.of.column),
            column = quote(column),
            own = quote(&own.name),
            counted = counted.join(" AND "),
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
