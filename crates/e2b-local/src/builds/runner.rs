//! Running a build: the base, each step in a sandbox of its own, the
//! finished template.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;

use super::spec::{PlannedStep, StartRequest, Step, shell_quote};
use super::{Failure, Inner, Level};
use crate::sandbox::SandboxSpec;
use crate::sandbox::agent_exec::{self, CommandSpec};
use crate::sandbox::record::{Lifecycle, OnTimeout};
use crate::templates::TemplateRecord;

/// How long a step's sandbox may live (a backstop: the build kills it).
const STEP_SANDBOX_TIMEOUT_SECS: u32 = 3600;
/// The working directory relative `WORKDIR`s start from.
const DEFAULT_WORKDIR: &str = "/";
/// The user steps run as unless one sets another (as in E2B's builds).
const DEFAULT_USER: &str = "user";

/// A started build.
pub(super) struct Job {
    pub(super) template_id: String,
    pub(super) build_id: String,
    pub(super) name: String,
    pub(super) tags: Vec<String>,
    pub(super) cpu_count: Option<u32>,
    pub(super) memory_mb: Option<u32>,
    pub(super) request: StartRequest,
    pub(super) steps: Vec<PlannedStep>,
}

/// Who, where and with what environment the next step runs.
#[derive(Clone, Debug)]
struct Context {
    user: String,
    user_ids: Option<(u32, u32, String)>,
    workdir: Option<String>,
    env: BTreeMap<String, String>,
}

/// What a captured step leaves for the steps after it, kept beside its
/// layer so a cached step restores it.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct StepMeta {
    user_ids: Option<(u32, u32, String)>,
    workdir: Option<String>,
}

/// Run `job`; its log goes to the build's.
pub(super) async fn run(
    inner: &Arc<Inner>,
    job: Job,
    cancel: &CancellationToken,
) -> Result<(), Failure> {
    let build = job.build_id.as_str();
    let work_id = crate::ids::template_id().map_err(|e| failure(None, e))?;
    let work_dir = crate::templates::template_dir(&inner.data_dir, &work_id);
    let result = run_in(inner, &job, &work_id, &work_dir, cancel).await;
    let _ = inner.manager.remove_tree(&work_dir);
    match &result {
        Ok(()) => inner.log(build, Level::Info, Some("finalize"), "Template is ready"),
        Err(f) => tracing::info!(build, reason = %f.message, "template build failed"),
    }
    result
}

async fn run_in(
    inner: &Arc<Inner>,
    job: &Job,
    work_id: &str,
    work_dir: &Path,
    cancel: &CancellationToken,
) -> Result<(), Failure> {
    let build = job.build_id.as_str();
    inner.log(
        build,
        Level::Info,
        Some("base"),
        format!("Building template {} ({})", job.name, job.template_id),
    );
    let (mut record, mut key) = base(inner, job, work_id, work_dir)
        .await
        .map_err(|message| Failure {
            message,
            step: Some("base".to_owned()),
        })?;
    let mut ctx = Context {
        user: DEFAULT_USER.to_owned(),
        user_ids: None,
        workdir: record.workdir.clone(),
        env: record.env.clone(),
    };
    let mut forced = job.request.force;
    let total = job.steps.len();
    for (i, step) in job.steps.iter().enumerate() {
        let n = (i + 1).to_string();
        if cancel.is_cancelled() {
            return Err(cancelled(&n));
        }
        forced |= step.force;
        key = step_key(&key, step);
        inner.log(
            build,
            Level::Info,
            Some(&n),
            format!("[{n}/{total}] {} {}", step.kind, step.args.join(" ")),
        );
        if let Step::Env(pairs) = &step.step {
            for (k, v) in pairs {
                let value = expand(v, &ctx.env);
                ctx.env.insert(k.clone(), value);
            }
            continue;
        }
        let layer = match (!forced)
            .then(|| cached_layer(&inner.data_dir, &key))
            .flatten()
        {
            Some(layer) => {
                inner.log(build, Level::Info, Some(&n), "CACHED");
                layer
            }
            None => {
                apply(&mut record, &ctx);
                crate::templates::write_record(work_dir, &record)
                    .map_err(|e| failure(Some(&n), e))?;
                run_step(inner, job, work_id, step, &ctx, &n, &key, cancel).await?
            }
        };
        let meta = read_meta(&inner.data_dir, &layer);
        match &step.step {
            Step::User { name, .. } => {
                ctx.user = name.clone();
                ctx.user_ids = meta.user_ids;
            }
            Step::Workdir(_) => ctx.workdir = meta.workdir,
            _ => {}
        }
        record.build_layers.push(layer);
    }
    apply(&mut record, &ctx);
    record.start_cmd = job.request.start_cmd.clone().filter(|c| !c.is_empty());
    record.ready_cmd = job.request.ready_cmd.clone().filter(|c| !c.is_empty());
    if record.start_cmd.is_some() || record.ready_cmd.is_some() {
        inner.log(
            build,
            Level::Info,
            Some("finalize"),
            "Running the start command and waiting for the ready command",
        );
        crate::templates::write_record(work_dir, &record)
            .map_err(|e| failure(Some("finalize"), e))?;
        let sandbox = start_sandbox(inner, work_id, cancel)
            .await
            .map_err(|message| Failure {
                message,
                step: Some("finalize".to_owned()),
            })?;
        let _ = inner.manager.kill(&sandbox).await;
    }
    register(inner, job, work_dir, record)
        .await
        .map_err(|e| failure(Some("finalize"), e))
}

/// The build's base: its working record (written in `work_dir`) and the
/// cache key its first step builds on.
async fn base(
    inner: &Arc<Inner>,
    job: &Job,
    work_id: &str,
    work_dir: &Path,
) -> Result<(TemplateRecord, String), String> {
    let request = &job.request;
    let host_key = inner.manager.host_base_key().ok_or(
        "template builds need a root server with writable root filesystems (see `e2b-local doctor`)",
    )?;
    let mut record = if let Some(reference) = &request.from_template {
        let bare = reference
            .rsplit_once(':')
            .map_or(reference.as_str(), |(n, _)| n);
        let bare = bare.rsplit_once('/').map_or(bare, |(_, n)| n);
        if bare == crate::sandbox::manager::BASE_TEMPLATE {
            crate::templates::host_base_record(work_id, &host_key)
        } else {
            let parent = crate::templates::find(&inner.data_dir, reference)
                .filter(|t| !t.hidden)
                .ok_or_else(|| format!("template {reference:?} not found"))?;
            std::fs::create_dir_all(work_dir).map_err(|e| e.to_string())?;
            let top =
                crate::templates::template_dir(&inner.data_dir, &parent.template_id).join("layer");
            if top.is_dir() {
                let to = work_dir.join("layer");
                match inner.manager.copy_tree_as_sandboxes(&top, &to) {
                    Some(copied) => copied.map_err(|e| e.to_string())?,
                    None => copy_tree(&top, &to).await?,
                }
            }
            TemplateRecord {
                start_cmd: None,
                ready_cmd: None,
                ..parent
            }
        }
    } else {
        match request.from_image.as_deref() {
            Some(image) if !is_e2b_base_image(image) => {
                let auth = match &request.from_image_registry {
                    Some(r) => crate::image::RegistryAuth::Basic {
                        username: r.username.clone().unwrap_or_default(),
                        password: r.password.clone().unwrap_or_default(),
                    },
                    None => crate::image::RegistryAuth::Anonymous,
                };
                inner.log(
                    &job.build_id,
                    Level::Info,
                    Some("base"),
                    format!("Pulling {image}"),
                );
                crate::templates::image_root(
                    &inner.data_dir,
                    work_dir,
                    work_id,
                    image,
                    &auth,
                    &inner.registry_options,
                )
                .await
                .map_err(|e| e.to_string())?
            }
            _ => crate::templates::host_base_record(work_id, &host_key),
        }
    };
    std::fs::create_dir_all(work_dir).map_err(|e| e.to_string())?;
    let key = hex_sha256(&[
        "base",
        &record.image,
        &record.digest,
        if record.host_base { &host_key } else { "" },
        &record.build_layers.join(","),
    ]);
    record.template_id = work_id.to_owned();
    record.name = work_id.to_owned();
    record.hidden = true;
    Ok((record, key))
}

/// Whether an image reference names E2B's base image, which is the
/// server's own system here.
fn is_e2b_base_image(image: &str) -> bool {
    let name = image.split(['@', ':']).next().unwrap_or(image);
    let name = name
        .strip_prefix("docker.io/")
        .or_else(|| name.strip_prefix("index.docker.io/"))
        .unwrap_or(name);
    name == "e2bdev/base" || name == "e2bdev/code-interpreter"
}

/// The record's defaults as the steps so far left them.
fn apply(record: &mut TemplateRecord, ctx: &Context) {
    record.env = ctx.env.clone();
    record.user = ctx.user.clone();
    record.user_ids = if matches!(ctx.user.as_str(), "root" | "user") {
        None
    } else {
        ctx.user_ids.clone()
    };
    record.workdir = ctx.workdir.clone();
}

/// Run one step in a sandbox of the working record and capture its layer:
/// the new layer's id.
#[allow(clippy::too_many_arguments)]
async fn run_step(
    inner: &Arc<Inner>,
    job: &Job,
    work_id: &str,
    step: &PlannedStep,
    ctx: &Context,
    n: &str,
    key: &str,
    cancel: &CancellationToken,
) -> Result<String, Failure> {
    let sandbox = start_sandbox(inner, work_id, cancel)
        .await
        .map_err(|message| Failure {
            message,
            step: Some(n.to_owned()),
        })?;
    let ran = tokio::select! {
        ran = execute(inner, job, &sandbox, step, ctx, n) => ran,
        () = cancel.cancelled() => Err(cancelled(n)),
    };
    let captured = match ran {
        Ok(meta) => capture(inner, &sandbox, key, &meta)
            .await
            .map_err(|e| failure(Some(n), e)),
        Err(f) => Err(f),
    };
    let _ = inner.manager.kill(&sandbox).await;
    captured
}

/// Start a sandbox of the working record `work_id`.
async fn start_sandbox(
    inner: &Arc<Inner>,
    work_id: &str,
    cancel: &CancellationToken,
) -> Result<String, String> {
    let spec = SandboxSpec {
        template: work_id.to_owned(),
        timeout_secs: STEP_SANDBOX_TIMEOUT_SECS,
        metadata: BTreeMap::new(),
        env_vars: BTreeMap::new(),
        secure: false,
        allow_internet_access: None,
        network: None,
        lifecycle: Lifecycle {
            on_timeout: OnTimeout::Kill,
            auto_resume: false,
            pause_keeps_memory: false,
        },
        volume_mounts: Vec::new(),
        mcp: None,
        internal: true,
    };
    tokio::select! {
        created = inner.manager.create(spec) => created.map(|r| r.id).map_err(|e| e.to_string()),
        () = cancel.cancelled() => Err("the build was cancelled".to_owned()),
    }
}

/// Do what `step` says in `sandbox`.
async fn execute(
    inner: &Arc<Inner>,
    job: &Job,
    sandbox: &str,
    step: &PlannedStep,
    ctx: &Context,
    n: &str,
) -> Result<StepMeta, Failure> {
    let socket = inner
        .manager
        .agent_socket(sandbox)
        .map_err(|e| failure(Some(n), e))?;
    let mut meta = StepMeta::default();
    match &step.step {
        Step::Run { cmd, user } => {
            let user = user.as_deref().unwrap_or(&ctx.user);
            run_logged(inner, job, &socket, n, cmd, user, ctx).await?;
        }
        Step::Copy {
            src,
            dest,
            owner,
            mode,
            hash,
        } => {
            let archive = inner.files.get(hash).ok_or_else(|| Failure {
                message: format!("the files with hash {hash} are gone"),
                step: Some(n.to_owned()),
            })?;
            let check = {
                let (src, dest, archive) = (src.clone(), dest.clone(), archive.clone());
                tokio::task::spawn_blocking(move || {
                    super::files::archive_hash(&src, &dest, &archive)
                })
                .await
                .map_err(|e| failure(Some(n), e))?
                .map_err(|e| {
                    failure(
                        Some(n),
                        format!("the uploaded files are not a readable tar archive: {e}"),
                    )
                })?
            };
            match check {
                super::files::ArchiveHash::Hash { hash: ref got, .. } if got == hash => {}
                super::files::ArchiveHash::Hash { has_dirs: true, .. } => inner.log(
                    &job.build_id,
                    Level::Warn,
                    Some(n),
                    "the uploaded files' hash cannot be checked: this SDK hashes directory sizes the archive does not record",
                ),
                super::files::ArchiveHash::Hash { has_dirs: false, .. } => {
                    return Err(Failure {
                        message: format!(
                            "the files uploaded for COPY {src} {dest} do not match their hash {hash}"
                        ),
                        step: Some(n.to_owned()),
                    });
                }
                super::files::ArchiveHash::Unchecked => {}
            }
            let staged = format!("/tmp/.e2b-build-{hash}.tar");
            agent_exec::upload(&socket, &archive, &staged)
                .await
                .map_err(|e| failure(Some(n), e))?;
            let owner = owner.clone().unwrap_or_else(|| ctx.user.clone());
            let owner = if owner.contains(':') {
                owner
            } else {
                format!("{owner}:{owner}")
            };
            let script = copy_script(&staged, src, dest, &owner, mode.as_deref(), ctx);
            run_logged(inner, job, &socket, n, &script, "root", ctx).await?;
        }
        Step::Workdir(path) => {
            let base = ctx.workdir.as_deref().unwrap_or(DEFAULT_WORKDIR);
            let target = if path.starts_with('/') {
                path.clone()
            } else {
                format!("{}/{path}", base.trim_end_matches('/'))
            };
            let script = format!(
                "target={target}\n[ -d \"$target\" ] && exit 0\nfirst=\"\"; check=\"$target\"\n\
                 while [ ! -d \"$check\" ]; do first=\"$check\"; check=$(dirname \"$check\"); done\n\
                 mkdir -p \"$target\" && chown -R {owner}:{owner} \"$first\"",
                target = shell_quote(&target),
                owner = shell_quote(&ctx.user),
            );
            run_logged(inner, job, &socket, n, &script, "root", ctx).await?;
            let resolved = capture_output(
                &socket,
                &format!("cd {} && pwd -P", shell_quote(&target)),
                ctx,
            )
            .await
            .map_err(|e| failure(Some(n), e))?;
            meta.workdir = Some(resolved.trim().to_owned()).filter(|w| !w.is_empty());
        }
        Step::User { name, sudo } => {
            let quoted = shell_quote(name);
            let mut script = format!(
                "id -u {quoted} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash {quoted}"
            );
            if *sudo {
                script.push_str(&format!(" && usermod -aG sudo {quoted}"));
            }
            run_logged(inner, job, &socket, n, &script, "root", ctx).await?;
            let ids = capture_output(
                &socket,
                &format!(
                    "printf '%s %s %s' \"$(id -u {quoted})\" \"$(id -g {quoted})\" \"$(getent passwd {quoted} | cut -d: -f6)\""
                ),
                ctx,
            )
            .await
            .map_err(|e| failure(Some(n), e))?;
            let mut parts = ids.split_whitespace();
            let parsed = (|| {
                let uid = parts.next()?.parse().ok()?;
                let gid = parts.next()?.parse().ok()?;
                let home = parts.next().unwrap_or("/").to_owned();
                Some((uid, gid, home))
            })();
            meta.user_ids = Some(parsed.ok_or_else(|| Failure {
                message: format!("cannot find the user {name} after creating it"),
                step: Some(n.to_owned()),
            })?);
        }
        Step::Env(_) => {}
    }
    Ok(meta)
}

/// Run `cmd` as `user`, its output in the build's log; a non-zero exit
/// fails the step.
async fn run_logged(
    inner: &Arc<Inner>,
    job: &Job,
    socket: &Path,
    n: &str,
    cmd: &str,
    user: &str,
    ctx: &Context,
) -> Result<(), Failure> {
    let mut lines = LineSplitter::default();
    let spec = CommandSpec {
        cmd,
        user,
        envs: &ctx.env,
        cwd: ctx.workdir.as_deref(),
    };
    let code = agent_exec::run(socket, &spec, |stream, bytes| {
        let level = match stream {
            agent_exec::Stream::Stdout => Level::Info,
            agent_exec::Stream::Stderr => Level::Info,
        };
        for line in lines.push(bytes) {
            inner.log(&job.build_id, level, Some(n), line);
        }
    })
    .await
    .map_err(|e| failure(Some(n), e))?;
    for line in lines.finish() {
        inner.log(&job.build_id, Level::Info, Some(n), line);
    }
    if code != 0 {
        return Err(Failure {
            message: format!("failed to run command '{cmd}': exit status {code}"),
            step: Some(n.to_owned()),
        });
    }
    Ok(())
}

/// The standard output of `cmd` run as root.
async fn capture_output(socket: &Path, cmd: &str, ctx: &Context) -> Result<String, String> {
    let mut out = Vec::new();
    let spec = CommandSpec {
        cmd,
        user: "root",
        envs: &ctx.env,
        cwd: None,
    };
    let code = agent_exec::run(socket, &spec, |stream, bytes| {
        if stream == agent_exec::Stream::Stdout {
            out.extend_from_slice(bytes);
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    if code != 0 {
        return Err(format!("'{cmd}' failed with exit status {code}"));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The script that puts the files of a `COPY` in place (as Docker's COPY
/// does: a directory's content merges into the target, a file or symlink
/// lands at the target, or inside it when the target ends with `/`).
fn copy_script(
    archive: &str,
    src: &str,
    dest: &str,
    owner: &str,
    mode: Option<&str>,
    ctx: &Context,
) -> String {
    let unpack = format!("{archive}.d");
    let source = format!("{unpack}/{}", glob_base(src));
    let workdir = ctx.workdir.clone().unwrap_or_default();
    format!(
        r#"set -eo pipefail
archive={archive}; unpack={unpack}; source={source}; target={dest}
owner={owner}; mode={mode}; workdir={workdir}; user={user}
cleanup() {{ rm -rf "$archive" "$unpack"; }}
trap cleanup EXIT
mkdir -p "$unpack" && tar -xf "$archive" -C "$unpack"
if [ -z "$workdir" ]; then workdir=$(getent passwd "$user" | cut -d: -f6); fi
case "$target" in /*) ;; *) target="${{workdir:-/}}/$target" ;; esac
cd "$(dirname "$source")"
entry=$(basename "$source")
if [ ! -e "$entry" ] && [ ! -L "$entry" ]; then echo "source path does not exist: {src}" >&2; exit 1; fi
place() {{
  case "$target" in */) mkdir -p "$target" ;; *) mkdir -p "$(dirname "$target")" ;; esac
  mv "$entry" "$target"
}}
if [ -L "$entry" ]; then
  chown -h "$owner" "$entry"; place
elif [ -f "$entry" ]; then
  chown "$owner" "$entry"; [ -z "$mode" ] || chmod "$mode" "$entry"; place
else
  chown -R "$owner" "$entry"; [ -z "$mode" ] || chmod -R "$mode" "$entry"
  mkdir -p "$target"
  (cd "$entry" && tar -cf - .) | tar -xf - -C "$target" --keep-directory-symlink --no-overwrite-dir
fi
"#,
        archive = shell_quote(archive),
        unpack = shell_quote(&unpack),
        source = shell_quote(&source),
        dest = shell_quote(dest),
        owner = shell_quote(owner),
        mode = shell_quote(mode.unwrap_or("")),
        workdir = shell_quote(&workdir),
        user = shell_quote(&ctx.user),
        src = src.replace(['"', '`', '$', '\\'], "_"),
    )
}

/// The part of a `COPY` source before its first glob (the SDKs send the
/// matched files; this is where they sit in the archive).
fn glob_base(src: &str) -> String {
    let meta = src.find(['*', '?', '[', '{']).unwrap_or(src.len());
    let before = &src[..meta];
    let base = if meta == src.len() {
        src.trim_end_matches('/')
    } else {
        before.rfind('/').map_or(".", |slash| &before[..slash])
    };
    let base = base.trim_start_matches("./");
    if base.is_empty() {
        ".".to_owned()
    } else {
        base.to_owned()
    }
}

/// Copy the step sandbox's changes into a new layer and index it under
/// `key`; the layer's id.
async fn capture(
    inner: &Arc<Inner>,
    sandbox: &str,
    key: &str,
    meta: &StepMeta,
) -> Result<String, String> {
    let id = crate::ids::template_id().map_err(|e| e.to_string())?;
    let layers = inner.data_dir.join("build-layers");
    let work = inner.data_dir.join("build-work").join(sandbox);
    let staged = layers.join(format!(".tmp-{id}"));
    std::fs::create_dir_all(&layers).map_err(|e| e.to_string())?;
    let captured = inner.manager.capture_layer(sandbox, &work, &staged).await;
    let _ = std::fs::remove_dir_all(&work);
    if let Err(e) = captured {
        let _ = inner.manager.remove_tree(&staged);
        return Err(e.to_string());
    }
    let write = || -> std::io::Result<()> {
        std::fs::write(
            staged.join("meta.json"),
            serde_json::to_vec(meta).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&staged, layers.join(&id))?;
        let index = layers.join("index");
        std::fs::create_dir_all(&index)?;
        let tmp = index.join(format!(".{key}.{id}"));
        std::fs::write(&tmp, &id)?;
        std::fs::rename(&tmp, index.join(key))
    };
    write().map_err(|e| {
        let _ = inner.manager.remove_tree(&staged);
        e.to_string()
    })?;
    Ok(id)
}

/// The layer cached under `key`, if it is still there.
fn cached_layer(data_dir: &Path, key: &str) -> Option<String> {
    let layers = data_dir.join("build-layers");
    let id = std::fs::read_to_string(layers.join("index").join(key)).ok()?;
    let id = id.trim();
    (crate::ids::is_valid_id(id) && layers.join(id).is_dir()).then(|| id.to_owned())
}

fn read_meta(data_dir: &Path, layer: &str) -> StepMeta {
    std::fs::read(data_dir.join("build-layers").join(layer).join("meta.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Record the finished template under its id (replacing an earlier build
/// of it) with the working directory's top layer.
async fn register(
    inner: &Arc<Inner>,
    job: &Job,
    work_dir: &Path,
    mut record: TemplateRecord,
) -> Result<(), String> {
    let _registering = inner.register.lock().await;
    record.template_id = job.template_id.clone();
    record.name = job.name.clone();
    record.hidden = false;
    record.tags = job.tags.clone();
    record.build_id = Some(job.build_id.clone());
    record.cpu_count = job.cpu_count;
    record.memory_mb = job.memory_mb;
    record.created_at = chrono::Utc::now();
    let final_dir = crate::templates::template_dir(&inner.data_dir, &job.template_id);
    let parent = final_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let fresh = parent.join(format!(".new-{}", job.build_id));
    let old = parent.join(format!(".old-{}", job.build_id));
    std::fs::rename(work_dir, &fresh).map_err(|e| e.to_string())?;
    crate::templates::write_record(&fresh, &record).map_err(|e| e.to_string())?;
    if final_dir.exists() {
        std::fs::rename(&final_dir, &old).map_err(|e| e.to_string())?;
    }
    std::fs::rename(&fresh, &final_dir).map_err(|e| e.to_string())?;
    let _ = inner.manager.remove_tree(&old);
    // Another template that had this name (made by `template create`) gives
    // way to the build.
    for other in crate::templates::list(&inner.data_dir) {
        if other.name == job.name && other.template_id != job.template_id {
            let _ = crate::templates::remove_with(&inner.data_dir, &other.template_id, |dir| {
                inner.manager.remove_tree(dir)
            });
        }
    }
    // Warm sandboxes of the previous build, or of what had its name, are stale.
    inner.manager.template_changed(&job.template_id);
    inner.manager.template_changed(&job.name);
    Ok(())
}

/// The cache key of a step on top of the key below it (E2B keys layers by
/// the same inputs).
fn step_key(below: &str, step: &PlannedStep) -> String {
    hex_sha256(&[
        below,
        &step.kind,
        &step.args.join(" "),
        step.files_hash.as_deref().unwrap_or(""),
    ])
}

fn hex_sha256(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    crate::ids::hex(&hash.finalize())
}

/// `$NAME` and `${NAME}` in an `ENV` value, from the environment so far
/// (unset names expand to nothing).
fn expand(value: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], &braced[end + 1..]),
                None => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
        } else {
            out.push_str(env.get(name).map_or("", String::as_str));
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Copy a directory tree with `cp -a`.
async fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let out = tokio::process::Command::new("cp")
        .arg("-a")
        .arg("--no-target-directory")
        .arg(from)
        .arg(to)
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// Splits output into lines (the last, unterminated one kept for later).
#[derive(Default)]
struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            lines.push(clean(&line[..line.len() - 1]));
        }
        lines
    }

    fn finish(&mut self) -> Vec<String> {
        if self.partial.is_empty() {
            Vec::new()
        } else {
            vec![clean(&std::mem::take(&mut self.partial))]
        }
    }
}

/// A log line without its carriage return and ANSI escapes.
fn clean(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

fn failure(step: Option<&str>, error: impl std::fmt::Display) -> Failure {
    Failure {
        message: error.to_string(),
        step: step.map(str::to_owned),
    }
}

fn cancelled(step: &str) -> Failure {
    failure(Some(step), "the build was cancelled")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_bases_are_where_the_matched_files_sit() {
        assert_eq!(glob_base("app"), "app");
        assert_eq!(glob_base("app/"), "app");
        assert_eq!(glob_base("./app/main.py"), "app/main.py");
        assert_eq!(glob_base("src/*.py"), "src");
        assert_eq!(glob_base("*.txt"), ".");
        assert_eq!(glob_base("a/b/**/c"), "a/b");
    }

    #[test]
    fn env_values_expand_earlier_variables() {
        let env = BTreeMap::from([("HOME".to_owned(), "/home/user".to_owned())]);
        assert_eq!(
            expand("$HOME/bin:${HOME}/x", &env),
            "/home/user/bin:/home/user/x"
        );
        assert_eq!(expand("a$UNSET-b", &env), "a-b");
        assert_eq!(expand("cost: 5$", &env), "cost: 5$");
    }

    #[test]
    fn output_lines_lose_escapes_and_carriage_returns() {
        let mut lines = LineSplitter::default();
        assert_eq!(lines.push(b"\x1b[32mok\x1b[0m\r\npart"), vec!["ok"]);
        assert_eq!(lines.push(b"ial\n"), vec!["partial"]);
        assert!(lines.finish().is_empty());
    }

    #[test]
    fn e2b_base_image_names() {
        assert!(is_e2b_base_image("e2bdev/base"));
        assert!(is_e2b_base_image("docker.io/e2bdev/base:latest"));
        assert!(!is_e2b_base_image("debian:12"));
    }
}
