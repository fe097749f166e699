//! Unary calls: fields round-trip in both directions, errors keep their code,
//! message, details and metadata, and the request headers are what a Connect
//! server expects.

use std::collections::HashMap;

use base64::Engine as _;
use e2b_envd::connect::{CallOptions, Code};
use e2b_envd::process::process_event::{DataEvent, EndEvent, Event, data_event::Output};
use e2b_envd::process::process_input::Input;
use e2b_envd::process::process_selector::Selector;
use e2b_envd::process::{
    CloseStdinRequest, ListRequest, ListResponse, ProcessConfig, ProcessInfo, ProcessInput,
    ProcessSelector, Pty, SendInputRequest, SendSignalRequest, Signal, StartRequest, UpdateRequest,
    pty,
};
use e2b_envd_interop::TestServer;
use e2b_envd_interop::proto::process as srv;
use prost::Message as _;

use crate::support::*;

wire_tests!(
    list_round_trips_fields,
    input_signal_and_update,
    errors_keep_code_message_details_and_metadata
);

/// Error-detail values are base64 with or without padding (connectrpc sends
/// none).
const B64_ANY_PADDING: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

async fn list_round_trips_fields(wire: Wire) {
    let server = TestServer::start().await;
    let client = process_client(&server, wire);

    // Strings with non-ASCII and JSON-special characters, an empty repeated
    // element, a map with awkward keys and empty values, an optional string set
    // to "" (present, unlike unset) and an optional bool set to false.
    let full = ProcessConfig {
        cmd: "cat".into(),
        args: vec![
            "-n".into(),
            "ünïcode ✓ \"quoted\" \\ \u{1}".into(),
            String::new(),
        ],
        envs: HashMap::from([
            ("PATH".into(), "/usr/bin:/bin".into()),
            ("EMPTY".into(), String::new()),
            ("WEIRD KEY=1".into(), "a=b;c\n\"x\"".into()),
        ]),
        cwd: Some(String::new()),
    };
    let bare = ProcessConfig {
        cmd: "cat".into(),
        ..Default::default()
    };
    let mut a = client
        .start(
            StartRequest {
                process: Some(full.clone()),
                pty: Some(Pty {
                    size: Some(pty::Size { cols: 80, rows: 24 }),
                }),
                tag: Some("tag-a".into()),
                stdin: Some(true),
            },
            CallOptions::new(),
        )
        .await
        .expect("start a");
    let pid_a = expect_start(&mut a).await;
    let mut b = client
        .start(
            StartRequest {
                process: Some(bare.clone()),
                pty: None,
                tag: None,
                stdin: Some(false),
            },
            CallOptions::new(),
        )
        .await
        .expect("start b");
    let pid_b = expect_start(&mut b).await;
    assert_ne!(pid_a, pid_b);

    let list = client
        .list(ListRequest::default(), CallOptions::new())
        .await
        .expect("list");
    assert_eq!(
        list,
        ListResponse {
            processes: vec![
                ProcessInfo {
                    config: Some(full),
                    pid: pid_a,
                    tag: Some("tag-a".into()),
                },
                ProcessInfo {
                    config: Some(bare),
                    pid: pid_b,
                    tag: None,
                },
            ],
        }
    );

    // What the server decoded from our Start requests.
    let seen = server.process().snapshot();
    let (sa, sb) = (&seen.starts[0], &seen.starts[1]);
    assert_eq!(sa.stdin, Some(true));
    assert_eq!(sa.tag.as_deref(), Some("tag-a"));
    let size = sa
        .pty
        .as_option()
        .and_then(|p| p.size.as_option())
        .expect("pty size");
    assert_eq!((size.cols, size.rows), (80, 24));
    assert_eq!(
        sa.process.as_option().and_then(|p| p.cwd.as_deref()),
        Some("")
    );
    assert_eq!(sb.stdin, Some(false), "an explicit false must stay present");
    assert!(sb.pty.as_option().is_none());
    assert_eq!(sb.tag, None);
    assert_eq!(sb.process.as_option().and_then(|p| p.cwd.clone()), None);

    // The headers of our unary and streaming requests.
    let list_call = &server.process().calls("List")[0];
    assert_eq!(
        list_call.headers["content-type"],
        wire.codec.unary_content_type()
    );
    assert_eq!(list_call.headers["connect-protocol-version"], "1");
    assert!(list_call.headers.get("connect-timeout-ms").is_none());
    let start_call = &server.process().calls("Start")[0];
    assert_eq!(
        start_call.headers["content-type"],
        wire.codec.stream_content_type()
    );
    assert_eq!(start_call.headers["connect-protocol-version"], "1");
    if wire.is_json() {
        let wire = list_call.wire_body.as_ref().expect("unary body");
        let body: serde_json::Value = serde_json::from_slice(wire).expect("JSON list body");
        assert_eq!(body, serde_json::json!({}));
    }

    // Close one by tag, one by pid; both streams end with an end event.
    client
        .close_stdin(
            CloseStdinRequest {
                process: by_tag("tag-a"),
            },
            CallOptions::new(),
        )
        .await
        .expect("close a");
    client
        .close_stdin(
            CloseStdinRequest {
                process: by_pid(pid_b),
            },
            CallOptions::new(),
        )
        .await
        .expect("close b");
    for stream in [&mut a, &mut b] {
        assert_eq!(
            next_event(stream).await,
            Event::End(EndEvent {
                exit_code: 0,
                exited: true,
                status: "exit status 0".into(),
                error: None,
            })
        );
        expect_end_of_stream(stream).await;
    }
    let list = client
        .list(ListRequest::default(), CallOptions::new())
        .await
        .expect("list");
    assert!(list.processes.is_empty());
}

async fn input_signal_and_update(wire: Wire) {
    let server = TestServer::start().await;
    let client = process_client(&server, wire);
    let mut stream = client
        .start(
            StartRequest {
                process: Some(ProcessConfig {
                    cmd: "cat".into(),
                    ..Default::default()
                }),
                tag: Some("t".into()),
                ..Default::default()
            },
            CallOptions::new(),
        )
        .await
        .expect("start");
    let pid = expect_start(&mut stream).await;

    // Bytes that are not UTF-8 (base64 in JSON).
    let stdin = b"\x00\x01binary\xff\xfe\n".to_vec();
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
        .expect("send stdin");
    assert_eq!(
        next_event(&mut stream).await,
        Event::Data(DataEvent {
            output: Some(Output::Stdout(stdin.clone()))
        })
    );
    client
        .send_input(
            SendInputRequest {
                process: by_tag("t"),
                input: Some(ProcessInput {
                    input: Some(Input::Pty(vec![4])),
                }),
            },
            CallOptions::new(),
        )
        .await
        .expect("send pty");
    assert_eq!(
        next_event(&mut stream).await,
        Event::Data(DataEvent {
            output: Some(Output::Pty(vec![4]))
        })
    );

    client
        .update(
            UpdateRequest {
                process: by_tag("t"),
                pty: Some(Pty {
                    size: Some(pty::Size {
                        cols: 120,
                        rows: 40,
                    }),
                }),
            },
            CallOptions::new(),
        )
        .await
        .expect("update");

    client
        .send_signal(
            SendSignalRequest {
                process: by_pid(pid),
                signal: Signal::Sigkill as i32,
            },
            CallOptions::new(),
        )
        .await
        .expect("signal");
    // The server names the signal it decoded; exit code is a negative sint32.
    assert_eq!(
        next_event(&mut stream).await,
        Event::End(EndEvent {
            exit_code: -1,
            exited: false,
            status: "signal: SIGNAL_SIGKILL".into(),
            error: Some("killed by SIGNAL_SIGKILL".into()),
        })
    );
    expect_end_of_stream(&mut stream).await;

    let seen = server.process().snapshot();
    assert_eq!(seen.signals.len(), 1);
    assert_eq!(seen.signals[0].signal, srv::Signal::SIGNAL_SIGKILL);
    let update = &seen.updates[0];
    let size = update
        .pty
        .as_option()
        .and_then(|p| p.size.as_option())
        .expect("pty size");
    assert_eq!((size.cols, size.rows), (120, 40));

    if wire.is_json() {
        // ProtoJSON on the wire: enums by name, bytes as standard base64,
        // field names in lowerCamelCase.
        let body = |method: &str, i: usize| -> serde_json::Value {
            let wire = server.process().calls(method)[i]
                .wire_body
                .clone()
                .expect("unary body");
            serde_json::from_slice(&wire).expect("JSON body")
        };
        assert_eq!(
            body("SendSignal", 0),
            serde_json::json!({"process": {"pid": pid}, "signal": "SIGNAL_SIGKILL"})
        );
        assert_eq!(
            body("SendInput", 0),
            serde_json::json!({
                "process": {"pid": pid},
                "input": {"stdin": base64::engine::general_purpose::STANDARD.encode(&stdin)}
            })
        );
        assert_eq!(
            body("Update", 0),
            serde_json::json!({"process": {"tag": "t"}, "pty": {"size": {"cols": 120, "rows": 40}}})
        );
    }
}

async fn errors_keep_code_message_details_and_metadata(wire: Wire) {
    let server = TestServer::start().await;
    let client = process_client(&server, wire);

    let err = client
        .send_input(
            SendInputRequest {
                process: by_pid(4242),
                input: None,
            },
            CallOptions::new(),
        )
        .await
        .expect_err("no such process");
    let e = connect_error(&err);
    assert_eq!(e.code, Code::NotFound);
    assert_eq!(e.message, "process with pid 4242 not found");
    assert_eq!(
        e.metadata.get("x-fake-lookup").expect("error header"),
        "pid 4242"
    );
    assert_eq!(e.details.len(), 1, "{:?}", e.details);
    assert_eq!(e.details[0]["type"], "process.ProcessSelector");
    let value = B64_ANY_PADDING
        .decode(e.details[0]["value"].as_str().expect("detail value"))
        .expect("base64 detail");
    assert_eq!(
        ProcessSelector::decode(value.as_slice()).expect("detail message"),
        ProcessSelector {
            selector: Some(Selector::Pid(4242))
        }
    );

    let err = client
        .close_stdin(
            CloseStdinRequest {
                process: by_tag("nope"),
            },
            CallOptions::new(),
        )
        .await
        .expect_err("no such tag");
    let e = connect_error(&err);
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::NotFound, "process with tag nope not found")
    );

    let err = client
        .close_stdin(CloseStdinRequest::default(), CallOptions::new())
        .await
        .expect_err("no selector");
    let e = connect_error(&err);
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::InvalidArgument, "a process selector is required")
    );

    // A method the server does not have.
    let err = connect_client(&server, wire)
        .unary::<ListRequest, ListResponse>(
            "/process.Process/Nope",
            ListRequest::default(),
            CallOptions::new(),
        )
        .await
        .expect_err("unknown method");
    assert_eq!(connect_error(&err).code, Code::Unimplemented, "{err:?}");
}
