//! What the attack suite shares: engines on the default scenario, a snapshot of every table (so
//! a case can prove it changed nothing), the checks every refusal must pass (the JSON error
//! shape, no internals in the body), forged tokens, and a raw HTTP/1.1 client.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use archsim::engine::{Clock, Engine, EngineHandle, Options};
use archsim::scenario::{DEFAULT_SCENARIO, load_str};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;

/// The default scenario's system alone (no generated traffic, no scheduled faults) on `clock`.
pub fn engine_on(clock: Clock) -> EngineHandle {
    let scenario = Arc::new(load_str("saas.toml", DEFAULT_SCENARIO).expect("the default scenario"));
    Engine::spawn_with(scenario, Options::quiet(clock)).expect("the engine starts")
}

/// Every row of every table of the scenario, by table: compared before and after a case to
/// prove the case wrote nothing.
pub async fn database(engine: &EngineHandle) -> BTreeMap<String, Vec<Value>> {
    let mut tables = BTreeMap::new();
    for table in &engine.scenario().tables {
        let record = engine
            .rows(&table.name, None)
            .await
            .expect("the table can be read");
        let rows = record.rows.into_iter().map(Value::Object).collect();
        tables.insert(table.name.clone(), rows);
    }
    tables
}

/// What the tables that differ between `before` and `after` are, in words (empty: unchanged).
pub fn changes(
    before: &BTreeMap<String, Vec<Value>>,
    after: &BTreeMap<String, Vec<Value>>,
) -> Vec<String> {
    before
        .iter()
        .filter(|(table, rows)| after.get(*table) != Some(*rows))
        .map(|(table, rows)| {
            let now = after.get(table).map_or(0, Vec::len);
            format!("table `{table}` changed ({} rows → {now})", rows.len())
        })
        .collect()
}

/// Text no response may contain: SQL and SQLite's words, Rust Debug output (serde's
/// `Error("…", line: 1, column: 2)`), source paths and panic messages.
pub const INTERNALS: &[&str] = &[
    "SELECT ",
    "INSERT INTO",
    "DELETE FROM",
    "UPDATE \"",
    "WHERE ",
    "constraint failed",
    "sqlite",
    "rusqlite",
    "Error(",
    "Some(",
    "Ok(",
    "Err(",
    "line:",
    "column:",
    "/src/",
    ".rs:",
    "panicked",
    "unwrap",
    "RUST_BACKTRACE",
    "thread '",
];

/// The internals `body` gives away (none, for a sound answer).
pub fn internals_in(body: &[u8]) -> Vec<&'static str> {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    INTERNALS
        .iter()
        .copied()
        .filter(|needle| {
            if needle.chars().any(|c| c.is_ascii_uppercase()) {
                text.contains(needle)
            } else {
                lower.contains(needle)
            }
        })
        .collect()
}

/// What is wrong with `body` as the API's JSON error for `status` with `code` (empty: nothing):
/// `{"error": {"status", "code", "message", …}}` and nothing else at the top.
pub fn error_shape_problems(status: u16, code: &str, body: &[u8]) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        problems.push(format!(
            "the body is not JSON: {:?}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
        return problems;
    };
    let Some(top) = json.as_object() else {
        problems.push(format!("the body is not an object: {json}"));
        return problems;
    };
    if top.len() != 1 || !top.contains_key("error") {
        problems.push(format!("the body has other members than `error`: {json}"));
    }
    let error = &json["error"];
    if error["status"] != status {
        problems.push(format!("error.status is {} not {status}", error["status"]));
    }
    if error["code"] != code {
        problems.push(format!("error.code is {} not `{code}`", error["code"]));
    }
    if error["message"].as_str().is_none_or(str::is_empty) {
        problems.push(format!("error.message is missing: {json}"));
    }
    problems
}

/// The claims of a JWT, unverified.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .expect("the payload is base64url");
    serde_json::from_slice(&bytes).expect("the payload is JSON")
}

/// A JSON value as a JWT part.
pub fn part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON serialises"))
}

/// A JWT with exactly `header` and `claims`, signed with HMAC `alg` (HS256, HS384, HS512)
/// under `key` — built by hand, so the header can carry anything an attacker puts there.
pub fn forge(header: &Value, claims: &Value, key: &[u8], alg: Algorithm) -> String {
    let message = format!("{}.{}", part(header), part(claims));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(key), alg)
            .expect("HMAC signs");
    format!("{message}.{signature}")
}

/// One HTTP response read off the wire.
#[derive(Debug, Clone)]
pub struct Wire {
    /// Status code.
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Wire {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `request` to a fresh connection to `address` and reads until the server closes it
/// (or `patience` passes without a byte); returns every response in what came back.
pub fn exchange(address: SocketAddr, request: &[u8], patience: Duration) -> Vec<Wire> {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(patience))
        .expect("read timeout");
    // The server may refuse and close before reading it all: a failed write is an answer too.
    let _ = stream.write_all(request);
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
        }
    }
    parse_responses(&bytes)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Splits a byte stream into HTTP/1.1 responses (Content-Length or chunked bodies).
pub fn parse_responses(mut bytes: &[u8]) -> Vec<Wire> {
    let mut responses = Vec::new();
    while let Some(end) = find(bytes, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        bytes = &bytes[end + 4..];
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let value = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if value("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            while let Some(line_end) = find(bytes, b"\r\n") {
                let size =
                    usize::from_str_radix(String::from_utf8_lossy(&bytes[..line_end]).trim(), 16)
                        .unwrap_or(0);
                bytes = &bytes[line_end + 2..];
                if size == 0 {
                    bytes = bytes.get(2..).unwrap_or_default();
                    break;
                }
                let take = size.min(bytes.len());
                body.extend_from_slice(&bytes[..take]);
                bytes = bytes.get(take + 2..).unwrap_or_default();
            }
        } else {
            let length = value("content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
                .min(bytes.len());
            body.extend_from_slice(&bytes[..length]);
            bytes = &bytes[length..];
        }
        responses.push(Wire {
            status,
            headers,
            body,
        });
    }
    responses
}
