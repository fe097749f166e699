//! The floor: the same requests as the SDKs, sent by a minimal hyper client (and `curl`
//! for the file transfers), so that what an SDK adds on top of the server shows.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::emit::{Client, emit};
use crate::{COMMANDS, SANDBOXES, Settings, settle_disk, stdout_command};

const ENVD_PORT: &str = "49983";
const INTERPRETER_PORT: &str = "49999";

/// Where the server is and the key its control plane takes.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    /// `host:port` of `E2B_API_URL`, which is also `E2B_SANDBOX_URL`.
    addr: String,
    pub(crate) api_key: String,
}

impl Server {
    pub(crate) fn from_env() -> anyhow::Result<Self> {
        let url = std::env::var("E2B_API_URL").context("E2B_API_URL")?;
        let addr = url
            .strip_prefix("http://")
            .context("E2B_API_URL must be http://")?
            .trim_end_matches('/')
            .to_owned();
        Ok(Server {
            addr,
            api_key: std::env::var("E2B_API_KEY").context("E2B_API_KEY")?,
        })
    }

    pub(crate) async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(&self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(sender)
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, &self.addr)
    }

    /// `POST /sandboxes`: the new sandbox's id.
    async fn create(
        &self,
        conn: &mut SendRequest<Full<Bytes>>,
        template: &str,
    ) -> anyhow::Result<String> {
        let body = json!({ "templateID": template, "timeout": 600 }).to_string();
        let request = self
            .request(Method::POST, "/sandboxes")
            .header("x-api-key", &self.api_key)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let (status, body) = send(conn, request).await?;
        anyhow::ensure!(status == StatusCode::CREATED, "create: {status} {body:?}");
        let created: Value = serde_json::from_slice(&body)?;
        Ok(created["sandboxID"]
            .as_str()
            .context("no sandboxID")?
            .to_owned())
    }

    async fn kill(&self, conn: &mut SendRequest<Full<Bytes>>, id: &str) -> anyhow::Result<()> {
        let request = self
            .request(Method::DELETE, &format!("/sandboxes/{id}"))
            .header("x-api-key", &self.api_key)
            .body(Full::new(Bytes::new()))?;
        let (status, _) = send(conn, request).await?;
        anyhow::ensure!(status.is_success(), "kill: {status}");
        Ok(())
    }

    fn to_sandbox(
        &self,
        method: Method,
        path: &str,
        id: &str,
        port: &str,
    ) -> http::request::Builder {
        self.request(method, path)
            .header("e2b-sandbox-id", id)
            .header("e2b-sandbox-port", port)
    }

    /// `process.Process/Start` of `bash -l -c CMD`, as the SDKs send it (Connect, JSON).
    fn start(&self, id: &str, cmd: &str) -> anyhow::Result<Request<Full<Bytes>>> {
        let message = json!({
            "process": { "cmd": "/bin/bash", "args": ["-l", "-c", cmd] },
            "stdin": false,
        })
        .to_string();
        let mut envelope = Vec::with_capacity(5 + message.len());
        envelope.push(0);
        envelope.extend_from_slice(&(message.len() as u32).to_be_bytes());
        envelope.extend_from_slice(message.as_bytes());
        Ok(self
            .to_sandbox(Method::POST, "/process.Process/Start", id, ENVD_PORT)
            .header(http::header::CONTENT_TYPE, "application/connect+json")
            .header("connect-protocol-version", "1")
            .body(Full::new(Bytes::from(envelope)))?)
    }

    /// Run `cmd` to its end; the bytes of the response.
    async fn run(
        &self,
        conn: &mut SendRequest<Full<Bytes>>,
        id: &str,
        cmd: &str,
    ) -> anyhow::Result<usize> {
        let request = self.start(id, cmd)?;
        conn.ready().await?;
        let response = conn.send_request(request).await?;
        anyhow::ensure!(
            response.status() == StatusCode::OK,
            "start: {}",
            response.status()
        );
        let mut body = response.into_body();
        let (mut bytes, mut ended) = (0, false);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                bytes += data.len();
                ended |= data.windows(6).any(|w| w == b"\"end\":");
            }
        }
        anyhow::ensure!(ended, "the command's stream did not end with its exit");
        Ok(bytes)
    }
}

async fn send(
    conn: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    conn.ready().await?;
    let response = conn.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

async fn timed<F, Fut>(settings: &Settings, mut call: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    for _ in 0..settings.warmup {
        call().await?;
    }
    let mut samples = Vec::with_capacity(settings.iterations);
    for _ in 0..settings.iterations {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

pub(crate) async fn run(
    scenario: &str,
    arg: Option<&str>,
    settings: &Settings,
) -> anyhow::Result<()> {
    let server = Server::from_env()?;
    let mut control = server.connect().await?;
    match scenario {
        "run_true" => {
            let id = server.create(&mut control, "base").await?;
            let conn = tokio::sync::Mutex::new(server.connect().await?);
            let samples = timed(settings, || {
                let (server, conn, id) = (&server, &conn, &id);
                async move {
                    server.run(&mut *conn.lock().await, id, "true").await?;
                    Ok(())
                }
            })
            .await?;
            server.kill(&mut control, &id).await?;
            emit(Client::Floor, "run_true", "ms", &samples, json!({}));
        }
        "read_small" => {
            let id = server.create(&mut control, "base").await?;
            let conn = tokio::sync::Mutex::new(server.connect().await?);
            let put = server
                .to_sandbox(Method::POST, "/files?path=/tmp/small.txt", &id, ENVD_PORT)
                .header(http::header::CONTENT_TYPE, "application/octet-stream")
                .body(Full::new(Bytes::from(vec![b'x'; 1024])))?;
            let (status, _) = send(&mut *conn.lock().await, put).await?;
            anyhow::ensure!(status == StatusCode::OK, "write: {status}");
            let samples = timed(settings, || {
                let (server, conn, id) = (&server, &conn, &id);
                async move {
                    let get = server
                        .to_sandbox(Method::GET, "/files?path=/tmp/small.txt", id, ENVD_PORT)
                        .body(Full::new(Bytes::new()))?;
                    let (status, body) = send(&mut *conn.lock().await, get).await?;
                    anyhow::ensure!(status == StatusCode::OK && body.len() == 1024);
                    Ok(())
                }
            })
            .await?;
            server.kill(&mut control, &id).await?;
            emit(Client::Floor, "read_small", "ms", &samples, json!({}));
        }
        "run_code" => {
            let id = server.create(&mut control, "code-interpreter-v1").await?;
            let conn = tokio::sync::Mutex::new(server.connect().await?);
            let samples = timed(settings, || {
                let (server, conn, id) = (&server, &conn, &id);
                async move {
                    let execute = server
                        .to_sandbox(Method::POST, "/execute", id, INTERPRETER_PORT)
                        .header(http::header::CONTENT_TYPE, "application/json")
                        .body(Full::new(Bytes::from_static(br#"{"code":"1+1"}"#)))?;
                    let (status, body) = send(&mut *conn.lock().await, execute).await?;
                    anyhow::ensure!(status == StatusCode::OK, "execute: {status}");
                    anyhow::ensure!(
                        body.windows(10).any(|w| w == br#""text": "2"#.as_slice()
                            || w == br#""text":"2""#.as_slice()),
                        "execute gave {body:?}"
                    );
                    Ok(())
                }
            })
            .await?;
            server.kill(&mut control, &id).await?;
            emit(Client::Floor, "run_code", "ms", &samples, json!({}));
        }
        "transfer" => {
            let path = arg.context("transfer needs a FILE")?;
            let size = std::fs::metadata(path)?.len();
            let id = server.create(&mut control, "base").await?;
            let (mut up, mut down) = (Vec::new(), Vec::new());
            let url = format!("http://{}/files?path=/tmp/bench.bin", server.addr);
            let headers = [
                format!("e2b-sandbox-id: {id}"),
                format!("e2b-sandbox-port: {ENVD_PORT}"),
            ];
            for _ in 0..settings.repeats {
                settle_disk()?;
                let started = Instant::now();
                curl(
                    &headers,
                    &[
                        "-X",
                        "POST",
                        "-T",
                        path,
                        "-H",
                        "Expect:",
                        "-H",
                        "Content-Type: application/octet-stream",
                        "-o",
                        "/dev/null",
                        &url,
                    ],
                )?;
                up.push(started.elapsed());
                let out = format!("{path}.down");
                settle_disk()?;
                let started = Instant::now();
                curl(&headers, &["-o", &out, &url])?;
                down.push(started.elapsed());
                let copied = std::fs::metadata(&out)?.len();
                std::fs::remove_file(&out)?;
                anyhow::ensure!(copied == size, "downloaded {copied} of {size} bytes");
            }
            server.kill(&mut control, &id).await?;
            let extra = json!({ "bytes": size });
            emit(Client::Curl, "upload", "s", &up, extra.clone());
            emit(Client::Curl, "download", "s", &down, extra);
        }
        "stdout" => {
            let mib: u64 = arg.context("stdout needs MIB")?.parse()?;
            let size = mib * 1024 * 1024;
            let id = server.create(&mut control, "base").await?;
            let mut conn = server.connect().await?;
            let mut samples = Vec::new();
            for _ in 0..settings.repeats {
                let started = Instant::now();
                let bytes = server.run(&mut conn, &id, &stdout_command(size)).await?;
                samples.push(started.elapsed());
                // base64 in JSON: at least 4/3 of the output.
                anyhow::ensure!(bytes as u64 >= size / 3 * 4, "stdout was short");
            }
            server.kill(&mut control, &id).await?;
            emit(
                Client::Floor,
                "stdout",
                "s",
                &samples,
                json!({ "bytes": size }),
            );
        }
        "concurrent" => {
            let mut ids = Vec::new();
            for _ in 0..SANDBOXES {
                ids.push(server.create(&mut control, "base").await?);
            }
            let one = |i: usize| {
                let (server, id) = (server.clone(), ids[i % SANDBOXES].clone());
                async move {
                    let mut conn = server.connect().await?;
                    server.run(&mut conn, &id, "true").await
                }
            };
            futures_util::future::try_join_all((0..SANDBOXES).map(one)).await?;
            let mut samples = Vec::new();
            for _ in 0..settings.repeats {
                let started = Instant::now();
                futures_util::future::try_join_all((0..COMMANDS).map(|i| tokio::spawn(one(i))))
                    .await?
                    .into_iter()
                    .collect::<anyhow::Result<Vec<_>>>()?;
                samples.push(started.elapsed());
            }
            for id in &ids {
                server.kill(&mut control, id).await?;
            }
            emit(
                Client::Floor,
                "concurrent",
                "s",
                &samples,
                json!({ "commands": COMMANDS, "sandboxes": SANDBOXES }),
            );
        }
        "create_first" => {
            let mut samples = Vec::new();
            for _ in 0..settings.repeats * 3 {
                let started = Instant::now();
                let id = server.create(&mut control, "base").await?;
                server.run(&mut control, &id, "true").await?;
                samples.push(started.elapsed());
                server.kill(&mut control, &id).await?;
            }
            emit(Client::Floor, "create_first", "ms", &samples, json!({}));
        }
        other => anyhow::bail!("unknown scenario {other}"),
    }
    Ok(())
}

/// Run `curl` with the sandbox's routing headers; fail on an error status.
fn curl(headers: &[String], args: &[&str]) -> anyhow::Result<()> {
    let mut command = std::process::Command::new("curl");
    command.args(["-sS", "--fail"]);
    for h in headers {
        command.args(["-H", h]);
    }
    let status = command
        .args(args)
        .stdin(Stdio::null())
        .status()
        .context("running curl")?;
    anyhow::ensure!(status.success(), "curl failed: {status}");
    Ok(())
}
