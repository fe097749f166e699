//! The `serve`, `doctor`, `image`, `template` and `kernel-env install` commands,
//! and their command line ([`Command`], [`run`]).

mod command;

pub use command::{
    Command, ImageCommand, KernelEnvCommand, RegistryArgs, TemplateCommand, embedded_entry, run,
};

use crate::interpreter::kernel_env::{KERNEL_ENV_HINT, KernelEnv};
use crate::interpreter::kernel_env_install::{InstallOptions, NodeKernels};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::{Server, ServerOptions};

/// Where `serve` listens unless told otherwise.
///
/// Port 49982 sits next to envd's 49983 and is in IANA's dynamic range, so no
/// registered service claims it, unlike 3000, 5000 or 8080, which development
/// servers take. It is even because Linux tries odd ports first for listeners
/// bound to port 0 (as test servers are), and although it is in Linux's
/// ephemeral range, an outgoing connection only blocks a loopback listener
/// when that connection is itself from loopback.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:49982";

/// Where `serve` keeps sandbox metadata, homes and snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataLocation {
    /// This directory, created when missing and kept after the server stops.
    Dir(PathBuf),
    /// A fresh temporary directory, removed when the server stops.
    Ephemeral,
}

impl DataLocation {
    /// `--ephemeral`, else `--data-dir`, else [`default_data_dir`].
    ///
    /// # Errors
    ///
    /// When neither is given and there is no home directory to put the data in.
    pub fn choose(data_dir: Option<PathBuf>, ephemeral: bool) -> anyhow::Result<Self> {
        if ephemeral {
            return Ok(Self::Ephemeral);
        }
        data_dir
            .or_else(default_data_dir)
            .map(Self::Dir)
            .context("no home directory for the data: pass --data-dir DIR or --ephemeral")
    }
}

/// The per-user data directory `serve` uses by default:
/// `$XDG_DATA_HOME/e2b-local`, else `~/.local/share/e2b-local`.
pub fn default_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join("e2b-local"))
}

/// Where `kernel-env install` puts the kernel environment unless told
/// otherwise, and where `serve` looks for one last: `kernel` in the per-user
/// data directory ([`default_data_dir`]), whatever `--data-dir` says.
pub fn default_kernel_env_dir() -> Option<PathBuf> {
    default_data_dir().map(|dir| dir.join("kernel"))
}

/// The kernel environment `serve` gives `code-interpreter-v1` sandboxes:
/// `flag` (`--kernel-env`), else the one `E2B_LOCAL_KERNEL_ENV` names, else
/// the [default location](default_kernel_env_dir) when that directory exists.
/// `None` when there is none; the one returned may still be broken (see
/// [`KernelEnv::problem`]).
pub fn choose_kernel_env(flag: Option<PathBuf>) -> Option<KernelEnv> {
    flag.map(KernelEnv::at)
        .or_else(KernelEnv::from_env)
        .or_else(|| {
            default_kernel_env_dir()
                .filter(|dir| dir.is_dir())
                .map(KernelEnv::at)
        })
}

/// Hold `dir/lock` exclusively for as long as the returned file is open, so
/// that two servers never share a data directory (the second would take
/// over the first one's sandboxes).
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => anyhow::bail!(
            "another e2b-local serves from {}: stop it, or pass --data-dir DIR or --ephemeral",
            dir.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The environment the SDKs need to use `server`, one `KEY=value` per line.
pub fn environment(server: &Server) -> String {
    format!(
        "E2B_API_URL={}\nE2B_SANDBOX_URL={}\nE2B_API_KEY={}\nE2B_DOMAIN={}\nE2B_VOLUME_API_URL={}\n",
        server.api_url(),
        server.sandbox_url(),
        server.api_key(),
        server.domain(),
        // The volume content API is served on the same listener; the official SDKs
        // would otherwise look for it at https://api.<E2B_DOMAIN>.
        server.api_url()
    )
}

/// `e2b-local serve`: run until SIGINT or SIGTERM, then kill every sandbox.
///
/// Says on stderr where the data is, then prints the environment on stdout
/// once the listener accepts requests.
/// `code-interpreter-v1` sandboxes use the environment [`choose_kernel_env`]
/// picks; without one (or with a broken one, which is reported) that template
/// is refused and everything else works.
/// Docker Hub images are pulled through `registry_mirror` first when set.
/// `read_only_root` shows sandboxes the host's system read-only (see
/// [`ServerOptions::writable_root`](crate::ServerOptions::writable_root)).
/// `warm` sizes the warm pools (see
/// [`ServerOptions::warm_pools`](crate::ServerOptions::warm_pools)), over
/// the default of [`DEFAULT_WARM`] `code-interpreter-v1` sandbox when its
/// kernel environment is usable.
pub fn serve(
    listen: SocketAddr,
    api_key: Option<String>,
    data: DataLocation,
    kernel_env: Option<PathBuf>,
    registry_mirror: Option<String>,
    read_only_root: bool,
    warm: &[(String, usize)],
) -> anyhow::Result<()> {
    let kernel_env = choose_kernel_env(kernel_env);
    let interpreter_usable = kernel_env.as_ref().is_some_and(|e| e.problem().is_none());
    let warm_pools = warm_pools(interpreter_usable, warm);
    match &kernel_env {
        Some(env) => match env.problem() {
            Some(problem) => {
                tracing::warn!("code-interpreter-v1 is unavailable: {problem} ({KERNEL_ENV_HINT})");
            }
            None => tracing::info!(
                "code-interpreter-v1 runs kernels from {}",
                env.root().display()
            ),
        },
        None => tracing::info!(
            "code-interpreter-v1 is unavailable without a kernel environment ({KERNEL_ENV_HINT})"
        ),
    }
    if let Some(key) = &api_key {
        anyhow::ensure!(
            crate::is_valid_api_key(key),
            "invalid --api-key: expected `e2b_` followed by lower-case hex digits (the SDKs reject anything else)"
        );
    }
    if let Some(mirror) = &registry_mirror {
        crate::image::PullOptions::default()
            .with_registry_mirror(mirror.clone())
            .validate()
            .context("invalid --registry-mirror")?;
    }
    let (data_dir, _lock) = match data {
        DataLocation::Dir(dir) => {
            let lock = lock_data_dir(&dir)?;
            (Some(dir), Some(lock))
        }
        DataLocation::Ephemeral => (None, None),
    };
    let persistent = data_dir.is_some();
    runtime()?.block_on(async move {
        // Handlers first: a signal right after the environment is printed must
        // still shut down gracefully.
        let signals = Signals::install()?;
        let mut options = ServerOptions::default().with_listen(listen);
        options.api_key = api_key;
        options.data_dir = data_dir;
        options.kernel_env = kernel_env.map(|e| e.root().to_path_buf());
        options.registry_mirror = registry_mirror;
        options.writable_root = !read_only_root;
        options.warm_pools = warm_pools;
        // The agent is this very binary unless E2B_LOCAL_BIN says otherwise.
        if std::env::var_os("E2B_LOCAL_BIN").is_none_or(|v| v.is_empty()) {
            options.agent_binary =
                Some(std::env::current_exe().context("cannot locate the e2b-local executable")?);
        }
        let server = Server::start(options).await?;
        let kept = if persistent {
            "kept across restarts"
        } else {
            "temporary, removed at exit"
        };
        eprintln!(
            "e2b-local: data in {} ({kept})",
            server.data_dir().display()
        );
        let pools: Vec<String> = server
            .warm_pools()
            .iter()
            .map(|p| format!("{}={}", p.template, p.size))
            .collect();
        if !pools.is_empty() {
            eprintln!(
                "e2b-local: warm pools {} (state at GET /local/warm-pools)",
                pools.join(", ")
            );
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(environment(&server).as_bytes())?;
        stdout.flush()?;
        drop(stdout);
        signals.wait().await;
        tracing::info!("shutting down: killing every sandbox");
        server.shutdown().await;
        Ok(())
    })
}

/// How many `code-interpreter-v1` sandboxes `serve` keeps warm unless told
/// otherwise: one, so a create is served warm while the next one starts
/// (each idle member holds a Python kernel's memory).
pub const DEFAULT_WARM: usize = 1;

/// The warm pools of `serve`: the default `code-interpreter-v1` pool (when
/// that template can run), then `flags` in order (a later one for the same
/// template wins; 0 removes a pool).
fn warm_pools(
    interpreter_usable: bool,
    flags: &[(String, usize)],
) -> std::collections::BTreeMap<String, usize> {
    let mut pools = std::collections::BTreeMap::new();
    if interpreter_usable {
        pools.insert("code-interpreter-v1".to_owned(), DEFAULT_WARM);
    }
    for (template, size) in flags {
        if *size == 0 {
            pools.remove(template);
        } else {
            pools.insert(template.clone(), *size);
        }
    }
    pools
}

/// SIGTERM and SIGINT, listened for from installation on.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// `e2b-local doctor`: print the report; an error (non-zero exit) when something required is missing.
pub fn doctor() -> anyhow::Result<()> {
    let report = runtime()?.block_on(crate::doctor::run());
    print!("{report}");
    anyhow::ensure!(report.ok(), "required prerequisites are missing");
    Ok(())
}

/// `e2b-local image pull`: pull `reference` into the store under `data_dir`
/// and print what was done.
pub fn image_pull(
    data_dir: &Path,
    reference: &str,
    auth: &crate::image::RegistryAuth,
    options: &crate::image::PullOptions,
) -> anyhow::Result<()> {
    let store = crate::image::ImageStore::open(data_dir)?;
    let (image, stats) = runtime()?.block_on(store.pull_with_stats(reference, auth, options))?;
    println!(
        "{} {}\n{} layers ({} downloaded from {}, {} cached), {} in {:.2?}",
        image.reference,
        image.digest,
        image.layers.len(),
        stats.layers_downloaded,
        stats.source,
        stats.layers_cached,
        human_size(stats.bytes_downloaded),
        stats.elapsed
    );
    Ok(())
}

/// `e2b-local template create`: pull the image and record the template.
pub fn template_create(
    data_dir: &Path,
    template: &crate::templates::ImageTemplate,
    auth: &crate::image::RegistryAuth,
    options: &crate::image::PullOptions,
) -> anyhow::Result<()> {
    let record = runtime()?.block_on(crate::templates::create_from_image(
        data_dir, template, auth, options,
    ))?;
    println!(
        "template {} ({}) from {} {}",
        record.name, record.template_id, record.image, record.digest
    );
    Ok(())
}

/// `e2b-local template ls`.
pub fn template_ls(data_dir: &Path) -> anyhow::Result<()> {
    for t in crate::templates::list(data_dir) {
        println!("{}\t{}\t{}", t.name, t.template_id, t.image);
    }
    Ok(())
}

/// `e2b-local image ls`: a table, or JSON with `json`.
pub fn image_ls(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let store = crate::image::ImageStore::open(data_dir)?;
    let images = store.list()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &images)?;
        writeln!(out)?;
        return Ok(());
    }
    let width = images
        .iter()
        .map(|i| i.reference.len())
        .max()
        .unwrap_or(0)
        .max(9);
    writeln!(
        out,
        "{:width$}  {:19}  {:>6}  {:>9}  PULLED",
        "REFERENCE", "DIGEST", "LAYERS", "SIZE"
    )?;
    for image in &images {
        let digest = image
            .digest
            .strip_prefix("sha256:")
            .unwrap_or(&image.digest);
        writeln!(
            out,
            "{:width$}  sha256:{:12}  {:>6}  {:>9}  {}",
            image.reference,
            digest.get(..12).unwrap_or(digest),
            image.layers.len(),
            human_size(image.size),
            image.pulled_at.format("%Y-%m-%d %H:%M:%S UTC")
        )?;
    }
    Ok(())
}

/// `e2b-local image rm`: forget the images, then remove layers no image uses
/// (as the sandboxes' namespace where an unprivileged server's sandboxes own them).
pub fn image_rm(data_dir: &Path, references: &[String]) -> anyhow::Result<()> {
    let store = crate::image::ImageStore::open(data_dir)?;
    for reference in references {
        let image = store.remove(reference)?;
        println!("removed {} {}", image.reference, image.digest);
    }
    let removed = store.gc_with(
        &crate::templates::layers_in_use(data_dir),
        Some(&crate::sandbox::rootless::remove_tree_of_sandboxes),
    )?;
    println!("{} unused layers removed", removed.len());
    Ok(())
}

/// `e2b-local template rm`: remove templates (by name or id), then the
/// layers neither an image nor a template uses. Snapshots of their
/// sandboxes are removed with them.
pub fn template_rm(data_dir: &Path, references: &[String]) -> anyhow::Result<()> {
    use crate::sandbox::rootless::remove_tree_of_sandboxes;
    for reference in references {
        let record = crate::templates::remove_with(data_dir, reference, remove_tree_of_sandboxes)?;
        println!("removed template {} ({})", record.name, record.template_id);
    }
    let store = crate::image::ImageStore::open(data_dir)?;
    let removed = store.gc_with(
        &crate::templates::layers_in_use(data_dir),
        Some(&remove_tree_of_sandboxes),
    )?;
    println!("{} unused layers removed", removed.len());
    Ok(())
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `e2b-local kernel-env install [DIR]`: build the kernel environment in `dir`,
/// else in [`default_kernel_env_dir`], and say how `serve` finds it.
pub fn kernel_env_install(dir: Option<PathBuf>, options: &InstallOptions) -> anyhow::Result<()> {
    let default = default_kernel_env_dir();
    let dir = dir.or_else(|| default.clone()).context(
        "no home directory for the kernel environment: pass the directory to install it in",
    )?;
    eprintln!(
        "e2b-local: installing the kernel environment in {} (pip downloads about 100 MB unless cached)",
        dir.display()
    );
    let (env, node) = crate::interpreter::kernel_env_install::install(&dir, options)?;
    match node {
        NodeKernels::Installed => {}
        NodeKernels::Skipped => {
            eprintln!(
                "e2b-local: --without-node: the JavaScript and TypeScript kernels (tslab) were not installed or updated"
            );
        }
        NodeKernels::NpmMissing => eprintln!(
            "e2b-local: npm not found: code-interpreter-v1 sandboxes will have no JavaScript/TypeScript kernels \
             (install Node.js and npm, then run this again)"
        ),
    }
    let languages: Vec<&str> = env.languages().iter().map(|l| l.name()).collect();
    eprintln!(
        "e2b-local: kernel environment ready in {} (languages: {})",
        env.root().display(),
        languages.join(", ")
    );
    if default.as_deref() == Some(env.root()) {
        eprintln!(
            "e2b-local: `e2b-local serve` uses it when --kernel-env and E2B_LOCAL_KERNEL_ENV are not set"
        );
    } else {
        eprintln!(
            "e2b-local: use it with `e2b-local serve --kernel-env {0}` or E2B_LOCAL_KERNEL_ENV={0}",
            env.root().display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{DataLocation, choose_kernel_env, default_data_dir, default_kernel_env_dir};
    use std::path::PathBuf;

    #[test]
    fn the_kernel_environment_lives_next_to_the_data() {
        // The CLI tests check the directories themselves under a controlled
        // HOME and XDG_DATA_HOME; here, that one follows the other.
        let data = default_data_dir().expect("the test user has a home directory");
        assert_eq!(default_kernel_env_dir(), Some(data.join("kernel")));
        assert!(data.ends_with("e2b-local"), "{}", data.display());
    }

    #[test]
    fn serve_keeps_one_code_interpreter_warm_unless_told_otherwise() {
        use super::warm_pools;
        let ci = "code-interpreter-v1".to_owned();
        assert_eq!(warm_pools(true, &[]).get(&ci), Some(&super::DEFAULT_WARM));
        assert!(warm_pools(false, &[]).is_empty());
        assert!(warm_pools(true, &[(ci.clone(), 0)]).is_empty());
        let pools = warm_pools(true, &[(ci.clone(), 2), ("base".to_owned(), 3)]);
        assert_eq!(pools.get(&ci), Some(&2));
        assert_eq!(pools.get("base"), Some(&3));
    }

    #[test]
    fn an_explicit_kernel_environment_wins() {
        let env = choose_kernel_env(Some(PathBuf::from("/opt/kernel"))).unwrap();
        assert_eq!(env.root(), PathBuf::from("/opt/kernel"));
    }

    #[test]
    fn ephemeral_or_the_given_directory() {
        assert_eq!(
            DataLocation::choose(None, true).unwrap(),
            DataLocation::Ephemeral
        );
        assert_eq!(
            DataLocation::choose(Some(PathBuf::from("/srv/e2b")), false).unwrap(),
            DataLocation::Dir(PathBuf::from("/srv/e2b"))
        );
    }
}
