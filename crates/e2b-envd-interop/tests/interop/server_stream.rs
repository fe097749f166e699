//! Server streams: order, keepalives, clean ends, errors before and during
//! the stream, idle timeouts.

use std::time::{Duration, Instant};

use e2b_envd::connect::{CallOptions, Code, Error, Streaming, TimeoutKind};
use e2b_envd::process::process_event::{
    DataEvent, EndEvent, Event, StartEvent, data_event::Output,
};
use e2b_envd::process::{ConnectRequest, ProcessConfig, StartRequest, StartResponse};
use e2b_envd_interop::TestServer;

use crate::support::*;

wire_tests!(
    messages_in_order_keepalives_skipped,
    error_before_first_message,
    error_during_stream,
    connect_stream,
);
concurrent_wire_tests!(idle_timeout, keepalives_reset_idle_timer);

fn run(cmd: &str, args: &[&str]) -> StartRequest {
    StartRequest {
        process: Some(ProcessConfig {
            cmd: cmd.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            cwd: Some("/nope".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn start(
    server: &TestServer,
    wire: Wire,
    req: StartRequest,
    options: CallOptions,
) -> Streaming<StartResponse> {
    process_client(server, wire)
        .start(req, options)
        .await
        .expect("start")
}

async fn messages_in_order_keepalives_skipped(wire: Wire) {
    let server = TestServer::start().await;
    // Five data events and a negative exit code, each behind a keepalive.
    let mut stream = start(&server, wire, run("seq", &["5", "-3"]), CallOptions::new()).await;
    let mut events = Vec::new();
    while let Some(message) = stream.message().await.expect("message") {
        events.push(message.event.and_then(|e| e.event).expect("event"));
    }
    let pid = match events.first() {
        Some(Event::Start(StartEvent { pid })) => *pid,
        other => panic!("expected a start event first, got {other:?}"),
    };
    let mut expected = vec![Event::Start(StartEvent { pid })];
    for i in 0..5 {
        let line = format!("line {i}\n").into_bytes();
        expected.push(Event::Data(DataEvent {
            output: Some(if i % 2 == 0 {
                Output::Stdout(line)
            } else {
                Output::Stderr(line)
            }),
        }));
    }
    expected.push(Event::End(EndEvent {
        exit_code: -3,
        exited: true,
        status: "exit status -3".into(),
        error: None,
    }));
    assert_eq!(events, expected, "keepalives must not be yielded");
    // Response headers, and the trailers of the end-of-stream message.
    assert_eq!(stream.headers()["x-pid"], pid.to_string());
    let trailers = stream.trailers().expect("a clean end has trailers");
    assert_eq!(trailers["x-lines"], "5");
    // Polling past the end keeps returning the end.
    expect_end_of_stream(&mut stream).await;
}

async fn error_before_first_message(wire: Wire) {
    let server = TestServer::start().await;

    // The handler fails before producing a stream: Connect sends HTTP 200 and
    // an end-of-stream frame carrying the error.
    let mut stream = start(&server, wire, run("fail-before", &[]), CallOptions::new()).await;
    let err = stream.message().await.expect_err("end-of-stream error");
    let e = connect_error(&err);
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::InvalidArgument, "cwd '/nope' does not exist")
    );
    expect_end_of_stream(&mut stream).await;

    // The stream's first item is an error.
    let mut stream = start(&server, wire, run("fail-first", &[]), CallOptions::new()).await;
    let err = stream.message().await.expect_err("end-of-stream error");
    let e = connect_error(&err);
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::FailedPrecondition, "no such user")
    );
    expect_end_of_stream(&mut stream).await;
}

async fn error_during_stream(wire: Wire) {
    let server = TestServer::start().await;
    let mut stream = start(
        &server,
        wire,
        run("fail-during", &["3"]),
        CallOptions::new(),
    )
    .await;
    expect_start(&mut stream).await;
    for i in 0..3 {
        assert_eq!(
            next_event(&mut stream).await,
            Event::Data(DataEvent {
                output: Some(Output::Stdout(format!("chunk {i}").into_bytes()))
            })
        );
    }
    let err = stream.message().await.expect_err("mid-stream error");
    let e = connect_error(&err);
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::Aborted, "process crashed")
    );
    assert_eq!(
        e.metadata.get("x-crash-reason").expect("error trailer"),
        "oom"
    );
    assert!(
        stream.trailers().is_none(),
        "a failed stream has no trailers"
    );
    expect_end_of_stream(&mut stream).await;
}

async fn idle_timeout(wire: Wire) {
    let server = TestServer::start().await;
    let idle = Duration::from_millis(300);
    let started = Instant::now();
    let mut stream = start(
        &server,
        wire,
        run("silent", &[]),
        CallOptions::new().idle_timeout(idle),
    )
    .await;
    expect_start(&mut stream).await;
    let err = stream.message().await.expect_err("idle timeout");
    let elapsed = started.elapsed();
    assert!(
        matches!(err, Error::Timeout { kind: TimeoutKind::Idle, after } if after == idle),
        "{err:?}"
    );
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(elapsed >= idle, "timed out early: {elapsed:?}");
    assert!(
        elapsed < idle + Duration::from_secs(3),
        "timed out late: {elapsed:?}"
    );
    // The stream is over after the timeout.
    assert!(matches!(stream.message().await, Ok(None)));
}

async fn keepalives_reset_idle_timer(wire: Wire) {
    let server = TestServer::start().await;
    // Sixteen keepalives 50 ms apart: 800 ms of keepalives only, far longer
    // than the 500 ms idle timeout, but never 500 ms of silence.
    let idle = Duration::from_millis(500);
    let mut stream = start(
        &server,
        wire,
        run("ticker", &["16", "50"]),
        CallOptions::new().idle_timeout(idle),
    )
    .await;
    expect_start(&mut stream).await;
    assert_eq!(
        next_event(&mut stream).await,
        Event::Data(DataEvent {
            output: Some(Output::Stdout(b"done".to_vec()))
        })
    );
    assert!(matches!(next_event(&mut stream).await, Event::End(_)));
    expect_end_of_stream(&mut stream).await;
}

async fn connect_stream(wire: Wire) {
    let server = TestServer::start().await;
    let client = process_client(&server, wire);
    let mut cat = client
        .start(run("cat", &[]), CallOptions::new())
        .await
        .expect("start");
    let pid = expect_start(&mut cat).await;

    let mut stream = client
        .connect(
            ConnectRequest {
                process: by_pid(pid),
            },
            CallOptions::new(),
        )
        .await
        .expect("connect");
    let first = stream.message().await.expect("message").expect("a message");
    assert_eq!(
        first.event.and_then(|e| e.event),
        Some(Event::Start(StartEvent { pid }))
    );
    expect_end_of_stream(&mut stream).await;

    let mut stream = client
        .connect(
            ConnectRequest {
                process: by_pid(pid + 1000),
            },
            CallOptions::new(),
        )
        .await
        .expect("connect");
    let err = stream.message().await.expect_err("no such process");
    assert_eq!(connect_error(&err).code, Code::NotFound);
}
