//! The running system inside the engine thread: the database, caches, limiters, app instances,
//! broker and worker pools, wired together. Crate-private: clients reach it through
//! [`EngineHandle`](super::EngineHandle).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, header};
use tower::ServiceExt;

use super::api;
use super::api::context::ClientIp;
use super::clock::EngineClock;
use super::core::Core;
use super::error::EngineError;
use super::options::Sabotage;
use super::request::{ApiRequest, Exchange};
use super::store::Store;
use super::trace::{TraceRecorder, TracedRequest};
use super::wallet::Wallet;
use super::workers::PoolRuntime;
use crate::scenario::{Scenario, TokenKind};

/// A running engine; cheap to clone.
#[derive(Clone)]
pub(crate) struct System {
    core: Arc<Core>,
    service: Router,
    pools: Arc<Vec<Arc<PoolRuntime>>>,
    /// The tokens the load generators' clients hold (see [`Wallet`]).
    wallet: Arc<Wallet>,
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System")
            .field("scenario", &self.core.scenario.meta.name)
            .finish_non_exhaustive()
    }
}

impl System {
    /// Builds the engine for `scenario`: creates and seeds the database, the caches, limiters and
    /// app instances. Call it inside the tokio runtime that will run it (its clock starts now).
    pub(crate) fn start(
        scenario: Arc<Scenario>,
        clock: EngineClock,
        sabotage: Option<Sabotage>,
    ) -> Result<Self, EngineError> {
        let store = Store::open(scenario.clone())?;
        let mut core = Core::new(scenario, clock, store);
        core.sabotage = sabotage;
        let core = Arc::new(core);
        let service = api::service(&core);
        let timer_core = core.clone();
        tokio::spawn(async move { timer_core.broker.run_timers().await });
        tokio::spawn(super::relay::run(core.clone()));
        let pools = core
            .scenario
            .workers
            .iter()
            .filter_map(|pool| PoolRuntime::start(pool, &core))
            .collect();
        Ok(Self {
            core,
            service,
            pools: Arc::new(pools),
            wallet: Arc::default(),
        })
    }

    /// The running worker pool `name`.
    pub(crate) fn pool(&self, name: &str) -> Option<Arc<PoolRuntime>> {
        self.pools.iter().find(|p| p.config.name == name).cloned()
    }

    /// The shared state (database, caches, clock, …).
    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The scenario.
    pub(crate) fn scenario(&self) -> &Arc<Scenario> {
        &self.core.scenario
    }

    /// The HTTP service, for `axum::serve`.
    pub(crate) fn router(&self) -> Router {
        self.service.clone()
    }

    fn persona(&self, name: &str) -> Result<&crate::scenario::Persona, EngineError> {
        self.core
            .scenario
            .persona(name)
            .ok_or_else(|| EngineError::UnknownPersona {
                name: name.to_string(),
                known: self
                    .core
                    .scenario
                    .personas
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// A token of `kind` for `persona`, issued now on the engine clock (None for `Missing`).
    pub(crate) fn token(
        &self,
        persona: &str,
        kind: TokenKind,
        ttl_s: Option<u64>,
    ) -> Result<Option<String>, EngineError> {
        let persona = self.persona(persona)?;
        let tokens = &self.core.tokens;
        let ttl = ttl_s.unwrap_or_else(|| tokens.default_ttl_s());
        let claims = tokens.claims_for(
            &self.core.scenario,
            persona,
            self.core.clock.unix_secs(),
            ttl,
        );
        Ok(tokens.mint(kind, claims))
    }

    /// Mints the token `request` asks for (if any) on the engine clock, as it is sent: a
    /// recorded request replayed later carries a token valid then.
    fn with_minted_token(&self, request: ApiRequest) -> Result<ApiRequest, EngineError> {
        self.with_token(request, |persona, kind| self.token(persona, kind, None))
    }

    /// [`with_minted_token`](Self::with_minted_token) for a generated client: the token its
    /// persona already holds while it is in the first half of its life (see [`Wallet`]).
    fn with_held_token(&self, request: ApiRequest) -> Result<ApiRequest, EngineError> {
        let now = self.core.clock.unix_secs();
        let ttl = self.core.tokens.default_ttl_s();
        self.with_token(request, |persona, kind| {
            self.wallet
                .token(persona, kind, now, ttl, || self.token(persona, kind, None))
        })
    }

    /// `request` with the bearer token `issue` gives for its persona and the kind it asks for.
    fn with_token(
        &self,
        mut request: ApiRequest,
        issue: impl FnOnce(&str, TokenKind) -> Result<Option<String>, EngineError>,
    ) -> Result<ApiRequest, EngineError> {
        let Some(kind) = request.mint.take() else {
            return Ok(request);
        };
        let persona = request.persona.clone().ok_or_else(|| {
            EngineError::InvalidRequest("a token can be minted only for a persona".into())
        })?;
        if let Some(token) = issue(&persona, kind)? {
            request = request.bearer(&token);
        }
        Ok(request)
    }

    /// Sends all `requests` at once (concurrently) and returns their exchanges in the same order.
    pub(crate) async fn send_all(
        &self,
        requests: Vec<ApiRequest>,
    ) -> Vec<Result<Exchange, EngineError>> {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, request) in requests.into_iter().enumerate() {
            let engine = self.clone();
            tasks.spawn(async move { (index, engine.send(request).await) });
        }
        let mut results: Vec<(usize, Result<Exchange, EngineError>)> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(result) => results.push(result),
                Err(error) => results.push((
                    usize::MAX,
                    Err(EngineError::InvalidRequest(format!(
                        "request task failed: {error}"
                    ))),
                )),
            }
        }
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// Sends the scenario's named request `id` as it describes: `repeat` copies at once.
    pub(crate) async fn send_named(&self, id: &str) -> Result<Vec<Exchange>, EngineError> {
        let repeat = self
            .core
            .scenario
            .request(id)
            .map_or(1, |r| r.repeat.max(1));
        let requests = (0..repeat)
            .map(|_| ApiRequest::named(&self.core.scenario, id))
            .collect::<Result<Vec<_>, _>>()?;
        self.send_all(requests).await.into_iter().collect()
    }

    /// Sends `request` through the whole pipeline like [`System::send`], but keeps only the
    /// status: for load generators, whose traces nobody reads (the stages still run and record).
    pub(crate) async fn fire(&self, request: ApiRequest) -> Result<u16, EngineError> {
        let request = self.with_held_token(request)?;
        let http_request = self.http_request(&request, TraceRecorder::unread())?;
        let response = match self.service.clone().oneshot(http_request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        Ok(response.status().as_u16())
    }

    fn http_request(
        &self,
        request: &ApiRequest,
        recorder: TraceRecorder,
    ) -> Result<axum::http::Request<Body>, EngineError> {
        let mut builder = axum::http::Request::builder()
            .method(request.method.as_str())
            .uri(&request.path)
            .header(header::HOST, &request.host);
        for (name, value) in &request.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| EngineError::InvalidRequest(e.to_string()))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| EngineError::InvalidRequest(e.to_string()))?;
            builder = builder.header(name, value);
        }
        let body = request.body.clone().map_or_else(Body::empty, Body::from);
        let mut http_request = builder
            .body(body)
            .map_err(|e| EngineError::InvalidRequest(e.to_string()))?;
        http_request.extensions_mut().insert(recorder);
        http_request
            .extensions_mut()
            .insert(ClientIp(request.client_ip));
        Ok(http_request)
    }

    /// Sends `request` through the whole pipeline and returns the response with its trace.
    pub(crate) async fn send(&self, request: ApiRequest) -> Result<Exchange, EngineError> {
        let request = self.with_minted_token(request)?;
        let recorder = TraceRecorder::new();
        let http_request = self.http_request(&request, recorder.clone())?;
        let response = match self.service.clone().oneshot(http_request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let response_json = serde_json::from_slice(&body).unwrap_or_else(|_| {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            serde_json::json!({ "content_type": content_type, "bytes": body.len() })
        });
        let traced = TracedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            host: request.host.clone(),
            persona: request.persona.clone(),
            // Filled in from the request-id stage by `TraceRecorder::finish`.
            request_id: None,
        };
        let core = &self.core;
        let trace = recorder.finish(traced, status, response_json, &|id| core.stage_position(id));
        Ok(Exchange {
            status,
            headers,
            body,
            trace,
        })
    }
}
