//! The server's own calls into a sandbox's agent: run a command and follow
//! its output, and write a file. Template builds use them to run their
//! steps; they speak the same envd protocol the SDKs do, over the agent's
//! Unix socket.

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use base64::Engine as _;
use bytes::Bytes;
use e2b_envd::connect::{Codec, envelope};
use e2b_envd::process::process_event::{Event, data_event::Output};
use e2b_envd::process::{ProcessConfig, StartRequest, StartResponse};
use http_body_util::BodyExt as _;

use super::agent_link;

/// How often the agent is asked to send a keep-alive while a command is
/// silent.
const KEEPALIVE_SECS: u64 = 15;
/// How long the agent may send nothing while a command runs (four missed
/// keep-alives).
const IDLE_TIMEOUT: Duration = Duration::from_secs(4 * KEEPALIVE_SECS);

/// Why a call into the agent failed (not a command's own failure).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExecError {
    /// The agent could not be reached.
    #[error(transparent)]
    Link(#[from] agent_link::LinkError),
    /// The connection failed mid-call.
    #[error("sandbox agent call failed: {0}")]
    Http(String),
    /// The agent refused the call.
    #[error("sandbox agent refused the call ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: http::StatusCode,
        /// The agent's message.
        message: String,
    },
    /// The agent sent nothing for [`IDLE_TIMEOUT`].
    #[error("the sandbox agent sent nothing for {0:?}")]
    Idle(Duration),
    /// Reading the local file to send failed.
    #[error("read {0}: {1}")]
    Local(String, std::io::Error),
}

/// One chunk of a command's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// What a command to run is.
#[derive(Clone, Debug)]
pub(crate) struct CommandSpec<'a> {
    /// Shell command (run with `/bin/bash -l -c`).
    pub(crate) cmd: &'a str,
    /// Account it runs as.
    pub(crate) user: &'a str,
    /// Environment added to the sandbox's.
    pub(crate) envs: &'a std::collections::BTreeMap<String, String>,
    /// Working directory (`None`: the user's home).
    pub(crate) cwd: Option<&'a str>,
}

/// Run `spec` in the sandbox whose agent listens on `socket`; each output
/// chunk goes to `on_output`. Returns the exit code (`-1` when a signal
/// ended the command).
pub(crate) async fn run(
    socket: &Path,
    spec: &CommandSpec<'_>,
    mut on_output: impl FnMut(Stream, &[u8]),
) -> Result<i32, ExecError> {
    let request = StartRequest {
        process: Some(ProcessConfig {
            cmd: "/bin/bash".to_owned(),
            args: vec!["-l".to_owned(), "-c".to_owned(), spec.cmd.to_owned()],
            envs: spec
                .envs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            cwd: spec.cwd.map(str::to_owned),
        }),
        ..Default::default()
    };
    let payload = Codec::Json
        .encode(&request)
        .map_err(|e| ExecError::Http(e.to_string()))?;
    let body = envelope::encode(0, &payload).map_err(|e| ExecError::Http(e.to_string()))?;
    let http = http::Request::builder()
        .method(http::Method::POST)
        .uri("/process.Process/Start")
        .header(http::header::HOST, "localhost")
        .header(http::header::CONTENT_TYPE, "application/connect+json")
        .header("connect-protocol-version", "1")
        .header("keepalive-ping-interval", KEEPALIVE_SECS)
        .header(http::header::AUTHORIZATION, basic_auth(spec.user))
        .body(Body::from(body))
        .map_err(|e| ExecError::Http(e.to_string()))?;
    let mut sender = agent_link::connect(socket).await?;
    let response = sender
        .send_request(http)
        .await
        .map_err(|e| ExecError::Http(e.to_string()))?;
    let status = response.status();
    let mut body = response.into_body();
    if !status.is_success() {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err(ExecError::Refused {
            status,
            message: String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    let mut decoder = envelope::Decoder::default();
    loop {
        let frame = tokio::time::timeout(IDLE_TIMEOUT, body.frame())
            .await
            .map_err(|_| ExecError::Idle(IDLE_TIMEOUT))?;
        let Some(frame) = frame else {
            return Err(ExecError::Http(
                "the stream ended before the command did".to_owned(),
            ));
        };
        let frame = frame.map_err(|e| ExecError::Http(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        decoder.push(&data);
        while let Some(message) = decoder
            .next_frame()
            .map_err(|e| ExecError::Http(e.to_string()))?
        {
            if message.is_end_stream() {
                return Err(ExecError::Refused {
                    status: http::StatusCode::OK,
                    message: String::from_utf8_lossy(&message.payload).into_owned(),
                });
            }
            let event: StartResponse = Codec::Json
                .decode(&message.payload)
                .map_err(|e| ExecError::Http(e.to_string()))?;
            match event.event.and_then(|e| e.event) {
                Some(Event::Data(data)) => match data.output {
                    Some(Output::Stdout(bytes)) => on_output(Stream::Stdout, &bytes),
                    Some(Output::Stderr(bytes)) => on_output(Stream::Stderr, &bytes),
                    _ => {}
                },
                Some(Event::End(end)) => {
                    return Ok(if end.exited { end.exit_code } else { -1 });
                }
                _ => {}
            }
        }
    }
}

/// Write the local file `from` to `to` in the sandbox, as root.
pub(crate) async fn upload(socket: &Path, from: &Path, to: &str) -> Result<(), ExecError> {
    let file = tokio::fs::File::open(from)
        .await
        .map_err(|e| ExecError::Local(from.display().to_string(), e))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ExecError::Local(from.display().to_string(), e))?
        .len();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("path", to)
        .append_pair("username", "root")
        .finish();
    let http = http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("/files?{query}"))
        .header(http::header::HOST, "localhost")
        .header(http::header::CONTENT_TYPE, "application/octet-stream")
        .header(http::header::CONTENT_LENGTH, len)
        .body(Body::from_stream(stream))
        .map_err(|e| ExecError::Http(e.to_string()))?;
    call(socket, http).await
}

/// Replace the environment variables of the sandbox's processes (see the
/// agent's `POST /.e2b/env`).
pub(crate) async fn set_env(
    socket: &Path,
    vars: &std::collections::BTreeMap<String, String>,
) -> Result<(), ExecError> {
    let body = serde_json::to_vec(vars).map_err(|e| ExecError::Http(e.to_string()))?;
    let http = http::Request::builder()
        .method(http::Method::POST)
        .uri("/.e2b/env")
        .header(http::header::HOST, "localhost")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .map_err(|e| ExecError::Http(e.to_string()))?;
    call(socket, http).await
}

/// Wait until the sandbox's code-interpreter kernels are started and idle
/// (at once for a sandbox without them).
pub(crate) async fn kernels_settled(socket: &Path) -> Result<(), ExecError> {
    let http = http::Request::builder()
        .method(http::Method::GET)
        .uri("/.e2b/kernels")
        .header(http::header::HOST, "localhost")
        .body(Body::empty())
        .map_err(|e| ExecError::Http(e.to_string()))?;
    call(socket, http).await
}

/// Send a request whose answer is only a status (and a message on failure).
async fn call(socket: &Path, request: http::Request<Body>) -> Result<(), ExecError> {
    let mut sender = agent_link::connect(socket).await?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| ExecError::Http(e.to_string()))?;
    let status = response.status();
    let bytes: Bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if status.is_success() {
        Ok(())
    } else {
        Err(ExecError::Refused {
            status,
            message: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

fn basic_auth(user: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:"))
    )
}
