//! The server: one listener for the control plane and all sandbox traffic.

use std::convert::Infallible;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt as _;

use crate::control::{self, AppState, views::Sizes};
use crate::edge::reset::ClientStream;
use crate::edge::routing::{self, Target};
use crate::error::Error;
use crate::host::HostInfo;
use crate::options::ServerOptions;
use crate::sandbox::bwrap::Privilege;
use crate::sandbox::cgroup::Limits;
use crate::sandbox::disk::Disks;
use crate::sandbox::isolation::Isolation;
use crate::sandbox::userns::UserNamespace;
use crate::sandbox::{Manager, ManagerConfig};
use crate::store::DataDirs;

/// The envd version advertised for every sandbox: parses as semver and as
/// PEP 440, and is ≥ 0.6.13 for both, so no SDK feature gate trips.
pub const ENVD_VERSION: &str = "0.6.13+local";

/// How long a client may take to send request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the bubblewrap self-test at start may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest host path of a sandbox socket (`sun_path` holds 108 bytes).
const MAX_SOCKET_PATH: usize = 100;

/// A running e2b-local server.
///
/// ```no_run
/// # async fn demo() -> Result<(), e2b_local::Error> {
/// let server = e2b_local::Server::start(e2b_local::ServerOptions::default()).await?;
/// println!("E2B_API_URL={}", server.api_url());
/// println!("E2B_SANDBOX_URL={}", server.sandbox_url());
/// println!("E2B_API_KEY={}", server.api_key());
/// server.shutdown().await;
/// # Ok(()) }
/// ```
///
/// Dropping the server kills every sandbox (waiting briefly for their
/// processes to die); [`Server::shutdown`] does the same without blocking a
/// thread. Either way paused sandboxes keep their files for the next server
/// on the same data directory.
pub struct Server {
    addr: SocketAddr,
    api_key: String,
    domain: String,
    data_dir: PathBuf,
    manager: Manager,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    // Declared last: removed after everything else is gone.
    _temp_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key stays out of logs.
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// What every connection shares.
#[derive(Debug)]
struct App {
    control: axum::Router,
    manager: Manager,
}

impl Server {
    /// Start a server (bind, reload state from the data directory, serve).
    pub async fn start(options: ServerOptions) -> Result<Self, Error> {
        let api_key = match options.api_key {
            Some(key) if crate::ids::is_valid_api_key(&key) => key,
            Some(_) => return Err(Error::InvalidApiKey),
            None => crate::ids::api_key().map_err(|source| Error::DataDir {
                path: PathBuf::new(),
                source,
            })?,
        };
        let bwrap = match options.bwrap {
            Some(path) => path,
            None => find_in_path("bwrap").ok_or(Error::BubblewrapNotFound)?,
        };
        let agent_binary = resolve_agent_binary(options.agent_binary)?;
        let (data_dir, temp_dir) = match options.data_dir {
            Some(dir) => (dir, None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("e2b-local-")
                    .tempdir()
                    .map_err(|source| Error::DataDir {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let data_dir = std::path::absolute(&data_dir).map_err(|source| Error::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        // sandboxes/<21-char id>/ctl/agent.sock
        if data_dir.as_os_str().len() + "/sandboxes/i01234567890123456789/ctl/agent.sock".len()
            > MAX_SOCKET_PATH
        {
            return Err(Error::DataDirTooLong(data_dir));
        }
        let dirs = DataDirs::create(&data_dir).map_err(|e| Error::State(e.to_string()))?;
        let host = HostInfo::detect();
        let privilege = if host.is_root {
            Privilege::Root
        } else {
            Privilege::UserNamespace
        };
        let isolation = Isolation::prepare(privilege)?;
        probe_bwrap(&bwrap, privilege, isolation.userns.as_deref()).await?;
        let disks = match (privilege, options.sandbox_disk_limit) {
            (Privilege::Root, Some(size)) => {
                match Disks::prepare(&dirs.root().join("images"), size) {
                    Ok(disks) => Some(Arc::new(disks)),
                    Err(why) => {
                        tracing::warn!(
                            "{why}: sandboxes write to the data directory without a disk cap"
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        let rootless = match privilege {
            Privilege::UserNamespace if options.writable_root => {
                let run_dir = dirs.root().join("run");
                let agent = agent_binary.clone();
                let prepared = tokio::task::spawn_blocking(move || {
                    crate::sandbox::rootless::Rootless::prepare(&run_dir, &agent)
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                match prepared {
                    Ok(rootless) => Some(Arc::new(rootless)),
                    Err(why) => {
                        tracing::warn!(
                            "{why}: sandboxes see the host's system read-only (unprivileged server)"
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        let host_base = match (&disks, &isolation.userns, &rootless) {
            (None, None, Some(rootless)) => {
                let rootless = Arc::clone(rootless);
                prepare_host_base(
                    options.cache_dir.clone(),
                    &data_dir,
                    move |cache, layout| {
                        crate::sandbox::host_base::HostBase::prepare(cache, layout, Some(&rootless))
                            .map_err(|e| {
                                format!("cannot build the base layer in {}: {e}", cache.display())
                            })
                    },
                )
                .await
            }
            (Some(_), Some(userns), _) if options.writable_root => {
                let userns = Arc::clone(userns);
                prepare_host_base(
                    options.cache_dir.clone(),
                    &data_dir,
                    move |cache, layout| {
                        crate::sandbox::idmap::probe(std::path::Path::new("/usr"), userns.fd())
                            .map_err(|e| format!("idmapped mounts do not work here ({e})"))?;
                        crate::sandbox::host_base::HostBase::prepare(cache, layout, None).map_err(
                            |e| format!("cannot build the base layer in {}: {e}", cache.display()),
                        )
                    },
                )
                .await
            }
            _ => None,
        };
        let limits = Limits {
            memory_bytes: options.sandbox_memory_limit,
            pids: options.sandbox_pids_limit,
            cpus: options.sandbox_cpu_limit,
        };
        let ownership = match privilege {
            Privilege::Root => crate::sandbox::layout::Ownership::Root,
            Privilege::UserNamespace => crate::sandbox::layout::Ownership::ServerUser,
        };
        let volumes = Arc::new(
            crate::volumes::VolumeStore::open(&data_dir, ownership)
                .map_err(|e| Error::State(format!("opening the volumes: {e}")))?,
        );
        let config = ManagerConfig {
            bwrap,
            agent_binary,
            privilege,
            ready_timeout: options.agent_ready_timeout,
            limits,
            max_timeout: options.max_sandbox_timeout,
            envd_version: options
                .envd_version
                .clone()
                .unwrap_or_else(|| ENVD_VERSION.to_owned()),
            use_cgroups: options.use_cgroups,
            kernel_env: options
                .kernel_env
                .clone()
                .map(crate::interpreter::kernel_env::KernelEnv::at),
            userns: isolation.userns,
            seccomp: isolation.seccomp,
            slirp4netns: isolation.slirp4netns,
            body_idle_timeout: options.request_body_idle_timeout,
            disks: disks.clone(),
            rootless: rootless.filter(|_| host_base.is_some()),
            host_base,
            volumes: Arc::clone(&volumes),
            warm: options
                .warm_pools
                .iter()
                .map(|(template, size)| (template.clone(), *size))
                .collect(),
        };
        let disk_total = match &disks {
            Some(disks) => disks.size(),
            None => crate::host::filesystem_size(&data_dir).map_or(0, |(total, _)| total),
        };
        let sizes = Sizes::new(
            &host,
            options.sandbox_memory_limit,
            options.sandbox_cpu_limit,
            disk_total,
        );
        let manager = Manager::open(config, dirs, host).map_err(|e| Error::State(e.to_string()))?;

        let secrets = crate::secrets::SecretStore::open(&data_dir)
            .map_err(|e| Error::State(format!("opening the secrets: {e}")))?;
        let pull_options = match &options.registry_mirror {
            Some(mirror) => crate::image::PullOptions::default().with_registry_mirror(mirror),
            None => crate::image::PullOptions::default(),
        };
        let builds = crate::builds::Builds::open(
            &data_dir,
            manager.clone(),
            manager.host_base_key().is_none().then(|| {
                "template builds need a root server with writable root filesystems (see `e2b-local doctor`)".to_owned()
            }),
            pull_options,
        )
        .map_err(|e| Error::State(format!("opening the template builds: {e}")))?;

        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: options.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: options.listen,
            source,
        })?;
        let state = AppState {
            manager: manager.clone(),
            api_key: Arc::from(api_key.as_str()),
            sizes: Arc::new(sizes),
            secrets: Arc::new(secrets),
            builds,
            volumes,
            body_idle_timeout: options.request_body_idle_timeout,
        };
        let app = Arc::new(App {
            control: control::router(state),
            manager: manager.clone(),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, app, stopped));
        let domain = options
            .domain
            .unwrap_or_else(|| format!("localhost:{}", addr.port()));
        tracing::info!(%addr, data_dir = %data_dir.display(), ?privilege, "e2b-local listening");
        Ok(Self {
            addr,
            api_key,
            domain,
            data_dir,
            manager,
            stop: Some(stop),
            task: Some(task),
            _temp_dir: temp_dir,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `E2B_API_URL`: the control plane.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `E2B_SANDBOX_URL`: envd and sandbox ports (the same listener; the SDKs
    /// name the sandbox and port in the `E2b-Sandbox-Id`/`E2b-Sandbox-Port` headers).
    pub fn sandbox_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `E2B_API_KEY`.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// `E2B_DOMAIN`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The state of each warm pool (see [`ServerOptions::warm_pools`]);
    /// also served as JSON at `GET /local/warm-pools` (with the API key).
    pub fn warm_pools(&self) -> Vec<crate::WarmPoolStatus> {
        self.manager.warm_pools()
    }

    /// Stop serving, kill every sandbox (waiting until they are gone) and
    /// release the data directory. Paused sandboxes keep their files for the
    /// next server using the same data directory.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
        {
            tracing::warn!("the listener did not stop in time");
        }
        self.manager.shutdown().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.manager.kill_all_now();
    }
}

/// Accept connections until told to stop; dropping the set aborts open connections.
async fn serve(listener: TcpListener, app: Arc<App>, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let app = Arc::clone(&app);
                    connections.spawn(async move {
                        let (stream, reset) = ClientStream::new(stream);
                        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                            req.extensions_mut().insert(reset.clone());
                            dispatch(Arc::clone(&app), req)
                        });
                        let result = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEADER_READ_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await;
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Route one request to the control plane or a sandbox.
async fn dispatch(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match routing::classify(req.headers(), host.as_deref()) {
        Err(e) => Ok(crate::edge::drain::refuse(
            req,
            crate::edge::proxy::json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "code": 400, "message": e.to_string() }),
            ),
        )),
        Ok(Target::ControlPlane) => {
            if let Some(id) = signed_file_sandbox(&app, &req) {
                return Ok(
                    crate::edge::proxy::handle(&app.manager, &id, crate::ENVD_PORT, req).await,
                );
            }
            // On its own task: a client that hangs up once its request is
            // in (which drops this future) does not cancel what it asked for.
            // Its routes may refuse without reading the body: what is left
            // of it is read once they have answered (see `drain`).
            let (parts, body) = req.into_parts();
            let lent = crate::edge::drain::Lent::new(body);
            let req = Request::from_parts(parts, Body::new(lent.clone()));
            let handled = tokio::spawn(app.control.clone().oneshot(req)).await;
            if let Some(rest) = lent.reclaim() {
                crate::edge::drain::discard(rest);
            }
            match handled {
                Ok(response) => response,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Ok(crate::edge::proxy::json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &serde_json::json!({ "code": 503, "message": "the server is shutting down" }),
                )),
            }
        }
        Ok(Target::Sandbox { id, port }) => {
            Ok(crate::edge::proxy::handle(&app.manager, &id, port, req).await)
        }
    }
}

/// The sandbox a signed file URL without routing headers was signed for
/// (the official SDKs sign `<E2B_SANDBOX_URL>/files?…`). Only a signature
/// that verifies names a sandbox: anything else stays with the control plane.
fn signed_file_sandbox(app: &App, req: &Request<Incoming>) -> Option<String> {
    let (operation, query) = crate::edge::envd_auth::unrouted_signed_file(
        req.method(),
        req.uri().path(),
        req.uri().query(),
    )?;
    let now = chrono::Utc::now().timestamp();
    app.manager
        .signed_for(|token| query.signed_with(operation, token, now))
}

/// The host base layer `prepare` makes in the cache directory (on a
/// blocking thread), or `None` with a warning: sandboxes then see the host's
/// system read-only.
async fn prepare_host_base(
    cache_dir: Option<PathBuf>,
    data_dir: &std::path::Path,
    prepare: impl FnOnce(
        &std::path::Path,
        &crate::sandbox::bwrap::HostLayout,
    ) -> Result<crate::sandbox::host_base::HostBase, String>
    + Send
    + 'static,
) -> Option<Arc<crate::sandbox::host_base::HostBase>> {
    let cache = cache_dir.unwrap_or_else(|| crate::options::default_cache_dir(data_dir));
    let prepared = tokio::task::spawn_blocking(move || {
        prepare(&cache, &crate::sandbox::bwrap::HostLayout::detect())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match prepared {
        Ok(base) => Some(Arc::new(base)),
        Err(why) => {
            tracing::warn!("{why}: sandboxes see the host's system read-only");
            None
        }
    }
}

pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The agent binary: explicit, `$E2B_LOCAL_BIN`, or `e2b-local` near the current executable.
fn resolve_agent_binary(explicit: Option<PathBuf>) -> Result<PathBuf, Error> {
    let mut candidates = Vec::new();
    if let Some(path) = explicit {
        candidates.push(path);
    } else {
        if let Some(path) = std::env::var_os("E2B_LOCAL_BIN").filter(|p| !p.is_empty()) {
            candidates.push(PathBuf::from(path));
        }
        if let Ok(exe) = std::env::current_exe()
            && let Some(dir) = exe.parent()
        {
            candidates.push(dir.join("e2b-local"));
            if let Some(parent) = dir.parent() {
                candidates.push(parent.join("e2b-local"));
            }
        }
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        .ok_or_else(|| Error::AgentNotFound {
            searched: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Check once that bwrap can create the namespaces sandboxes need.
#[allow(unsafe_code)]
pub(crate) async fn probe_bwrap(
    bwrap: &Path,
    privilege: Privilege,
    userns: Option<&UserNamespace>,
) -> Result<(), Error> {
    let mut cmd = tokio::process::Command::new(bwrap);
    if let Some(ns) = userns {
        let enter = ns.enter_hook();
        // SAFETY: the hook only makes async-signal-safe system calls.
        unsafe { cmd.pre_exec(enter) };
    }
    cmd.args([
        "--ro-bind",
        "/",
        "/",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-net",
    ]);
    if privilege == Privilege::UserNamespace {
        cmd.args(["--unshare-user", "--uid", "1000", "--gid", "1000"]);
    }
    cmd.args(["--", "/bin/true"])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(PROBE_TIMEOUT, cmd.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::BubblewrapNotFound);
        }
        Ok(Err(e)) => {
            return Err(Error::BubblewrapUnusable(format!(
                "cannot run {}: {e}",
                bwrap.display()
            )));
        }
        Err(_) => {
            return Err(Error::BubblewrapUnusable(format!(
                "{} did not finish within {PROBE_TIMEOUT:?}",
                bwrap.display()
            )));
        }
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    let hint = if privilege == Privilege::UserNamespace {
        " (unprivileged sandboxes need user namespaces: check /proc/sys/user/max_user_namespaces and, on Debian/Ubuntu, kernel.unprivileged_userns_clone or the AppArmor restriction kernel.apparmor_restrict_unprivileged_userns)"
    } else {
        ""
    };
    Err(Error::BubblewrapUnusable(format!(
        "{} failed ({}): {stderr}{hint}",
        bwrap.display(),
        output.status
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envd_version_is_semver_and_recent() {
        let (core, build) = ENVD_VERSION.split_once('+').unwrap();
        let parts: Vec<u32> = core.split('.').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts.len(), 3);
        assert!(parts >= vec![0, 6, 13]);
        // A PEP 440 local version label: alphanumerics and dots.
        assert!(build.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'));
    }

    #[test]
    fn explicit_agent_binary_must_exist() {
        let err = resolve_agent_binary(Some("/nonexistent/e2b-local".into())).unwrap_err();
        assert!(
            err.to_string().contains("cargo build -p e2b-local"),
            "{err}"
        );
        let sh = resolve_agent_binary(Some("/bin/sh".into())).unwrap();
        assert!(sh.is_absolute());
    }

    #[test]
    fn finds_programs_in_path() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("definitely-not-a-program-e2b").is_none());
    }
}
