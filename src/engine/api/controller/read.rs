//! Reads (list, get): cache-aside in front of the database.
//!
//! With `[cache] single_flight`, a miss first joins the key's load: the first miss loads (the
//! leader); misses arriving while it loads wait for its value and answer with it (outcome `hit`,
//! `coalesced: true`). If the leader's load fails (a database error, a 503 from a busy pool, a
//! row not in this tenant, or the leader's request dropped), the waiters are released and each
//! reads the database itself (`coalesced: false`): one failure never leaves them stuck, and
//! never hands them an error that was not theirs.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::shared::{
    AppState, Call, HandlerStage, LIST_LIMIT, database_stage, row_not_found, table_of,
};
use tokio::time::Instant;

use crate::engine::cache::{Join, Lookup};
use crate::engine::pipeline::error::ApiError;
use crate::engine::trace::detail::{CacheDetail, CacheResult};
use crate::engine::trace::{Outcome, StageDetail, TraceRecorder};

/// A list or get: answered from the cache when it can be, else from the database (and then kept
/// in the cache for the route's TTL).
pub(super) async fn read(
    app: &AppState,
    trace: &TraceRecorder,
    call: &Call,
) -> Result<Response, ApiError> {
    let core = &app.core;
    let table = table_of(core, call)?;
    let key = match call.id {
        Some(id) => format!("t{}:{}:{id}", call.tenant_id, table.name),
        None => format!("t{}:{}:list", call.tenant_id, table.name),
    };
    let cache = HandlerStage::new(app.cache.as_ref(), trace);
    let mut cache_run = match call.route.cache_ttl {
        Some(_) => cache.enter(0.0).await,
        None => {
            cache.skip("this route is not cached").await;
            None
        }
    };
    let mut expired = false;
    // With single flight: this request's duty to report its load to the misses that wait for
    // it (dropped on any early return, which tells them the load failed).
    let mut leading = None;
    // A wait whose load failed: how long, and for whom (this request then loads itself).
    let mut waited_in_vain: Option<(f64, String)> = None;
    if let Some(run) = cache_run.as_mut() {
        match core.cache.get(&key) {
            Lookup::Hit { value, ttl_left } => {
                let detail = CacheDetail {
                    key: Some(key),
                    ttl_left_s: Some(round3(ttl_left.as_secs_f64())),
                    bytes: Some(value.len()),
                    ..CacheDetail::of(CacheResult::Hit)
                };
                if let Some(run) = cache_run.take() {
                    run.finish(Outcome::Hit, StageDetail::Cache(detail));
                }
                return Ok(json_bytes_response(value));
            }
            Lookup::Miss {
                expired: was_expired,
            } => {
                expired = was_expired;
                if let Some(flights) = &core.flights {
                    let me = trace.request_id().unwrap_or_default();
                    match flights.join(&key, &me) {
                        Join::Leader(guard) => leading = Some(guard),
                        Join::Follower(follower) => {
                            let leader = follower.leader.clone();
                            let since = Instant::now();
                            let landed = follower.wait().await;
                            let waited_ms = round3(since.elapsed().as_secs_f64() * 1000.0);
                            match landed {
                                Some(value) => {
                                    core.cache.count_coalesced();
                                    let detail = CacheDetail {
                                        key: Some(key),
                                        expired: Some(expired),
                                        bytes: Some(value.len()),
                                        coalesced: Some(true),
                                        waited_ms: Some(waited_ms),
                                        leader: Some(leader),
                                        ..CacheDetail::of(CacheResult::Hit)
                                    };
                                    // Answered from the cache's own fill, without touching
                                    // the database: a hit, however late.
                                    if let Some(run) = cache_run.take() {
                                        run.finish(Outcome::Hit, StageDetail::Cache(detail));
                                    }
                                    return Ok(json_bytes_response(value));
                                }
                                None => waited_in_vain = Some((waited_ms, leader)),
                            }
                        }
                    }
                }
                run.pause();
            }
        }
    }
    let (waited_ms, leader) = match waited_in_vain {
        Some((waited, leader)) => (Some(waited), Some(leader)),
        None => (None, None),
    };
    let coalesced = waited_ms.map(|_| false);
    // A miss that stored nothing: the database failed, or the row is not in this tenant.
    let miss_not_stored = |run: Option<crate::engine::pipeline::record::StageRun>| {
        if let Some(run) = run {
            let detail = CacheDetail {
                key: Some(key.clone()),
                expired: Some(expired),
                stored: Some(false),
                coalesced,
                waited_ms,
                leader: leader.clone(),
                ..CacheDetail::of(CacheResult::Miss)
            };
            run.finish(Outcome::Miss, StageDetail::Cache(detail));
        }
    };
    let result = match call.id {
        Some(id) => {
            let not_here = row_not_found(table, Some(id));
            database_stage(app, trace, Some(not_here), |store| {
                store.get(&table.name, call.tenant_id, id)
            })
            .await
        }
        None => {
            database_stage(app, trace, None, |store| {
                store.list(&table.name, call.tenant_id, LIST_LIMIT)
            })
            .await
        }
    };
    let record = match result {
        Ok(record) => record,
        Err(error) => {
            miss_not_stored(cache_run);
            return Err(error);
        }
    };
    let body = match call.id {
        Some(_) => match record.rows.first() {
            Some(row) => json!({ "data": row }),
            None => {
                miss_not_stored(cache_run);
                return Err(row_not_found(table, call.id));
            }
        },
        None => json!({ "data": record.rows, "count": record.rows.len() }),
    };
    // Serialised once: the cache keeps the response bytes, so a hit is a cheap copy of them.
    let bytes = bytes::Bytes::from(serde_json::to_vec(&body).map_err(ApiError::internal)?);
    if let (Some(mut run), Some(base)) = (cache_run, call.route.cache_ttl) {
        run.resume();
        let ttl = core.cache_ttl(base);
        core.cache.put(key.clone(), bytes.clone(), ttl);
        if let Some(guard) = leading {
            guard.complete(bytes.clone());
        }
        let detail = CacheDetail {
            key: Some(key),
            expired: Some(expired),
            stored: Some(true),
            ttl_s: Some(round3(ttl.as_secs_f64())),
            ttl_base_s: (ttl != base).then_some(base.as_secs_f64()),
            bytes: Some(bytes.len()),
            coalesced,
            waited_ms,
            leader,
            ..CacheDetail::of(CacheResult::Miss)
        };
        run.finish(Outcome::Miss, StageDetail::Cache(detail));
    }
    Ok(json_bytes_response(bytes))
}

/// A 200 response with an already-serialised JSON body.
fn json_bytes_response(body: bytes::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
