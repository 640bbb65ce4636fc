//! The attack suite, in process: requests an attacker (or a careless client) would send to the
//! default scenario's API, through the whole pipeline in virtual time. It defends tenant
//! isolation on every route (object ids, list filters, tenant fields in bodies, a token for
//! another tenant's host), the server's ownership of its fields (no mass assignment), token
//! verification (alg confusion, kid tricks, expiry, issuer, audience, tampering, size),
//! header, body and path abuse, and the rate limit against evasion.
//!
//! Every case asserts its status and error code, that the body is the API's JSON error shape
//! with no internals in it (no SQL, no Rust Debug text, no source paths, no panic text), and
//! that no table changed. Cases are tables; a failure names every case that failed.

mod common;

use std::time::Duration;

use archsim::engine::{ApiRequest, Clock, EngineHandle, Exchange};
use archsim::scenario::{ColumnType, TokenKind};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use common::attack::{
    changes, claims_of, database, engine_on, error_shape_problems, forge, internals_in, part,
};

/// What a case must get back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The JSON error with this status and code.
    Error(u16, &'static str),
    /// A 200 read whose rows all belong to this tenant id (the attack was ignored).
    OwnRows(i64),
    /// A 200 list with no row of another tenant (perhaps none at all).
    NoForeignRows(i64),
}

struct Case {
    name: String,
    request: ApiRequest,
    expect: Expect,
}

fn case(name: impl Into<String>, request: ApiRequest, expect: Expect) -> Case {
    Case {
        name: name.into(),
        request,
        expect,
    }
}

fn engine() -> EngineHandle {
    engine_on(Clock::Virtual)
}

/// A request to `tenant`'s host carrying `authorization` (if any).
fn to_host(
    engine: &EngineHandle,
    tenant: &str,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> ApiRequest {
    let request = ApiRequest::new(method, path, &engine.scenario().host_of(tenant));
    match authorization {
        Some(value) => request.header("authorization", value),
        None => request,
    }
}

/// A request from `persona` to its own tenant's host with a token minted as it is sent.
fn as_persona(engine: &EngineHandle, persona: &str, method: &str, path: &str) -> ApiRequest {
    ApiRequest::as_persona(engine.scenario(), persona, method, path).expect("the persona exists")
}

async fn token(engine: &EngineHandle, persona: &str) -> String {
    engine
        .token(persona, TokenKind::Valid, None)
        .await
        .expect("the engine answers")
        .expect("a valid token")
}

/// What is wrong with `exchange` for `expect` (empty: nothing).
fn problems(exchange: &Exchange, expect: Expect) -> Vec<String> {
    let mut problems = Vec::new();
    let leaked = internals_in(&exchange.body);
    if !leaked.is_empty() {
        problems.push(format!(
            "the body gives away internals {leaked:?}: {}",
            String::from_utf8_lossy(&exchange.body)
        ));
    }
    match expect {
        Expect::Error(status, code) => {
            if exchange.status != status {
                problems.push(format!(
                    "status {} not {status}: {}",
                    exchange.status,
                    String::from_utf8_lossy(&exchange.body[..exchange.body.len().min(300)])
                ));
            } else {
                problems.extend(error_shape_problems(status, code, &exchange.body));
            }
        }
        Expect::OwnRows(tenant) | Expect::NoForeignRows(tenant) => {
            if exchange.status != 200 {
                problems.push(format!(
                    "status {} not 200: {}",
                    exchange.status,
                    String::from_utf8_lossy(&exchange.body)
                ));
            }
            let body = exchange.json().unwrap_or(Value::Null);
            let rows = match &body["data"] {
                Value::Array(rows) => rows.clone(),
                Value::Object(_) => vec![body["data"].clone()],
                _ => Vec::new(),
            };
            if rows.is_empty() && matches!(expect, Expect::OwnRows(_)) {
                problems.push(format!("no rows came back: {body}"));
            }
            if let Some(foreign) = rows.iter().find(|r| r["tenant_id"] != tenant) {
                problems.push(format!("another tenant's row came back: {foreign}"));
            }
        }
    }
    problems
}

/// Runs each case on `engine` (a fresh quota each: two engine seconds apart), checking its
/// answer and that no table changed; panics naming every case that failed.
async fn run(engine: &EngineHandle, cases: Vec<Case>) {
    let total = cases.len();
    let mut failures = Vec::new();
    for case in cases {
        engine
            .advance(Duration::from_secs(2))
            .await
            .expect("time advances");
        let before = database(engine).await;
        let mut found = match engine.send(case.request).await {
            Ok(exchange) => problems(&exchange, case.expect),
            Err(error) => vec![format!("the engine refused to send it: {error}")],
        };
        found.extend(changes(&before, &database(engine).await));
        if !found.is_empty() {
            failures.push(format!("  {}:\n    {}", case.name, found.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} attack cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The routes that need a caller, with a body for the writes, as the owner of the path's rows
/// would send them.
fn private_routes() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("GET", "/api/v1/projects", None),
        ("GET", "/api/v1/projects/1", None),
        (
            "POST",
            "/api/v1/projects",
            Some(json!({ "name": "Hijack" })),
        ),
        (
            "PATCH",
            "/api/v1/projects/1",
            Some(json!({ "name": "Hijacked" })),
        ),
        ("DELETE", "/api/v1/projects/1", None),
        ("GET", "/api/v1/invoices", None),
        ("GET", "/api/v1/invoices/2", None),
        ("GET", "/api/v1/payments", None),
        (
            "POST",
            "/api/v1/payments",
            Some(json!({ "invoice_id": 2, "amount_cents": 100 })),
        ),
        ("GET", "/api/v1/users", None),
        ("GET", "/api/v1/api_keys", None),
        ("GET", "/api/v1/audit_log", None),
    ]
}

fn with_body(request: ApiRequest, body: &Option<Value>) -> ApiRequest {
    match body {
        Some(body) => request.json(body),
        None => request,
    }
}

#[tokio::test]
async fn no_tenant_reaches_another_tenants_rows() {
    let engine = engine();
    let carol = token(&engine, "carol").await;
    let bearer = format!("Bearer {carol}");
    let mut cases = Vec::new();
    // Host/token mismatch: Carol's valid Globex token sent to Acme's host, on every route.
    for (method, path, body) in private_routes() {
        let request = with_body(to_host(&engine, "acme", method, path, Some(&bearer)), &body);
        cases.push(case(
            format!("globex token on acme host: {method} {path}"),
            request,
            Expect::Error(403, "tenant_mismatch"),
        ));
    }
    // By object id: on her own host, Acme's ids are simply not found.
    for (method, path, body) in [
        ("GET", "/api/v1/projects/1", None),
        (
            "PATCH",
            "/api/v1/projects/1",
            Some(json!({ "name": "Mine now" })),
        ),
        (
            "PATCH",
            "/api/v1/projects/2",
            Some(json!({ "status": "archived" })),
        ),
        ("DELETE", "/api/v1/projects/1", None),
        ("GET", "/api/v1/invoices/1", None),
        ("GET", "/api/v1/invoices/6", None),
    ] {
        let request = with_body(as_persona(&engine, "carol", method, path), &body);
        cases.push(case(
            format!("acme id on globex host: {method} {path}"),
            request,
            Expect::Error(404, "not_found"),
        ));
    }
    // By a reference in the body: paying another tenant's invoice.
    for invoice in [2, 6] {
        let request = as_persona(&engine, "carol", "POST", "/api/v1/payments")
            .json(&json!({ "invoice_id": invoice, "amount_cents": 100 }));
        cases.push(case(
            format!("carol pays foreign invoice {invoice}"),
            request,
            Expect::Error(422, "validation_failed"),
        ));
    }
    // By a tenant field in the body.
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/projects",
            json!({ "name": "Plant", "tenant_id": 1 }),
        ),
        ("PATCH", "/api/v1/projects/4", json!({ "tenant_id": 1 })),
        (
            "POST",
            "/api/v1/payments",
            json!({ "invoice_id": 8, "amount_cents": 100, "tenant_id": 1 }),
        ),
    ] {
        let request = as_persona(&engine, "carol", method, path).json(&body);
        cases.push(case(
            format!("tenant_id in the body: {method} {path}"),
            request,
            Expect::Error(422, "server_owned_field"),
        ));
    }
    let request = to_host(&engine, "acme", "POST", "/api/v1/auth/token", None).json(&json!({
        "email": "carol@globex.test", "password": "carol-singer", "tenant": "acme"
    }));
    cases.push(case(
        "login with a tenant field in the body",
        request,
        Expect::Error(422, "validation_failed"),
    ));
    // A Globex user's right password on Acme's host issues no token.
    let request = to_host(&engine, "acme", "POST", "/api/v1/auth/token", None)
        .json(&json!({ "email": "carol@globex.test", "password": "carol-singer" }));
    cases.push(case(
        "globex credentials on acme host",
        request,
        Expect::Error(401, "invalid_credentials"),
    ));
    // By list filter or query parameter: ignored, the tenant comes from the host and token.
    for path in [
        "/api/v1/projects?tenant_id=1",
        "/api/v1/projects?tenant=acme",
        "/api/v1/projects?filter[tenant_id]=1",
        "/api/v1/projects/4?tenant_id=1",
        "/api/v1/invoices?tenant_id=1&tenant_id=3",
        "/api/v1/users?tenant_id=1",
        "/api/v1/api_keys?tenant_id=1",
        "/api/v1/audit_log?tenant_id=1",
    ] {
        cases.push(case(
            format!("list filter: GET {path}"),
            as_persona(&engine, "carol", "GET", path),
            Expect::OwnRows(2),
        ));
    }
    cases.push(case(
        "list filter: GET /api/v1/payments?tenant_id=1",
        as_persona(&engine, "carol", "GET", "/api/v1/payments?tenant_id=1"),
        Expect::NoForeignRows(2),
    ));
    // Tenant hints in headers are ignored too.
    for (name, value) in [
        ("x-tenant-id", "1"),
        ("x-forwarded-host", "acme.archsim.test"),
        ("x-original-host", "acme.archsim.test"),
        ("forwarded", "host=acme.archsim.test"),
    ] {
        let request = as_persona(&engine, "carol", "GET", "/api/v1/projects").header(name, value);
        cases.push(case(
            format!("tenant header {name}"),
            request,
            Expect::OwnRows(2),
        ));
    }
    // A second Host naming the other tenant.
    let request =
        as_persona(&engine, "carol", "GET", "/api/v1/projects").header("host", "acme.archsim.test");
    cases.push(case(
        "duplicate Host for another tenant",
        request,
        Expect::Error(400, "duplicate_host"),
    ));
    run(&engine, cases).await;
}

/// A value of the column's type, as a client would send it.
fn sample(ty: ColumnType) -> Value {
    match ty {
        ColumnType::Integer => json!(1),
        ColumnType::Real => json!(1.5),
        ColumnType::Text => json!("completed"),
        ColumnType::Boolean => json!(true),
        ColumnType::Timestamp => json!("2020-01-01T00:00:00Z"),
    }
}

#[tokio::test]
async fn no_server_owned_field_can_be_assigned() {
    let engine = engine();
    let scenario = engine.scenario().clone();
    let mut cases = Vec::new();
    // Every create and update route, every column the server owns, read from the schema.
    for route in &scenario.routes {
        let (create, update) = match route.action {
            archsim::scenario::Action::Create => (true, false),
            archsim::scenario::Action::Update => (false, true),
            _ => continue,
        };
        let Some(table) = route.table.as_deref().and_then(|t| scenario.table(t)) else {
            continue;
        };
        let (path, base) = match table.name.as_str() {
            "projects" if create => ("/api/v1/projects".to_string(), json!({ "name": "Owned" })),
            "projects" => ("/api/v1/projects/1".to_string(), json!({ "name": "Owned" })),
            "payments" => (
                "/api/v1/payments".to_string(),
                json!({ "invoice_id": 7, "amount_cents": 100 }),
            ),
            other => panic!("a write route on `{other}`: add its base body"),
        };
        let owned: Vec<_> = table.server_owned_columns().collect();
        assert!(!owned.is_empty(), "{} has server-owned columns", table.name);
        for column in owned {
            let mut body = base.clone();
            body[column.name.as_str()] = sample(column.ty);
            let method = if update { "PATCH" } else { "POST" };
            cases.push(case(
                format!("{method} {path} sets {}.{}", table.name, column.name),
                as_persona(&engine, "alice", method, &path).json(&body),
                Expect::Error(422, "server_owned_field"),
            ));
        }
    }
    // A server-owned field hidden by a duplicate key, by case, or nested.
    for (name, raw) in [
        (
            "status twice, the second completed",
            r#"{"invoice_id": 7, "amount_cents": 100, "status": "pending", "status": "completed"}"#,
        ),
        (
            "STATUS in capitals",
            r#"{"invoice_id": 7, "amount_cents": 100, "STATUS": "completed"}"#,
        ),
        (
            "status nested in an object",
            r#"{"invoice_id": 7, "amount_cents": 100, "payment": {"status": "completed"}}"#,
        ),
    ] {
        let request = as_persona(&engine, "alice", "POST", "/api/v1/payments")
            .raw_body(raw.as_bytes().to_vec());
        let expect = if name.starts_with("status twice") {
            Expect::Error(400, "duplicate_key")
        } else {
            Expect::Error(422, "validation_failed")
        };
        cases.push(case(name, request, expect));
    }
    assert!(cases.len() >= 12, "{} cases", cases.len());
    run(&engine, cases).await;
}

#[tokio::test]
async fn only_a_token_this_service_signed_is_accepted() {
    let engine = engine();
    let scenario = engine.scenario().clone();
    let key = scenario.auth.signing_key.as_bytes().to_vec();
    let alice = token(&engine, "alice").await;
    let bob = token(&engine, "bob").await;
    let claims = claims_of(&alice);
    let hs256 = json!({ "alg": "HS256", "typ": "JWT" });
    let with = |changes: Value| {
        let mut changed = claims.clone();
        for (name, value) in changes.as_object().expect("an object") {
            if value.is_null() {
                changed.as_object_mut().expect("claims").remove(name);
            } else {
                changed[name.as_str()] = value.clone();
            }
        }
        changed
    };
    let now = claims["iat"].as_u64().expect("iat");
    let signed = |claims: &Value| forge(&hs256, claims, &key, Algorithm::HS256);
    let unsigned = |alg: &str| {
        format!(
            "{}.{}.",
            part(&json!({ "alg": alg, "typ": "JWT" })),
            part(&claims)
        )
    };
    let alice_signature = alice.rsplit('.').next().expect("a signature").to_string();
    let bob_signature = bob.rsplit('.').next().expect("a signature").to_string();
    let tampered = |payload: Value, signature: &str| {
        format!("{}.{}.{signature}", part(&hs256), part(&payload))
    };
    let bob_claims = claims_of(&bob);
    let mut bob_admin = bob_claims.clone();
    bob_admin["perm"] = json!(127);
    bob_admin["role"] = json!("admin");
    let mut alice_globex = claims.clone();
    alice_globex["tid"] = json!("globex");
    let kid = |kid: Value, key: &[u8]| {
        forge(
            &json!({ "alg": "HS256", "typ": "JWT", "kid": kid }),
            &claims,
            key,
            Algorithm::HS256,
        )
    };
    let table: Vec<(&str, String, u16, &str)> = vec![
        ("alg none", unsigned("none"), 401, "unsupported_algorithm"),
        ("alg None", unsigned("None"), 401, "unsupported_algorithm"),
        ("alg nOnE", unsigned("nOnE"), 401, "unsupported_algorithm"),
        ("alg empty", unsigned(""), 401, "unsupported_algorithm"),
        (
            "alg none with alice's signature kept",
            format!(
                "{}.{}.{alice_signature}",
                part(&json!({ "alg": "none" })),
                part(&claims)
            ),
            401,
            "unsupported_algorithm",
        ),
        (
            "HS512 under the right key",
            forge(
                &json!({ "alg": "HS512", "typ": "JWT" }),
                &claims,
                &key,
                Algorithm::HS512,
            ),
            401,
            "unsupported_algorithm",
        ),
        (
            "HS384 under the right key",
            forge(
                &json!({ "alg": "HS384", "typ": "JWT" }),
                &claims,
                &key,
                Algorithm::HS384,
            ),
            401,
            "unsupported_algorithm",
        ),
        (
            "RS256 header, HMAC signature (key confusion)",
            forge(
                &json!({ "alg": "RS256", "typ": "JWT" }),
                &claims,
                &key,
                Algorithm::HS256,
            ),
            401,
            "unsupported_algorithm",
        ),
        (
            "alg as a number",
            forge(
                &json!({ "alg": 256, "typ": "JWT" }),
                &claims,
                &key,
                Algorithm::HS256,
            ),
            401,
            "unsupported_algorithm",
        ),
        ("kid a number", kid(json!(123), &key), 401, "invalid_token"),
        (
            "kid an object",
            kid(json!({ "path": "/" }), &key),
            401,
            "invalid_token",
        ),
        (
            "kid a path to an empty file, signed with the empty key",
            kid(json!("../../../../../../dev/null"), b""),
            401,
            "invalid_signature",
        ),
        (
            "kid unknown, signed with a key of the attacker's",
            kid(json!("attacker-key-1"), b"attacker-chosen-secret"),
            401,
            "invalid_signature",
        ),
        (
            "kid with SQL, signed with the key it selects",
            kid(json!("x' UNION SELECT 'k"), b"k"),
            401,
            "invalid_signature",
        ),
        (
            "exp in the past",
            signed(&with(
                json!({ "exp": now - 3600, "iat": now - 4500, "nbf": now - 4500 }),
            )),
            401,
            "token_expired",
        ),
        (
            "nbf in the future",
            signed(&with(json!({ "nbf": now + 3600, "exp": now + 7200 }))),
            401,
            "token_not_yet_valid",
        ),
        (
            "wrong issuer",
            signed(&with(json!({ "iss": "https://evil.test" }))),
            401,
            "invalid_issuer",
        ),
        (
            "wrong audience",
            signed(&with(json!({ "aud": "another-api" }))),
            401,
            "invalid_audience",
        ),
        (
            "exp a string",
            signed(&with(json!({ "exp": "never" }))),
            401,
            "invalid_token",
        ),
        (
            "no tid claim",
            signed(&with(json!({ "tid": null }))),
            401,
            "invalid_token",
        ),
        (
            "no exp claim",
            signed(&with(json!({ "exp": null }))),
            401,
            "invalid_token",
        ),
        (
            "bob's payload raised to admin, bob's signature",
            tampered(bob_admin, &bob_signature),
            401,
            "invalid_signature",
        ),
        (
            "alice's payload moved to globex, alice's signature",
            tampered(alice_globex, &alice_signature),
            401,
            "invalid_signature",
        ),
        (
            "alice's payload with bob's signature",
            tampered(claims.clone(), &bob_signature),
            401,
            "invalid_signature",
        ),
        (
            "signature stripped",
            format!("{}.{}.", part(&hs256), part(&claims)),
            401,
            "invalid_signature",
        ),
        (
            "two parts",
            format!("{}.{}", part(&hs256), part(&claims)),
            401,
            "invalid_token",
        ),
        (
            "four parts",
            format!("{alice}.{alice_signature}"),
            401,
            "invalid_token",
        ),
        (
            "not base64",
            "%%%.%%%.%%%".to_string(),
            401,
            "invalid_token",
        ),
        (
            "header not JSON",
            format!("{}.{}.x", part(&json!("text")), part(&claims)),
            401,
            "unsupported_algorithm",
        ),
        ("empty", String::new(), 401, "invalid_token"),
        (
            "a 40 KB token",
            format!("{}.{}.x", part(&hs256), "A".repeat(40_000)),
            401,
            "invalid_token",
        ),
        (
            "a 100 KB token",
            format!("{}.{}.x", part(&hs256), "A".repeat(100_000)),
            431,
            "headers_too_large",
        ),
    ];
    let mut cases: Vec<Case> = table
        .into_iter()
        .map(|(name, token, status, code)| {
            let request = to_host(
                &engine,
                "acme",
                "GET",
                "/api/v1/projects",
                Some(&format!("Bearer {token}")),
            );
            case(
                format!("token: {name}"),
                request,
                Expect::Error(status, code),
            )
        })
        .collect();
    // The Authorization header itself.
    for (name, value, status, code) in [
        ("`Bearer` with nothing", "Bearer", 401, "invalid_token"),
        ("`Bearer ` and a space", "Bearer ", 401, "invalid_token"),
        (
            "Basic credentials",
            "Basic YWxpY2U6YWxpY2Utd29uZGVybGFuZA==",
            401,
            "invalid_token",
        ),
        (
            "a token without a scheme",
            alice.as_str(),
            401,
            "invalid_token",
        ),
    ] {
        let request = to_host(&engine, "acme", "GET", "/api/v1/projects", Some(value));
        cases.push(case(
            format!("authorization: {name}"),
            request,
            Expect::Error(status, code),
        ));
    }
    let missing = to_host(&engine, "acme", "GET", "/api/v1/projects", None);
    cases.push(case(
        "no Authorization",
        missing,
        Expect::Error(401, "missing_token"),
    ));
    // Two Authorization headers: a proxy may check one and the app read the other.
    for (name, first, second) in [
        (
            "valid then forged",
            format!("Bearer {alice}"),
            "Bearer forged.token.here".to_string(),
        ),
        (
            "forged then valid",
            "Bearer forged.token.here".to_string(),
            format!("Bearer {alice}"),
        ),
    ] {
        let request = to_host(&engine, "acme", "GET", "/api/v1/projects", Some(&first))
            .header("authorization", &second);
        cases.push(case(
            format!("two Authorization headers, {name}"),
            request,
            Expect::Error(400, "duplicate_header"),
        ));
    }
    run(&engine, cases).await;
}

#[tokio::test]
async fn abusive_headers_are_refused_at_the_edge() {
    let engine = engine();
    let list = |engine: &EngineHandle| as_persona(engine, "alice", "GET", "/api/v1/projects");
    let mut many = list(&engine);
    for i in 0..1000 {
        many = many.header(&format!("x-filler-{i}"), &"f".repeat(60));
    }
    let mut cases = vec![
        case(
            "a 100 KB header",
            list(&engine).header("x-padding", &"p".repeat(100_000)),
            Expect::Error(431, "headers_too_large"),
        ),
        case(
            "1000 headers of 70 bytes",
            many,
            Expect::Error(431, "headers_too_large"),
        ),
        case(
            "an unknown tenant's host",
            to_host(&engine, "umbrella", "GET", "/api/v1/health", None),
            Expect::Error(404, "unknown_tenant"),
        ),
        case(
            "a host outside the domain",
            ApiRequest::new("GET", "/api/v1/health", "acme.archsim.test.evil.example"),
            Expect::Error(404, "unknown_tenant"),
        ),
        case(
            "a host two labels deep",
            ApiRequest::new("GET", "/api/v1/health", "x.acme.archsim.test"),
            Expect::Error(404, "unknown_tenant"),
        ),
        case(
            "an empty Host",
            ApiRequest::new("GET", "/api/v1/health", ""),
            Expect::Error(404, "unknown_tenant"),
        ),
        case(
            "two Hosts, the same tenant",
            to_host(&engine, "acme", "GET", "/api/v1/health", None)
                .header("host", "acme.archsim.test"),
            Expect::Error(400, "duplicate_host"),
        ),
        case(
            "a Content-Length larger than the body limit",
            as_persona(&engine, "alice", "POST", "/api/v1/projects")
                .raw_body(b"{\"name\":\"x\"}".to_vec())
                .header("content-length", "99999999"),
            Expect::Error(413, "payload_too_large"),
        ),
    ];
    // Host spellings of the same tenant count against the same quota and see the same rows.
    for host in [
        "ACME.ARCHSIM.TEST",
        "acme.archsim.test.",
        "acme.archsim.test:8443",
    ] {
        let mut request = list(&engine);
        request.host = host.to_string();
        cases.push(case(
            format!("host spelled {host}"),
            request,
            Expect::OwnRows(1),
        ));
    }
    run(&engine, cases).await;
}

#[tokio::test]
async fn abusive_bodies_are_refused_before_anything_is_written() {
    let engine = engine();
    let post = |engine: &EngineHandle, path: &str, body: Vec<u8>| {
        as_persona(engine, "alice", "POST", path).raw_body(body)
    };
    let projects = "/api/v1/projects";
    let payments = "/api/v1/payments";
    let nested = |depth: usize| {
        let mut text = "[".repeat(depth);
        text.push_str(&"]".repeat(depth));
        text.into_bytes()
    };
    let mut invalid_utf8 = b"{\"name\": \"bad ".to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    invalid_utf8.extend_from_slice(b"\"}");
    let mut raw_nul = b"{\"name\": \"a".to_vec();
    raw_nul.push(0);
    raw_nul.extend_from_slice(b"b\"}");
    let mut wrong_type = as_persona(&engine, "alice", "POST", projects);
    wrong_type
        .headers
        .push(("content-type".into(), "text/plain".into()));
    wrong_type.body = Some(br#"{"name": "Plain text"}"#.to_vec().into());
    let mut form = as_persona(&engine, "alice", "POST", projects);
    form.headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    form.body = Some(b"name=Form+post".to_vec().into());
    let cases = vec![
        case(
            "8k nested arrays",
            post(&engine, projects, nested(8_000)),
            Expect::Error(400, "malformed_json"),
        ),
        case(
            "100 nested arrays in a field",
            post(&engine, projects, {
                let mut body = b"{\"name\": ".to_vec();
                body.extend(nested(100));
                body.push(b'}');
                body
            }),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "2500 nested objects",
            post(&engine, projects, {
                let mut text = "{\"a\":".repeat(2_500);
                text.push('1');
                text.push_str(&"}".repeat(2_500));
                text.into_bytes()
            }),
            Expect::Error(400, "malformed_json"),
        ),
        case(
            "a body over the limit (20 KB)",
            post(
                &engine,
                projects,
                format!("{{\"name\": \"{}\"}}", "n".repeat(20_000)).into_bytes(),
            ),
            Expect::Error(413, "payload_too_large"),
        ),
        case(
            "a 1 MB string",
            post(
                &engine,
                projects,
                format!("{{\"name\": \"{}\"}}", "n".repeat(1 << 20)).into_bytes(),
            ),
            Expect::Error(413, "payload_too_large"),
        ),
        case(
            "a 5000-character name (under the body limit)",
            post(
                &engine,
                projects,
                format!("{{\"name\": \"{}\"}}", "n".repeat(5000)).into_bytes(),
            ),
            Expect::Error(400, "invalid_input"),
        ),
        case(
            "invalid UTF-8",
            post(&engine, projects, invalid_utf8),
            Expect::Error(400, "malformed_json"),
        ),
        case(
            "a raw NUL byte in a string",
            post(&engine, projects, raw_nul),
            Expect::Error(400, "malformed_json"),
        ),
        case(
            "an escaped NUL in a string",
            post(&engine, projects, br#"{"name": "a\u0000b"}"#.to_vec()),
            Expect::Error(400, "invalid_input"),
        ),
        case(
            "an escape sequence in a field name",
            post(
                &engine,
                projects,
                br#"{"name": "ok", "\u001b[31m": 1}"#.to_vec(),
            ),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "duplicate keys",
            post(
                &engine,
                projects,
                br#"{"name": "First", "name": "Second"}"#.to_vec(),
            ),
            Expect::Error(400, "duplicate_key"),
        ),
        case(
            "wrong content type (text/plain)",
            wrong_type,
            Expect::Error(415, "unsupported_media_type"),
        ),
        case(
            "a form post",
            form,
            Expect::Error(415, "unsupported_media_type"),
        ),
        case(
            "an empty body",
            post(&engine, projects, Vec::new()),
            Expect::Error(400, "malformed_json"),
        ),
        case(
            "a JSON array",
            post(&engine, projects, b"[{\"name\": \"x\"}]".to_vec()),
            Expect::Error(400, "malformed_json"),
        ),
        case(
            "JSON null",
            post(&engine, projects, b"null".to_vec()),
            Expect::Error(400, "malformed_json"),
        ),
        case(
            "a whitespace name",
            post(&engine, projects, br#"{"name": "   "}"#.to_vec()),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "amount past i64",
            post(
                &engine,
                payments,
                br#"{"invoice_id": 7, "amount_cents": 9223372036854775808}"#.to_vec(),
            ),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "amount past u64",
            post(
                &engine,
                payments,
                br#"{"invoice_id": 7, "amount_cents": 18446744073709551616}"#.to_vec(),
            ),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "amount 1e400",
            post(
                &engine,
                payments,
                br#"{"invoice_id": 7, "amount_cents": 1e400}"#.to_vec(),
            ),
            Expect::Error(400, "malformed_json"),
        ),
        case(
            "amount negative",
            post(
                &engine,
                payments,
                br#"{"invoice_id": 7, "amount_cents": -100}"#.to_vec(),
            ),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "amount a fraction",
            post(
                &engine,
                payments,
                br#"{"invoice_id": 7, "amount_cents": 0.5}"#.to_vec(),
            ),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "amount as a string",
            post(
                &engine,
                payments,
                br#"{"invoice_id": 7, "amount_cents": "100"}"#.to_vec(),
            ),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "invoice id past i64",
            post(
                &engine,
                payments,
                br#"{"invoice_id": 9223372036854775808, "amount_cents": 1}"#.to_vec(),
            ),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "invoice id negative",
            post(
                &engine,
                payments,
                br#"{"invoice_id": -7, "amount_cents": 1}"#.to_vec(),
            ),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "more than the invoice owes",
            post(
                &engine,
                payments,
                br#"{"invoice_id": 3, "amount_cents": 9000000000}"#.to_vec(),
            ),
            Expect::Error(422, "limit_exceeded"),
        ),
        case(
            "SQL in a field name",
            post(
                &engine,
                projects,
                br#"{"name": "x", "name\" = 'y'; --": 1}"#.to_vec(),
            ),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "a duplicate project name",
            post(
                &engine,
                projects,
                br#"{"name": "Website relaunch"}"#.to_vec(),
            ),
            Expect::Error(409, "conflict"),
        ),
    ];
    run(&engine, cases).await;
}

#[tokio::test]
async fn path_tricks_name_no_other_row_and_no_other_route() {
    let engine = engine();
    let get = |engine: &EngineHandle, path: &str| as_persona(engine, "alice", "GET", path);
    let mut cases = Vec::new();
    for path in [
        "/api/v1/projects/+1",
        "/api/v1/projects/01",
        "/api/v1/projects/-1",
        "/api/v1/projects/0",
        "/api/v1/projects/1.0",
        "/api/v1/projects/1e0",
        "/api/v1/projects/0x1",
        "/api/v1/projects/9223372036854775808",
        "/api/v1/projects/99999999999999999999999",
        "/api/v1/projects/%31",
        "/api/v1/projects/%2e%2e",
        "/api/v1/projects/..",
        "/api/v1/projects/1%2F..%2F4",
        "/api/v1/projects/..%2Fusers",
        "/api/v1/projects/%D9%A1",
        "/api/v1/projects/%EF%BC%91",
        "/api/v1/projects/4",
        "/api/v1/projects/1%20",
    ] {
        cases.push(case(
            format!("GET {path}"),
            get(&engine, path),
            Expect::Error(404, "not_found"),
        ));
    }
    for path in [
        "/api/v1/projects/../users",
        "/api/v1/projects/%2e%2e/users",
        "//api/v1/projects",
        "/api/v1//projects",
        "/api/v1/projects%2F1",
        "/api/v1/projects/",
        "/api/v1/projects/1/",
        "/API/V1/PROJECTS",
        "/api/v2/projects",
        "/api/v1/projects;tenant_id=2",
        "/api/v1/projects/1/../../users",
    ] {
        cases.push(case(
            format!("GET {path}"),
            get(&engine, path),
            Expect::Error(404, "no_route"),
        ));
    }
    cases.push(case(
        "a 10 KB path",
        get(&engine, &format!("/api/v1/projects/{}", "1".repeat(10_000))),
        Expect::Error(414, "uri_too_long"),
    ));
    cases.push(case(
        "an encoded NUL in the path",
        get(&engine, "/api/v1/projects/1%00"),
        Expect::Error(400, "invalid_characters"),
    ));
    cases.push(case(
        "an encoded escape in the query",
        get(&engine, "/api/v1/projects?q=%1b[2J"),
        Expect::Error(400, "invalid_characters"),
    ));
    // Writes through tricky paths change nothing.
    for (method, path) in [
        ("DELETE", "/api/v1/projects/%2e%2e"),
        ("DELETE", "/api/v1/projects/+4"),
        ("DELETE", "/api/v1/projects/4"),
        ("PATCH", "/api/v1/projects/-1"),
    ] {
        let request =
            as_persona(&engine, "alice", method, path).json(&json!({ "name": "Renamed" }));
        let request = if method == "DELETE" {
            ApiRequest {
                body: None,
                headers: Vec::new(),
                ..request
            }
        } else {
            request
        };
        cases.push(case(
            format!("{method} {path}"),
            request,
            Expect::Error(404, "not_found"),
        ));
    }
    cases.push(case(
        "the query names another id",
        get(&engine, "/api/v1/projects/1?id=4"),
        Expect::OwnRows(1),
    ));
    run(&engine, cases).await;
}

/// How many of `requests`, sent at once, got through (200), after checking that every other
/// answer is a clean 429 `rate_limited`; `name` labels the failures.
async fn passed_at_once(
    engine: &EngineHandle,
    name: &str,
    requests: Vec<ApiRequest>,
    failures: &mut Vec<String>,
) -> usize {
    let mut passed = 0;
    let exchanges = engine.send_all(requests).await.expect("the engine answers");
    for exchange in &exchanges {
        if exchange.status == 200 {
            passed += 1;
            continue;
        }
        let found = problems(exchange, Expect::Error(429, "rate_limited"));
        if !found.is_empty() {
            failures.push(format!("  {name}:\n    {}", found.join("\n    ")));
            break;
        }
    }
    passed
}

#[tokio::test]
async fn the_rate_limit_cannot_be_dodged_by_changing_headers() {
    let engine = engine();
    const SENT: usize = 45;
    let burst = engine.scenario().rate_limit.burst as usize;
    let list = |engine: &EngineHandle| as_persona(engine, "alice", "GET", "/api/v1/projects");
    type Variant = Box<dyn Fn(usize, ApiRequest) -> ApiRequest>;
    let ip = |i: usize| format!("203.0.113.{}", i % 250 + 1);
    let variants: Vec<(&str, Variant)> = vec![
        ("nothing changed (the baseline)", Box::new(|_, r| r)),
        (
            "X-Forwarded-For rotated",
            Box::new(move |i, r| r.header("x-forwarded-for", &ip(i))),
        ),
        (
            "X-Real-IP rotated",
            Box::new(move |i, r| r.header("x-real-ip", &ip(i))),
        ),
        (
            "True-Client-IP and CF-Connecting-IP rotated",
            Box::new(move |i, r| {
                r.header("true-client-ip", &ip(i))
                    .header("cf-connecting-ip", &ip(i))
            }),
        ),
        (
            "the client address itself rotated",
            Box::new(move |i, r| r.from_ip(ip(i).parse().expect("an address"))),
        ),
        (
            "the Host's case, trailing dot and port rotated",
            Box::new(|i, mut r| {
                r.host = [
                    "ACME.archsim.test",
                    "Acme.Archsim.Test.",
                    "acme.archsim.test:8080",
                ][i % 3]
                    .to_string();
                r
            }),
        ),
        (
            "User-Agent and a cache-busting query rotated",
            Box::new(|i, mut r| {
                r.path = format!("{}?nocache={i}", r.path);
                r.header("user-agent", &format!("bot/{i}"))
            }),
        ),
        (
            "a list and a get by id alternated",
            Box::new(|i, mut r| {
                if i % 2 == 1 {
                    r.path = "/api/v1/projects/1".into();
                }
                r
            }),
        ),
    ];
    let mut failures = Vec::new();
    let before = database(&engine).await;
    let mut baseline = None;
    for (name, variant) in &variants {
        // A full bucket for each variant.
        engine
            .advance(Duration::from_secs(5))
            .await
            .expect("time advances");
        let requests = (0..SENT).map(|i| variant(i, list(&engine))).collect();
        let passed = passed_at_once(&engine, name, requests, &mut failures).await;
        let limit = *baseline.get_or_insert(passed);
        if passed > limit || passed > burst + 2 {
            failures.push(format!(
                "  {name}: {passed} of {SENT} got through (baseline {limit}, burst {burst})"
            ));
        }
    }
    // An anonymous caller is counted by its address, which headers do not change.
    engine
        .advance(Duration::from_secs(5))
        .await
        .expect("time advances");
    let anonymous = (0..SENT)
        .map(|i| {
            to_host(&engine, "acme", "GET", "/api/v1/health", None)
                .header("x-forwarded-for", &ip(i))
                .header("forwarded", &format!("for={}", ip(i)))
        })
        .collect();
    let name = "anonymous, X-Forwarded-For and Forwarded rotated";
    let passed = passed_at_once(&engine, name, anonymous, &mut failures).await;
    if passed > burst + 2 {
        failures.push(format!(
            "  {name}: {passed} of {SENT} got through (burst {burst})"
        ));
    }
    failures.extend(changes(&before, &database(&engine).await));
    assert!(
        failures.is_empty(),
        "the rate limit was dodged:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn no_cached_or_kept_answer_crosses_to_another_caller() {
    let engine = engine();
    // Acme's answers are in the cache, and Carol's create is kept for its idempotency key.
    for path in [
        "/api/v1/projects",
        "/api/v1/projects/1",
        "/api/v1/invoices/1",
    ] {
        let warm = engine
            .send(as_persona(&engine, "alice", "GET", path))
            .await
            .expect("the engine answers");
        assert_eq!(warm.status, 200, "alice reads {path}");
    }
    let alice_pays = as_persona(&engine, "alice", "POST", "/api/v1/payments")
        .header("idempotency-key", "shared-key-1")
        .json(&json!({ "invoice_id": 7, "amount_cents": 100 }));
    let paid = engine.send(alice_pays).await.expect("the engine answers");
    assert_eq!(paid.status, 201, "alice pays with a key");
    let carol_creates = as_persona(&engine, "carol", "POST", "/api/v1/projects")
        .header("idempotency-key", "shared-key-2")
        .json(&json!({ "name": "Kept" }));
    let created = engine
        .send(carol_creates)
        .await
        .expect("the engine answers");
    assert_eq!(created.status, 201, "carol creates with a key");
    let cases = vec![
        case(
            "carol's list after alice's was cached",
            as_persona(&engine, "carol", "GET", "/api/v1/projects"),
            Expect::OwnRows(2),
        ),
        case(
            "carol's get of an id alice's read cached",
            as_persona(&engine, "carol", "GET", "/api/v1/projects/1"),
            Expect::Error(404, "not_found"),
        ),
        case(
            "carol's get of an invoice alice's read cached",
            as_persona(&engine, "carol", "GET", "/api/v1/invoices/1"),
            Expect::Error(404, "not_found"),
        ),
        case(
            "carol replays alice's idempotency key and body",
            as_persona(&engine, "carol", "POST", "/api/v1/payments")
                .header("idempotency-key", "shared-key-1")
                .json(&json!({ "invoice_id": 7, "amount_cents": 100 })),
            Expect::Error(422, "validation_failed"),
        ),
        case(
            "mallory replays carol's idempotency key and body",
            as_persona(&engine, "mallory", "POST", "/api/v1/projects")
                .header("idempotency-key", "shared-key-2")
                .json(&json!({ "name": "Kept" })),
            Expect::Error(422, "idempotency_key_reused"),
        ),
        case(
            "an idempotency key sent twice",
            as_persona(&engine, "carol", "POST", "/api/v1/projects")
                .header("idempotency-key", "a")
                .header("idempotency-key", "b")
                .json(&json!({ "name": "Twice" })),
            Expect::Error(400, "invalid_idempotency_key"),
        ),
        case(
            "an idempotency key with a control character",
            as_persona(&engine, "carol", "POST", "/api/v1/projects")
                .header("idempotency-key", "a\tb")
                .json(&json!({ "name": "Tab" })),
            Expect::Error(400, "invalid_idempotency_key"),
        ),
    ];
    run(&engine, cases).await;
}

#[tokio::test]
async fn no_role_or_method_trick_does_more_than_the_role_allows() {
    let engine = engine();
    let forbidden = Expect::Error(403, "forbidden");
    let mut cases = vec![
        case(
            "bob (viewer) deletes a project",
            as_persona(&engine, "bob", "DELETE", "/api/v1/projects/1"),
            forbidden,
        ),
        case(
            "bob (viewer) renames a project",
            as_persona(&engine, "bob", "PATCH", "/api/v1/projects/1")
                .json(&json!({ "name": "Bob's now" })),
            forbidden,
        ),
        case(
            "bob (viewer) pays an invoice",
            as_persona(&engine, "bob", "POST", "/api/v1/payments")
                .json(&json!({ "invoice_id": 2, "amount_cents": 100 })),
            forbidden,
        ),
        case(
            "mallory (member) lists users",
            as_persona(&engine, "mallory", "GET", "/api/v1/users"),
            forbidden,
        ),
        case(
            "mallory (member) lists API keys",
            as_persona(&engine, "mallory", "GET", "/api/v1/api_keys"),
            forbidden,
        ),
        case(
            "mallory (member) reads the audit log",
            as_persona(&engine, "mallory", "GET", "/api/v1/audit_log"),
            forbidden,
        ),
        case(
            "bob asks for a DELETE through X-HTTP-Method-Override",
            as_persona(&engine, "bob", "GET", "/api/v1/projects/1")
                .header("x-http-method-override", "DELETE")
                .header("x-method-override", "DELETE"),
            Expect::OwnRows(1),
        ),
        case(
            "bob asks for a POST through a _method query",
            as_persona(
                &engine,
                "bob",
                "GET",
                "/api/v1/projects?_method=POST&name=x",
            ),
            Expect::OwnRows(1),
        ),
    ];
    for (method, path) in [
        ("PUT", "/api/v1/projects/1"),
        ("OPTIONS", "/api/v1/projects"),
        ("TRACE", "/api/v1/projects"),
        ("DELETE", "/api/v1/invoices/2"),
        ("PATCH", "/api/v1/payments"),
        ("DELETE", "/api/v1/users"),
    ] {
        cases.push(case(
            format!("{method} {path}"),
            as_persona(&engine, "alice", method, path),
            Expect::Error(405, "method_not_allowed"),
        ));
    }
    run(&engine, cases).await;
}
