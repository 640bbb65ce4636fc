//! Fuzz target `http_request`: no request a client can send makes the API crash, answer a 500,
//! or leak internals.
//!
//! Defends the whole in-process request path of the default scenario: DNS/tenant host, CDN, WAF,
//! load balancer, gateway routing, request id, sanitize, JWT auth, tenant check, rate limit,
//! RBAC, body validation, controllers (login with Argon2id, list/get/create/update/delete,
//! payments with idempotency keys), cache, database and broker publishing, and the error
//! responses of each.
//!
//! An input is one to three requests, each derived from the bytes with `arbitrary`: a method
//! (the API's, others, or any text), a path (a route with a fuzzed id, a static asset, or any
//! text) with an optional query, a Host (a tenant's, another, or any text), an `Authorization`
//! (none, a token the engine mints for a persona — valid, expired, badly signed, `alg: none`,
//! wrong audience — or any text with or without a `Bearer` scheme), a content type, extra
//! headers (`Idempotency-Key`, a second `Host`, …) and a body (JSON built from the schema's
//! field names and awkward values, or raw bytes). Several requests per input let one input
//! reproduce what needs two (a duplicate unique name, a replayed idempotency key).
//!
//! One engine (virtual time, quiet: no generated traffic or faults) serves every input, so
//! exec/s stays high; its clock advances a little after each input so that rate limits refill.
//! A crash depends on state other inputs left only in rare cases: minimise with `cargo fuzz tmin`
//! and check the input alone in `tests/fuzz_regressions.rs`.
//!
//! Oracles, per response: no panic (libFuzzer aborts on a panic in any thread, the engine's
//! included); a request the engine can build answers some status — a request it cannot build
//! (an invalid header name or URI) is refused with `EngineError::InvalidRequest`; a 500 is a
//! finding (the only 500 the API has is the generic `internal` error of a bug); every error
//! response (4xx/5xx; to any method but HEAD, whose answers have no body) is the JSON error shape
//! `{"error": {"status", "code", "message"}}` whose `status` matches the HTTP status; and no
//! response body or header carries internals (compared without case): SQLite text (`constraint
//! failed`, `SELECT`, `sqlite`), Rust Debug dumps (`Error(`, `line: 1, column:`, `Some(`),
//! source paths (`.rs:`), panic text — unless the client sent that text itself (an answer may
//! name a field the client sent, and that is no leak).

#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use archsim::engine::{ApiRequest, Clock, Engine, EngineError, EngineHandle, Exchange, Options};
use archsim::scenario::{TokenKind, load_or_default};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const PERSONAS: &[&str] = &["alice", "bob", "carol", "mallory", "peter"];
const HOSTS: &[&str] = &[
    "acme.archsim.test",
    "globex.archsim.test",
    "initech.archsim.test",
    "unknown.archsim.test",
    "archsim.test",
    "ACME.archsim.test",
    "acme.archsim.test:8080",
    "acme.archsim.test.",
    "",
];
const ROUTES: &[&str] = &[
    "/api/v1/health",
    "/api/v1/auth/token",
    "/api/v1/projects",
    "/api/v1/projects/{id}",
    "/api/v1/invoices",
    "/api/v1/invoices/{id}",
    "/api/v1/payments",
    "/api/v1/users",
    "/api/v1/api_keys",
    "/api/v1/audit_log",
    "/static/app.js",
    "/static/logo.svg",
    "/static/",
    "/api/v2/projects",
    "/",
];
const IDS: &[&str] = &[
    "1",
    "2",
    "4",
    "7",
    "0",
    "-1",
    "+1",
    "01",
    "1.0",
    "1e3",
    "%31",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "abc",
    "",
    "1%00",
    "1;DROP TABLE projects",
    "..",
    "%2e%2e",
    "1/..",
    " 1",
];
const METHODS: &[&str] = &[
    "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "TRACE", "CONNECT", "get",
];
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin1",
    "",
];
const HEADER_NAMES: &[&str] = &[
    "idempotency-key",
    "host",
    "authorization",
    "content-type",
    "content-length",
    "x-forwarded-for",
    "x-request-id",
    "x-tenant-id",
    "accept",
    "if-none-match",
    "cache-control",
    "cookie",
];
const FIELDS: &[&str] = &[
    "name",
    "status",
    "tenant_id",
    "id",
    "owner_id",
    "created_at",
    "invoice_id",
    "amount_cents",
    "method",
    "currency",
    "number",
    "due_at",
    "settled_at",
    "created_by",
    "email",
    "password",
    "role_id",
    "__proto__",
    "",
];

#[derive(Debug, Arbitrary)]
enum Method {
    Known(u8),
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum Path {
    Route { route: u8, id: Id },
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum Id {
    Known(u8),
    Number(i64),
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum Host {
    Known(u8),
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum Auth {
    None,
    /// A token the engine mints for a persona when the request is sent.
    Minted {
        persona: u8,
        kind: u8,
    },
    /// `Authorization: <scheme> <token>` with a scheme from a short list.
    Scheme {
        scheme: u8,
        token: String,
    },
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum Scalar {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    Null,
    /// A value from a list of awkward ones (huge numbers, dates, nested structures).
    Awkward(u8),
}

#[derive(Debug, Arbitrary)]
enum Body {
    None,
    /// A JSON object of schema field names (or others) and values.
    Fields(Vec<(u8, Option<String>, Scalar)>),
    /// Any JSON value.
    Scalar(Scalar),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Request {
    method: Method,
    path: Path,
    query: Option<String>,
    host: Host,
    auth: Auth,
    content_type: Option<u8>,
    headers: Vec<(u8, String)>,
    body: Body,
    client: u8,
}

fn pick<'a>(list: &[&'a str], at: u8) -> &'a str {
    list[usize::from(at) % list.len()]
}

fn awkward(at: u8) -> Value {
    let values = [
        json!(1e300),
        json!(-0.0),
        json!(u64::MAX),
        json!(i64::MIN),
        json!("9223372036854775808"),
        json!("1979-05-27T07:32:00Z"),
        json!("not a date"),
        json!([]),
        json!({}),
        json!({"$gt": ""}),
        json!("' OR 1=1 --"),
        json!("a\u{0}b"),
        json!(" padded "),
        json!("é".repeat(100)),
        json!("x".repeat(5000)),
        json!([[[[[[[[[[1]]]]]]]]]]),
    ];
    values[usize::from(at) % values.len()].clone()
}

fn scalar(value: &Scalar) -> Value {
    match value {
        Scalar::Int(n) => json!(n),
        Scalar::Float(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        Scalar::Text(text) => json!(text),
        Scalar::Bool(b) => json!(b),
        Scalar::Null => Value::Null,
        Scalar::Awkward(at) => awkward(*at),
    }
}

fn token_kind(at: u8) -> TokenKind {
    match at % 6 {
        0 => TokenKind::Valid,
        1 => TokenKind::Missing,
        2 => TokenKind::Expired,
        3 => TokenKind::BadSignature,
        4 => TokenKind::AlgNone,
        _ => TokenKind::WrongAudience,
    }
}

/// The `ApiRequest` an input's request stands for.
fn build(input: &Request) -> ApiRequest {
    let method = match &input.method {
        Method::Known(at) => pick(METHODS, *at).to_string(),
        Method::Any(text) => text.clone(),
    };
    let mut path = match &input.path {
        Path::Route { route, id } => {
            let id = match id {
                Id::Known(at) => pick(IDS, *at).to_string(),
                Id::Number(n) => n.to_string(),
                Id::Any(text) => text.clone(),
            };
            pick(ROUTES, *route).replace("{id}", &id)
        }
        Path::Any(text) => text.clone(),
    };
    if let Some(query) = &input.query {
        path.push('?');
        path.push_str(query);
    }
    let host = match &input.host {
        Host::Known(at) => pick(HOSTS, *at).to_string(),
        Host::Any(text) => text.clone(),
    };
    let mut request = ApiRequest::new("GET", &path, &host);
    // `ApiRequest::new` upper-cases the method; keep the fuzzer's spelling.
    request.method = method;
    request.client_ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, input.client % 4));
    match &input.auth {
        Auth::None => {}
        Auth::Minted { persona, kind } => {
            request.persona = Some(pick(PERSONAS, *persona).to_string());
            request.mint = Some(token_kind(*kind));
        }
        Auth::Scheme { scheme, token } => {
            let scheme = pick(
                &["Bearer", "bearer", "BEARER", "Basic", "Token", ""],
                *scheme,
            );
            request = request.header("authorization", &format!("{scheme} {token}"));
        }
        Auth::Any(text) => request = request.header("authorization", text),
    }
    if let Some(at) = input.content_type {
        request = request.header("content-type", pick(CONTENT_TYPES, at));
    }
    for (name, value) in input.headers.iter().take(4) {
        request = request.header(pick(HEADER_NAMES, *name), value);
    }
    request.body = match &input.body {
        Body::None => None,
        Body::Fields(fields) => {
            let object: Map<String, Value> = fields
                .iter()
                .take(8)
                .map(|(at, other, value)| {
                    let key = other
                        .clone()
                        .unwrap_or_else(|| pick(FIELDS, *at).to_string());
                    (key, scalar(value))
                })
                .collect();
            Some(serde_json::to_vec(&object).unwrap_or_default().into())
        }
        Body::Scalar(value) => Some(
            serde_json::to_vec(&scalar(value))
                .unwrap_or_default()
                .into(),
        ),
        Body::Raw(bytes) => Some(bytes.clone().into()),
    };
    request
}

/// Text that must never reach a client: SQL and SQLite errors, Rust Debug output, source paths.
const INTERNALS: &[&str] = &[
    "sqlite",
    "constraint failed",
    "SELECT ",
    "INSERT INTO",
    "Error(",
    "line: 1, column:",
    "Some(",
    ".rs:",
    "panicked",
    "thread '",
];

/// Everything the client sent, lower-cased: an answer may echo the client's own text (a field
/// name it sent is named in a 422), which is not a leak even when it looks like one.
fn sent_text(request: &ApiRequest) -> String {
    let mut text = format!("{} {} {}", request.method, request.path, request.host);
    for (name, value) in &request.headers {
        text.push_str(&format!("\n{name}: {value}"));
    }
    if let Some(body) = &request.body {
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(body));
        // The answer is JSON: what the client sent may come back escaped.
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            text.push('\n');
            text.push_str(&value.to_string());
        }
    }
    text.to_lowercase()
}

/// The oracles every response is held to.
fn check(request: &ApiRequest, exchange: &Exchange) {
    let status = exchange.status;
    let body = String::from_utf8_lossy(&exchange.body);
    assert_ne!(status, 500, "a 500 for {request:?}: {body}");
    let sent = sent_text(request);
    let lower_body = body.to_lowercase();
    for needle in INTERNALS {
        let needle = needle.to_lowercase();
        if sent.contains(&needle) {
            continue;
        }
        assert!(
            !lower_body.contains(&needle),
            "the body of a {status} carries {needle:?} for {request:?}: {body}"
        );
        for (name, value) in &exchange.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).to_lowercase();
            assert!(
                !value.contains(&needle),
                "header {name} carries {needle:?} for {request:?}: {value}"
            );
        }
    }
    // A response to HEAD has no body by definition.
    if status >= 400 && request.method != "HEAD" {
        let json = exchange.json();
        let error = json.as_ref().and_then(|json| json.get("error"));
        assert!(
            error.is_some_and(|e| e["status"] == status
                && e["code"].as_str().is_some_and(|c| !c.is_empty())
                && e["message"].as_str().is_some_and(|m| !m.is_empty())),
            "a {status} that is not the JSON error shape for {request:?}: {body}"
        );
    }
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    engine: EngineHandle,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let scenario = load_or_default(None).expect("the default scenario loads");
        let engine =
            Engine::spawn_with(scenario, Options::quiet(Clock::Virtual)).expect("engine starts");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime");
        Fixture { runtime, engine }
    })
}

fuzz_target!(|requests: Vec<Request>| {
    let fixture = fixture();
    fixture.runtime.block_on(async {
        for input in requests.iter().take(3) {
            let request = build(input);
            match fixture.engine.send(request.clone()).await {
                Ok(exchange) => check(&request, &exchange),
                // A request that cannot be put into HTTP form (a header name with a space, a
                // URI with a raw space) never reaches the pipeline, as no client can send it.
                Err(EngineError::InvalidRequest(_)) => {}
                // A minted token for a persona the list names always exists; anything else
                // (the engine stopped: it panicked) is a finding.
                Err(error) => panic!("the engine refused {request:?}: {error}"),
            }
        }
        // Rate limits are per second: let a little virtual time pass so they refill.
        let advanced = fixture.engine.advance(Duration::from_millis(200)).await;
        assert!(advanced.is_ok(), "the engine stopped: {advanced:?}");
    });
});
