//! The `/execute` NDJSON stream and the error paths, against an in-process stub of the
//! code-interpreter server (framing, keepalives, unknown types, split lines, a missing end
//! marker, invalid UTF-8, statuses, deadlines, request shape).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use e2b_code_interpreter::{
    Client, CodeInterpreter, ConnectionConfig, ContextOptions, OutputEvent, RunCodeOptions,
    TimeoutKind,
};
use futures_util::StreamExt as _;

/// What the stub answers to `/execute`: a status and body chunks, each after a delay.
#[derive(Clone, Default)]
struct Script {
    status: u16,
    chunks: Vec<(Duration, Vec<u8>)>,
}

#[derive(Clone, Default)]
struct Stub {
    script: Arc<Mutex<Script>>,
    health: Arc<Mutex<u16>>,
    requests: Arc<Mutex<Vec<(String, HeaderMap, String)>>>,
}

impl Stub {
    fn answer(&self, status: u16, chunks: Vec<(u64, &[u8])>) {
        *self.script.lock().unwrap() = Script {
            status,
            chunks: chunks
                .into_iter()
                .map(|(ms, b)| (Duration::from_millis(ms), b.to_vec()))
                .collect(),
        };
    }

    fn requests(&self) -> Vec<(String, HeaderMap, String)> {
        self.requests.lock().unwrap().clone()
    }
}

async fn execute(State(stub): State<Stub>, headers: HeaderMap, body: String) -> Response {
    stub.requests
        .lock()
        .unwrap()
        .push(("/execute".into(), headers, body));
    let script = stub.script.lock().unwrap().clone();
    let stream = futures_util::stream::unfold(script.chunks.into_iter(), |mut chunks| async {
        let (delay, bytes) = chunks.next()?;
        tokio::time::sleep(delay).await;
        Some((Ok::<_, Infallible>(Bytes::from(bytes)), chunks))
    });
    Response::builder()
        .status(script.status)
        .body(Body::from_stream(stream))
        .unwrap()
}

async fn health(State(stub): State<Stub>) -> Response {
    let status = *stub.health.lock().unwrap();
    (StatusCode::from_u16(status).unwrap(), "").into_response()
}

async fn contexts(
    State(stub): State<Stub>,
    uri: axum::http::Uri,
    method: axum::http::Method,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = format!("{method} {}", uri.path());
    stub.requests
        .lock()
        .unwrap()
        .push((path.clone(), headers, body));
    match path.as_str() {
        "POST /contexts" => (
            StatusCode::OK,
            r#"{"id": "k1", "language": "python", "cwd": "/tmp", "new": 1}"#,
        )
            .into_response(),
        "GET /contexts" => (
            StatusCode::OK,
            r#"[{"id": "k1", "language": "python", "cwd": "/tmp"}, {"id": "k2"}]"#,
        )
            .into_response(),
        "POST /contexts/k1/restart" | "DELETE /contexts/k1" => {
            (StatusCode::OK, "null").into_response()
        }
        _ => (StatusCode::NOT_FOUND, "Context missing not found").into_response(),
    }
}

async fn start() -> (Stub, CodeInterpreter) {
    let stub = Stub::default();
    *stub.health.lock().unwrap() = 200;
    let app = Router::new()
        .route("/execute", post(execute))
        .route("/health", get(health))
        .route("/contexts", any(contexts))
        .route("/contexts/{*rest}", any(contexts))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // Debug mode: no control plane; every port of the sandbox at the URL override.
    let config = ConnectionConfig::builder()
        .debug(true)
        .sandbox_url(format!("http://{addr}"))
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let client = Client::new(config).unwrap();
    let interpreter = CodeInterpreter::connect(&client, "sbx1").await.unwrap();
    (stub, interpreter)
}

#[tokio::test]
async fn framing_keepalive_unknown_types_and_split_lines() {
    let (stub, ci) = start().await;
    stub.answer(
        200,
        vec![
            (
                0,
                b"{\"type\": \"number_of_executions\", \"execution_count\": 7}\n{\"type\": \"std",
            ),
            (
                20,
                b"out\", \"text\": \"one\\n\", \"timestamp\": \"2025-01-01T00:00:00Z\"}\n",
            ),
            (
                0,
                b"{\"type\": \"keepalive\"}\n\n{\"type\": \"brand_new\", \"x\": 1}\r\n",
            ),
            (
                10,
                b"{\"type\": \"stderr\", \"text\": \"two\"}\n{\"type\": \"stdout\", \"text\": \"th",
            ),
            (
                10,
                b"ree\"}\n{\"type\": \"result\", \"text\": \"42\", \"is_main_result\": true}\n",
            ),
            (
                0,
                b"{\"type\": \"error\", \"name\": \"E\", \"value\": \"v\", \"traceback\": \"t\"}\n",
            ),
            (
                0,
                b"{\"type\": \"end_of_execution\"}\n{\"type\": \"stdout\", \"text\": \"after\"}\n",
            ),
        ],
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (out, err, res, fail) = (seen.clone(), seen.clone(), seen.clone(), seen.clone());
    let execution = ci
        .run_code_with(
            "print(1)",
            RunCodeOptions::new()
                .on_stdout(move |m| out.lock().unwrap().push(format!("out:{}", m.line)))
                .on_stderr(move |m| err.lock().unwrap().push(format!("err:{}", m.line)))
                .on_result(move |r| res.lock().unwrap().push(format!("res:{:?}", r.text)))
                .on_error(move |e| fail.lock().unwrap().push(format!("error:{}", e.name))),
        )
        .await
        .unwrap();
    assert_eq!(execution.execution_count, Some(7));
    assert_eq!(execution.logs.stdout, ["one\n", "three"]);
    assert_eq!(execution.logs.stderr, ["two"]);
    assert_eq!(execution.text(), Some("42"));
    assert_eq!(execution.error.as_ref().unwrap().value, "v");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "out:one\n",
            "err:two",
            "out:three",
            "res:Some(\"42\")",
            "error:E"
        ]
    );

    // The same through the stream API, in order.
    let mut stream = ci.run_code_stream("print(1)").await.unwrap();
    let mut kinds = Vec::new();
    while let Some(event) = stream.next().await {
        kinds.push(match event.unwrap() {
            OutputEvent::ExecutionCount(_) => "count",
            OutputEvent::Stdout(_) => "stdout",
            OutputEvent::Stderr(_) => "stderr",
            OutputEvent::Result(_) => "result",
            OutputEvent::Error(_) => "error",
            _ => "other",
        });
    }
    assert_eq!(
        kinds,
        ["count", "stdout", "stderr", "stdout", "result", "error"]
    );
}

#[tokio::test]
async fn request_shape_and_routing_headers() {
    let (stub, ci) = start().await;
    stub.answer(200, vec![(0, b"{\"type\": \"end_of_execution\"}\n")]);
    ci.run_code_with(
        "x",
        RunCodeOptions::new().language("python").envs([("A", "1")]),
    )
    .await
    .unwrap();
    ci.run_code_with("x", RunCodeOptions::new().context("k9"))
        .await
        .unwrap();
    let requests = stub.requests();
    let (_, headers, body) = &requests[0];
    assert_eq!(headers["e2b-sandbox-id"], "sbx1");
    assert_eq!(headers["e2b-sandbox-port"], "49999");
    assert_eq!(headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"code": "x", "language": "python", "env_vars": {"A": "1"}})
    );
    let body: serde_json::Value = serde_json::from_str(&requests[1].2).unwrap();
    assert_eq!(body, serde_json::json!({"code": "x", "context_id": "k9"}));
}

#[tokio::test]
async fn language_and_context_are_exclusive_before_any_request() {
    let (stub, ci) = start().await;
    let err = ci
        .run_code_with("x", RunCodeOptions::new().language("python").context("k1"))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn last_line_without_newline_and_invalid_utf8() {
    let (stub, ci) = start().await;
    stub.answer(
        200,
        vec![
            (0, b"{\"type\": \"stdout\", \"text\": \"a\xffb\"}\n"),
            (0, b"{\"type\": \"end_of_execution\"}"),
        ],
    );
    let execution = ci.run_code("x").await.unwrap();
    assert_eq!(execution.logs.stdout, ["a\u{fffd}b"]);
}

#[tokio::test]
async fn missing_end_of_execution_is_an_error() {
    let (stub, ci) = start().await;
    stub.answer(200, vec![(0, b"{\"type\": \"stdout\", \"text\": \"a\"}\n")]);
    let err = ci.run_code("x").await.unwrap_err();
    assert!(err.is_transport(), "{err}");
    assert!(
        err.to_string().contains("before the execution finished"),
        "{err}"
    );

    // The same, with the sandbox gone: envd's /health answers 502.
    *stub.health.lock().unwrap() = 502;
    let started = std::time::Instant::now();
    let err = ci.run_code("x").await.unwrap_err();
    assert!(err.is_sandbox_gone(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn garbage_line_is_a_protocol_error() {
    let (stub, ci) = start().await;
    stub.answer(200, vec![(0, b"<html>oops</html>\n")]);
    let err = ci.run_code("x").await.unwrap_err();
    assert!(err.is_protocol(), "{err}");
}

#[tokio::test]
async fn statuses_map_like_upstream() {
    let (stub, ci) = start().await;
    stub.answer(404, vec![(0, b"Context k9 not found")]);
    let err = ci
        .run_code_with("x", RunCodeOptions::new().context("k9"))
        .await
        .unwrap_err();
    assert_eq!(
        err.not_found_kind(),
        Some(e2b_code_interpreter::NotFoundKind::Context)
    );
    assert!(err.to_string().contains("Context k9 not found"), "{err}");

    stub.answer(
        502,
        vec![(0, b"{\"code\": 502, \"message\": \"sandbox not found\"}")],
    );
    let err = ci.run_code("x").await.unwrap_err();
    assert!(err.is_sandbox_gone(), "{err}");

    stub.answer(500, vec![(0, b"kernel died")]);
    let err = ci.run_code("x").await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(err.to_string().contains("kernel died"), "{err}");
}

#[tokio::test]
async fn execution_and_idle_deadlines() {
    let (stub, ci) = start().await;
    // Keepalives forever: only the execution deadline ends it.
    let keepalive: &[u8] = b"{\"type\": \"keepalive\"}\n";
    stub.answer(200, (0..100).map(|_| (50, keepalive)).collect());
    let started = std::time::Instant::now();
    let err = ci
        .run_code_with(
            "while True: pass",
            RunCodeOptions::new()
                .timeout(Duration::from_millis(400))
                .stream_idle_timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Execution), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Silence: the idle deadline ends it.
    stub.answer(200, vec![(3_000, keepalive)]);
    let err = ci
        .run_code_with(
            "x",
            RunCodeOptions::new().stream_idle_timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::StreamIdle), "{err}");
}

#[tokio::test]
async fn contexts_round_trip() {
    let (stub, ci) = start().await;
    let context = ci
        .create_code_context_with(ContextOptions::new().cwd("/tmp").language("python"))
        .await
        .unwrap();
    assert_eq!(
        (
            context.id.as_str(),
            context.language.as_str(),
            context.cwd.as_str()
        ),
        ("k1", "python", "/tmp")
    );
    let listed = ci.list_code_contexts().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].id, "k2");
    ci.restart_code_context(&context).await.unwrap();
    ci.remove_code_context("k1").await.unwrap();
    let err = ci.remove_code_context("missing").await.unwrap_err();
    assert_eq!(
        err.not_found_kind(),
        Some(e2b_code_interpreter::NotFoundKind::Context)
    );
    assert!(
        ci.remove_code_context("a/b")
            .await
            .unwrap_err()
            .is_invalid_argument()
    );
    let requests = stub.requests();
    let create: serde_json::Value = serde_json::from_str(&requests[0].2).unwrap();
    assert_eq!(
        create,
        serde_json::json!({"language": "python", "cwd": "/tmp"})
    );
    let paths: Vec<_> = requests.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "POST /contexts",
            "GET /contexts",
            "POST /contexts/k1/restart",
            "DELETE /contexts/k1",
            "DELETE /contexts/missing"
        ]
    );
}

#[tokio::test]
async fn every_split_point_gives_the_same_execution() {
    let (stub, ci) = start().await;
    let body: &[u8] = "{\"type\": \"number_of_executions\", \"execution_count\": 1}\n\
        {\"type\": \"stdout\", \"text\": \"h\u{e9}llo \u{1f600}\\n\"}\n\
        {\"type\": \"keepalive\"}\n\
        {\"type\": \"result\", \"text\": \"2\", \"is_main_result\": true, \"data\": {\"a\": [1]}}\n\
        {\"type\": \"end_of_execution\"}\n"
        .as_bytes();
    stub.answer(200, vec![(0, body)]);
    let whole = ci.run_code("x").await.unwrap();
    assert_eq!(whole.logs.stdout, ["h\u{e9}llo \u{1f600}\n"]);
    // Splits inside multi-byte characters too: lines are decoded whole.
    for split in 1..body.len() {
        stub.answer(200, vec![(0, &body[..split]), (0, &body[split..])]);
        let execution = ci.run_code("x").await.unwrap();
        assert_eq!(execution, whole, "split at {split}");
    }
}
