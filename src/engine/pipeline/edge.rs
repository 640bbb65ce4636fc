//! The edge stages, in front of the load balancer: DNS (host → tenant), the CDN's edge cache for
//! static assets, and the WAF's per-IP and body-size limits.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::body::buffer_body;
use super::context::{ClientIp, DEFAULT_CLIENT_IP, HostTenant};
use super::error::ApiError;
use super::stage::{Decision, Finished, Respond, Stage, StageCtx};
use crate::engine::cache::Lookup;
use crate::engine::core::{CachedAsset, Core};
use crate::engine::trace::Outcome;
use crate::engine::trace::StageDetail;
use crate::engine::trace::detail::{CdnDetail, DnsDetail, EdgeCacheResult, TenantRef, WafDetail};

/// Largest origin answer the CDN keeps, in bytes.
const CDN_MAX_OBJECT_BYTES: usize = 16 * 1024 * 1024;

/// The host name without port, lower-cased.
fn host_of(request: &Request) -> Option<String> {
    let raw = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().host().map(str::to_string))?;
    let without_port = raw.rsplit_once(':').map_or(raw.as_str(), |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            raw.as_str()
        }
    });
    Some(without_port.trim_end_matches('.').to_ascii_lowercase())
}

/// DNS: the first label of the host names the tenant.
pub struct Dns;

impl Stage for Dns {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        let domain = &ctx.core.scenario.meta.domain;
        // RFC 9112 §3.2: a request with more than one Host is refused — two hosts could send
        // one request to two tenants, depending on which one a component reads.
        if request.headers().get_all(header::HOST).iter().count() > 1 {
            let error = ApiError::bad_request(
                "duplicate_host",
                "the request has more than one Host header",
            );
            let detail = DnsDetail {
                domain: Some(domain.clone()),
                ..DnsDetail::default()
            };
            return Decision::Reject(error, StageDetail::Dns(detail));
        }
        let Some(host) = host_of(request) else {
            let error = ApiError::bad_request("missing_host", "the request has no Host header");
            let detail = DnsDetail {
                domain: Some(domain.clone()),
                ..DnsDetail::default()
            };
            return Decision::Reject(error, StageDetail::Dns(detail));
        };
        let label = host
            .strip_suffix(&format!(".{domain}"))
            .filter(|l| !l.is_empty() && !l.contains('.'))
            .map(str::to_string);
        let tenant = label.as_deref().and_then(|l| ctx.core.scenario.tenant(l));
        match tenant {
            Some(tenant) => {
                let detail = DnsDetail {
                    answer: Some(format!("{host} → tenant {} ({})", tenant.id, tenant.name)),
                    host: Some(host),
                    label: Some(label),
                    tenant: Some(TenantRef {
                        id: tenant.id,
                        subdomain: tenant.subdomain.clone(),
                        name: tenant.name.clone(),
                        plan: tenant.plan.clone(),
                    }),
                    domain: None,
                };
                request.extensions_mut().insert(HostTenant {
                    id: tenant.id,
                    subdomain: tenant.subdomain.clone(),
                });
                Decision::Pass(StageDetail::Dns(detail))
            }
            None => {
                let message = match &label {
                    Some(label) => format!("no tenant has the subdomain `{label}`"),
                    None => format!("`{host}` is not a subdomain of {domain}"),
                };
                let detail = DnsDetail {
                    host: Some(host),
                    label: Some(label),
                    tenant: None,
                    domain: Some(domain.clone()),
                    answer: Some("NXDOMAIN: no such tenant".into()),
                };
                Decision::Reject(
                    ApiError::not_found("unknown_tenant", message),
                    StageDetail::Dns(detail),
                )
            }
        }
    }
}

/// CDN: static assets are answered from the edge cache (filled on a miss); everything else
/// passes to the origin.
pub struct Cdn;

impl Stage for Cdn {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        let path = request.uri().path().to_string();
        let is_static = ctx
            .core
            .scenario
            .edge
            .static_prefix
            .as_ref()
            .is_some_and(|prefix| path.starts_with(prefix.as_str()));
        if !is_static || request.method() != axum::http::Method::GET {
            return Decision::Pass(StageDetail::Cdn(CdnDetail {
                path: Some(path),
                cacheable: Some(false),
                note: Some("not a static asset: forwarded to the origin".into()),
                ..CdnDetail::default()
            }));
        }
        if let Lookup::Hit { value, ttl_left } = ctx.core.cdn.get(&path) {
            let detail = CdnDetail {
                key: Some(path),
                cache: Some(EdgeCacheResult::Hit),
                ttl_left_s: Some(ttl_left.as_secs_f64()),
                bytes: Some(value.body.len()),
                ..CdnDetail::default()
            };
            return Decision::Answer(
                Outcome::Hit,
                StageDetail::Cdn(detail),
                asset_response(&value, "HIT"),
            );
        }
        // A miss: the origin answers, and `respond` keeps its answer at the edge.
        Decision::Pass(StageDetail::Cdn(CdnDetail {
            key: Some(path),
            cache: Some(EdgeCacheResult::Miss),
            ..CdnDetail::default()
        }))
    }

    fn respond(&self, ctx: &StageCtx, detail: StageDetail, response: Response) -> Respond {
        let StageDetail::Cdn(CdnDetail {
            key: Some(key),
            cache: Some(EdgeCacheResult::Miss),
            ..
        }) = detail
        else {
            return Respond::Now(Finished::pass(detail, response));
        };
        let status = response.status();
        if status != StatusCode::OK {
            let detail = CdnDetail {
                key: Some(key),
                cache: Some(EdgeCacheResult::Miss),
                origin_status: Some(status.as_u16()),
                stored: Some(false),
                ..CdnDetail::default()
            };
            return Respond::Now(Finished {
                outcome: Outcome::Miss,
                detail: StageDetail::Cdn(detail),
                error: None,
                response,
            });
        }
        Respond::Later(Box::pin(store_at_edge(ctx.core.clone(), key, response)))
    }
}

/// A miss the origin answered with 200: reads its body and keeps it at the edge for the
/// scenario's CDN TTL.
async fn store_at_edge(core: Arc<Core>, key: String, response: Response) -> Finished {
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let body = match axum::body::to_bytes(response.into_body(), CDN_MAX_OBJECT_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            let detail = CdnDetail {
                key: Some(key),
                ..CdnDetail::default()
            };
            return Finished::refused(ApiError::internal(error), StageDetail::Cdn(detail));
        }
    };
    let asset = CachedAsset { content_type, body };
    let ttl = core.scenario.edge.cdn_ttl;
    core.cdn.put(key.clone(), asset.clone(), ttl);
    let detail = CdnDetail {
        key: Some(key),
        cache: Some(EdgeCacheResult::Miss),
        origin_status: Some(200),
        stored: Some(true),
        ttl_s: Some(ttl.as_secs_f64()),
        bytes: Some(asset.body.len()),
        ..CdnDetail::default()
    };
    Finished {
        outcome: Outcome::Miss,
        detail: StageDetail::Cdn(detail),
        error: None,
        response: asset_response(&asset, "MISS"),
    }
}

fn asset_response(asset: &CachedAsset, cache_status: &'static str) -> Response {
    let mut response = Response::new(Body::from(asset.body.clone()));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&asset.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert("x-cache", HeaderValue::from_static(cache_status));
    response
}

/// WAF: a per-IP request limit and a body-size limit.
pub struct Waf;

use crate::scenario::{
    WAF_MAX_HEADER_BYTES as MAX_HEADER_BYTES, WAF_MAX_URI_BYTES as MAX_URI_BYTES,
};

/// A request line or header block past the WAF's limits: the JSON error (414 or 431) and what
/// was too large. Over HTTP, far larger heads are refused by the connection before they are
/// parsed (`engine::serve::head`), in the same error shape.
fn oversized(request: &Request) -> Option<(ApiError, String)> {
    let uri = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if uri > MAX_URI_BYTES {
        return Some((
            ApiError::new(
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
                format!("the request target is {uri} bytes; the limit is {MAX_URI_BYTES}"),
            ),
            format!("uri {uri} bytes > {MAX_URI_BYTES}"),
        ));
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (headers > MAX_HEADER_BYTES).then(|| {
        (
            ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                format!("the headers are {headers} bytes; the limit is {MAX_HEADER_BYTES}"),
            ),
            format!("headers {headers} bytes > {MAX_HEADER_BYTES}"),
        )
    })
}

impl Stage for Waf {
    async fn decide(&self, ctx: &StageCtx, request: &mut Request) -> Decision {
        let ip = request
            .extensions()
            .get::<ClientIp>()
            .map_or(DEFAULT_CLIENT_IP, |c| c.0);
        if let Some((error, too_large)) = oversized(request) {
            let detail = WafDetail {
                client_ip: ip.to_string(),
                too_large: Some(too_large),
                ..WafDetail::default()
            };
            return Decision::Reject(error, StageDetail::Waf(detail));
        }
        let edge = &ctx.core.scenario.edge;
        let limit = edge.waf_requests_per_minute;
        let max_body = edge.max_body_bytes as usize;
        let client_ip = ip.to_string();
        let remaining = match ctx.core.ip_limiter.check_key(&client_ip) {
            Ok(snapshot) => snapshot.remaining_burst_capacity(),
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(&ctx.core.clock));
                let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
                let error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "ip_rate_limited",
                    format!("too many requests from {ip}; limit {limit} per minute"),
                )
                .with_header(header::RETRY_AFTER, &retry_after.to_string());
                let detail = WafDetail {
                    client_ip,
                    limit_per_minute: Some(limit),
                    retry_after_s: Some(retry_after),
                    ..WafDetail::default()
                };
                return Decision::Reject(error, StageDetail::Waf(detail));
            }
        };
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(bytes) = declared.filter(|b| *b > max_body) {
            let error = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is {bytes} bytes; the limit is {max_body}"),
            );
            let detail = WafDetail {
                client_ip,
                body_bytes: Some(bytes),
                max_body_bytes: Some(max_body),
                ..WafDetail::default()
            };
            return Decision::Reject(error, StageDetail::Waf(detail));
        }
        let body = match buffer_body(request, max_body).await {
            Ok(body) => body,
            Err(error) => {
                let detail = WafDetail {
                    client_ip,
                    max_body_bytes: Some(max_body),
                    ..WafDetail::default()
                };
                return Decision::Reject(error, StageDetail::Waf(detail));
            }
        };
        Decision::Pass(StageDetail::Waf(WafDetail {
            client_ip,
            remaining_this_minute: Some(remaining),
            limit_per_minute: Some(limit),
            retry_after_s: None,
            body_bytes: Some(body.len()),
            max_body_bytes: Some(max_body),
            too_large: None,
        }))
    }
}
