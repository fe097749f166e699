//! Templates made from OCI images: a root filesystem of the image's layers
//! and the image's configuration, plus the template's start and ready
//! commands.
//!
//! `e2b-local template create NAME --from-image REF` (or
//! [`create_from_image`]) pulls the image into the server's image store,
//! makes the template's own top layer (the accounts `root` and `user`, with
//! `user` in group `sudo`, `/home/user` and `/usr/bin/sudo`) and records the
//! template under `templates/<id>/` in the data directory. A running server
//! sees it at its next create. Sandboxes of such a template run on a root
//! server with writable roots: their `/` is an overlay of the top layer and
//! the image's layers, idmapped into the sandboxes' user namespace, with
//! their changes on their own disk. The image's `Env`, `WorkingDir` and
//! `User` are the sandbox's environment, default working directory and
//! default user.
//!
//! The sandbox's agent is the server's own executable: the image must have
//! a C library it runs with (glibc as new as the host's, and libgcc);
//! musl-based images such as Alpine's are not supported yet.

mod top_layer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::image::{ImageError, ImageStore, LayerId, PullOptions, RegistryAuth};

/// How long a template's ready command may take to succeed by default.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A template made from an image, as recorded in the data directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TemplateRecord {
    /// The template's id (its directory name).
    pub template_id: String,
    /// The template's name (its alias).
    pub name: String,
    /// The image reference it was made from, and the manifest's digest.
    pub image: String,
    /// The image manifest's digest.
    pub digest: String,
    /// The image's layers, lowest first.
    pub layers: Vec<LayerId>,
    /// Environment of every process (the image's `Env`).
    pub env: BTreeMap<String, String>,
    /// Default working directory (the image's `WorkingDir`).
    pub workdir: Option<String>,
    /// Default user: `root`, `user` or another account of the image.
    pub user: String,
    /// The default user's `(uid, gid, home)` when it is another account.
    pub user_ids: Option<(u32, u32, String)>,
    /// Started in the background when a sandbox starts.
    pub start_cmd: Option<String>,
    /// Create returns once this succeeds.
    pub ready_cmd: Option<String>,
    /// How long the ready command may take to succeed.
    pub ready_timeout: Duration,
    /// When the template was made.
    pub created_at: DateTime<Utc>,
    /// The layers a build's steps made, lowest first (see
    /// `build_layer_dir`).
    #[serde(default)]
    pub build_layers: Vec<String>,
    /// The root is the server's own system (the `base` template, E2B's
    /// `e2bdev/base`) instead of an image's layers.
    #[serde(default)]
    pub host_base: bool,
    /// A build's working record: sandboxes of it run the build's steps; it
    /// is listed nowhere.
    #[serde(default)]
    pub hidden: bool,
    /// vCPUs of the template's sandboxes, when its build set them.
    #[serde(default)]
    pub cpu_count: Option<u32>,
    /// Memory of the template's sandboxes in MiB, when its build set it.
    #[serde(default)]
    pub memory_mb: Option<u32>,
    /// The build that made the template, for built templates.
    #[serde(default)]
    pub build_id: Option<String>,
    /// The template's tags (`name:tag` references).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What [`create_from_image`] makes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ImageTemplate {
    /// The template's name.
    pub name: String,
    /// The image reference.
    pub image: String,
    /// See [`TemplateRecord::start_cmd`].
    pub start_cmd: Option<String>,
    /// See [`TemplateRecord::ready_cmd`].
    pub ready_cmd: Option<String>,
    /// See [`TemplateRecord::ready_timeout`].
    pub ready_timeout: Duration,
}

impl ImageTemplate {
    /// A template `name` of `image`, without start or ready command.
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            image: image.into(),
            start_cmd: None,
            ready_cmd: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }

    /// Set the start command and the ready command.
    #[must_use]
    pub fn with_start_cmd(mut self, start: impl Into<String>, ready: Option<String>) -> Self {
        self.start_cmd = Some(start.into());
        self.ready_cmd = ready;
        self
    }

    /// Set the ready command alone.
    #[must_use]
    pub fn with_ready_cmd(mut self, ready: impl Into<String>) -> Self {
        self.ready_cmd = Some(ready.into());
        self
    }

    /// Set [`ImageTemplate::ready_timeout`].
    #[must_use]
    pub fn with_ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }
}

/// Why a template could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The name is not usable.
    #[error("invalid template name {0:?}: use letters, digits, `-` and `_` (at most 63)")]
    InvalidName(String),
    /// Pulling or reading the image failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Writing the template failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl TemplateError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// The templates directory of a data directory.
fn templates_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("templates")
}

/// Pull `template.image` into the image store of `data_dir` and record a
/// template of it (replacing one of the same name).
pub async fn create_from_image(
    data_dir: &Path,
    template: &ImageTemplate,
    auth: &RegistryAuth,
    options: &PullOptions,
) -> Result<TemplateRecord, TemplateError> {
    if !is_valid_name(&template.name) {
        return Err(TemplateError::InvalidName(template.name.clone()));
    }
    let template_id = crate::ids::template_id().map_err(TemplateError::io("make a template id"))?;
    let dir = templates_dir(data_dir).join(&template_id);
    let staging = templates_dir(data_dir).join(format!(".tmp-{template_id}"));
    let built = async {
        let mut record = image_root(
            data_dir,
            &staging,
            &template_id,
            &template.image,
            auth,
            options,
        )
        .await?;
        record.name = template.name.clone();
        record.start_cmd = template.start_cmd.clone();
        record.ready_cmd = template.ready_cmd.clone();
        record.ready_timeout = template.ready_timeout;
        write_record(&staging, &record)?;
        std::fs::rename(&staging, &dir).map_err(TemplateError::io("register the template"))?;
        Ok::<_, TemplateError>(record)
    }
    .await;
    let record = match built {
        Ok(record) => record,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // An older template of the same name is replaced.
    for old in list(data_dir) {
        if old.name == record.name && old.template_id != record.template_id {
            let _ = std::fs::remove_dir_all(templates_dir(data_dir).join(&old.template_id));
        }
    }
    Ok(record)
}

/// Whether `name` is usable as a template name.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Pull `image` into the image store of `data_dir` and make a template
/// root of it in `dir` (created): the template's top layer, and its record
/// (returned, not written; named by its id, without start or ready command).
pub(crate) async fn image_root(
    data_dir: &Path,
    dir: &Path,
    template_id: &str,
    image: &str,
    auth: &RegistryAuth,
    options: &PullOptions,
) -> Result<TemplateRecord, TemplateError> {
    let store = ImageStore::open(data_dir)?;
    let image = store.pull(image, auth, options).await?;
    let layer_dirs: Vec<PathBuf> = image
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_dir(l))
        .collect();
    let accounts = top_layer::Accounts::of_layers(&layer_dirs);
    let (user, user_ids) = accounts.default_user(image.config.user.as_deref());
    std::fs::create_dir_all(dir).map_err(TemplateError::io("make the template directory"))?;
    top_layer::build(&dir.join("layer"), &accounts)
        .map_err(TemplateError::io("make the template's top layer"))?;
    Ok(TemplateRecord {
        template_id: template_id.to_owned(),
        name: template_id.to_owned(),
        image: image.reference.clone(),
        digest: image.digest.clone(),
        layers: image.layers.clone(),
        env: image.config.env.iter().cloned().collect(),
        workdir: image.config.working_dir.clone().filter(|w| !w.is_empty()),
        user,
        user_ids,
        start_cmd: None,
        ready_cmd: None,
        ready_timeout: DEFAULT_READY_TIMEOUT,
        created_at: Utc::now(),
        build_layers: Vec::new(),
        host_base: false,
        hidden: false,
        cpu_count: None,
        memory_mb: None,
        build_id: None,
        tags: Vec::new(),
    })
}

/// A working record (hidden) of a root on the server's own system, the
/// host base layer of key `host_key`.
pub(crate) fn host_base_record(template_id: &str, host_key: &str) -> TemplateRecord {
    TemplateRecord {
        template_id: template_id.to_owned(),
        name: template_id.to_owned(),
        image: "e2bdev/base".to_owned(),
        digest: format!("host-base:{host_key}"),
        layers: Vec::new(),
        env: BTreeMap::new(),
        workdir: None,
        user: "user".to_owned(),
        user_ids: None,
        start_cmd: None,
        ready_cmd: None,
        ready_timeout: DEFAULT_READY_TIMEOUT,
        created_at: Utc::now(),
        build_layers: Vec::new(),
        host_base: true,
        hidden: true,
        cpu_count: None,
        memory_mb: None,
        build_id: None,
        tags: Vec::new(),
    }
}

/// Remove the build layers no template record (a build's, a snapshot's or
/// a template's) and no cache entry refers to.
pub(crate) fn gc_build_layers(data_dir: &Path) {
    gc_build_layers_with(data_dir, |dir| std::fs::remove_dir_all(dir));
}

/// [`gc_build_layers`], deleting each unused layer with `remove`.
pub(crate) fn gc_build_layers_with(data_dir: &Path, remove: impl Fn(&Path) -> std::io::Result<()>) {
    let layers = data_dir.join("build-layers");
    let mut used: std::collections::HashSet<String> = all(data_dir)
        .into_iter()
        .flat_map(|t| t.build_layers)
        .collect();
    if let Ok(index) = std::fs::read_dir(layers.join("index")) {
        for entry in index.flatten() {
            if let Ok(id) = std::fs::read_to_string(entry.path()) {
                used.insert(id.trim().to_owned());
            }
        }
    }
    let Ok(entries) = std::fs::read_dir(&layers) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_layer = name.len() == 20 && crate::ids::is_valid_id(&name);
        if is_layer && !used.contains(&name) {
            match remove(&entry.path()) {
                Ok(()) => tracing::info!(layer = %name, "removed an unused layer"),
                Err(e) => {
                    tracing::warn!(layer = %name, error = %e, "cannot remove an unused layer")
                }
            }
        }
    }
}

/// Write `record` as the `template.json` of `dir`.
pub(crate) fn write_record(dir: &Path, record: &TemplateRecord) -> Result<(), TemplateError> {
    crate::store::write_json_atomic(&dir.join("template.json"), record).map_err(|e| {
        TemplateError::Io {
            what: "record the template".to_owned(),
            source: std::io::Error::other(e.to_string()),
        }
    })
}

/// The directory of the template `template_id` in `data_dir`.
pub(crate) fn template_dir(data_dir: &Path, template_id: &str) -> PathBuf {
    templates_dir(data_dir).join(template_id)
}

/// The templates recorded in `data_dir` (not the working records of builds).
pub fn list(data_dir: &Path) -> Vec<TemplateRecord> {
    let mut records = all(data_dir);
    records.retain(|t| !t.hidden);
    records
}

/// The template `template_id`, a build's working record included.
pub(crate) fn load(data_dir: &Path, template_id: &str) -> Option<TemplateRecord> {
    if !crate::ids::is_valid_id(template_id) {
        return None;
    }
    crate::store::read_json::<TemplateRecord>(
        &templates_dir(data_dir)
            .join(template_id)
            .join("template.json"),
    )
    .ok()
    .flatten()
}

/// Every template record of `data_dir`.
fn all(data_dir: &Path) -> Vec<TemplateRecord> {
    let Ok(entries) = std::fs::read_dir(templates_dir(data_dir)) else {
        return Vec::new();
    };
    let mut records: Vec<TemplateRecord> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| {
            crate::store::read_json::<TemplateRecord>(&e.path().join("template.json"))
                .ok()
                .flatten()
        })
        .collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    records
}

/// The image layers templates of `data_dir` use (kept by the image store's
/// garbage collection).
pub fn layers_in_use(data_dir: &Path) -> std::collections::HashSet<LayerId> {
    all(data_dir).into_iter().flat_map(|t| t.layers).collect()
}

/// Where the build layer `id` keeps its tree `tree` (`root`, or `usr` and
/// `etc` of templates on the host base).
pub(crate) fn build_layer_dir(data_dir: &Path, id: &str, tree: &str) -> PathBuf {
    data_dir.join("build-layers").join(id).join(tree)
}

/// An empty directory, the lower layer of trees no layer has content for.
pub(crate) fn empty_layer(data_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = data_dir.join("build-layers").join("empty");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The build layers of a template that hold the tree `tree`, topmost first.
pub(crate) fn build_layer_dirs(
    data_dir: &Path,
    record: &TemplateRecord,
    tree: &str,
) -> Vec<PathBuf> {
    record
        .build_layers
        .iter()
        .rev()
        .map(|id| build_layer_dir(data_dir, id, tree))
        .filter(|dir| dir.is_dir())
        .collect()
}

/// Remove the template a reference names, with the snapshots taken of its
/// sandboxes (they cannot run without it).
pub fn remove(data_dir: &Path, reference: &str) -> Result<TemplateRecord, TemplateError> {
    remove_with(data_dir, reference, |dir| std::fs::remove_dir_all(dir))
}

/// [`remove`], deleting the template's directory with `remove_tree` (a
/// server's own, which may need to delete files of its sandboxes' ids).
pub(crate) fn remove_with(
    data_dir: &Path,
    reference: &str,
    remove_tree: impl Fn(&Path) -> std::io::Result<()>,
) -> Result<TemplateRecord, TemplateError> {
    let record = find(data_dir, reference).ok_or_else(|| TemplateError::Io {
        what: format!("remove template {reference}"),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such template"),
    })?;
    if let Ok(entries) = std::fs::read_dir(data_dir.join("snapshots")) {
        for entry in entries.flatten() {
            let snapshot: Option<crate::sandbox::record::SnapshotRecord> =
                crate::store::read_json(&entry.path().join("snapshot.json"))
                    .ok()
                    .flatten();
            if snapshot.is_some_and(|s| s.image_template.as_deref() == Some(&record.template_id)) {
                let _ = remove_tree(&entry.path());
            }
        }
    }
    remove_tree(&templates_dir(data_dir).join(&record.template_id))
        .map_err(TemplateError::io("remove the template"))?;
    Ok(record)
}

/// The template a reference names (its id or name, with or without `:tag`
/// and `namespace/`).
pub(crate) fn find(data_dir: &Path, reference: &str) -> Option<TemplateRecord> {
    let bare = reference.rsplit_once(':').map_or(reference, |(n, _)| n);
    let bare = bare.rsplit_once('/').map_or(bare, |(_, n)| n);
    all(data_dir)
        .into_iter()
        .find(|t| t.template_id == bare || (!t.hidden && t.name == bare))
}

/// The read-only layers of a template's root, topmost first: its own top
/// layer, then the image's.
pub(crate) fn layer_dirs(
    data_dir: &Path,
    record: &TemplateRecord,
) -> Result<Vec<PathBuf>, ImageError> {
    let store = ImageStore::open(data_dir)?;
    let mut dirs = build_layer_dirs(data_dir, record, "root");
    dirs.push(
        templates_dir(data_dir)
            .join(&record.template_id)
            .join("layer"),
    );
    for layer in record.layers.iter().rev() {
        if !store.has_layer(layer) {
            return Err(ImageError::NotFound {
                reference: record.image.clone(),
                detail: format!(
                    "layer {layer} of template {} is gone from the store",
                    record.name
                ),
            });
        }
        dirs.push(store.layer_dir(layer));
    }
    Ok(dirs)
}
