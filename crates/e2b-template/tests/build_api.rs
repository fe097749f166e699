//! The build protocol on the wire, against a small in-process control plane (e2b-local
//! has no build service yet): the request sequence, the upload (exact `Content-Length`,
//! the exact bytes, skipped when the server has the hash), the build-start body — the
//! same as the official Python SDK sends for the same template, which is run against the
//! same server — status polling with log offsets, a failure naming its step, and the
//! error paths; then exists, tags, list, get and delete.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use e2b_template::{
    BuildError, BuildInfo, BuildOptions, BuildStatus, BuildStep, Client, ConnectionConfig,
    CopyOptions, LogEntry, LogEntryKind, LogLevel, NotFoundKind, Template, TemplateFinal,
    wait_for_port,
};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

const API_KEY: &str = "e2b_0123456789abcdef0123456789abcdef01234567";
/// Log entries per status answer (the real service sends up to 100).
const PAGE: usize = 2;

#[derive(Default)]
struct Recorded {
    /// `METHOD path?query` of every request, in order.
    requests: Vec<String>,
    /// Hashes the server already has.
    present: HashSet<String>,
    /// Uploads by hash: the Content-Length header, whether it was chunked, the bytes.
    uploads: HashMap<String, (Option<String>, bool, Vec<u8>)>,
    /// Build-start bodies by build id.
    starts: HashMap<String, Value>,
    /// Template names by build id.
    names: HashMap<String, String>,
    /// Status polls by build id.
    polls: HashMap<String, usize>,
    /// What the next status answer of a build fails with, by name.
    upload_status: Option<StatusCode>,
    create_status: Option<StatusCode>,
    /// An older control plane: no `POST /v3/templates`, only `POST /v2/templates`.
    v2_only: bool,
    next_build: usize,
    api_keys: HashSet<String>,
}

type Shared = Arc<Mutex<Recorded>>;

struct Server {
    url: String,
    state: Shared,
    _task: tokio::task::JoinHandle<()>,
}

fn record(state: &Shared, headers: &HeaderMap, line: String) {
    let mut s = state.lock().unwrap();
    if let Some(key) = headers.get("x-api-key") {
        s.api_keys.insert(key.to_str().unwrap_or("").to_owned());
    }
    s.requests.push(line);
}

fn log_entries(name: &str) -> Vec<Value> {
    let mut entries: Vec<Value> = (0..5)
        .map(|i| {
            json!({
                "timestamp": format!("2026-01-01T00:00:0{i}Z"),
                "level": if i == 3 { "warn" } else { "info" },
                "message": format!("\u{1b}[32m{name} line {i}\u{1b}[0m"),
                "step": "1",
            })
        })
        .collect();
    if name.starts_with("fail") {
        entries.push(json!({
            "timestamp": "2026-01-01T00:00:09Z", "level": "error",
            "message": "exit status 1", "step": "2"
        }));
    }
    entries
}

async fn create(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    record(&state, &headers, "POST /v3/templates".into());
    let body: Value = serde_json::from_slice(&body).unwrap();
    let mut s = state.lock().unwrap();
    if s.v2_only {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 404, "message": "no route"})),
        )
            .into_response();
    }
    if let Some(status) = s.create_status {
        return (
            status,
            axum::Json(json!({"code": status.as_u16(), "message": "refused"})),
        )
            .into_response();
    }
    s.next_build += 1;
    let build_id = format!("00000000-0000-4000-8000-{:012}", s.next_build);
    let name = body["name"].as_str().unwrap_or("").to_owned();
    s.names.insert(build_id.clone(), name.clone());
    let tags = body.get("tags").cloned().unwrap_or(json!([]));
    let body = json!({
        "templateID": "tpl1", "buildID": build_id, "tags": tags,
        "names": [name], "aliases": [], "public": false,
    });
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

async fn create_v2(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap();
    record(&state, &headers, format!("POST /v2/templates {body}"));
    let mut s = state.lock().unwrap();
    s.next_build += 1;
    let build_id = format!("00000000-0000-4000-8000-{:012}", s.next_build);
    let name = body["alias"].as_str().unwrap_or("").to_owned();
    s.names.insert(build_id.clone(), name);
    let mut template = template_json();
    template["buildID"] = json!(build_id);
    (StatusCode::ACCEPTED, axum::Json(template)).into_response()
}

async fn files(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath((template, hash)): UrlPath<(String, String)>,
) -> Response {
    record(
        &state,
        &headers,
        format!("GET /templates/{template}/files/{hash}"),
    );
    let s = state.lock().unwrap();
    if s.present.contains(&hash) {
        return (StatusCode::CREATED, axum::Json(json!({"present": true}))).into_response();
    }
    let host = headers["host"].to_str().unwrap().to_owned();
    let body = json!({"present": false, "url": format!("http://{host}/upload/{hash}")});
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn upload(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(hash): UrlPath<String>,
    body: Bytes,
) -> Response {
    // The presigned URL is not the API: no API key goes there.
    assert!(
        headers.get("x-api-key").is_none(),
        "the API key leaked to the upload URL"
    );
    record(&state, &headers, format!("PUT /upload/{hash}"));
    let mut s = state.lock().unwrap();
    let length = headers
        .get("content-length")
        .map(|v| v.to_str().unwrap().to_owned());
    let chunked = headers.get("transfer-encoding").is_some();
    s.uploads.insert(hash, (length, chunked, body.to_vec()));
    match s.upload_status {
        Some(status) => status.into_response(),
        None => StatusCode::OK.into_response(),
    }
}

async fn start(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath((template, build)): UrlPath<(String, String)>,
    body: Bytes,
) -> Response {
    record(
        &state,
        &headers,
        format!("POST /v2/templates/{template}/builds/{build}"),
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    state.lock().unwrap().starts.insert(build, body);
    StatusCode::ACCEPTED.into_response()
}

async fn status(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath((template, build)): UrlPath<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let offset: usize = query.get("logsOffset").map_or(0, |o| o.parse().unwrap());
    record(
        &state,
        &headers,
        format!("GET /templates/{template}/builds/{build}/status?logsOffset={offset}"),
    );
    let mut s = state.lock().unwrap();
    let Some(name) = s.names.get(&build).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 404, "message": "no build"})),
        )
            .into_response();
    };
    let polls = s.polls.entry(build.clone()).or_default();
    *polls += 1;
    let all = log_entries(&name);
    let page: Vec<Value> = all.iter().skip(offset).take(PAGE).cloned().collect();
    // Building for two polls, then done: the remaining entries are paged after that.
    let (status, reason) = if *polls <= 2 {
        ("building", None)
    } else if name.starts_with("fail") {
        (
            "error",
            Some(json!({"message": "exit status 1", "step": "2",
                        "logEntries": [all.last().unwrap()]})),
        )
    } else {
        ("ready", None)
    };
    let mut body = json!({
        "buildID": build, "templateID": template, "status": status,
        "logEntries": page, "logs": [],
    });
    if let Some(reason) = reason {
        body["reason"] = reason;
    }
    axum::Json(body).into_response()
}

async fn alias(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(alias): UrlPath<String>,
) -> Response {
    record(&state, &headers, format!("GET /templates/aliases/{alias}"));
    match alias.as_str() {
        "mine" => axum::Json(json!({"templateID": "tpl1", "public": false})).into_response(),
        "theirs" => (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"code": 403, "message": "not yours"})),
        )
            .into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 404, "message": "no such alias"})),
        )
            .into_response(),
    }
}

async fn tags(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap();
    record(&state, &headers, format!("POST /templates/tags {body}"));
    let body = json!({"buildID": "00000000-0000-4000-8000-000000000001", "tags": body["tags"]});
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn delete_tags(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap();
    record(&state, &headers, format!("DELETE /templates/tags {body}"));
    if body["name"] == "missing" {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 404, "message": "no template"})),
        )
            .into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn get_tags(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(template): UrlPath<String>,
) -> Response {
    record(&state, &headers, format!("GET /templates/{template}/tags"));
    axum::Json(
        json!([{"tag": "v1", "buildID": "00000000-0000-4000-8000-000000000001",
                       "createdAt": "2026-01-01T00:00:00Z"}]),
    )
    .into_response()
}

fn template_json() -> Value {
    json!({
        "templateID": "tpl1", "buildID": "00000000-0000-4000-8000-000000000001",
        "cpuCount": 2, "memoryMB": 1024, "diskSizeMB": 5120, "public": false,
        "aliases": [], "names": ["my-app"], "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-02T00:00:00Z", "createdBy": null, "lastSpawnedAt": null,
        "spawnCount": 3, "buildCount": 1, "envdVersion": "0.2.0", "buildStatus": "ready",
    })
}

async fn list(State(state): State<Shared>, headers: HeaderMap) -> Response {
    record(&state, &headers, "GET /templates".into());
    axum::Json(json!([template_json()])).into_response()
}

async fn get_one(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(template): UrlPath<String>,
) -> Response {
    record(&state, &headers, format!("GET /templates/{template}"));
    if template != "tpl1" {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 404, "message": "no template"})),
        )
            .into_response();
    }
    axum::Json(json!({
        "templateID": "tpl1", "public": false, "aliases": [], "names": ["my-app"],
        "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-02T00:00:00Z",
        "lastSpawnedAt": null, "spawnCount": 3,
        "builds": [{"buildID": "00000000-0000-4000-8000-000000000001", "status": "ready",
                    "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:01:00Z",
                    "finishedAt": "2026-01-01T00:01:00Z", "cpuCount": 2, "memoryMB": 1024}],
    }))
    .into_response()
}

async fn delete_one(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(template): UrlPath<String>,
) -> Response {
    record(&state, &headers, format!("DELETE /templates/{template}"));
    if template == "tpl1" {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 404, "message": "no template"})),
        )
            .into_response()
    }
}

async fn serve() -> Server {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/v3/templates", post(create))
        .route("/v2/templates", post(create_v2))
        .route("/templates/{template}/files/{hash}", get(files))
        .route("/upload/{hash}", put(upload))
        .route("/v2/templates/{template}/builds/{build}", post(start))
        .route("/templates/{template}/builds/{build}/status", get(status))
        .route("/templates/aliases/{alias}", get(alias))
        .route("/templates/tags", post(tags).delete(delete_tags))
        .route("/templates/{template}/tags", get(get_tags))
        .route("/templates", get(list))
        .route("/templates/{template}", get(get_one).delete(delete_one))
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        url,
        state,
        _task: task,
    }
}

fn client(url: &str) -> Client {
    let config = ConnectionConfig::builder()
        .api_key(API_KEY)
        .api_url(url)
        .request_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    Client::new(config).unwrap()
}

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app/lib")).unwrap();
    std::fs::write(dir.path().join("app/main.py"), "print('main')\n").unwrap();
    std::fs::write(dir.path().join("app/lib/util.py"), "X = 1\n").unwrap();
    std::fs::write(dir.path().join("app/debug.log"), "ignored\n").unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "flask\n").unwrap();
    std::fs::write(dir.path().join(".dockerignore"), "**/*.log\n").unwrap();
    dir
}

fn template(ctx: &Path) -> TemplateFinal {
    Template::with_context(ctx)
        .from_python_image("3.12")
        .copy("requirements.txt", "/app/")
        .copy_with("app", "/app/", CopyOptions::new().user("user").mode(0o755))
        .run_cmd("pip install -r /app/requirements.txt")
        .set_envs([("PORT", "8000")])
        .set_workdir("/app")
        .set_start_cmd("python -m http.server 8000", wait_for_port(8000))
}

const PY_TEMPLATE: &str = r#"(Template(file_context_path=CTX)
    .from_python_image("3.12")
    .copy("requirements.txt", "/app/")
    .copy("app", "/app/", user="user", mode=0o755)
    .run_cmd("pip install -r /app/requirements.txt")
    .set_envs({"PORT": "8000"})
    .set_workdir("/app")
    .set_start_cmd("python -m http.server 8000", wait_for_port(8000)))"#;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("E2B_COMPAT_PYTHON_LATEST") {
        return PathBuf::from(p);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/compat-latest/bin/python");
    assert!(
        path.exists(),
        "the official SDK's venv is missing at {}: run `make deps`",
        path.display()
    );
    path
}

/// The official Python SDK builds the same template against the same server.
async fn python_build(url: &str, ctx: &Path, name: &str) {
    let script = format!(
        "import sys\nfrom e2b import Template, wait_for_port\nCTX = {ctx:?}\n\
         t = {PY_TEMPLATE}\n\
         Template.build(t, {name:?}, api_key={API_KEY:?}, api_url={url:?})\n",
        ctx = ctx.to_str().unwrap()
    );
    let python = python();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python).args(["-c", &script]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the official SDK's build failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn tar_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut archive = tar::Archive::new(gz);
    let mut entries = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        entries.push((path, content));
    }
    entries.sort();
    entries
}

#[tokio::test]
async fn build_uploads_what_is_missing_and_sends_the_official_sdks_body() {
    let server = serve().await;
    let ctx = context();
    let client = client(&server.url);
    let template = template(ctx.path());

    // The server already has the first copy's files.
    let json: Value = serde_json::from_str(&e2b_template::to_json(&template).unwrap()).unwrap();
    let present = json["steps"][0]["filesHash"].as_str().unwrap().to_owned();
    let missing = json["steps"][1]["filesHash"].as_str().unwrap().to_owned();
    server.state.lock().unwrap().present.insert(present.clone());

    let logs = Arc::new(Mutex::new(Vec::<LogEntry>::new()));
    let sink = Arc::clone(&logs);
    let info = Template::build_with(
        &client,
        &template,
        "my-app:v1",
        BuildOptions::new()
            .tags(["stable"])
            .cpu_count(2)
            .memory_mb(1024)
            .poll_interval(Duration::from_millis(10))
            .on_build_logs(move |e| sink.lock().unwrap().push(e.clone())),
    )
    .await
    .unwrap();
    assert_eq!(info.template_id, "tpl1");
    assert_eq!(info.name, "my-app:v1");
    assert_eq!(info.tags, ["stable"]);

    let ours = {
        let recorded = server.state.lock().unwrap();
        let build = &info.build_id;
        // The sequence: create, hash checks, one upload (the other hash is present), start,
        // status polls whose offsets advance by what each answer carried, drained at the end.
        let expected: Vec<String> = [
            "POST /v3/templates".to_owned(),
            format!("GET /templates/tpl1/files/{present}"),
            format!("GET /templates/tpl1/files/{missing}"),
            format!("PUT /upload/{missing}"),
            format!("POST /v2/templates/tpl1/builds/{build}"),
            format!("GET /templates/tpl1/builds/{build}/status?logsOffset=0"),
            format!("GET /templates/tpl1/builds/{build}/status?logsOffset=2"),
            format!("GET /templates/tpl1/builds/{build}/status?logsOffset=4"),
            format!("GET /templates/tpl1/builds/{build}/status?logsOffset=5"),
        ]
        .into();
        assert_eq!(recorded.requests, expected);
        assert_eq!(recorded.api_keys, HashSet::from([API_KEY.to_owned()]));

        // The upload: its exact length, not chunked, and an archive of exactly the selected
        // files (the ignored log is not in it).
        let (length, chunked, bytes) = &recorded.uploads[&missing];
        assert_eq!(length.as_deref(), Some(bytes.len().to_string().as_str()));
        assert!(!chunked);
        let entries = tar_entries(bytes);
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["app", "app/lib", "app/lib/util.py", "app/main.py"]);
        assert_eq!(entries[3].1, b"print('main')\n");

        // The log entries: the SDK's own progress, then the service's, ANSI stripped, in order.
        let logs = logs.lock().unwrap();
        assert_eq!(logs.first().unwrap().kind, LogEntryKind::Start);
        assert_eq!(logs.last().unwrap().kind, LogEntryKind::End);
        let messages: Vec<&str> = logs.iter().map(|e| e.message.as_str()).collect();
        assert!(messages.contains(&"Requesting build for template: my-app:v1 with tags: stable"));
        assert!(messages.contains(&"Skipping upload of 'requirements.txt', already cached"));
        assert!(messages.contains(&"Uploaded 'app'"));
        let service: Vec<&str> = messages
            .iter()
            .copied()
            .filter(|m| m.starts_with("my-app:v1 line"))
            .collect();
        assert_eq!(
            service,
            (0..5)
                .map(|i| format!("my-app:v1 line {i}"))
                .collect::<Vec<_>>()
        );
        assert!(logs.iter().any(|e| e.level == LogLevel::Warn));
        recorded.starts[build].clone()
    };

    // The official SDK, same template, same server: the same build-start body.
    python_build(&server.url, ctx.path(), "python-app").await;
    let recorded = server.state.lock().unwrap();
    let python_build = recorded
        .names
        .iter()
        .find(|(_, n)| *n == "python-app")
        .map(|(b, _)| b.clone())
        .unwrap();
    assert_eq!(ours, recorded.starts[&python_build]);
    assert_eq!(
        ours["steps"][1]["args"],
        json!(["app", "/app/", "user", "0755"])
    );
}

#[tokio::test]
async fn a_failed_build_names_its_step_and_streams_every_entry() {
    let server = serve().await;
    let ctx = context();
    let client = client(&server.url);
    let template = template(ctx.path());
    let mut stream = Template::build_stream(
        &client,
        &template,
        "fail-app",
        BuildOptions::new().poll_interval(Duration::from_millis(10)),
    );
    let mut seen = Vec::new();
    while let Some(entry) = stream.next().await {
        seen.push(entry);
    }
    let error = stream.finish().await.unwrap_err();
    assert!(error.is_build(), "{error}");
    let build = BuildError::of(&error).expect("a BuildError");
    assert_eq!(build.message, "exit status 1");
    assert_eq!(
        build.step,
        Some(BuildStep::Instruction {
            index: 1,
            description: "COPY app /app/".into()
        })
    );
    assert_eq!(build.template_id, "tpl1");
    assert_eq!(build.log_entries.len(), 1);
    assert_eq!(
        error.to_string(),
        "template build failed: at step 2 (`COPY app /app/`): exit status 1"
    );
    // Every service entry, the error line included, arrived through the stream.
    let service: Vec<&str> = seen
        .iter()
        .filter(|e| e.kind == LogEntryKind::Line && e.step.is_some())
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(service.len(), 6, "{service:?}");
    assert_eq!(*service.last().unwrap(), "exit status 1");
    assert_eq!(seen.last().unwrap().kind, LogEntryKind::End);
}

#[tokio::test]
async fn background_builds_and_status() {
    let server = serve().await;
    let ctx = context();
    let client = client(&server.url);
    let template = template(ctx.path());
    let info = Template::build_in_background(&client, &template, "bg", BuildOptions::new())
        .await
        .unwrap();
    assert!(
        server
            .state
            .lock()
            .unwrap()
            .starts
            .contains_key(&info.build_id)
    );
    let first = Template::get_build_status(&client, &info, 0).await.unwrap();
    assert_eq!(first.status, BuildStatus::Building);
    assert_eq!(first.log_entries.len(), PAGE);
    assert_eq!(first.log_entries[0].message, "bg line 0");
    let second = Template::get_build_status(&client, &info, 4).await.unwrap();
    assert_eq!(second.log_entries.len(), 1);
    assert_eq!(second.log_entries[0].message, "bg line 4");
    Template::wait_for_build(
        &client,
        &info,
        BuildOptions::new().poll_interval(Duration::from_millis(10)),
    )
    .await
    .unwrap();

    let unknown = BuildInfo::new("tpl1", "no-such-build");
    let e = Template::get_build_status(&client, &unknown, 0)
        .await
        .unwrap_err();
    assert_eq!(e.not_found_kind(), Some(NotFoundKind::Template), "{e}");
}

#[tokio::test]
async fn error_paths_are_typed() {
    let server = serve().await;
    let ctx = context();
    let client = client(&server.url);
    let template = template(ctx.path());

    // A refused upload fails the build before it starts.
    server.state.lock().unwrap().upload_status = Some(StatusCode::INTERNAL_SERVER_ERROR);
    let e = Template::build(&client, &template, "x").await.unwrap_err();
    assert!(e.is_build(), "{e}");
    assert!(
        e.to_string()
            .contains("file upload of requirements.txt failed"),
        "{e}"
    );
    assert!(server.state.lock().unwrap().starts.is_empty());

    // A refused build request: authentication stays authentication.
    server.state.lock().unwrap().create_status = Some(StatusCode::UNAUTHORIZED);
    let e = Template::build(&client, &template, "x").await.unwrap_err();
    assert!(e.is_authentication(), "{e}");
    server.state.lock().unwrap().create_status = Some(StatusCode::BAD_REQUEST);
    let e = Template::build(&client, &template, "x").await.unwrap_err();
    assert!(e.is_build(), "{e}");
    assert!(e.to_string().contains("refused"), "{e}");

    // Invalid input is refused before any request.
    let before = server.state.lock().unwrap().requests.len();
    let bad = Template::with_context(ctx.path())
        .from_base_image()
        .copy("../outside", "/x");
    let e = Template::build(&client, &bad, "x").await.unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    let missing = Template::with_context(ctx.path())
        .from_base_image()
        .copy("nothing/*", "/x");
    let e = Template::build(&client, &missing, "x").await.unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    let e = Template::build(&client, &template, "").await.unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    let e = Template::build_with(&client, &template, "x", BuildOptions::new().cpu_count(0))
        .await
        .unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    assert_eq!(server.state.lock().unwrap().requests.len(), before);

    // A whole-build deadline.
    server.state.lock().unwrap().create_status = None;
    server.state.lock().unwrap().upload_status = None;
    let e = Template::build_with(
        &client,
        &template,
        "slow",
        BuildOptions::new()
            .poll_interval(Duration::from_secs(30))
            .timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap_err();
    assert!(e.is_timeout(), "{e}");
}

#[tokio::test]
async fn an_older_control_plane_gets_the_v2_request() {
    let server = serve().await;
    server.state.lock().unwrap().v2_only = true;
    let ctx = context();
    let client = client(&server.url);
    let template = template(ctx.path());
    let options = || BuildOptions::new().poll_interval(Duration::from_millis(10));
    let info = Template::build_with(&client, &template, "old", options().memory_mb(512))
        .await
        .unwrap();
    assert_eq!(info.name, "old");
    {
        let recorded = server.state.lock().unwrap();
        assert_eq!(recorded.requests[0], "POST /v3/templates");
        assert_eq!(
            recorded.requests[1],
            "POST /v2/templates {\"alias\":\"old\",\"memoryMB\":512}"
        );
        assert!(recorded.starts.contains_key(&info.build_id));
    }
    // Tags need the v3 path: the missing path is reported, not dropped silently.
    let e = Template::build_with(&client, &template, "old:v2", options())
        .await
        .unwrap_err();
    assert!(e.is_build(), "{e}");
    assert!(e.to_string().contains("not found"), "{e}");
}

#[tokio::test]
async fn exists_tags_list_get_delete() {
    let server = serve().await;
    let client = client(&server.url);
    assert!(Template::exists(&client, "mine").await.unwrap());
    assert!(Template::exists(&client, "theirs").await.unwrap());
    assert!(!Template::exists(&client, "nobody").await.unwrap());

    let assigned = Template::assign_tags(&client, "my-app:v1", ["stable", "prod"])
        .await
        .unwrap();
    assert_eq!(assigned.tags, ["stable", "prod"]);
    assert_eq!(assigned.build_id, "00000000-0000-4000-8000-000000000001");
    Template::remove_tags(&client, "my-app", ["prod"])
        .await
        .unwrap();
    let e = Template::remove_tags(&client, "missing", ["x"])
        .await
        .unwrap_err();
    assert_eq!(e.not_found_kind(), Some(NotFoundKind::Template), "{e}");
    let tags = Template::get_tags(&client, "tpl1").await.unwrap();
    assert_eq!(tags[0].tag, "v1");

    let list = Template::list(&client).await.unwrap();
    assert_eq!(list[0].names, ["my-app"]);
    assert_eq!(list[0].build_status, BuildStatus::Ready);
    assert_eq!(list[0].cpu_count, 2);
    let details = Template::get(&client, "tpl1").await.unwrap();
    assert_eq!(details.builds[0].status, BuildStatus::Ready);
    let e = Template::get(&client, "nope").await.unwrap_err();
    assert_eq!(e.not_found_kind(), Some(NotFoundKind::Template), "{e}");
    assert!(Template::delete(&client, "tpl1").await.unwrap());
    assert!(!Template::delete(&client, "nope").await.unwrap());

    let recorded = server.state.lock().unwrap();
    assert!(
        recorded.requests.iter().any(|r| r
            == "POST /templates/tags {\"tags\":[\"stable\",\"prod\"],\"target\":\"my-app:v1\"}")
    );
    assert!(
        recorded
            .requests
            .iter()
            .any(|r| r == "DELETE /templates/tags {\"name\":\"my-app\",\"tags\":[\"prod\"]}")
    );
}
