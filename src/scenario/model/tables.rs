//! The database schema: tables, columns, foreign keys, indexes and seed rows, and the SQL side
//! of [`ColumnType`].

use std::fmt;

use indexmap::IndexMap;
use serde::Serialize;

use super::{AutoValue, ColumnType, FillFrom};

/// A foreign key target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    /// Referenced table.
    pub table: String,
    /// Referenced column.
    pub column: String,
}

impl fmt::Display for ForeignKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

/// A column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// SQL type.
    pub ty: ColumnType,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Unique on its own.
    pub unique: bool,
    /// May be NULL.
    pub nullable: bool,
    /// Foreign key target.
    pub references: Option<ForeignKey>,
    /// Longest text.
    pub max_length: Option<u32>,
    /// Default for creates.
    pub default: Option<serde_json::Value>,
    /// Filled in by the server.
    pub auto: Option<AutoValue>,
    /// Marked `server_owned` in the file: only the server sets it (see
    /// [`Table::is_server_owned`] for the columns that are server-owned without saying so).
    pub server_owned: bool,
    /// Smallest value a request may send.
    pub min: Option<f64>,
    /// Largest value a request may send.
    pub max: Option<f64>,
    /// The value may be at most what remains of a total on another row.
    pub max_remaining: Option<Remaining>,
    /// Meaning.
    pub explain: String,
}

/// A column reference `table.column`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnRef {
    /// The table.
    pub table: String,
    /// Its column.
    pub column: String,
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

/// A running-total limit (`max_remaining`): a new value may be at most `of` on the row that
/// `via` points at, minus the sum of the column over the rows (same tenant, same `via`) that match
/// `counting`. A payment of an invoice is the example: at most the invoice's total minus its
/// pending and completed payments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Remaining {
    /// The total, e.g. `invoices.amount_cents`.
    pub of: ColumnRef,
    /// This table's column that references the `of` table, e.g. `invoice_id`.
    pub via: String,
    /// Which rows use up the total: each listed column holds one of the listed values (empty:
    /// every row counts).
    pub counting: Vec<(String, Vec<serde_json::Value>)>,
}

impl Column {
    /// Whether a create request must send this column.
    pub fn required_on_create(&self, table: &Table) -> bool {
        !self.nullable && self.default.is_none() && self.auto.is_none() && !table.is_generated(self)
    }
}

/// A secondary index.
#[derive(Debug, Clone, Serialize)]
pub struct Index {
    /// Name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<String>,
    /// Unique index.
    pub unique: bool,
    /// Which queries it serves.
    pub explain: String,
}

/// One seed row: column name → JSON value.
pub type Row = IndexMap<String, serde_json::Value>;

/// A table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Name.
    pub name: String,
    /// What it holds.
    pub explain: String,
    /// Rows belong to tenants through `tenant_id`.
    pub tenant_scoped: bool,
    /// Identity section the rows come from.
    pub fill: Option<FillFrom>,
    /// Columns.
    pub columns: Vec<Column>,
    /// Secondary indexes.
    pub indexes: Vec<Index>,
    /// Seed rows (for `fill` tables: generated from the identity section, without secrets).
    pub rows: Vec<Row>,
}

/// A limit as people write it: `1`, not `1.0`; `0.5` stays `0.5`.
pub fn plain_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// Name of the column that ties a row to its tenant.
pub const TENANT_COLUMN: &str = "tenant_id";

impl Table {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The primary-key columns.
    pub fn primary_key(&self) -> Vec<&Column> {
        self.columns.iter().filter(|c| c.primary_key).collect()
    }

    /// True for the single integer primary key, which the database assigns (`rowid`).
    pub fn is_generated(&self, column: &Column) -> bool {
        let pk = self.primary_key();
        column.primary_key && column.ty == ColumnType::Integer && pk.len() == 1
    }

    /// Whether only the server may set the column, so a request body may not name it: the
    /// database-assigned id, `tenant_id`, `auto` columns, the personas table's password hash,
    /// and every column marked `server_owned`.
    pub fn is_server_owned(&self, column: &Column) -> bool {
        column.server_owned
            || self.is_generated(column)
            || column.name == TENANT_COLUMN
            || column.auto.is_some()
            || (self.fill == Some(FillFrom::Personas) && column.name == "password_hash")
    }

    /// The columns only the server sets, in column order.
    pub fn server_owned_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| self.is_server_owned(c))
    }

    /// Whether the column is the first column of some index (or the primary key or unique).
    pub fn is_indexed(&self, column: &str) -> bool {
        self.column(column)
            .is_some_and(|c| c.unique || (c.primary_key && self.primary_key().len() == 1))
            || self.primary_key().first().is_some_and(|c| c.name == column)
            || self
                .indexes
                .iter()
                .any(|i| i.columns.first().is_some_and(|c| c == column))
    }
}

impl ColumnType {
    /// The SQL type name.
    pub fn sql(&self) -> &'static str {
        match self {
            ColumnType::Integer | ColumnType::Boolean => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Text | ColumnType::Timestamp => "TEXT",
        }
    }

    /// The type name as written in scenario files.
    pub fn as_str(&self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Real => "real",
            ColumnType::Text => "text",
            ColumnType::Boolean => "boolean",
            ColumnType::Timestamp => "timestamp",
        }
    }

    /// Whether a JSON value fits this column type (`null` is checked separately). An integer
    /// must fit SQLite's 64-bit signed INTEGER: a larger one would be bound as something else
    /// and slip past checks that read the value as an `i64` (such as the tenant check).
    pub fn accepts(&self, value: &serde_json::Value) -> bool {
        match self {
            ColumnType::Integer => value.is_i64(),
            ColumnType::Real => value.is_number(),
            ColumnType::Text | ColumnType::Timestamp => value.is_string(),
            ColumnType::Boolean => value.is_boolean(),
        }
    }
}
