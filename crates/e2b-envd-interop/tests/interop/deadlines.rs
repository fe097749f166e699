//! `Connect-Timeout-Ms`: the server sees it and enforces it; our client
//! enforces it too, on unary calls and on streams. Handlers that must outlive
//! the deadline wait on futures that never complete.

use std::time::{Duration, Instant};

use e2b_envd::connect::{CallOptions, Code, Error, TimeoutKind};
use e2b_envd::process::{ListRequest, ProcessConfig, StartRequest, UpdateRequest};
use e2b_envd_interop::TestServer;

use crate::support::*;

wire_tests!(huge_deadlines_mean_no_deadline);
concurrent_wire_tests!(
    unary_deadline_enforced_by_server,
    unary_deadline_enforced_by_client,
    stream_deadline_enforced_by_client,
    stream_handler_past_deadline,
);

fn hang_update() -> UpdateRequest {
    UpdateRequest {
        process: by_tag("hang"),
        pty: None,
    }
}

fn run(cmd: &str) -> StartRequest {
    StartRequest {
        process: Some(ProcessConfig {
            cmd: cmd.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn unary_deadline_enforced_by_server(wire: Wire) {
    let server = TestServer::start().await;
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = process_client(&server, wire)
        .update(hang_update(), CallOptions::new().timeout(timeout))
        .await
        .expect_err("deadline");
    // connectrpc answers `deadline_exceeded` when the deadline passes; our
    // client gives the server a grace period before timing out itself, so
    // either may report it, never anything else.
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
    assert!(started.elapsed() >= timeout);

    let call = &server.process().calls("Update")[0];
    assert_eq!(call.headers["connect-timeout-ms"], "300");
    let remaining = call.time_remaining.expect("the server parsed a deadline");
    assert!(remaining <= timeout, "{remaining:?}");
}

async fn unary_deadline_enforced_by_client(wire: Wire) {
    // The server raises short deadlines to a minute, so only our client can
    // end the call.
    let server = TestServer::builder()
        .min_deadline(Duration::from_secs(60))
        .start()
        .await;
    let timeout = Duration::from_millis(200);
    let started = Instant::now();
    let err = process_client(&server, wire)
        .update(hang_update(), CallOptions::new().timeout(timeout))
        .await
        .expect_err("deadline");
    assert!(
        matches!(err, Error::Timeout { kind: TimeoutKind::Call, after } if after == timeout),
        "{err:?}"
    );
    assert!(started.elapsed() >= timeout);
    let call = &server.process().calls("Update")[0];
    assert_eq!(call.headers["connect-timeout-ms"], "200");
    assert!(call.time_remaining.expect("deadline") > Duration::from_secs(30));
}

async fn stream_deadline_enforced_by_client(wire: Wire) {
    // connectrpc does not bound response streams by default: the stream stays
    // silent past the deadline and our client ends it.
    let server = TestServer::start().await;
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let mut stream = process_client(&server, wire)
        .start(run("silent"), CallOptions::new().timeout(timeout))
        .await
        .expect("start");
    expect_start(&mut stream).await;
    let err = stream.message().await.expect_err("deadline");
    assert!(
        matches!(err, Error::Timeout { kind: TimeoutKind::Call, after } if after == timeout),
        "{err:?}"
    );
    assert!(started.elapsed() >= timeout);
    assert!(matches!(stream.message().await, Ok(None)));
    let call = &server.process().calls("Start")[0];
    assert_eq!(call.headers["connect-timeout-ms"], "300");
}

async fn stream_handler_past_deadline(wire: Wire) {
    // The handler never returns: the server ends the call with
    // `deadline_exceeded` (or, failing that, our client does).
    let server = TestServer::start().await;
    let timeout = Duration::from_millis(300);
    let result = process_client(&server, wire)
        .start(run("hang"), CallOptions::new().timeout(timeout))
        .await;
    let err = match result {
        Err(err) => err,
        Ok(mut stream) => stream.message().await.expect_err("deadline"),
    };
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
}

/// `Duration::MAX` (a natural way to say "no limit") is capped on the wire and
/// never overflows locally.
async fn huge_deadlines_mean_no_deadline(wire: Wire) {
    let server = TestServer::start().await;
    let client = process_client(&server, wire);
    let forever = CallOptions::new()
        .timeout(Duration::MAX)
        .idle_timeout(Duration::MAX);
    client
        .list(ListRequest::default(), forever.clone())
        .await
        .expect("list");
    let mut stream = client
        .start(
            StartRequest {
                process: Some(ProcessConfig {
                    cmd: "seq".into(),
                    args: vec!["2".into(), "0".into()],
                    ..Default::default()
                }),
                ..Default::default()
            },
            forever,
        )
        .await
        .expect("start");
    let mut count = 0;
    while stream.message().await.expect("message").is_some() {
        count += 1;
    }
    assert_eq!(count, 4, "start, two data events, end");
    for method in ["List", "Start"] {
        let call = &server.process().calls(method)[0];
        assert_eq!(call.headers["connect-timeout-ms"], "9999999999");
    }
}
