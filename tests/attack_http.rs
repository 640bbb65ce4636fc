//! The attack suite over real HTTP: raw HTTP/1.1 bytes written to `serve` on a loopback port,
//! for what only the wire can carry — bare CR, NUL and folded header lines, a missing or
//! doubled Host, conflicting Content-Length and Transfer-Encoding (request smuggling must not
//! turn one request into two), oversized request lines and headers, chunked bodies — and the
//! token, body, path and rate-limit attacks as a real client sends them.
//!
//! Every case asserts its status, exactly one response (never a smuggled second), a body in the
//! API's JSON error shape with no internals in the body or headers, and that no table changed.
//! Requests the HTTP parser (hyper) would refuse with an empty body are refused first by the
//! connection (`engine::serve::head`), in the same JSON shape: those cases hold it to that.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use archsim::engine::{Clock, EngineHandle, ServeLimits, serve_with};
use archsim::scenario::TokenKind;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use common::attack::{
    Wire, changes, claims_of, database, engine_on, error_shape_problems, exchange, forge,
    internals_in, part,
};

/// What a case must get back.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// The API's JSON error with this status and code.
    Error(u16, &'static str),
    /// A 200 whose rows all belong to this tenant id (the trick was ignored).
    OwnRows(i64),
}

struct Case {
    name: String,
    request: Vec<u8>,
    answer: Answer,
}

fn case(name: impl Into<String>, request: impl Into<Vec<u8>>, answer: Answer) -> Case {
    Case {
        name: name.into(),
        request: request.into(),
        answer,
    }
}

const ACME: &str = "acme.archsim.test";

/// A request with `head` lines (each without CRLF) and `body`, closing the connection after it.
fn http(request_line: &str, head: &[String], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{request_line}\r\n").into_bytes();
    for line in head {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// A running `serve` on a loopback port, and the engine behind it.
struct Server {
    engine: EngineHandle,
    address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    fn start() -> Self {
        let engine = engine_on(Clock::Wall);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let address = listener.local_addr().expect("an address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = engine.clone();
        let limits = ServeLimits {
            max_connections: 64,
            idle: Duration::from_secs(2),
            ..ServeLimits::default()
        };
        let task = tokio::spawn(async move {
            serve_with(&served, listener, limits, async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            engine,
            address,
            stop,
            task,
        }
    }

    async fn token(&self, persona: &str) -> String {
        self.engine
            .token(persona, TokenKind::Valid, None)
            .await
            .expect("the engine answers")
            .expect("a valid token")
    }

    /// Runs `cases` against the server (off the async threads), panicking with every failure.
    async fn run(self, cases: Vec<Case>) {
        let (engine, address) = (self.engine.clone(), self.address);
        let total = cases.len();
        let failures = tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Handle::current();
            let mut failures = Vec::new();
            for case in cases {
                let before = runtime.block_on(database(&engine));
                // Read until the server closes the connection: a smuggled second request
                // would show as a second response (the server closes idle ones after 2 s).
                let responses = exchange(address, &case.request, Duration::from_secs(5));
                let mut found = check(&responses, case.answer);
                found.extend(changes(&before, &runtime.block_on(database(&engine))));
                if !found.is_empty() {
                    failures.push(format!("  {}:\n    {}", case.name, found.join("\n    ")));
                }
            }
            failures
        })
        .await
        .expect("the client ends");
        let _ = self.stop.send(());
        self.task
            .await
            .expect("the server task joins")
            .expect("served until stopped");
        assert!(
            failures.is_empty(),
            "{} of {total} attack cases over HTTP failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

fn check(responses: &[Wire], answer: Answer) -> Vec<String> {
    let mut problems = Vec::new();
    let [response] = responses else {
        let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        problems.push(format!(
            "{} responses, not one: statuses {statuses:?}",
            responses.len()
        ));
        return problems;
    };
    let leaked = internals_in(&response.body);
    if !leaked.is_empty() {
        problems.push(format!(
            "the body gives away {leaked:?}: {}",
            String::from_utf8_lossy(&response.body)
        ));
    }
    for (name, value) in &response.headers {
        let leaked = internals_in(value.as_bytes());
        if !leaked.is_empty() {
            problems.push(format!("header {name} gives away {leaked:?}: {value}"));
        }
    }
    let status_is = |problems: &mut Vec<String>, status: u16| {
        let ok = response.status == status;
        if !ok {
            problems.push(format!(
                "status {} not {status}: {}",
                response.status,
                String::from_utf8_lossy(&response.body[..response.body.len().min(300)])
            ));
        }
        ok
    };
    match answer {
        Answer::Error(status, code) => {
            if status_is(&mut problems, status) {
                problems.extend(error_shape_problems(status, code, &response.body));
            }
        }
        Answer::OwnRows(tenant) => {
            if status_is(&mut problems, 200) {
                let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
                let rows = body["data"].as_array().cloned().unwrap_or_default();
                if rows.is_empty() || rows.iter().any(|r| r["tenant_id"] != tenant) {
                    problems.push(format!("not only tenant {tenant}'s rows: {body}"));
                }
            }
        }
    }
    problems
}

fn host() -> String {
    format!("Host: {ACME}")
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

#[tokio::test]
async fn the_wire_carries_no_header_trick_past_the_parser_and_the_edge() {
    let server = Server::start();
    let alice = server.token("alice").await;
    let get = "GET /api/v1/projects HTTP/1.1";
    let health = "GET /api/v1/health HTTP/1.1";
    let cases = vec![
        case(
            "a bare CR inside a header value",
            http(health, &[host(), "X-Note: a\rb".into()], b""),
            Answer::Error(400, "malformed_request"),
        ),
        case(
            "a NUL inside a header value",
            http(health, &[host(), "X-Note: a\0b".into()], b""),
            Answer::Error(400, "malformed_request"),
        ),
        case(
            "a NUL inside the Host",
            http(health, &[format!("Host: {ACME}\0.globex")], b""),
            Answer::Error(400, "malformed_request"),
        ),
        case(
            "a folded header line (obs-fold)",
            http(health, &[host(), "X-Note: a".into(), " folded".into()], b""),
            Answer::Error(400, "malformed_request"),
        ),
        case(
            "a header name with a space",
            http(health, &[host(), "X Note: a".into()], b""),
            Answer::Error(400, "malformed_request"),
        ),
        case(
            "two Hosts",
            http(
                get,
                &[host(), "Host: globex.archsim.test".into(), bearer(&alice)],
                b"",
            ),
            Answer::Error(400, "duplicate_host"),
        ),
        case(
            "no Host",
            http(get, &[bearer(&alice)], b""),
            Answer::Error(400, "missing_host"),
        ),
        case(
            "two hosts in one Host value",
            http(
                get,
                &[format!("Host: {ACME}, globex.archsim.test"), bearer(&alice)],
                b"",
            ),
            Answer::Error(404, "unknown_tenant"),
        ),
        case(
            "an absolute target naming another tenant",
            http(
                "GET http://globex.archsim.test/api/v1/projects HTTP/1.1",
                &[host(), bearer(&alice)],
                b"",
            ),
            Answer::OwnRows(1),
        ),
        case(
            "a 100 KB header",
            http(
                get,
                &[
                    host(),
                    bearer(&alice),
                    format!("X-Pad: {}", "p".repeat(100_000)),
                ],
                b"",
            ),
            Answer::Error(431, "headers_too_large"),
        ),
        case(
            "a 1 MB header",
            http(
                get,
                &[host(), format!("X-Pad: {}", "p".repeat(1 << 20))],
                b"",
            ),
            Answer::Error(431, "headers_too_large"),
        ),
        case(
            "200 headers",
            http(
                get,
                &std::iter::once(host())
                    .chain((0..200).map(|i| format!("X-Filler-{i}: f")))
                    .collect::<Vec<_>>(),
                b"",
            ),
            Answer::Error(431, "too_many_headers"),
        ),
        case(
            "a 10 KB path",
            http(
                &format!("GET /api/v1/projects/{} HTTP/1.1", "1".repeat(10_000)),
                &[host()],
                b"",
            ),
            Answer::Error(414, "uri_too_long"),
        ),
        case(
            "a 100 KB path",
            http(
                &format!("GET /{} HTTP/1.1", "a".repeat(100_000)),
                &[host()],
                b"",
            ),
            Answer::Error(414, "uri_too_long"),
        ),
        case(
            "the Authorization scheme in lower case",
            http(
                get,
                &[host(), format!("Authorization: bearer {alice}")],
                b"",
            ),
            Answer::OwnRows(1),
        ),
        case(
            "two Authorization headers",
            http(
                get,
                &[host(), bearer(&alice), bearer("forged.token.x")],
                b"",
            ),
            Answer::Error(400, "duplicate_header"),
        ),
        case(
            "a 100 KB token",
            http(get, &[host(), bearer(&"A".repeat(100_000))], b""),
            Answer::Error(431, "headers_too_large"),
        ),
        case(
            "`Bearer` and nothing",
            http(get, &[host(), "Authorization: Bearer".into()], b""),
            Answer::Error(401, "invalid_token"),
        ),
        case(
            "an HTTP version from the future",
            http("GET /api/v1/health HTTP/9.9", &[host()], b""),
            Answer::Error(400, "malformed_request"),
        ),
    ];
    server.run(cases).await;
}

#[tokio::test]
async fn forged_tokens_are_refused_in_words_on_the_wire() {
    let server = Server::start();
    let alice = server.token("alice").await;
    let key = server.engine.scenario().auth.signing_key.clone();
    let claims = claims_of(&alice);
    let get = "GET /api/v1/projects HTTP/1.1";
    let now = claims["iat"].as_u64().expect("iat");
    let mut expired = claims.clone();
    expired["exp"] = json!(now - 3600);
    let mut no_tid = claims.clone();
    no_tid.as_object_mut().expect("claims").remove("tid");
    let mut never = claims.clone();
    never["exp"] = json!("never");
    let hs256 = json!({ "alg": "HS256", "typ": "JWT" });
    let table = [
        (
            "alg none",
            format!("{}.{}.", part(&json!({ "alg": "none" })), part(&claims)),
            401,
            "unsupported_algorithm",
        ),
        (
            "HS512",
            forge(
                &json!({ "alg": "HS512" }),
                &claims,
                key.as_bytes(),
                Algorithm::HS512,
            ),
            401,
            "unsupported_algorithm",
        ),
        (
            "kid 123",
            forge(
                &json!({ "alg": "HS256", "kid": 123 }),
                &claims,
                key.as_bytes(),
                Algorithm::HS256,
            ),
            401,
            "invalid_token",
        ),
        (
            "no tid",
            forge(&hs256, &no_tid, key.as_bytes(), Algorithm::HS256),
            401,
            "invalid_token",
        ),
        (
            "exp \"never\"",
            forge(&hs256, &never, key.as_bytes(), Algorithm::HS256),
            401,
            "invalid_token",
        ),
        (
            "expired",
            forge(&hs256, &expired, key.as_bytes(), Algorithm::HS256),
            401,
            "token_expired",
        ),
    ];
    let cases = table
        .into_iter()
        .map(|(name, token, status, code)| {
            case(
                format!("token: {name}"),
                http(get, &[host(), bearer(&token)], b""),
                Answer::Error(status, code),
            )
        })
        .collect();
    server.run(cases).await;
}

#[tokio::test]
async fn bodies_and_paths_on_the_wire_are_refused_and_change_nothing() {
    let server = Server::start();
    let alice = server.token("alice").await;
    let post = "POST /api/v1/projects HTTP/1.1";
    let json_post = |body: &[u8]| {
        http(
            post,
            &[
                host(),
                bearer(&alice),
                "Content-Type: application/json".into(),
                format!("Content-Length: {}", body.len()),
            ],
            body,
        )
    };
    let chunked = |body: &[u8]| {
        let mut framed = Vec::new();
        for chunk in body.chunks(4096) {
            framed.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            framed.extend_from_slice(chunk);
            framed.extend_from_slice(b"\r\n");
        }
        framed.extend_from_slice(b"0\r\n\r\n");
        http(
            post,
            &[
                host(),
                bearer(&alice),
                "Content-Type: application/json".into(),
                "Transfer-Encoding: chunked".into(),
            ],
            &framed,
        )
    };
    let mut invalid_utf8 = b"{\"name\": \"".to_vec();
    invalid_utf8.extend_from_slice(&[0xc3, 0x28, 0xff]);
    invalid_utf8.extend_from_slice(b"\"}");
    let get = |path: &str| {
        http(
            &format!("GET {path} HTTP/1.1"),
            &[host(), bearer(&alice)],
            b"",
        )
    };
    let carol = server.token("carol").await;
    let cases = vec![
        case(
            "a Globex token on Acme's host",
            http(
                "GET /api/v1/projects/1 HTTP/1.1",
                &[host(), bearer(&carol)],
                b"",
            ),
            Answer::Error(403, "tenant_mismatch"),
        ),
        case(
            "a Globex token on Globex's host asking for Acme's project",
            http(
                "GET /api/v1/projects/1 HTTP/1.1",
                &["Host: globex.archsim.test".into(), bearer(&carol)],
                b"",
            ),
            Answer::Error(404, "not_found"),
        ),
        case(
            "a Globex token writing Acme's tenant_id",
            http(
                "PATCH /api/v1/projects/4 HTTP/1.1",
                &[
                    "Host: globex.archsim.test".into(),
                    bearer(&carol),
                    "Content-Type: application/json".into(),
                    "Content-Length: 16".into(),
                ],
                br#"{"tenant_id": 1}"#,
            ),
            Answer::Error(422, "server_owned_field"),
        ),
        case(
            "a chunked body past the limit, no length declared",
            chunked(format!("{{\"name\": \"{}\"}}", "n".repeat(40_000)).as_bytes()),
            Answer::Error(413, "payload_too_large"),
        ),
        case(
            "a declared length past the limit",
            http(
                post,
                &[
                    host(),
                    bearer(&alice),
                    "Content-Type: application/json".into(),
                    "Content-Length: 99999999".into(),
                ],
                b"{}",
            ),
            Answer::Error(413, "payload_too_large"),
        ),
        case(
            "8k nested arrays",
            json_post(&b"[".repeat(8000)),
            Answer::Error(400, "malformed_json"),
        ),
        case(
            "invalid UTF-8",
            json_post(&invalid_utf8),
            Answer::Error(400, "malformed_json"),
        ),
        case(
            "duplicate keys",
            json_post(br#"{"name": "One", "name": "Two"}"#),
            Answer::Error(400, "duplicate_key"),
        ),
        case(
            "text/plain",
            http(
                post,
                &[
                    host(),
                    bearer(&alice),
                    "Content-Type: text/plain".into(),
                    "Content-Length: 15".into(),
                ],
                br#"{"name": "Hi!"}"#,
            ),
            Answer::Error(415, "unsupported_media_type"),
        ),
        case(
            "an empty body",
            http(
                post,
                &[host(), bearer(&alice), "Content-Length: 0".into()],
                b"",
            ),
            Answer::Error(400, "malformed_json"),
        ),
        case(
            "a duplicate name (a unique index)",
            json_post(br#"{"name": "Website relaunch"}"#),
            Answer::Error(409, "conflict"),
        ),
        case(
            "GET /api/v1/projects/+1",
            get("/api/v1/projects/+1"),
            Answer::Error(404, "not_found"),
        ),
        case(
            "GET /api/v1/projects/01",
            get("/api/v1/projects/01"),
            Answer::Error(404, "not_found"),
        ),
        case(
            "GET /api/v1/projects/4 (Globex's)",
            get("/api/v1/projects/4"),
            Answer::Error(404, "not_found"),
        ),
        case(
            "GET /api/v1/projects/../users",
            get("/api/v1/projects/../users"),
            Answer::Error(404, "no_route"),
        ),
        case(
            "GET /api/v1/projects/%2e%2e/users",
            get("/api/v1/projects/%2e%2e/users"),
            Answer::Error(404, "no_route"),
        ),
        case(
            "GET //api/v1/projects",
            get("//api/v1/projects"),
            Answer::Error(404, "no_route"),
        ),
        case(
            "GET /api/v1/projects/%00",
            get("/api/v1/projects/%00"),
            Answer::Error(400, "invalid_characters"),
        ),
        case(
            "DELETE /api/v1/projects/4 (Globex's)",
            http(
                "DELETE /api/v1/projects/4 HTTP/1.1",
                &[host(), bearer(&alice)],
                b"",
            ),
            Answer::Error(404, "not_found"),
        ),
    ];
    server.run(cases).await;
}

#[tokio::test]
async fn conflicting_lengths_never_smuggle_a_second_request() {
    let server = Server::start();
    let bob = server.token("bob").await;
    // The hidden request would answer 404 `no_route` if it were ever parsed as a request.
    let smuggled = format!("GET /api/v1/smuggled HTTP/1.1\r\nHost: {ACME}\r\n\r\n");
    let attempt = |framing: &[&str], body: &str| {
        let mut out = format!(
            "POST /api/v1/projects HTTP/1.1\r\nHost: {ACME}\r\nAuthorization: Bearer {bob}\r\nContent-Type: application/json\r\n"
        )
        .into_bytes();
        for line in framing {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
        out
    };
    let chunked_then_smuggled = format!("0\r\n\r\n{smuggled}");
    // With both lengths, the parser (hyper) reads the chunked body, which is empty, so Bob's
    // create is refused by RBAC — and it closes the connection after answering, so the bytes
    // after the body are never read as a request. Every other ambiguous framing is refused by the
    // connection (400 `malformed_request`, in words) before hyper reads it.
    let cases = vec![
        case(
            "CL.TE: a short length, then chunked",
            attempt(
                &["Content-Length: 4", "Transfer-Encoding: chunked"],
                &chunked_then_smuggled,
            ),
            Answer::Error(403, "forbidden"),
        ),
        case(
            "TE.CL: chunked, then a long length",
            attempt(
                &[
                    "Transfer-Encoding: chunked",
                    &format!("Content-Length: {}", chunked_then_smuggled.len()),
                ],
                &chunked_then_smuggled,
            ),
            Answer::Error(403, "forbidden"),
        ),
        case(
            "an obfuscated Transfer-Encoding",
            attempt(
                &["Transfer-Encoding: xchunked", "Content-Length: 5"],
                &chunked_then_smuggled,
            ),
            Answer::Error(400, "malformed_request"),
        ),
        case(
            "chunked, identity",
            attempt(
                &["Transfer-Encoding: chunked, identity"],
                &chunked_then_smuggled,
            ),
            Answer::Error(400, "malformed_request"),
        ),
        case(
            "two different Content-Lengths",
            attempt(
                &["Content-Length: 5", "Content-Length: 40"],
                &format!("{{}}   {smuggled}"),
            ),
            Answer::Error(400, "malformed_request"),
        ),
        case(
            "a negative Content-Length",
            attempt(&["Content-Length: -1"], &smuggled),
            Answer::Error(400, "malformed_request"),
        ),
        case(
            "a Content-Length with a plus sign",
            attempt(&["Content-Length: +2"], &format!("{{}}{smuggled}")),
            Answer::Error(400, "malformed_request"),
        ),
    ];
    server.run(cases).await;
}

#[tokio::test]
async fn rotating_forwarding_headers_and_host_spelling_does_not_reset_the_limit() {
    let server = Server::start();
    let (engine, address) = (server.engine.clone(), server.address);
    let burst = engine.scenario().rate_limit.burst as usize;
    const SENT: usize = 50;
    // All at once, each on its own connection: a client that hopes a new forwarded address
    // or a new spelling of the Host makes it a new client.
    let spellings = [
        "acme.archsim.test",
        "ACME.archsim.test",
        "Acme.Archsim.Test.",
        "acme.archsim.test:80",
    ];
    let requests: Vec<Vec<u8>> = (0..SENT)
        .map(|i| {
            format!(
                "GET /api/v1/health HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: 198.51.100.{}\r\nX-Real-IP: 198.51.100.{}\r\nForwarded: for=198.51.100.{}\r\nConnection: close\r\n\r\n",
                spellings[i % spellings.len()],
                i + 1,
                i + 1,
                i + 1,
            )
            .into_bytes()
        })
        .collect();
    let (responses, before, after) = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Handle::current();
        let before = runtime.block_on(database(&engine));
        let clients: Vec<_> = requests
            .into_iter()
            .map(|request| {
                std::thread::spawn(move || exchange(address, &request, Duration::from_secs(10)))
            })
            .collect();
        let responses: Vec<Wire> = clients
            .into_iter()
            .flat_map(|client| client.join().expect("the client thread ends"))
            .collect();
        (responses, before, runtime.block_on(database(&engine)))
    })
    .await
    .expect("the client ends");
    assert_eq!(responses.len(), SENT, "one response per request");
    let passed = responses.iter().filter(|r| r.status == 200).count();
    let refused: Vec<&Wire> = responses.iter().filter(|r| r.status != 200).collect();
    for response in &refused {
        assert!(
            error_shape_problems(429, "rate_limited", &response.body).is_empty(),
            "a refusal is a clean 429: {} {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
        assert!(response.header("retry-after").is_some(), "with Retry-After");
        assert!(internals_in(&response.body).is_empty());
    }
    // The bucket refills while the requests are served (20 a second): a few more than the
    // burst get through, never all of them.
    assert!(
        passed < SENT && refused.len() >= 5,
        "{passed} of {SENT} got through with burst {burst}: the limit was dodged"
    );
    assert!(changes(&before, &after).is_empty());
    let _ = server.stop.send(());
    server
        .task
        .await
        .expect("the server task joins")
        .expect("served until stopped");
}
