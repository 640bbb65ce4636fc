//! The database schema: `[[tables]]` with their columns, secondary indexes and seed rows.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::span::Sp;

/// SQL column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// 64-bit integer.
    Integer,
    /// Floating-point number.
    Real,
    /// UTF-8 text.
    Text,
    /// true/false (stored as 0/1).
    Boolean,
    /// RFC 3339 timestamp such as `2026-01-12T09:00:00Z` (stored as text).
    Timestamp,
}

/// Which identity section fills a table with rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FillFrom {
    /// One row per `[[tenants]]` entry: columns id, subdomain, name, plan.
    Tenants,
    /// One row per `[[roles]]` entry: columns id, name, permissions (the bitmask).
    Roles,
    /// One row per `[[personas]]` entry: columns id, tenant_id, role_id, email, name, password_hash.
    Personas,
}

/// A value the server fills in itself when a row is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AutoValue {
    /// The current time on the engine clock.
    Now,
    /// The id of the authenticated user.
    CurrentUser,
}

/// A database table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    /// Table name (SQL identifier).
    pub name: Sp<String>,
    /// What the table holds, for learners.
    #[serde(default)]
    pub explain: String,
    /// Rows belong to a tenant: the table needs a `tenant_id` column referencing the tenants table,
    /// and every query is filtered by it.
    #[serde(default)]
    pub tenant_scoped: Sp<bool>,
    /// Rows come from an identity section instead of `rows`.
    #[serde(default)]
    pub fill: Option<Sp<FillFrom>>,
    /// Columns, in order.
    pub columns: Vec<RawColumn>,
    /// Secondary indexes.
    #[serde(default)]
    pub indexes: Vec<RawIndex>,
    /// Seed rows: one inline table per row, keyed by column name.
    #[serde(default)]
    pub rows: Vec<Sp<IndexMap<String, Sp<serde_json::Value>>>>,
}

/// A table column.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    /// Column name (SQL identifier).
    pub name: Sp<String>,
    /// SQL type.
    #[serde(rename = "type")]
    pub ty: Sp<ColumnType>,
    /// Part of the primary key. An integer primary key alone is assigned by the database.
    #[serde(default)]
    pub primary_key: bool,
    /// Values must be unique across the table.
    #[serde(default)]
    pub unique: bool,
    /// The column may be NULL (absent).
    #[serde(default)]
    pub nullable: bool,
    /// Foreign key: `table.column` this column points at.
    #[serde(default)]
    pub references: Option<Sp<String>>,
    /// Longest accepted text, in characters.
    #[serde(default)]
    pub max_length: Option<Sp<u32>>,
    /// Value used when a create request leaves the column out.
    #[serde(default)]
    pub default: Option<Sp<serde_json::Value>>,
    /// Filled in by the server on create; clients may not send it. Seed rows still give it a
    /// value unless the column is nullable or has a default.
    #[serde(default)]
    pub auto: Option<Sp<AutoValue>>,
    /// Only the server sets this column (a worker, a state machine): a request body that names
    /// it is refused with 422 `server_owned_field`. Creates take the `default`. Ids, `tenant_id`
    /// and `auto` columns are server-owned without saying so.
    #[serde(default)]
    pub server_owned: Sp<bool>,
    /// Smallest value a request may send (integer and real columns).
    #[serde(default)]
    pub min: Option<Sp<f64>>,
    /// Largest value a request may send (integer and real columns).
    #[serde(default)]
    pub max: Option<Sp<f64>>,
    /// A request's value may be at most what remains of a column of the row another column
    /// points at, e.g. a payment at most the invoice's total minus its payments so far.
    #[serde(default)]
    pub max_remaining: Option<Sp<RawRemaining>>,
    /// What the column means, for learners.
    #[serde(default)]
    pub explain: String,
}

/// `max_remaining`: the limit is the `of` column of the row that `via` points at, minus the sum of
/// this column over this table's rows (in the same tenant) that point at the same row and match
/// `counting`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRemaining {
    /// The total, as `table.column`, e.g. `"invoices.amount_cents"`.
    pub of: Sp<String>,
    /// This table's column that references the `of` table, e.g. `"invoice_id"`.
    pub via: Sp<String>,
    /// Which existing rows use up the total: column name → the values that count, e.g.
    /// `{ status = ["pending", "completed"] }`. Without it every row counts.
    #[serde(default)]
    pub counting: IndexMap<String, Sp<Vec<serde_json::Value>>>,
}

/// A secondary index.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    /// Index name (SQL identifier).
    pub name: Sp<String>,
    /// Indexed columns, in order (put `tenant_id` first in tenant-scoped tables).
    pub columns: Vec<Sp<String>>,
    /// Values of the column combination must be unique.
    #[serde(default)]
    pub unique: bool,
    /// Which queries the index serves, for learners.
    #[serde(default)]
    pub explain: String,
}
