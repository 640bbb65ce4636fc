//! The transactional outbox: a write and the events about it, committed together.
//!
//! ```text
//!  request ─▶ BEGIN; INSERT payments …; INSERT _outbox (event) …; COMMIT
//!                 └─▶ publish right after the commit ── ok ──▶ mark relayed
//!                                      └── topic full ──▶ row stays pending
//!  relay task ─▶ claim pending rows (a lease) ─▶ publish ─▶ mark relayed, or back off
//! ```
//!
//! An event is never lost (it is in the same transaction as its row) and a row never exists
//! without its event. Delivery is at least once: a publisher that dies between publishing and
//! marking the row relayed leaves it to be published again when its lease ends — which is why
//! consumers must be idempotent (THEORY.md, delivery semantics).

use rusqlite::params;
use serde::Serialize;
use serde_json::Value;

use super::records::run_on;
use super::writes::Statement;
use super::{QueryRecord, Store, StoreError};
use crate::scenario::model::Table;

/// How long a publisher holds the outbox rows it claimed before another may take them: long
/// enough to publish right after the commit, short enough that a publisher that died mid-way
/// delays its events only briefly.
pub const OUTBOX_LEASE_MS: u64 = 5_000;

/// The outbox's DDL: `available_ms` is when the row may next be claimed (a claim is a lease that
/// pushes it into the future); `relayed_ms` is set once the broker has the event.
pub(super) const OUTBOX_DDL: [&str; 4] = [
    "CREATE TABLE \"_outbox\" (\
        id INTEGER PRIMARY KEY, \
        tenant_id INTEGER NOT NULL, \
        topic TEXT NOT NULL, \
        event TEXT NOT NULL, \
        payload TEXT NOT NULL, \
        created_ms INTEGER NOT NULL, \
        available_ms INTEGER NOT NULL, \
        relayed_ms INTEGER, \
        message_id INTEGER, \
        key TEXT)",
    "CREATE INDEX \"_outbox_pending\" ON \"_outbox\" (available_ms) WHERE relayed_ms IS NULL",
    // Pending rows oldest first: a claim walks these (never the relayed ones) and skips the few
    // that are leased or backing off, so the outbox stays first in, first out.
    "CREATE INDEX \"_outbox_pending_id\" ON \"_outbox\" (id) WHERE relayed_ms IS NULL",
    // A topic's pending rows in order: a publisher checks nothing older waits before it.
    "CREATE INDEX \"_outbox_pending_topic\" ON \"_outbox\" (topic, id) WHERE relayed_ms IS NULL",
];

/// An event to record in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Topic to publish to.
    pub topic: String,
    /// Event type.
    pub event: String,
    /// Payload.
    pub payload: Value,
    /// The message's idempotency key; `None`: `outbox:<row id>`, unique to this row.
    pub key: Option<String>,
}

/// An outbox row claimed for publishing.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Outbox id.
    pub id: i64,
    /// Topic.
    pub topic: String,
    /// Event type.
    pub event: String,
    /// Payload.
    pub payload: Value,
    /// Engine time the row was written, ms.
    pub created_ms: u64,
    /// The idempotency key its message carries: the same on every publish of this row.
    pub key: String,
}

/// The key of an outbox row written without one.
fn default_key(id: i64) -> String {
    format!("outbox:{id}")
}

/// One outbox insert, as the trace shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxInsert {
    /// The row written.
    pub row: OutboxRow,
    /// The statement that wrote it.
    pub query: QueryRecord,
}

/// The outbox at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct OutboxStats {
    /// Events written and not yet handed to the broker.
    pub pending: u64,
    /// Events the broker has.
    pub relayed: u64,
    /// Age of the oldest pending event, ms (0 when none is pending): how far the relay lags.
    pub relay_lag_ms: u64,
}

/// Writes `events` to the outbox inside the caller's transaction, leased to the caller until
/// `lease_until_ms`.
pub(super) fn insert_outbox(
    tx: &rusqlite::Connection,
    tenant_id: i64,
    events: Vec<OutboxEvent>,
    now_ms: u64,
    lease_until_ms: u64,
) -> Result<Vec<OutboxInsert>, StoreError> {
    let sql = "INSERT INTO \"_outbox\" \
        (tenant_id, topic, event, payload, created_ms, available_ms, key) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id";
    let mut statement = tx.prepare_cached(sql)?;
    let mut inserts = Vec::with_capacity(events.len());
    for event in events {
        let payload = event.payload.to_string();
        let values = params![
            tenant_id,
            event.topic,
            event.event,
            payload,
            now_ms as i64,
            lease_until_ms as i64,
            event.key
        ];
        let id: i64 = statement.query_row(values, |r| r.get(0))?;
        let query = QueryRecord {
            sql: sql.to_string(),
            params: vec![
                tenant_id.into(),
                event.topic.clone().into(),
                event.event.clone().into(),
                Value::String(payload),
                now_ms.into(),
                lease_until_ms.into(),
                event.key.clone().map_or(Value::Null, Value::String),
            ],
            rows: Vec::new(),
            rows_affected: 1,
            plan: Vec::new(),
        };
        inserts.push(OutboxInsert {
            row: OutboxRow {
                id,
                topic: event.topic,
                event: event.event,
                payload: event.payload,
                created_ms: now_ms,
                key: event.key.unwrap_or_else(|| default_key(id)),
            },
            query,
        });
    }
    Ok(inserts)
}

impl Store {
    /// Runs `write` on `table` and records the events `events` builds from the written row (the
    /// first `RETURNING` row, or null) in the outbox — all in one transaction. The outbox rows
    /// are leased to the caller until `lease_until_ms`, so it can publish them right after the
    /// commit without the relay publishing them too.
    pub fn write_with_outbox(
        &self,
        table: &Table,
        tenant_id: i64,
        write: Statement,
        now_ms: u64,
        lease_until_ms: u64,
        events: impl FnOnce(&Value) -> Vec<OutboxEvent>,
    ) -> Result<(QueryRecord, Vec<OutboxInsert>), StoreError> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        let (sql, params) = write;
        let record = run_on(&tx, table, &sql, params)?;
        let row = record
            .rows
            .first()
            .cloned()
            .map(Value::Object)
            .unwrap_or(Value::Null);
        let inserts = if record.rows_affected > 0 {
            insert_outbox(&tx, tenant_id, events(&row), now_ms, lease_until_ms)?
        } else {
            Vec::new()
        };
        tx.commit()?;
        Ok((record, inserts))
    }

    /// Claims up to `limit` pending rows that are available at `now_ms`, oldest first, leasing
    /// them until `lease_until_ms`. Oldest first keeps the outbox fair: a row the broker refused
    /// is not overtaken for ever by newer ones.
    pub fn claim_outbox(
        &self,
        now_ms: u64,
        limit: usize,
        lease_until_ms: u64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "UPDATE \"_outbox\" SET available_ms = ?1 WHERE id IN (\
                SELECT id FROM \"_outbox\" WHERE relayed_ms IS NULL AND available_ms <= ?2 \
                ORDER BY id LIMIT ?3) \
             RETURNING id, topic, event, payload, created_ms, key",
        )?;
        let rows = statement.query_map(
            params![lease_until_ms as i64, now_ms as i64, limit as i64],
            |r| {
                let payload: String = r.get(3)?;
                Ok(OutboxRow {
                    id: r.get(0)?,
                    topic: r.get(1)?,
                    event: r.get(2)?,
                    payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                    created_ms: r.get::<_, i64>(4)?.max(0) as u64,
                    key: r
                        .get::<_, Option<String>>(5)?
                        .unwrap_or_else(|| default_key(r.get(0).unwrap_or_default())),
                })
            },
        )?;
        let mut claimed = rows.collect::<Result<Vec<_>, _>>()?;
        // RETURNING gives no order guarantee: publish oldest first.
        claimed.sort_by_key(|row| row.id);
        Ok(claimed)
    }

    /// Whether an older row for `topic` than row `id` is still waiting in the outbox (then `id`
    /// must wait behind it).
    pub fn older_pending(&self, topic: &str, id: i64) -> Result<bool, StoreError> {
        let found: bool = self
            .conn()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM \"_outbox\" \
                 WHERE relayed_ms IS NULL AND topic = ?1 AND id < ?2)",
            )?
            .query_row(params![topic, id], |r| r.get(0))?;
        Ok(found)
    }

    /// Marks outbox row `id` as handed to the broker as message `message_id`.
    pub fn mark_relayed(&self, id: i64, now_ms: u64, message_id: u64) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE \"_outbox\" SET relayed_ms = ?1, message_id = ?2 WHERE id = ?3",
            )?
            .execute(params![now_ms as i64, message_id as i64, id])?;
        Ok(())
    }

    /// Gives a claimed row back, to be claimed again from `available_ms` on.
    pub fn release_outbox(&self, id: i64, available_ms: u64) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE \"_outbox\" SET available_ms = ?1 WHERE id = ?2 AND relayed_ms IS NULL",
            )?
            .execute(params![available_ms as i64, id])?;
        Ok(())
    }

    /// When the next pending row becomes available, engine ms (`None`: nothing is pending).
    pub fn next_outbox_available(&self) -> Result<Option<u64>, StoreError> {
        let at: Option<i64> = self
            .conn()
            .prepare_cached("SELECT MIN(available_ms) FROM \"_outbox\" WHERE relayed_ms IS NULL")?
            .query_row([], |r| r.get(0))?;
        Ok(at.map(|ms| ms.max(0) as u64))
    }

    /// Pending and relayed counts and the relay's lag at `now_ms`.
    pub fn outbox_stats(&self, now_ms: u64) -> Result<OutboxStats, StoreError> {
        // Counted in two cheap reads rather than one pass that reads every row's `relayed_ms`:
        // `COUNT(*)` of a whole table counts b-tree cells, and the pending rows are a partial
        // index. The outbox only grows, and the TUI asks four times a second.
        let conn = self.conn();
        let total: i64 = conn
            .prepare_cached("SELECT COUNT(*) FROM \"_outbox\"")?
            .query_row([], |r| r.get(0))?;
        let (pending, oldest): (i64, Option<i64>) = conn
            .prepare_cached(
                "SELECT COUNT(*), MIN(created_ms) FROM \"_outbox\" WHERE relayed_ms IS NULL",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let relayed = total - pending;
        Ok(OutboxStats {
            pending: pending.max(0) as u64,
            relayed: relayed.max(0) as u64,
            relay_lag_ms: oldest.map_or(0, |t| now_ms.saturating_sub(t.max(0) as u64)),
        })
    }
}
