//! The HTTP API: a [`Route`] with its path matching, the events it publishes, and HTTP
//! [`Method`] names.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::{Action, Method, PublishMode};

/// An event published by a route or worker.
#[derive(Debug, Clone, Serialize)]
pub struct Publish {
    /// Topic.
    pub topic: String,
    /// Event type.
    pub event: String,
}

/// An API route.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path pattern (`{id}` marks the row id).
    pub path: String,
    /// Controller action.
    pub action: Action,
    /// Table of the action.
    pub table: Option<String>,
    /// Required permission.
    pub permission: Option<String>,
    /// Mask of the required permission (0 when public).
    pub required_mask: u64,
    /// No token needed.
    pub public: bool,
    /// Cache-aside TTL for reads.
    pub cache_ttl: Option<Duration>,
    /// Deadline (SLO): a success answered after it is late (not goodput). `None`: no deadline.
    pub deadline: Option<Duration>,
    /// Events published on success.
    pub publishes: Vec<Publish>,
    /// How the events reach the broker (outbox or dual write).
    pub publish_mode: PublishMode,
    /// Purpose.
    pub explain: String,
}

impl Route {
    /// The route's name in metrics and traces: method and path pattern, e.g.
    /// `GET /api/v1/projects/{id}`.
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Whether `path` (without query) matches this route's pattern.
    pub fn matches_path(&self, path: &str) -> bool {
        let mut pattern = self.path.split('/');
        let mut actual = path.split('/');
        loop {
            match (pattern.next(), actual.next()) {
                (None, None) => return true,
                (Some(p), Some(a)) if p.starts_with('{') && p.ends_with('}') => {
                    if a.is_empty() {
                        return false;
                    }
                }
                (Some(p), Some(a)) if p == a => {}
                _ => return false,
            }
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Method {
    /// The method as written in HTTP.
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Parses an HTTP method name (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "PATCH" => Some(Method::Patch),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
}
