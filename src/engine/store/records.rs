//! What the trace shows of a statement: running it into a [`QueryRecord`] with SQLite's query
//! plan, and converting values between JSON and SQL on the way in and out.

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Store, StoreError};
use crate::scenario::model::{ColumnType, Table};

/// One executed statement, as the request trace shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueryRecord {
    /// The exact SQL text that ran.
    pub sql: String,
    /// The bound parameters, in order (`?1` first), as JSON.
    pub params: Vec<Value>,
    /// Result rows keyed by column name (booleans as JSON bools, integers as integers, reals as
    /// floats, text as strings, NULL as null). For writes: the rows returned by `RETURNING`.
    pub rows: Vec<Map<String, Value>>,
    /// Rows inserted, updated or deleted (0 for reads).
    pub rows_affected: usize,
    /// SQLite's `EXPLAIN QUERY PLAN` of the same statement with the same parameters: the `detail`
    /// of each plan row, e.g. `SEARCH projects USING INDEX projects_tenant_name (tenant_id=?)`.
    pub plan: Vec<String>,
}

impl Store {
    /// Runs `sql` with `params`, collecting its plan and rows; writes count their `RETURNING` rows.
    pub(super) fn run(
        &self,
        table: &Table,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<QueryRecord, StoreError> {
        run_on(&self.conn(), table, sql, params)
    }
}

/// Runs `sql` on `conn` (already locked, perhaps inside a transaction) and records it, as
/// [`Store::run`] does.
pub(super) fn run_on(
    conn: &Connection,
    table: &Table,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<QueryRecord, StoreError> {
    let plan = explain(conn, sql, &params)?;
    let mut record = execute_on(conn, table, sql, params)?;
    record.plan = plan;
    Ok(record)
}

/// [`run_on`] without the query plan (`plan` is empty): for statements no trace shows, such as
/// a worker's effect, where `EXPLAIN QUERY PLAN` would be a second statement per message for
/// nobody.
pub(super) fn execute_on(
    conn: &Connection,
    table: &Table,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<QueryRecord, StoreError> {
    {
        let plan = Vec::new();
        let mut statement = conn.prepare_cached(sql)?;
        let names: Vec<String> = statement.column_names().map(str::to_string).collect();
        let types: Vec<Option<ColumnType>> = names
            .iter()
            .map(|name| table.column(name).map(|c| c.ty))
            .collect();
        let writes = !statement.readonly();
        let mut rows = Vec::new();
        let mut cursor = statement.query(params_from_iter(params.iter()))?;
        while let Some(row) = cursor.next()? {
            let mut object = Map::new();
            for (i, name) in names.iter().enumerate() {
                object.insert(name.clone(), sql_ref_to_json(row.get_ref(i)?, types[i]));
            }
            rows.push(object);
        }
        let rows_affected = if writes { rows.len() } else { 0 };
        Ok(QueryRecord {
            sql: sql.to_string(),
            params: params.iter().map(sql_to_json).collect(),
            rows,
            rows_affected,
            plan,
        })
    }
}

/// Runs a write nobody reads back (a worker's effect) and returns how many rows it wrote,
/// without turning rows and parameters into JSON for a record no trace shows. Its statement is
/// built with [`Returning::Count`](super::Returning::Count): SQLite builds no row only to have it
/// thrown away, and `changes()` counts the rows written.
pub(super) fn execute_counting(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
) -> Result<usize, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    if statement.readonly() {
        return Ok(0);
    }
    if statement.column_count() == 0 {
        return Ok(statement.execute(params_from_iter(params.iter()))?);
    }
    // A write that returns rows (`RETURNING`): count them, as `execute_on` does.
    let mut cursor = statement.query(params_from_iter(params.iter()))?;
    let mut rows = 0;
    while cursor.next()?.is_some() {
        rows += 1;
    }
    Ok(rows)
}

/// `EXPLAIN QUERY PLAN` of `sql` with the same parameters: the `detail` of each plan row.
pub(super) fn explain(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let details = statement
        .query_map(params_from_iter(params.iter()), |row| {
            row.get::<_, String>(3)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(details)
}

/// A JSON value as a bound SQL parameter (booleans as 0/1; arrays and objects as JSON text).
pub(super) fn json_to_sql(value: &Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(SqlValue::Integer)
            .or_else(|| n.as_f64().map(SqlValue::Real))
            .unwrap_or(SqlValue::Null),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// A bound parameter as JSON, exactly as it was bound.
pub(super) fn sql_to_json(value: &SqlValue) -> Value {
    sql_ref_to_json(ValueRef::from(value), None)
}

/// A result value as JSON; integers of boolean columns become JSON bools.
pub(super) fn sql_ref_to_json(value: ValueRef<'_>, ty: Option<ColumnType>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if ty == Some(ColumnType::Boolean) => Value::Bool(i != 0),
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => Value::Array(bytes.iter().map(|b| Value::from(*b)).collect()),
    }
}
