//! Forward compatibility: a control plane newer than this crate may report states and
//! actions it does not know. Listing and info still decode, and keep the value as sent.
//! Served by a small in-process stub of the control plane.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use e2b_sandbox::{Client, ConnectionConfig, OnTimeoutAction, SandboxState};
use futures_util::TryStreamExt as _;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const SANDBOX_ID: &str = "isbx0000000000000000";

/// The fields a listing and a detail share, with the given state.
fn sandbox_fields(state: &str) -> serde_json::Value {
    serde_json::json!({
        "templateID": "base",
        "sandboxID": SANDBOX_ID,
        "clientID": "local",
        "startedAt": "2030-01-01T00:00:00Z",
        "endAt": "2030-01-01T00:05:00Z",
        "cpuCount": 2,
        "memoryMB": 512,
        "diskSizeMB": 1024,
        "envdVersion": "0.5.0",
        "state": state,
    })
}

/// `GET /v2/sandboxes` and `GET /sandboxes/{id}` as a newer control plane might answer.
fn answer(path: &str) -> (StatusCode, String) {
    match path {
        "/v2/sandboxes" => {
            let running = sandbox_fields("running");
            let mut hibernating = sandbox_fields("hibernating");
            hibernating["sandboxID"] = "isbx1111111111111111".into();
            (
                StatusCode::OK,
                serde_json::json!([running, hibernating]).to_string(),
            )
        }
        p if p == format!("/sandboxes/{SANDBOX_ID}") => {
            let mut detail = sandbox_fields("hibernating");
            detail["lifecycle"] = serde_json::json!({
                "autoResume": true,
                "onTimeout": "hibernate",
            });
            (StatusCode::OK, detail.to_string())
        }
        _ => (
            StatusCode::NOT_FOUND,
            r#"{"code":404,"message":"not found"}"#.to_owned(),
        ),
    }
}

struct Stub {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Stub {
    async fn start() -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service = service_fn(|request: Request<Incoming>| async move {
                        let (status, body) = answer(request.uri().path());
                        let response = Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body)))
                            .unwrap();
                        Ok::<_, Infallible>(response)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Stub { addr, task }
    }

    fn client(&self) -> Client {
        let config = ConnectionConfig::builder()
            .api_key("e2b_0000000000000000000000000000000000000000")
            .api_url(format!("http://{}", self.addr))
            .build()
            .unwrap();
        Client::new(config).unwrap()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_new_state_does_not_break_listing() {
    let stub = Stub::start().await;
    let sandboxes: Vec<_> = stub
        .client()
        .list_sandboxes()
        .try_collect()
        .await
        .expect("the page decodes");
    let states: Vec<_> = sandboxes.iter().map(|s| s.state.clone()).collect();
    assert_eq!(
        states,
        [
            SandboxState::Running,
            SandboxState::Unknown("hibernating".to_owned())
        ]
    );
    assert_eq!(states[1].as_str(), "hibernating");
    assert_eq!(states[1].to_string(), "hibernating");
}

#[tokio::test]
async fn a_new_state_and_timeout_action_do_not_break_info() {
    let stub = Stub::start().await;
    let info = stub
        .client()
        .sandbox_info(SANDBOX_ID)
        .await
        .expect("the detail decodes");
    assert_eq!(info.state, SandboxState::Unknown("hibernating".to_owned()));
    let lifecycle = info.lifecycle.expect("lifecycle reported");
    assert_eq!(
        lifecycle.on_timeout,
        OnTimeoutAction::Unknown("hibernate".to_owned())
    );
    assert_eq!(lifecycle.on_timeout.as_str(), "hibernate");
    assert!(lifecycle.auto_resume);
}
