//! [`Transport`]: how the generated clients send their requests.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The future of one sent request.
pub type ExecFuture =
    Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static>>;

/// Sends one built request of a generated client, named by its operation id.
///
/// The SDK (`e2b-core`) implements this with its HTTP seam: deadline, tracing, connection
/// retries. Implement it to put something else between the generated clients and the
/// network (a recorder, a fault injector).
pub trait Execute: Send + Sync + 'static {
    /// Send `request` and return the response, whatever its status.
    fn execute(&self, request: reqwest::Request, operation_id: &str) -> ExecFuture;
}

/// The transport of a generated client: an [`Execute`], or the client's own
/// `reqwest::Client` ([`Transport::direct`], also the `Default`).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use e2b_api::{Transport, control::Client};
///
/// let api = Client::new_with_client("https://api.e2b.app", reqwest::Client::new(), Transport::direct());
/// let sandboxes = api.get_v2_sandboxes().send().await?;
/// # let _ = sandboxes;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Transport(Option<Arc<dyn Execute>>);

impl Transport {
    /// Send requests with the generated client's own `reqwest::Client`, nothing more.
    pub fn direct() -> Self {
        Transport(None)
    }

    /// Send requests through `execute`.
    pub fn new(execute: impl Execute) -> Self {
        Transport(Some(Arc::new(execute)))
    }

    /// Send `request` through this transport, or with `client` if it is
    /// [`direct`](Self::direct).
    pub(crate) async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        operation_id: &str,
    ) -> reqwest::Result<reqwest::Response> {
        match &self.0 {
            Some(execute) => execute.execute(request, operation_id).await,
            None => client.execute(request).await,
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Some(_) => "Transport::Custom",
            None => "Transport::Direct",
        })
    }
}
