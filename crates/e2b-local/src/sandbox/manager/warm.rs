//! Warm pools: sandboxes of a template started ahead of time (for the code
//! interpreter, with their kernels started and idle), handed out by create.
//!
//! A member is registered like any sandbox but with [`Presence::Pooled`]:
//! no id finds it, no listing shows it, no traffic reaches it, it has no
//! deadline. Its id was drawn when it was made and shown to no client (only
//! the server's log and data directory name it), so it is as fresh as a
//! cold sandbox's when create hands it out; the id is the sandbox's from
//! its start, so `E2B_SANDBOX_ID` inside never changes. Create takes a
//! member only when the request asks for nothing the member cannot take
//! after it started ([`cold_only`], and no variables for a template whose
//! start or ready command ran without them); it then applies the request's
//! metadata, environment variables, timeout, lifecycle and a new envd
//! access token under the member's operation lock, before any client
//! learns the id. Each member is popped from its pool once, so it is handed out at
//! most once; killed or paused sandboxes never return to a pool.
//!
//! Each pool has one task that starts members one at a time until the pool
//! is full, backs off (doubling, up to [`MAX_BACKOFF`]) after a failure, and
//! waits for a handout, a member's death or a template change otherwise.
//! Members are not kept across server runs: their records say they were
//! running, so the next run removes them like any running sandbox.

use std::collections::VecDeque;

use serde::Serialize;
use tracing::Instrument as _;

use super::create::Resolved;
use super::*;
use crate::sandbox::agent_exec;

/// The first pause after a failed refill.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest pause between failed refills.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long handing a member its environment variables may take.
const HANDOUT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What a warm pool holds and has done, as `e2b-local` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WarmPoolStatus {
    /// The template reference the pool was configured with.
    pub template: String,
    /// The template id the reference named at the last refill.
    pub template_id: Option<String>,
    /// How many members the pool keeps ready.
    pub size: usize,
    /// Members started and ready to be handed out.
    pub ready: usize,
    /// Whether a member is being started.
    pub starting: bool,
    /// Members handed out by create since the server started.
    pub handed_out: u64,
    /// Members started since the server started.
    pub started: u64,
    /// Refills that failed since the server started.
    pub failures: u64,
    /// Why the last refill failed, if the last one did.
    pub last_error: Option<String>,
    /// The memory each ready member's processes hold (resident set sizes
    /// summed), in bytes: what an idle warm sandbox costs.
    pub member_rss_bytes: Vec<u64>,
}

/// One template's pool.
#[derive(Debug)]
pub(super) struct WarmPool {
    reference: String,
    size: usize,
    state: Mutex<PoolState>,
    /// Wakes the refill task: a handout, a member's death, a template change.
    wake: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct PoolState {
    /// What the reference named at the last refill.
    template_id: Option<String>,
    ready: VecDeque<Member>,
    starting: bool,
    /// Bumped when the template changes: a member started before is stale.
    generation: u64,
    handed_out: u64,
    started: u64,
    failures: u64,
    last_error: Option<String>,
}

/// A started member and what it was started from.
#[derive(Debug)]
struct Member {
    sandbox: Arc<Sandbox>,
    /// The image template it runs, as recorded when it started.
    image: Option<crate::templates::TemplateRecord>,
    /// The snapshot it was made from, as recorded when it started.
    snapshot: Option<SnapshotRecord>,
}

impl Member {
    /// Whether it can still be handed out (alive, not removed).
    fn alive(&self) -> bool {
        let live = self.sandbox.live();
        live.presence == Presence::Pooled
            && live
                .instance
                .as_ref()
                .is_some_and(|i| !*i.exited().borrow())
    }
}

/// The pools of `targets` (those of size 0 are left out).
pub(super) fn pools(targets: &[(String, usize)]) -> Vec<Arc<WarmPool>> {
    targets
        .iter()
        .filter(|(_, size)| *size > 0)
        .map(|(reference, size)| {
            Arc::new(WarmPool {
                reference: reference.clone(),
                size: *size,
                state: Mutex::new(PoolState::default()),
                wake: tokio::sync::Notify::new(),
            })
        })
        .collect()
}

impl WarmPool {
    fn state(&self) -> MutexGuard<'_, PoolState> {
        lock(&self.state)
    }

    /// Whether the pool's members are sandboxes of `template_id`.
    fn serves(&self, template_id: &str) -> bool {
        self.state().template_id.as_deref() == Some(template_id)
    }

    /// Drop members that died; how many are left.
    fn prune(&self) -> usize {
        let mut state = self.state();
        state.ready.retain(Member::alive);
        state.ready.len()
    }

    /// The oldest member, taken out of the pool for good (the caller
    /// wakes the refill once done with it, so that the next member's start
    /// does not compete with the handout).
    fn pop(&self) -> Option<Member> {
        self.state().ready.pop_front()
    }

    /// Every member, taken out; the pool starts again from what its
    /// reference names next.
    fn drain(&self) -> Vec<Member> {
        let mut state = self.state();
        state.generation += 1;
        state.template_id = None;
        let drained = state.ready.drain(..).collect();
        drop(state);
        self.wake.notify_one();
        drained
    }

    fn status(&self) -> WarmPoolStatus {
        self.prune();
        let state = self.state();
        WarmPoolStatus {
            template: self.reference.clone(),
            template_id: state.template_id.clone(),
            size: self.size,
            ready: state.ready.len(),
            starting: state.starting,
            handed_out: state.handed_out,
            started: state.started,
            failures: state.failures,
            last_error: state.last_error.clone(),
            member_rss_bytes: Vec::new(),
        }
    }

    /// The instances of the ready members.
    fn instances(&self) -> Vec<Arc<Instance>> {
        self.state()
            .ready
            .iter()
            .filter_map(|m| m.sandbox.live().instance.clone())
            .collect()
    }
}

/// Why a request must start a sandbox of its own instead of taking a
/// member, if it must. A member booted with the defaults: internet access,
/// no volumes, the template's resources, no network rules. What create may
/// still change afterwards (metadata, environment variables, timeout,
/// lifecycle on timeout, `secure`) is applied at handout.
fn cold_only(spec: &SandboxSpec) -> Option<&'static str> {
    if spec.internal {
        Some("the server's own sandbox")
    } else if !spec.volume_mounts.is_empty() {
        Some("volume mounts")
    } else if spec.allow_internet_access == Some(false) {
        Some("no internet access")
    } else if spec.network.is_some() {
        Some("network settings")
    } else if spec.mcp.is_some() {
        Some("an MCP configuration")
    } else {
        None
    }
}

/// Whether a member started from `then` runs what the template is `now`
/// (its tags may have changed meanwhile; nothing else).
fn same_build(
    then: Option<&crate::templates::TemplateRecord>,
    now: Option<&crate::templates::TemplateRecord>,
) -> bool {
    match (then, now) {
        (None, None) => true,
        (Some(then), Some(now)) => {
            let mut now = now.clone();
            now.tags.clone_from(&then.tags);
            *then == now
        }
        _ => false,
    }
}

impl Manager {
    /// The state of every warm pool.
    pub(crate) fn warm_pools(&self) -> Vec<WarmPoolStatus> {
        let page = self.shared.host.page_size;
        self.shared
            .warm
            .iter()
            .map(|pool| {
                let mut status = pool.status();
                status.member_rss_bytes = pool
                    .instances()
                    .iter()
                    .map(|i| i.processes().iter().map(|p| p.rss_pages).sum::<u64>() * page)
                    .collect();
                status
            })
            .collect()
    }

    /// A template was deleted, rebuilt or renamed: the pools holding its
    /// sandboxes drop them and start again from what their reference names now.
    pub(crate) fn template_changed(&self, template_id: &str) {
        for pool in &self.shared.warm {
            if pool.serves(template_id) || pool.reference == template_id {
                let drained = pool.drain();
                if !drained.is_empty() {
                    tracing::info!(template = %pool.reference, members = drained.len(), "template changed: warm pool drained");
                }
                for member in drained {
                    self.shared.discard(member);
                }
            }
        }
    }
}

impl Shared {
    /// Start one refill task per pool.
    pub(super) fn start_warm_pools(self: &Arc<Self>) {
        for pool in &self.warm {
            tracing::info!(template = %pool.reference, size = pool.size, "warm pool configured");
            tokio::spawn(refill(
                Arc::downgrade(self),
                Arc::clone(pool),
                self.warm_stop.clone(),
            ));
        }
    }

    /// Kill a member that will not be handed out, in the background.
    fn discard(self: &Arc<Self>, member: Member) {
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = shared.kill(&member.sandbox).await {
                tracing::debug!(sandbox = %member.sandbox.id, error = %e, "discarded warm sandbox was already gone");
            }
        });
    }

    /// Hand out a member for `spec`, if a pool holds one that can serve it.
    pub(super) async fn take_warm(
        self: &Arc<Self>,
        spec: &SandboxSpec,
        resolved: &Resolved,
    ) -> Option<SandboxRecord> {
        let (template_id, _, snapshot) = resolved;
        let pool = self.warm.iter().find(|p| p.serves(template_id))?;
        if let Some(why) = cold_only(spec) {
            tracing::debug!(template = %template_id, reason = why, "cold start: a warm sandbox cannot take this request");
            return None;
        }
        // The current template, which a member must still run.
        let image = self.image_template(template_id).ok().flatten();
        if image
            .as_ref()
            .is_some_and(|t| t.start_cmd.is_some() || t.ready_cmd.is_some())
            && !spec.env_vars.is_empty()
        {
            // Its start and ready commands ran before the variables existed.
            tracing::debug!(template = %template_id, "cold start: the template's start command would not see the variables");
            return None;
        }
        let handed = self
            .take_from(pool, spec, image.as_ref(), snapshot.as_ref())
            .await;
        pool.wake.notify_one();
        handed
    }

    /// [`Shared::take_warm`] once a pool is chosen: its first member that
    /// is still current and takes `spec`.
    async fn take_from(
        self: &Arc<Self>,
        pool: &WarmPool,
        spec: &SandboxSpec,
        image: Option<&crate::templates::TemplateRecord>,
        snapshot: Option<&SnapshotRecord>,
    ) -> Option<SandboxRecord> {
        loop {
            let Some(member) = pool.pop() else {
                tracing::debug!(template = %spec.template, "cold start: the warm pool is empty");
                return None;
            };
            if !same_build(member.image.as_ref(), image)
                || member.snapshot.as_ref() != snapshot
                || !member.alive()
            {
                self.discard(member);
                continue;
            }
            match self.hand_out(&member, spec).await {
                Ok(record) => {
                    pool.state().handed_out += 1;
                    tracing::info!(sandbox = %record.id, template = %record.template_id, timeout_secs = record.timeout_secs, "sandbox started (from the warm pool)");
                    return Some(record);
                }
                Err(e) => {
                    tracing::warn!(sandbox = %member.sandbox.id, error = %e, "a warm sandbox could not be handed out; trying another");
                    self.discard(member);
                }
            }
        }
    }

    /// Make `member` the sandbox `spec` asks for: its variables, metadata,
    /// timeout, lifecycle and access token; then list it and arm its timer.
    async fn hand_out(
        self: &Arc<Self>,
        member: &Member,
        spec: &SandboxSpec,
    ) -> Result<SandboxRecord, SandboxError> {
        let sandbox = &member.sandbox;
        let _ops = sandbox.ops.lock().await;
        if !member.alive() {
            return Err(SandboxError::NotFound(sandbox.id.clone()));
        }
        let mut record = sandbox.record();
        if !spec.env_vars.is_empty() {
            record.env_vars.extend(spec.env_vars.clone());
            // The agent's whole environment, as a start would compute it.
            let mut config = layout::agent_config(
                &record.id,
                &record.template_id,
                &record.env_vars,
                &self.config.envd_version,
            );
            if let Some(template) = &member.image {
                boot::apply_image_config(&mut config, template);
            }
            tokio::time::timeout(
                HANDOUT_CALL_TIMEOUT,
                agent_exec::set_env(&sandbox.paths.socket(), &config.env_vars),
            )
            .await
            .map_err(|_| {
                SandboxError::Invalid("the agent did not take the variables in time".into())
            })?
            .map_err(|e| SandboxError::Invalid(format!("the agent refused the variables: {e}")))?;
        }
        let now = Utc::now();
        record.started_at = now;
        record.end_at = now + seconds(spec.timeout_secs);
        record.timeout_secs = spec.timeout_secs;
        record.metadata = spec.metadata.clone();
        record.envd_access_token = if spec.secure {
            Some(new_token()?)
        } else {
            None
        };
        record.traffic_access_token = None;
        record.allow_internet_access = spec.allow_internet_access;
        record.lifecycle = spec.lifecycle;
        store::write_json_atomic(&sandbox.paths.record(), &record)?;
        {
            let mut live = sandbox.live();
            live.record = record.clone();
            live.cpu = CpuSample::start();
            live.presence = Presence::Ready;
        }
        sandbox.arm();
        Ok(record)
    }

    /// Start one member of `pool` and wait until it is warm.
    async fn fill_one(self: &Arc<Self>, pool: &Arc<WarmPool>) -> Result<(), SandboxError> {
        self.check_open()?;
        let resolved = self.resolve_template(&pool.reference)?;
        let template_id = resolved.0.clone();
        let generation = {
            let mut state = pool.state();
            if state.template_id.as_deref() != Some(&template_id) {
                // The reference names another template now.
                state.generation += 1;
                state.template_id = Some(template_id.clone());
                let stale: Vec<Member> = state.ready.drain(..).collect();
                drop(state);
                for member in stale {
                    self.discard(member);
                }
                pool.state().generation
            } else {
                state.generation
            }
        };
        let image = self.image_template(&template_id)?;
        let snapshot = resolved.2.clone();
        // Secure, with a token of its own that its handout replaces: nothing
        // a member had opens the sandbox a caller gets.
        let spec = SandboxSpec {
            template: pool.reference.clone(),
            timeout_secs: 0,
            metadata: BTreeMap::new(),
            env_vars: BTreeMap::new(),
            secure: true,
            allow_internet_access: None,
            network: None,
            lifecycle: Lifecycle {
                on_timeout: crate::sandbox::record::OnTimeout::Kill,
                auto_resume: false,
                pause_keeps_memory: true,
            },
            volume_mounts: Vec::new(),
            mcp: None,
            internal: false,
        };
        let (paths, record) = self.new_sandbox(spec, resolved).await?;
        let sandbox = self.register_and_boot(paths, record, true).await?;
        let member = Member {
            sandbox,
            image,
            snapshot,
        };
        let settled = tokio::time::timeout(
            KERNEL_READY_ALLOWANCE,
            agent_exec::kernels_settled(&member.sandbox.paths.socket()),
        )
        .await;
        let problem = match settled {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("its kernels did not start: {e}")),
            Err(_) => Some(format!(
                "its kernels did not start within {KERNEL_READY_ALLOWANCE:?}"
            )),
        };
        if let Some(problem) = problem {
            self.discard(member);
            return Err(SandboxError::Invalid(problem));
        }
        // The template may have been deleted or rebuilt while it started.
        let current = self
            .resolve_template(&pool.reference)
            .ok()
            .filter(|(id, _, snapshot)| *id == template_id && *snapshot == member.snapshot)
            .and_then(|(id, _, _)| self.image_template(&id).ok());
        if !current.is_some_and(|image| same_build(member.image.as_ref(), image.as_ref())) {
            self.discard(member);
            return Err(SandboxError::Invalid(format!(
                "the template '{}' changed while a warm sandbox of it started",
                pool.reference
            )));
        }
        let instance = member.sandbox.live().instance.clone();
        let mut state = pool.state();
        if state.generation != generation || self.closed.load(Ordering::SeqCst) {
            drop(state);
            self.discard(member);
            return Ok(());
        }
        tracing::info!(sandbox = %member.sandbox.id, template = %template_id, ready = state.ready.len() + 1, size = pool.size, "warm sandbox ready");
        state.ready.push_back(member);
        state.started += 1;
        drop(state);
        // Its death (an OOM kill, say) wakes the refill.
        if let Some(instance) = instance {
            let weak = Arc::downgrade(pool);
            let mut exited = instance.exited();
            tokio::spawn(async move {
                if exited.wait_for(|done| *done).await.is_ok()
                    && let Some(pool) = weak.upgrade()
                {
                    pool.wake.notify_one();
                }
            });
        }
        Ok(())
    }
}

/// Keep `pool` full until the server stops.
async fn refill(weak: Weak<Shared>, pool: Arc<WarmPool>, stop: CancellationToken) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        if shared.closed.load(Ordering::SeqCst) || stop.is_cancelled() {
            return;
        }
        if pool.prune() >= pool.size {
            drop(shared);
            tokio::select! {
                () = pool.wake.notified() => continue,
                () = stop.cancelled() => return,
            }
        }
        pool.state().starting = true;
        let span = tracing::info_span!("warm_refill", template = %pool.reference);
        let started = StdInstant::now();
        // On a task of its own, like a create: a member being started when
        // the server stops finishes starting (or fails) and is killed, never
        // left half-started.
        let filling = {
            let pool = Arc::clone(&pool);
            detached(async move { shared.fill_one(&pool).await }.instrument(span.clone()))
        };
        let outcome = filling.await;
        pool.state().starting = false;
        match outcome {
            Ok(()) => {
                span.in_scope(|| tracing::debug!(elapsed = ?started.elapsed(), "warm refill done"));
                pool.state().last_error = None;
                backoff = FIRST_BACKOFF;
            }
            Err(e) => {
                {
                    let mut state = pool.state();
                    state.failures += 1;
                    state.last_error = Some(e.to_string());
                }
                span.in_scope(
                    || tracing::warn!(error = %e, retry_in = ?backoff, "warm refill failed"),
                );
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            template: "code-interpreter-v1".into(),
            timeout_secs: 60,
            metadata: BTreeMap::from([("k".into(), "v".into())]),
            env_vars: BTreeMap::from([("X".into(), "1".into())]),
            secure: true,
            allow_internet_access: Some(true),
            network: None,
            lifecycle: Lifecycle {
                on_timeout: crate::sandbox::record::OnTimeout::Pause,
                auto_resume: true,
                pause_keeps_memory: true,
            },
            volume_mounts: Vec::new(),
            mcp: None,
            internal: false,
        }
    }

    #[test]
    fn what_a_member_can_take_after_it_started() {
        assert_eq!(cold_only(&spec()), None);
        let mut s = spec();
        s.allow_internet_access = Some(false);
        assert!(cold_only(&s).is_some());
        let mut s = spec();
        s.network = Some(NetworkSettings::default());
        assert!(cold_only(&s).is_some());
        let mut s = spec();
        s.volume_mounts.push(VolumeMount {
            name: "v".into(),
            path: "/mnt/v".into(),
            volume_id: Some("id".into()),
        });
        assert!(cold_only(&s).is_some());
        let mut s = spec();
        s.mcp = Some(serde_json::json!({}));
        assert!(cold_only(&s).is_some());
        let mut s = spec();
        s.internal = true;
        assert!(cold_only(&s).is_some());
    }

    #[test]
    fn pools_of_size_zero_are_left_out() {
        let pools = pools(&[("a".into(), 0), ("b".into(), 2)]);
        assert_eq!(pools.len(), 1);
        let status = pools[0].status();
        assert_eq!(status.template, "b");
        assert_eq!((status.size, status.ready, status.handed_out), (2, 0, 0));
        assert_eq!(status.template_id, None);
    }
}
