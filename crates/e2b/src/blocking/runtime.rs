//! The runtime every blocking handle of one client shares.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A tokio runtime shut down without blocking when the last handle goes, so that dropping
/// a handle inside an async context never panics.
struct Owned(Option<tokio::runtime::Runtime>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A cheap handle on the shared runtime.
#[derive(Clone)]
pub(crate) struct Runtime(Arc<Owned>);

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Runtime")
    }
}

impl Runtime {
    pub(crate) fn new() -> crate::Result<Runtime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("e2b-blocking")
            .enable_all()
            .build()
            .map_err(|e| {
                crate::Error::invalid_argument(format!(
                    "could not start the blocking client's runtime: {e}"
                ))
            })?;
        Ok(Runtime(Arc::new(Owned(Some(runtime)))))
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.0
            .0
            .as_ref()
            .expect("the runtime lives as long as its handles")
    }

    /// Run `future` to completion on this thread.
    ///
    /// # Panics
    ///
    /// Inside an async runtime, with a message saying what to do instead.
    #[track_caller]
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        if tokio::runtime::Handle::try_current().is_ok() {
            panic!(
                "e2b::blocking was called from inside an async runtime, where blocking would \
                 stall the runtime's thread; use the async API (e2b::Sandbox, …) there, or \
                 run the blocking call on a thread of its own (tokio::task::spawn_blocking)"
            );
        }
        self.runtime().block_on(future)
    }

    /// Enter the runtime's context for code that must be in one (e.g. to create a
    /// client that spawns tasks).
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.runtime().enter()
    }
}
