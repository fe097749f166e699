//! Client streams (`Process/StreamInput`): every message arrives, in order,
//! and the single response or error comes back.

use std::time::Duration;

use e2b_envd::connect::{CallOptions, Code, Error, TimeoutKind};
use e2b_envd::process::process_event::{DataEvent, Event, data_event::Output};
use e2b_envd::process::process_input::Input;
use e2b_envd::process::stream_input_request::{
    DataEvent as InputData, Event as InputEvent, KeepAlive, StartEvent,
};
use e2b_envd::process::{ProcessConfig, ProcessInput, StartRequest, StreamInputRequest};
use e2b_envd_interop::{StreamInputStats, TestServer};
use futures_util::{StreamExt, stream};

use crate::support::*;

wire_tests!(stream_input_in_order, stream_input_errors);

fn input(i: Input) -> StreamInputRequest {
    StreamInputRequest {
        event: Some(InputEvent::Data(InputData {
            input: Some(ProcessInput { input: Some(i) }),
        })),
    }
}

fn start_event(pid: u32) -> StreamInputRequest {
    StreamInputRequest {
        event: Some(InputEvent::Start(StartEvent {
            process: by_pid(pid),
        })),
    }
}

fn run_cat() -> StartRequest {
    StartRequest {
        process: Some(ProcessConfig {
            cmd: "cat".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn stream_input_in_order(wire: Wire) {
    let server = TestServer::start().await;
    let client = process_client(&server, wire);
    let mut cat = client
        .start(run_cat(), CallOptions::new())
        .await
        .expect("start");
    let pid = expect_start(&mut cat).await;

    let chunk: Vec<u8> = (0..300_000).map(|i| (i % 7) as u8).collect();
    let requests = vec![
        start_event(pid),
        input(Input::Stdin(b"a".to_vec())),
        StreamInputRequest {
            event: Some(InputEvent::Keepalive(KeepAlive {})),
        },
        input(Input::Stdin(chunk.clone())),
        input(Input::Pty(b"p".to_vec())),
    ];
    client
        .stream_input(stream::iter(requests), CallOptions::new())
        .await
        .expect("stream input");

    for expected in [
        Output::Stdout(b"a".to_vec()),
        Output::Stdout(chunk.clone()),
        Output::Pty(b"p".to_vec()),
    ] {
        assert!(
            next_event(&mut cat).await
                == Event::Data(DataEvent {
                    output: Some(expected)
                }),
            "data out of order"
        );
    }

    let stats = &server.process().snapshot().stream_inputs;
    let mut data = b"a".to_vec();
    data.extend_from_slice(&chunk);
    data.extend_from_slice(b"p");
    assert_eq!(
        stats.as_slice(),
        [StreamInputStats {
            pid: Some(pid),
            messages: 5,
            data_messages: 3,
            keepalives: 1,
            data,
        }]
    );
    let call = &server.process().calls("StreamInput")[0];
    assert_eq!(
        call.headers["content-type"],
        wire.codec.stream_content_type()
    );
    assert_eq!(call.headers["connect-protocol-version"], "1");
}

async fn stream_input_errors(wire: Wire) {
    let server = TestServer::start().await;
    let client = process_client(&server, wire);

    let err = client
        .stream_input(
            stream::iter([input(Input::Stdin(b"x".to_vec()))]),
            CallOptions::new(),
        )
        .await
        .expect_err("data before start");
    let e = connect_error(&err);
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            Code::FailedPrecondition,
            "the first message must be a start event"
        )
    );

    let err = client
        .stream_input(stream::iter([start_event(999)]), CallOptions::new())
        .await
        .expect_err("no such process");
    let e = connect_error(&err);
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::NotFound, "process with pid 999 not found")
    );

    // An empty request stream is a complete, empty call.
    client
        .stream_input(
            stream::iter(Vec::<StreamInputRequest>::new()),
            CallOptions::new(),
        )
        .await
        .expect("empty stream");
    assert_eq!(
        server.process().snapshot().stream_inputs.last(),
        Some(&StreamInputStats::default())
    );
}

/// Generous bound on calls that must not hang (a guard, not a wait).
const HANG_GUARD: Duration = Duration::from_secs(10);

/// envd rejects a bad start event at once, while the caller's input stream is
/// still open: the error must come back rather than the call waiting for the
/// input to end.
async fn early_error_while_input_open(wire: Wire) {
    let server = TestServer::start().await;
    let requests = stream::iter([start_event(999)]).chain(stream::pending());
    let err = tokio::time::timeout(
        HANG_GUARD,
        process_client(&server, wire).stream_input(requests, CallOptions::new()),
    )
    .await
    .expect("the call hung while its input stream was open")
    .expect_err("no such process");
    let e = connect_error(&err);
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::NotFound, "process with pid 999 not found")
    );
}

/// An input stream that never ends is cut by the deadline.
async fn deadline_while_input_open(wire: Wire) {
    let server = TestServer::start().await;
    let client = process_client(&server, wire);
    let mut cat = client
        .start(run_cat(), CallOptions::new())
        .await
        .expect("start");
    let pid = expect_start(&mut cat).await;
    let requests = stream::iter([start_event(pid), input(Input::Stdin(b"x".to_vec()))])
        .chain(stream::pending());
    let timeout = Duration::from_millis(300);
    let err = tokio::time::timeout(
        HANG_GUARD,
        client.stream_input(requests, CallOptions::new().timeout(timeout)),
    )
    .await
    .expect("the deadline was not enforced")
    .expect_err("deadline");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(
        matches!(
            err,
            Error::Connect(_)
                | Error::Timeout {
                    kind: TimeoutKind::Call,
                    ..
                }
        ),
        "{err:?}"
    );
    // What was sent before the deadline was delivered.
    assert!(
        next_event(&mut cat).await
            == Event::Data(DataEvent {
                output: Some(Output::Stdout(b"x".to_vec()))
            })
    );
}

concurrent_wire_tests!(early_error_while_input_open, deadline_while_input_open);
