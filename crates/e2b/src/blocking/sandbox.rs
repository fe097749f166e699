//! The blocking [`Sandbox`].

use std::time::Duration;

use super::client::Client;
use super::commands::Commands;
use super::files::Files;
use super::runtime::Runtime;
use crate::{ConnectOptions, Result, SandboxBuilder, SandboxInfo};

/// The blocking counterpart of [`crate::Sandbox`]. Cheap to clone; dropping it does not
/// kill the sandbox.
///
/// ```no_run
/// # fn demo() -> e2b::Result<()> {
/// use std::time::Duration;
/// use e2b::blocking::{Client, Sandbox};
///
/// let client = Client::from_env()?;
/// let sandbox = Sandbox::create_with(
///     &client,
///     e2b::Sandbox::builder().template("base").timeout(Duration::from_secs(600)),
/// )?;
/// assert!(sandbox.is_running()?);
/// sandbox.set_timeout(Duration::from_secs(60))?;
/// println!("{:?}", sandbox.info()?.state);
/// sandbox.kill()?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub(crate) inner: crate::Sandbox,
    pub(crate) rt: Runtime,
}

impl Sandbox {
    /// Create a sandbox with the default options (template `base`, 300 s timeout).
    ///
    /// # Errors
    ///
    /// The errors of [`SandboxBuilder::create`].
    pub fn create(client: &Client) -> Result<Sandbox> {
        Sandbox::create_with(client, SandboxBuilder::new())
    }

    /// Create a sandbox with the options of `builder` (the async API's
    /// [`Sandbox::builder`](crate::Sandbox::builder), used here as the options value).
    ///
    /// # Errors
    ///
    /// The errors of [`SandboxBuilder::create`].
    pub fn create_with(client: &Client, builder: SandboxBuilder) -> Result<Sandbox> {
        let inner = client.rt.block_on(builder.create(&client.inner))?;
        Ok(Sandbox::from_async(client, inner))
    }

    /// Connect to a sandbox by id, resuming it if it is paused.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Sandbox::connect`].
    pub fn connect(client: &Client, sandbox_id: &str) -> Result<Sandbox> {
        Sandbox::connect_with(client, sandbox_id, ConnectOptions::new())
    }

    /// [`connect`](Self::connect) with options (the timeout to extend to).
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Sandbox::connect`].
    pub fn connect_with(
        client: &Client,
        sandbox_id: &str,
        options: ConnectOptions,
    ) -> Result<Sandbox> {
        let inner = client.rt.block_on(crate::Sandbox::connect_with(
            &client.inner,
            sandbox_id,
            options,
        ))?;
        Ok(Sandbox::from_async(client, inner))
    }

    /// A blocking handle on an async one, running on `client`'s runtime.
    pub fn from_async(client: &Client, sandbox: crate::Sandbox) -> Sandbox {
        Sandbox {
            inner: sandbox,
            rt: client.rt.clone(),
        }
    }

    /// The async handle underneath.
    pub fn as_async(&self) -> &crate::Sandbox {
        &self.inner
    }

    /// The sandbox id.
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// A handle on the same sandbox acting as `user` (see [`crate::Sandbox::with_user`]).
    #[must_use]
    pub fn with_user(&self, user: impl Into<String>) -> Sandbox {
        Sandbox {
            inner: self.inner.with_user(user),
            rt: self.rt.clone(),
        }
    }

    /// The host under which `port` of the sandbox is exposed.
    pub fn host(&self, port: u16) -> String {
        self.inner.host(port)
    }

    /// Commands: run, spawn, connect, list, kill.
    pub fn commands(&self) -> Commands<'_> {
        Commands { sandbox: self }
    }

    /// Files: read, write, list, exists, info, make_dir, rename, remove.
    pub fn files(&self) -> Files<'_> {
        Files { sandbox: self }
    }

    /// Whether the sandbox is running.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Sandbox::is_running`].
    pub fn is_running(&self) -> Result<bool> {
        self.rt.block_on(self.inner.is_running())
    }

    /// Kill the sandbox; `false` if it did not exist (any more).
    ///
    /// # Errors
    ///
    /// Control-plane errors.
    pub fn kill(&self) -> Result<bool> {
        self.rt.block_on(self.inner.kill())
    }

    /// Set the sandbox to time out `timeout` from now.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Sandbox::set_timeout`].
    pub fn set_timeout(&self, timeout: Duration) -> Result<()> {
        self.rt.block_on(self.inner.set_timeout(timeout))
    }

    /// The sandbox's current information.
    ///
    /// # Errors
    ///
    /// Not found if the sandbox is gone; other control-plane errors.
    pub fn info(&self) -> Result<SandboxInfo> {
        self.rt.block_on(self.inner.info())
    }
}
