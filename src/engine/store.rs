//! The engine's embedded SQL database: a real SQLite (rusqlite, bundled) built from the scenario.
//!
//! [`Store::open`] turns the scenario's tables into `CREATE TABLE` / `CREATE INDEX` statements,
//! runs them on an in-memory database with foreign keys enforced, and inserts the seed rows (the
//! users of the identity section get Argon2id password hashes). After that, the API controller
//! talks to it only through tenant-scoped operations, and every one of them answers with a
//! [`QueryRecord`]: the exact SQL text, its bound parameters, the result rows and SQLite's own
//! query plan, so the request trace can show what the database really did.
//!
//! ```text
//!  Scenario.tables ──► Store::open ──► CREATE TABLE … / CREATE INDEX …   (kept for ddl())
//!                                 └──► seed rows, one transaction, FKs checked at COMMIT
//!
//!  controller ── list/get/insert/update/delete(table, tenant_id, …) ──► Store
//!             ◄── QueryRecord { sql, params, rows, rows_affected, plan } ──► request trace
//! ```
//!
//! Two rules hold for every statement built here: identifiers are always quoted (`"name"`), and
//! values are always bound parameters (`?1`, `?2`, …) — no value is ever formatted into SQL text.
//! The only exception is a column's `DEFAULT` in the DDL, which SQLite cannot take as a parameter;
//! it is rendered as a properly quoted literal. Tenant-scoped tables are always filtered by
//! `tenant_id`, which the store sets itself and never takes from the client. Columns named
//! `password_hash` are never returned, except to [`Store::user_by_email`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode, ffi, params_from_iter};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::scenario::model::{ColumnType, FillFrom, Scenario, TENANT_COLUMN, Table};

/// Name of the column that holds a password hash; never returned by the generic operations.
pub const SECRET_COLUMN: &str = "password_hash";

/// Argon2id memory cost in KiB (4 MiB).
///
/// Light but real parameters for a demo: OWASP's minimum for Argon2id is 19 MiB, t = 2, but the
/// simulator hashes every persona each time a store opens (scenario load, hot reload, every test),
/// and logs in on the request path. With m = 4 MiB, t = 2, p = 1 one hash (or one verification)
/// took about 4.5–5 ms in a release build on the 2-core dev machine, so the five default personas
/// hash in about 25 ms (a whole `Store::open` of the default scenario: about 30 ms), well under
/// the 100 ms budget. The parameters are written into each PHC string, so verification always uses
/// the ones a hash was made with.
const ARGON2_M_COST_KIB: u32 = 4096;
/// Argon2id passes over memory.
const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes.
const ARGON2_P_COST: u32 = 1;

/// Room for every statement shape the store builds (about ten per table, each also as `EXPLAIN
/// QUERY PLAN`), so the cached statements are not evicted in steady state.
const STATEMENT_CACHE_CAPACITY: usize = 256;

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

/// A user account found by email, for login.
#[derive(Clone)]
pub struct UserRecord {
    /// User id (the persona's id).
    pub id: i64,
    /// The tenant the user belongs to.
    pub tenant_id: i64,
    /// The user's role.
    pub role_id: i64,
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Argon2id PHC string; check it with [`verify_password`].
    pub password_hash: String,
    /// The look-up as it ran (its `rows` leave the hash out).
    pub query: QueryRecord,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("role_id", &self.role_id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password_hash", &"<argon2id hash>")
            .field("query", &self.query)
            .finish()
    }
}

/// Which constraint a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    /// A `UNIQUE` column or index, or the primary key, already has the value.
    Unique,
    /// A `REFERENCES` target row does not exist, or a referenced row would be deleted.
    ForeignKey,
    /// A `NOT NULL` column got NULL.
    NotNull,
    /// A `CHECK` failed (a boolean that is not 0/1, a text longer than `max_length`).
    Check,
    /// Any other constraint.
    Other,
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unique => "unique",
            Self::ForeignKey => "foreign key",
            Self::NotNull => "not null",
            Self::Check => "check",
            Self::Other => "other",
        })
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The scenario has no table of this name.
    #[error("no table `{0}` in the schema")]
    UnknownTable(String),
    /// A value was given for a column the table does not have; nothing reached SQL.
    #[error("no column `{0}` in the table")]
    UnknownColumn(String),
    /// The table has no single-column primary key, so rows cannot be addressed by id.
    #[error("table `{0}` has no single-column primary key to address rows by id")]
    NoRowId(String),
    /// A write broke a constraint of the schema.
    #[error("{kind} constraint failed: {message}")]
    Constraint {
        /// Which kind of constraint.
        kind: ConstraintKind,
        /// SQLite's message, e.g. `UNIQUE constraint failed: projects.tenant_id, projects.name`.
        message: String,
    },
    /// A persona's password could not be hashed.
    #[error("could not hash a password: {0}")]
    PasswordHash(String),
    /// Any other SQLite error.
    #[error("SQL error: {0}")]
    Sql(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        let rusqlite::Error::SqliteFailure(failure, message) = &error else {
            return Self::Sql(error);
        };
        if failure.code != ErrorCode::ConstraintViolation {
            return Self::Sql(error);
        }
        let kind = match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE
            | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            | ffi::SQLITE_CONSTRAINT_ROWID => ConstraintKind::Unique,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ConstraintKind::ForeignKey,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ConstraintKind::NotNull,
            ffi::SQLITE_CONSTRAINT_CHECK => ConstraintKind::Check,
            _ => ConstraintKind::Other,
        };
        Self::Constraint {
            kind,
            message: message.clone().unwrap_or_else(|| failure.to_string()),
        }
    }
}

/// The embedded database: one in-memory SQLite connection built from a scenario.
pub struct Store {
    /// A plain `std` mutex is the right tool here: every statement takes microseconds, the lock
    /// is never held across an `.await` (all methods are synchronous), and an in-memory database
    /// lives and dies with its one connection, so a pool of connections would mean separate
    /// databases. The lock also makes a statement and its `EXPLAIN QUERY PLAN` one atomic step.
    conn: Mutex<Connection>,
    scenario: Arc<Scenario>,
    ddl: Vec<String>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("scenario", &self.scenario.meta.name)
            .field("tables", &self.scenario.tables.len())
            .field("ddl_statements", &self.ddl.len())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Creates the schema of `scenario` in a fresh in-memory database and inserts its seed rows.
    ///
    /// Users of the identity section get an Argon2id hash of their persona's password. Rows are
    /// inserted in one transaction with foreign-key checks deferred to its commit, so tables may
    /// reference each other in any order; a seed row that points nowhere fails the open with a
    /// [`ConstraintKind::ForeignKey`] error.
    pub fn open(scenario: Arc<Scenario>) -> Result<Store, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        conn.execute_batch("PRAGMA foreign_keys = ON")?;

        let mut ddl = Vec::new();
        for table in &scenario.tables {
            ddl.push(create_table_sql(table));
        }
        for table in &scenario.tables {
            for index in &table.indexes {
                ddl.push(format!(
                    "CREATE {}INDEX {} ON {} ({})",
                    if index.unique { "UNIQUE " } else { "" },
                    quote(&index.name),
                    quote(&table.name),
                    quote_list(index.columns.iter().map(String::as_str)),
                ));
            }
        }
        for statement in &ddl {
            conn.execute_batch(statement)?;
        }

        let tx = conn.transaction()?;
        // Checked at COMMIT instead of per row: the seed needs no particular table order.
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        for table in &scenario.tables {
            for row in &table.rows {
                let mut columns: Vec<&str> = Vec::with_capacity(row.len() + 1);
                let mut params: Vec<SqlValue> = Vec::with_capacity(row.len() + 1);
                for (name, value) in row {
                    if table.column(name).is_none() {
                        return Err(StoreError::UnknownColumn(format!("{}.{name}", table.name)));
                    }
                    columns.push(name);
                    params.push(json_to_sql(value));
                }
                if table.fill == Some(FillFrom::Personas) && !row.contains_key(SECRET_COLUMN) {
                    let persona = row
                        .get("id")
                        .and_then(Value::as_i64)
                        .and_then(|id| scenario.personas.iter().find(|p| p.id == id));
                    if let Some(persona) = persona {
                        let salt = persona_salt(scenario.meta.seed, persona.id);
                        columns.push(SECRET_COLUMN);
                        params.push(SqlValue::Text(hash_password(&persona.password, &salt)?));
                    }
                }
                let sql = if columns.is_empty() {
                    format!("INSERT INTO {} DEFAULT VALUES", quote(&table.name))
                } else {
                    format!(
                        "INSERT INTO {} ({}) VALUES ({})",
                        quote(&table.name),
                        quote_list(columns.iter().copied()),
                        placeholders(1, columns.len()),
                    )
                };
                tx.prepare_cached(&sql)?
                    .execute(params_from_iter(params.iter()))?;
            }
        }
        tx.commit()?;

        Ok(Store {
            conn: Mutex::new(conn),
            scenario,
            ddl,
        })
    }

    /// The `CREATE TABLE` and `CREATE INDEX` statements that built the schema, in order.
    pub fn ddl(&self) -> &[String] {
        &self.ddl
    }

    /// The scenario the schema was built from.
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// Up to `limit` rows of `table` in the tenant, in primary-key order.
    ///
    /// `SELECT … FROM t WHERE tenant_id = ?1 ORDER BY id LIMIT ?2`; tables that are not
    /// tenant-scoped are read without the tenant filter.
    pub fn list(
        &self,
        table: &str,
        tenant_id: i64,
        limit: usize,
    ) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        let limit = SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX));
        let (filter, params) = if table.tenant_scoped {
            (
                format!("WHERE {} = ?1 ", quote(TENANT_COLUMN)),
                vec![SqlValue::Integer(tenant_id), limit],
            )
        } else {
            (String::new(), vec![limit])
        };
        let sql = format!(
            "SELECT {} FROM {} {filter}ORDER BY {} LIMIT ?{}",
            select_list(table),
            quote(&table.name),
            order_by(table),
            params.len(),
        );
        self.run(table, &sql, params)
    }

    /// The row of `table` with primary key `id` in the tenant: 0 or 1 rows.
    ///
    /// Another tenant's row is simply not found, exactly like a row that does not exist.
    pub fn get(&self, table: &str, tenant_id: i64, id: i64) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        let (filter, params) = keyed_filter(table, tenant_id, id, 1)?;
        let sql = format!(
            "SELECT {} FROM {} WHERE {filter}",
            select_list(table),
            quote(&table.name),
        );
        self.run(table, &sql, params)
    }

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
                "INSERT INTO {} DEFAULT VALUES RETURNING {}",
                quote(&table.name),
                select_list(table),
            )
        } else {
            format!(
                "INSERT INTO {} ({}) VALUES ({}) RETURNING {}",
                quote(&table.name),
                quote_list(columns.iter().copied()),
                placeholders(1, columns.len()),
                select_list(table),
            )
        };
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
        check_columns(table, values)?;
        let assignments: Vec<(&str, &Value)> = assignable(table, values).collect();
        if assignments.is_empty() {
            return self.get(&table.name, tenant_id, id);
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
            "UPDATE {} SET {set} WHERE {filter} RETURNING {}",
            quote(&table.name),
            select_list(table),
        );
        self.run(table, &sql, params)
    }

    /// Deletes the row with primary key `id` in the tenant; the record's `rows` hold the deleted
    /// row (`RETURNING`), and `rows_affected` is 0 when the tenant has no such row.
    ///
    /// Deleting a row that other rows still reference fails with [`ConstraintKind::ForeignKey`].
    pub fn delete(&self, table: &str, tenant_id: i64, id: i64) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        let (filter, params) = keyed_filter(table, tenant_id, id, 1)?;
        let sql = format!(
            "DELETE FROM {} WHERE {filter} RETURNING {}",
            quote(&table.name),
            select_list(table),
        );
        self.run(table, &sql, params)
    }

    /// Whether `table` has a row with primary key `id` in the tenant.
    ///
    /// A foreign key only proves that the target row exists somewhere; the controller asks this
    /// to make sure it exists in the caller's tenant. For tables that are not tenant-scoped this
    /// is a plain existence check.
    pub fn exists_in_tenant(
        &self,
        table: &str,
        id: i64,
        tenant_id: i64,
    ) -> Result<bool, StoreError> {
        self.exists_in_tenant_traced(table, id, tenant_id)
            .map(|(exists, _)| exists)
    }

    /// [`exists_in_tenant`](Self::exists_in_tenant), with the statement that ran (its SQL and
    /// parameters; no rows or plan) for the trace.
    pub fn exists_in_tenant_traced(
        &self,
        table: &str,
        id: i64,
        tenant_id: i64,
    ) -> Result<(bool, QueryRecord), StoreError> {
        let table = self.table(table)?;
        let (filter, params) = keyed_filter(table, tenant_id, id, 1)?;
        let sql = format!("SELECT 1 FROM {} WHERE {filter}", quote(&table.name));
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql)?;
        let exists = statement.exists(params_from_iter(params.iter()))?;
        let record = QueryRecord {
            params: params.iter().map(sql_to_json).collect(),
            sql,
            ..QueryRecord::default()
        };
        Ok((exists, record))
    }

    /// The user account with this login email (exact match), from the personas-filled table.
    ///
    /// This is the only operation that reads the password hash.
    pub fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let table = self
            .scenario
            .tables
            .iter()
            .find(|t| t.fill == Some(FillFrom::Personas))
            .ok_or_else(|| StoreError::UnknownTable("(users filled from personas)".into()))?;
        let columns = [
            "id",
            TENANT_COLUMN,
            "role_id",
            "email",
            "name",
            SECRET_COLUMN,
        ];
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = ?1",
            quote_list(columns.iter().copied()),
            quote(&table.name),
            quote("email"),
        );
        let params = vec![SqlValue::Text(email.to_string())];
        let conn = self.conn();
        let plan = explain(&conn, &sql, &params)?;
        let mut statement = conn.prepare_cached(&sql)?;
        let found = statement
            .query_map(params_from_iter(params.iter()), |row| {
                Ok(UserRecord {
                    id: row.get(0)?,
                    tenant_id: row.get(1)?,
                    role_id: row.get(2)?,
                    email: row.get(3)?,
                    name: row.get(4)?,
                    password_hash: row.get(5)?,
                    query: QueryRecord::default(),
                })
            })?
            .next()
            .transpose()?;
        Ok(found.map(|mut user| {
            let mut shown = Map::new();
            shown.insert("id".into(), user.id.into());
            shown.insert(TENANT_COLUMN.into(), user.tenant_id.into());
            shown.insert("role_id".into(), user.role_id.into());
            shown.insert("email".into(), user.email.clone().into());
            shown.insert("name".into(), user.name.clone().into());
            user.query = QueryRecord {
                sql,
                params: params.iter().map(sql_to_json).collect(),
                rows: vec![shown],
                rows_affected: 0,
                plan,
            };
            user
        }))
    }

    /// Every row of `table` in primary-key order, or only the rows of one tenant (for the ERD
    /// view).
    ///
    /// The tenant filter applies to tenant-scoped tables and to the tenants table itself (its row
    /// `id = tenant`), which makes isolation visible; other shared tables (roles) are read whole.
    pub fn rows(&self, table: &str, tenant_id: Option<i64>) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        let filter_column = match tenant_id {
            Some(_) if table.tenant_scoped => Some(TENANT_COLUMN.to_string()),
            Some(_) if table.fill == Some(FillFrom::Tenants) => {
                Some(single_key(table)?.to_string())
            }
            _ => None,
        };
        let (filter, params) = match (filter_column, tenant_id) {
            (Some(column), Some(tenant)) => (
                format!(" WHERE {} = ?1", quote(&column)),
                vec![SqlValue::Integer(tenant)],
            ),
            _ => (String::new(), Vec::new()),
        };
        let sql = format!(
            "SELECT {} FROM {}{filter} ORDER BY {}",
            select_list(table),
            quote(&table.name),
            order_by(table),
        );
        self.run(table, &sql, params)
    }

    /// The number of rows in each table, in scenario order.
    ///
    /// A table whose count cannot be read (which would mean a broken database) counts as 0.
    pub fn table_counts(&self) -> Vec<(String, usize)> {
        let conn = self.conn();
        self.scenario
            .tables
            .iter()
            .map(|table| {
                let sql = format!("SELECT COUNT(*) FROM {}", quote(&table.name));
                let count = conn
                    .prepare_cached(&sql)
                    .and_then(|mut s| s.query_row([], |row| row.get::<_, i64>(0)))
                    .map_or(0, |n| usize::try_from(n).unwrap_or(0));
                (table.name.clone(), count)
            })
            .collect()
    }

    /// Checks `password` against an Argon2id PHC string (same as the free [`verify_password`]).
    pub fn verify_password(hash: &str, password: &str) -> bool {
        verify_password(hash, password)
    }

    fn table(&self, name: &str) -> Result<&Table, StoreError> {
        self.scenario
            .table(name)
            .ok_or_else(|| StoreError::UnknownTable(name.to_string()))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held cannot leave the database half-written (each statement
        // is atomic; the seed transaction rolls back on drop), so a poisoned lock is safe to use.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `sql` with `params`, collecting its plan and rows; writes count their `RETURNING` rows.
    fn run(
        &self,
        table: &Table,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<QueryRecord, StoreError> {
        let conn = self.conn();
        let plan = explain(&conn, sql, &params)?;
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

/// Checks `password` against an Argon2id PHC string; `false` for a wrong password or a malformed
/// hash. The cost parameters come from the PHC string itself.
pub fn verify_password(hash: &str, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Hashes `password` with Argon2id and the demo parameters into a PHC string.
fn hash_password(password: &str, salt: &[u8]) -> Result<String, StoreError> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| StoreError::PasswordHash(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::PasswordHash(e.to_string()))
}

/// The salt of a persona's hash: the scenario seed and the persona id, 16 bytes.
///
/// Deterministic on purpose: the same scenario and seed must produce the same database, byte for
/// byte, so runs and snapshot tests are reproducible (a random salt would make every users row
/// differ between runs). Each persona still gets its own salt, so equal passwords hash
/// differently. A production system would draw a random salt per hash.
fn persona_salt(seed: u64, persona_id: i64) -> [u8; 16] {
    let mut salt = [0u8; 16];
    salt[..8].copy_from_slice(&seed.to_le_bytes());
    salt[8..].copy_from_slice(&persona_id.to_le_bytes());
    salt
}

/// `EXPLAIN QUERY PLAN` of `sql` with the same parameters: the `detail` of each plan row.
fn explain(conn: &Connection, sql: &str, params: &[SqlValue]) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let details = statement
        .query_map(params_from_iter(params.iter()), |row| {
            row.get::<_, String>(3)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(details)
}

/// `CREATE TABLE` for one scenario table.
fn create_table_sql(table: &Table) -> String {
    let primary_key = table.primary_key();
    let single_key = primary_key.len() == 1;
    let mut lines = Vec::with_capacity(table.columns.len() + 1);
    for column in &table.columns {
        let name = quote(&column.name);
        let mut line = format!("{name} {}", column.ty.sql());
        if column.primary_key && single_key {
            if column.ty == ColumnType::Integer {
                // `INTEGER PRIMARY KEY` is an alias of the rowid: the database assigns it.
                line.push_str(" PRIMARY KEY");
            } else {
                // Other primary keys accept NULL in SQLite unless told otherwise.
                line.push_str(" NOT NULL PRIMARY KEY");
            }
        } else {
            if !column.nullable || column.primary_key {
                line.push_str(" NOT NULL");
            }
            if column.unique {
                line.push_str(" UNIQUE");
            }
        }
        if let Some(default) = &column.default {
            line.push_str(" DEFAULT ");
            line.push_str(&sql_literal(default));
        }
        if let Some(fk) = &column.references {
            line.push_str(&format!(
                " REFERENCES {} ({})",
                quote(&fk.table),
                quote(&fk.column)
            ));
        }
        if column.ty == ColumnType::Boolean {
            line.push_str(&format!(" CHECK ({name} IN (0, 1))"));
        }
        if let Some(max) = column.max_length {
            line.push_str(&format!(" CHECK (length({name}) <= {max})"));
        }
        lines.push(line);
    }
    if primary_key.len() > 1 {
        lines.push(format!(
            "PRIMARY KEY ({})",
            quote_list(primary_key.iter().map(|c| c.name.as_str()))
        ));
    }
    format!(
        "CREATE TABLE {} (\n  {}\n)",
        quote(&table.name),
        lines.join(",\n  ")
    )
}

/// A JSON default as an SQL literal (DDL cannot bind parameters, so this is the one place a value
/// is written into SQL text: strings are single-quoted with quotes doubled, numbers are JSON
/// numbers, which contain only digits, sign, point and exponent).
fn sql_literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "1" } else { "0" }.into(),
        Value::Number(n) => format!("({n})"),
        Value::String(s) => quote_text(s),
        other => quote_text(&other.to_string()),
    }
}

/// Quotes an SQL identifier: `"name"`, with inner double quotes doubled.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Quotes a text literal: `'text'`, with inner single quotes doubled.
fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn quote_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(quote).collect::<Vec<_>>().join(", ")
}

/// `?first, ?first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns a generic operation may return: all but the password hash.
fn select_list(table: &Table) -> String {
    quote_list(
        table
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .filter(|name| *name != SECRET_COLUMN),
    )
}

fn order_by(table: &Table) -> String {
    let key = table.primary_key();
    if key.is_empty() {
        "rowid".into()
    } else {
        quote_list(key.iter().map(|c| c.name.as_str()))
    }
}

/// The single primary-key column that `id` arguments address.
fn single_key(table: &Table) -> Result<&str, StoreError> {
    match table.primary_key().as_slice() {
        [column] => Ok(column.name.as_str()),
        _ => Err(StoreError::NoRowId(table.name.clone())),
    }
}

/// `tenant_id = ?n AND id = ?n+1` (or `id = ?n` for shared tables), numbered from `first`.
fn keyed_filter(
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
fn check_columns(table: &Table, values: &Map<String, Value>) -> Result<(), StoreError> {
    match values.keys().find(|name| table.column(name).is_none()) {
        Some(name) => Err(StoreError::UnknownColumn(name.clone())),
        None => Ok(()),
    }
}

/// The values a client may write, in the table's column order (so equal shapes share one cached
/// statement); the tenant column of a tenant-scoped table is left out, the store sets it.
fn assignable<'a>(
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

/// A JSON value as a bound SQL parameter (booleans as 0/1; arrays and objects as JSON text).
fn json_to_sql(value: &Value) -> SqlValue {
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
fn sql_to_json(value: &SqlValue) -> Value {
    sql_ref_to_json(ValueRef::from(value), None)
}

/// A result value as JSON; integers of boolean columns become JSON bools.
fn sql_ref_to_json(value: ValueRef<'_>, ty: Option<ColumnType>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if ty == Some(ColumnType::Boolean) => Value::Bool(i != 0),
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => Value::Array(bytes.iter().map(|b| Value::from(*b)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_or_default;
    use serde_json::json;

    /// What the controller fills into `auto = "now"` columns.
    const NOW: &str = "2026-05-01T12:00:00Z";

    fn store() -> Store {
        Store::open(load_or_default(None).unwrap()).unwrap()
    }

    fn values(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn names_of(store: &Store, kind: &str) -> Vec<String> {
        let conn = store.conn();
        let mut statement = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = ?1 ORDER BY name")
            .unwrap();
        statement
            .query_map([kind], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn store_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
    }

    #[test]
    fn schema_has_every_table_and_index() {
        let store = store();
        let tables = names_of(&store, "table");
        let indexes = names_of(&store, "index");
        for table in &store.scenario.tables {
            assert!(tables.contains(&table.name), "missing table {}", table.name);
            for index in &table.indexes {
                assert!(
                    indexes.contains(&index.name),
                    "missing index {}",
                    index.name
                );
            }
        }
        let expected = store.scenario.tables.len()
            + store
                .scenario
                .tables
                .iter()
                .map(|t| t.indexes.len())
                .sum::<usize>();
        assert_eq!(store.ddl().len(), expected);
        assert!(store.ddl()[0].starts_with("CREATE TABLE \"tenants\""));
    }

    #[test]
    fn ddl_quotes_and_renders_constraints() {
        let store = store();
        let projects = store
            .ddl()
            .iter()
            .find(|s| s.starts_with("CREATE TABLE \"projects\""))
            .unwrap();
        assert!(
            projects.contains("\"id\" INTEGER PRIMARY KEY"),
            "{projects}"
        );
        assert!(
            projects.contains("\"tenant_id\" INTEGER NOT NULL REFERENCES \"tenants\" (\"id\")"),
            "{projects}"
        );
        assert!(projects.contains("DEFAULT 'active'"), "{projects}");
        assert!(
            store.ddl().iter().any(|s| s
                == "CREATE UNIQUE INDEX \"projects_tenant_name\" ON \"projects\" (\"tenant_id\", \"name\")"),
        );
        assert_eq!(sql_literal(&json!("it's")), "'it''s'");
        assert_eq!(sql_literal(&json!(-1.5)), "(-1.5)");
        assert_eq!(sql_literal(&json!(true)), "1");
    }

    #[test]
    fn seed_rows_are_present() {
        let store = store();
        let per_tenant = |tenant| store.rows("projects", Some(tenant)).unwrap().rows.len();
        assert_eq!((per_tenant(1), per_tenant(2), per_tenant(3)), (3, 2, 1));
        let counts = store.table_counts();
        for table in &store.scenario.tables {
            let count = counts.iter().find(|(n, _)| *n == table.name).unwrap().1;
            assert_eq!(count, table.rows.len(), "{}", table.name);
        }
        // The tenants table filtered by tenant shows only that tenant's own row.
        let tenants = store.rows("tenants", Some(2)).unwrap();
        assert_eq!(tenants.rows.len(), 1);
        assert_eq!(tenants.rows[0]["subdomain"], json!("globex"));
        assert_eq!(
            store.rows("roles", Some(2)).unwrap().rows.len(),
            store.scenario.roles.len()
        );
    }

    #[test]
    fn foreign_keys_are_enforced() {
        let store = store();
        let error = store
            .insert(
                "projects",
                99,
                &values(json!({ "name": "Orphan", "owner_id": 1, "created_at": NOW })),
            )
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Constraint {
                    kind: ConstraintKind::ForeignKey,
                    ..
                }
            ),
            "{error:?}"
        );
        // A user that projects still point at cannot be deleted.
        let error = store.delete("users", 1, 1).unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Constraint {
                    kind: ConstraintKind::ForeignKey,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn reads_are_tenant_scoped() {
        let store = store();
        assert_eq!(store.get("projects", 1, 1).unwrap().rows.len(), 1);
        let other = store.get("projects", 2, 1).unwrap();
        assert!(other.rows.is_empty());
        assert_eq!(other.params, vec![json!(2), json!(1)]);
        assert!(other.sql.contains("\"tenant_id\" = ?1"), "{}", other.sql);
        let list = store.list("projects", 2, 50).unwrap();
        assert_eq!(list.rows.len(), 2);
        assert!(list.rows.iter().all(|r| r["tenant_id"] == json!(2)));
        assert_eq!(store.list("projects", 1, 2).unwrap().rows.len(), 2);
        assert!(!store.exists_in_tenant("invoices", 1, 2).unwrap());
        assert!(store.exists_in_tenant("invoices", 1, 1).unwrap());
    }

    #[test]
    fn writes_are_tenant_scoped() {
        let store = store();
        let patch = values(json!({ "status": "archived", "tenant_id": 2 }));
        let missed = store.update("projects", 2, 1, &patch).unwrap();
        assert_eq!((missed.rows.len(), missed.rows_affected), (0, 0));
        let updated = store.update("projects", 1, 1, &patch).unwrap();
        assert_eq!(updated.rows_affected, 1);
        assert_eq!(updated.rows[0]["status"], json!("archived"));
        assert_eq!(
            updated.rows[0]["tenant_id"],
            json!(1),
            "a row never changes tenant"
        );
        assert_eq!(store.delete("projects", 2, 1).unwrap().rows_affected, 0);
        let deleted = store.delete("projects", 1, 1).unwrap();
        assert_eq!(deleted.rows_affected, 1);
        assert!(store.get("projects", 1, 1).unwrap().rows.is_empty());
    }

    #[test]
    fn tenant_list_plan_uses_an_index() {
        let store = store();
        let record = store.list("projects", 1, 50).unwrap();
        let plan = record.plan.join("\n");
        assert!(
            plan.contains("USING INDEX")
                || plan.contains("USING COVERING INDEX")
                || plan.contains("PRIMARY KEY"),
            "{plan}"
        );
        let get = store.get("projects", 1, 1).unwrap();
        assert!(
            get.plan.join("\n").contains("PRIMARY KEY"),
            "{:?}",
            get.plan
        );
    }

    #[test]
    fn insert_sets_tenant_from_the_argument() {
        let store = store();
        let record = store
            .insert(
                "projects",
                2,
                &values(
                    json!({ "name": "Sneaky", "tenant_id": 1, "owner_id": 3, "created_at": NOW }),
                ),
            )
            .unwrap();
        assert_eq!(record.rows_affected, 1);
        let row = &record.rows[0];
        assert_eq!(row["tenant_id"], json!(2));
        assert_eq!(row["status"], json!("active"), "column default applies");
        assert_eq!(record.params[0], json!(2));
        let id = row["id"].as_i64().unwrap();
        assert!(store.get("projects", 1, id).unwrap().rows.is_empty());
        assert_eq!(store.get("projects", 2, id).unwrap().rows.len(), 1);
    }

    #[test]
    fn unique_violation_maps_to_unique() {
        let store = store();
        let error = store
            .insert(
                "projects",
                1,
                &values(json!({ "name": "Rocket skates", "owner_id": 1, "created_at": NOW })),
            )
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Constraint {
                    kind: ConstraintKind::Unique,
                    ..
                }
            ),
            "{error:?}"
        );
        // Names are unique per tenant only.
        store
            .insert(
                "projects",
                2,
                &values(json!({ "name": "Rocket skates", "owner_id": 3, "created_at": NOW })),
            )
            .unwrap();
    }

    #[test]
    fn other_constraints_are_classified() {
        let store = store();
        let error = store
            .insert(
                "projects",
                1,
                &values(json!({ "name": null, "owner_id": 1, "created_at": NOW })),
            )
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Constraint {
                    kind: ConstraintKind::NotNull,
                    ..
                }
            ),
            "{error:?}"
        );
        let long = "x".repeat(81);
        let error = store
            .insert(
                "projects",
                1,
                &values(json!({ "name": long, "owner_id": 1, "created_at": NOW })),
            )
            .unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Constraint {
                    kind: ConstraintKind::Check,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn unknown_names_never_reach_sql() {
        let store = store();
        let error = store
            .insert("projects", 1, &values(json!({ "name\" = 1; --": "x" })))
            .unwrap_err();
        assert!(matches!(error, StoreError::UnknownColumn(_)), "{error:?}");
        let error = store
            .list("projects; DROP TABLE tenants", 1, 1)
            .unwrap_err();
        assert!(matches!(error, StoreError::UnknownTable(_)), "{error:?}");
    }

    #[test]
    fn injection_strings_are_stored_verbatim() {
        let store = store();
        let evil = "x'); DROP TABLE projects; --";
        let record = store
            .insert(
                "projects",
                1,
                &values(json!({ "name": evil, "owner_id": 1, "created_at": NOW })),
            )
            .unwrap();
        assert_eq!(record.rows[0]["name"], json!(evil));
        assert!(!record.sql.contains(evil));
        let id = record.rows[0]["id"].as_i64().unwrap();
        assert_eq!(
            store.get("projects", 1, id).unwrap().rows[0]["name"],
            json!(evil)
        );
        assert!(names_of(&store, "table").contains(&"projects".to_string()));
        assert_eq!(store.rows("projects", None).unwrap().rows.len(), 7);
    }

    #[test]
    fn password_hash_is_never_returned() {
        let store = store();
        for record in [
            store.list("users", 1, 50).unwrap(),
            store.get("users", 1, 1).unwrap(),
            store.rows("users", None).unwrap(),
            store
                .update("users", 1, 2, &values(json!({ "name": "Bob B." })))
                .unwrap(),
        ] {
            assert!(!record.rows.is_empty());
            assert!(!record.sql.contains(SECRET_COLUMN), "{}", record.sql);
            for row in &record.rows {
                assert!(!row.contains_key(SECRET_COLUMN));
                assert!(
                    !row.values()
                        .any(|v| v.as_str().is_some_and(|s| s.starts_with("$argon2")))
                );
            }
        }
    }

    #[test]
    fn login_looks_up_and_verifies_passwords() {
        let store = store();
        let alice = store.user_by_email("alice@acme.test").unwrap().unwrap();
        assert_eq!((alice.id, alice.tenant_id), (1, 1));
        assert!(
            alice
                .password_hash
                .starts_with("$argon2id$v=19$m=4096,t=2,p=1$")
        );
        assert!(verify_password(&alice.password_hash, "alice-wonderland"));
        assert!(!verify_password(&alice.password_hash, "alice-wonderland "));
        assert!(!Store::verify_password("not a hash", "alice-wonderland"));
        assert!(!alice.query.rows[0].contains_key(SECRET_COLUMN));
        assert!(store.user_by_email("nobody@acme.test").unwrap().is_none());
        // Deterministic salts: the same scenario and seed give the same hashes.
        let again = Store::open(store.scenario().clone()).unwrap();
        let alice_again = again.user_by_email("alice@acme.test").unwrap().unwrap();
        assert_eq!(alice.password_hash, alice_again.password_hash);
        let bob = store.user_by_email("bob@acme.test").unwrap().unwrap();
        assert_ne!(alice.password_hash, bob.password_hash);
    }

    #[test]
    fn booleans_and_reals_come_back_typed() {
        assert_eq!(
            sql_ref_to_json(ValueRef::Integer(1), Some(ColumnType::Boolean)),
            json!(true)
        );
        assert_eq!(
            sql_ref_to_json(ValueRef::Integer(1), Some(ColumnType::Integer)),
            json!(1)
        );
        assert_eq!(sql_ref_to_json(ValueRef::Real(2.5), None), json!(2.5));
        assert_eq!(sql_ref_to_json(ValueRef::Null, None), Value::Null);
    }
}
