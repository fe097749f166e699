//! Connecting to (and resuming) an existing sandbox.

use e2b_core::Result;
use tracing::Instrument as _;

use super::control::{check_id, post_connect};
use super::options::ConnectOptions;
use super::{DEFAULT_SANDBOX_TIMEOUT, Sandbox};
use crate::client::Client;

pub(super) async fn connect(
    client: &Client,
    sandbox_id: &str,
    options: ConnectOptions,
) -> Result<Sandbox> {
    check_id(sandbox_id, "sandbox id")?;
    if client.is_debug() {
        return Sandbox::debug(client, sandbox_id);
    }
    let timeout = if options.timeout.is_zero() {
        DEFAULT_SANDBOX_TIMEOUT
    } else {
        options.timeout
    };
    let span = tracing::info_span!("e2b.sandbox.connect", sandbox_id);
    let created = post_connect(client, sandbox_id, timeout)
        .instrument(span)
        .await?;
    Sandbox::from_created(client, created)
}
