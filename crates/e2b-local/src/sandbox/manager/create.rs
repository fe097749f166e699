//! Creating sandboxes: resolving the template, registering the sandbox and starting it the first time.

use super::*;

impl Manager {
    /// Create and start a sandbox, to the end even if the caller goes away.
    pub(crate) async fn create(&self, spec: SandboxSpec) -> Result<SandboxRecord, SandboxError> {
        let this = self.clone();
        detached(async move { this.create_now(spec).await }).await
    }

    /// Create and start a sandbox.
    pub(super) async fn create_now(
        &self,
        spec: SandboxSpec,
    ) -> Result<SandboxRecord, SandboxError> {
        let shared = &self.shared;
        shared.check_open()?;
        shared.validate_timeout(spec.timeout_secs)?;
        if spec
            .network
            .as_ref()
            .is_some_and(|n| !n.allow_public_traffic)
            && !spec.secure
        {
            return Err(SandboxError::Invalid(
                "You cannot create a sandbox without public access unless you enable secure envd access via 'secure' flag."
                    .to_owned(),
            ));
        }
        let resolved = shared.resolve_template(&spec.template)?;
        if let Some(record) = shared.take_warm(&spec, &resolved).await {
            return Ok(record);
        }
        let (paths, record) = shared.new_sandbox(spec, resolved).await?;
        shared.start_new(paths, record).await
    }
}

/// A resolved template reference: `(template id, alias, snapshot)`.
pub(super) type Resolved = (String, Option<String>, Option<SnapshotRecord>);

impl Shared {
    /// The files and record of a new sandbox of `spec` (its template
    /// resolved), not registered or started yet.
    pub(super) async fn new_sandbox(
        &self,
        spec: SandboxSpec,
        (template_id, alias, snapshot): Resolved,
    ) -> Result<(SandboxPaths, SandboxRecord), SandboxError> {
        let shared = self;
        let code_interpreter = template_id == CODE_INTERPRETER_TEMPLATE
            || snapshot.as_ref().is_some_and(|s| s.code_interpreter);
        let image = match &snapshot {
            Some(s) => s.layered.clone().or_else(|| s.image_template.clone()),
            None => shared.image_template(&template_id)?.map(|t| t.template_id),
        };
        let id = crate::ids::sandbox_id().map_err(SandboxError::io("generate a sandbox id"))?;
        let paths = SandboxPaths::new(shared.dirs.sandbox(&id));
        let mut env_vars = match &snapshot {
            Some(s) => s.env_vars.clone(),
            None => BTreeMap::new(),
        };
        env_vars.extend(spec.env_vars.clone());
        if let Some(snapshot) = snapshot.as_ref().filter(|s| s.layered.is_none()) {
            let from = shared.dirs.snapshot(&snapshot.template_id).join("fs");
            let sources: Vec<(PathBuf, PathBuf)> = SandboxPaths::new(from)
                .writable()
                .into_iter()
                .map(|(name, from)| (from.to_path_buf(), paths.root.join(name)))
                .collect();
            if let Err(e) = copy_state(&paths.root, sources, shared.config.rootless.clone()).await {
                let _ = shared.remove_dir_of(&paths);
                return Err(e);
            }
        }
        let now = Utc::now();
        let record = SandboxRecord {
            id: id.clone(),
            template_id,
            alias,
            started_at: now,
            end_at: now + seconds(spec.timeout_secs),
            timeout_secs: spec.timeout_secs,
            metadata: spec.metadata,
            env_vars,
            envd_access_token: if spec.secure {
                Some(new_token()?)
            } else {
                None
            },
            traffic_access_token: match &spec.network {
                Some(n) if !n.allow_public_traffic => Some(new_token()?),
                _ => None,
            },
            allow_internet_access: spec.allow_internet_access,
            isolated_network: isolate_network(spec.allow_internet_access, spec.network.as_ref()),
            network: spec.network,
            lifecycle: spec.lifecycle,
            volume_mounts: spec.volume_mounts,
            code_interpreter,
            image_template: image,
            mcp: spec.mcp,
            internal: spec.internal,
            state: State::Running,
            paused_with_memory: false,
        };
        Ok((paths, record))
    }
}

impl Shared {
    /// `(template id, alias, snapshot)` for a template reference.
    pub(super) fn resolve_template(
        &self,
        reference: &str,
    ) -> Result<(String, Option<String>, Option<SnapshotRecord>), SandboxError> {
        let bare = reference.rsplit_once(':').map_or(reference, |(n, _)| n);
        let bare = bare.rsplit_once('/').map_or(bare, |(_, n)| n);
        if bare == BASE_TEMPLATE {
            return Ok((
                BASE_TEMPLATE.to_owned(),
                Some(BASE_TEMPLATE.to_owned()),
                None,
            ));
        }
        if bare == CODE_INTERPRETER_TEMPLATE {
            self.kernel_mounts()?;
            return Ok((
                CODE_INTERPRETER_TEMPLATE.to_owned(),
                Some(CODE_INTERPRETER_TEMPLATE.to_owned()),
                None,
            ));
        }
        let snapshot = lock(&self.snapshots)
            .values()
            .find(|s| s.matches(reference))
            .cloned();
        if let Some(snapshot) = snapshot {
            return Ok((
                snapshot.template_id.clone(),
                snapshot.name.clone(),
                Some(snapshot),
            ));
        }
        let image = crate::templates::find(self.dirs.root(), reference)
            .ok_or_else(|| SandboxError::TemplateNotFound(reference.to_owned()))?;
        self.image_template(&image.template_id)?;
        Ok((image.template_id, Some(image.name), None))
    }

    /// The image template `template_id` (`None` for other templates), once
    /// this server can run it.
    pub(super) fn image_template(
        &self,
        template_id: &str,
    ) -> Result<Option<crate::templates::TemplateRecord>, SandboxError> {
        let Some(record) = crate::templates::load(self.dirs.root(), template_id) else {
            return Ok(None);
        };
        let writable = self.config.host_base.is_some()
            && (self.config.disks.is_some() || self.config.rootless.is_some());
        if !writable {
            return Err(SandboxError::TemplateUnavailable {
                template: record.name,
                reason: "sandboxes of image templates need a root server with writable root filesystems (see `e2b-local doctor`)".to_owned(),
            });
        }
        Ok(Some(record))
    }

    /// The kernel environment's mounts, or why code-interpreter sandboxes cannot run.
    pub(super) fn kernel_mounts(&self) -> Result<KernelMounts, SandboxError> {
        let unavailable = |reason: String| SandboxError::TemplateUnavailable {
            template: CODE_INTERPRETER_TEMPLATE.to_owned(),
            reason,
        };
        let env = self.config.kernel_env.as_ref().ok_or_else(|| {
            unavailable(format!(
                "no kernel environment is configured ({})",
                crate::interpreter::kernel_env::KERNEL_ENV_HINT
            ))
        })?;
        if let Some(problem) = env.problem() {
            return Err(unavailable(format!(
                "{problem} ({})",
                crate::interpreter::kernel_env::KERNEL_ENV_HINT
            )));
        }
        KernelMounts::of(env).ok_or_else(|| {
            unavailable(format!(
                "the kernel environment {} is unusable",
                env.root().display()
            ))
        })
    }

    /// Register a new sandbox (its files in place) and start it.
    pub(super) async fn start_new(
        self: &Arc<Self>,
        paths: SandboxPaths,
        record: SandboxRecord,
    ) -> Result<SandboxRecord, SandboxError> {
        let sandbox = self.register_and_boot(paths, record, false).await?;
        let record = sandbox.record();
        tracing::info!(sandbox = %record.id, template = %record.template_id, timeout_secs = record.timeout_secs, "sandbox started");
        Ok(record)
    }

    /// Register a new sandbox (its files in place) and start it: listed
    /// and armed once started, or, for a warm pool's member (`pooled`),
    /// hidden from everyone until it is handed out.
    pub(super) async fn register_and_boot(
        self: &Arc<Self>,
        paths: SandboxPaths,
        record: SandboxRecord,
        pooled: bool,
    ) -> Result<Arc<Sandbox>, SandboxError> {
        let id = record.id.clone();
        let prepared = (|| {
            layout::prepare(&paths, self.ownership(), self.config.disks.as_deref())
                .map_err(SandboxError::io("prepare the sandbox's directories"))?;
            store::write_json_atomic(&paths.record(), &record)?;
            Ok::<_, SandboxError>(())
        })();
        if let Err(e) = prepared {
            let _ = self.dirs.remove_dir(&paths.root);
            return Err(e);
        }
        let (deadline, rx) = lifecycle::deadline_channel();
        let sandbox = Arc::new(Sandbox {
            id: id.clone(),
            paths,
            ops: tokio::sync::Mutex::new(()),
            state: Mutex::new(Live::new(
                record,
                if pooled {
                    Presence::Pooled
                } else {
                    Presence::Starting
                },
            )),
            deadline,
        });
        let ops = sandbox.ops.lock().await;
        lock(&self.sandboxes).insert(id.clone(), Arc::clone(&sandbox));
        self.spawn_timer(&sandbox, rx);
        if let Err(e) = self.boot(&sandbox).await {
            drop(ops);
            self.forget(&sandbox).await;
            return Err(e);
        }
        if !pooled {
            sandbox.live().presence = Presence::Ready;
            sandbox.arm();
        }
        drop(ops);
        Ok(sandbox)
    }

    pub(super) fn spawn_timer(
        self: &Arc<Self>,
        sandbox: &Arc<Sandbox>,
        rx: tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
    ) {
        let weak: Weak<Shared> = Arc::downgrade(self);
        let id = sandbox.id.clone();
        tokio::spawn(lifecycle::run_timer(rx, move || {
            let weak = weak.clone();
            let id = id.clone();
            async move {
                let Some(shared) = weak.upgrade() else {
                    return false;
                };
                shared.expire(&id).await;
                true
            }
        }));
    }
}

pub(super) fn new_token() -> Result<String, SandboxError> {
    crate::ids::access_token().map_err(SandboxError::io("generate an access token"))
}

/// Whether a sandbox gets its own network namespace (no internet).
///
/// Only all-or-nothing egress can be enforced: `allow_internet_access: false`,
/// or a deny rule covering everything with nothing allowed. Finer rules are
/// recorded but not enforced.
pub(crate) fn isolate_network(
    allow_internet_access: Option<bool>,
    network: Option<&NetworkSettings>,
) -> bool {
    if allow_internet_access == Some(false) {
        return true;
    }
    network.is_some_and(|n| {
        n.allow_out.is_empty()
            && n.deny_out
                .iter()
                .any(|d| matches!(d.as_str(), "0.0.0.0/0" | "ALL_TRAFFIC" | "::/0"))
    })
}
