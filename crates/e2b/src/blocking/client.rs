//! The blocking [`Client`].

use std::fmt;
use std::time::Duration;

use futures_util::{Stream, StreamExt as _};

use super::runtime::Runtime;
use crate::{ConnectionConfig, ListOptions, Result, SandboxInfo};

/// The blocking counterpart of [`crate::Client`]: the connection and its pools, plus the
/// runtime that blocking calls run on. Cheap to clone; clones share both.
///
/// ```no_run
/// # fn demo() -> e2b::Result<()> {
/// let client = e2b::blocking::Client::from_env()?;
/// for sandbox in client.list_sandboxes() {
///     println!("{}", sandbox?.sandbox_id);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: crate::Client,
    pub(crate) rt: Runtime,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Client")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Client {
    /// A client for `config` (see [`crate::Client::new`]).
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Client::new`], or the runtime failing to start.
    pub fn new(config: ConnectionConfig) -> Result<Client> {
        let rt = Runtime::new()?;
        let inner = {
            let _entered = rt.enter();
            crate::Client::new(config)?
        };
        Ok(Client { inner, rt })
    }

    /// A client configured from the environment (see [`crate::Client::from_env`]).
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Client::from_env`], e.g. no `E2B_API_KEY`.
    pub fn from_env() -> Result<Client> {
        Client::new(ConnectionConfig::from_env()?)
    }

    /// A blocking client over an async one (sharing its pools), with a runtime of its own.
    ///
    /// # Errors
    ///
    /// The runtime failing to start.
    pub fn from_async(client: crate::Client) -> Result<Client> {
        Ok(Client {
            inner: client,
            rt: Runtime::new()?,
        })
    }

    /// The async client underneath.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// The connection configuration.
    pub fn config(&self) -> &ConnectionConfig {
        self.inner.config()
    }

    /// Sandboxes (running and paused), fetched page by page as the iterator advances.
    pub fn list_sandboxes(&self) -> Iter<Result<SandboxInfo>> {
        self.list_sandboxes_with(ListOptions::new())
    }

    /// [`list_sandboxes`](Self::list_sandboxes) with filters and page size.
    ///
    /// ```no_run
    /// # fn demo(client: e2b::blocking::Client) -> e2b::Result<()> {
    /// use e2b::{ListOptions, SandboxState};
    /// let running = client
    ///     .list_sandboxes_with(ListOptions::new().state([SandboxState::Running]))
    ///     .collect::<e2b::Result<Vec<_>>>()?;
    /// # let _ = running; Ok(()) }
    /// ```
    pub fn list_sandboxes_with(&self, options: ListOptions) -> Iter<Result<SandboxInfo>> {
        iter(self.rt.clone(), self.inner.list_sandboxes_with(options))
    }

    /// A sandbox's information by id (see [`crate::Client::sandbox_info`]).
    ///
    /// # Errors
    ///
    /// Not found if no such sandbox exists; other control-plane errors.
    pub fn sandbox_info(&self, sandbox_id: &str) -> Result<SandboxInfo> {
        self.rt.block_on(self.inner.sandbox_info(sandbox_id))
    }

    /// Kill a sandbox by id; `false` if it did not exist.
    ///
    /// # Errors
    ///
    /// Control-plane errors.
    pub fn kill_sandbox(&self, sandbox_id: &str) -> Result<bool> {
        self.rt.block_on(self.inner.kill_sandbox(sandbox_id))
    }

    /// Set a sandbox to time out `timeout` from now.
    ///
    /// # Errors
    ///
    /// Not found if no such sandbox exists; other control-plane errors.
    pub fn set_sandbox_timeout(&self, sandbox_id: &str, timeout: Duration) -> Result<()> {
        self.rt
            .block_on(self.inner.set_sandbox_timeout(sandbox_id, timeout))
    }
}

/// A blocking iterator over an async stream (pages of a list, a command's output), each
/// `next` waiting for the stream's next item.
#[must_use = "iterators do nothing unless advanced"]
pub struct Iter<T> {
    rt: Runtime,
    stream: std::pin::Pin<Box<dyn Stream<Item = T> + Send>>,
}

impl<T> fmt::Debug for Iter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("blocking::Iter")
    }
}

/// A blocking iterator over `stream`, driven on `rt`.
pub(crate) fn iter<S>(rt: Runtime, stream: S) -> Iter<S::Item>
where
    S: Stream + Send + 'static,
{
    Iter {
        rt,
        stream: Box::pin(stream),
    }
}

impl<T> Iterator for Iter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rt.block_on(self.stream.next())
    }
}
