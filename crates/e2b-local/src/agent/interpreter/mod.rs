//! The code interpreter of `code-interpreter-v1` sandboxes: upstream's
//! port-49999 API, served by the agent over Jupyter kernels it drives
//! directly over ZMQ (no Jupyter server in the path).
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /health` | `200 "OK"` |
//! | `POST /execute` `{code, context_id?, language?, env_vars?}` | `200` NDJSON lines ([`execute`]); errors as plain text: `400` both `context_id` and `language` (or bad input), `404 Context <id> not found`, `500` kernel failure |
//! | `POST /contexts` `{language?, cwd?}` | `200 {id, language, cwd}` |
//! | `GET /contexts` | `200 [{id, language, cwd}]` |
//! | `POST /contexts/{id}/restart` | `200 null` |
//! | `DELETE /contexts/{id}` | `200 null` |
//!
//! The server reaches these routes under [`PREFIX`] on the agent's socket;
//! inside the sandbox they are also on `127.0.0.1:49999` when the sandbox has
//! its own network namespace, through a supervised relay process ([`port`]). A warm Python context is started before the
//! agent reports ready, and the default JavaScript one right after.

mod contexts;
mod execute;
mod kernel;
mod language;
pub(crate) mod output;
pub(crate) mod port;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::context::Sandbox;
use crate::interpreter::kernel_env::KernelEnv;
use contexts::{ContextError, Contexts};

/// Where the server finds these routes on the agent's socket.
pub const PREFIX: &str = "/.e2b/interpreter";
/// The port of the code interpreter inside a sandbox.
pub const PORT: u16 = 49999;

/// The service state shared by the routes.
#[derive(Debug, Clone)]
pub(crate) struct Interpreter {
    contexts: Arc<Contexts>,
}

impl Interpreter {
    /// The service for `sandbox`, with kernels from `env` (paths as seen inside).
    pub(crate) fn new(sandbox: Arc<Sandbox>, env: KernelEnv, runtime: PathBuf) -> Self {
        Self {
            contexts: Arc::new(Contexts::new(sandbox, env, runtime)),
        }
    }

    /// Start the default contexts, as upstream's server does at startup:
    /// Python (the warm kernel, awaited) and JavaScript where the kernel
    /// environment has it (listed at once, its kernel started in the
    /// background).
    pub(crate) async fn warm_up(&self) -> Result<(), String> {
        let python = self
            .contexts
            .language("python")
            .map_err(|e| e.to_string())?;
        self.contexts
            .default_for(python)
            .await
            .map_err(|e| e.to_string())?;
        if let Ok(javascript) = self.contexts.language("javascript")
            && let Err(e) = self.contexts.default_in_background(javascript).await
        {
            tracing::warn!(error = %e, "the default JavaScript context was not created");
        }
        Ok(())
    }

    /// Wait until every context's kernel has started and is idle (see
    /// [`Contexts::settled`]).
    pub(crate) async fn settled(&self) -> Result<(), String> {
        self.contexts.settled().await
    }

    /// The routes (unprefixed).
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/health", get(health))
            .route("/execute", post(execute))
            .route("/contexts", post(create_context).get(list_contexts))
            .route("/contexts/{id}/restart", post(restart_context))
            .route("/contexts/{id}", axum::routing::delete(remove_context))
            .with_state(self.clone())
    }
}

/// A plain-text error answer, as upstream's server gives them.
fn text_error(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = (status, message.into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl IntoResponse for ContextError {
    fn into_response(self) -> Response {
        let status = match &self {
            ContextError::NotFound(_) => StatusCode::NOT_FOUND,
            ContextError::UnknownLanguage { .. } | ContextError::BadCwd { .. } => {
                StatusCode::BAD_REQUEST
            }
            ContextError::Kernel(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        text_error(status, self.to_string())
    }
}

/// A JSON body, or the message of a `400` naming what is wrong with it.
fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))
}

fn json_ok(value: &impl serde::Serialize) -> Response {
    axum::Json(value).into_response()
}

async fn health() -> Response {
    json_ok(&"OK")
}

#[derive(Debug, Deserialize)]
struct ExecuteRequest {
    code: String,
    #[serde(default)]
    context_id: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    env_vars: Option<BTreeMap<String, String>>,
}

async fn execute(State(service): State<Interpreter>, body: Bytes) -> Response {
    let request: ExecuteRequest = match parse(&body) {
        Ok(r) => r,
        Err(message) => return text_error(StatusCode::BAD_REQUEST, message),
    };
    if request.context_id.is_some() && request.language.is_some() {
        return text_error(
            StatusCode::BAD_REQUEST,
            "Only one of context_id or language can be provided",
        );
    }
    let contexts = &service.contexts;
    let context = match &request.context_id {
        Some(id) => contexts.get(id),
        None => match contexts.language(&language::normalize(request.language.as_deref())) {
            Ok(language) => contexts.default_for(language).await,
            Err(e) => Err(e),
        },
    };
    let context = match context {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let env_vars = request.env_vars.unwrap_or_default();
    for name in env_vars.keys() {
        if let Err(message) = language::check_env_name(context.language, name) {
            return text_error(StatusCode::BAD_REQUEST, message);
        }
    }
    let job = execute::Job {
        code: request.code,
        env_vars,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(execute::run(contexts.clone(), context, job, tx));
    let lines = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::convert::Infallible>(line), rx))
    });
    let body = Body::from_stream(lines);
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

#[derive(Debug, Deserialize)]
struct CreateContext {
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
}

async fn create_context(State(service): State<Interpreter>, body: Bytes) -> Response {
    let request: CreateContext = match parse(&body) {
        Ok(r) => r,
        Err(message) => return text_error(StatusCode::BAD_REQUEST, message),
    };
    let contexts = &service.contexts;
    let created = match contexts.language(&language::normalize(request.language.as_deref())) {
        Ok(language) => contexts.create(language, request.cwd.as_deref()).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(context) => json_ok(&context.view()),
        Err(e) => e.into_response(),
    }
}

async fn list_contexts(State(service): State<Interpreter>) -> Response {
    json_ok(&service.contexts.list())
}

async fn restart_context(State(service): State<Interpreter>, Path(id): Path<String>) -> Response {
    match service.contexts.restart(&id).await {
        Ok(()) => json_ok(&serde_json::Value::Null),
        Err(e) => e.into_response(),
    }
}

async fn remove_context(State(service): State<Interpreter>, Path(id): Path<String>) -> Response {
    match service.contexts.remove(&id).await {
        Ok(()) => json_ok(&serde_json::Value::Null),
        Err(e) => e.into_response(),
    }
}
