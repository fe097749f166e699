//! Building a kernel environment without a checkout: `e2b-local kernel-env install`.
//!
//! The files it needs (the Python requirements, the IPython startup scripts,
//! tslab's npm manifest and lockfile and the script tslab loads) are embedded in
//! the binary from `crates/e2b-local/kernel/`, the same files `make kernel-env`
//! installs in a checkout (which runs this very command). The steps are those of
//! that target: a venv made with the host's Python, the pinned packages installed
//! with pip, the startup scripts put in a fresh IPython profile, and, when npm is
//! installed, tslab installed with `npm ci` from the lockfile.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use super::kernel_env::{KernelEnv, on_path};

/// The pinned Python packages of the environment (`kernel/requirements.txt`).
pub const REQUIREMENTS: &str = include_str!("../../kernel/requirements.txt");

/// The IPython startup scripts (`kernel/startup/`), by file name, in load order.
pub const STARTUP_SCRIPTS: [(&str, &str); 2] = [
    (
        "10-e2b-formatters.py",
        include_str!("../../kernel/startup/10-e2b-formatters.py"),
    ),
    (
        "20-e2b-images.py",
        include_str!("../../kernel/startup/20-e2b-images.py"),
    ),
];

/// The files of the JavaScript and TypeScript kernels (`kernel/`), by file name:
/// tslab's npm manifest and lockfile, and the script that makes an execution's
/// last value its result.
pub const NODE_FILES: [(&str, &str); 3] = [
    ("package.json", include_str!("../../kernel/package.json")),
    (
        "package-lock.json",
        include_str!("../../kernel/package-lock.json"),
    ),
    (
        "tslab-main-result.js",
        include_str!("../../kernel/tslab-main-result.js"),
    ),
];

/// How to install a kernel environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstallOptions {
    /// The Python 3 interpreter the venv is made from: a path, or a name looked
    /// up on `PATH`. Default `python3`. Sandboxes see its installation
    /// read-only, so it should be a system interpreter.
    pub python: PathBuf,
    /// Whether to install the JavaScript and TypeScript kernels (tslab) when
    /// npm is on `PATH`. Default true.
    pub node: bool,
}

impl Default for InstallOptions {
    fn default() -> Self {
        Self {
            python: PathBuf::from("python3"),
            node: true,
        }
    }
}

impl InstallOptions {
    /// Make the venv with `python` (a path, or a name looked up on `PATH`).
    pub fn with_python(mut self, python: impl Into<PathBuf>) -> Self {
        self.python = python.into();
        self
    }

    /// Install the JavaScript and TypeScript kernels when npm is found (true),
    /// or never (false).
    pub fn with_node(mut self, node: bool) -> Self {
        self.node = node;
        self
    }
}

/// Why a kernel environment could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The Python interpreter to make the venv with was not found.
    #[error(
        "Python interpreter `{}` not found: install Python 3 with its venv module (Debian/Ubuntu: `apt-get install python3 python3-venv`) or pass --python PATH",
        python.display()
    )]
    PythonNotFound {
        /// The interpreter that was asked for.
        python: PathBuf,
    },
    /// The target directory holds something other than a virtual environment.
    #[error(
        "{} is not empty and is not a Python virtual environment (it has no pyvenv.cfg): choose another directory, or remove it first",
        dir.display()
    )]
    NotAVenv {
        /// The directory.
        dir: PathBuf,
    },
    /// A command of the installation could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The cause.
        source: io::Error,
    },
    /// A command of the installation failed (its own output says why).
    #[error("{step} failed ({status}): `{command}`")]
    Failed {
        /// What the command was for.
        step: &'static str,
        /// The command line.
        command: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// A file or directory of the environment could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Every step succeeded, yet the environment cannot run Python code.
    #[error("the kernel environment is incomplete after installing: {problem}")]
    Incomplete {
        /// What is missing.
        problem: String,
    },
}

/// What [`install`] did besides the Python environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeKernels {
    /// tslab was installed: JavaScript and TypeScript run where `node` is on `PATH`.
    Installed,
    /// Not asked for ([`InstallOptions::node`] was false).
    Skipped,
    /// npm is not on `PATH`, so there are no JavaScript and TypeScript kernels.
    NpmMissing,
}

/// Create (or bring up to date) the kernel environment in `dir`, which must be
/// missing, empty or a virtual environment (an earlier installation). Slow:
/// pip downloads about 100 MB unless its cache has the packages. Commands'
/// output goes to this process's standard output and error.
///
/// # Errors
///
/// See [`InstallError`]: no interpreter, a directory that is not a venv, a
/// failed step (pip, npm), a file that cannot be written.
#[tracing::instrument(skip(options), fields(python = %options.python.display()))]
pub fn install(
    dir: &Path,
    options: &InstallOptions,
) -> Result<(KernelEnv, NodeKernels), InstallError> {
    let python = find_program(&options.python).ok_or_else(|| InstallError::PythonNotFound {
        python: options.python.clone(),
    })?;
    prepare_dir(dir)?;

    tracing::info!("creating the Python virtual environment");
    run(
        "creating the virtual environment",
        Command::new(&python).args([OsStr::new("-m"), OsStr::new("venv"), dir.as_os_str()]),
    )?;
    let env = KernelEnv::at(dir);

    tracing::info!("installing the Python packages with pip (ipykernel, pandas, matplotlib, …)");
    let requirements = dir.join("requirements.txt");
    write(&requirements, REQUIREMENTS)?;
    run(
        "installing the Python packages",
        Command::new(env.python())
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
    )?;

    tracing::info!("installing the IPython startup scripts");
    let ipython = env.ipython_dir();
    remove_dir_all_if_present(&ipython)?;
    let startup = ipython.join("profile_default/startup");
    create_dir_all(&startup)?;
    for (name, text) in STARTUP_SCRIPTS {
        write(&startup.join(name), text)?;
    }

    let node = if !options.node {
        NodeKernels::Skipped
    } else if let Some(npm) = on_path("npm") {
        install_tslab(&env, &npm)?;
        NodeKernels::Installed
    } else {
        NodeKernels::NpmMissing
    };

    match env.problem() {
        Some(problem) => Err(InstallError::Incomplete { problem }),
        None => Ok((env, node)),
    }
}

/// tslab from npm into `node/` (from the lockfile, without install scripts);
/// tslab looks for `@types/node` next to itself, where npm does not put it.
fn install_tslab(env: &KernelEnv, npm: &Path) -> Result<(), InstallError> {
    tracing::info!("installing the JavaScript and TypeScript kernels (tslab) with npm");
    let node = env.root().join("node");
    create_dir_all(&node)?;
    for (name, text) in NODE_FILES {
        write(&node.join(name), text)?;
    }
    run(
        "installing tslab",
        Command::new(npm)
            .args([
                "ci",
                "--omit=dev",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&node),
    )?;
    let own_modules = node.join("node_modules/tslab/node_modules");
    create_dir_all(&own_modules)?;
    let link = own_modules.join("@types");
    match std::fs::symlink_metadata(&link) {
        Ok(meta) if meta.is_dir() => remove_dir_all_if_present(&link)?,
        Ok(_) => std::fs::remove_file(&link).map_err(|source| io_error(&link, source))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(io_error(&link, source)),
    }
    std::os::unix::fs::symlink("../../@types", &link).map_err(|source| io_error(&link, source))
}

/// `dir` must be missing (its missing parents are created private, like the
/// data directory of `serve`), empty, or a venv.
fn prepare_dir(dir: &Path) -> Result<(), InstallError> {
    use std::os::unix::fs::DirBuilderExt as _;
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !dir.join("pyvenv.cfg").is_file() {
                return Err(InstallError::NotAVenv {
                    dir: dir.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| io_error(parent, source)),
            _ => Ok(()),
        },
        Err(source) => Err(io_error(dir, source)),
    }
}

/// `program` itself when it names a path, else the first match on `PATH`.
fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 || program.is_absolute() {
        return program.is_file().then(|| program.to_path_buf());
    }
    on_path(program.to_str()?)
}

fn run(step: &'static str, command: &mut Command) -> Result<(), InstallError> {
    let line = command_line(command);
    tracing::debug!(command = %line, "running");
    let status = command.status().map_err(|source| InstallError::Spawn {
        command: line.clone(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(InstallError::Failed {
            step,
            command: line,
            status,
        })
    }
}

fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

fn io_error(path: &Path, source: io::Error) -> InstallError {
    InstallError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, text: &str) -> Result<(), InstallError> {
    std::fs::write(path, text).map_err(|source| io_error(path, source))
}

fn create_dir_all(path: &Path) -> Result<(), InstallError> {
    std::fs::create_dir_all(path).map_err(|source| io_error(path, source))
}

fn remove_dir_all_if_present(path: &Path) -> Result<(), InstallError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checkout's `kernel/` directory, which the embedded files come from.
    fn kernel_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel")
    }

    /// The names of the files directly in `dir`, sorted.
    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn embedded_files_are_the_checkouts_kernel_directory() {
        let kernel = kernel_dir();
        assert_eq!(
            REQUIREMENTS,
            std::fs::read_to_string(kernel.join("requirements.txt")).unwrap()
        );
        // Every startup script is embedded (a new one must be added here), unchanged.
        let embedded: Vec<&str> = STARTUP_SCRIPTS.iter().map(|(name, _)| *name).collect();
        assert_eq!(file_names(&kernel.join("startup")), embedded);
        for (name, text) in STARTUP_SCRIPTS {
            let on_disk = std::fs::read_to_string(kernel.join("startup").join(name)).unwrap();
            assert_eq!(
                text, on_disk,
                "startup/{name} differs from the embedded copy"
            );
        }
        // Every other file of kernel/ is embedded too, unchanged.
        let mut embedded: Vec<&str> = NODE_FILES.iter().map(|(name, _)| *name).collect();
        embedded.push("requirements.txt");
        embedded.sort_unstable();
        assert_eq!(file_names(&kernel), embedded);
        for (name, text) in NODE_FILES {
            let on_disk = std::fs::read_to_string(kernel.join(name)).unwrap();
            assert_eq!(text, on_disk, "{name} differs from the embedded copy");
        }
    }

    #[test]
    fn a_missing_interpreter_is_reported_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("env");
        let options = InstallOptions::default().with_python(dir.path().join("no-python"));
        let err = install(&target, &options).unwrap_err();
        assert!(
            matches!(&err, InstallError::PythonNotFound { python } if python.ends_with("no-python")),
            "{err:?}"
        );
        assert!(err.to_string().contains("--python"), "{err}");
        assert!(!target.exists());

        let options = InstallOptions::default().with_python("no-such-python-e2b-local");
        let err = install(&target, &options).unwrap_err();
        assert!(
            matches!(err, InstallError::PythonNotFound { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_directory_with_other_content_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        // Any existing program will do: the directory is checked before it runs.
        let python = std::env::current_exe().unwrap();
        let err = install(dir.path(), &InstallOptions::default().with_python(python)).unwrap_err();
        assert!(
            matches!(&err, InstallError::NotAVenv { dir: d } if d == dir.path()),
            "{err:?}"
        );
        assert!(err.to_string().contains("pyvenv.cfg"), "{err}");
        assert_eq!(file_names(dir.path()), ["notes.txt"]);
    }

    #[test]
    fn a_failing_step_names_its_command() {
        // `false` is a program that exists and fails: the venv step reports it.
        let dir = tempfile::tempdir().unwrap();
        let Some(falsy) = on_path("false") else {
            panic!("`false` is not on PATH");
        };
        let target = dir.path().join("env");
        let err = install(&target, &InstallOptions::default().with_python(&falsy)).unwrap_err();
        match err {
            InstallError::Failed { step, command, .. } => {
                assert_eq!(step, "creating the virtual environment");
                assert!(command.contains("-m venv"), "{command}");
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }
}
