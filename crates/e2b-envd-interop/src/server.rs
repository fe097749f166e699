//! The fakes served by connectrpc's own hyper server on a loopback port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use connectrpc::{ConnectRpcService, DeadlinePolicy, Limits, Router, Server, unary_interceptor};

use crate::filesystem::FakeFilesystem;
use crate::process::FakeProcess;

/// Largest message the server accepts by default: well above the 4 MB
/// connectrpc default, like envd (connect-go sets no limit).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Configures a [`TestServer`].
#[derive(Debug, Default)]
pub struct TestServerBuilder {
    max_message_size: Option<usize>,
    min_deadline: Option<Duration>,
}

impl TestServerBuilder {
    /// Refuse request messages larger than `bytes`.
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = Some(bytes);
        self
    }

    /// Raise any client deadline below `min` to `min`, so the server does not
    /// enforce a short client deadline itself.
    #[must_use]
    pub fn min_deadline(mut self, min: Duration) -> Self {
        self.min_deadline = Some(min);
        self
    }

    /// Bind `127.0.0.1:0` and serve on the current tokio runtime.
    pub async fn start(self) -> TestServer {
        let process = FakeProcess::default();
        let router = Router::new()
            .add_service(Arc::new(process.clone()))
            .add_service(Arc::new(FakeFilesystem));
        let max = self.max_message_size.unwrap_or(MAX_MESSAGE);
        // Unary bodies as they arrived on the wire, before decoding, so tests
        // can check what our client actually sent.
        let recorder = process.clone();
        let mut service = ConnectRpcService::new(router)
            .with_limits(
                Limits::default()
                    .with_max_message_size(max)
                    .with_max_request_body_size(max + 5),
            )
            .with_interceptor(unary_interceptor(move |req, next| {
                if let Some(path) = req
                    .ctx
                    .path()
                    .filter(|p| p.starts_with("/process.Process/"))
                {
                    recorder.record_wire(path, req.payload.bytes().clone());
                }
                Box::pin(next.run(req))
            }));
        if let Some(min) = self.min_deadline {
            service = service.with_deadline_policy(DeadlinePolicy::new().with_min(min));
        }
        let bound = Server::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port");
        let addr = bound.local_addr().expect("bound address");
        let task = tokio::spawn(async move {
            if let Err(e) = bound.serve_with_service(service).await {
                panic!("connectrpc server failed: {e}");
            }
        });
        TestServer {
            addr,
            process,
            task,
        }
    }
}

/// A running connectrpc server with the fakes. Stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    process: FakeProcess,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// A server with default settings.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Configure a server.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The fake process service (shared with the server).
    pub fn process(&self) -> &FakeProcess {
        &self.process
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
