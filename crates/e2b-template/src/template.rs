//! The typed builder: [`Template`] chooses the base, [`TemplateBuilder`] adds steps,
//! [`TemplateFinal`] has its start or ready command set. The order is enforced by the
//! types, as the official SDKs' are: a base first, a start command last.

use std::path::{Path, PathBuf};

use e2b_core::{Error, ErrorKind, Result};

use crate::instruction::{Instruction, InstructionType, RegistryConfig};
use crate::paths::IntoStrings;
use crate::quote::quote;
use crate::ready::{ReadyCmd, wait_for_file};

/// The image a template starts from when none is chosen: E2B's base image.
pub const DEFAULT_BASE_IMAGE: &str = "e2bdev/base";

/// Everything a template is made of; shared by the three typestates.
#[derive(Clone, Debug)]
pub(crate) struct State {
    pub(crate) context: PathBuf,
    pub(crate) ignore_patterns: Vec<String>,
    pub(crate) base_image: Option<String>,
    pub(crate) base_template: Option<String>,
    pub(crate) registry: Option<RegistryConfig>,
    pub(crate) start_cmd: Option<String>,
    pub(crate) ready_cmd: Option<String>,
    /// Rebuild the whole template.
    pub(crate) force: bool,
    /// Rebuild every layer from here on.
    pub(crate) force_next_layer: bool,
    pub(crate) instructions: Vec<Instruction>,
    /// The first invalid call; reported by `to_json`, `to_dockerfile` and builds.
    pub(crate) error: Option<ErrorKind>,
}

impl State {
    fn push(&mut self, kind: InstructionType, args: Vec<String>) {
        let force = self.force_next_layer;
        self.instructions.push(Instruction::new(kind, args, force));
    }

    fn fail(&mut self, error: Error) {
        if self.error.is_none() {
            self.error = Some(error.into_kind());
        }
    }

    fn set_base(&mut self, image: Option<String>, template: Option<String>) {
        self.base_image = image;
        self.base_template = template;
        // Skipping the cache before the base invalidates the whole template.
        if self.force_next_layer {
            self.force = true;
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        match &self.error {
            None => Ok(()),
            Some(kind) => Err(Error::new(kind.clone())),
        }
    }
}

/// A template with a base: its build steps, and the base it starts from.
///
/// Implemented by [`TemplateBuilder`] and [`TemplateFinal`]; what
/// [`to_json`](crate::to_json), [`to_dockerfile`](crate::to_dockerfile) and the build
/// functions take.
pub trait TemplateDefinition: sealed::Sealed {
    /// The recorded steps, in order.
    fn instructions(&self) -> &[Instruction];
    /// The base image, unless the template starts from another template.
    fn base_image(&self) -> Option<&str>;
    /// The template it starts from, if any.
    fn base_template(&self) -> Option<&str>;
    /// The start command, if set.
    fn start_cmd(&self) -> Option<&str>;
    /// The ready command, if set.
    fn ready_cmd(&self) -> Option<&str>;
    /// The directory `copy` sources are relative to.
    fn context(&self) -> &Path;
}

// The state is the crate's own: the trait cannot be implemented or called outside it.
#[allow(private_interfaces)]
pub(crate) mod sealed {
    pub trait Sealed {
        fn state(&self) -> &super::State;
    }
    impl Sealed for super::TemplateBuilder {
        fn state(&self) -> &super::State {
            &self.state
        }
    }
    impl Sealed for super::TemplateFinal {
        fn state(&self) -> &super::State {
            &self.state
        }
    }
}

macro_rules! definition {
    ($ty:ty) => {
        impl TemplateDefinition for $ty {
            fn instructions(&self) -> &[Instruction] {
                &self.state.instructions
            }
            fn base_image(&self) -> Option<&str> {
                self.state.base_image.as_deref()
            }
            fn base_template(&self) -> Option<&str> {
                self.state.base_template.as_deref()
            }
            fn start_cmd(&self) -> Option<&str> {
                self.state.start_cmd.as_deref()
            }
            fn ready_cmd(&self) -> Option<&str> {
                self.state.ready_cmd.as_deref()
            }
            fn context(&self) -> &Path {
                &self.state.context
            }
        }
    };
}

definition!(TemplateBuilder);
definition!(TemplateFinal);

/// A new template: choose its base first.
///
/// ```
/// use e2b_template::{Template, wait_for_port};
///
/// let template = Template::new()
///     .from_python_image("3.12")
///     .apt_install(["curl"])
///     .pip_install(["flask"])
///     .set_workdir("/app")
///     .set_start_cmd("python -m http.server 8000", wait_for_port(8000));
/// let dockerfile = e2b_template::to_dockerfile(&template).unwrap();
/// assert!(dockerfile.starts_with("FROM python:3.12\n"));
/// ```
///
/// Invalid arguments (an absolute `copy` source, credentials without a password, …) do not
/// interrupt the chain: the first one is reported by [`to_json`](crate::to_json),
/// [`to_dockerfile`](crate::to_dockerfile) and the builds, before any request.
#[derive(Clone, Debug)]
#[must_use]
pub struct Template {
    state: State,
}

impl Default for Template {
    fn default() -> Self {
        Template::new()
    }
}

impl Template {
    /// A template whose `copy` sources are relative to the current directory.
    pub fn new() -> Self {
        Template::with_context(".")
    }

    /// A template whose `copy` sources are relative to `dir` (and whose `.dockerignore`,
    /// if any, is read from there).
    pub fn with_context(dir: impl Into<PathBuf>) -> Self {
        Template {
            state: State {
                context: dir.into(),
                ignore_patterns: Vec::new(),
                base_image: Some(DEFAULT_BASE_IMAGE.to_owned()),
                base_template: None,
                registry: None,
                start_cmd: None,
                ready_cmd: None,
                force: false,
                force_next_layer: false,
                instructions: Vec::new(),
                error: None,
            },
        }
    }

    /// Leave out files matching `patterns` (`.dockerignore` syntax, applied after the
    /// context's `.dockerignore`, so they win) from every `copy`.
    pub fn file_ignore_patterns(mut self, patterns: impl IntoStrings) -> Self {
        self.state.ignore_patterns.extend(patterns.into_strings());
        self
    }

    /// Rebuild the whole template, ignoring every cached layer.
    pub fn skip_cache(mut self) -> Self {
        self.state.force_next_layer = true;
        self
    }

    /// Start from a public image, e.g. `ubuntu:24.04`.
    pub fn from_image(mut self, image: impl Into<String>) -> TemplateBuilder {
        self.state.set_base(Some(image.into()), None);
        TemplateBuilder { state: self.state }
    }

    /// Start from an image in a private registry, logging in with `username` and
    /// `password` (both required).
    pub fn from_image_with_credentials(
        mut self,
        image: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> TemplateBuilder {
        let (username, password) = (username.into(), password.into());
        if username.is_empty() || password.is_empty() {
            self.state.fail(Error::invalid_argument(
                "both username and password are required when providing registry credentials",
            ));
        } else {
            self.state.registry = Some(RegistryConfig::Registry { username, password });
        }
        self.from_image(image)
    }

    /// Start from an image in AWS Elastic Container Registry.
    pub fn from_aws_registry(
        mut self,
        image: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        region: impl Into<String>,
    ) -> TemplateBuilder {
        self.state.registry = Some(RegistryConfig::Aws {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            region: region.into(),
        });
        self.from_image(image)
    }

    /// Start from an image in Google Artifact Registry or Container Registry, with a
    /// service account's JSON key given as its content.
    pub fn from_gcp_registry(
        mut self,
        image: impl Into<String>,
        service_account_json: impl Into<String>,
    ) -> TemplateBuilder {
        self.state.registry = Some(RegistryConfig::Gcp {
            service_account_json: service_account_json.into(),
        });
        self.from_image(image)
    }

    /// [`from_gcp_registry`](Self::from_gcp_registry) with the key read from `path`
    /// (relative to the context directory).
    ///
    /// # Errors
    ///
    /// Invalid argument if the file cannot be read.
    pub fn from_gcp_registry_file(
        self,
        image: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> Result<TemplateBuilder> {
        let path = self.state.context.join(path);
        let json = std::fs::read_to_string(&path).map_err(|e| {
            Error::invalid_argument(format!(
                "cannot read the service account key {}: {e}",
                path.display()
            ))
        })?;
        Ok(self.from_gcp_registry(image, json))
    }

    /// Start from an existing template (its id, name or `name:tag`). Such a template
    /// cannot be turned into a Dockerfile.
    pub fn from_template(mut self, template: impl Into<String>) -> TemplateBuilder {
        self.state.set_base(None, Some(template.into()));
        TemplateBuilder { state: self.state }
    }

    /// Start from E2B's base image (`e2bdev/base`).
    pub fn from_base_image(self) -> TemplateBuilder {
        self.from_image(DEFAULT_BASE_IMAGE)
    }

    /// `debian:<variant>` (upstream's default variant is `stable`).
    pub fn from_debian_image(self, variant: &str) -> TemplateBuilder {
        self.from_image(format!("debian:{variant}"))
    }

    /// `ubuntu:<variant>` (upstream's default variant is `latest`).
    pub fn from_ubuntu_image(self, variant: &str) -> TemplateBuilder {
        self.from_image(format!("ubuntu:{variant}"))
    }

    /// `fedora:<variant>` (upstream's default variant is `44`).
    pub fn from_fedora_image(self, variant: &str) -> TemplateBuilder {
        self.from_image(format!("fedora:{variant}"))
    }

    /// `alpine:<variant>` (upstream's default variant is `3.24`).
    pub fn from_alpine_image(self, variant: &str) -> TemplateBuilder {
        self.from_image(format!("alpine:{variant}"))
    }

    /// `archlinux:<variant>` (upstream's default variant is `latest`).
    pub fn from_arch_image(self, variant: &str) -> TemplateBuilder {
        self.from_image(format!("archlinux:{variant}"))
    }

    /// `python:<version>` (upstream's default version is `3`).
    pub fn from_python_image(self, version: &str) -> TemplateBuilder {
        self.from_image(format!("python:{version}"))
    }

    /// `node:<variant>` (upstream's default variant is `lts`).
    pub fn from_node_image(self, variant: &str) -> TemplateBuilder {
        self.from_image(format!("node:{variant}"))
    }

    /// `oven/bun:<variant>` (upstream's default variant is `latest`).
    pub fn from_bun_image(self, variant: &str) -> TemplateBuilder {
        self.from_image(format!("oven/bun:{variant}"))
    }

    /// Import a single-stage Dockerfile, given as its content or as the path of a file:
    /// its base image, `RUN`, `COPY`/`ADD`, `WORKDIR`, `USER`, `ENV`, `ARG`, and
    /// `CMD`/`ENTRYPOINT` as the start command (ready after 20 s), mapped as the official
    /// SDKs map them. The user and working directory start as Docker's (`root`, `/`) and
    /// end as E2B's (`user`, `/home/user`) unless the Dockerfile sets them.
    ///
    /// # Errors
    ///
    /// Invalid argument for a Dockerfile that does not parse, has no or several `FROM`s,
    /// or uses what a template cannot do (`COPY --from`, `ADD` of a URL, unknown flags).
    pub fn from_dockerfile(mut self, content_or_path: &str) -> Result<TemplateBuilder> {
        let content = match std::fs::metadata(content_or_path) {
            Ok(meta) if meta.is_file() => {
                std::fs::read_to_string(content_or_path).map_err(|e| {
                    Error::invalid_argument(format!("cannot read {content_or_path}: {e}"))
                })?
            }
            _ => content_or_path.to_owned(),
        };
        let force_base = self.state.force_next_layer;
        let mut builder = TemplateBuilder {
            state: std::mem::replace(&mut self.state, Template::new().state),
        };
        let base = crate::dockerfile::import(&content, &mut builder)?;
        builder.state.base_image = Some(base);
        builder.state.base_template = None;
        if force_base {
            builder.state.force = true;
        }
        Ok(builder)
    }
}

/// Options of [`TemplateBuilder::copy_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Upload the files even if the server already has them.
    pub force_upload: bool,
    /// The owner (`user` or `user:group`).
    pub user: Option<String>,
    /// The permissions (e.g. `0o755`).
    pub mode: Option<u32>,
    /// Archive what symbolic links point to instead of the links (default: the links).
    pub resolve_symlinks: Option<bool>,
    /// Gzip the upload (default: yes).
    pub gzip: Option<bool>,
}

impl CopyOptions {
    /// The defaults.
    pub fn new() -> Self {
        CopyOptions::default()
    }

    /// Upload even if the server has the files.
    #[must_use]
    pub fn force_upload(mut self, force: bool) -> Self {
        self.force_upload = force;
        self
    }

    /// Owned by `user` (or `user:group`).
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// With permissions `mode` (e.g. `0o755`).
    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Archive symbolic links' targets (`true`) or the links themselves (`false`).
    #[must_use]
    pub fn resolve_symlinks(mut self, resolve: bool) -> Self {
        self.resolve_symlinks = Some(resolve);
        self
    }

    /// Gzip the upload or not.
    #[must_use]
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = Some(gzip);
        self
    }
}

/// One source of [`TemplateBuilder::copy_items`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyItem {
    /// Sources, relative to the context (globs allowed).
    pub src: Vec<String>,
    /// The destination in the template.
    pub dest: String,
    /// The options.
    pub options: CopyOptions,
}

impl CopyItem {
    /// Copy `src` to `dest`.
    pub fn new(src: impl IntoStrings, dest: impl Into<String>) -> Self {
        CopyItem {
            src: src.into_strings(),
            dest: dest.into(),
            options: CopyOptions::default(),
        }
    }

    /// With options.
    #[must_use]
    pub fn options(mut self, options: CopyOptions) -> Self {
        self.options = options;
        self
    }
}

/// Options of [`TemplateBuilder::remove_with`], [`rename_with`](TemplateBuilder::rename_with)
/// and [`make_symlink_with`](TemplateBuilder::make_symlink_with).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileOptions {
    /// `-f`: no prompt, no error for what is missing or exists.
    pub force: bool,
    /// `-r` (remove only).
    pub recursive: bool,
    /// Run as this user.
    pub user: Option<String>,
    /// `-m <mode>` (make_dir only).
    pub mode: Option<u32>,
}

impl FileOptions {
    /// The defaults.
    pub fn new() -> Self {
        FileOptions::default()
    }

    /// Force.
    #[must_use]
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Recursive.
    #[must_use]
    pub fn recursive(mut self, recursive: bool) -> Self {
        self.recursive = recursive;
        self
    }

    /// As `user`.
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// With permissions `mode`.
    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }
}

/// Options of the package-manager steps ([`TemplateBuilder::pip_install_with`],
/// [`npm_install_with`](TemplateBuilder::npm_install_with),
/// [`bun_install_with`](TemplateBuilder::bun_install_with),
/// [`apt_install_with`](TemplateBuilder::apt_install_with)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstallOptions {
    /// Install globally (as root). pip: default yes (`--user` when no); npm and bun:
    /// default no (`-g` when yes).
    pub global: Option<bool>,
    /// npm `--save-dev`, bun `--dev`.
    pub dev: bool,
    /// apt `--no-install-recommends`.
    pub no_install_recommends: bool,
    /// apt `--fix-missing`.
    pub fix_missing: bool,
}

impl InstallOptions {
    /// The defaults.
    pub fn new() -> Self {
        InstallOptions::default()
    }

    /// Install globally or for the user.
    #[must_use]
    pub fn global(mut self, global: bool) -> Self {
        self.global = Some(global);
        self
    }

    /// As development dependencies.
    #[must_use]
    pub fn dev(mut self, dev: bool) -> Self {
        self.dev = dev;
        self
    }

    /// apt: without recommended packages.
    #[must_use]
    pub fn no_install_recommends(mut self, yes: bool) -> Self {
        self.no_install_recommends = yes;
        self
    }

    /// apt: `--fix-missing`.
    #[must_use]
    pub fn fix_missing(mut self, yes: bool) -> Self {
        self.fix_missing = yes;
        self
    }
}

/// Options of [`TemplateBuilder::git_clone_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitCloneOptions {
    /// Where to clone to (default: git's choice, in the working directory).
    pub path: Option<String>,
    /// Clone only this branch.
    pub branch: Option<String>,
    /// Shallow clone of this depth.
    pub depth: Option<u32>,
    /// Run as this user.
    pub user: Option<String>,
}

impl GitCloneOptions {
    /// The defaults.
    pub fn new() -> Self {
        GitCloneOptions::default()
    }

    /// Clone into `path`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Only `branch`.
    #[must_use]
    pub fn branch(mut self, branch: impl Into<String>) -> Self {
        self.branch = Some(branch.into());
        self
    }

    /// A shallow clone.
    #[must_use]
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = Some(depth);
        self
    }

    /// As `user`.
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
}

/// A template with a base: add build steps, then optionally a start or ready command.
#[derive(Clone, Debug)]
#[must_use]
pub struct TemplateBuilder {
    pub(crate) state: State,
}

/// `0755`-style: at least four octal digits.
fn pad_octal(mode: u32) -> String {
    format!("{mode:04o}")
}

/// Whether `src` is absolute or leaves the context once normalized.
fn invalid_source(src: &str) -> Option<Error> {
    if Path::new(src).is_absolute() {
        return Some(Error::invalid_argument(format!(
            "invalid source path \"{src}\": absolute paths are not allowed; use a path \
             relative to the context directory"
        )));
    }
    let mut depth: i64 = 0;
    let mut escapes = false;
    for part in src.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    escapes = true;
                }
            }
            _ => depth += 1,
        }
    }
    // Like a normalized path: `..` that cannot be resolved stays at the front.
    escapes.then(|| {
        Error::invalid_argument(format!(
            "invalid source path \"{src}\": it escapes the context directory"
        ))
    })
}

impl TemplateBuilder {
    /// Copy `src` (a file, directory or glob relative to the context; or several) to
    /// `dest` in the template.
    pub fn copy(self, src: impl IntoStrings, dest: impl Into<String>) -> Self {
        self.copy_with(src, dest, CopyOptions::default())
    }

    /// [`copy`](Self::copy) with options: owner, mode, symbolic links, gzip, forced upload.
    pub fn copy_with(
        mut self,
        src: impl IntoStrings,
        dest: impl Into<String>,
        options: CopyOptions,
    ) -> Self {
        let dest = dest.into();
        for src in src.into_strings() {
            if let Some(e) = invalid_source(&src) {
                self.state.fail(e);
            }
            let args = vec![
                src,
                dest.clone(),
                options.user.clone().unwrap_or_default(),
                options.mode.map(pad_octal).unwrap_or_default(),
            ];
            let force_upload = options.force_upload.then_some(true);
            let mut instruction = Instruction::new(
                InstructionType::Copy,
                args,
                options.force_upload || self.state.force_next_layer,
            );
            instruction.force_upload = force_upload;
            instruction.resolve_symlinks = options.resolve_symlinks;
            instruction.gzip = options.gzip;
            self.state.instructions.push(instruction);
        }
        self
    }

    /// Several copies, each with its own options.
    pub fn copy_items(mut self, items: impl IntoIterator<Item = CopyItem>) -> Self {
        for item in items {
            self = self.copy_with(item.src, item.dest, item.options);
        }
        self
    }

    /// Remove `path` (or several) in the template.
    pub fn remove(self, path: impl IntoStrings) -> Self {
        self.remove_with(path, FileOptions::default())
    }

    /// [`remove`](Self::remove) with `force`, `recursive` and `user`.
    pub fn remove_with(self, path: impl IntoStrings, options: FileOptions) -> Self {
        let mut args = vec!["rm".to_owned()];
        if options.recursive {
            args.push("-r".into());
        }
        if options.force {
            args.push("-f".into());
        }
        args.extend(path.into_strings().iter().map(|p| quote(p)));
        self.run_cmd_as(args.join(" "), options.user.as_deref())
    }

    /// Move `src` to `dest` in the template.
    pub fn rename(self, src: &str, dest: &str) -> Self {
        self.rename_with(src, dest, FileOptions::default())
    }

    /// [`rename`](Self::rename) with `force` and `user`.
    pub fn rename_with(self, src: &str, dest: &str, options: FileOptions) -> Self {
        let mut command = format!("mv {} {}", quote(src), quote(dest));
        if options.force {
            command.push_str(" -f");
        }
        self.run_cmd_as(command, options.user.as_deref())
    }

    /// Create the directory `path` (or several), with its parents.
    pub fn make_dir(self, path: impl IntoStrings) -> Self {
        self.make_dir_with(path, FileOptions::default())
    }

    /// [`make_dir`](Self::make_dir) with `mode` and `user`.
    pub fn make_dir_with(self, path: impl IntoStrings, options: FileOptions) -> Self {
        let mut args = vec!["mkdir".to_owned(), "-p".to_owned()];
        if let Some(mode) = options.mode {
            args.push(format!("-m {}", pad_octal(mode)));
        }
        args.extend(path.into_strings().iter().map(|p| quote(p)));
        self.run_cmd_as(args.join(" "), options.user.as_deref())
    }

    /// Create a symbolic link at `dest` pointing to `src`.
    pub fn make_symlink(self, src: &str, dest: &str) -> Self {
        self.make_symlink_with(src, dest, FileOptions::default())
    }

    /// [`make_symlink`](Self::make_symlink) with `force` and `user`.
    pub fn make_symlink_with(self, src: &str, dest: &str, options: FileOptions) -> Self {
        let mut args = vec!["ln".to_owned(), "-s".to_owned()];
        if options.force {
            args.push("-f".into());
        }
        args.push(quote(src));
        args.push(quote(dest));
        self.run_cmd_as(args.join(" "), options.user.as_deref())
    }

    /// Run a shell command (several are joined with `&&`) as the current user.
    pub fn run_cmd(self, command: impl IntoStrings) -> Self {
        self.run_cmd_as(command.into_strings().join(" && "), None)
    }

    /// Run a shell command (several are joined with `&&`) as `user`.
    pub fn run_cmd_with_user(self, command: impl IntoStrings, user: &str) -> Self {
        self.run_cmd_as(command.into_strings().join(" && "), Some(user))
    }

    pub(crate) fn run_cmd_as(mut self, command: String, user: Option<&str>) -> Self {
        let mut args = vec![command];
        if let Some(user) = user.filter(|u| !u.is_empty()) {
            args.push(user.to_owned());
        }
        self.state.push(InstructionType::Run, args);
        self
    }

    /// Set the working directory of the following steps and of the sandbox.
    pub fn set_workdir(mut self, dir: impl Into<String>) -> Self {
        self.state.push(InstructionType::Workdir, vec![dir.into()]);
        self
    }

    /// Set the user of the following steps and of the sandbox.
    pub fn set_user(mut self, user: impl Into<String>) -> Self {
        self.state.push(InstructionType::User, vec![user.into()]);
        self
    }

    /// Set environment variables of the build (nothing is recorded for none).
    pub fn set_envs<K: Into<String>, V: Into<String>>(
        mut self,
        envs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let args: Vec<String> = envs
            .into_iter()
            .flat_map(|(k, v)| [k.into(), v.into()])
            .collect();
        if !args.is_empty() {
            self.state.push(InstructionType::Env, args);
        }
        self
    }

    /// `pip install` the packages globally, as root; none installs the working
    /// directory's project (`pip install .`).
    pub fn pip_install(self, packages: impl IntoStrings) -> Self {
        self.pip_install_with(packages, InstallOptions::default())
    }

    /// [`pip_install`](Self::pip_install) with options (`global(false)`: `--user`).
    pub fn pip_install_with(self, packages: impl IntoStrings, options: InstallOptions) -> Self {
        let global = options.global.unwrap_or(true);
        let packages = packages.into_strings();
        let mut args = vec!["pip".to_owned(), "install".to_owned()];
        if !global {
            args.push("--user".into());
        }
        if packages.is_empty() {
            args.push(".".into());
        } else {
            args.extend(packages);
        }
        self.run_cmd_as(args.join(" "), global.then_some("root"))
    }

    /// `npm install` the packages locally; none installs `package.json`'s.
    pub fn npm_install(self, packages: impl IntoStrings) -> Self {
        self.npm_install_with(packages, InstallOptions::default())
    }

    /// [`npm_install`](Self::npm_install) with options (`global`: `-g`, as root;
    /// `dev`: `--save-dev`).
    pub fn npm_install_with(self, packages: impl IntoStrings, options: InstallOptions) -> Self {
        self.js_install("npm", "--save-dev", packages.into_strings(), &options)
    }

    /// `bun install` the packages locally; none installs `package.json`'s.
    pub fn bun_install(self, packages: impl IntoStrings) -> Self {
        self.bun_install_with(packages, InstallOptions::default())
    }

    /// [`bun_install`](Self::bun_install) with options (`global`: `-g`, as root;
    /// `dev`: `--dev`).
    pub fn bun_install_with(self, packages: impl IntoStrings, options: InstallOptions) -> Self {
        self.js_install("bun", "--dev", packages.into_strings(), &options)
    }

    fn js_install(
        self,
        tool: &str,
        dev_flag: &str,
        packages: Vec<String>,
        options: &InstallOptions,
    ) -> Self {
        let global = options.global.unwrap_or(false);
        let mut args = vec![tool.to_owned(), "install".to_owned()];
        if global {
            args.push("-g".into());
        }
        if options.dev {
            args.push(dev_flag.into());
        }
        args.extend(packages);
        self.run_cmd_as(args.join(" "), global.then_some("root"))
    }

    /// `apt-get update` and install the packages, as root, non-interactively.
    pub fn apt_install(self, packages: impl IntoStrings) -> Self {
        self.apt_install_with(packages, InstallOptions::default())
    }

    /// [`apt_install`](Self::apt_install) with `no_install_recommends` and `fix_missing`.
    pub fn apt_install_with(self, packages: impl IntoStrings, options: InstallOptions) -> Self {
        let install = format!(
            "DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y {}{}{}",
            if options.no_install_recommends {
                "--no-install-recommends "
            } else {
                ""
            },
            if options.fix_missing {
                "--fix-missing "
            } else {
                ""
            },
            packages.into_strings().join(" ")
        );
        self.run_cmd_as(format!("apt-get update && {install}"), Some("root"))
    }

    /// `git clone` the repository at `url`.
    pub fn git_clone(self, url: &str) -> Self {
        self.git_clone_with(url, GitCloneOptions::default())
    }

    /// [`git_clone`](Self::git_clone) with a path, branch, depth and user.
    pub fn git_clone_with(self, url: &str, options: GitCloneOptions) -> Self {
        let mut args = vec!["git".to_owned(), "clone".to_owned(), quote(url)];
        if let Some(branch) = options.branch.as_deref().filter(|b| !b.is_empty()) {
            args.push(format!("--branch {}", quote(branch)));
            args.push("--single-branch".into());
        }
        if let Some(depth) = options.depth.filter(|d| *d > 0) {
            args.push(format!("--depth {depth}"));
        }
        if let Some(path) = options.path.as_deref().filter(|p| !p.is_empty()) {
            args.push(quote(path));
        }
        self.run_cmd_as(args.join(" "), options.user.as_deref())
    }

    /// Install MCP servers with `mcp-gateway` (the template must start from the
    /// `mcp-gateway` template).
    pub fn add_mcp_server(mut self, servers: impl IntoStrings) -> Self {
        if self.state.base_template.as_deref() != Some("mcp-gateway") {
            self.state.fail(Error::new(ErrorKind::Build {
                message: "MCP servers can only be added to the mcp-gateway template".into(),
            }));
        }
        let command = format!("mcp-gateway pull {}", servers.into_strings().join(" "));
        self.run_cmd_as(command, Some("root"))
    }

    /// Prebuild the dev container in `dir` (the template must start from the
    /// `devcontainer` template). Beta, as upstream's.
    pub fn beta_dev_container_prebuild(mut self, dir: &str) -> Self {
        self.require_devcontainer();
        let command = format!("devcontainer build --workspace-folder {}", quote(dir));
        self.run_cmd_as(command, Some("root"))
    }

    /// Start the dev container in `dir` when the sandbox starts (the template must start
    /// from the `devcontainer` template). Beta, as upstream's.
    pub fn beta_set_dev_container_start(mut self, dir: &str) -> TemplateFinal {
        self.require_devcontainer();
        let dir = quote(dir);
        let start = format!(
            "sudo devcontainer up --workspace-folder {dir} && sudo /prepare-exec.sh {dir} | \
             sudo tee /devcontainer.sh > /dev/null && sudo chmod +x /devcontainer.sh && \
             sudo touch /devcontainer.up"
        );
        self.set_start_cmd(start, wait_for_file("/devcontainer.up"))
    }

    fn require_devcontainer(&mut self) {
        if self.state.base_template.as_deref() != Some("devcontainer") {
            self.state.fail(Error::new(ErrorKind::Build {
                message: "dev containers can only be used in the devcontainer template".into(),
            }));
        }
    }

    /// Rebuild every following step, ignoring cached layers.
    pub fn skip_cache(mut self) -> Self {
        self.state.force_next_layer = true;
        self
    }

    /// The command the sandbox starts with, and how to know it is ready. Last in the chain.
    pub fn set_start_cmd(
        mut self,
        start_cmd: impl Into<String>,
        ready_cmd: impl Into<ReadyCmd>,
    ) -> TemplateFinal {
        self.state.start_cmd = Some(start_cmd.into());
        self.state.ready_cmd = Some(ready_cmd.into().command().to_owned());
        TemplateFinal { state: self.state }
    }

    /// Only a ready command: the sandbox is ready when it succeeds. Last in the chain.
    pub fn set_ready_cmd(mut self, ready_cmd: impl Into<ReadyCmd>) -> TemplateFinal {
        self.state.ready_cmd = Some(ready_cmd.into().command().to_owned());
        TemplateFinal { state: self.state }
    }
}

/// A template whose start or ready command is set: nothing more can be added.
#[derive(Clone, Debug)]
#[must_use]
pub struct TemplateFinal {
    pub(crate) state: State,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_paths_stay_in_the_context() {
        for ok in ["foo", "./foo/bar", "foo/../bar", "..myconfig", "."] {
            assert!(invalid_source(ok).is_none(), "{ok}");
        }
        for bad in [
            "/etc/passwd",
            "../foo",
            "foo/../../bar",
            "./foo/../../../bar",
            "..",
        ] {
            let e = invalid_source(bad).expect(bad);
            assert!(e.is_invalid_argument());
        }
    }

    #[test]
    fn invalid_calls_are_reported_later_not_panicked() {
        let t = Template::new()
            .from_image_with_credentials("img", "user", "")
            .copy("/abs", "/x");
        let e = t.state.check().unwrap_err();
        assert!(e.to_string().contains("username and password"), "{e}");
    }
}
