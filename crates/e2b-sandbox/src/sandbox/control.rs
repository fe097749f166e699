//! Control-plane operations on sandboxes by id, as [`Client`] methods.

use std::time::{Duration, UNIX_EPOCH};

use e2b_api::control::types;
use e2b_core::{Error, NotFoundKind, Result};
use tracing::Instrument as _;

use super::builder::{CreateBody, timeout_secs};
use super::options::{ForkOptions, MetricsOptions, PauseOptions, SnapshotOptions};
use super::{Sandbox, sandbox_not_found};
use crate::client::{ApiPaths, Client};
use crate::convert::{self, SandboxCreated};
use crate::info::{SandboxInfo, SandboxMetrics, SnapshotInfo};
use crate::network::NetworkUpdate;

/// Refuse an empty id before it turns into a different URL.
pub(crate) fn check_id(id: &str, what: &str) -> Result<()> {
    if id.trim().is_empty() {
        return Err(Error::invalid_argument(format!("the {what} is empty")));
    }
    Ok(())
}

/// Whether a v2 answer means "this control plane has no v2 path" (404 or 405), while the
/// client does not know yet which paths it serves.
fn v2_refused(client: &Client, error: &Error) -> bool {
    client.api_paths() == ApiPaths::Unknown && matches!(error.status(), Some(404 | 405))
}

/// Note which paths answered, from the first success.
fn remember(client: &Client, paths: ApiPaths) {
    if client.api_paths() == ApiPaths::Unknown {
        client.set_api_paths(paths);
    }
}

/// `POST /v2/sandboxes`, the path upstream's SDKs call from 2.51 on, or `POST /sandboxes`
/// when the control plane does not serve v2 (404 or 405 the first time: an older
/// self-hosted E2B) or the sandbox is not to be secured, which only v1 can express.
pub(super) async fn post_create(client: &Client, body: CreateBody) -> Result<SandboxCreated> {
    let not_found = |e: Error| e.with_not_found_kind(NotFoundKind::Template);
    if body.secure && client.api_paths() != ApiPaths::V1 {
        let call = client.api().post_v2_sandboxes().body(body.v2()).send();
        match client.call("creating the sandbox", call).await {
            Ok(created) => {
                remember(client, ApiPaths::V2);
                return Ok(SandboxCreated::from(created.into_inner()));
            }
            Err(e) if v2_refused(client, &e) => {
                tracing::debug!(status = e.status(), "v2 create refused, trying v1");
            }
            Err(e) => return Err(not_found(e)),
        }
    }
    let call = client.api().post_sandboxes().body(body.v1()).send();
    let created = client
        .call("creating the sandbox", call)
        .await
        .map_err(not_found)?;
    if body.secure {
        remember(client, ApiPaths::V1);
    }
    Ok(SandboxCreated::from(created.into_inner()))
}

/// `POST /v2/sandboxes/{id}/connect`, or `POST /sandboxes/{id}/connect` on a control
/// plane without v2 (see [`post_create`]).
pub(super) async fn post_connect(
    client: &Client,
    id: &str,
    timeout: Duration,
) -> Result<SandboxCreated> {
    let timeout = timeout_secs(timeout)?;
    if client.api_paths() != ApiPaths::V1 {
        let body = types::ConnectSandboxV2 {
            memory: None,
            timeout: Some(timeout),
        };
        let call = client
            .api()
            .post_v2_sandboxes_sandbox_id_connect()
            .sandbox_id(id)
            .body(body)
            .send();
        match client.call("connecting to the sandbox", call).await {
            Ok(connected) => {
                remember(client, ApiPaths::V2);
                return Ok(SandboxCreated::from(connected.into_inner()));
            }
            Err(e) if v2_refused(client, &e) => {
                tracing::debug!(status = e.status(), "v2 connect refused, trying v1");
            }
            Err(e) => return Err(sandbox_not_found(e)),
        }
    }
    let call = client
        .api()
        .post_sandboxes_sandbox_id_connect()
        .sandbox_id(id)
        .body(types::ConnectSandbox { timeout })
        .send();
    let connected = client
        .call("connecting to the sandbox", call)
        .await
        .map_err(sandbox_not_found)?;
    remember(client, ApiPaths::V1);
    Ok(SandboxCreated::from(connected.into_inner()))
}

fn unix_secs(t: std::time::SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

impl Client {
    /// Information about a sandbox.
    ///
    /// # Errors
    ///
    /// Not found (of kind [`Sandbox`](NotFoundKind::Sandbox)) if no such sandbox exists;
    /// authentication, rate-limit, request-timeout and other control-plane errors.
    pub async fn sandbox_info(&self, sandbox_id: &str) -> Result<SandboxInfo> {
        check_id(sandbox_id, "sandbox id")?;
        let span = tracing::info_span!("e2b.sandbox.info", sandbox_id);
        let call = self
            .api()
            .get_sandboxes_sandbox_id()
            .sandbox_id(sandbox_id)
            .send();
        let detail = self
            .call("getting the sandbox info", call)
            .instrument(span)
            .await
            .map_err(sandbox_not_found)?;
        Ok(SandboxInfo::from(detail.into_inner()))
    }

    /// Kill a sandbox. Returns `false` if no such sandbox exists. In debug mode this does
    /// nothing and returns `true`.
    ///
    /// # Errors
    ///
    /// Authentication, rate-limit, request-timeout and other control-plane errors.
    pub async fn kill_sandbox(&self, sandbox_id: &str) -> Result<bool> {
        check_id(sandbox_id, "sandbox id")?;
        if self.is_debug() {
            return Ok(true);
        }
        let span = tracing::info_span!("e2b.sandbox.kill", sandbox_id);
        let call = self
            .api()
            .delete_sandboxes_sandbox_id()
            .sandbox_id(sandbox_id)
            .send();
        match self
            .call("killing the sandbox", call)
            .instrument(span)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Set a sandbox to time out `timeout` from now. Nothing happens in debug mode.
    ///
    /// # Errors
    ///
    /// Not found if no such sandbox exists; invalid argument for a timeout over `i32::MAX`
    /// seconds; other control-plane errors.
    pub async fn set_sandbox_timeout(&self, sandbox_id: &str, timeout: Duration) -> Result<()> {
        check_id(sandbox_id, "sandbox id")?;
        let timeout = timeout_secs(timeout)?;
        if self.is_debug() {
            return Ok(());
        }
        let span = tracing::info_span!("e2b.sandbox.set_timeout", sandbox_id, timeout);
        let call = self
            .api()
            .post_sandboxes_sandbox_id_timeout()
            .sandbox_id(sandbox_id)
            .body(types::SandboxTimeoutRequest { timeout })
            .send();
        self.call("setting the sandbox timeout", call)
            .instrument(span)
            .await
            .map(|_| ())
            .map_err(sandbox_not_found)
    }

    /// Pause a sandbox. Returns `false` if it was already paused.
    ///
    /// # Errors
    ///
    /// Not found if no such sandbox exists; other control-plane errors.
    pub async fn pause_sandbox(&self, sandbox_id: &str) -> Result<bool> {
        self.pause_sandbox_with(sandbox_id, PauseOptions::new())
            .await
    }

    /// [`pause_sandbox`](Self::pause_sandbox) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`pause_sandbox`](Self::pause_sandbox).
    pub async fn pause_sandbox_with(
        &self,
        sandbox_id: &str,
        options: PauseOptions,
    ) -> Result<bool> {
        check_id(sandbox_id, "sandbox id")?;
        let span = tracing::info_span!(
            "e2b.sandbox.pause",
            sandbox_id,
            keep_memory = options.keep_memory
        );
        let call = self
            .api()
            .post_sandboxes_sandbox_id_pause()
            .sandbox_id(sandbox_id)
            .body(types::SandboxPauseRequest {
                memory: options.keep_memory,
            })
            .send();
        match self
            .call("pausing the sandbox", call)
            .instrument(span)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(sandbox_not_found(e)),
        }
    }

    /// Fork a running sandbox into `count` new sandboxes (see [`Sandbox::fork`]).
    ///
    /// # Errors
    ///
    /// Invalid argument for a count of 0; not found if no such sandbox exists; other
    /// control-plane errors. Per-fork failures are the inner `Err`s.
    pub async fn fork_sandbox(&self, sandbox_id: &str) -> Result<Vec<Result<Sandbox>>> {
        self.fork_sandbox_with(sandbox_id, ForkOptions::new()).await
    }

    /// [`fork_sandbox`](Self::fork_sandbox) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`fork_sandbox`](Self::fork_sandbox).
    pub async fn fork_sandbox_with(
        &self,
        sandbox_id: &str,
        options: ForkOptions,
    ) -> Result<Vec<Result<Sandbox>>> {
        check_id(sandbox_id, "sandbox id")?;
        let count = std::num::NonZeroU32::new(options.count)
            .ok_or_else(|| Error::invalid_argument("the fork count must be at least 1"))?;
        let timeout = timeout_secs(if options.timeout.is_zero() {
            super::DEFAULT_SANDBOX_TIMEOUT
        } else {
            options.timeout
        })?;
        let span = tracing::info_span!("e2b.sandbox.fork", sandbox_id, count = options.count);
        let call = self
            .api()
            .post_sandboxes_sandbox_id_fork()
            .sandbox_id(sandbox_id)
            .body(types::SandboxForkRequest { count, timeout })
            .send();
        let results = self
            .call("forking the sandbox", call)
            .instrument(span)
            .await
            .map_err(sandbox_not_found)?
            .into_inner();
        Ok(results
            .into_iter()
            .map(|fork| match (fork.sandbox, fork.error) {
                (Some(sandbox), None) => Sandbox::from_created(self, sandbox.into()),
                (_, Some(error)) => {
                    let status = u16::try_from(error.code).unwrap_or(500);
                    let body = serde_json::to_vec(&error).unwrap_or_default();
                    Err(Error::from_status(status, &body))
                }
                (None, None) => Err(Error::protocol(
                    "a fork result has neither a sandbox nor an error",
                )),
            })
            .collect())
    }

    /// Resource usage samples of a sandbox. Empty in debug mode.
    ///
    /// # Errors
    ///
    /// Not found if no such sandbox exists; other control-plane errors.
    pub async fn sandbox_metrics(&self, sandbox_id: &str) -> Result<Vec<SandboxMetrics>> {
        self.sandbox_metrics_with(sandbox_id, MetricsOptions::new())
            .await
    }

    /// [`sandbox_metrics`](Self::sandbox_metrics) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`sandbox_metrics`](Self::sandbox_metrics).
    pub async fn sandbox_metrics_with(
        &self,
        sandbox_id: &str,
        options: MetricsOptions,
    ) -> Result<Vec<SandboxMetrics>> {
        check_id(sandbox_id, "sandbox id")?;
        if self.is_debug() {
            return Ok(Vec::new());
        }
        let span = tracing::info_span!("e2b.sandbox.metrics", sandbox_id);
        let mut request = self
            .api()
            .get_sandboxes_sandbox_id_metrics()
            .sandbox_id(sandbox_id);
        if let Some(start) = options.start {
            request = request.start(unix_secs(start));
        }
        if let Some(end) = options.end {
            request = request.end(unix_secs(end));
        }
        let metrics = self
            .call("getting the sandbox metrics", request.send())
            .instrument(span)
            .await
            .map_err(sandbox_not_found)?;
        Ok(metrics
            .into_inner()
            .into_iter()
            .map(SandboxMetrics::from)
            .collect())
    }

    /// Replace a sandbox's egress configuration (see [`Sandbox::update_network`]).
    ///
    /// # Errors
    ///
    /// Invalid argument for a malformed egress proxy; not found if no such sandbox exists;
    /// other control-plane errors.
    pub async fn update_sandbox_network(
        &self,
        sandbox_id: &str,
        update: NetworkUpdate,
    ) -> Result<()> {
        check_id(sandbox_id, "sandbox id")?;
        let body = convert::network_update_to_wire(&update)?;
        let span = tracing::info_span!("e2b.sandbox.update_network", sandbox_id);
        let call = self
            .api()
            .put_sandboxes_sandbox_id_network()
            .sandbox_id(sandbox_id)
            .body(body)
            .send();
        self.call("updating the sandbox network", call)
            .instrument(span)
            .await
            .map(|_| ())
            .map_err(sandbox_not_found)
    }

    /// Snapshot a sandbox (see [`Sandbox::create_snapshot`]).
    ///
    /// # Errors
    ///
    /// Not found if no such sandbox exists; other control-plane errors.
    pub async fn create_snapshot(&self, sandbox_id: &str) -> Result<SnapshotInfo> {
        self.create_snapshot_with(sandbox_id, SnapshotOptions::new())
            .await
    }

    /// [`create_snapshot`](Self::create_snapshot) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`create_snapshot`](Self::create_snapshot).
    pub async fn create_snapshot_with(
        &self,
        sandbox_id: &str,
        options: SnapshotOptions,
    ) -> Result<SnapshotInfo> {
        check_id(sandbox_id, "sandbox id")?;
        let span = tracing::info_span!("e2b.sandbox.create_snapshot", sandbox_id);
        let call = self
            .api()
            .post_sandboxes_sandbox_id_snapshots()
            .sandbox_id(sandbox_id)
            .body(types::SandboxSnapshotRequest { name: options.name })
            .send();
        let snapshot = self
            .call("creating the snapshot", call)
            .instrument(span)
            .await
            .map_err(sandbox_not_found)?;
        Ok(SnapshotInfo::from(snapshot.into_inner()))
    }

    /// Delete a snapshot. Returns `false` if no such snapshot exists.
    ///
    /// # Errors
    ///
    /// Authentication, rate-limit, request-timeout and other control-plane errors.
    pub async fn delete_snapshot(&self, snapshot_id: &str) -> Result<bool> {
        check_id(snapshot_id, "snapshot id")?;
        let span = tracing::info_span!("e2b.snapshot.delete", snapshot_id);
        let call = self
            .api()
            .delete_templates_template_id()
            .template_id(snapshot_id)
            .send();
        match self
            .call("deleting the snapshot", call)
            .instrument(span)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds() {
        assert_eq!(unix_secs(UNIX_EPOCH + Duration::from_secs(5)), 5);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_secs(5)), -5);
    }

    #[test]
    fn empty_ids_are_refused() {
        assert!(
            check_id(" ", "sandbox id")
                .unwrap_err()
                .is_invalid_argument()
        );
        check_id("abc", "sandbox id").unwrap();
    }
}
