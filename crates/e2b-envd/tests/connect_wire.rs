//! Our Connect client against our Connect server over real HTTP/1.1 sockets:
//! framing, codecs, errors, deadlines, idle timeouts, keepalives.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2b_envd::connect::server::{RequestContext, RequestStream, ResponseStream};
use e2b_envd::connect::{CallOptions, Client, Code, Codec, ConnectError, Error, TimeoutKind};
use e2b_envd::process::process_client::ProcessClient;
use e2b_envd::process::process_server::{Process, ProcessServer};
use e2b_envd::process::*;
use futures_util::StreamExt;
use tokio::net::TcpListener;

#[derive(Default)]
struct Fake {
    stdin: Mutex<Vec<Vec<u8>>>,
}

fn event(e: process_event::Event) -> StartResponse {
    StartResponse {
        event: Some(ProcessEvent { event: Some(e) }),
    }
}

fn stdout(bytes: &[u8]) -> StartResponse {
    event(process_event::Event::Data(process_event::DataEvent {
        output: Some(process_event::data_event::Output::Stdout(bytes.to_vec())),
    }))
}

fn keepalive() -> StartResponse {
    event(process_event::Event::Keepalive(process_event::KeepAlive {}))
}

impl Process for Fake {
    async fn list(
        &self,
        ctx: RequestContext,
        _: ListRequest,
    ) -> Result<ListResponse, ConnectError> {
        // Report what the server saw, so the client side can check it.
        let timeout = ctx
            .timeout
            .map(|t| t.as_millis().to_string())
            .unwrap_or_default();
        Ok(ListResponse {
            processes: vec![ProcessInfo {
                config: Some(ProcessConfig {
                    cmd: "/bin/bash".into(),
                    args: vec!["-l".into()],
                    envs: HashMap::from([("timeout_ms".into(), timeout)]),
                    cwd: Some("/home/user".into()),
                }),
                pid: 42,
                tag: Some(format!("{:?}", ctx.codec)),
            }],
        })
    }

    async fn connect(
        &self,
        _: RequestContext,
        request: ConnectRequest,
    ) -> Result<ResponseStream<ConnectResponse>, ConnectError> {
        let pid = match request.process.and_then(|p| p.selector) {
            Some(process_selector::Selector::Pid(pid)) => pid,
            _ => return Err(ConnectError::new(Code::InvalidArgument, "pid required")),
        };
        if pid == 1 {
            // Never answers: exercises the server-side deadline.
            std::future::pending::<()>().await;
        }
        Err(ConnectError::new(
            Code::NotFound,
            format!("process with pid {pid} not found"),
        ))
    }

    async fn start(
        &self,
        _: RequestContext,
        request: StartRequest,
    ) -> Result<ResponseStream<StartResponse>, ConnectError> {
        let cmd = request.process.map(|p| p.cmd).unwrap_or_default();
        let items: Vec<Result<StartResponse, ConnectError>> = match cmd.as_str() {
            "ok" => vec![
                Ok(event(process_event::Event::Start(
                    process_event::StartEvent { pid: 7 },
                ))),
                Ok(keepalive()),
                Ok(stdout(b"one")),
                Ok(keepalive()),
                Ok(stdout(b"two")),
                Ok(event(process_event::Event::End(process_event::EndEvent {
                    exit_code: 3,
                    exited: true,
                    status: "exit status 3".into(),
                    error: None,
                }))),
            ],
            "fail-midway" => vec![
                Ok(stdout(b"partial")),
                Err(ConnectError::new(Code::Internal, "broke midway")),
            ],
            "large" => vec![Ok(stdout(&vec![0xA5; 5 * 1024 * 1024]))],
            "silent" => {
                let first = futures_util::stream::iter([Ok(stdout(b"hello"))]);
                return Ok(Box::pin(first.chain(futures_util::stream::pending())));
            }
            _ => {
                return Err(ConnectError::new(
                    Code::InvalidArgument,
                    format!("bad command {cmd}"),
                ));
            }
        };
        Ok(Box::pin(futures_util::stream::iter(items)))
    }

    async fn update(
        &self,
        _: RequestContext,
        _: UpdateRequest,
    ) -> Result<UpdateResponse, ConnectError> {
        Ok(UpdateResponse {})
    }

    async fn stream_input(
        &self,
        _: RequestContext,
        mut requests: RequestStream<StreamInputRequest>,
    ) -> Result<StreamInputResponse, ConnectError> {
        while let Some(r) = requests.next().await {
            if let Some(stream_input_request::Event::Data(d)) = r?.event
                && let Some(ProcessInput {
                    input: Some(process_input::Input::Stdin(b)),
                }) = d.input
            {
                self.stdin.lock().unwrap().push(b);
            }
        }
        Ok(StreamInputResponse {})
    }

    async fn send_input(
        &self,
        _: RequestContext,
        request: SendInputRequest,
    ) -> Result<SendInputResponse, ConnectError> {
        if let Some(ProcessInput {
            input: Some(process_input::Input::Stdin(b)),
        }) = request.input
        {
            self.stdin.lock().unwrap().push(b);
        }
        Ok(SendInputResponse {})
    }

    async fn send_signal(
        &self,
        _: RequestContext,
        request: SendSignalRequest,
    ) -> Result<SendSignalResponse, ConnectError> {
        Err(ConnectError::new(
            Code::NotFound,
            format!(
                "process {:?} not found ({})",
                request.process.as_ref().and_then(|p| p.selector.as_ref()),
                request.signal().as_str_name()
            ),
        ))
    }

    async fn close_stdin(
        &self,
        _: RequestContext,
        _: CloseStdinRequest,
    ) -> Result<CloseStdinResponse, ConnectError> {
        Ok(CloseStdinResponse {})
    }
}

/// Serve `server` on a loopback port; the task ends with the test runtime.
async fn serve(fake: Arc<Fake>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = ProcessServer::from_arc(fake);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let server = server.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.call(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

async fn client(codec: Codec) -> (ProcessClient, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let url = serve(fake.clone()).await;
    let connect = Client::new(reqwest::Client::new(), url).with_codec(codec);
    (ProcessClient::new(connect), fake)
}

const CODECS: [Codec; 2] = [Codec::Json, Codec::Proto];

fn start(cmd: &str) -> StartRequest {
    StartRequest {
        process: Some(ProcessConfig {
            cmd: cmd.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn unary_round_trip_and_timeout_header() {
    for codec in CODECS {
        let (c, _) = client(codec).await;
        let r = c
            .list(
                ListRequest {},
                CallOptions::new().timeout(Duration::from_millis(1500)),
            )
            .await
            .unwrap();
        let p = &r.processes[0];
        assert_eq!(p.pid, 42);
        assert_eq!(p.tag.as_deref(), Some(format!("{codec:?}").as_str()));
        let config = p.config.as_ref().unwrap();
        assert_eq!(config.cwd.as_deref(), Some("/home/user"));
        assert_eq!(config.envs["timeout_ms"], "1500");
    }
}

#[tokio::test]
async fn unary_error_carries_code_and_message() {
    for codec in CODECS {
        let (c, _) = client(codec).await;
        let err = c
            .send_signal(
                SendSignalRequest {
                    process: Some(ProcessSelector {
                        selector: Some(process_selector::Selector::Pid(9)),
                    }),
                    signal: Signal::Sigkill as i32,
                },
                CallOptions::new(),
            )
            .await
            .unwrap_err();
        let Error::Connect(e) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(e.code, Code::NotFound);
        assert!(e.message.contains("SIGNAL_SIGKILL"), "{}", e.message);
        assert!(!err.is_transport());
    }
}

#[tokio::test]
async fn server_stream_skips_keepalives_and_ends_cleanly() {
    for codec in CODECS {
        let (c, _) = client(codec).await;
        let mut s = c.start(start("ok"), CallOptions::new()).await.unwrap();
        let mut kinds = Vec::new();
        while let Some(m) = s.message().await.unwrap() {
            match m.event.unwrap().event.unwrap() {
                process_event::Event::Start(s) => kinds.push(format!("start {}", s.pid)),
                process_event::Event::Data(d) => match d.output.unwrap() {
                    process_event::data_event::Output::Stdout(b) => {
                        kinds.push(String::from_utf8(b).unwrap())
                    }
                    other => panic!("{other:?}"),
                },
                process_event::Event::End(e) => kinds.push(format!("end {}", e.exit_code)),
                process_event::Event::Keepalive(_) => panic!("keepalive leaked to the caller"),
            }
        }
        assert_eq!(kinds, ["start 7", "one", "two", "end 3"]);
        assert!(s.trailers().is_some());
    }
}

#[tokio::test]
async fn stream_errors_before_and_during() {
    for codec in CODECS {
        let (c, _) = client(codec).await;
        // Before the first message: the call succeeds, the first item is the error.
        let mut s = c.start(start("nope"), CallOptions::new()).await.unwrap();
        let err = s.message().await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            s.message().await.unwrap().is_none(),
            "stream is over after its error"
        );

        let mut s = c
            .start(start("fail-midway"), CallOptions::new())
            .await
            .unwrap();
        assert!(s.message().await.unwrap().is_some());
        let err = s.message().await.unwrap_err();
        assert_eq!(err.as_connect().unwrap().message, "broke midway");
    }
}

#[tokio::test]
async fn large_messages_both_ways() {
    for codec in CODECS {
        let (c, fake) = client(codec).await;
        let mut s = c.start(start("large"), CallOptions::new()).await.unwrap();
        let m = s.message().await.unwrap().unwrap();
        let Some(process_event::Event::Data(d)) = m.event.unwrap().event else {
            panic!()
        };
        let Some(process_event::data_event::Output::Stdout(b)) = d.output else {
            panic!()
        };
        assert_eq!(b.len(), 5 * 1024 * 1024);
        assert!(b.iter().all(|&x| x == 0xA5));

        let big: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        c.send_input(
            SendInputRequest {
                process: None,
                input: Some(ProcessInput {
                    input: Some(process_input::Input::Stdin(big.clone())),
                }),
            },
            CallOptions::new(),
        )
        .await
        .unwrap();
        assert_eq!(fake.stdin.lock().unwrap().pop().unwrap(), big);
    }
}

#[tokio::test]
async fn server_deadline_reaches_the_client_as_deadline_exceeded() {
    for codec in CODECS {
        let (c, _) = client(codec).await;
        let req = ConnectRequest {
            process: Some(ProcessSelector {
                selector: Some(process_selector::Selector::Pid(1)),
            }),
        };
        let mut s = c
            .connect(req, CallOptions::new().timeout(Duration::from_millis(200)))
            .await
            .unwrap();
        let err = s.message().await.unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
        assert!(
            err.as_connect().is_some(),
            "the server's own error wins: {err:?}"
        );
    }
}

#[tokio::test]
async fn silent_stream_hits_the_idle_timeout() {
    let (c, _) = client(Codec::Json).await;
    let idle = Duration::from_millis(200);
    let started = tokio::time::Instant::now();
    let mut s = c
        .start(start("silent"), CallOptions::new().idle_timeout(idle))
        .await
        .unwrap();
    assert!(s.message().await.unwrap().is_some());
    let err = s.message().await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { kind: TimeoutKind::Idle, after } if after == idle),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn client_stream_delivers_every_message() {
    for codec in CODECS {
        let (c, fake) = client(codec).await;
        let inputs = (0..5u8).map(|i| StreamInputRequest {
            event: Some(stream_input_request::Event::Data(
                stream_input_request::DataEvent {
                    input: Some(ProcessInput {
                        input: Some(process_input::Input::Stdin(vec![i; 3])),
                    }),
                },
            )),
        });
        c.stream_input(tokio_stream::iter(inputs), CallOptions::new())
            .await
            .unwrap();
        let got = fake.stdin.lock().unwrap().clone();
        assert_eq!(got, (0..5u8).map(|i| vec![i; 3]).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn unknown_method_and_wrong_content_type() {
    let (c, _) = client(Codec::Json).await;
    let http = reqwest::Client::new();
    let base = c.inner().base_url().to_owned();
    let r = http
        .post(format!("{base}/process.Process/Nope"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unimplemented");

    let r = http
        .post(format!("{base}/process.Process/List"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    let r = http
        .post(format!("{base}/process.Process/List"))
        .header("content-type", "application/json")
        .header("connect-timeout-ms", "soon")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// A peer that sends half a stream and hangs up: a transport error, not a
/// clean end.
#[tokio::test]
async fn connection_dropped_mid_stream_is_a_transport_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let frame =
            e2b_envd::connect::envelope::encode(0, br#"{"event":{"start":{"pid":5}}}"#).unwrap();
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/connect+json\r\ntransfer-encoding: chunked\r\n\r\n";
        let chunk = format!("{:x}\r\n", frame.len());
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.write_all(chunk.as_bytes()).await.unwrap();
        sock.write_all(&frame).await.unwrap();
        sock.write_all(b"\r\n").await.unwrap();
        sock.shutdown().await.unwrap();
    });
    let c = ProcessClient::new(Client::new(
        reqwest::Client::new(),
        format!("http://{addr}"),
    ));
    let mut s = c.start(start("x"), CallOptions::new()).await.unwrap();
    assert!(s.message().await.unwrap().is_some());
    let err = s.message().await.unwrap_err();
    assert!(err.is_transport(), "{err:?}");
}
