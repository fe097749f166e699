//! Starting a sandbox's processes: the agent's descriptors, the mounts (staged for a root server) and the bubblewrap launch.

use super::*;

impl Shared {
    /// Start the sandbox's processes (its files must be prepared).
    pub(super) async fn boot(self: &Arc<Self>, sandbox: &Arc<Sandbox>) -> Result<(), SandboxError> {
        self.check_open()?;
        let record = sandbox.record();
        layout::prepare(
            &sandbox.paths,
            self.ownership(),
            self.config.disks.as_deref(),
        )
        .map_err(SandboxError::io("prepare the sandbox's directories"))?;
        let mut config = layout::agent_config(
            &record.id,
            &record.template_id,
            &record.env_vars,
            &self.config.envd_version,
        );
        let kernel = if record.code_interpreter {
            config.interpreter = Some(crate::agent::InterpreterConfig {
                kernel_env: layout::KERNEL_ENV_IN_SANDBOX.to_owned(),
                runtime_dir: layout::KERNEL_RUNTIME_IN_SANDBOX.to_owned(),
                listen_tcp: true,
            });
            Some(self.kernel_mounts()?)
        } else {
            None
        };
        config.local_fuse = self.config.rootless.is_some();
        if self.writable_root(sandbox) {
            config.sudo_socket = Some(crate::agent::SUDO_SOCKET.to_owned());
        }
        let image = match &record.image_template {
            Some(id) => Some(
                self.image_template(id)?
                    .ok_or_else(|| SandboxError::TemplateNotFound(id.clone()))?,
            ),
            None => None,
        };
        if let Some(template) = &image {
            apply_image_config(&mut config, template);
        }
        let internet = !record.isolated_network;
        let network = match (&self.config.slirp4netns, internet) {
            (_, false) => None,
            (Ok(slirp), true) => Some(NetworkSpec {
                slirp: slirp.clone(),
                own_user_namespace: self.config.userns.is_none(),
            }),
            (Err(why), true) => {
                return Err(SandboxError::from(NetworkError::Unavailable(why.clone())));
            }
        };
        let cgroup = if self.cgroups.is_usable() {
            match self.cgroups.create(
                &record.id,
                template_limits(self.config.limits, image.as_ref()),
            ) {
                Ok(cg) => Some(cg),
                Err(e) => {
                    tracing::warn!(sandbox = %record.id, error = %e, "running without a cgroup");
                    None
                }
            }
        } else {
            None
        };
        let io = |what: &str| SandboxError::io(format!("{what} of the sandbox"));
        let mut fds = ChildFds::new();
        let seccomp = vec![
            fds.add(file_with(&self.config.seccomp.deny).map_err(io("pass the seccomp filter"))?),
            fds.add(file_with(&self.config.seccomp.clone3).map_err(io("pass the seccomp filter"))?),
        ];
        let (info_rx, info_tx) = pipe().map_err(io("open the info pipe"))?;
        let info = fds.add(info_tx.into());
        let agent_listener = fds
            .add(bind_agent_socket(&sandbox.paths.socket()).map_err(io("bind the agent socket"))?);
        let config_bytes =
            layout::agent_config_bytes(&config).map_err(io("write the agent configuration"))?;
        let agent_config =
            fds.add(file_with(&config_bytes).map_err(io("pass the agent configuration"))?);
        let mut etc = Vec::new();
        for name in BwrapPlan::etc_files(&self.host_layout, internet) {
            let content = layout::etc_file(name);
            etc.push((
                fds.add(file_with(content.as_bytes()).map_err(io("pass the /etc files"))?),
                name,
            ));
        }
        let (pre_exec, sources) = self.mount_sources(sandbox, kernel.as_ref(), image.as_ref())?;
        let hide = [self.dirs.root().to_path_buf()];
        let plan = BwrapPlan {
            privilege: self.sandbox_privilege(),
            host: &self.host_layout,
            sources: &sources,
            internet,
            fds: LaunchFds {
                seccomp,
                info,
                agent_listener,
                agent_config,
                etc,
            },
            hide: &hide,
            kernel: kernel.as_ref(),
        };
        let (options, command) = plan.options_and_command();
        let args_fd = fds.add(
            file_with(&BwrapPlan::encode(&options)).map_err(io("pass the bubblewrap arguments"))?,
        );
        let mut args: Vec<OsString> = vec!["--args".into(), args_fd.to_string().into()];
        args.extend(command);
        let home = match self.sandbox_privilege() {
            Privilege::Root => "/root",
            Privilege::UserNamespace => layout::HOME_IN_SANDBOX,
        };
        let mut env = vec![
            (
                "PATH".to_owned(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ),
            ("HOME".to_owned(), home.to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ];
        if let Ok(filter) = std::env::var("RUST_LOG") {
            env.push(("RUST_LOG".to_owned(), filter));
        }
        let spec = LaunchSpec {
            bwrap: self.config.bwrap.clone(),
            args,
            env,
            cgroup,
            ready_timeout: match (&image, record.code_interpreter) {
                (Some(t), _) if t.ready_cmd.is_some() => {
                    self.config.ready_timeout + t.ready_timeout
                }
                (_, true) => self.config.ready_timeout + KERNEL_READY_ALLOWANCE,
                _ => self.config.ready_timeout,
            },
            fds,
            info: Some(info_rx.into()),
            pre_exec,
            network,
        };
        let instance = Arc::new(Instance::launch(&*self.spawner()?, spec).await?);
        {
            let mut live = sandbox.live();
            live.instance = Some(Arc::clone(&instance));
            live.cpu = CpuSample::start();
            live.serving = CancellationToken::new();
        }
        self.watch_exit(sandbox, &instance);
        Ok(())
    }

    /// Whether the sandbox has a writable root filesystem.
    pub(super) fn writable_root(&self, sandbox: &Sandbox) -> bool {
        self.config.host_base.is_some()
            && (sandbox.paths.has_disk() || self.config.rootless.is_some())
    }

    /// How the sandbox's identities are set up: as on a root server when an
    /// unprivileged one gives it a writable root (its own user namespace
    /// with root and `user`).
    pub(super) fn sandbox_privilege(&self) -> Privilege {
        if self.config.rootless.is_some() {
            Privilege::Root
        } else {
            self.config.privilege
        }
    }

    /// Where bubblewrap finds the sandbox's mounts and, for a root server,
    /// the hook that stages them first.
    ///
    /// A root server's sandboxes set their mounts up as an unprivileged host
    /// id, and their mount table must name no host path: the child stages
    /// the sources (mounting the sandbox's disk, showing the agent from
    /// memory and the kernel environment through an overlay), then joins
    /// the server's user namespace.
    pub(super) fn mount_sources(
        &self,
        sandbox: &Sandbox,
        kernel: Option<&KernelMounts>,
        image: Option<&crate::templates::TemplateRecord>,
    ) -> Result<(Option<crate::sandbox::instance::PreExec>, MountSources), SandboxError> {
        let paths = &sandbox.paths;
        let volumes = self.volume_dirs(&sandbox.record())?;
        if let (Some(rootless), Some(base)) = (&self.config.rootless, &self.config.host_base) {
            return self.rootless_sources(sandbox, rootless, base, kernel, image, volumes);
        }
        let Some(ns) = &self.config.userns else {
            if paths.has_disk() {
                return Err(SandboxError::Invalid(
                    "this sandbox keeps its files on a disk image, which only a root server can mount"
                        .to_owned(),
                ));
            }
            let sources = MountSources {
                home: paths.home.clone(),
                tmp: paths.tmp.clone(),
                agent: self.config.agent_binary.clone(),
                kernel_env: kernel.map(|k| k.env.clone()),
                interpreter_prefix: kernel.and_then(|k| k.interpreter_prefix.clone()),
                rootfs: Vec::new(),
                home_in_root: false,
                volumes,
            };
            return Ok((None, sources));
        };
        let has_disk = paths.has_disk();
        let mut plan = Vec::new();
        let mut rootfs_at = Vec::new();
        let mut home_tree = false;
        let mut tmp_tree = false;
        if has_disk {
            let device = self.disk_device(sandbox)?;
            plan.push(Source::Ext4(device.path().to_path_buf()));
            let base_trees = |extra: Option<&crate::templates::TemplateRecord>| {
                self.config
                    .host_base
                    .as_ref()
                    .map(|base| self.base_trees(base, kernel, extra))
                    .unwrap_or_default()
            };
            if let Some(template) = image.filter(|t| t.host_base) {
                for tree in base_trees(Some(template)) {
                    rootfs_at.push(tree.at);
                    plan.push(Source::Writable(tree.tree));
                }
                // A built template's home is a layer of it too.
                plan.push(Source::Writable(self.build_tree(
                    template,
                    "home",
                    0o755,
                    layout::USER_ID,
                )?));
                home_tree = true;
            } else if let Some(template) = image {
                let layers =
                    crate::templates::layer_dirs(self.dirs.root(), template).map_err(|e| {
                        SandboxError::TemplateUnavailable {
                            template: template.name.clone(),
                            reason: e.to_string(),
                        }
                    })?;
                rootfs_at.push("/");
                plan.push(Source::Writable(crate::sandbox::stage::WritableTree {
                    name: "root",
                    layers,
                    mode: 0o755,
                    owner: 0,
                    ensure_dirs: Vec::new(),
                }));
            } else {
                for tree in base_trees(None) {
                    rootfs_at.push(tree.at);
                    plan.push(Source::Writable(tree.tree));
                }
            }
            // So is the `/tmp` of a template a build makes: later steps see
            // what earlier ones left there.
            if let Some(template) = image.filter(|t| t.hidden || t.build_id.is_some()) {
                plan.push(Source::Writable(
                    self.build_tree(template, "tmp", 0o1777, 0)?,
                ));
                tmp_tree = true;
            }
        } else {
            plan.push(Source::Bind(paths.home.clone()));
            plan.push(Source::Bind(paths.tmp.clone()));
        }
        if let Some(kernel) = kernel {
            plan.push(Source::Hidden(kernel.env.clone()));
            plan.extend(kernel.interpreter_prefix.clone().map(Source::Bind));
        }
        plan.extend(volumes.iter().map(|(dir, _)| Source::Bind(dir.clone())));
        let (stage, staged) = Stage::plan(
            Path::new(stage::LAUNCH_DIR),
            &plan,
            Some((ns.fd(), UserNamespace::host_id(0))),
        )
        .map_err(SandboxError::io("stage the mount sources"))?;
        // One staged path per planned source, in order.
        let mut staged = staged.into_iter();
        let mut next = move || staged.next().unwrap_or_default();
        let (home, tmp) = if has_disk {
            let disk = next();
            (disk.join("home"), disk.join("tmp"))
        } else {
            (next(), next())
        };
        let rootfs = rootfs_at.into_iter().map(|at| (at, next())).collect();
        let home = if home_tree { next() } else { home };
        let tmp = if tmp_tree { next() } else { tmp };
        let agent = PathBuf::from(stage::AGENT);
        let kernel_env = kernel.map(|_| next());
        let interpreter_prefix = kernel
            .and_then(|k| k.interpreter_prefix.as_ref())
            .map(|_| next());
        let volumes = volumes.into_iter().map(|(_, at)| (next(), at)).collect();
        let mut stage = stage.hook();
        let mut enter = ns.enter_hook();
        let hook: crate::sandbox::instance::PreExec = Box::new(move || {
            stage()?;
            enter()
        });
        let sources = MountSources {
            home,
            tmp,
            agent,
            kernel_env,
            interpreter_prefix,
            rootfs,
            home_in_root: image.is_some_and(|t| !t.host_base),
            volumes,
        };
        Ok((Some(hook), sources))
    }

    /// [`mount_sources`](Self::mount_sources) of an unprivileged server
    /// with writable roots (see [`rootless`](crate::sandbox::rootless)):
    /// every tree, `/home/user` and `/tmp` included, is a `fuse-overlayfs`
    /// whose upper layer is in the sandbox's `rootfs/` directory; the hook
    /// enters the sandboxes' namespace, then stages.
    fn rootless_sources(
        &self,
        sandbox: &Sandbox,
        rootless: &crate::sandbox::rootless::Rootless,
        base: &crate::sandbox::host_base::HostBase,
        kernel: Option<&KernelMounts>,
        image: Option<&crate::templates::TemplateRecord>,
        volumes: Vec<(PathBuf, PathBuf)>,
    ) -> Result<(Option<crate::sandbox::instance::PreExec>, MountSources), SandboxError> {
        use crate::sandbox::stage::WritableTree;
        let upper = &sandbox.paths.rootfs;
        std::fs::create_dir_all(upper).map_err(SandboxError::io("make the sandbox's rootfs"))?;
        let empty = crate::templates::empty_layer(self.dirs.root())
            .map_err(SandboxError::io("make the empty layer"))?;
        let mut plan = vec![Source::UpperDir(upper.clone())];
        if let Some(template) = image.filter(|t| !t.host_base) {
            // An image's root: its layers (given to the sandbox's ids once),
            // home included; `/tmp` of its own.
            let layers = self.rootless_image_layers(rootless, template)?;
            plan.push(Source::Writable(WritableTree {
                name: "root",
                layers,
                mode: 0o755,
                owner: 0,
                ensure_dirs: Vec::new(),
            }));
            // (What a build's steps leave in `/tmp` is a layer of it.)
            plan.push(Source::Writable(
                self.build_tree(template, "tmp", 0o1777, 0)?,
            ));
            return Self::rootless_stage(rootless, plan, vec!["/"], false, kernel, volumes);
        }
        let trees = self.base_trees(base, kernel, image);
        let rootfs_at: Vec<&'static str> = trees.iter().map(|t| t.at).collect();
        plan.extend(trees.into_iter().map(|t| Source::Writable(t.tree)));
        for (name, mode, owner) in [("home", 0o755, layout::USER_ID), ("tmp", 0o1777, 0)] {
            plan.push(Source::Writable(match image {
                Some(template) => self.build_tree(template, name, mode, owner)?,
                None => WritableTree {
                    name,
                    layers: vec![empty.clone()],
                    mode,
                    owner,
                    ensure_dirs: Vec::new(),
                },
            }));
        }
        Self::rootless_stage(rootless, plan, rootfs_at, true, kernel, volumes)
    }

    /// The layers of the image template `template` for an unprivileged
    /// server's sandbox, topmost first, each adopted (see
    /// [`Rootless::adopt_layer`](crate::sandbox::rootless::Rootless::adopt_layer)).
    fn rootless_image_layers(
        &self,
        rootless: &crate::sandbox::rootless::Rootless,
        template: &crate::templates::TemplateRecord,
    ) -> Result<Vec<PathBuf>, SandboxError> {
        let unavailable = |reason: String| SandboxError::TemplateUnavailable {
            template: template.name.clone(),
            reason,
        };
        let layers = crate::templates::layer_dirs(self.dirs.root(), template)
            .map_err(|e| unavailable(e.to_string()))?;
        for layer in &layers {
            // Image layers (`<digest>/rootfs`) and the template's own top
            // layer (`<template>/layer`); build layers were made in the
            // sandboxes' namespace already.
            let Some(home) = layer.parent() else { continue };
            let made_here =
                home.join("layer.json").is_file() || home.join("template.json").is_file();
            if made_here {
                rootless
                    .adopt_layer(home, layer)
                    .map_err(|e| unavailable(format!("cannot prepare its layers: {e}")))?;
            }
        }
        Ok(layers)
    }

    /// Stage `plan` (the upper directory and the root's trees, mounted at
    /// `rootfs_at`, then `/home/user` when `home_tree`, then `/tmp`) with
    /// the agent, kernel and volumes of an unprivileged server's sandbox.
    fn rootless_stage(
        rootless: &crate::sandbox::rootless::Rootless,
        mut plan: Vec<Source>,
        rootfs_at: Vec<&'static str>,
        home_tree: bool,
        kernel: Option<&KernelMounts>,
        volumes: Vec<(PathBuf, PathBuf)>,
    ) -> Result<(Option<crate::sandbox::instance::PreExec>, MountSources), SandboxError> {
        plan.push(Source::Hidden(rootless.agent_dir().to_path_buf()));
        if let Some(kernel) = kernel {
            plan.push(Source::Hidden(kernel.env.clone()));
            plan.extend(kernel.interpreter_prefix.clone().map(Source::Bind));
        }
        plan.extend(volumes.iter().map(|(dir, _)| Source::Bind(dir.clone())));
        let (stage, staged) =
            Stage::plan_rootless(rootless.stage_dir(), &plan, rootless.fuse_overlayfs())
                .map_err(SandboxError::io("stage the mount sources"))?;
        let mut staged = staged.into_iter();
        let mut next = move || staged.next().unwrap_or_default();
        let _upper = next();
        let rootfs = rootfs_at.into_iter().map(|at| (at, next())).collect();
        let home = if home_tree { next() } else { PathBuf::new() };
        let tmp = next();
        let agent = next().join(crate::sandbox::rootless::AGENT_FILE);
        let kernel_env = kernel.map(|_| next());
        let interpreter_prefix = kernel
            .and_then(|k| k.interpreter_prefix.as_ref())
            .map(|_| next());
        let volumes = volumes.into_iter().map(|(_, at)| (next(), at)).collect();
        let mut enter = rootless.userns().enter_hook();
        let mut stage = stage.hook();
        let hook: crate::sandbox::instance::PreExec = Box::new(move || {
            enter()?;
            stage()
        });
        let sources = MountSources {
            home,
            tmp,
            agent,
            kernel_env,
            interpreter_prefix,
            rootfs,
            home_in_root: !home_tree,
            volumes,
        };
        Ok((Some(hook), sources))
    }

    /// The trees of the host base's root, with the build layers of
    /// `template` (a snapshot's or a built template's) over the host's.
    fn base_trees(
        &self,
        base: &crate::sandbox::host_base::HostBase,
        kernel: Option<&KernelMounts>,
        template: Option<&crate::templates::TemplateRecord>,
    ) -> Vec<crate::sandbox::host_base::MountedTree> {
        let traversable = kernel.is_some_and(KernelMounts::needs_root_traversal);
        let mut trees = base.trees(traversable);
        if let Some(template) = template {
            for tree in &mut trees {
                let mut layers =
                    crate::templates::build_layer_dirs(self.dirs.root(), template, tree.tree.name);
                layers.append(&mut tree.tree.layers);
                tree.tree.layers = layers;
            }
        }
        trees
    }

    /// The writable tree `name` of a built template, mounted outside its
    /// root (its home on the host's system, its `/tmp`): the build layers'
    /// content for it under the sandbox's changes. Its root has `mode` and
    /// belongs to the in-sandbox id `owner` when first made.
    fn build_tree(
        &self,
        template: &crate::templates::TemplateRecord,
        name: &'static str,
        mode: u32,
        owner: u32,
    ) -> Result<crate::sandbox::stage::WritableTree, SandboxError> {
        let mut layers = crate::templates::build_layer_dirs(self.dirs.root(), template, name);
        if layers.is_empty() {
            layers.push(
                crate::templates::empty_layer(self.dirs.root())
                    .map_err(SandboxError::io("make the empty layer"))?,
            );
        }
        Ok(crate::sandbox::stage::WritableTree {
            name,
            layers,
            mode,
            owner,
            ensure_dirs: Vec::new(),
        })
    }

    /// The directories of the sandbox's volumes (the server's own paths,
    /// never one a sandbox could have made) and where each is mounted.
    fn volume_dirs(&self, record: &SandboxRecord) -> Result<Vec<(PathBuf, PathBuf)>, SandboxError> {
        let mut dirs = Vec::new();
        for mount in &record.volume_mounts {
            let Some(id) = &mount.volume_id else {
                continue;
            };
            let dir = self.config.volumes.content_dir(id);
            if self.config.volumes.get(id).is_err() || !dir.is_dir() {
                return Err(SandboxError::Invalid(format!(
                    "volume '{}' mounted at {} no longer exists",
                    mount.name, mount.path
                )));
            }
            dirs.push((dir, PathBuf::from(&mount.path)));
        }
        Ok(dirs)
    }

    /// The loop device of a sandbox's disk, set up at its first start.
    pub(super) fn disk_device(&self, sandbox: &Sandbox) -> Result<Arc<LoopDevice>, SandboxError> {
        if let Some(device) = &sandbox.live().disk {
            return Ok(Arc::clone(device));
        }
        let device = Arc::new(
            LoopDevice::attach(&sandbox.paths.image)
                .map_err(SandboxError::io("attach the sandbox's disk"))?,
        );
        sandbox.live().disk = Some(Arc::clone(&device));
        Ok(device)
    }

    /// When the processes end on their own (agent crash, OOM kill), the sandbox is gone.
    pub(super) fn watch_exit(self: &Arc<Self>, sandbox: &Arc<Sandbox>, instance: &Arc<Instance>) {
        let weak_shared = Arc::downgrade(self);
        let weak_sandbox = Arc::downgrade(sandbox);
        let weak_instance = Arc::downgrade(instance);
        let mut exited = instance.exited();
        tokio::spawn(async move {
            if exited.wait_for(|done| *done).await.is_err() {
                return;
            }
            let (Some(shared), Some(sandbox)) = (weak_shared.upgrade(), weak_sandbox.upgrade())
            else {
                return;
            };
            let _ops = sandbox.ops.lock().await;
            let current = {
                let live = sandbox.live();
                let same = match (&live.instance, weak_instance.upgrade()) {
                    (Some(current), Some(ended)) => Arc::ptr_eq(current, &ended),
                    _ => false,
                };
                same && live.presence != Presence::Removed
            };
            if current {
                let stderr = sandbox
                    .live()
                    .instance
                    .as_ref()
                    .map(|i| i.stderr_tail())
                    .unwrap_or_default();
                tracing::warn!(sandbox = %sandbox.id, stderr = %stderr.trim(), "sandbox agent exited; removing the sandbox");
                shared.remove(&sandbox);
            }
        });
    }
}

/// The limits of a sandbox of `template`: the vCPUs and memory its build
/// asked for, within the server's own limits.
fn template_limits(
    server: crate::sandbox::cgroup::Limits,
    template: Option<&crate::templates::TemplateRecord>,
) -> crate::sandbox::cgroup::Limits {
    let Some(template) = template else {
        return server;
    };
    let smaller = |asked: Option<u64>, cap: Option<u64>| match (asked, cap) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    };
    crate::sandbox::cgroup::Limits {
        memory_bytes: smaller(
            template.memory_mb.map(|mb| u64::from(mb) << 20),
            server.memory_bytes,
        ),
        cpus: smaller(
            template.cpu_count.map(u64::from),
            server.cpus.map(u64::from),
        )
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        pids: server.pids,
    }
}

/// An image template's configuration in the agent's: the image's
/// environment under the sandbox's, its working directory and user as the
/// defaults, the start and ready commands.
pub(super) fn apply_image_config(
    config: &mut crate::agent::AgentConfig,
    template: &crate::templates::TemplateRecord,
) {
    for (key, value) in &template.env {
        config
            .env_vars
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    config.default_workdir = template.workdir.clone().unwrap_or_default();
    config.default_user = template.user.clone();
    if let Some((uid, gid, home)) = &template.user_ids {
        config.users.push(crate::agent::UserAccount {
            name: template.user.clone(),
            uid: *uid,
            gid: *gid,
            home: home.clone(),
        });
    }
    config.start_cmd = template.start_cmd.clone();
    config.ready_cmd = template.ready_cmd.clone();
}

/// Bind the agent's listening socket at `path` (a directory only the server
/// sees), for the agent to inherit; a stale socket of an earlier run goes.
pub(super) fn bind_agent_socket(path: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::unix::fs::PermissionsExt as _;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener.into())
}

/// Copy `(from, to)` directory pairs on a blocking thread (bounded). `root`
/// is created first so each `to` can be created inside it.
/// Where a running sandbox's disk is mounted, as the server reaches it: in
/// the mount namespace of its bubblewrap process, which the sandbox cannot
/// change.
pub(super) fn disk_mount(instance: &Instance) -> PathBuf {
    PathBuf::from(format!(
        "/proc/{}/root{}/{}",
        instance.pid(),
        stage::LAUNCH_DIR,
        stage::DISK
    ))
}
