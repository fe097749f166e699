//! The on-disk image store: layers by digest, image records by reference.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use oci_client::manifest::OciDescriptor;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tracing::Instrument as _;

use super::error::io_err;
use super::registry::Remote;
use super::unpack::{self, UnpackOptions, UnpackReport};
use super::{
    Image, ImageConfig, ImageError, LayerId, PullOptions, PullStats, RegistryAuth, reference,
};
use crate::store::{StoreError, read_json, write_json_atomic};

/// Layers downloaded at once unless [`PullOptions::concurrency`] says otherwise.
const DEFAULT_CONCURRENCY: usize = 3;

/// Images and their layers under a data directory.
///
/// Cheap to clone; every method may be called concurrently, from several
/// processes too (pulls share a lock that [`gc`](Self::gc) takes
/// exclusively).
#[derive(Debug, Clone)]
pub struct ImageStore {
    inner: Arc<Dirs>,
}

#[derive(Debug)]
struct Dirs {
    layers: PathBuf,
    images: PathBuf,
    tmp: PathBuf,
    unpack: UnpackOptions,
}

/// The file beside an unprivileged server's layer `rootfs/` that lists the
/// owners the archive gives entries (other than root): `uid:gid`, NUL, the
/// path (`./` and relative to `rootfs/`), NUL, for each.
pub(crate) const OWNERS_FILE: &str = "owners.nul";

/// The [`OWNERS_FILE`] content of `owners`.
pub(crate) fn owners_list(owners: &[(u32, u32, PathBuf)]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt as _;
    let mut out = Vec::new();
    for (uid, gid, path) in owners {
        out.extend_from_slice(format!("{uid}:{gid}\0./").as_bytes());
        out.extend_from_slice(path.as_os_str().as_bytes());
        out.push(0);
    }
    out
}

/// What `layer.json` records about a layer.
#[derive(Debug, Serialize, Deserialize)]
struct LayerRecord {
    digest: LayerId,
    media_type: String,
    size: u64,
    entries: u64,
    skipped_special: u64,
    /// Whether ownership was kept (root server) or is the server user's.
    owners_kept: bool,
}

impl ImageStore {
    /// Open (creating when missing) the store under `data_dir`.
    ///
    /// # Errors
    ///
    /// [`ImageError::Io`] when the directories cannot be created.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, ImageError> {
        let root = data_dir.as_ref();
        let layers = root.join("layers");
        let dirs = Dirs {
            images: root.join("images"),
            tmp: layers.join("tmp"),
            layers,
            unpack: UnpackOptions::for_this_process(),
        };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true).mode(0o700);
        builder.create(root).map_err(io_err("create", root))?;
        builder.mode(0o755);
        for dir in [
            &dirs.layers,
            &dirs.layers.join("sha256"),
            &dirs.tmp,
            &dirs.images,
        ] {
            builder.create(dir).map_err(io_err("create", dir))?;
        }
        Ok(Self {
            inner: Arc::new(dirs),
        })
    }

    /// The directory holding `layer`'s files: an overlayfs `lowerdir`.
    /// (It exists once a pull has unpacked the layer; see [`has_layer`](Self::has_layer).)
    pub fn layer_dir(&self, layer: &LayerId) -> PathBuf {
        self.layer_home(layer).join("rootfs")
    }

    /// Whether `layer` is unpacked in the store.
    pub fn has_layer(&self, layer: &LayerId) -> bool {
        self.layer_home(layer).join("layer.json").is_file()
    }

    fn layer_home(&self, layer: &LayerId) -> PathBuf {
        self.inner.layers.join("sha256").join(layer.hex())
    }

    fn record_path(&self, canonical: &str) -> PathBuf {
        let key = crate::ids::hex(&sha2::Sha256::digest(canonical.as_bytes()));
        self.inner.images.join(format!("{key}.json"))
    }

    /// Pull `reference` (`alpine:3`, `registry.example:5000/team/app@sha256:…`).
    ///
    /// # Errors
    ///
    /// See [`ImageError`]'s predicates: not found, unauthorized, unsupported
    /// registry type, bad digest, unsafe path, I/O.
    pub async fn pull(
        &self,
        reference: &str,
        auth: &RegistryAuth,
        options: &PullOptions,
    ) -> Result<Image, ImageError> {
        Ok(self.pull_with_stats(reference, auth, options).await?.0)
    }

    /// [`pull`](Self::pull), also saying what was downloaded.
    ///
    /// # Errors
    ///
    /// As [`pull`](Self::pull).
    pub async fn pull_with_stats(
        &self,
        reference: &str,
        auth: &RegistryAuth,
        options: &PullOptions,
    ) -> Result<(Image, PullStats), ImageError> {
        let span = tracing::info_span!("image_pull", reference);
        self.pull_inner(reference, auth, options)
            .instrument(span)
            .await
    }

    async fn pull_inner(
        &self,
        reference: &str,
        auth: &RegistryAuth,
        options: &PullOptions,
    ) -> Result<(Image, PullStats), ImageError> {
        let started = Instant::now();
        let parsed = reference::parse(reference)?;
        let canonical = parsed.whole();
        let remotes = Remote::candidates(&parsed, auth, options)?;
        let _lock = self.lock(false).await?;

        let mut fetched = None;
        let count = remotes.len();
        for (i, remote) in remotes.into_iter().enumerate() {
            match remote.fetch_manifest().await {
                Ok(manifest) => {
                    fetched = Some((remote, manifest));
                    break;
                }
                Err(e) if i + 1 < count => {
                    tracing::warn!(
                        mirror = remote.host,
                        "registry mirror failed, trying the registry: {e}"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let (remote, fetched) = fetched.expect("at least one remote, each returns or breaks");
        check_config_media_type(&fetched.manifest.config)?;
        let config = ImageConfig::parse(fetched.config.as_bytes())?;
        let mut layers = Vec::with_capacity(fetched.manifest.layers.len());
        for descriptor in &fetched.manifest.layers {
            check_layer_media_type(descriptor)?;
            layers.push(LayerId::parse(&descriptor.digest)?);
        }
        tracing::debug!(
            source = remote.host,
            digest = fetched.digest,
            layers = layers.len(),
            "manifest fetched"
        );

        let concurrency = match options.concurrency {
            0 => DEFAULT_CONCURRENCY,
            n => n,
        };
        // At most `concurrency` layers download at once; all run in this task.
        let permits = tokio::sync::Semaphore::new(concurrency);
        let mut downloads = Vec::with_capacity(layers.len());
        for (descriptor, id) in fetched.manifest.layers.iter().zip(&layers) {
            downloads.push(self.ensure_layer(&permits, &remote, descriptor, id));
        }
        let results = futures_util::future::try_join_all(downloads).await?;

        let mut stats = PullStats {
            source: remote.host.clone(),
            ..PullStats::default()
        };
        for result in &results {
            match result {
                Some((bytes, report)) => {
                    stats.layers_downloaded += 1;
                    stats.bytes_downloaded += bytes;
                    stats.skipped_special += report.skipped_special;
                }
                None => stats.layers_cached += 1,
            }
        }
        let image = Image {
            reference: canonical.clone(),
            digest: fetched.digest,
            index_digest: fetched.index_digest,
            layers,
            config,
            size: fetched
                .manifest
                .layers
                .iter()
                .map(|d| u64::try_from(d.size).unwrap_or(0))
                .sum(),
            pulled_at: chrono::Utc::now(),
        };
        let path = self.record_path(&canonical);
        let record = image.clone();
        blocking(move || write_json_atomic(&path, &record).map_err(store_error)).await?;
        stats.elapsed = started.elapsed();
        tracing::info!(
            digest = image.digest,
            downloaded = stats.layers_downloaded,
            cached = stats.layers_cached,
            bytes = stats.bytes_downloaded,
            elapsed_ms = stats.elapsed.as_millis(),
            "image pulled"
        );
        Ok((image, stats))
    }

    /// Download and unpack one layer unless present: `None` when it was.
    async fn ensure_layer(
        &self,
        permits: &tokio::sync::Semaphore,
        remote: &Remote,
        descriptor: &OciDescriptor,
        id: &LayerId,
    ) -> Result<Option<(u64, UnpackReport)>, ImageError> {
        if self.has_layer(id) {
            return Ok(None);
        }
        let _permit = permits.acquire().await.map_err(|e| ImageError::Io {
            action: "wait for a download slot in",
            path: self.inner.tmp.clone(),
            source: io::Error::other(e),
        })?;
        let work = WorkDir::create(&self.inner.tmp)?;
        let blob = work.path.join("blob");
        remote.fetch_blob(descriptor, &blob).await?;
        let bytes = fs::metadata(&blob).map_err(io_err("inspect", &blob))?.len();
        let home = self.layer_home(id);
        let id = id.clone();
        let media_type = descriptor.media_type.clone();
        let options = self.inner.unpack;
        let span = tracing::debug_span!("unpack_layer", layer = %id);
        let report = blocking(move || {
            let _entered = span.enter();
            let rootfs = work.path.join("rootfs");
            fs::DirBuilder::new()
                .mode(0o755)
                .create(&rootfs)
                .map_err(io_err("create", &rootfs))?;
            let file = fs::File::open(&blob).map_err(io_err("open", &blob))?;
            let archive = unpack::decompress(file).map_err(|e| ImageError::CorruptLayer {
                layer: id.to_string(),
                detail: e.to_string(),
            })?;
            let report = unpack::unpack(archive, &rootfs, id.as_str(), options)?;
            fs::remove_file(&blob).map_err(io_err("remove", &blob))?;
            if !options.privileged {
                let list = work.path.join(OWNERS_FILE);
                fs::write(&list, owners_list(&report.owners)).map_err(io_err("write", &list))?;
            }
            let record = LayerRecord {
                digest: id.clone(),
                media_type,
                size: bytes,
                entries: report.entries,
                skipped_special: report.skipped_special,
                owners_kept: options.privileged,
            };
            write_json_atomic(&work.path.join("layer.json"), &record).map_err(store_error)?;
            work.commit(&home)?;
            if report.skipped_special > 0 {
                tracing::warn!(layer = %id, skipped = report.skipped_special, "device nodes and FIFOs in the layer were skipped");
            }
            Ok(report)
        })
        .await?;
        Ok(Some((bytes, report)))
    }

    /// The image `reference` names, if pulled.
    ///
    /// # Errors
    ///
    /// An invalid reference, or a record that cannot be read.
    pub fn get(&self, reference: &str) -> Result<Option<Image>, ImageError> {
        let canonical = reference::canonical(reference)?;
        read_json(&self.record_path(&canonical)).map_err(store_error)
    }

    /// Every pulled image, by reference.
    ///
    /// # Errors
    ///
    /// A record that cannot be read.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        let dir = &self.inner.images;
        let mut images = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
            let path = entry.map_err(io_err("list", dir))?.path();
            if path.extension().is_some_and(|e| e == "json")
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                && let Some(image) = read_json::<Image>(&path).map_err(store_error)?
            {
                images.push(image);
            }
        }
        images.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(images)
    }

    /// Forget the image `reference` names. Its layers stay until [`gc`](Self::gc).
    ///
    /// # Errors
    ///
    /// [`ImageError::NotFound`] when it was not pulled.
    pub fn remove(&self, reference: &str) -> Result<Image, ImageError> {
        let canonical = reference::canonical(reference)?;
        let path = self.record_path(&canonical);
        let image = read_json::<Image>(&path)
            .map_err(store_error)?
            .ok_or_else(|| ImageError::NotFound {
                reference: canonical.clone(),
                detail: "not in the local store".into(),
            })?;
        fs::remove_file(&path).map_err(io_err("remove", &path))?;
        Ok(image)
    }

    /// Layers present in the store.
    ///
    /// # Errors
    ///
    /// When the layer directory cannot be read.
    pub fn layers(&self) -> Result<Vec<LayerId>, ImageError> {
        let dir = self.inner.layers.join("sha256");
        let mut layers = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let entry = entry.map_err(io_err("list", &dir))?;
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|hex| LayerId::parse(&format!("sha256:{hex}")).ok())
            {
                layers.push(id);
            }
        }
        layers.sort();
        Ok(layers)
    }

    /// Remove every layer that no image record uses and `keep` does not
    /// name (layers of templates, snapshots or running sandboxes belong in
    /// `keep`), and leftovers of interrupted pulls. Waits for pulls in
    /// progress (in any process) to finish. Returns the removed layers.
    ///
    /// # Errors
    ///
    /// When a record cannot be read or a layer cannot be removed.
    pub fn gc(&self, keep: &HashSet<LayerId>) -> Result<Vec<LayerId>, ImageError> {
        self.gc_with(keep, None)
    }

    /// [`gc`](Self::gc), deleting with `fallback` what a plain deletion may not
    /// (layers an unprivileged server's sandboxes own).
    pub(crate) fn gc_with(
        &self,
        keep: &HashSet<LayerId>,
        fallback: Option<RemoveTree<'_>>,
    ) -> Result<Vec<LayerId>, ImageError> {
        let remove = |path: &Path| match (remove_tree(path), fallback) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(fallback)) => fallback(path).map_err(io_err("remove", path)),
            (Err(e), None) => Err(e),
        };
        let _lock = lock_file(&self.inner.layers.join("lock"), true)?;
        let mut used: HashSet<LayerId> = keep.clone();
        for image in self.list()? {
            used.extend(image.layers);
        }
        let mut removed = Vec::new();
        for id in self.layers()? {
            if used.contains(&id) {
                continue;
            }
            let home = self.layer_home(&id);
            let doomed = self.inner.tmp.join(format!("gc-{}", id.hex()));
            fs::rename(&home, &doomed).map_err(io_err("remove", &home))?;
            remove(&doomed)?;
            removed.push(id);
        }
        // No pull holds the lock: whatever is in tmp/ was left by one that died.
        for entry in fs::read_dir(&self.inner.tmp).map_err(io_err("list", &self.inner.tmp))? {
            let path = entry.map_err(io_err("list", &self.inner.tmp))?.path();
            remove(&path)?;
        }
        if !removed.is_empty() {
            tracing::info!(removed = removed.len(), "unused layers removed");
        }
        Ok(removed)
    }

    async fn lock(&self, exclusive: bool) -> Result<fs::File, ImageError> {
        let path = self.inner.layers.join("lock");
        blocking(move || lock_file(&path, exclusive)).await
    }
}

/// Deletes a directory tree (see [`ImageStore::gc_with`]).
pub(crate) type RemoveTree<'a> = &'a dyn Fn(&Path) -> io::Result<()>;

/// Hold `path` locked (shared or exclusive) for as long as the file is open.
fn lock_file(path: &Path, exclusive: bool) -> Result<fs::File, ImageError> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err("open", path))?;
    let operation = if exclusive {
        rustix::fs::FlockOperation::LockExclusive
    } else {
        rustix::fs::FlockOperation::LockShared
    };
    rustix::fs::flock(&file, operation).map_err(|e| io_err("lock", path)(e.into()))?;
    Ok(file)
}

/// A directory under `layers/tmp` where one layer is assembled; removed on
/// drop unless committed.
struct WorkDir {
    path: PathBuf,
    committed: bool,
}

impl WorkDir {
    fn create(tmp: &Path) -> Result<Self, ImageError> {
        let suffix = crate::ids::random_bytes(8).map_err(io_err("generate a name in", tmp))?;
        let path = tmp.join(format!("pull-{}", crate::ids::hex(&suffix)));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(io_err("create", &path))?;
        Ok(Self {
            path,
            committed: false,
        })
    }

    /// Move into place as `home`, atomically; when another pull got there
    /// first, theirs stays and this one is dropped.
    fn commit(mut self, home: &Path) -> Result<(), ImageError> {
        fs::set_permissions(&self.path, fs::Permissions::from_mode(0o755))
            .map_err(io_err("set the mode of", &self.path))?;
        match fs::rename(&self.path, home) {
            Ok(()) => {
                self.committed = true;
                if let Some(parent) = home.parent() {
                    fs::File::open(parent)
                        .and_then(|d| d.sync_all())
                        .map_err(io_err("sync", parent))?;
                }
                Ok(())
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) => {
                tracing::debug!(layer = %home.display(), "unpacked concurrently by another pull");
                Ok(())
            }
            Err(e) => Err(io_err("move into place", home)(e)),
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.committed
            && let Err(e) = remove_tree(&self.path)
        {
            tracing::warn!("cannot remove {}: {e}", self.path.display());
        }
    }
}

/// Remove a directory tree, making read-only directories writable when the
/// first attempt is refused (an unprivileged server's layers).
fn remove_tree(path: &Path) -> Result<(), ImageError> {
    match fs::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return fs::remove_file(path).map_err(io_err("remove", path));
        }
        Err(e) => return Err(io_err("remove", path)(e)),
    }
    make_writable(path);
    fs::remove_dir_all(path).map_err(io_err("remove", path))
}

fn make_writable(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            make_writable(&entry.path());
        }
    }
}

fn check_config_media_type(config: &OciDescriptor) -> Result<(), ImageError> {
    const IMAGE_CONFIGS: [&str; 2] = [
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    ];
    if IMAGE_CONFIGS.contains(&config.media_type.as_str()) {
        Ok(())
    } else {
        Err(ImageError::Unsupported {
            what: "artifact (not a container image)",
            detail: format!("configuration media type {}", config.media_type),
        })
    }
}

fn check_layer_media_type(layer: &OciDescriptor) -> Result<(), ImageError> {
    let media_type = layer.media_type.as_str();
    let known = [
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
    ];
    let ok = known.iter().any(|prefix| {
        media_type
            .strip_prefix(prefix)
            .is_some_and(|rest| ["", "+gzip", "+zstd", ".gzip"].contains(&rest))
    });
    if ok {
        Ok(())
    } else {
        Err(ImageError::Unsupported {
            what: "layer media type",
            detail: media_type.to_owned(),
        })
    }
}

fn store_error(e: StoreError) -> ImageError {
    match e {
        StoreError::Io {
            action,
            path,
            source,
        } => ImageError::Io {
            action,
            path,
            source,
        },
        StoreError::Corrupt { path, source } => ImageError::CorruptRecord {
            path,
            detail: source.to_string(),
        },
    }
}

/// Run blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ImageError> + Send + 'static,
) -> Result<T, ImageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ImageError::Io {
            action: "run blocking work for",
            path: PathBuf::from("the image store"),
            source: io::Error::other(e.to_string()),
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_media_types() {
        let descriptor = |media_type: &str| OciDescriptor {
            media_type: media_type.into(),
            ..OciDescriptor::default()
        };
        for ok in [
            "application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        ] {
            assert!(check_layer_media_type(&descriptor(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "application/vnd.wasm.content.layer.v1+wasm",
            "application/vnd.oci.image.layer.v1.tar+bzip2",
        ] {
            assert!(check_layer_media_type(&descriptor(bad)).is_err(), "{bad}");
        }
    }
}
