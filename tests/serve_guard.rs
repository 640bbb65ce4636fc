//! What `serve` answers before its pipeline sees a request: heads too large or malformed for
//! HTTP's parser, and heads that trickle in too slowly, get the API's JSON error shape over a
//! real socket — never an empty body, never internals — and ordinary keep-alive traffic passes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use archsim::engine::{Clock, Engine, EngineHandle, Options, ServeLimits, serve_with};
use archsim::scenario::{DEFAULT_SCENARIO, load_str};
use serde_json::Value;

/// A server on the wall clock with `limits`, stopped when dropped.
struct Server {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _engine: EngineHandle,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn start(limits: ServeLimits) -> Server {
    let scenario = Arc::new(load_str("saas.toml", DEFAULT_SCENARIO).expect("valid"));
    let engine = Engine::spawn_with(scenario, Options::quiet(Clock::Wall)).expect("starts");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = engine.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(serve_with(&served, listener, limits, async {
            let _ = stopped.await;
        }))
    });
    Server {
        address,
        stop: Some(stop),
        _engine: engine,
    }
}

/// Sends `request` and reads until the server closes: the status line and the JSON body.
fn exchange(address: SocketAddr, request: &[u8]) -> (String, Value) {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The server may answer and stop reading before all of a huge request is written.
    let _ = stream.write_all(request);
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reads the answer");
    parse(&response)
}

fn parse(response: &str) -> (String, Value) {
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap_or_default().to_string();
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"));
    (status, json)
}

/// The JSON error shape, with words and no internals.
fn assert_error(json: &Value, status: u16, code: &str) -> String {
    assert_eq!(json["error"]["status"], status, "{json}");
    assert_eq!(json["error"]["code"], code, "{json}");
    let message = json["error"]["message"]
        .as_str()
        .expect("a message")
        .to_string();
    for internal in ["hyper", ".rs", "Error(", "httparse", "panicked"] {
        assert!(!message.contains(internal), "{message}");
    }
    message
}

fn get_with(path: &str, headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: acme.archsim.test\r\n{headers}Connection: close\r\n\r\n")
        .into_bytes()
}

#[test]
fn a_target_past_the_parsers_limit_gets_json_414_and_a_smaller_one_the_wafs() {
    let server = start(ServeLimits::default());
    let (status, json) = exchange(
        server.address,
        &get_with(&format!("/{}", "a".repeat(100_000)), ""),
    );
    assert!(status.starts_with("HTTP/1.1 414"), "{status}");
    let message = assert_error(&json, 414, "uri_too_long");
    assert!(message.contains("longer than 32768 bytes"), "{message}");
    // Under the connection's limit, the WAF stage judges it, with its own limit in the words.
    let (status, json) = exchange(
        server.address,
        &get_with(&format!("/{}", "a".repeat(20_000)), ""),
    );
    assert!(status.starts_with("HTTP/1.1 414"), "{status}");
    let message = assert_error(&json, 414, "uri_too_long");
    assert!(message.contains("the limit is 8192"), "{message}");
}

#[test]
fn a_megabyte_header_or_too_many_fields_gets_json_431() {
    let server = start(ServeLimits::default());
    let huge = format!("X-Big: {}\r\n", "v".repeat(1024 * 1024));
    let (status, json) = exchange(server.address, &get_with("/api/v1/health", &huge));
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    assert_error(&json, 431, "headers_too_large");
    let many: String = (0..150).map(|i| format!("X-{i}: {i}\r\n")).collect();
    let (status, json) = exchange(server.address, &get_with("/api/v1/health", &many));
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    let message = assert_error(&json, 431, "too_many_headers");
    assert!(message.contains("more than 100 header fields"), "{message}");
}

#[test]
fn a_malformed_head_gets_json_400_in_words() {
    let server = start(ServeLimits::default());
    for (request, words) in [
        (
            get_with("/api/v1/health", "X-Nul: a\0b\r\n"),
            "invalid header value",
        ),
        (
            get_with("/api/v1/health", "Bad Name: x\r\n"),
            "invalid header name",
        ),
        (
            b"GET /api/v1/health HTTP/7.0\r\nHost: a\r\n\r\n".to_vec(),
            "invalid HTTP version",
        ),
    ] {
        let (status, json) = exchange(server.address, &request);
        assert!(status.starts_with("HTTP/1.1 400"), "{status}");
        let message = assert_error(&json, 400, "malformed_request");
        assert!(message.contains(words), "{message}");
    }
}

#[test]
fn a_head_trickling_in_is_answered_408_at_the_header_deadline() {
    let server = start(ServeLimits {
        idle: Duration::from_secs(5),
        header_read: Duration::from_millis(600),
        ..ServeLimits::default()
    });
    let mut stream = TcpStream::connect(server.address).expect("connects");
    let started = Instant::now();
    // One byte every 50 ms: never silent long enough for the idle limit.
    let mut response = Vec::new();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    for byte in b"GET /api/v1/health HTTP/1.1\r\nX-Slow: "
        .iter()
        .chain([b'a'; 200].iter())
    {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        match stream.read_to_end(&mut response) {
            Ok(_) => break,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    let waited = started.elapsed();
    let (status, json) = parse(&String::from_utf8_lossy(&response));
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    let message = assert_error(&json, 408, "request_timeout");
    assert!(message.contains("within 0.6 s"), "{message}");
    assert!(
        waited >= Duration::from_millis(550) && waited < Duration::from_secs(4),
        "answered after {waited:?}"
    );
}

#[test]
fn keep_alive_requests_with_bodies_are_all_answered() {
    let server = start(ServeLimits::default());
    // Blank lines inside a body are body: the connection skips it by its length.
    let body = "{\"name\":\"x\r\n\r\nGET / HTTP/1.1\"}";
    let request = format!(
        "POST /api/v1/projects HTTP/1.1\r\nHost: acme.archsim.test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}\
         GET /api/v1/health HTTP/1.1\r\nHost: acme.archsim.test\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(server.address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("writes");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reads");
    // Bodies are not followed by a line break, so a status line may start mid-line.
    let statuses: Vec<&str> = response
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &response[at..at + 12])
        .collect();
    assert_eq!(statuses, ["HTTP/1.1 401", "HTTP/1.1 200"], "{response}");
}
