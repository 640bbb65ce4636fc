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
//!
//! The store's jobs, one module each:
//!
//! ```text
//!  schema       Store::open: DDL from the scenario, seed rows (one transaction)
//!  queries      tenant-scoped reads: list, get, exists_in_tenant; rows and counts for the ERD view
//!  writes       tenant-scoped insert, update, delete (RETURNING)
//!  limits       running totals for `max_remaining` (what is still open of an invoice)
//!  outbox       the transactional outbox: a write and its events in one transaction
//!  idempotency  Idempotency-Key claims and the stored first responses they replay
//!  passwords    login look-up by email, Argon2id hashing and verification
//!  records      running a statement into a QueryRecord with its plan; JSON ⇄ SQL values
//!  sql          SQL text: quoted identifiers, placeholders, key filters, column checks
//!  error        StoreError and the ConstraintKind a write broke
//! ```

mod error;
mod idempotency;
mod inbox;
mod limits;
mod outbox;
mod passwords;
mod queries;
mod records;
mod schema;
mod sql;
mod writes;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

use crate::scenario::model::{Scenario, Table};

pub use error::{ConstraintKind, StoreError};
pub use idempotency::{Claim, KeyedRequest, StoredResponse};
pub use inbox::{Consumed, Consumption};
pub use outbox::OutboxRow;
pub use outbox::{OUTBOX_LEASE_MS, OutboxEvent, OutboxInsert, OutboxStats};
pub use passwords::{dummy_hash, verify_password};
pub use records::QueryRecord;
pub use writes::{Returning, Statement, delete_statement, insert_statement, update_statement};

/// Name of the column that holds a password hash; never returned by the generic operations.
pub const SECRET_COLUMN: &str = "password_hash";

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
    /// The `CREATE TABLE` and `CREATE INDEX` statements that built the schema, in order.
    #[cfg(test)]
    pub fn ddl(&self) -> &[String] {
        &self.ddl
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
}
