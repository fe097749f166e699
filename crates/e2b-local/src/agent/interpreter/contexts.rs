//! Contexts: one kernel each, executions serialized by a lock, a default
//! context per language created at startup (Python, JavaScript) or on first
//! use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::kernel::{Kernel, KernelError, KernelSpec, signal_group};
use super::{execute, language};
use crate::agent::context::Sandbox;
use crate::agent::process::spawn;
use crate::interpreter::kernel_env::{KernelEnv, Language};

/// A context as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct ContextView {
    pub(crate) id: String,
    pub(crate) language: String,
    pub(crate) cwd: String,
}

/// One context: a kernel (started lazily again if it dies) and its settings.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) id: String,
    pub(crate) language: Language,
    pub(crate) cwd: String,
    /// The kernel; holding the lock is running an execution.
    pub(crate) kernel: tokio::sync::Mutex<Option<Kernel>>,
    /// The kernel's pid (0: none), for signals from outside the lock.
    pid: AtomicI32,
    /// Bumped by every restart and by removal: an execution that sees it
    /// change lost its kernel on purpose, and a kernel it was starting must go.
    pub(crate) generation: AtomicU64,
    /// Set once the context is removed.
    pub(crate) removed: AtomicBool,
    /// Creation order (contexts are listed oldest first).
    created: u64,
    /// The sandbox's environment variables as the current kernel has them.
    kernel_env: Mutex<Arc<BTreeMap<String, String>>>,
}

impl Context {
    pub(crate) fn view(&self) -> ContextView {
        ContextView {
            id: self.id.clone(),
            language: self.language.name().to_owned(),
            cwd: self.cwd.clone(),
        }
    }

    /// The current generation (see [`Context::generation`]).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The variables of `current` that the kernel does not have yet (new,
    /// or with another value), or `None` when it is up to date. The
    /// server only ever adds variables to a sandbox's set or changes them,
    /// so nothing needs unsetting.
    pub(crate) fn env_behind(
        &self,
        current: &Arc<BTreeMap<String, String>>,
    ) -> Option<BTreeMap<String, String>> {
        let has = lock_env(&self.kernel_env);
        if Arc::ptr_eq(&has, current) {
            return None;
        }
        // What a kernel sets over the sandbox's variables stays its own.
        let changed: BTreeMap<String, String> = current
            .iter()
            .filter(|(k, _)| !KERNEL_ENV.iter().any(|(own, _)| own == k))
            .filter(|(k, v)| has.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(changed)
    }

    /// Record that the kernel now has `env`.
    pub(crate) fn env_applied(&self, env: Arc<BTreeMap<String, String>>) {
        *self.kernel_env.lock().unwrap_or_else(|e| e.into_inner()) = env;
    }

    /// Kill the current kernel, whoever holds the lock.
    pub(crate) fn kill_kernel(&self) {
        let pid = self.pid.load(Ordering::SeqCst);
        if pid > 0 {
            signal_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Variables every kernel starts with, over the sandbox's.
const KERNEL_ENV: [(&str, &str); 2] = [
    ("MPLBACKEND", "module://matplotlib_inline.backend_inline"),
    ("PYTHONUNBUFFERED", "1"),
];

fn lock_env(env: &Mutex<Arc<BTreeMap<String, String>>>) -> Arc<BTreeMap<String, String>> {
    Arc::clone(&env.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Why a context could not be made or found.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContextError {
    /// No kernel for the language.
    #[error("no {language} kernel is installed in this sandbox (available: {available})")]
    UnknownLanguage { language: String, available: String },
    /// The working directory is unusable.
    #[error("cannot use {cwd} as the working directory: {reason}")]
    BadCwd { cwd: String, reason: String },
    /// No such context.
    #[error("Context {0} not found")]
    NotFound(String),
    /// The kernel failed.
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

/// All contexts of the sandbox.
#[derive(Debug)]
pub(crate) struct Contexts {
    sandbox: Arc<Sandbox>,
    env: KernelEnv,
    languages: Vec<Language>,
    /// Where kernels keep their connection files and sockets.
    runtime: PathBuf,
    state: Mutex<State>,
    /// Serializes the lazy creation of default contexts.
    creating: tokio::sync::Mutex<()>,
    /// Numbers contexts in creation order.
    next: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    by_id: BTreeMap<String, Arc<Context>>,
    /// Language → id of its default context.
    defaults: BTreeMap<Language, String>,
}

impl Contexts {
    pub(crate) fn new(sandbox: Arc<Sandbox>, env: KernelEnv, runtime: PathBuf) -> Self {
        let languages = env.languages();
        Self {
            sandbox,
            env,
            languages,
            runtime,
            state: Mutex::new(State::default()),
            creating: tokio::sync::Mutex::new(()),
            next: AtomicU64::new(0),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sandbox's environment variables now.
    pub(crate) fn sandbox_env(&self) -> Arc<BTreeMap<String, String>> {
        self.sandbox.env_vars()
    }

    /// The home of the user kernels run as (the default working directory).
    pub(crate) fn home(&self) -> String {
        self.sandbox.users.default_account().home.clone()
    }

    /// The kernel of a language name (already normalized).
    pub(crate) fn language(&self, name: &str) -> Result<Language, ContextError> {
        language::by_name(name)
            .filter(|l| self.languages.contains(l))
            .ok_or_else(|| ContextError::UnknownLanguage {
                language: name.to_owned(),
                available: self
                    .languages
                    .iter()
                    .map(|l| l.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Create a context and start its kernel.
    pub(crate) async fn create(
        &self,
        language: Language,
        cwd: Option<&str>,
    ) -> Result<Arc<Context>, ContextError> {
        let context = self.new_context(language, cwd)?;
        {
            let mut kernel = context.kernel.lock().await;
            *kernel = Some(self.start_kernel(&context).await?);
        }
        self.state()
            .by_id
            .insert(context.id.clone(), context.clone());
        Ok(context)
    }

    /// A context with no kernel yet, not registered.
    fn new_context(
        &self,
        language: Language,
        cwd: Option<&str>,
    ) -> Result<Arc<Context>, ContextError> {
        let cwd = cwd
            .filter(|c| !c.is_empty())
            .map_or_else(|| self.home(), str::to_owned);
        check_cwd(&cwd)?;
        let id = crate::ids::uuid_v4().map_err(|e| {
            ContextError::Kernel(KernelError::Spawn {
                language,
                source: e,
            })
        })?;
        Ok(Arc::new(Context {
            id,
            language,
            cwd,
            kernel: tokio::sync::Mutex::new(None),
            pid: AtomicI32::new(0),
            generation: AtomicU64::new(0),
            removed: AtomicBool::new(false),
            created: self.next.fetch_add(1, Ordering::SeqCst),
            kernel_env: Mutex::new(self.sandbox.env_vars()),
        }))
    }

    /// Register the default context of `language` now and start its kernel
    /// in the background: it is listed at once, and an execution that
    /// arrives before the kernel waits for it (or starts it, if the
    /// background start failed).
    pub(crate) async fn default_in_background(
        self: &Arc<Self>,
        language: Language,
    ) -> Result<(), ContextError> {
        let _creating = self.creating.lock().await;
        if self.existing_default(language).is_some() {
            return Ok(());
        }
        let context = self.new_context(language, None)?;
        {
            let mut state = self.state();
            state.by_id.insert(context.id.clone(), context.clone());
            state.defaults.insert(language, context.id.clone());
        }
        let contexts = Arc::clone(self);
        tokio::spawn(async move {
            let mut kernel = context.kernel.lock().await;
            if kernel.is_some() || context.removed.load(Ordering::SeqCst) {
                return;
            }
            match contexts.start_kernel(&context).await {
                Ok(started) => *kernel = Some(started),
                Err(e) => {
                    tracing::warn!(context = %context.id, error = %e, "the default {language} context's kernel did not start")
                }
            }
        });
        Ok(())
    }

    /// The default context of `language`, created on first use.
    pub(crate) async fn default_for(
        &self,
        language: Language,
    ) -> Result<Arc<Context>, ContextError> {
        if let Some(found) = self.existing_default(language) {
            return Ok(found);
        }
        let _creating = self.creating.lock().await;
        if let Some(found) = self.existing_default(language) {
            return Ok(found);
        }
        let context = self.create(language, None).await?;
        self.state().defaults.insert(language, context.id.clone());
        Ok(context)
    }

    fn existing_default(&self, language: Language) -> Option<Arc<Context>> {
        let state = self.state();
        let id = state.defaults.get(&language)?;
        state.by_id.get(id).cloned()
    }

    /// Wait until every context's kernel has started (the default ones
    /// start at the agent's start, some in the background) and is idle;
    /// fails if one is missing or dead.
    pub(crate) async fn settled(&self) -> Result<(), String> {
        let contexts: Vec<Arc<Context>> = self.state().by_id.values().cloned().collect();
        if contexts.is_empty() {
            return Err("no context has a kernel".to_owned());
        }
        for context in contexts {
            let kernel = context.kernel.lock().await;
            match kernel.as_ref() {
                Some(k) if k.exit_status().is_none() => {}
                Some(_) => return Err(format!("the {} kernel exited", context.language)),
                None => return Err(format!("the {} kernel did not start", context.language)),
            }
        }
        Ok(())
    }

    /// A context by id.
    pub(crate) fn get(&self, id: &str) -> Result<Arc<Context>, ContextError> {
        self.state()
            .by_id
            .get(id)
            .cloned()
            .ok_or_else(|| ContextError::NotFound(id.to_owned()))
    }

    /// Every context, oldest first.
    pub(crate) fn list(&self) -> Vec<ContextView> {
        let mut contexts: Vec<Arc<Context>> = self.state().by_id.values().cloned().collect();
        contexts.sort_by_key(|c| c.created);
        contexts.iter().map(|c| c.view()).collect()
    }

    /// Start a fresh kernel for `context` (the caller holds its lock).
    pub(crate) async fn start_kernel(&self, context: &Context) -> Result<Kernel, ContextError> {
        let user = self.sandbox.users.default_account();
        let credentials =
            self.sandbox
                .users
                .credentials_for(user)
                .map_err(|e| KernelError::Spawn {
                    language: context.language,
                    source: std::io::Error::other(e.to_string()),
                })?;
        let extra: Vec<(String, String)> = KERNEL_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let sandbox_env = self.sandbox.env_vars();
        let environment =
            spawn::environment(user, &sandbox_env, extra.iter().map(|(k, v)| (k, v)), false);
        let spec = KernelSpec {
            language: context.language,
            env: self.env.clone(),
            dir: self.runtime.join(&context.id),
            cwd: PathBuf::from(&context.cwd),
            credentials,
            environment,
        };
        let mut kernel = Kernel::start(&spec).await?;
        if let Some(code) = language::startup(context.language, &sandbox_env) {
            match execute::run_silent(&mut kernel, &code).await {
                Ok(None) => {}
                Ok(Some(failure)) => {
                    tracing::warn!(context = %context.id, "the kernel's startup code failed: {failure}");
                }
                Err(why) => {
                    return Err(ContextError::Kernel(KernelError::Spawn {
                        language: context.language,
                        source: std::io::Error::other(why),
                    }));
                }
            }
        }
        context.pid.store(kernel.pid(), Ordering::SeqCst);
        context.env_applied(sandbox_env);
        Ok(kernel)
    }

    /// Restart a context's kernel (what it was running ends with an error).
    pub(crate) async fn restart(&self, id: &str) -> Result<(), ContextError> {
        let context = self.get(id)?;
        context.generation.fetch_add(1, Ordering::SeqCst);
        context.kill_kernel();
        let mut kernel = context.kernel.lock().await;
        *kernel = None;
        context.pid.store(0, Ordering::SeqCst);
        *kernel = Some(self.start_kernel(&context).await?);
        Ok(())
    }

    /// Remove a context and stop its kernel.
    pub(crate) async fn remove(&self, id: &str) -> Result<(), ContextError> {
        let context = {
            let mut state = self.state();
            let context = state
                .by_id
                .remove(id)
                .ok_or_else(|| ContextError::NotFound(id.to_owned()))?;
            state.defaults.retain(|_, default| default != id);
            context
        };
        context.removed.store(true, Ordering::SeqCst);
        context.generation.fetch_add(1, Ordering::SeqCst);
        context.kill_kernel();
        let mut kernel = context.kernel.lock().await;
        *kernel = None;
        context.pid.store(0, Ordering::SeqCst);
        Ok(())
    }

    /// Forget the kernel of `context` (it died; the caller holds its lock).
    pub(crate) fn forget_kernel(&self, context: &Context, kernel: &mut Option<Kernel>) {
        *kernel = None;
        context.pid.store(0, Ordering::SeqCst);
    }
}

fn check_cwd(cwd: &str) -> Result<(), ContextError> {
    let bad = |reason: &str| ContextError::BadCwd {
        cwd: cwd.to_owned(),
        reason: reason.to_owned(),
    };
    let path = Path::new(cwd);
    if !path.is_absolute() {
        return Err(bad("it is not an absolute path"));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(bad("it is not a directory")),
        Err(e) => Err(bad(&e.to_string())),
    }
}
