//! The agent's `process.Process` service, driven by the generated client.

use std::collections::HashMap;
use std::time::Duration;

use e2b_envd::connect::{CallOptions, Code};
use e2b_envd::process::*;
use e2b_test_support::agent::*;
use futures_util::StreamExt;

fn config(cmd: &str, args: &[&str]) -> Option<ProcessConfig> {
    Some(ProcessConfig {
        cmd: cmd.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        envs: HashMap::new(),
        cwd: None,
    })
}

fn bash(script: &str) -> StartRequest {
    StartRequest {
        process: config("/bin/bash", &["-c", script]),
        stdin: Some(false),
        ..Default::default()
    }
}

fn start_event(r: StartResponse) -> Option<ProcessEvent> {
    r.event
}

fn connect_event(r: ConnectResponse) -> Option<ProcessEvent> {
    r.event
}

async fn run(agent: &TestAgent, request: StartRequest, options: CallOptions) -> Collected {
    let stream = agent.process().start(request, options).await.unwrap();
    collect(stream, start_event).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_stdout_and_stderr() {
    let agent = TestAgent::start().await;
    let c = run(
        &agent,
        bash("echo out; echo err >&2; echo more; exit 3"),
        CallOptions::new(),
    )
    .await;
    assert!(c.pid.unwrap() > 0);
    assert_eq!(c.stdout_text(), "out\nmore\n");
    assert_eq!(String::from_utf8_lossy(&c.stderr), "err\n");
    let end = c.end.unwrap();
    assert_eq!(end.exit_code, 3);
    assert!(end.exited);
    assert_eq!(end.status, "exit status 3");
    assert_eq!(end.error.as_deref(), Some("exit status 3"));

    let ok = run(&agent, bash("true"), CallOptions::new())
        .await
        .end
        .unwrap();
    assert_eq!(
        (ok.exit_code, ok.status.as_str(), ok.error),
        (0, "exit status 0", None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_output_arrives_in_order_and_in_bounded_chunks() {
    let agent = TestAgent::start().await;
    let c = run(&agent, bash("seq 1 100000"), CallOptions::new()).await;
    let expected: String = (1..=100_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(c.stdout_text(), expected);
    assert!(
        c.chunks.iter().all(|&n| n > 0 && n <= 32 * 1024),
        "{:?}",
        c.chunks
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_cwd_and_identity() {
    let agent = TestAgent::start().await;
    let home = agent.home.to_string_lossy().into_owned();

    let mut request = bash(
        "echo $HOME $USER $LOGNAME $SANDBOX_VAR $E2B_SANDBOX $EXTRA; pwd; id -u; id -G; test -n \"$PATH\" && echo path",
    );
    request.process.as_mut().unwrap().envs = HashMap::from([
        ("SANDBOX_VAR".into(), "from-request".into()),
        ("EXTRA".into(), "x".into()),
    ]);
    let c = run(&agent, request, CallOptions::new()).await;
    assert_eq!(
        c.stdout_text(),
        format!("{home} user user from-request true x\n{home}\n1000\n1000\npath\n")
    );

    let c = run(&agent, bash("id -u; echo $HOME"), as_user("root")).await;
    assert_eq!(
        c.stdout_text(),
        format!("0\n{}\n", agent.root_home.display())
    );

    std::fs::create_dir(agent.home.join("sub")).unwrap();
    let mut request = bash("pwd");
    request.process.as_mut().unwrap().cwd = Some("sub".into());
    assert_eq!(
        run(&agent, request, CallOptions::new()).await.stdout_text(),
        format!("{home}/sub\n")
    );

    let mut request = bash("pwd");
    request.process.as_mut().unwrap().cwd = Some("missing".into());
    let err = agent.process().start(request, CallOptions::new()).await;
    let err = match err {
        Ok(mut stream) => stream.next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        format!("cwd '{home}/missing' does not exist")
    );

    let err = match agent.process().start(bash("true"), as_user("nobody")).await {
        Ok(mut stream) => stream.next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(err.message(), "invalid username: 'nobody'");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_workdir_applies_when_no_cwd_is_given() {
    let agent = TestAgent::start_with(|c| c.default_workdir = "/tmp".into()).await;
    assert_eq!(
        run(&agent, bash("pwd"), CallOptions::new())
            .await
            .stdout_text(),
        "/tmp\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_command_fails_to_start() {
    let agent = TestAgent::start().await;
    let request = StartRequest {
        process: config("/definitely/not/here", &[]),
        ..Default::default()
    };
    let err = match agent.process().start(request, CallOptions::new()).await {
        Ok(mut stream) => stream.next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("error starting process"),
        "{}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_input_and_close() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    let request = StartRequest {
        process: config("/bin/cat", &[]),
        stdin: Some(true),
        ..Default::default()
    };
    let mut stream = client.start(request, CallOptions::new()).await.unwrap();
    let mut c = Collected::default();
    read_until(&mut stream, &mut c, start_event, |c| c.pid.is_some()).await;
    let p = c.pid.unwrap();

    let send = |data: &[u8], pty: bool| SendInputRequest {
        process: pid(p),
        input: Some(ProcessInput {
            input: Some(if pty {
                process_input::Input::Pty(data.to_vec())
            } else {
                process_input::Input::Stdin(data.to_vec())
            }),
        }),
    };
    client
        .send_input(send(b"hello\n", false), CallOptions::new())
        .await
        .unwrap();
    read_until(&mut stream, &mut c, start_event, |c| c.stdout == b"hello\n").await;

    let err = client
        .send_input(send(b"x", true), CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);

    client
        .close_stdin(CloseStdinRequest { process: pid(p) }, CallOptions::new())
        .await
        .unwrap();
    let c = finish(stream, c, start_event).await;
    assert_eq!(c.stdout, b"hello\n");
    assert_eq!(c.end.unwrap().exit_code, 0);

    // Without stdin the process reads end-of-file at once.
    let request = StartRequest {
        process: config("/bin/cat", &[]),
        stdin: Some(false),
        ..Default::default()
    };
    let c = run(&agent, request, CallOptions::new()).await;
    assert!(c.stdout.is_empty());
    assert_eq!(c.end.unwrap().exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_after_close_is_an_error() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    let request = StartRequest {
        process: config("/bin/sleep", &["30"]),
        stdin: Some(true),
        ..Default::default()
    };
    let mut stream = client.start(request, CallOptions::new()).await.unwrap();
    let mut c = Collected::default();
    read_until(&mut stream, &mut c, start_event, |c| c.pid.is_some()).await;
    let p = c.pid.unwrap();
    client
        .close_stdin(CloseStdinRequest { process: pid(p) }, CallOptions::new())
        .await
        .unwrap();
    let err = client
        .send_input(
            SendInputRequest {
                process: pid(p),
                input: Some(ProcessInput {
                    input: Some(process_input::Input::Stdin(b"late".to_vec())),
                }),
            },
            CallOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert!(
        err.message().contains("stdin not enabled or closed"),
        "{}",
        err.message()
    );
    client
        .send_signal(
            SendSignalRequest {
                process: pid(p),
                signal: Signal::Sigkill as i32,
            },
            CallOptions::new(),
        )
        .await
        .unwrap();
    assert!(finish(stream, c, start_event).await.end.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_input_feeds_stdin_in_order() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    let request = StartRequest {
        process: config("/bin/bash", &["-c", "head -c 9"]),
        stdin: Some(true),
        ..Default::default()
    };
    let mut stream = client.start(request, CallOptions::new()).await.unwrap();
    let mut c = Collected::default();
    read_until(&mut stream, &mut c, start_event, |c| c.pid.is_some()).await;
    let p = c.pid.unwrap();
    let data = |bytes: &[u8]| StreamInputRequest {
        event: Some(stream_input_request::Event::Data(
            stream_input_request::DataEvent {
                input: Some(ProcessInput {
                    input: Some(process_input::Input::Stdin(bytes.to_vec())),
                }),
            },
        )),
    };
    let messages = vec![
        StreamInputRequest {
            event: Some(stream_input_request::Event::Start(
                stream_input_request::StartEvent { process: pid(p) },
            )),
        },
        data(b"abc"),
        StreamInputRequest {
            event: Some(stream_input_request::Event::Keepalive(
                stream_input_request::KeepAlive {},
            )),
        },
        data(b"def"),
        data(b"ghi"),
    ];
    client
        .stream_input(futures_util::stream::iter(messages), CallOptions::new())
        .await
        .unwrap();
    let c = finish(stream, c, start_event).await;
    assert_eq!(c.stdout, b"abcdefghi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_reach_the_whole_group() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    // The background sleep holds stdout open: the stream can only end if the
    // signal reaches it too.
    let mut stream = client
        .start(bash("sleep 100 & echo started; wait"), CallOptions::new())
        .await
        .unwrap();
    let mut c = Collected::default();
    read_until(&mut stream, &mut c, start_event, |c| {
        c.stdout == b"started\n"
    })
    .await;
    let p = c.pid.unwrap();
    client
        .send_signal(
            SendSignalRequest {
                process: pid(p),
                signal: Signal::Sigterm as i32,
            },
            CallOptions::new(),
        )
        .await
        .unwrap();
    let end = finish(stream, c, start_event).await.end.unwrap();
    assert_eq!(end.status, "signal: terminated");
    assert_eq!((end.exit_code, end.exited), (-1, false));

    let err = client
        .send_signal(
            SendSignalRequest {
                process: pid(p),
                signal: Signal::Sigkill as i32,
            },
            CallOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), format!("process with pid {p} not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_the_process() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    let mut stream = client
        .start(bash("exec sleep 100"), CallOptions::new())
        .await
        .unwrap();
    let mut c = Collected::default();
    read_until(&mut stream, &mut c, start_event, |c| c.pid.is_some()).await;
    let p = c.pid.unwrap();
    let bad = client
        .send_signal(
            SendSignalRequest {
                process: pid(p),
                signal: Signal::Unspecified as i32,
            },
            CallOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::Unimplemented);
    client
        .send_signal(
            SendSignalRequest {
                process: pid(p),
                signal: Signal::Sigkill as i32,
            },
            CallOptions::new(),
        )
        .await
        .unwrap();
    let end = finish(stream, c, start_event).await.end.unwrap();
    assert_eq!(end.status, "signal: killed");
    assert_eq!(end.error.as_deref(), Some("signal: killed"));
    assert_eq!(end.exit_code, -1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_timeout_is_the_process_lifetime() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    let stream = client
        .start(
            bash("exec sleep 100"),
            CallOptions::new().timeout(Duration::from_millis(1500)),
        )
        .await
        .unwrap();
    let c = collect(stream, start_event).await;
    let p = c.pid.expect("the start event comes first");
    let err = c.error.expect("the stream ends with an error");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err}");

    // The process was killed: reconnecting shows its end.
    let stream = client
        .connect(ConnectRequest { process: pid(p) }, CallOptions::new())
        .await
        .unwrap();
    let c = collect(stream, connect_event).await;
    assert_eq!(c.pid, Some(p));
    assert_eq!(c.end.unwrap().status, "signal: killed");
}

/// Frames of a raw Connect server stream.
fn frames(mut body: &[u8]) -> Vec<(u8, serde_json::Value)> {
    let mut out = Vec::new();
    while body.len() >= 5 {
        let flags = body[0];
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let payload = &body[5..5 + len];
        out.push((flags, serde_json::from_slice(payload).unwrap()));
        body = &body[5 + len..];
    }
    assert!(body.is_empty(), "trailing bytes in the stream");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_fill_silences() {
    let agent = TestAgent::start().await;
    let message = serde_json::json!({
        "process": {"cmd": "/bin/bash", "args": ["-c", "sleep 2.5; echo done"]},
        "stdin": false
    });
    let payload = serde_json::to_vec(&message).unwrap();
    let mut body = vec![0u8];
    body.extend((payload.len() as u32).to_be_bytes());
    body.extend(payload);
    let response = reqwest::Client::new()
        .post(agent.url("/process.Process/Start"))
        .header("content-type", "application/connect+json")
        .header("connect-protocol-version", "1")
        .header("keepalive-ping-interval", "1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = tokio::time::timeout(PATIENCE, response.bytes())
        .await
        .unwrap()
        .unwrap();
    let frames = frames(&bytes);
    let kinds: Vec<String> = frames
        .iter()
        .map(|(flags, json)| {
            if flags & 2 != 0 {
                format!("eos:{json}")
            } else {
                json["event"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .next()
                    .unwrap()
                    .clone()
            }
        })
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("start"),
        "{kinds:?}"
    );
    let data_at = kinds.iter().position(|k| k == "data").expect("data");
    let keepalives = kinds[..data_at]
        .iter()
        .filter(|k| *k == "keepalive")
        .count();
    assert!(keepalives >= 1, "{kinds:?}");
    assert_eq!(&kinds[data_at + 1..], ["end", "eos:{}"], "{kinds:?}");
    assert_eq!(frames[data_at].1["event"]["data"]["stdout"], "ZG9uZQo=");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_keepalive_interval_is_harmless() {
    let agent = TestAgent::start().await;
    for interval in ["18446744073709551615", "9223372036854775807"] {
        let options = with_header(CallOptions::new(), "keepalive-ping-interval", interval);
        let c = run(&agent, bash("echo one; echo two >&2"), options).await;
        assert!(c.error.is_none(), "{interval}: {:?}", c.error);
        assert_eq!(c.stdout_text(), "one\n", "{interval}");
        assert_eq!(c.stderr, b"two\n", "{interval}");
        assert_eq!(c.end.map(|e| e.exit_code), Some(0), "{interval}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_answers_once_the_process_is_gone() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    for round in 0..5 {
        let request = StartRequest {
            process: config("/bin/sleep", &["100"]),
            pty: (round % 2 == 0).then_some(Pty {
                size: Some(pty::Size { cols: 80, rows: 24 }),
            }),
            ..Default::default()
        };
        let mut stream = client.start(request, CallOptions::new()).await.unwrap();
        let mut c = Collected::default();
        read_until(&mut stream, &mut c, start_event, |c| c.pid.is_some()).await;
        let p = c.pid.unwrap();
        client
            .send_signal(
                SendSignalRequest {
                    process: pid(p),
                    signal: Signal::Sigkill as i32,
                },
                CallOptions::new(),
            )
            .await
            .unwrap();
        // Reaped: no /proc entry (a zombie still has one), not listed.
        assert!(
            !std::path::Path::new(&format!("/proc/{p}")).exists(),
            "process {p} still exists after kill returned"
        );
        let list = client
            .list(ListRequest {}, CallOptions::new())
            .await
            .unwrap();
        assert!(
            list.processes.iter().all(|i| i.pid != p),
            "{p} still listed"
        );
        drop(stream);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pty_input_output_and_resize() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    let request = StartRequest {
        process: config(
            "/bin/bash",
            &[
                "-c",
                "echo term=$TERM; stty size; read line; echo got:$line; read; stty size; tty -s && echo tty",
            ],
        ),
        pty: Some(Pty {
            size: Some(pty::Size {
                cols: 100,
                rows: 30,
            }),
        }),
        ..Default::default()
    };
    let mut stream = client.start(request, CallOptions::new()).await.unwrap();
    let mut c = Collected::default();
    read_until(&mut stream, &mut c, start_event, |c| {
        c.pty_text().contains("30 100")
    })
    .await;
    assert!(
        c.pty_text().contains("term=xterm-256color"),
        "{}",
        c.pty_text()
    );
    assert!(c.stdout.is_empty() && c.stderr.is_empty());
    let p = c.pid.unwrap();

    let input = |bytes: &[u8]| SendInputRequest {
        process: pid(p),
        input: Some(ProcessInput {
            input: Some(process_input::Input::Pty(bytes.to_vec())),
        }),
    };
    client
        .send_input(input(b"hello\n"), CallOptions::new())
        .await
        .unwrap();
    read_until(&mut stream, &mut c, start_event, |c| {
        c.pty_text().contains("got:hello")
    })
    .await;

    let wrong = client
        .send_input(
            SendInputRequest {
                process: pid(p),
                input: Some(ProcessInput {
                    input: Some(process_input::Input::Stdin(b"x".to_vec())),
                }),
            },
            CallOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Internal);
    let close = client
        .close_stdin(CloseStdinRequest { process: pid(p) }, CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(close.code(), Code::Unknown);

    client
        .update(
            UpdateRequest {
                process: pid(p),
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
        .unwrap();
    client
        .send_input(input(b"\n"), CallOptions::new())
        .await
        .unwrap();
    let c = finish(stream, c, start_event).await;
    let text = c.pty_text();
    assert!(text.contains("40 120"), "{text}");
    assert!(text.contains("tty"), "{text}");
    assert_eq!(c.end.unwrap().exit_code, 0);
    assert!(c.chunks.iter().all(|&n| n <= 16 * 1024));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_replays_a_finished_process() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    let c = run(&agent, bash("echo hi; exit 7"), CallOptions::new()).await;
    let p = c.pid.unwrap();
    let stream = client
        .connect(ConnectRequest { process: pid(p) }, CallOptions::new())
        .await
        .unwrap();
    let replay = collect(stream, connect_event).await;
    assert_eq!(replay.pid, Some(p));
    assert!(replay.stdout.is_empty());
    let end = replay.end.unwrap();
    assert_eq!((end.exit_code, end.status.as_str()), (7, "exit status 7"));

    let err = match client
        .connect(
            ConnectRequest {
                process: pid(999_999),
            },
            CallOptions::new(),
        )
        .await
    {
        Ok(mut stream) => stream.next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_watchers_see_the_same_output() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    let request = StartRequest {
        process: config("/bin/bash", &["-c", "read x; echo got:$x"]),
        stdin: Some(true),
        tag: Some("echoer".into()),
        ..Default::default()
    };
    let mut owner = client.start(request, CallOptions::new()).await.unwrap();
    let mut c = Collected::default();
    read_until(&mut owner, &mut c, start_event, |c| c.pid.is_some()).await;
    let p = c.pid.unwrap();

    let mut by_pid = client
        .connect(ConnectRequest { process: pid(p) }, CallOptions::new())
        .await
        .unwrap();
    let mut by_tag = client
        .connect(
            ConnectRequest {
                process: tag("echoer"),
            },
            CallOptions::new(),
        )
        .await
        .unwrap();
    let mut a = Collected::default();
    let mut b = Collected::default();
    read_until(&mut by_pid, &mut a, connect_event, |c| c.pid.is_some()).await;
    read_until(&mut by_tag, &mut b, connect_event, |c| c.pid.is_some()).await;
    assert_eq!((a.pid, b.pid), (Some(p), Some(p)));

    client
        .send_input(
            SendInputRequest {
                process: tag("echoer"),
                input: Some(ProcessInput {
                    input: Some(process_input::Input::Stdin(b"ping\n".to_vec())),
                }),
            },
            CallOptions::new(),
        )
        .await
        .unwrap();
    let a = finish(by_pid, a, connect_event).await;
    let b = finish(by_tag, b, connect_event).await;
    let c = finish(owner, c, start_event).await;
    for seen in [a, b, c] {
        assert_eq!(seen.stdout, b"got:ping\n");
        assert_eq!(seen.end.unwrap().exit_code, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_running_processes_with_tags() {
    let agent = TestAgent::start().await;
    let client = agent.process();
    let request = StartRequest {
        process: config("/bin/sleep", &["100"]),
        tag: Some("server".into()),
        stdin: Some(false),
        ..Default::default()
    };
    let mut stream = client.start(request, CallOptions::new()).await.unwrap();
    let mut c = Collected::default();
    read_until(&mut stream, &mut c, start_event, |c| c.pid.is_some()).await;
    let p = c.pid.unwrap();

    let list = client
        .list(ListRequest {}, CallOptions::new())
        .await
        .unwrap();
    let info = list.processes.iter().find(|i| i.pid == p).expect("listed");
    assert_eq!(info.tag.as_deref(), Some("server"));
    let cfg = info.config.as_ref().unwrap();
    assert_eq!(
        (cfg.cmd.as_str(), cfg.args.as_slice()),
        ("/bin/sleep", &["100".to_string()][..])
    );

    client
        .send_signal(
            SendSignalRequest {
                process: tag("server"),
                signal: Signal::Sigkill as i32,
            },
            CallOptions::new(),
        )
        .await
        .unwrap();
    assert!(finish(stream, c, start_event).await.end.is_some());
    let list = client
        .list(ListRequest {}, CallOptions::new())
        .await
        .unwrap();
    assert!(list.processes.iter().all(|i| i.pid != p));
}
