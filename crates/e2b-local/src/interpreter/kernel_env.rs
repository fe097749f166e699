//! The kernel environment of `code-interpreter-v1` sandboxes.
//!
//! A Python virtual environment (built by `e2b-local kernel-env install`,
//! which `make kernel-env` runs, from `crates/e2b-local/kernel/requirements.txt`;
//! see [`kernel_env_install`](super::kernel_env_install)) holding ipykernel, pandas,
//! matplotlib, e2b-charts, bash_kernel and jjava (the Java kernel, usable
//! where a JDK is installed), plus an IPython directory whose
//! startup scripts register the `e2b/data` and `e2b/chart` display formats,
//! and, when Node.js is installed, `node/` with tslab (the JavaScript and
//! TypeScript kernels, from `kernel/package.json`). R runs on the host's
//! IRkernel (Debian's `r-cran-irkernel`) when one is installed. It is found through
//! [`KERNEL_ENV_VAR`]; nothing here starts a process.

use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable naming the kernel environment's directory.
pub const KERNEL_ENV_VAR: &str = "E2B_LOCAL_KERNEL_ENV";

/// A language the code interpreter can run, by its Jupyter kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Language {
    /// `ipykernel`.
    Python,
    /// `bash_kernel`.
    Bash,
    /// tslab in JavaScript mode (needs Node.js).
    JavaScript,
    /// tslab (needs Node.js).
    TypeScript,
    /// jjava (needs a Java runtime).
    Java,
    /// IRkernel, from the host's R installation.
    R,
}

impl Language {
    /// The name clients use (`language` of a context or execution).
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Bash => "bash",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Java => "java",
            Language::R => "r",
        }
    }

    /// Every language, in the order they are reported.
    pub const ALL: [Language; 6] = [
        Language::Python,
        Language::Bash,
        Language::JavaScript,
        Language::TypeScript,
        Language::Java,
        Language::R,
    ];
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kernel environment on disk (it may be incomplete; see [`KernelEnv::problem`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelEnv {
    root: PathBuf,
}

impl KernelEnv {
    /// The environment rooted at `root` (the venv directory).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The environment named by [`KERNEL_ENV_VAR`], when it is set and not empty.
    pub fn from_env() -> Option<Self> {
        std::env::var_os(KERNEL_ENV_VAR)
            .filter(|v| !v.is_empty())
            .map(Self::at)
    }

    /// The venv directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The venv's `python` (usually a symlink to the base interpreter).
    pub fn python(&self) -> PathBuf {
        self.root.join("bin").join("python")
    }

    /// The `IPYTHONDIR` kernels start with: its default profile holds the startup scripts.
    pub fn ipython_dir(&self) -> PathBuf {
        self.root.join("ipython")
    }

    /// The directory of the base interpreter the venv was made from (`home` in
    /// `pyvenv.cfg`); a sandbox must see it, read-only, for `python` to run.
    pub fn base_interpreter_dir(&self) -> Option<PathBuf> {
        let cfg = std::fs::read_to_string(self.root.join("pyvenv.cfg")).ok()?;
        cfg.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "home")
                .then(|| PathBuf::from(value.trim()))
                .filter(|p| p.is_absolute())
        })
    }

    /// `lib/python3.X/site-packages`, when there is exactly one such directory.
    pub fn site_packages(&self) -> Option<PathBuf> {
        let mut found = std::fs::read_dir(self.root.join("lib"))
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .map(|e| e.path().join("site-packages"))
            .filter(|p| p.is_dir());
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// tslab's launcher (the JavaScript and TypeScript kernels).
    pub fn tslab(&self) -> PathBuf {
        self.root.join("node/node_modules/tslab/bin/tslab")
    }

    /// The script loaded into tslab that makes an execution's last value
    /// its result (`e2b-local kernel-env install` puts it next to tslab).
    pub fn tslab_main_result(&self) -> PathBuf {
        self.root.join("node/tslab-main-result.js")
    }

    /// jjava's directory (its launcher and kernel jars).
    pub fn jjava_dir(&self) -> PathBuf {
        self.root.join("share/jupyter/kernels/java")
    }

    /// The languages whose kernels are installed, Python first. The Node.js
    /// kernels count only when `node` is on `PATH` too, Java when `java` is.
    pub fn languages(&self) -> Vec<Language> {
        if !self.python().exists() {
            return Vec::new();
        }
        let Some(site) = self.site_packages() else {
            return Vec::new();
        };
        let node = self.tslab().is_file() && on_path("node").is_some();
        let java = self.jjava_dir().join("jjava.jar").is_file() && on_path("java").is_some();
        Language::ALL
            .into_iter()
            .filter(|l| match l {
                Language::Python => site.join("ipykernel").is_dir(),
                Language::Bash => site.join("bash_kernel").is_dir(),
                Language::JavaScript | Language::TypeScript => node,
                Language::Java => java,
                Language::R => r_kernel_installed(),
            })
            .collect()
    }

    /// Why this environment cannot run Python code, or `None` when it can.
    pub fn problem(&self) -> Option<String> {
        let root = self.root.display();
        if !self.root.is_dir() {
            return Some(format!("kernel environment {root} does not exist"));
        }
        if !self.python().exists() {
            return Some(format!("{root} has no bin/python"));
        }
        if self.base_interpreter_dir().is_none() {
            return Some(format!("{root}/pyvenv.cfg names no base interpreter"));
        }
        if !self.languages().contains(&Language::Python) {
            return Some(format!("{root} lacks ipykernel"));
        }
        if !self.ipython_dir().join("profile_default/startup").is_dir() {
            return Some(format!("{root} lacks the IPython startup scripts"));
        }
        None
    }
}

/// Where R installations keep IRkernel (Debian's package, then a local install).
const R_LIBRARIES: [&str; 3] = [
    "/usr/lib/R/site-library",
    "/usr/local/lib/R/site-library",
    "/usr/lib/R/library",
];

/// Whether `R` is on `PATH` with IRkernel in one of its system libraries.
pub fn r_kernel_installed() -> bool {
    on_path("R").is_some()
        && R_LIBRARIES
            .iter()
            .any(|lib| Path::new(lib).join("IRkernel").is_dir())
}

/// The program `name` on `PATH`, if there is one.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// How to build a missing or broken kernel environment.
pub const KERNEL_ENV_HINT: &str = "run `e2b-local kernel-env install` (where `e2b-local serve` finds it), \
     or `make kernel-env` in the e2b-rs checkout and set E2B_LOCAL_KERNEL_ENV to its .venv/kernel";

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty directory under the system temp dir.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "e2b-local-kernel-env-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The languages `env` provides itself (R comes from the host, when it has IRkernel).
    fn from_env(env: &KernelEnv) -> Vec<Language> {
        let languages = env.languages();
        assert_eq!(
            languages.contains(&Language::R),
            r_kernel_installed() && !languages.is_empty()
        );
        languages
            .into_iter()
            .filter(|l| *l != Language::R)
            .collect()
    }

    fn fake_env(name: &str, packages: &[&str]) -> KernelEnv {
        let root = scratch(name);
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/python"), "").unwrap();
        std::fs::write(
            root.join("pyvenv.cfg"),
            "home = /usr/local/bin\ninclude-system-site-packages = false\n",
        )
        .unwrap();
        let site = root.join("lib/python3.11/site-packages");
        for p in packages {
            std::fs::create_dir_all(site.join(p)).unwrap();
        }
        std::fs::create_dir_all(root.join("ipython/profile_default/startup")).unwrap();
        KernelEnv::at(root)
    }

    #[test]
    fn missing_directory_is_a_problem_with_no_languages() {
        let env = KernelEnv::at(scratch("missing").join("nope"));
        assert!(env.languages().is_empty());
        let problem = env.problem().expect("a missing env is a problem");
        assert!(problem.contains("does not exist"), "{problem}");
    }

    #[test]
    fn languages_follow_installed_kernels() {
        let env = fake_env("python-only", &["ipykernel"]);
        assert_eq!(from_env(&env), vec![Language::Python]);
        assert_eq!(env.problem(), None);
        assert_eq!(
            env.base_interpreter_dir(),
            Some(PathBuf::from("/usr/local/bin"))
        );

        let env = fake_env("both", &["bash_kernel", "ipykernel"]);
        assert_eq!(from_env(&env), vec![Language::Python, Language::Bash]);
    }

    #[test]
    fn without_ipykernel_python_is_unavailable() {
        let env = fake_env("bash-only", &["bash_kernel"]);
        assert_eq!(from_env(&env), vec![Language::Bash]);
        let problem = env.problem().expect("no ipykernel is a problem");
        assert!(problem.contains("ipykernel"), "{problem}");
    }

    #[test]
    fn a_relative_or_absent_home_is_no_base_interpreter() {
        let env = fake_env("relative-home", &["ipykernel"]);
        std::fs::write(env.root().join("pyvenv.cfg"), "home = bin\n").unwrap();
        assert_eq!(env.base_interpreter_dir(), None);
        assert!(env.problem().unwrap().contains("pyvenv.cfg"));
        std::fs::write(env.root().join("pyvenv.cfg"), "garbage without equals\n").unwrap();
        assert_eq!(env.base_interpreter_dir(), None);
    }
}
