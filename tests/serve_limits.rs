//! Slow clients cannot starve `serve`: connections that send half a header and then nothing are
//! closed after the idle limit, which frees their slot, and a legitimate request waiting behind
//! the connection cap is then answered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use archsim::engine::{Clock, Engine, Options, ServeLimits, serve_with};
use archsim::scenario::{DEFAULT_SCENARIO, load_str};

#[tokio::test]
async fn silent_half_headers_are_dropped_and_the_next_client_is_served() {
    let scenario = Arc::new(load_str("saas.toml", DEFAULT_SCENARIO).expect("valid"));
    let engine = Engine::spawn_with(scenario, Options::quiet(Clock::Wall)).expect("starts");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("address");
    let limits = ServeLimits {
        max_connections: 2,
        idle: Duration::from_millis(500),
        ..ServeLimits::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = engine.clone();
    let server = tokio::spawn(async move {
        serve_with(&served, listener, limits, async {
            let _ = stopped.await;
        })
        .await
    });
    let outcome = tokio::task::spawn_blocking(move || {
        // Two attackers take both slots with half a request each, then go quiet.
        let attackers: Vec<TcpStream> = (0..2)
            .map(|_| {
                let mut stream = TcpStream::connect(address).expect("connects");
                stream
                    .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: acme.archsim.test\r\n")
                    .expect("writes");
                stream
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        // A real client behind them waits for a slot, and gets its answer once the silent
        // connections time out.
        let started = Instant::now();
        let mut client = TcpStream::connect(address).expect("connects");
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        client
            .write_all(
                b"GET /api/v1/health HTTP/1.1\r\nHost: acme.archsim.test\r\nConnection: close\r\n\r\n",
            )
            .expect("writes");
        let mut response = String::new();
        client.read_to_string(&mut response).expect("reads");
        let waited = started.elapsed();
        // The attackers' half-heads were answered 408 and their connections closed.
        let closed = attackers.into_iter().all(|mut stream| {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.1 408")
        });
        (response, waited, closed)
    })
    .await
    .expect("the clients end");
    let (response, waited, closed) = outcome;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(closed, "the silent connections were answered and closed");
    assert!(
        waited < Duration::from_secs(8),
        "served once a slot freed, after {waited:?}"
    );
    let _ = stop.send(());
    server
        .await
        .expect("joins")
        .expect("served until the signal");
}
