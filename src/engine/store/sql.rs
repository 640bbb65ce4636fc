//! SQL text building blocks: quoted identifiers and literals, placeholders, the select list,
//! key filters, and the checks that keep unknown names from ever reaching SQL.

use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value};

use super::{SECRET_COLUMN, StoreError};
use crate::scenario::model::{TENANT_COLUMN, Table};

/// Quotes an SQL identifier: `"name"`, with inner double quotes doubled.
pub(super) fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Quotes a text literal: `'text'`, with inner single quotes doubled.
pub(super) fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub(super) fn quote_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(quote).collect::<Vec<_>>().join(", ")
}

/// `?first, ?first+1, …` for `count` parameters.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns a generic operation may return: all but the password hash.
pub(super) fn select_list(table: &Table) -> String {
    quote_list(
        table
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .filter(|name| *name != SECRET_COLUMN),
    )
}

pub(super) fn order_by(table: &Table) -> String {
    let key = table.primary_key();
    if key.is_empty() {
        "rowid".into()
    } else {
        quote_list(key.iter().map(|c| c.name.as_str()))
    }
}

/// The single primary-key column that `id` arguments address.
pub(super) fn single_key(table: &Table) -> Result<&str, StoreError> {
    match table.primary_key().as_slice() {
        [column] => Ok(column.name.as_str()),
        _ => Err(StoreError::NoRowId(table.name.clone())),
    }
}

/// `tenant_id = ?n AND id = ?n+1` (or `id = ?n` for shared tables), numbered from `first`.
pub(super) fn keyed_filter(
    table: &Table,
    tenant_id: i64,
    id: i64,
    first: usize,
) -> Result<(String, Vec<SqlValue>), StoreError> {
    let key = quote(single_key(table)?);
    Ok(if table.tenant_scoped {
        (
            format!(
                "{} = ?{first} AND {key} = ?{}",
                quote(TENANT_COLUMN),
                first + 1
            ),
            vec![SqlValue::Integer(tenant_id), SqlValue::Integer(id)],
        )
    } else {
        (format!("{key} = ?{first}"), vec![SqlValue::Integer(id)])
    })
}

/// Fails on the first key of `values` that is not a column of `table`.
pub(super) fn check_columns(table: &Table, values: &Map<String, Value>) -> Result<(), StoreError> {
    match values.keys().find(|name| table.column(name).is_none()) {
        Some(name) => Err(StoreError::UnknownColumn(name.clone())),
        None => Ok(()),
    }
}

/// The values a client may write, in the table's column order (so equal shapes share one cached
/// statement); the tenant column of a tenant-scoped table is left out, the store sets it.
pub(super) fn assignable<'a>(
    table: &'a Table,
    values: &'a Map<String, Value>,
) -> impl Iterator<Item = (&'a str, &'a Value)> {
    table.columns.iter().filter_map(move |column| {
        if table.tenant_scoped && column.name == TENANT_COLUMN {
            return None;
        }
        values
            .get(&column.name)
            .map(|value| (column.name.as_str(), value))
    })
}
