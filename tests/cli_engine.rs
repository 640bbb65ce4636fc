//! The request pipeline as a user meets it: `archsim trace`, `token` and `serve` as real
//! processes, `serve` over real HTTP/1.1, and the engine's router behind `axum::serve` on
//! 127.0.0.1:0 in process (where the test can also look at the engine's counters).
//!
//! The HTTP client is a few lines over a TCP stream on purpose: it sends exactly the bytes a
//! `curl` would, with no client library deciding anything (redirects, compression, pooling).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use archsim::engine::{CacheStats, Clock, Engine, EngineHandle, Options};
use archsim::scenario::{TokenKind, load_or_default};
use assert_cmd::cargo::cargo_bin_cmd;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use predicates::prelude::*;
use serde_json::{Value, json};

const ACME: &str = "acme.archsim.test";
const BIN: &str = env!("CARGO_BIN_EXE_archsim");
/// How long any single network read, write or startup step may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(20);

// ── A tiny HTTP/1.1 client ──────────────────────────────────────────────────────────────────────

/// A parsed HTTP response.
#[derive(Debug)]
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value (names compare case-insensitively).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// One request as raw bytes: `Connection: close`, so the response ends at end of stream.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    host: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    chunked: bool,
}

impl Req {
    fn new(method: &str, path: &str, host: &str) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            host: host.into(),
            headers: Vec::new(),
            body: None,
            chunked: false,
        }
    }

    fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self.header("Content-Type", "application/json")
    }

    /// Sends the body with `Transfer-Encoding: chunked`, so no length is declared up front.
    fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\n",
            self.method, self.path, self.host
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut out = Vec::new();
        match &self.body {
            Some(body) if self.chunked => {
                head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
                out.extend_from_slice(head.as_bytes());
                for chunk in body.chunks(4096) {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            Some(body) => {
                head.push_str(&format!(
                    "Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                ));
                out.extend_from_slice(head.as_bytes());
                out.extend_from_slice(body);
            }
            None => {
                head.push_str("Connection: close\r\n\r\n");
                out.extend_from_slice(head.as_bytes());
            }
        }
        out
    }
}

/// Parses a whole HTTP/1.1 response: status line, headers, and a body delimited by
/// `Content-Length`, chunked encoding, or the end of the stream.
fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).expect("headers are ASCII");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "{status_line}");
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header has a colon");
            (name.trim().to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    let rest = &raw[split + 4..];
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().expect("numeric content-length");
        assert!(
            rest.len() >= length,
            "body cut short: {} of {length}",
            rest.len()
        );
        rest[..length].to_vec()
    } else {
        rest.to_vec()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&data[..line_end]).expect("ascii chunk size");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("hex chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Sends `request` over a blocking TCP stream, with timeouts on every step.
fn http(address: SocketAddr, request: &Req) -> HttpResponse {
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).expect("connects");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(&request.to_bytes()).expect("request sent");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("response read");
    parse_response(&raw)
}

// tokio's `AsyncWriteExt`/`AsyncReadExt` need its `io-util` feature, which the crate does not
// otherwise use; readiness plus `try_write`/`try_read` is all a one-shot exchange needs.

async fn write_all(stream: &tokio::net::TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn read_to_end(stream: &tokio::net::TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        stream.readable().await?;
        match stream.try_read(&mut buffer) {
            Ok(0) => return Ok(raw),
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Sends `request` over a tokio TCP stream, with an overall timeout.
async fn http_async(address: SocketAddr, request: &Req) -> HttpResponse {
    let bytes = request.to_bytes();
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(address).await?;
        write_all(&stream, &bytes).await?;
        read_to_end(&stream).await
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("the server answers in time")
        .expect("the exchange succeeds");
    parse_response(&raw)
}

// ── archsim trace ───────────────────────────────────────────────────────────────────────────────

/// Runs `archsim trace ARGS --json` and returns the one JSON object it prints.
fn trace_json(args: &[&str]) -> Value {
    let output = cargo_bin_cmd!("archsim")
        .arg("trace")
        .args(args)
        .arg("--json")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "any response exits 0; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {stdout}"))
}

/// The first stage that refused the request.
fn rejecting_stage(trace: &Value) -> Option<&Value> {
    trace["stages"]
        .as_array()?
        .iter()
        .find(|s| s["outcome"] == "reject" || s["outcome"] == "error")
}

#[test]
fn trace_json_shows_every_stage_of_alices_read_and_acmes_three_projects() {
    let trace = trace_json(&["--as", "alice", "GET", "/api/v1/projects"]);
    // The request record also carries the id the request-id stage gave the request.
    let mut request = trace["request"].clone();
    let request_id = request.as_object_mut().and_then(|r| r.remove("request_id"));
    assert!(
        request_id
            .as_ref()
            .and_then(|id| id.as_str())
            .is_some_and(|id| id.starts_with("req-")),
        "{request_id:?}"
    );
    assert_eq!(
        request,
        json!({ "method": "GET", "path": "/api/v1/projects", "host": ACME, "persona": "alice" })
    );
    assert_eq!(trace["status"], 200);
    let stages = trace["stages"].as_array().expect("stages");
    for stage in stages {
        assert!(stage["stage"].is_string(), "{stage}");
        assert!(stage["kind"].is_string(), "{stage}");
        let outcome = stage["outcome"].as_str().unwrap_or_default();
        assert!(
            ["pass", "hit", "miss", "reject", "error", "skip"].contains(&outcome),
            "{stage}"
        );
        assert!(stage["detail"].is_object(), "{stage}");
        assert!(stage["modelled_ms"].is_number(), "{stage}");
        assert!(stage["measured_us"].is_u64(), "an integer: {stage}");
    }
    let kinds: Vec<&str> = stages.iter().filter_map(|s| s["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "dns",
            "cdn",
            "waf",
            "load_balancer",
            "gateway",
            "request_id",
            "sanitize",
            "auth",
            "tenant",
            "rate_limit",
            "rbac",
            "validate",
            "controller",
            "cache",
            "database",
            "response"
        ],
        "dns to response, in the scenario's order"
    );
    assert!(rejecting_stage(&trace).is_none());
    let rows = trace["response"]["data"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r["tenant_id"] == 1),
        "acme's only: {rows:?}"
    );
}

#[test]
fn trace_of_mallory_on_acmes_host_is_403_at_the_tenant_check() {
    let trace = trace_json(&[
        "--as",
        "mallory",
        "--host",
        ACME,
        "GET",
        "/api/v1/projects/1",
    ]);
    assert_eq!(trace["status"], 403);
    assert_eq!(trace["request"]["host"], ACME);
    let rejected = rejecting_stage(&trace).expect("a stage refused");
    assert_eq!(rejected["kind"], "tenant", "{rejected}");
    assert_eq!(trace["response"]["error"]["code"], "tenant_mismatch");
    assert_eq!(
        trace["stages"]
            .as_array()
            .and_then(|s| s.last())
            .map(|s| &s["kind"]),
        Some(&json!("response"))
    );
}

#[test]
fn trace_text_prints_one_line_per_stage_and_the_status() {
    let expected = trace_json(&["--as", "alice", "GET", "/api/v1/projects"]);
    let output = cargo_bin_cmd!("archsim")
        .args(["trace", "--as", "alice", "GET", "/api/v1/projects"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    let stage_lines: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?, words.next()?))
        })
        .filter(|(id, _)| {
            expected["stages"]
                .as_array()
                .is_some_and(|s| s.iter().any(|st| st["stage"] == *id))
        })
        .collect();
    let wanted: Vec<(&str, &str)> = expected["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap_or_default(),
                s["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(stage_lines, wanted, "one line per stage, in order:\n{text}");
    assert!(
        text.lines().any(|l| l.starts_with("→ 200")),
        "a status line:\n{text}"
    );
    assert!(text.contains("\"count\": 3"), "the response body:\n{text}");
}

#[test]
fn trace_reports_rbac_refusals_missing_tokens_and_malformed_bodies() {
    let bob = trace_json(&[
        "scenarios/saas.toml",
        "--as",
        "bob",
        "POST",
        "/api/v1/projects",
        "--body",
        r#"{"name":"x"}"#,
    ]);
    assert_eq!(bob["status"], 403);
    assert_eq!(
        rejecting_stage(&bob).map(|s| &s["kind"]),
        Some(&json!("rbac"))
    );
    assert_eq!(
        bob["response"]["error"]["missing_permissions"],
        json!(["projects.write"])
    );

    let anonymous = trace_json(&["--as", "alice", "--token", "", "GET", "/api/v1/projects"]);
    assert_eq!(anonymous["status"], 401);
    assert_eq!(anonymous["response"]["error"]["code"], "missing_token");
    assert_eq!(
        rejecting_stage(&anonymous).map(|s| &s["kind"]),
        Some(&json!("auth"))
    );

    let malformed = trace_json(&[
        "--as",
        "alice",
        "POST",
        "/api/v1/projects",
        "--body",
        "{bad",
    ]);
    assert_eq!(malformed["status"], 400);
    assert_eq!(malformed["response"]["error"]["code"], "malformed_json");
    assert_eq!(
        rejecting_stage(&malformed).map(|s| &s["kind"]),
        Some(&json!("validate"))
    );
}

#[test]
fn trace_accepts_extra_headers_and_a_token_from_archsim_token() {
    let with_header = trace_json(&[
        "--as",
        "alice",
        "--header",
        "X-Foo: bar",
        "GET",
        "/api/v1/projects",
    ]);
    assert_eq!(with_header["status"], 200);

    let token = token_of(&["--as", "bob"]);
    let with_token = trace_json(&["--as", "bob", "--token", &token, "GET", "/api/v1/projects"]);
    assert_eq!(with_token["status"], 200, "a printed token is accepted");

    cargo_bin_cmd!("archsim")
        .args(["trace", "--as", "alice", "--header", "no colon here"])
        .args(["GET", "/api/v1/projects"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Name: value"));
}

#[test]
fn trace_of_an_unknown_persona_exits_2_listing_the_personas() {
    let output = cargo_bin_cmd!("archsim")
        .args(["trace", "--as", "eve", "GET", "/api/v1/projects", "--json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("eve"), "{stderr}");
    for persona in ["alice", "bob", "carol", "mallory"] {
        assert!(stderr.contains(persona), "lists {persona}: {stderr}");
    }
}

// ── archsim token ───────────────────────────────────────────────────────────────────────────────

/// Runs `archsim token ARGS` and returns the token it prints.
fn token_of(args: &[&str]) -> String {
    let output = cargo_bin_cmd!("archsim")
        .arg("token")
        .args(args)
        .output()
        .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let token = stdout.trim_end_matches('\n');
    assert!(!token.contains('\n'), "one line: {stdout:?}");
    token.to_string()
}

/// The decoded header and payload of a JWT, checking it has three base64url parts.
fn decode_jwt(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "header.payload.signature: {token}");
    let decode = |part: &str| -> Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .unwrap_or_else(|e| panic!("{part:?} is not base64url ({e})"));
        serde_json::from_slice(&bytes).expect("a JSON object")
    };
    assert!(
        URL_SAFE_NO_PAD
            .decode(parts[2])
            .is_ok_and(|s| s.len() == 32),
        "an HS256 signature"
    );
    (decode(parts[0]), decode(parts[1]))
}

#[test]
fn token_prints_a_signed_jwt_for_the_persona_issued_now() {
    let (header, claims) = decode_jwt(&token_of(&["--as", "alice"]));
    assert_eq!(header["alg"], "HS256");
    assert_eq!(claims["tid"], "acme");
    assert_eq!(claims["name"], "alice");
    let iat = claims["iat"].as_u64().expect("iat");
    let exp = claims["exp"].as_u64().expect("exp");
    assert_eq!(exp - iat, 900, "the scenario's token_ttl_s");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert!(
        iat.abs_diff(now) < 120,
        "issued on the wall clock: iat {iat}, now {now}"
    );
}

#[test]
fn token_ttl_sets_the_lifetime() {
    let (_, claims) = decode_jwt(&token_of(&[
        "scenarios/saas.toml",
        "--as",
        "carol",
        "--ttl",
        "60",
    ]));
    assert_eq!(claims["tid"], "globex");
    let iat = claims["iat"].as_u64().expect("iat");
    let exp = claims["exp"].as_u64().expect("exp");
    assert_eq!(exp - iat, 60);
}

#[test]
fn token_for_an_unknown_persona_exits_2() {
    cargo_bin_cmd!("archsim")
        .args(["token", "--as", "eve"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("alice").and(predicate::str::contains("mallory")));
}

// ── archsim serve, as a process ─────────────────────────────────────────────────────────────────

/// A running `archsim serve` child. Dropping it kills the child, so a failing test never leaves
/// a server behind.
struct ServeProcess {
    child: Child,
    address: SocketAddr,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServeProcess {
    /// Starts `archsim serve --listen 127.0.0.1:0` and waits for the address it prints.
    fn start() -> Self {
        let mut server = Self::spawn();
        server.wait_until_listening();
        server
    }

    /// Starts `archsim serve --listen 127.0.0.1:0` without waiting for it.
    fn spawn() -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            // The defaults a user gets: no log filter, colour wherever the terminal allows it.
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("archsim serve starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::channel();
        // A thread owns the pipe so the test can wait for lines with a timeout.
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
            log: Vec::new(),
            reader: Some(reader),
        }
    }

    /// Waits for the `archsim serve: <title> on http://ADDR` line and records the address.
    fn wait_until_listening(&mut self) {
        let banner =
            self.wait_for_line(|l| l.starts_with("archsim serve: ") && l.contains(" on http://"));
        let address = banner
            .rsplit_once("http://")
            .map(|(_, a)| a.trim())
            .unwrap_or_default();
        self.address = address
            .parse()
            .unwrap_or_else(|e| panic!("`{address}` in {banner:?} is an address ({e})"));
    }

    /// Waits until stderr has a line matching `wanted` (seen before or arriving now).
    fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.log.iter().find(|l| wanted(l)) {
            return line.clone();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "stderr never printed the line; so far:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits for the process to exit; returns its exit
    /// code and everything it printed on stderr.
    fn interrupt(self) -> (Option<i32>, Vec<String>) {
        self.signal("-INT")
    }

    /// Sends `signal` (`-INT`, `-TERM`) and waits for the process to exit.
    fn signal(self, signal: &str) -> (Option<i32>, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "{signal} delivered");
        self.wait_exit()
    }

    /// Waits (at most 10 s) for the process to exit; returns its exit code and everything it
    /// printed on stderr.
    fn wait_exit(mut self) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop within 10 s of SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The pipe is closed now: collect the rest of stderr.
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        while let Ok(line) = self.lines.try_recv() {
            self.log.push(line);
        }
        (status.code(), std::mem::take(&mut self.log))
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn serve_answers_real_http_with_a_token_from_archsim_token_and_stops_on_sigint() {
    let token = token_of(&["--as", "alice"]);
    let mut server = ServeProcess::start();
    let address = server.address;
    assert!(address.port() != 0, "the real port is printed: {address}");

    let ok = http(
        address,
        &Req::new("GET", "/api/v1/projects", ACME).bearer(&token),
    );
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert!(
        ok.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    let body = ok.json();
    assert_eq!(body["count"], 3);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(3));
    let request_id = ok
        .header("x-request-id")
        .expect("x-request-id header")
        .to_string();
    assert!(request_id.starts_with("req-"), "{request_id}");

    let anonymous = http(address, &Req::new("GET", "/api/v1/projects", ACME));
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.error_code(), "missing_token");
    assert!(
        anonymous
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer ")),
        "{:?}",
        anonymous.headers
    );
    assert_ne!(
        anonymous.header("x-request-id"),
        Some(request_id.as_str()),
        "every request has its own id"
    );

    let unknown = http(
        address,
        &Req::new("GET", "/api/v1/projects", "hooli.archsim.test").bearer(&token),
    );
    assert_eq!(unknown.status, 404);
    let error = unknown.json();
    assert_eq!(error["error"]["status"], 404);
    assert_eq!(error["error"]["code"], "unknown_tenant");
    assert!(error["error"]["message"].is_string());

    let malformed = http(
        address,
        &Req::new("POST", "/api/v1/projects", ACME)
            .bearer(&token)
            .body("{\"name\": "),
    );
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["error"]["status"], 400);
    assert_eq!(malformed.error_code(), "malformed_json");

    // One log line per request, with its path and status, and the request id to correlate it.
    let logged = server.wait_for_line(|l| l.contains("status=400"));
    assert!(
        logged.contains("/api/v1/projects") && logged.contains("POST"),
        "{logged}"
    );
    let first = server.wait_for_line(|l| l.contains("status=200"));
    assert!(first.contains("/api/v1/projects"), "{first}");
    assert!(
        first.contains(&request_id),
        "the line names the request id: {first}"
    );
    server.wait_for_line(|l| l.contains("status=401"));
    server.wait_for_line(|l| l.contains("status=404"));

    let (code, log) = server.interrupt();
    assert_eq!(code, Some(0), "a clean exit on Ctrl-C:\n{}", log.join("\n"));
    assert!(
        log.iter().any(|l| l.contains("shutting down")),
        "{}",
        log.join("\n")
    );
    let request_lines: Vec<&String> = log.iter().filter(|l| l.contains("status=")).collect();
    assert_eq!(
        request_lines.len(),
        4,
        "one line per request:\n{}",
        log.join("\n")
    );
    assert!(
        log.iter().all(|l| !l.contains('\u{1b}')),
        "no terminal colour codes in a piped log:\n{}",
        log.join("\n")
    );
}

#[test]
fn serve_stops_cleanly_on_sigint_right_after_it_starts_listening() {
    let mut server = ServeProcess::spawn();
    // A shell that already knows the pid sends SIGINT the moment it reads a line: much sooner
    // after the banner than spawning `kill` would, which is the window a late handler loses.
    let mut trigger = Command::new("sh")
        .args(["-c", &format!("read _ && kill -INT {}", server.child.id())])
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh runs");
    server.wait_until_listening();
    trigger
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(b"now\n")
        .expect("trigger armed");
    assert!(trigger.wait().expect("sh exits").success(), "SIGINT sent");
    let (code, log) = server.wait_exit();
    assert_eq!(code, Some(0), "{}", log.join("\n"));
    assert!(
        log.iter().any(|l| l.contains("shutting down")),
        "{}",
        log.join("\n")
    );
}

// ── The engine's router over real HTTP, in process ──────────────────────────────────────────────

/// An engine on the wall clock served by `archsim::engine::serve` on 127.0.0.1:0, stopped on
/// drop.
struct LiveServer {
    engine: EngineHandle,
    address: SocketAddr,
    tokens: BTreeMap<String, String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl LiveServer {
    async fn start(file: Option<&str>) -> Self {
        let scenario = load_or_default(file.map(std::path::Path::new)).expect("scenario loads");
        let engine = Engine::spawn_with(scenario, Options::quiet(Clock::Wall)).expect("starts");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let address = listener.local_addr().expect("bound address");
        let mut tokens = BTreeMap::new();
        for persona in &engine.scenario().personas {
            let token = engine
                .token(&persona.name, TokenKind::Valid, None)
                .await
                .expect("persona")
                .expect("a token");
            tokens.insert(persona.name.clone(), token);
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = engine.clone();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            archsim::engine::serve(&served, listener, shutdown)
                .await
                .expect("serves");
        });
        Self {
            engine,
            address,
            tokens,
            stop: Some(stop),
        }
    }

    fn token(&self, persona: &str) -> String {
        self.tokens.get(persona).cloned().expect("persona")
    }

    /// `method path` as `persona`, on the persona's own tenant host.
    fn req(&self, persona: &str, method: &str, path: &str) -> Req {
        let scenario = self.engine.scenario();
        let tenant = &scenario.persona(persona).expect("persona").tenant;
        Req::new(method, path, &scenario.host_of(tenant)).bearer(&self.token(persona))
    }

    async fn send(&self, request: &Req) -> HttpResponse {
        http_async(self.address, request).await
    }

    /// The engine's read-cache counters, as of now.
    async fn cache(&self) -> CacheStats {
        self.engine.fresh_snapshot().await.expect("snapshot").cache
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_reads_hit_the_cdn_and_the_cache_on_the_second_try() {
    let server = LiveServer::start(None).await;
    // A browser or curl pointed at a port sends it in the Host header; DNS ignores it.
    let mut with_port = server.req("alice", "GET", "/api/v1/projects");
    with_port.host = format!("{ACME}:8080");
    let ok = server.send(&with_port).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["count"], 3);

    let first = server
        .send(&server.req("alice", "GET", "/static/app.js"))
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-cache"), Some("MISS"));
    assert_eq!(first.header("content-type"), Some("application/javascript"));
    assert_eq!(first.body.len(), 48213);
    let second = server
        .send(&server.req("alice", "GET", "/static/app.js"))
        .await;
    assert_eq!(second.header("x-cache"), Some("HIT"));
    assert_eq!(second.body, first.body);

    // The response cannot show the trace, so read the engine's own counters.
    let before = server.cache().await;
    let read = server
        .send(&server.req("carol", "GET", "/api/v1/projects"))
        .await;
    assert_eq!(read.status, 200);
    let after_miss = server.cache().await;
    assert_eq!(
        after_miss.misses,
        before.misses + 1,
        "carol's first read misses"
    );
    assert_eq!(after_miss.hits, before.hits);
    let again = server
        .send(&server.req("carol", "GET", "/api/v1/projects"))
        .await;
    assert_eq!(again.body, read.body);
    let after_hit = server.cache().await;
    assert_eq!(after_hit.hits, after_miss.hits + 1, "the second read hits");
    assert_eq!(after_hit.misses, after_miss.misses);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refusals_405_413_and_422_are_json_with_their_headers() {
    let server = LiveServer::start(None).await;
    let wrong = server
        .send(&server.req("alice", "PUT", "/api/v1/projects"))
        .await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET, POST"));
    assert_eq!(wrong.error_code(), "method_not_allowed");

    let max = server.engine.scenario().edge.max_body_bytes as usize;
    assert_eq!(max, 16384);
    let huge = serde_json::to_vec(&json!({ "name": "y".repeat(max + 100) })).expect("json");
    let declared = server
        .send(
            &server
                .req("alice", "POST", "/api/v1/projects")
                .body(huge.clone()),
        )
        .await;
    assert_eq!(declared.status, 413, "refused on its Content-Length");
    assert_eq!(declared.error_code(), "payload_too_large");
    let streamed = server
        .send(
            &server
                .req("alice", "POST", "/api/v1/projects")
                .body(huge)
                .chunked(),
        )
        .await;
    assert_eq!(streamed.status, 413, "refused while reading a chunked body");
    assert_eq!(streamed.error_code(), "payload_too_large");

    let bad = server
        .send(
            &server
                .req("alice", "POST", "/api/v1/projects")
                .body(r#"{"name": 42, "colour": "red", "tenant_id": 2}"#),
        )
        .await;
    assert_eq!(bad.status, 422);
    let fields: Vec<String> = bad.json()["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str().map(str::to_string))
        .collect();
    assert_eq!(fields, ["name", "colour", "tenant_id"]);

    let created = server
        .send(
            &server
                .req("alice", "POST", "/api/v1/projects")
                .body(r#"{"name": "Over the wire"}"#),
        )
        .await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(created.json()["data"]["tenant_id"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_burst_of_40_for_bob_is_partly_429_with_retry_after() {
    let server = LiveServer::start(None).await;
    let request = server.req("bob", "GET", "/api/v1/invoices");
    // Connect every client first and release them together, so the burst reaches the limiter
    // well inside one refill period.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(40));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (request, start, address) = (request.clone(), start.clone(), server.address);
        tasks.spawn(async move {
            let bytes = request.to_bytes();
            let exchange = async {
                let stream = tokio::net::TcpStream::connect(address).await?;
                start.wait().await;
                write_all(&stream, &bytes).await?;
                read_to_end(&stream).await
            };
            let raw = tokio::time::timeout(TIMEOUT, exchange)
                .await
                .expect("answered in time")
                .expect("exchange succeeds");
            parse_response(&raw)
        });
    }
    let mut statuses = Vec::new();
    let mut limited = Vec::new();
    while let Some(response) = tasks.join_next().await {
        let response = response.expect("client task");
        statuses.push(response.status);
        if response.status == 429 {
            limited.push(response);
        }
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(ok + limited.len(), 40, "only 200 or 429: {statuses:?}");
    assert!(ok >= 30, "the burst of 30 passes: {statuses:?}");
    // The bucket refills at 20/s; a burst that reaches the limiter within a quarter second
    // leaves at least 5 of the 10 extra requests refused.
    assert!(limited.len() >= 5, "{statuses:?}");
    for response in &limited {
        assert_eq!(response.error_code(), "rate_limited");
        let retry_after = response.header("retry-after").expect("Retry-After");
        assert!(
            retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
            "{retry_after}"
        );
    }
    // Another user of the same tenant has a bucket of their own.
    let alice = server
        .send(&server.req("alice", "GET", "/api/v1/invoices"))
        .await;
    assert_eq!(alice.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sql_injection_in_path_query_and_body_is_inert() {
    let server = LiveServer::start(None).await;
    for path in [
        "/api/v1/projects/1%20OR%201=1",
        "/api/v1/projects/1;DROP%20TABLE%20projects",
    ] {
        let response = server.send(&server.req("alice", "GET", path)).await;
        assert_eq!(response.status, 404, "{path}");
    }
    let query = server
        .send(&server.req(
            "alice",
            "GET",
            "/api/v1/projects?id=1%27%20OR%20%271%27=%271",
        ))
        .await;
    assert_eq!(query.status, 200);
    assert_eq!(
        query.json()["count"],
        3,
        "the query string selects nothing extra"
    );

    let evil = "x'); DROP TABLE projects; --";
    let created = server
        .send(
            &server
                .req("alice", "POST", "/api/v1/projects")
                .body(serde_json::to_vec(&json!({ "name": evil })).expect("json")),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["data"]["name"], evil, "stored verbatim");

    let list = server
        .send(&server.req("alice", "GET", "/api/v1/projects"))
        .await;
    assert_eq!(list.status, 200, "the table is intact");
    assert_eq!(list.json()["count"], 4);
    let other = server
        .send(&server.req("carol", "GET", "/api/v1/projects"))
        .await;
    assert_eq!(other.json()["count"], 2, "other tenants untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_clients_over_the_waf_limit_get_429_by_their_connection_ip() {
    let server = LiveServer::start(Some("tests/fixtures/valid/waf_limit.toml")).await;
    assert_eq!(server.engine.scenario().edge.waf_requests_per_minute, 5);
    for n in 1..=5 {
        let ok = server
            .send(&server.req("alice", "GET", "/api/v1/projects"))
            .await;
        assert_eq!(ok.status, 200, "request {n} is within the limit");
    }
    let limited = server
        .send(&server.req("alice", "GET", "/api/v1/projects"))
        .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.error_code(), "ip_rate_limited");
    assert!(
        limited
            .header("retry-after")
            .is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1))
    );
    let message = limited.json()["error"]["message"].to_string();
    assert!(
        message.contains("127.0.0.1"),
        "the limit is keyed by the connection's address: {message}"
    );
    // Even an anonymous request is stopped at the edge, before auth.
    let anonymous = server
        .send(&Req::new("GET", "/api/v1/projects", ACME))
        .await;
    assert_eq!(anonymous.status, 429);
}

// ── archsim run: the ledger catches a deliberate bug ────────────────────────────────────────────

#[test]
fn run_exits_3_when_the_ledger_sees_a_message_dropped_or_an_effect_applied_twice() {
    let run = |sabotage: Option<&str>| {
        let mut command = cargo_bin_cmd!("archsim");
        command.args(["run", "--virtual", "--duration", "20", "--json"]);
        if let Some(sabotage) = sabotage {
            command.args(["--sabotage", sabotage]);
        }
        let output = command.output().expect("runs");
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("a JSON report");
        (output.status.code(), report)
    };
    let (code, report) = run(None);
    assert_eq!(code, Some(0));
    assert_eq!(report["invariants"]["no_message_lost"], true);

    let (code, report) = run(Some("drop-message"));
    assert_eq!(code, Some(3), "a dropped message fails the run");
    assert_eq!(report["invariants"]["no_message_lost"], false);
    assert!(report["invariants"]["ledger"]["lost"].as_u64() > Some(0));

    let (code, report) = run(Some("apply-twice"));
    assert_eq!(code, Some(3), "an effect applied twice fails the run");
    assert!(report["invariants"]["effects"]["repeated"].as_u64() > Some(0));
}

#[test]
fn serve_shuts_down_gracefully_on_sigterm_too() {
    // SIGTERM is what `kill`, systemd and container runtimes send: the same clean exit as Ctrl-C.
    let mut server = ServeProcess::spawn();
    server.wait_until_listening();
    let (code, log) = server.signal("-TERM");
    assert_eq!(
        code,
        Some(0),
        "a clean exit on SIGTERM:\n{}",
        log.join("\n")
    );
    assert!(
        log.iter().any(|l| l.contains("shutting down")),
        "{}",
        log.join("\n")
    );
}
