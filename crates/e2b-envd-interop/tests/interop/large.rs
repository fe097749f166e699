//! Messages well past the common 4 MiB limits, in both directions.

use e2b_envd::connect::{CallOptions, Code, Error};
use e2b_envd::process::process_event::{DataEvent, Event, data_event::Output};
use e2b_envd::process::process_input::Input;
use e2b_envd::process::{ProcessConfig, ProcessInput, SendInputRequest, StartRequest};
use e2b_envd_interop::TestServer;
use e2b_envd_interop::proto::process::__buffa::oneof::process_input::Input as ServerInput;

use crate::support::*;

wire_tests!(
    large_stream_message,
    large_unary_request,
    message_size_limits,
    compression_only_when_asked
);

/// Just past 4 MiB (a common default limit), and not a power of two.
const LARGE: usize = 4 * 1024 * 1024 + 3;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn run(cmd: &str, args: &[&str]) -> StartRequest {
    StartRequest {
        process: Some(ProcessConfig {
            cmd: cmd.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn large_stream_message(wire: Wire) {
    let server = TestServer::start().await;
    let mut stream = process_client(&server, wire)
        .start(run("big", &[&LARGE.to_string()]), CallOptions::new())
        .await
        .expect("start");
    expect_start(&mut stream).await;
    match next_event(&mut stream).await {
        Event::Data(DataEvent {
            output: Some(Output::Stdout(bytes)),
        }) => {
            assert_eq!(bytes.len(), LARGE);
            assert!(bytes == pattern(LARGE), "stdout bytes differ");
        }
        other => panic!(
            "expected stdout, got a different event: {:?}",
            std::mem::discriminant(&other)
        ),
    }
    assert!(matches!(next_event(&mut stream).await, Event::End(_)));
    expect_end_of_stream(&mut stream).await;
}

async fn large_unary_request(wire: Wire) {
    // A large SendInput comes back as one large stdout event of `cat`.
    let server = TestServer::start().await;
    let client = process_client(&server, wire);
    let mut stream = client
        .start(run("cat", &[]), CallOptions::new())
        .await
        .expect("start");
    let pid = expect_start(&mut stream).await;
    let stdin = pattern(LARGE);
    client
        .send_input(
            SendInputRequest {
                process: by_pid(pid),
                input: Some(ProcessInput {
                    input: Some(Input::Stdin(stdin.clone())),
                }),
            },
            CallOptions::new(),
        )
        .await
        .expect("send input");
    match next_event(&mut stream).await {
        Event::Data(DataEvent {
            output: Some(Output::Stdout(bytes)),
        }) => assert!(
            bytes == stdin,
            "echoed bytes differ ({} bytes)",
            bytes.len()
        ),
        other => panic!(
            "expected stdout, got a different event: {:?}",
            std::mem::discriminant(&other)
        ),
    }
    let seen = server.process().snapshot();
    let recorded = seen.inputs[0]
        .input
        .as_option()
        .and_then(|i| i.input.clone());
    assert!(
        matches!(recorded, Some(ServerInput::Stdin(b)) if b == stdin),
        "the server decoded different bytes"
    );
}

async fn message_size_limits(wire: Wire) {
    // Our client refuses a stream message above its limit.
    let server = TestServer::start().await;
    let client = e2b_envd::process::process_client::ProcessClient::new(
        connect_client(&server, wire).with_max_message_size(64 * 1024),
    );
    let mut stream = client
        .start(run("big", &[&(128 * 1024).to_string()]), CallOptions::new())
        .await
        .expect("start");
    expect_start(&mut stream).await;
    let err = stream.message().await.expect_err("too large");
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");

    // A server with a 64 KiB limit refuses a larger request with a Connect error.
    let server = TestServer::builder()
        .max_message_size(64 * 1024)
        .start()
        .await;
    let client = process_client(&server, wire);
    let mut stream = client
        .start(run("cat", &[]), CallOptions::new())
        .await
        .expect("start");
    let pid = expect_start(&mut stream).await;
    let err = client
        .send_input(
            SendInputRequest {
                process: by_pid(pid),
                input: Some(ProcessInput {
                    input: Some(Input::Stdin(pattern(128 * 1024))),
                }),
            },
            CallOptions::new(),
        )
        .await
        .expect_err("too large for the server");
    assert_eq!(connect_error(&err).code, Code::ResourceExhausted, "{err:?}");
}

async fn compression_only_when_asked(wire: Wire) {
    // The server can gzip (like envd), but our client never asks for it, so
    // the highly compressible stream above arrived uncompressed. Asking for it
    // by hand proves the server would have compressed, and that our client
    // refuses compressed frames rather than misreading them.
    let server = TestServer::start().await;
    let client = process_client(&server, wire);
    let big = run("big", &["100000"]);
    let mut stream = client
        .start(big.clone(), CallOptions::new())
        .await
        .expect("start");
    expect_start(&mut stream).await;
    assert!(matches!(next_event(&mut stream).await, Event::Data(_)));

    let asking = CallOptions::new().header(
        http::HeaderName::from_static("connect-accept-encoding"),
        http::HeaderValue::from_static("gzip"),
    );
    let mut stream = client.start(big, asking).await.expect("start");
    // The start event is too small to compress.
    expect_start(&mut stream).await;
    let err = stream.message().await.expect_err("compressed frame");
    assert!(
        matches!(&err, Error::Protocol(m) if m.contains("compressed")),
        "{err:?}"
    );
}
