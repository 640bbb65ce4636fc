//! What a client sends through the pipeline and what comes back.

use std::net::IpAddr;

use axum::http::HeaderMap;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::EngineError;
use super::pipeline::context::DEFAULT_CLIENT_IP;
use super::trace::Trace;
use crate::scenario::{Scenario, TokenKind};

/// A request to send through the pipeline: plain data, so it can be recorded and replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// A token of this kind for `persona`, minted by the engine on its own clock when the
    /// request is sent (so a replayed request carries a token valid at replay time).
    pub mint: Option<TokenKind>,
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
            mint: None,
        }
    }

    /// The scenario's named request `id`, as it describes it (host, headers, body), with the
    /// token it names minted by the engine when the request is sent.
    pub fn named(scenario: &Scenario, id: &str) -> Result<Self, EngineError> {
        let named = scenario
            .request(id)
            .ok_or_else(|| EngineError::UnknownRequest(id.to_string()))?;
        let mut request = Self::new(
            named.method.as_str(),
            &named.path,
            &scenario.host_of(&named.host_tenant),
        );
        request.persona = Some(named.persona.clone());
        request.mint = Some(named.token);
        for (name, value) in &named.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &named.body {
            request = request.json(body);
        }
        Ok(request)
    }

    /// A request from `persona` to its own tenant's host, with a fresh valid token minted when
    /// it is sent.
    pub fn as_persona(
        scenario: &Scenario,
        persona: &str,
        method: &str,
        path: &str,
    ) -> Result<Self, EngineError> {
        let found = scenario
            .persona(persona)
            .ok_or_else(|| EngineError::UnknownPersona {
                name: persona.to_string(),
                known: scenario
                    .personas
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let mut request = Self::new(method, path, &scenario.host_of(&found.tenant));
        request.persona = Some(persona.to_string());
        request.mint = Some(TokenKind::Valid);
        Ok(request)
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
