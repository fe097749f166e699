//! Writable root filesystems for an unprivileged server.
//!
//! A root server idmaps the host's `/usr` and `/etc` into its sandboxes'
//! user namespace and mounts kernel overlays on them. An unprivileged server
//! can do neither: only host root may make idmapped mounts, and host root's
//! files are `nobody`'s in any namespace an ordinary user makes, which
//! in-sandbox root could then not change. It takes the route rootless
//! container engines take instead:
//!
//! - **One user namespace per server,** made with the set-id helpers
//!   `newuidmap`/`newgidmap` from the user's subordinate ranges
//!   (`/etc/subuid`, `/etc/subgid`): id 0 is the server's own user, ids
//!   `1..=65536` its subordinate ids. Sandboxes run in it as they run in a
//!   root server's; so in-sandbox root is the server's user on the host (as
//!   in rootless Podman), `user` (1000) a subordinate id.
//! - **Each tree of the root is a `fuse-overlayfs`** (Debian package
//!   `fuse-overlayfs`) over the read-only layers, its upper layer a
//!   directory of the sandbox. `fuse-overlayfs` shows host root's files
//!   (`nobody` in the namespace) as root's, and stores what in-sandbox root
//!   writes under the namespace's id 65534 ([`stored_id`]): every layer,
//!   the host's and the sandbox's own, uses the same convention.
//! - The daemons run in the launch's own mount namespace (see
//!   [`stage`](super::stage)) and end with the sandbox. They serve requests
//!   of the sandbox's processes, so they are part of what a sandbox attacks.
//!
//! What is not contained as well as on a root server: in-sandbox root is the
//! server's user on the host (anything of the server's that a sandbox could
//! reach, it could change; nothing of the server's is mounted in it), disks
//! have no size cap, and there are no cgroup limits.

#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::userns::{ID_COUNT, SubordinateIds, UserNamespace};

/// The namespace id that in-sandbox root's files are stored under (see
/// [`stored_id`]).
pub(crate) const STORED_ROOT: u32 = 65_534;

/// The `fuse-overlayfs` id map (`stored:shown:count`, twice): the stored
/// 65534 (also what host root's files show as) is shown as root, every other
/// id as itself.
pub(crate) const ID_MAPPING: &str = "65534:0:1:1:1:65533";

/// The id (of the server's namespace) a file of the in-sandbox id `inside`
/// is stored under in a layer or an upper directory.
pub(crate) fn stored_id(inside: u32) -> u32 {
    if inside == 0 { STORED_ROOT } else { inside }
}

/// What an unprivileged server gives its sandboxes writable roots with.
#[derive(Debug)]
pub(crate) struct Rootless {
    userns: Arc<UserNamespace>,
    fuse_overlayfs: PathBuf,
    /// Where launches stage their mounts (each in its own mount namespace).
    stage_dir: PathBuf,
    /// A directory holding only a copy of the agent binary, shown to
    /// sandboxes through an overlay so their mounts name no host path.
    agent_dir: PathBuf,
}

/// The name of the agent binary in [`Rootless::agent_dir`].
pub(crate) const AGENT_FILE: &str = "envd";

impl Rootless {
    /// Everything it needs, or why writable roots are not available to
    /// this (unprivileged) server. `run_dir` is a directory of the server's
    /// own, never shown to sandboxes.
    pub(crate) fn prepare(run_dir: &Path, agent_binary: &Path) -> Result<Self, String> {
        let (fuse_overlayfs, userns) = Self::probe()?;
        let stage_dir = run_dir.join("stage");
        let agent_dir = run_dir.join("agent");
        let prepared = (|| {
            for dir in [&stage_dir, &agent_dir] {
                std::fs::create_dir_all(dir)?;
            }
            let agent = agent_dir.join(AGENT_FILE);
            let staging = agent_dir.join(format!(".{AGENT_FILE}.new"));
            std::fs::copy(agent_binary, &staging)?;
            std::fs::rename(&staging, agent)
        })();
        prepared.map_err(|e| format!("cannot prepare {}: {e}", run_dir.display()))?;
        Ok(Self {
            userns: Arc::new(userns),
            fuse_overlayfs,
            stage_dir,
            agent_dir,
        })
    }

    /// What this user needs for writable roots, checked (the namespace is
    /// made): the `fuse-overlayfs` binary and the sandboxes' namespace, or
    /// why not.
    pub(crate) fn probe() -> Result<(PathBuf, UserNamespace), String> {
        let fuse_overlayfs = crate::edge::server::find_in_path("fuse-overlayfs")
            .ok_or("fuse-overlayfs is not installed (apt-get install fuse-overlayfs)")?;
        rustix::fs::access(
            "/dev/fuse",
            rustix::fs::Access::READ_OK | rustix::fs::Access::WRITE_OK,
        )
        .map_err(|e| format!("/dev/fuse cannot be opened by this user ({e})"))?;
        let ids = subordinate_ids()?;
        let userns = UserNamespace::subordinate(&ids)
            .map_err(|e| format!("cannot make the sandboxes' user namespace: {e}"))?;
        Ok((fuse_overlayfs, userns))
    }

    /// The sandboxes' user namespace.
    pub(crate) fn userns(&self) -> &Arc<UserNamespace> {
        &self.userns
    }

    /// The `fuse-overlayfs` binary.
    pub(crate) fn fuse_overlayfs(&self) -> &Path {
        &self.fuse_overlayfs
    }

    /// Where launches stage their mounts.
    pub(crate) fn stage_dir(&self) -> &Path {
        &self.stage_dir
    }

    /// The directory holding the agent binary (as [`AGENT_FILE`]).
    pub(crate) fn agent_dir(&self) -> &Path {
        &self.agent_dir
    }

    /// Run `program` with `args` as root of the sandboxes' namespace (which
    /// owns every file a sandbox made); fails with its stderr.
    pub(crate) fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> io::Result<()> {
        run_in(&self.userns, program, args)
    }

    /// Delete `path` and everything below it, whoever inside made it.
    pub(crate) fn remove_tree(&self, path: &Path) -> io::Result<()> {
        if std::fs::symlink_metadata(path).is_err() {
            return Ok(());
        }
        remove_tree_in(&self.userns, path)
    }

    /// Copy the tree `from` to `to` (which must not exist) with owners,
    /// modes, whiteouts and extended attributes.
    pub(crate) fn copy_tree(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.run(
            "cp",
            &[
                "-a".as_ref(),
                "--no-target-directory".as_ref(),
                from.as_os_str(),
                to.as_os_str(),
            ],
        )
    }

    /// Copy the upper layers of a stopped or frozen sandbox (`upper`, a
    /// tree per directory) into the new layer directory `dest`, which
    /// stays the server's own (it writes the layer's metadata there).
    pub(crate) fn capture(&self, upper: &Path, dest: &Path) -> io::Result<()> {
        self.copy_tree(upper, dest)?;
        self.run("chown", &["0:0".as_ref(), dest.as_os_str()])
    }

    /// Give the server's files under `path` to in-sandbox root (see
    /// [`stored_id`]): what the server made for its layers.
    pub(crate) fn give_to_sandbox_root(&self, path: &Path) -> io::Result<()> {
        let to = format!("{STORED_ROOT}:{STORED_ROOT}");
        self.run(
            "chown",
            &[
                "-hR".as_ref(),
                "--from=0:0".as_ref(),
                to.as_ref(),
                path.as_os_str(),
            ],
        )?;
        // Entries the server made with other groups (the account files).
        let to = STORED_ROOT.to_string();
        self.run(
            "chown",
            &[
                "-hR".as_ref(),
                "--from=0".as_ref(),
                to.as_ref(),
                path.as_os_str(),
            ],
        )
    }
}

/// The file an adopted layer's directory gets (see [`Rootless::adopt_layer`]).
const ADOPTED: &str = "rootless-owners";

impl Rootless {
    /// Make a layer the server unpacked or wrote as its own user usable
    /// in sandboxes, once: `tree` (in the directory `home`) goes to
    /// in-sandbox root, and the entries `home`'s
    /// [`OWNERS_FILE`](crate::image::OWNERS_FILE) lists to their owners.
    pub(crate) fn adopt_layer(&self, home: &Path, tree: &Path) -> io::Result<()> {
        let stamp = home.join(ADOPTED);
        if stamp.exists() {
            return Ok(());
        }
        self.give_to_sandbox_root(tree)?;
        let list = home.join(crate::image::OWNERS_FILE);
        if let Ok(raw) = std::fs::read(&list) {
            let mapped = home.join(".owners-mapped");
            std::fs::write(&mapped, stored_owners(&raw))?;
            self.run(
                "sh",
                &[
                    "-c".as_ref(),
                    r#"cd "$1" && xargs -0 -n 2 -r chown -h < "$2""#.as_ref(),
                    "sh".as_ref(),
                    tree.as_os_str(),
                    mapped.as_os_str(),
                ],
            )?;
            let _ = std::fs::remove_file(&mapped);
        }
        std::fs::write(stamp, b"")
    }
}

/// An owners list (`uid:gid`, NUL, path, NUL, …) with its ids as stored
/// (see [`stored_id`]).
fn stored_owners(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut fields = raw.split(|b| *b == 0);
    while let (Some(owner), Some(path)) = (fields.next(), fields.next()) {
        let owner = String::from_utf8_lossy(owner);
        let Some((uid, gid)) = owner.split_once(':') else {
            continue;
        };
        let (Ok(uid), Ok(gid)) = (uid.parse::<u32>(), gid.parse::<u32>()) else {
            continue;
        };
        if uid >= ID_COUNT || gid >= ID_COUNT || path.is_empty() {
            continue;
        }
        out.extend_from_slice(format!("{}:{}\0", stored_id(uid), stored_id(gid)).as_bytes());
        out.extend_from_slice(path);
        out.push(0);
    }
    out
}

/// The subordinate ranges of the server's user (at least [`ID_COUNT`] ids
/// each) and the helpers that map them, or why they are not usable.
/// Run `program` with `args` as root of `userns`; fails with its stderr.
fn run_in(userns: &UserNamespace, program: &str, args: &[&std::ffi::OsStr]) -> io::Result<()> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: the hook only makes async-signal-safe system calls.
    unsafe { command.pre_exec(userns.enter_hook()) };
    let out = command.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Delete `path` as a command-line tool working on a data directory may (not through a
/// running server): plainly, and where that is refused to an unprivileged user, as root
/// of a namespace mapping this user's subordinate ids, as its server does. Sandboxes of
/// an unprivileged server leave files of those ids in snapshots, templates and image
/// layers.
pub(crate) fn remove_tree_of_sandboxes(path: &Path) -> io::Result<()> {
    let refused = match std::fs::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => e,
        Err(e) => return Err(e),
    };
    if rustix::process::geteuid().is_root() {
        return Err(refused);
    }
    let userns = subordinate_ids()
        .and_then(|ids| {
            UserNamespace::subordinate(&ids)
                .map_err(|e| format!("cannot make the sandboxes' user namespace: {e}"))
        })
        .map_err(|why| {
            io::Error::new(
                refused.kind(),
                format!("{refused}, and not as the sandboxes' namespace either: {why}"),
            )
        })?;
    remove_tree_in(&userns, path)
}

/// `rm -rf` of `path` (not crossing mounts) as root of `userns`.
fn remove_tree_in(userns: &UserNamespace, path: &Path) -> io::Result<()> {
    run_in(
        userns,
        "rm",
        &[
            "-rf".as_ref(),
            "--one-file-system".as_ref(),
            path.as_os_str(),
        ],
    )
}

fn subordinate_ids() -> Result<SubordinateIds, String> {
    let newuidmap = crate::edge::server::find_in_path("newuidmap")
        .ok_or("newuidmap is not installed (apt-get install uidmap)")?;
    let newgidmap = crate::edge::server::find_in_path("newgidmap")
        .ok_or("newgidmap is not installed (apt-get install uidmap)")?;
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let name = user_name(uid);
    let group = group_name(gid);
    let range = |file: &str, name: Option<&str>, id: u32| -> Result<u32, String> {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        subordinate_start(&text, name, id).ok_or_else(|| {
            format!(
                "{file} gives {} no range of {ID_COUNT} ids (add one, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER`)",
                name.map_or_else(|| id.to_string(), str::to_owned)
            )
        })
    };
    Ok(SubordinateIds {
        sub_uid: range("/etc/subuid", name.as_deref(), uid)?,
        sub_gid: range("/etc/subgid", group.as_deref().or(name.as_deref()), gid)?,
        newuidmap,
        newgidmap,
    })
}

/// The start of the first range of at least [`ID_COUNT`] ids that `text`
/// (the format of `/etc/subuid`: `owner:start:count` lines, the owner a
/// name or a number) gives `name` or `id`.
fn subordinate_start(text: &str, name: Option<&str>, id: u32) -> Option<u32> {
    let id = id.to_string();
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let owner = fields.next()?;
        let start: u32 = fields.next()?.parse().ok()?;
        let count: u32 = fields.next()?.parse().ok()?;
        let ours = owner == id || Some(owner) == name;
        (ours && count >= ID_COUNT && start.checked_add(ID_COUNT).is_some()).then_some(start)
    })
}

/// The login name of `uid`, from `/etc/passwd`.
fn user_name(uid: u32) -> Option<String> {
    name_in("/etc/passwd", uid)
}

/// The name of group `gid`, from `/etc/group`.
fn group_name(gid: u32) -> Option<String> {
    name_in("/etc/group", gid)
}

/// The name of the entry with id `id` (third field) of a passwd-like file.
fn name_in(file: &str, id: u32) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let id = id.to_string();
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == id).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_are_found_by_name_or_id() {
        let text = "alice:100000:65536\n1001:200000:70000\nbob:300000:1000\n";
        assert_eq!(subordinate_start(text, Some("alice"), 1000), Some(100_000));
        assert_eq!(subordinate_start(text, Some("carol"), 1001), Some(200_000));
        // Too small a range is no range.
        assert_eq!(subordinate_start(text, Some("bob"), 1002), None);
        assert_eq!(subordinate_start("garbage\n:1:2\n", Some("x"), 1), None);
    }

    #[test]
    fn owners_lists_are_stored_with_root_as_the_mapped_nobody() {
        let raw = b"0:1000\x00./a\x001000:1000\x00./home/user\x00bad\x00./b\x0070000:1\x00./c\x00";
        assert_eq!(
            stored_owners(raw),
            b"65534:1000\x00./a\x001000:1000\x00./home/user\x00".to_vec()
        );
    }

    #[test]
    fn root_is_stored_as_the_mapped_nobody() {
        assert_eq!(stored_id(0), STORED_ROOT);
        assert_eq!(stored_id(1000), 1000);
        let (stored, rest) = ID_MAPPING.split_once(':').unwrap();
        assert_eq!(stored, STORED_ROOT.to_string());
        assert!(rest.starts_with("0:1:"));
    }
}
