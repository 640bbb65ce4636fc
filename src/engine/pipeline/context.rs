//! Request extensions: what earlier stages learned and later stages rely on.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::auth::Claims;
use crate::scenario::Route;

/// The address in-process callers appear to come from when they name none (TEST-NET-3).
pub const DEFAULT_CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));

/// The tenant the Host header resolved to (set by the DNS stage).
#[derive(Debug, Clone)]
pub struct HostTenant {
    /// Database id.
    pub id: i64,
    /// Subdomain.
    pub subdomain: String,
}

/// The authenticated caller (set by the auth stage).
#[derive(Debug, Clone)]
pub struct Principal {
    /// User id (token `sub`).
    pub user_id: i64,
    /// Verified claims.
    pub claims: Claims,
}

/// The client's IP address (from the connection, or given by the caller in-process).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The app instance serving the request (set by the load balancer).
#[derive(Debug, Clone, Copy)]
pub struct Instance(pub usize);

/// The matched route (set by the gateway stage).
#[derive(Debug, Clone)]
pub struct MatchedRoute(pub Arc<Route>);

/// The request body, read once (within the size limit) and shared by the stages that inspect it.
#[derive(Debug, Clone)]
pub struct BufferedBody(pub Bytes);

impl Instance {
    /// The instance's name, e.g. `app-2`.
    pub fn name(&self) -> String {
        format!("app-{}", self.0 + 1)
    }
}
