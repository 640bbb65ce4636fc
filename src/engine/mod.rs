//! The running system: a real multi-tenant SaaS backend inside the process. No terminal code.
//!
//! ```text
//!   ApiRequest ─▶ Engine::send ─▶ root ─▶ dns ─▶ cdn ─▶ waf ─▶ load balancer ─▶ app instance
//!                                                               (gateway, middleware, controller,
//!                                                                cache, database, publish)
//!   Exchange { status, headers, body, trace } ◀──────────────────────────────────┘
//! ```
//!
//! The same [`Router`] serves in-process calls ([`Engine::send`], used by `trace`, traffic and
//! tests) and real HTTP (`archsim serve`). Every stage is real code; modelled latencies are real
//! sleeps on the engine clock, which is tokio's — paused in virtual mode.

pub mod api;
pub mod auth;
pub mod broker;
pub mod cache;
pub mod clock;
pub mod core;
pub mod edge;
pub mod faults;
pub mod latency;
pub mod metrics;
pub mod pacer;
pub mod pipeline;
pub mod sim;
pub mod store;
pub mod theory;
pub mod trace;
pub mod traffic;
pub mod workers;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use bytes::Bytes;
use serde_json::Value;
use tower::ServiceExt;

use self::api::context::{ClientIp, PersonaLabel};
use self::clock::EngineClock;
use self::core::Core;
use self::edge::DEFAULT_CLIENT_IP;
use self::store::{Store, StoreError};
use self::trace::{Trace, TraceRecorder, TracedRequest};
use self::workers::PoolRuntime;
use crate::scenario::{Scenario, TokenKind};

/// Which clock the engine runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The wall clock.
    Live,
    /// Tokio's paused clock (run inside a `start_paused` current-thread runtime): deterministic
    /// and as fast as the CPU allows.
    Virtual,
}

impl Mode {
    /// `"live"` or `"virtual"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Virtual => "virtual",
        }
    }
}

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database could not be created.
    #[error("cannot create the database: {0}")]
    Store(#[from] StoreError),
    /// No persona of that name.
    #[error("no persona `{name}`; the scenario has: {known}")]
    UnknownPersona {
        /// The name asked for.
        name: String,
        /// The personas there are.
        known: String,
    },
    /// No named request of that id.
    #[error("no request `{0}` in the scenario")]
    UnknownRequest(String),
    /// The request could not be built (bad method, header or body).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// A request to send through the pipeline.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Host header.
    pub host: String,
    /// Extra headers (including `Authorization`).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Option<Bytes>,
    /// Client address seen by the WAF.
    pub client_ip: IpAddr,
    /// Persona the caller says it is acting as (for the trace only; auth reads the token).
    pub persona: Option<String>,
}

impl ApiRequest {
    /// A request with no headers or body.
    pub fn new(method: &str, path: &str, host: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            host: host.to_string(),
            headers: Vec::new(),
            body: None,
            client_ip: DEFAULT_CLIENT_IP,
            persona: None,
        }
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets a JSON body (and its content type).
    pub fn json(self, body: &Value) -> Self {
        self.raw_body(serde_json::to_vec(body).unwrap_or_default())
    }

    /// Sets raw body bytes with a JSON content type (the pipeline decides whether they parse).
    pub fn raw_body(mut self, body: impl Into<Bytes>) -> Self {
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = Some(body.into());
        self
    }

    /// Sets the client address.
    pub fn from_ip(mut self, ip: IpAddr) -> Self {
        self.client_ip = ip;
        self
    }
}

/// A response and the trace of how it came about.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
    /// What every stage did.
    pub trace: Trace,
}

impl Exchange {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A running engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    core: Arc<Core>,
    service: Router,
    pools: Arc<Vec<Arc<PoolRuntime>>>,
    timers: Arc<tokio::task::JoinHandle<()>>,
    worker_changes: tokio::sync::broadcast::Sender<workers::WorkerChange>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("scenario", &self.core.scenario.meta.name)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Builds the engine for `scenario`: creates and seeds the database, the caches, limiters and
    /// app instances. Call it inside the tokio runtime that will run it (its clock starts now).
    pub fn start(scenario: Arc<Scenario>, mode: Mode) -> Result<Self, EngineError> {
        let clock = match mode {
            Mode::Live => EngineClock::live(),
            Mode::Virtual => EngineClock::virtual_time(),
        };
        let store = Store::open(scenario.clone())?;
        let core = Arc::new(Core::new(scenario, clock, store));
        let service = api::service(&core);
        let (worker_changes, _) = tokio::sync::broadcast::channel(4096);
        let timer_core = core.clone();
        let timers = tokio::spawn(async move { timer_core.broker.run_timers().await });
        let pools = core
            .scenario
            .workers
            .iter()
            .filter_map(|pool| {
                PoolRuntime::start(
                    pool,
                    &core.broker,
                    &core.rng,
                    core.clock,
                    worker_changes.clone(),
                )
            })
            .collect();
        Ok(Self {
            core,
            service,
            pools: Arc::new(pools),
            timers: Arc::new(timers),
            worker_changes,
        })
    }

    /// The running worker pool `name`.
    pub fn pool(&self, name: &str) -> Option<Arc<PoolRuntime>> {
        self.pools.iter().find(|p| p.config.name == name).cloned()
    }

    /// Subscribes to worker state changes.
    pub fn subscribe_workers(&self) -> tokio::sync::broadcast::Receiver<workers::WorkerChange> {
        self.worker_changes.subscribe()
    }

    /// Stops the broker's timers and every worker.
    pub fn stop(&self) {
        self.timers.abort();
        for pool in self.pools.iter() {
            pool.stop();
        }
    }

    /// The shared state (database, caches, clock, …).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The scenario.
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.core.scenario
    }

    /// The HTTP service, for `axum::serve`.
    pub fn router(&self) -> Router {
        self.service.clone()
    }

    /// The host name of tenant `subdomain`.
    pub fn host_of(&self, subdomain: &str) -> String {
        format!("{subdomain}.{}", self.core.scenario.meta.domain)
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
    pub fn token(
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

    /// A request from `persona` to its own tenant's host, with a fresh valid token.
    pub fn request_as(
        &self,
        persona: &str,
        method: &str,
        path: &str,
    ) -> Result<ApiRequest, EngineError> {
        let tenant = self.persona(persona)?.tenant.clone();
        let mut request = ApiRequest::new(method, path, &self.host_of(&tenant));
        request.persona = Some(persona.to_string());
        match self.token(persona, TokenKind::Valid, None)? {
            Some(token) => Ok(request.bearer(&token)),
            None => Ok(request),
        }
    }

    /// The scenario's named request `id`, built as it describes (host, token kind, body).
    pub fn named_request(&self, id: &str) -> Result<ApiRequest, EngineError> {
        let named = self
            .core
            .scenario
            .request(id)
            .ok_or_else(|| EngineError::UnknownRequest(id.to_string()))?;
        let mut request = ApiRequest::new(
            named.method.as_str(),
            &named.path,
            &self.host_of(&named.host_tenant),
        );
        request.persona = Some(named.persona.clone());
        if let Some(token) = self.token(&named.persona, named.token, None)? {
            request = request.bearer(&token);
        }
        for (name, value) in &named.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &named.body {
            request = request.json(body);
        }
        Ok(request)
    }

    /// Sends all `requests` at once (concurrently) and returns their exchanges in the same order.
    pub async fn send_all(&self, requests: Vec<ApiRequest>) -> Vec<Result<Exchange, EngineError>> {
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
    pub async fn send_named(&self, id: &str) -> Result<Vec<Exchange>, EngineError> {
        let repeat = self
            .core
            .scenario
            .request(id)
            .map_or(1, |r| r.repeat.max(1));
        let requests = (0..repeat)
            .map(|_| self.named_request(id))
            .collect::<Result<Vec<_>, _>>()?;
        self.send_all(requests).await.into_iter().collect()
    }

    /// Sends `request` through the whole pipeline like [`Engine::send`], but keeps only the
    /// status: for load generators, whose traces nobody reads (the stages still run and record).
    pub async fn fire(&self, request: ApiRequest) -> Result<u16, EngineError> {
        let http_request = self.http_request(&request, TraceRecorder::new())?;
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
        if let Some(persona) = &request.persona {
            http_request
                .extensions_mut()
                .insert(PersonaLabel(persona.clone()));
        }
        Ok(http_request)
    }

    /// Sends `request` through the whole pipeline and returns the response with its trace.
    pub async fn send(&self, request: ApiRequest) -> Result<Exchange, EngineError> {
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
