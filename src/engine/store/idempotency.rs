//! Idempotency keys: the first response to a keyed create, kept so a retry gets it back.
//!
//! ```text
//!  POST + Idempotency-Key ─▶ claim: INSERT … ON CONFLICT DO NOTHING (status NULL = in progress)
//!      inserted ──▶ first: run the create ─▶ 2xx/4xx: complete (status, body)
//!                                        └─▶ 5xx or dropped: release (row deleted, retry may run)
//!      existing ──▶ other request (fingerprint differs) ─▶ reused
//!               ──▶ status NULL ─▶ in progress (a concurrent twin is still running)
//!               ──▶ status set  ─▶ replay the stored response
//! ```
//!
//! The claim is one statement against the primary key `(tenant_id, key)`, so of two requests
//! with the same key exactly one inserts the row and runs; the other sees it. Keys are kept per
//! tenant: the same key from two tenants names two unrelated requests.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// The table's DDL. `status` and `body` stay NULL while the first request runs.
pub(super) const IDEMPOTENCY_DDL: [&str; 1] = ["CREATE TABLE \"_idempotency\" (\
        tenant_id INTEGER NOT NULL, \
        key TEXT NOT NULL, \
        method TEXT NOT NULL, \
        path TEXT NOT NULL, \
        fingerprint TEXT NOT NULL, \
        status INTEGER, \
        body TEXT, \
        location TEXT, \
        created_ms INTEGER NOT NULL, \
        PRIMARY KEY (tenant_id, key))"];

/// A keyed request, as the store compares it with an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRequest {
    /// Tenant the key belongs to.
    pub tenant_id: i64,
    /// The client's `Idempotency-Key`.
    pub key: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// What makes two requests "the same": a canonical text of the request (the caller decides
    /// what goes in; equal texts mean the same request).
    pub fingerprint: String,
}

/// A stored response, replayed as it was first sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Body text (JSON), empty when there was none.
    pub body: String,
    /// The `Location` header of a created row, if there was one.
    pub location: Option<String>,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: it is now recorded as in progress, and the caller must
    /// [complete](Store::complete_idempotency_key) or [release](Store::release_idempotency_key) it.
    First,
    /// The same request already finished: its response.
    Replay(StoredResponse),
    /// The same request is still running.
    InProgress,
    /// The key was first used for a different request: its method and path.
    Reused {
        /// Method of the first request.
        method: String,
        /// Path of the first request.
        path: String,
    },
}

impl Store {
    /// Claims `request`'s key at `now_ms`: records it as in progress if it is new, or says what
    /// the earlier request with this key was. The insert and the look-up run under one lock of
    /// the connection, and the insert alone decides who is first (the primary key).
    pub fn claim_idempotency_key(
        &self,
        request: &KeyedRequest,
        now_ms: u64,
    ) -> Result<Claim, StoreError> {
        let conn = self.conn();
        let inserted = conn
            .prepare_cached(
                "INSERT INTO \"_idempotency\" \
                 (tenant_id, key, method, path, fingerprint, created_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (tenant_id, key) DO NOTHING",
            )?
            .execute(params![
                request.tenant_id,
                request.key,
                request.method,
                request.path,
                request.fingerprint,
                now_ms as i64
            ])?;
        if inserted == 1 {
            return Ok(Claim::First);
        }
        type Earlier = (
            String,
            String,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let earlier: Option<Earlier> = conn
            .prepare_cached(
                "SELECT method, path, fingerprint, status, body, location \
                 FROM \"_idempotency\" WHERE tenant_id = ?1 AND key = ?2",
            )?
            .query_row(params![request.tenant_id, request.key], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .optional()?;
        let Some((method, path, fingerprint, status, body, location)) = earlier else {
            // Unreachable while the lock is held (the insert found a row); say so plainly.
            return Err(StoreError::Sql(rusqlite::Error::QueryReturnedNoRows));
        };
        if fingerprint != request.fingerprint {
            return Ok(Claim::Reused { method, path });
        }
        Ok(match status {
            None => Claim::InProgress,
            Some(status) => Claim::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                body: body.unwrap_or_default(),
                location,
            }),
        })
    }

    /// Stores the response of the request that claimed `key` in `tenant_id`, ending its
    /// in-progress state: later requests with the key get it back.
    pub fn complete_idempotency_key(
        &self,
        tenant_id: i64,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE \"_idempotency\" SET status = ?1, body = ?2, location = ?3 \
                 WHERE tenant_id = ?4 AND key = ?5 AND status IS NULL",
            )?
            .execute(params![
                response.status,
                response.body,
                response.location,
                tenant_id,
                key
            ])?;
        Ok(())
    }

    /// Forgets an in-progress claim of `key` in `tenant_id` (the request failed with a 5xx or
    /// never finished), so a retry runs afresh. A completed key is left alone.
    pub fn release_idempotency_key(&self, tenant_id: i64, key: &str) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "DELETE FROM \"_idempotency\" \
                 WHERE tenant_id = ?1 AND key = ?2 AND status IS NULL",
            )?
            .execute(params![tenant_id, key])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_or_default;

    fn store() -> Store {
        Store::open(load_or_default(None).expect("default scenario")).expect("store opens")
    }

    fn request(tenant_id: i64, key: &str, fingerprint: &str) -> KeyedRequest {
        KeyedRequest {
            tenant_id,
            key: key.to_string(),
            method: "POST".into(),
            path: "/api/v1/payments".into(),
            fingerprint: fingerprint.to_string(),
        }
    }

    fn claim(store: &Store, request: &KeyedRequest, now_ms: u64) -> Claim {
        store
            .claim_idempotency_key(request, now_ms)
            .expect("the claim runs")
    }

    fn created() -> StoredResponse {
        StoredResponse {
            status: 201,
            body: r#"{"data":{"id":7}}"#.into(),
            location: Some("/api/v1/payments/7".into()),
        }
    }

    #[test]
    fn a_key_is_first_once_then_in_progress_then_replayed() {
        let store = store();
        let first = request(1, "k1", "a");
        assert_eq!(claim(&store, &first, 10), Claim::First);
        assert_eq!(claim(&store, &first, 11), Claim::InProgress);
        store
            .complete_idempotency_key(1, "k1", &created())
            .expect("completes");
        assert_eq!(claim(&store, &first, 12), Claim::Replay(created()));
        // Releasing a completed key changes nothing.
        store.release_idempotency_key(1, "k1").expect("release");
        assert_eq!(claim(&store, &first, 13), Claim::Replay(created()));
    }

    #[test]
    fn another_request_with_the_key_is_reused_and_tenants_are_apart() {
        let store = store();
        assert_eq!(claim(&store, &request(1, "k", "a"), 0), Claim::First);
        assert_eq!(
            claim(&store, &request(1, "k", "b"), 0),
            Claim::Reused {
                method: "POST".into(),
                path: "/api/v1/payments".into()
            }
        );
        assert_eq!(
            claim(&store, &request(2, "k", "b"), 0),
            Claim::First,
            "another tenant's key is another key"
        );
    }

    #[test]
    fn a_released_key_can_be_claimed_again() {
        let store = store();
        let first = request(1, "k", "a");
        assert_eq!(claim(&store, &first, 0), Claim::First);
        store.release_idempotency_key(1, "k").expect("release");
        assert_eq!(claim(&store, &first, 1), Claim::First);
    }
}
