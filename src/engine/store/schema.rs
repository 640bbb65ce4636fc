//! Building the database: `CREATE TABLE` / `CREATE INDEX` from the scenario's tables, and the
//! seed rows inserted in one transaction with foreign keys checked at its commit.

use std::sync::{Arc, Mutex};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;

use super::passwords::{hash_password, persona_salt};
use super::records::json_to_sql;
use super::sql::{placeholders, quote, quote_list, quote_text};
use super::{SECRET_COLUMN, Store, StoreError};
use crate::scenario::model::{ColumnType, FillFrom, Scenario, Table};

/// Room for every statement shape the store builds (about ten per table, each also as `EXPLAIN
/// QUERY PLAN`), so the cached statements are not evicted in steady state.
const STATEMENT_CACHE_CAPACITY: usize = 256;

impl Store {
    /// Creates the schema of `scenario` in a fresh in-memory database and inserts its seed rows.
    ///
    /// Users of the identity section get an Argon2id hash of their persona's password. Rows are
    /// inserted in one transaction with foreign-key checks deferred to its commit, so tables may
    /// reference each other in any order; a seed row that points nowhere fails the open with a
    /// [`ConstraintKind::ForeignKey`](super::ConstraintKind::ForeignKey) error.
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
        // The engine's own tables, beside the scenario's: not part of the schema a learner sees.
        for statement in super::outbox::OUTBOX_DDL
            .iter()
            .chain(&super::idempotency::IDEMPOTENCY_DDL)
        {
            conn.execute_batch(statement)?;
        }
        conn.execute_batch(super::inbox::INBOX_DDL)?;
        // Before the seed rows, so the running totals count them too.
        for statement in super::limits::running_total_ddl(&scenario) {
            conn.execute_batch(&statement)?;
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
pub(super) fn sql_literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "1" } else { "0" }.into(),
        Value::Number(n) => format!("({n})"),
        Value::String(s) => quote_text(s),
        other => quote_text(&other.to_string()),
    }
}
