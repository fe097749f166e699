//! The warm pools of the server under test (`GET /local/warm-pools`, e2b-local's own
//! route): the create scenarios of the code interpreter wait for them to be full before
//! each timed create, and count the creates a pool served.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use serde_json::Value;

use crate::floor::Server;

/// How long a pool may take to refill before the scenario fails.
const PATIENCE: Duration = Duration::from_secs(120);
/// How often the pools are read while waiting.
const POLL: Duration = Duration::from_millis(20);

/// The pools as the server reports them (`[]` when it keeps none).
async fn pools() -> anyhow::Result<Vec<Value>> {
    let server = Server::from_env()?;
    let mut sender = server.connect().await?;
    let request = server
        .request(http::Method::GET, "/local/warm-pools")
        .header("x-api-key", &server.api_key)
        .body(Full::new(Bytes::new()))?;
    let response = sender.send_request(request).await?;
    anyhow::ensure!(
        response.status().is_success(),
        "GET /local/warm-pools: {}",
        response.status()
    );
    let body = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice::<Vec<Value>>(&body)?)
}

/// Creates served by the pools so far.
pub(crate) async fn handed_out() -> anyhow::Result<u64> {
    Ok(pools()
        .await?
        .iter()
        .filter_map(|p| p["handedOut"].as_u64())
        .sum())
}

/// Wait until every pool holds as many ready sandboxes as it keeps.
pub(crate) async fn wait_full() -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let pools = pools().await?;
        if pools.iter().all(|p| p["ready"] == p["size"]) {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the warm pools did not refill within {PATIENCE:?}: {pools:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}
