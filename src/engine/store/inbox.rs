//! The consumers' inbox: which idempotency keys each consumer has applied. A consumer records the
//! key in the same transaction as its effect and its follow-up events, so a redelivered or
//! duplicated message finds its key and is acknowledged without doing anything twice.
//!
//! ```text
//!  BEGIN
//!    INSERT INTO _inbox (consumer, key, …) ON CONFLICT DO NOTHING   ── 0 rows: duplicate, stop
//!    UPDATE payments SET status = 'completed' …                      (the effect)
//!    INSERT INTO _outbox …                                           (its follow-ups)
//!  COMMIT
//! ```

use rusqlite::params;

use super::outbox::{OutboxEvent, OutboxInsert, insert_outbox};
use super::records::execute_counting;
use super::writes::Statement;
use super::{Store, StoreError};
use crate::scenario::model::Table;

/// The inbox's DDL. `WITHOUT ROWID`: the key is the whole point of the table.
pub(super) const INBOX_DDL: &str = "CREATE TABLE \"_inbox\" (\
    consumer TEXT NOT NULL, \
    key TEXT NOT NULL, \
    message_id INTEGER NOT NULL, \
    processed_ms INTEGER NOT NULL, \
    PRIMARY KEY (consumer, key)) WITHOUT ROWID";

/// One message's work for [`Store::consume`].
#[derive(Debug)]
pub struct Consumption<'a> {
    /// The consumer (worker pool, or `pool:give_up`).
    pub consumer: &'a str,
    /// The message's idempotency key.
    pub key: &'a str,
    /// The message id (for the record).
    pub message_id: u64,
    /// Engine time, ms.
    pub now_ms: u64,
    /// The effect's table and statement, if the consumer writes one.
    pub effect: Option<(&'a Table, Statement)>,
    /// Follow-up events, written to the outbox.
    pub follow_ups: Vec<OutboxEvent>,
    /// Tenant of the outbox rows.
    pub tenant_id: i64,
    /// The consumer holds its outbox rows until then, to publish them right after the commit.
    pub lease_until_ms: u64,
    /// Test-only sabotage: run the effect twice.
    pub apply_twice: bool,
}

/// What [`Store::consume`] did.
#[derive(Debug)]
pub enum Consumed {
    /// The key was already in the inbox: nothing was written.
    Duplicate,
    /// The key, the effect and the follow-ups were committed together.
    Applied {
        /// The follow-ups written to the outbox.
        outbox: Vec<OutboxInsert>,
    },
}

impl Store {
    /// Whether `consumer` already applied the message with `key`.
    pub fn inbox_contains(&self, consumer: &str, key: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = self
            .conn()
            .prepare_cached("SELECT 1 FROM \"_inbox\" WHERE consumer = ?1 AND key = ?2")?
            .query_row(params![consumer, key], |r| r.get(0))
            .map(Some)
            .or_else(|error| match error {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?;
        Ok(found.is_some())
    }

    /// Records the key, runs the effect and writes the follow-ups — all or nothing. A key that is
    /// already there makes it a [`Consumed::Duplicate`] and nothing is written. An effect that
    /// changes no row (the row it updates is gone) is an error, and nothing is written either.
    pub fn consume(&self, work: Consumption<'_>) -> Result<Consumed, StoreError> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        let recorded = tx
            .prepare_cached(
                "INSERT INTO \"_inbox\" (consumer, key, message_id, processed_ms) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                work.consumer,
                work.key,
                work.message_id as i64,
                work.now_ms as i64
            ])?;
        if recorded == 0 {
            return Ok(Consumed::Duplicate);
        }
        if let Some((table, (sql, params))) = &work.effect {
            // No trace shows a worker's statement: neither its plan nor its rows are kept.
            if execute_counting(&tx, sql, params)? == 0 {
                return Err(StoreError::NoSuchRow(format!(
                    "`{}`: the row to update is not there",
                    table.name
                )));
            }
            if work.apply_twice {
                execute_counting(&tx, sql, params)?;
            }
        }
        let outbox = insert_outbox(
            &tx,
            work.tenant_id,
            work.follow_ups,
            work.now_ms,
            work.lease_until_ms,
        )?;
        tx.commit()?;
        Ok(Consumed::Applied { outbox })
    }

    /// Runs one statement on its own (an effect that is not idempotent by design, such as a log
    /// row per attempt) and returns the rows it wrote; nothing else is kept, as no trace shows it.
    pub fn run_effect(&self, statement: Statement) -> Result<usize, StoreError> {
        let (sql, params) = statement;
        execute_counting(&self.conn(), &sql, &params)
    }
}
