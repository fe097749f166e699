//! The blocking [`CodeInterpreter`].

use super::client::Client;
use super::sandbox::Sandbox;
use crate::code_interpreter::{CodeInterpreterBuilder, Context, ContextOptions, Execution};
use crate::{ConnectOptions, Result, RunCodeOptions};

/// The blocking counterpart of [`crate::CodeInterpreter`]: run code in stateful kernels.
/// Its [`Sandbox`] (commands, files, the lifecycle) is [`sandbox`](Self::sandbox).
///
/// ```no_run
/// # fn demo() -> e2b::Result<()> {
/// use e2b::RunCodeOptions;
/// use e2b::blocking::{Client, CodeInterpreter};
///
/// let client = Client::from_env()?;
/// let interpreter = CodeInterpreter::create(&client)?;
/// interpreter.run_code("x = 21")?;
/// let execution = interpreter.run_code_with(
///     "print('computing'); x * 2",
///     RunCodeOptions::new().on_stdout(|m| print!("{}", m.line)),
/// )?;
/// assert_eq!(execution.text(), Some("42"));
///
/// let context = interpreter.create_code_context()?;
/// interpreter.run_code_with("y = 1", RunCodeOptions::new().context(&context))?;
/// interpreter.remove_code_context(&context)?;
/// interpreter.sandbox().kill()?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct CodeInterpreter {
    inner: crate::CodeInterpreter,
    sandbox: Sandbox,
}

impl CodeInterpreter {
    /// Create a code-interpreter sandbox with the default options.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CodeInterpreter::create`].
    pub fn create(client: &Client) -> Result<CodeInterpreter> {
        CodeInterpreter::create_with(client, crate::CodeInterpreter::builder())
    }

    /// Create a code-interpreter sandbox with the options of `builder` (the async API's
    /// [`CodeInterpreter::builder`](crate::CodeInterpreter::builder)).
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CodeInterpreter::create`].
    pub fn create_with(
        client: &Client,
        builder: CodeInterpreterBuilder,
    ) -> Result<CodeInterpreter> {
        let inner = client.rt.block_on(builder.create(&client.inner))?;
        Ok(CodeInterpreter::from_async(client, inner))
    }

    /// Connect to a running (or paused) code-interpreter sandbox by id.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CodeInterpreter::connect`].
    pub fn connect(client: &Client, sandbox_id: &str) -> Result<CodeInterpreter> {
        CodeInterpreter::connect_with(client, sandbox_id, ConnectOptions::new())
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`connect`](Self::connect).
    pub fn connect_with(
        client: &Client,
        sandbox_id: &str,
        options: ConnectOptions,
    ) -> Result<CodeInterpreter> {
        let inner = client.rt.block_on(crate::CodeInterpreter::connect_with(
            &client.inner,
            sandbox_id,
            options,
        ))?;
        Ok(CodeInterpreter::from_async(client, inner))
    }

    /// A blocking handle on an async one, running on `client`'s runtime.
    pub fn from_async(client: &Client, interpreter: crate::CodeInterpreter) -> CodeInterpreter {
        let sandbox = Sandbox::from_async(client, interpreter.sandbox().clone());
        CodeInterpreter {
            inner: interpreter,
            sandbox,
        }
    }

    /// The underlying sandbox: commands, files, the lifecycle.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The async handle underneath.
    pub fn as_async(&self) -> &crate::CodeInterpreter {
        &self.inner
    }

    /// Run code in the default Python context and wait for it.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CodeInterpreter::run_code`].
    pub fn run_code(&self, code: &str) -> Result<Execution> {
        self.run_code_with(code, RunCodeOptions::new())
    }

    /// [`run_code`](Self::run_code) with options: language or context, environment,
    /// deadlines, streaming callbacks (called on this thread as output arrives).
    ///
    /// # Errors
    ///
    /// The errors of [`run_code`](Self::run_code).
    pub fn run_code_with(&self, code: &str, options: RunCodeOptions) -> Result<Execution> {
        self.sandbox
            .rt
            .block_on(self.inner.run_code_with(code, options))
    }

    /// Create a context (a new Python kernel).
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CodeInterpreter::create_code_context`].
    pub fn create_code_context(&self) -> Result<Context> {
        self.create_code_context_with(ContextOptions::new())
    }

    /// [`create_code_context`](Self::create_code_context) with options (language,
    /// working directory).
    ///
    /// # Errors
    ///
    /// The errors of [`create_code_context`](Self::create_code_context).
    pub fn create_code_context_with(&self, options: ContextOptions) -> Result<Context> {
        self.sandbox
            .rt
            .block_on(self.inner.create_code_context_with(options))
    }

    /// The contexts of the sandbox.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CodeInterpreter::list_code_contexts`].
    pub fn list_code_contexts(&self) -> Result<Vec<Context>> {
        self.sandbox.rt.block_on(self.inner.list_code_contexts())
    }

    /// Restart a context (its state is lost).
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CodeInterpreter::restart_code_context`].
    pub fn restart_code_context(&self, context: impl AsRef<str>) -> Result<()> {
        self.sandbox
            .rt
            .block_on(self.inner.restart_code_context(context))
    }

    /// Remove a context.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CodeInterpreter::remove_code_context`].
    pub fn remove_code_context(&self, context: impl AsRef<str>) -> Result<()> {
        self.sandbox
            .rt
            .block_on(self.inner.remove_code_context(context))
    }
}
