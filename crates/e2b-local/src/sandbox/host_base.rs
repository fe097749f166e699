//! The `base` template's root filesystem, built from the host's own OS.
//!
//! A root server gives every sandbox a writable root: overlays whose lower
//! layers are read-only and whose upper layers live on the sandbox's disk
//! (see [`stage`](super::stage)). For the built-in templates the lower layers
//! are the host's `/usr` and `/etc`, idmapped so that host root's files are
//! in-sandbox root's, under a small layer of the server's own, made here:
//!
//! - `root/`: the skeleton of `/` (the host's merged-usr symlinks, the usual
//!   top-level directories, `/tmp` sticky, `/root` private) and a `/var`
//!   with the host's package database (`/var/lib/dpkg`, debconf's cache and
//!   apt's empty list and archive directories), so `apt-get` and `dpkg` know
//!   what is installed;
//! - `usr/`: `sudo` (served by the sandbox's agent: setuid programs cannot
//!   gain privileges in a sandbox) and the removal of Python's
//!   `EXTERNALLY-MANAGED` marker, so `pip install` works as in E2B;
//! - `etc/`: the account files (`root`, the host's system accounts, `user`
//!   in group `sudo`), writable through the overlay like any other file.
//!
//! **Only what every host user can read reaches a sandbox.** Through an
//! idmapped mount in-sandbox root owns host root's files, so a file only
//! host root may read would be readable inside. Every entry of the host's
//! trees that is not world-readable (a directory not world-listable) is
//! hidden by a whiteout in this layer. The host is scanned at every server
//! start; the layer is kept in the cache directory under a key that changes
//! when anything it depends on does, so servers share it and rebuild it only
//! when the host changed.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::bwrap::{HostLayout, TopLevel};
use super::layout::{self, HOME_IN_SANDBOX, USER_ID};
use super::rootless::Rootless;
use super::stage::WritableTree;

/// Bump when the layer's content changes for the same host.
const FORMAT: u32 = 1;
/// Host trees shown writable through an overlay, as (name on the disk, path).
const HOST_TREES: [(&str, &str); 2] = [("usr", "/usr"), ("etc", "/etc")];
/// Host package-manager state copied into the layer's `/var` (world-readable
/// entries only).
const VAR_COPIES: [&str; 2] = ["/var/lib/dpkg", "/var/cache/debconf"];
/// Directories of `/var` made empty, with the host's attributes where it has them.
const VAR_DIRS: [(&str, u32); 10] = [
    ("var/lib/apt/lists/partial", 0o700),
    ("var/cache/apt/archives/partial", 0o700),
    ("var/log/apt", 0o755),
    ("var/tmp", 0o1777),
    ("var/local", 0o755),
    ("var/mail", 0o755),
    ("var/spool", 0o755),
    ("var/backups", 0o755),
    ("var/opt", 0o755),
    ("var/lib/misc", 0o755),
];
/// Top-level directories of every sandbox's `/`, with their modes.
const SKELETON: [(&str, u32); 15] = [
    ("usr", 0o755),
    ("etc", 0o755),
    ("var", 0o755),
    ("opt", 0o755),
    ("srv", 0o755),
    ("mnt", 0o755),
    ("media", 0o755),
    ("home", 0o755),
    ("root", 0o700),
    ("tmp", 0o1777),
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("run", 0o755),
    ("boot", 0o755),
];
/// Building the layer gives up after this long.
const BUILD_DEADLINE: Duration = Duration::from_secs(120);

/// The host base layer of this server, ready to mount.
///
/// Every server holds a shared lock on its layer's `.lock` file while it
/// runs; a server that builds a new layer (the host changed) removes the
/// old ones no server holds.
#[derive(Clone, Debug)]
pub(crate) struct HostBase {
    /// `<cache>/host-base/<key>/`.
    dir: PathBuf,
    /// The shared lock on `dir/.lock`.
    _lock: std::sync::Arc<fs::File>,
    /// Real top-level directories of a host without merged `/usr`
    /// (`/lib64`, ...), shown as trees of their own.
    extra_trees: Vec<&'static str>,
}

/// What one tree of a sandbox's root is made of.
#[derive(Clone, Debug)]
pub(crate) struct MountedTree {
    /// Where it appears inside (`/`, `/usr`, ...).
    pub(crate) at: &'static str,
    /// Its layers and upper layer.
    pub(crate) tree: WritableTree,
}

impl HostBase {
    /// Scan the host and build (or reuse) the layer under `cache`.
    ///
    /// An unprivileged server passes its [`Rootless`] helper: the layer
    /// is built as the server's user, then given to in-sandbox root (see
    /// [`rootless`](super::rootless)), and kept apart from root servers'.
    pub(crate) fn prepare(
        cache: &Path,
        host: &HostLayout,
        rootless: Option<&Rootless>,
    ) -> io::Result<Self> {
        let plan = Plan::scan(host)?;
        let root = cache.join(if rootless.is_some() {
            "host-base-rootless"
        } else {
            "host-base"
        });
        let dir = root.join(&plan.key);
        if !dir.is_dir() {
            fs::create_dir_all(&root)?;
            let started = Instant::now();
            let work = tempfile::Builder::new()
                .prefix(".build-")
                .tempdir_in(&root)?;
            let build = work.path().join("layer");
            plan.build(&build)?;
            if let Some(rootless) = rootless {
                for tree in ["root", "usr", "etc"] {
                    rootless.give_to_sandbox_root(&build.join(tree))?;
                }
            }
            fs::set_permissions(work.path(), fs::Permissions::from_mode(0o755))?;
            match fs::rename(&build, &dir) {
                Ok(()) => {}
                // Another server built the same layer meanwhile.
                Err(_) if dir.is_dir() => {}
                Err(e) => return Err(e),
            }
            tracing::info!(layer = %dir.display(), elapsed = ?started.elapsed(), "built the host base layer");
        }
        let lock = lock_file(&dir)?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockShared)?;
        remove_unused_layers(&root, &plan.key, rootless);
        let extra_trees = host
            .top_level
            .iter()
            .filter_map(|t| match t {
                TopLevel::Dir { path } => Some(*path),
                TopLevel::Symlink { .. } => None,
            })
            .collect();
        Ok(Self {
            dir,
            _lock: std::sync::Arc::new(lock),
            extra_trees,
        })
    }

    /// The key naming the layer (it changes with the host's system).
    pub(crate) fn key(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The trees of a sandbox's writable root, `/` first. With
    /// `traversable_root`, `/root` is `0711` instead of `0700` (a kernel
    /// environment under it must be reachable by `user`).
    pub(crate) fn trees(&self, traversable_root: bool) -> Vec<MountedTree> {
        let mut root = WritableTree {
            name: "root",
            layers: vec![self.dir.join("root")],
            mode: 0o755,
            owner: 0,
            ensure_dirs: Vec::new(),
        };
        if traversable_root {
            root.ensure_dirs.push((PathBuf::from("root"), 0o711));
        }
        let mut trees = vec![MountedTree {
            at: "/",
            tree: root,
        }];
        for (name, path) in HOST_TREES {
            trees.push(MountedTree {
                at: path,
                tree: WritableTree {
                    name,
                    layers: vec![self.dir.join(name), PathBuf::from(path)],
                    mode: 0o755,
                    owner: 0,
                    ensure_dirs: Vec::new(),
                },
            });
        }
        for path in &self.extra_trees {
            trees.push(MountedTree {
                at: path,
                tree: WritableTree {
                    name: path.trim_start_matches('/'),
                    layers: vec![PathBuf::from(*path)],
                    mode: 0o755,
                    owner: 0,
                    ensure_dirs: Vec::new(),
                },
            });
        }
        trees
    }
}

fn lock_file(layer: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(layer.join(".lock"))
}

/// Remove the layers under `root` other than `keep` that no server holds.
fn remove_unused_layers(root: &Path, keep: &str, rootless: Option<&Rootless>) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == keep || name.starts_with('.') {
            continue;
        }
        let Ok(lock) = lock_file(&entry.path()) else {
            continue;
        };
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            let trash = root.join(format!(".trash-{name}"));
            if fs::rename(entry.path(), &trash).is_ok() {
                let _ = match rootless {
                    Some(rootless) => rootless.remove_tree(&trash),
                    None => fs::remove_dir_all(&trash),
                };
                tracing::info!(layer = %name, "removed an unused host base layer");
            }
        }
    }
}

/// What the layer will hold, and the key naming it.
struct Plan {
    key: String,
    top_level: Vec<TopLevel>,
    /// Per host tree: the entries to hide.
    masks: Vec<(&'static str, Vec<PathBuf>)>,
    /// Python installations' `EXTERNALLY-MANAGED` markers (relative to `/usr`).
    pip_markers: Vec<PathBuf>,
    accounts: Vec<(&'static str, String, u32, u32)>,
}

impl Plan {
    fn scan(host: &HostLayout) -> io::Result<Self> {
        let mut manifest = format!("format {FORMAT}\nagent {}\n", layout::AGENT_IN_SANDBOX);
        let mut masks = Vec::new();
        for (name, path) in HOST_TREES {
            let hidden = unreadable_entries(Path::new(path))?;
            for entry in &hidden {
                writeln!(manifest, "mask {name} {}", entry.display()).ok();
            }
            masks.push((name, hidden));
        }
        for path in VAR_COPIES {
            describe_tree(Path::new(path), &mut manifest);
        }
        for (path, _) in VAR_DIRS {
            describe_tree(&Path::new("/").join(path), &mut manifest);
        }
        let mut pip_markers = Vec::new();
        if let Ok(entries) = fs::read_dir("/usr/lib") {
            for entry in entries.flatten() {
                let name = entry.file_name();
                if name.to_string_lossy().starts_with("python3") {
                    let marker = Path::new("lib").join(&name).join("EXTERNALLY-MANAGED");
                    if Path::new("/usr").join(&marker).exists() {
                        writeln!(manifest, "pip-marker {}", marker.display()).ok();
                        pip_markers.push(marker);
                    }
                }
            }
        }
        pip_markers.sort();
        let accounts = account_files();
        for (name, content, mode, gid) in &accounts {
            writeln!(manifest, "account {name} {mode:o} {gid}\n{content}").ok();
        }
        for entry in &host.top_level {
            writeln!(manifest, "top {entry:?}").ok();
        }
        let digest = Sha256::digest(manifest.as_bytes());
        let key = digest[..12].iter().fold(String::new(), |mut s, b| {
            write!(s, "{b:02x}").ok();
            s
        });
        Ok(Self {
            key,
            top_level: host.top_level.clone(),
            masks,
            pip_markers,
            accounts,
        })
    }

    fn build(&self, dir: &Path) -> io::Result<()> {
        let deadline = Instant::now() + BUILD_DEADLINE;
        fs::create_dir(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
        // `/`: the skeleton and `/var`.
        let root = dir.join("root");
        make_dir(&root, 0o755)?;
        for (name, mode) in SKELETON {
            make_dir(&root.join(name), mode)?;
        }
        for entry in &self.top_level {
            if let TopLevel::Symlink { path, target } = entry {
                std::os::unix::fs::symlink(target, root.join(path.trim_start_matches('/')))?;
            } else if let TopLevel::Dir { path } = entry {
                make_dir(&root.join(path.trim_start_matches('/')), 0o755)?;
            }
        }
        std::os::unix::fs::symlink("/run", root.join("var/run"))?;
        std::os::unix::fs::symlink("/run/lock", root.join("var/lock"))?;
        for path in VAR_COPIES {
            let host = Path::new(path);
            if !host.is_dir() {
                continue;
            }
            let rel = host.strip_prefix("/").unwrap_or(host);
            ensure_parents(&root, rel)?;
            super::fs_copy::copy_tree_where(host, &root.join(rel), deadline, &world_readable)?;
        }
        for (path, mode) in VAR_DIRS {
            ensure_parents(&root, Path::new(path))?;
            let target = root.join(path);
            if !target.exists() {
                make_dir(&target, mode)?;
                copy_attributes(&Path::new("/").join(path), &target);
            }
        }
        // `/usr` and `/etc`: hidden entries, then the server's own files.
        for (name, hidden) in &self.masks {
            let layer = dir.join(name);
            make_dir(&layer, 0o755)?;
            copy_attributes(&Path::new("/").join(name), &layer);
            for entry in hidden {
                ensure_parents(&layer, entry)?;
                whiteout(&layer.join(entry))?;
            }
        }
        let usr = dir.join("usr");
        for marker in &self.pip_markers {
            ensure_parents(&usr, marker)?;
            whiteout(&usr.join(marker))?;
        }
        let sudo = Path::new("bin/sudo");
        ensure_parents(&usr, sudo)?;
        let _ = fs::remove_file(usr.join(sudo));
        std::os::unix::fs::symlink(layout::AGENT_IN_SANDBOX, usr.join(sudo))?;
        let etc = dir.join("etc");
        for (name, content, mode, gid) in &self.accounts {
            let path = etc.join(name);
            let _ = fs::remove_file(&path);
            fs::write(&path, content)?;
            chown_as_root(&path, 0, *gid)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(*mode))?;
        }
        Ok(())
    }
}

/// The host's entries under `root` that not every user may read (files) or
/// list (directories), relative to `root`; nothing below a listed
/// directory. Other filesystems mounted inside are skipped: overlays do not
/// show them.
fn unreadable_entries(root: &Path) -> io::Result<Vec<PathBuf>> {
    let device = fs::symlink_metadata(root)?.dev();
    let mut hidden = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let child = rel.join(entry.file_name());
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != device || meta.file_type().is_symlink() {
                continue;
            }
            if meta.is_dir() {
                if meta.mode() & 0o005 == 0o005 {
                    stack.push(child);
                } else {
                    hidden.push(child);
                }
            } else if meta.is_file() && meta.mode() & 0o004 == 0 {
                hidden.push(child);
            }
        }
    }
    hidden.sort();
    Ok(hidden)
}

/// Whether every host user may read the entry (files) or list it (directories).
fn world_readable(meta: &fs::Metadata) -> bool {
    if meta.is_dir() {
        meta.mode() & 0o005 == 0o005
    } else {
        meta.file_type().is_symlink() || meta.mode() & 0o004 != 0
    }
}

/// Append what identifies the tree's content (paths, sizes, times, modes,
/// owners) to the manifest.
fn describe_tree(root: &Path, manifest: &mut String) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&dir) else {
            continue;
        };
        describe(&dir, &meta, manifest);
        if !meta.is_dir() {
            continue;
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        children.sort();
        stack.extend(children.into_iter().rev());
    }
}

fn describe(path: &Path, meta: &fs::Metadata, manifest: &mut String) {
    writeln!(
        manifest,
        "{} {} {} {:o} {} {}",
        path.display(),
        meta.len(),
        meta.mtime(),
        meta.mode(),
        meta.uid(),
        meta.gid()
    )
    .ok();
}

/// Make the missing parents of `rel` under `layer` with the host's attributes
/// (a directory of an upper layer overrides the attributes of the same
/// directory below it).
fn ensure_parents(layer: &Path, rel: &Path) -> io::Result<()> {
    let host_root = match layer.file_name().and_then(|n| n.to_str()) {
        Some("usr") => PathBuf::from("/usr"),
        Some("etc") => PathBuf::from("/etc"),
        _ => PathBuf::from("/"),
    };
    let mut at = layer.to_path_buf();
    let mut host = host_root;
    let parts: Vec<_> = rel.components().collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        at.push(part);
        host.push(part);
        if !at.exists() {
            make_dir(&at, 0o755)?;
            copy_attributes(&host, &at);
        }
    }
    Ok(())
}

fn make_dir(path: &Path, mode: u32) -> io::Result<()> {
    fs::create_dir(path)?;
    chown_as_root(path, 0, 0)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// `chown`, when the server is root (an unprivileged server's layer is all
/// its own until it gives it to in-sandbox root).
fn chown_as_root(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
    } else {
        Ok(())
    }
}

/// Give `to` the mode and owners of the host's `from`, when it exists.
fn copy_attributes(from: &Path, to: &Path) {
    if let Ok(meta) = fs::symlink_metadata(from) {
        let _ = std::os::unix::fs::chown(to, Some(meta.uid()), Some(meta.gid()));
        let _ = fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777));
    }
}

/// An overlay whiteout (a 0:0 character device): the entry below is hidden.
fn whiteout(path: &Path) -> io::Result<()> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        rustix::fs::makedev(0, 0),
    )?;
    Ok(())
}

/// `/etc/passwd`, `group`, `shadow`, `gshadow`, `hosts` and `hostname` of
/// writable roots, as (name, content, mode, group): root, the host's system
/// accounts (ids 1–999, so packages find `_apt`, `messagebus`, ...), `user`
/// (a member of `sudo`, as in E2B) and `nobody`.
fn account_files() -> Vec<(&'static str, String, u32, u32)> {
    let reserved = ["root", "user", "nobody", "nogroup"];
    let system = |file: &str, id_field: usize| -> Vec<Vec<String>> {
        fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(':').map(str::to_owned).collect::<Vec<_>>())
            .filter(|f| {
                f.len() > id_field
                    && !reserved.contains(&f[0].as_str())
                    && f[id_field]
                        .parse::<u32>()
                        .is_ok_and(|id| (1..1000).contains(&id))
            })
            .collect()
    };
    let users = system("/etc/passwd", 2);
    let groups = system("/etc/group", 2);
    let mut passwd = "root:x:0:0:root:/root:/bin/bash\n".to_owned();
    let mut shadow = "root:*:19000:0:99999:7:::\n".to_owned();
    for f in users.iter().filter(|f| f.len() >= 7) {
        writeln!(
            passwd,
            "{}:x:{}:{}:{}:{}:{}",
            f[0], f[2], f[3], f[4], f[5], f[6]
        )
        .ok();
        writeln!(shadow, "{}:*:19000:0:99999:7:::", f[0]).ok();
    }
    writeln!(
        passwd,
        "user:x:{USER_ID}:{USER_ID}::{HOME_IN_SANDBOX}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin"
    )
    .ok();
    shadow.push_str("user:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n");
    let mut group = "root:x:0:\n".to_owned();
    let mut gshadow = "root:*::\n".to_owned();
    let mut has_sudo = false;
    let mut names = BTreeSet::new();
    for f in &groups {
        if !names.insert(f[0].clone()) {
            continue;
        }
        let members = if f[0] == "sudo" {
            has_sudo = true;
            "user".to_owned()
        } else {
            f.get(3).cloned().unwrap_or_default()
        };
        writeln!(group, "{}:x:{}:{members}", f[0], f[2]).ok();
        writeln!(gshadow, "{}:*::{members}", f[0]).ok();
    }
    if !has_sudo {
        group.push_str("sudo:x:27:user\n");
        gshadow.push_str("sudo:*::user\n");
    }
    writeln!(group, "user:x:{USER_ID}:\nnogroup:x:65534:").ok();
    gshadow.push_str("user:!::\nnogroup:*::\n");
    let shadow_gid = groups
        .iter()
        .find(|f| f[0] == "shadow")
        .and_then(|f| f[2].parse().ok())
        .unwrap_or(0);
    vec![
        ("passwd", passwd, 0o644, 0),
        ("group", group, 0o644, 0),
        ("shadow", shadow, 0o640, shadow_gid),
        ("gshadow", gshadow, 0o640, shadow_gid),
        ("hosts", layout::etc_file("hosts"), 0o644, 0),
        ("hostname", layout::etc_file("hostname"), 0o644, 0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_entries_are_found_and_not_descended() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("open/closed/inner")).unwrap();
        fs::write(root.join("open/public"), "").unwrap();
        fs::write(root.join("open/secret"), "").unwrap();
        fs::set_permissions(root.join("open/secret"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(root.join("open/closed"), fs::Permissions::from_mode(0o700)).unwrap();
        let hidden = unreadable_entries(root).unwrap();
        assert_eq!(
            hidden,
            [PathBuf::from("open/closed"), PathBuf::from("open/secret")]
        );
    }

    #[test]
    fn only_layers_no_server_holds_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        for key in ["current", "held", "stale"] {
            fs::create_dir(tmp.path().join(key)).unwrap();
        }
        let held = lock_file(&tmp.path().join("held")).unwrap();
        rustix::fs::flock(&held, rustix::fs::FlockOperation::LockShared).unwrap();
        remove_unused_layers(tmp.path(), "current", None);
        let mut left: Vec<String> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["current", "held"]);
    }

    #[test]
    fn accounts_put_user_in_sudo_and_keep_root_first() {
        let files = account_files();
        let text = |name: &str| files.iter().find(|f| f.0 == name).unwrap().1.clone();
        assert!(text("passwd").starts_with("root:x:0:0:"));
        assert!(text("passwd").contains("\nuser:x:1000:1000::/home/user:/bin/bash\n"));
        assert!(
            text("group")
                .lines()
                .any(|l| l.starts_with("sudo:") && l.ends_with(":user")),
            "{}",
            text("group")
        );
        assert_eq!(text("passwd").matches("\nuser:").count(), 1);
    }
}
