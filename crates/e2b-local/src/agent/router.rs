//! The agent's HTTP surface: the two Connect services and envd's plain
//! routes, plus the forward upgrade.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use e2b_envd::filesystem::filesystem_server::FilesystemServer;
use e2b_envd::process::process_server::ProcessServer;
use http::StatusCode;
use http::header::{CACHE_CONTROL, HeaderValue};

use super::AgentConfig;
use super::context::Sandbox;
use super::filesystem::FilesystemService;
use super::http_error::HttpError;
use super::interpreter::{Interpreter, PREFIX as INTERPRETER_PREFIX};
use super::metrics::Collector;
use super::process::ProcessService;
use super::users::ConfigError;
use super::{files, forward};
use crate::interpreter::kernel_env::KernelEnv;

/// Shared state of the routes.
#[derive(Clone)]
struct AgentState {
    sandbox: Arc<Sandbox>,
    process: ProcessServer<ProcessService>,
    filesystem: FilesystemServer<FilesystemService>,
    metrics: Arc<Collector>,
    interpreter: Option<Interpreter>,
}

impl FromRef<AgentState> for Arc<Sandbox> {
    fn from_ref(state: &AgentState) -> Self {
        state.sandbox.clone()
    }
}

/// The agent for the sandbox `config` describes, as an axum router. Serve it
/// on any listener (`axum::serve`); the agent binary serves it on a Unix
/// socket. Must be called inside a Tokio runtime.
pub fn router(config: AgentConfig) -> Result<Router, ConfigError> {
    build(config).map(|(router, _)| router)
}

/// The agent's router and, for sandboxes that have one, its code interpreter
/// (already routed under [`INTERPRETER_PREFIX`]).
pub(crate) fn build(config: AgentConfig) -> Result<(Router, Option<Interpreter>), ConfigError> {
    let interpreter_config = config.interpreter.clone();
    let sandbox = Arc::new(Sandbox::new(config)?);
    let interpreter = interpreter_config.map(|c| {
        Interpreter::new(
            sandbox.clone(),
            KernelEnv::at(c.kernel_env),
            PathBuf::from(c.runtime_dir),
        )
    });
    let disk = Path::new(&sandbox.users.default_account().home).to_path_buf();
    let state = AgentState {
        process: ProcessServer::new(ProcessService::new(sandbox.clone())),
        filesystem: FilesystemServer::new(FilesystemService::new(sandbox.clone())),
        metrics: Arc::new(Collector::new(disk)),
        sandbox,
        interpreter: interpreter.clone(),
    };
    let mut router = Router::new()
        .route("/process.Process/{method}", any(process_rpc))
        .route("/filesystem.Filesystem/{method}", any(filesystem_rpc))
        .route("/files", get(files::download).post(files::upload))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/envs", get(envs))
        .route("/.e2b/forward", get(forward::forward))
        .route("/.e2b/env", post(set_env))
        .route("/.e2b/kernels", get(kernels))
        .with_state(state);
    if let Some(interpreter) = &interpreter {
        router = router.nest(INTERPRETER_PREFIX, interpreter.router());
    }
    Ok((router, interpreter))
}

async fn process_rpc(State(state): State<AgentState>, request: Request) -> Response {
    state.process.call(request).await.map(Body::new)
}

async fn filesystem_rpc(State(state): State<AgentState>, request: Request) -> Response {
    state.filesystem.call(request).await.map(Body::new)
}

async fn health() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn metrics(State(state): State<AgentState>) -> Response {
    let collector = state.metrics.clone();
    match tokio::task::spawn_blocking(move || collector.collect()).await {
        Ok(Ok(metrics)) => axum::Json(metrics).into_response(),
        Ok(Err(e)) => HttpError::internal(format!("failed to get metrics: {e}")).into_response(),
        Err(e) => HttpError::internal(format!("failed to get metrics: {e}")).into_response(),
    }
}

async fn envs(State(state): State<AgentState>) -> Response {
    let mut response = axum::Json(state.sandbox.env_vars().as_ref().clone()).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /.e2b/env` (the server's only): replace the sandbox's environment
/// variables with the JSON object sent. Processes started from now on get
/// them; running kernels take them before their next execution.
async fn set_env(State(state): State<AgentState>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<std::collections::BTreeMap<String, String>>(&body) {
        Ok(vars) => {
            state.sandbox.set_env_vars(vars);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            HttpError::bad_request(format!("invalid environment variables: {e}")).into_response()
        }
    }
}

/// `GET /.e2b/kernels` (the server's only): answers once every kernel of
/// the code interpreter has started and is idle (204), or why one is not
/// (500); 204 at once for a sandbox without one.
async fn kernels(State(state): State<AgentState>) -> Response {
    let Some(interpreter) = &state.interpreter else {
        return StatusCode::NO_CONTENT.into_response();
    };
    match interpreter.settled().await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(why) => HttpError::internal(why).into_response(),
    }
}
