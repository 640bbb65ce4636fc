//! Tenant-scoped writes: insert, update and delete, each returning the rows it touched.

use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value};

use super::records::json_to_sql;
use super::sql::{
    assignable, check_columns, keyed_filter, placeholders, quote, quote_list, select_list,
};
use super::{QueryRecord, Store, StoreError};
use crate::scenario::model::{TENANT_COLUMN, Table};

impl Store {
    /// Inserts a row into `table` for the tenant and returns it (`RETURNING`).
    ///
    /// The store sets `tenant_id` itself from `tenant_id`: a client value is ignored. Every key of
    /// `values` must be a column of the table ([`StoreError::UnknownColumn`] otherwise); columns
    /// left out get their defaults. The record's `rows` hold the inserted row.
    pub fn insert(
        &self,
        table: &str,
        tenant_id: i64,
        values: &Map<String, Value>,
    ) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        let (sql, params) = insert_statement(table, tenant_id, values, Returning::Rows)?;
        self.run(table, &sql, params)
    }

    /// Updates the row with primary key `id` in the tenant and returns it (`RETURNING`).
    ///
    /// A `tenant_id` in `values` is ignored: a row never moves to another tenant. If the row is
    /// not in this tenant, nothing changes and the record has no rows (`rows_affected == 0`).
    /// With nothing to set, the row is read as by [`Store::get`].
    pub fn update(
        &self,
        table: &str,
        tenant_id: i64,
        id: i64,
        values: &Map<String, Value>,
    ) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        match update_statement(table, tenant_id, id, values, Returning::Rows)? {
            Some((sql, params)) => self.run(table, &sql, params),
            None => self.get(&table.name, tenant_id, id),
        }
    }

    /// Deletes the row with primary key `id` in the tenant; the record's `rows` hold the deleted
    /// row (`RETURNING`), and `rows_affected` is 0 when the tenant has no such row.
    ///
    /// Deleting a row that other rows still reference fails with
    /// [`ConstraintKind::ForeignKey`](super::ConstraintKind::ForeignKey).
    pub fn delete(&self, table: &str, tenant_id: i64, id: i64) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        let (sql, params) = delete_statement(table, tenant_id, id)?;
        self.run(table, &sql, params)
    }
}

/// A statement and its parameters.
pub type Statement = (String, Vec<SqlValue>);

/// What a write statement gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returning {
    /// Every written row (`RETURNING` the table's readable columns): for the API, whose
    /// answer and trace show the row.
    Rows,
    /// Nothing: the caller counts the rows with `changes()` (a worker's effect, which nobody
    /// reads back), so SQLite builds no row to throw away.
    Count,
}

impl Returning {
    /// The statement's ending: ` RETURNING <columns>`, or nothing.
    fn clause(self, table: &Table) -> String {
        match self {
            Self::Rows => format!(" RETURNING {}", select_list(table)),
            Self::Count => String::new(),
        }
    }
}

/// The `INSERT` of [`Store::insert`] (with [`Returning::Rows`]).
pub fn insert_statement(
    table: &Table,
    tenant_id: i64,
    values: &Map<String, Value>,
    returning: Returning,
) -> Result<Statement, StoreError> {
    check_columns(table, values)?;
    let mut columns: Vec<&str> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if table.tenant_scoped {
        columns.push(TENANT_COLUMN);
        params.push(SqlValue::Integer(tenant_id));
    }
    for (name, value) in assignable(table, values) {
        columns.push(name);
        params.push(json_to_sql(value));
    }
    let sql = if columns.is_empty() {
        format!(
            "INSERT INTO {} DEFAULT VALUES{}",
            quote(&table.name),
            returning.clause(table),
        )
    } else {
        format!(
            "INSERT INTO {} ({}) VALUES ({}){}",
            quote(&table.name),
            quote_list(columns.iter().copied()),
            placeholders(1, columns.len()),
            returning.clause(table),
        )
    };
    Ok((sql, params))
}

/// The `UPDATE` of [`Store::update`] (with [`Returning::Rows`]); `None` when there is nothing
/// to set.
pub fn update_statement(
    table: &Table,
    tenant_id: i64,
    id: i64,
    values: &Map<String, Value>,
    returning: Returning,
) -> Result<Option<Statement>, StoreError> {
    check_columns(table, values)?;
    let assignments: Vec<(&str, &Value)> = assignable(table, values).collect();
    if assignments.is_empty() {
        return Ok(None);
    }
    let set = assignments
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("{} = ?{}", quote(name), i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let mut params: Vec<SqlValue> = assignments.iter().map(|(_, v)| json_to_sql(v)).collect();
    let (filter, key_params) = keyed_filter(table, tenant_id, id, params.len() + 1)?;
    params.extend(key_params);
    let sql = format!(
        "UPDATE {} SET {set} WHERE {filter}{}",
        quote(&table.name),
        returning.clause(table),
    );
    Ok(Some((sql, params)))
}

/// The `DELETE … RETURNING` of [`Store::delete`].
pub fn delete_statement(table: &Table, tenant_id: i64, id: i64) -> Result<Statement, StoreError> {
    let (filter, params) = keyed_filter(table, tenant_id, id, 1)?;
    let sql = format!(
        "DELETE FROM {} WHERE {filter} RETURNING {}",
        quote(&table.name),
        select_list(table),
    );
    Ok((sql, params))
}
