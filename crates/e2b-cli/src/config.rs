//! The SDK client, configured like the SDK (the environment) with the global flags on top.

use std::time::Duration;

use e2b_sandbox::{Client, ConnectionConfig};

use crate::cli::Global;
use crate::error::CliError;

/// A client from the environment, each global flag given replacing its variable.
pub(crate) fn client(global: &Global) -> Result<Client, CliError> {
    let mut builder = ConnectionConfig::builder().env();
    if let Some(key) = &global.api_key {
        builder = builder.api_key(key);
    }
    if let Some(token) = &global.access_token {
        builder = builder.access_token(token);
    }
    if let Some(domain) = &global.domain {
        builder = builder.domain(domain);
    }
    if let Some(url) = &global.api_url {
        builder = builder.api_url(url);
    }
    if let Some(url) = &global.sandbox_url {
        builder = builder.sandbox_url(url);
    }
    if let Some(secs) = global.request_timeout {
        builder = builder.request_timeout(Duration::from_secs(secs));
    }
    let config = builder.build().map_err(CliError::config)?;
    Client::new(config).map_err(CliError::from)
}
