//! The engine's front door as a client meets it: one handle, plain-data commands, events that
//! replay start-up to late subscribers, snapshots, determinism in virtual time, and a stop after
//! which nothing fires.

use std::sync::Arc;
use std::time::Duration;

use archsim::engine::{
    ApiRequest, Clock, Command, Engine, EngineError, Event, Level, Options, READY_MESSAGE, Reply,
};
use archsim::scenario::{FaultAction, Scenario, load_or_default};

fn scenario() -> Arc<Scenario> {
    load_or_default(None).expect("default scenario")
}

#[tokio::test]
async fn every_subscriber_gets_the_start_up_events_first() {
    let engine = Engine::spawn(scenario(), Clock::Virtual).expect("engine starts");
    engine
        .advance(Duration::from_secs(2))
        .await
        .expect("advances");
    for _ in 0..2 {
        let mut events = engine.subscribe();
        let first = events.recv().await.expect("an event");
        assert_eq!(
            first,
            Event::Log {
                at_ms: 0,
                level: Level::Info,
                message: READY_MESSAGE.to_string()
            }
        );
    }
}

#[tokio::test]
async fn virtual_time_moves_only_inside_commands_and_replays_byte_for_byte() {
    async fn run() -> (String, Vec<Event>) {
        let engine = Engine::spawn(scenario(), Clock::Virtual).expect("engine starts");
        let mut events = engine.subscribe();
        let before = engine.now();
        // Wall time passing outside a command does not move engine time.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(engine.now(), before);
        let script = [
            Command::Advance { ms: 5_000 },
            Command::SendNamed {
                id: "alice-pays-invoice".into(),
            },
            Command::Fault {
                action: FaultAction::KillWorkers {
                    pool: "payment-processor".into(),
                    count: 1,
                },
                duration_ms: Some(2_000),
            },
            Command::Advance { ms: 10_000 },
        ];
        for command in script {
            engine.execute(command).await.expect("command runs");
        }
        assert!(engine.now() >= Duration::from_secs(15));
        let snapshot = serde_json::to_string(&*engine.snapshot()).expect("serialises");
        (snapshot, events.drain())
    }
    let (first, first_events) = run().await;
    let (second, second_events) = run().await;
    assert_eq!(
        first, second,
        "same scenario, seed and commands: same state"
    );
    assert_eq!(first_events, second_events);
    assert!(
        first_events
            .iter()
            .any(|e| matches!(e, Event::Fault { message, .. } if message.contains("restarted"))),
        "the kill was reverted after 2 s"
    );
}

#[tokio::test]
async fn a_fault_revert_never_fires_after_stop() {
    let engine = Engine::spawn_with(scenario(), Options::quiet(Clock::Paced(1.0))).expect("starts");
    let mut events = engine.subscribe();
    let applied = engine
        .fault(
            FaultAction::KillWorkers {
                pool: "payment-processor".into(),
                count: 2,
            },
            Some(Duration::from_millis(300)),
        )
        .await
        .expect("applied");
    assert!(applied.contains("killed 2 worker(s)"), "{applied}");
    engine.stop();
    assert!(!engine.is_running());
    // Had the engine gone on, the revert would fire 300 ms after the fault: wait well past it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let reverted = events
        .drain()
        .into_iter()
        .any(|e| matches!(e, Event::Fault { message, .. } if message.contains("restarted")));
    assert!(!reverted, "the revert was scheduled on the stopped engine");
    let after = engine.execute(Command::Snapshot).await;
    assert!(matches!(after, Err(EngineError::Stopped)), "{after:?}");
}

#[tokio::test]
async fn refusals_are_errors_in_words_and_the_engine_goes_on() {
    let engine = Engine::spawn_with(scenario(), Options::quiet(Clock::Virtual)).expect("starts");
    let refused = engine
        .execute(Command::AddWorker {
            pool: "nobody".into(),
        })
        .await;
    assert_eq!(
        refused.map(|_| ()).map_err(|e| e.to_string()),
        Err("no worker pool nobody".to_string())
    );
    let scale = engine.execute(Command::SetTimeScale { scale: 2.0 }).await;
    assert!(
        matches!(&scale, Err(EngineError::Refused(text)) if text.contains("paced clock")),
        "{scale:?}"
    );
    let request = ApiRequest::as_persona(engine.scenario(), "alice", "GET", "/api/v1/projects")
        .expect("alice exists");
    let exchange = engine.send(request).await.expect("sent");
    assert_eq!(exchange.status, 200);
    assert!(
        exchange.trace.request.request_id.is_some(),
        "the trace names the request id"
    );
}

#[tokio::test]
async fn a_paced_clock_pauses_resumes_and_changes_speed() {
    let engine = Engine::spawn_with(scenario(), Options::quiet(Clock::Paced(8.0))).expect("starts");
    engine.execute(Command::Pause).await.expect("pauses");
    let frozen = engine.now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        engine.now() <= frozen + Duration::from_millis(2),
        "paused: {:?} → {:?}",
        frozen,
        engine.now()
    );
    engine.execute(Command::Resume).await.expect("resumes");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // 100 wall ms at ×8 is 800 engine ms; allow for a slow, shared machine.
    assert!(
        engine.now() >= frozen + Duration::from_millis(200),
        "{:?}",
        engine.now()
    );
    assert!(matches!(
        engine.execute(Command::SetTimeScale { scale: 2.0 }).await,
        Ok(Reply::Done)
    ));
}

#[tokio::test]
async fn serve_answers_http_on_the_engines_runtime_and_stops_on_the_signal() {
    use std::io::{Read, Write};
    let engine = Engine::spawn_with(scenario(), Options::quiet(Clock::Wall)).expect("starts");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = engine.clone();
    let server = tokio::spawn(async move {
        archsim::engine::serve(&served, listener, async {
            let _ = stopped.await;
        })
        .await
    });
    // A blocking client on a blocking thread, so this runtime goes on polling `serve`.
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).expect("connects");
        stream
            .write_all(
                b"GET /api/v1/health HTTP/1.1\r\nHost: acme.archsim.test\r\nConnection: close\r\n\r\n",
            )
            .expect("writes");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("reads");
        response
    })
    .await
    .expect("the client thread ends");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let _ = stop.send(());
    server
        .await
        .expect("joins")
        .expect("served until the signal");
    // A virtual engine cannot serve: its clock moves only inside commands.
    let virtual_engine =
        Engine::spawn_with(scenario(), Options::quiet(Clock::Virtual)).expect("starts");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let refused = archsim::engine::serve(&virtual_engine, listener, std::future::pending()).await;
    assert!(refused.is_err());
}
