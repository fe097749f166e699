//! The `serve` and `doctor` commands.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `e2b-local serve`.
pub fn serve(_listen: SocketAddr, _api_key: Option<String>, _data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    anyhow::bail!("serve is not implemented yet")
}

/// `e2b-local doctor`.
pub fn doctor() -> anyhow::Result<()> {
    anyhow::bail!("doctor is not implemented yet")
}
