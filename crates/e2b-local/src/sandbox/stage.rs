//! Mount sources staged where a sandbox's user namespace can reach them.
//!
//! A root server runs every sandbox in a user namespace whose root is an
//! unprivileged host id (see [`userns`](super::userns)). bubblewrap sets the
//! sandbox's mounts up from inside that namespace, so it cannot traverse host
//! directories only host root may enter: the server's data directory, or a
//! checkout and an interpreter under `/root`. Loosening those directories'
//! permissions would open them to every host user.
//!
//! Instead, the child that becomes bubblewrap first (still host root, in its
//! own new mount namespace, before it joins the user namespace) mounts a
//! private tmpfs on the stage directory and bind-mounts each source into it
//! under a number. bubblewrap is given those staged paths. The staging lives
//! and dies with that child's mount namespace: nothing changes on the host,
//! concurrent launches never see each other's stage, and nothing is left
//! behind when the sandbox ends.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// Where a root server stages mount sources (created empty at start; only
/// ever mounted on inside the spawner thread's mount namespace, see
/// [`enter_spawner_namespace`]).
pub(crate) const STAGE_DIR: &str = "/run/e2b-local-stage";
/// The agent binary's copy, in the spawner's stage.
pub(crate) const AGENT: &str = "/run/e2b-local-stage/agent";
/// Where each launch stages its sources (in its own mount namespace).
pub(crate) const LAUNCH_DIR: &str = "/run/e2b-local-stage/launch";

/// Give the calling thread (the spawner, whose namespaces every sandbox
/// starts from) a mount namespace of its own, with a tmpfs on
/// [`STAGE_DIR`] holding a copy of the agent binary at [`AGENT`]: the
/// sandboxes execute that copy, so their mounts never name where the agent
/// lives on the host. Host mounts made later still propagate into it.
pub(crate) fn enter_spawner_namespace(agent_binary: &Path) -> io::Result<()> {
    let stage = cstring(Path::new(STAGE_DIR))?;
    // SAFETY: plain system calls on NUL-terminated strings; `unshare`
    // changes only the calling thread's mount namespace (and its
    // filesystem context, which the spawner does not share).
    unsafe {
        own_mount_namespace(libc::MS_SLAVE)?;
        mount_tmpfs(&stage, libc::MS_NOSUID | libc::MS_NODEV, c"mode=0755")?;
    }
    std::fs::copy(agent_binary, AGENT)?;
    std::fs::set_permissions(AGENT, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    std::fs::create_dir(LAUNCH_DIR)
}

/// What to stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A host file or directory, bound as it is (its host path stays the
    /// root of the mount).
    Bind(PathBuf),
    /// A host directory shown read-only through an overlay, so that the
    /// sandbox's mount table names no host path.
    Hidden(PathBuf),
    /// An ext4 filesystem on a block device (a sandbox's disk), mounted
    /// without devices or set-id programs.
    Ext4(PathBuf),
    /// A directory of the server holding a sandbox's upper layers, in place
    /// of a disk (unprivileged servers, see [`rootless`](super::rootless)).
    UpperDir(PathBuf),
    /// A writable tree of the sandbox's root filesystem: an overlay of
    /// read-only host directories or layers (idmapped into the sandboxes'
    /// user namespace), with its upper layer on the sandbox's disk (an
    /// [`Source::Ext4`] planned before it).
    Writable(WritableTree),
}

/// One overlay of a writable root filesystem (see [`Source::Writable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WritableTree {
    /// The tree's name on the disk: its upper layer is `upper/<name>` and
    /// its overlay work directory `work/<name>`.
    pub(crate) name: &'static str,
    /// The read-only layers, topmost first.
    pub(crate) layers: Vec<PathBuf>,
    /// Mode of the upper layer's root when it is made (the tree's root
    /// directory as the sandbox sees it, as long as it has not changed it).
    pub(crate) mode: u32,
    /// Owner (an id inside the sandbox) of the upper layer's root when it
    /// is made.
    pub(crate) owner: u32,
    /// Directories made in the upper layer when missing (relative path,
    /// mode), owned by in-sandbox root: they override the lower layers'
    /// attributes of the same directory.
    pub(crate) ensure_dirs: Vec<(PathBuf, u32)>,
}

/// The disk's directory of the overlays' upper layers.
pub(crate) const UPPER: &str = "upper";
/// The disk's directory of the overlays' work directories.
const WORK: &str = "work";

/// The name under the stage directory of an [`Source::Ext4`] mount.
pub(crate) const DISK: &str = "disk";
/// An empty directory of the stage, the second layer of hidden overlays.
const EMPTY: &str = "empty";

/// One staging step.
#[derive(Debug)]
enum Step {
    Bind {
        source: CString,
        staged: CString,
        is_dir: bool,
    },
    Overlay {
        staged: CString,
        options: CString,
    },
    Ext4 {
        device: CString,
        staged: CString,
    },
    Idmapped {
        source: CString,
        staged: CString,
    },
    /// Make a directory (owned by `id`, as the stage sees ids) unless it
    /// exists.
    Dir {
        path: CString,
        mode: u32,
        id: u32,
    },
    WritableOverlay {
        staged: CString,
        options: CString,
    },
    /// Mount `fuse-overlayfs` with `options` on `staged`: a daemon the
    /// launch starts, which ends with it.
    Fuse {
        staged: CString,
        options: CString,
    },
}

/// How the stage makes writable trees.
#[derive(Clone, Copy, Debug)]
enum Overlays<'a> {
    /// Kernel overlays over layers idmapped into the user namespace `fd`,
    /// whose root is the host id `root` (root servers; the stage runs as
    /// host root).
    Kernel { userns: RawFd, root: u32 },
    /// `fuse-overlayfs` (the binary) over plain binds (unprivileged
    /// servers; the stage runs as root of the sandboxes' namespace).
    Fuse(&'a Path),
}

/// The sources of one launch, staged by [`Stage::hook`].
#[derive(Debug)]
pub(crate) struct Stage {
    dir: CString,
    empty: CString,
    steps: Vec<Step>,
    /// The user namespace idmapped mounts map into.
    userns: Option<RawFd>,
    /// The `fuse-overlayfs` binary of [`Step::Fuse`].
    fuse: Option<CString>,
}

impl Stage {
    /// Plan to stage `sources` under `dir`; returns the plan and each
    /// source's staged path, in order.
    /// `userns` is needed by [`Source::Writable`] sources: the user
    /// namespace (and the host id of its root) their layers are idmapped into.
    pub(crate) fn plan(
        dir: &Path,
        sources: &[Source],
        userns: Option<(RawFd, u32)>,
    ) -> io::Result<(Self, Vec<PathBuf>)> {
        let overlays = userns.map(|(userns, root)| Overlays::Kernel { userns, root });
        Self::plan_with(dir, sources, overlays)
    }

    /// [`plan`](Self::plan) for an unprivileged server: writable trees are
    /// `fuse_overlayfs` mounts, and the hook must run as root of the
    /// sandboxes' namespace (see [`rootless`](super::rootless)).
    pub(crate) fn plan_rootless(
        dir: &Path,
        sources: &[Source],
        fuse_overlayfs: &Path,
    ) -> io::Result<(Self, Vec<PathBuf>)> {
        Self::plan_with(dir, sources, Some(Overlays::Fuse(fuse_overlayfs)))
    }

    fn plan_with(
        dir: &Path,
        sources: &[Source],
        overlays: Option<Overlays<'_>>,
    ) -> io::Result<(Self, Vec<PathBuf>)> {
        let mut steps = Vec::with_capacity(sources.len());
        let mut staged_paths = Vec::with_capacity(sources.len());
        let mut disk = None;
        for (n, source) in sources.iter().enumerate() {
            match source {
                Source::Bind(path) => {
                    let staged = dir.join(n.to_string());
                    steps.push(Step::Bind {
                        source: cstring(path)?,
                        staged: cstring(&staged)?,
                        is_dir: std::fs::metadata(path)?.is_dir(),
                    });
                    staged_paths.push(staged);
                }
                Source::Hidden(path) => {
                    let lower = dir.join(format!("{n}-lower"));
                    let staged = dir.join(n.to_string());
                    steps.push(Step::Bind {
                        source: cstring(path)?,
                        staged: cstring(&lower)?,
                        is_dir: true,
                    });
                    // Relative to the stage directory (the hook works
                    // there), so the sandbox's mount table names no path.
                    let options = format!("lowerdir={n}-lower:{EMPTY}");
                    if options.contains(',') {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "stage paths must not contain commas",
                        ));
                    }
                    steps.push(Step::Overlay {
                        staged: cstring(&staged)?,
                        options: CString::new(options).map_err(|_| nul())?,
                    });
                    staged_paths.push(staged);
                }
                Source::Ext4(device) => {
                    let staged = dir.join(DISK);
                    steps.push(Step::Ext4 {
                        device: cstring(device)?,
                        staged: cstring(&staged)?,
                    });
                    disk = Some(staged.clone());
                    staged_paths.push(staged);
                }
                Source::UpperDir(path) => {
                    let staged = dir.join(DISK);
                    steps.push(Step::Bind {
                        source: cstring(path)?,
                        staged: cstring(&staged)?,
                        is_dir: true,
                    });
                    disk = Some(staged.clone());
                    staged_paths.push(staged);
                }
                Source::Writable(tree) => {
                    let Some(disk) = &disk else {
                        return Err(invalid("a writable tree needs the sandbox's disk first"));
                    };
                    let Some(overlays) = overlays else {
                        return Err(invalid(
                            "a writable tree needs the sandboxes' user namespace",
                        ));
                    };
                    // The id a directory owned by the in-sandbox `owner` is
                    // made with, as the stage sees ids.
                    let id_of = |owner: u32| match overlays {
                        Overlays::Kernel { root, .. } => root + owner,
                        Overlays::Fuse(_) => super::rootless::stored_id(owner),
                    };
                    let mut lowers = Vec::with_capacity(tree.layers.len());
                    for (i, layer) in tree.layers.iter().enumerate() {
                        let staged = dir.join(format!("{n}-{i}"));
                        steps.push(match overlays {
                            Overlays::Kernel { .. } => Step::Idmapped {
                                source: cstring(layer)?,
                                staged: cstring(&staged)?,
                            },
                            Overlays::Fuse(_) => Step::Bind {
                                source: cstring(layer)?,
                                staged: cstring(&staged)?,
                                is_dir: true,
                            },
                        });
                        lowers.push(staged.display().to_string());
                    }
                    let upper = disk.join(UPPER).join(tree.name);
                    let work = disk.join(WORK).join(tree.name);
                    for (path, mode, owner) in [
                        (disk.join(UPPER), 0o755, 0),
                        (upper.clone(), tree.mode, tree.owner),
                        (disk.join(WORK), 0o700, 0),
                        (work.clone(), 0o700, 0),
                    ] {
                        steps.push(Step::Dir {
                            path: cstring(&path)?,
                            mode,
                            id: id_of(owner),
                        });
                    }
                    for (path, mode) in &tree.ensure_dirs {
                        let mut at = upper.clone();
                        for part in path.components() {
                            at.push(part);
                            steps.push(Step::Dir {
                                path: cstring(&at)?,
                                mode: *mode,
                                id: id_of(0),
                            });
                        }
                    }
                    let staged = dir.join(n.to_string());
                    let mut options = format!(
                        "lowerdir={},upperdir={},workdir={}",
                        lowers.join(":"),
                        upper.display(),
                        work.display()
                    );
                    if lowers.iter().any(|l| l.contains([',', ':']))
                        || options.matches(',').count() != 2
                    {
                        return Err(invalid("stage paths must not contain commas or colons"));
                    }
                    let staged_c = cstring(&staged)?;
                    steps.push(match overlays {
                        Overlays::Kernel { .. } => Step::WritableOverlay {
                            staged: staged_c,
                            options: CString::new(options).map_err(|_| nul())?,
                        },
                        Overlays::Fuse(_) => {
                            let map = super::rootless::ID_MAPPING;
                            options.push_str(&format!(",uidmapping={map},gidmapping={map}"));
                            Step::Fuse {
                                staged: staged_c,
                                options: CString::new(options).map_err(|_| nul())?,
                            }
                        }
                    });
                    staged_paths.push(staged);
                }
            }
        }
        Ok((
            Self {
                dir: cstring(dir)?,
                empty: cstring(&dir.join(EMPTY))?,
                steps,
                userns: match overlays {
                    Some(Overlays::Kernel { userns, .. }) => Some(userns),
                    _ => None,
                },
                fuse: match overlays {
                    Some(Overlays::Fuse(binary)) => Some(cstring(binary)?),
                    _ => None,
                },
            },
            staged_paths,
        ))
    }

    /// A `pre_exec` hook that stages every source. Run it in the forked
    /// child while it is still host root, before it joins the sandbox's user
    /// namespace. It only makes async-signal-safe system calls.
    pub(crate) fn hook(self) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
        move || {
            // SAFETY: plain system calls on NUL-terminated strings prepared
            // before the fork; nothing is allocated here.
            unsafe {
                own_mount_namespace(libc::MS_PRIVATE)?;
                mount_tmpfs(
                    &self.dir,
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    c"mode=0755,size=64k",
                )?;
                check(libc::mkdir(self.empty.as_ptr(), 0o755))?;
                check(libc::chdir(self.dir.as_ptr()))?;
                for step in &self.steps {
                    match step {
                        Step::Bind {
                            source,
                            staged,
                            is_dir,
                        } => {
                            make_mount_point(staged, *is_dir)?;
                            check(libc::mount(
                                source.as_ptr(),
                                staged.as_ptr(),
                                std::ptr::null(),
                                libc::MS_BIND | libc::MS_REC,
                                std::ptr::null(),
                            ))?;
                        }
                        Step::Overlay { staged, options } => {
                            make_mount_point(staged, true)?;
                            check(libc::mount(
                                c"overlay".as_ptr(),
                                staged.as_ptr(),
                                c"overlay".as_ptr(),
                                libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
                                options.as_ptr().cast(),
                            ))?;
                        }
                        Step::Idmapped { source, staged } => {
                            make_mount_point(staged, true)?;
                            let userns = self.userns.unwrap_or(-1);
                            super::idmap::bind_idmapped(source, staged, userns)?;
                        }
                        Step::Dir { path, mode, id } => {
                            if libc::mkdir(path.as_ptr(), 0o700) == 0 {
                                check(libc::chown(path.as_ptr(), *id, *id))?;
                                check(libc::chmod(path.as_ptr(), *mode))?;
                            } else if *libc::__errno_location() != libc::EEXIST {
                                return Err(io::Error::last_os_error());
                            }
                        }
                        Step::WritableOverlay { staged, options } => {
                            make_mount_point(staged, true)?;
                            check(libc::mount(
                                c"overlay".as_ptr(),
                                staged.as_ptr(),
                                c"overlay".as_ptr(),
                                libc::MS_NOSUID | libc::MS_NODEV,
                                options.as_ptr().cast(),
                            ))?;
                        }
                        Step::Fuse { staged, options } => {
                            make_mount_point(staged, true)?;
                            let binary = self.fuse.as_ref().ok_or_else(invalid_static)?;
                            mount_fuse_overlay(binary, options, staged, &self.dir)?;
                        }
                        Step::Ext4 { device, staged } => {
                            make_mount_point(staged, true)?;
                            check(libc::mount(
                                device.as_ptr(),
                                staged.as_ptr(),
                                c"ext4".as_ptr(),
                                libc::MS_NOSUID | libc::MS_NODEV,
                                c"noinit_itable".as_ptr().cast(),
                            ))?;
                        }
                    }
                }
                check(libc::chdir(c"/".as_ptr()))?;
            }
            Ok(())
        }
    }
}

/// Move the calling thread into a new mount namespace whose mounts
/// receive nothing from the host's (`MS_PRIVATE`) or only receive
/// (`MS_SLAVE`).
///
/// # Safety
/// Async-signal-safe.
unsafe fn own_mount_namespace(propagation: libc::c_ulong) -> io::Result<()> {
    // SAFETY: system calls on static NUL-terminated strings.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | propagation,
            std::ptr::null(),
        ))
    }
}

/// Mount a stage tmpfs on `dir`.
///
/// # Safety
/// Async-signal-safe; `dir` is NUL-terminated.
unsafe fn mount_tmpfs(dir: &CString, flags: libc::c_ulong, options: &CStr) -> io::Result<()> {
    // SAFETY: a system call on NUL-terminated strings.
    unsafe {
        check(libc::mount(
            c"e2b-stage".as_ptr(),
            dir.as_ptr(),
            c"tmpfs".as_ptr(),
            flags,
            options.as_ptr().cast(),
        ))
    }
}

/// Create an empty directory or file to mount on.
///
/// # Safety
/// Async-signal-safe; `path` is NUL-terminated.
unsafe fn make_mount_point(path: &CString, is_dir: bool) -> io::Result<()> {
    // SAFETY: system calls on a NUL-terminated path.
    unsafe {
        if is_dir {
            check(libc::mkdir(path.as_ptr(), 0o755))
        } else {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            check(fd)?;
            libc::close(fd);
            Ok(())
        }
    }
}

/// How long a `fuse-overlayfs` mount may take to appear.
const FUSE_MOUNT_DEADLINE_MS: u32 = 10_000;

/// Start `fuse-overlayfs` on `staged` in the foreground, as a child that
/// gets `SIGTERM` when the calling process (which becomes bubblewrap, and
/// lives exactly as long as the sandbox) ends, and wait until its mount is
/// there (`staged` is then on another device than the stage `dir`).
///
/// # Safety
/// Async-signal-safe; all arguments are NUL-terminated.
unsafe fn mount_fuse_overlay(
    binary: &CString,
    options: &CString,
    staged: &CString,
    dir: &CString,
) -> io::Result<()> {
    // SAFETY: fork, then in the child only async-signal-safe calls before
    // execve or _exit; the parent makes plain system calls.
    unsafe {
        let parent = libc::getpid();
        let pid = libc::fork();
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            // Nothing of the launch (bubblewrap's block pipe, the agent's
            // socket) stays open in the daemon.
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if null >= 0 {
                libc::dup2(null, 0);
                libc::dup2(null, 1);
            }
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            let argv = [
                binary.as_ptr(),
                c"-f".as_ptr(),
                c"-o".as_ptr(),
                options.as_ptr(),
                staged.as_ptr(),
                std::ptr::null(),
            ];
            let envp = [std::ptr::null::<libc::c_char>()];
            libc::execve(binary.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
        let mut dir_stat: libc::stat = std::mem::zeroed();
        check(libc::stat(dir.as_ptr(), &mut dir_stat))?;
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        for _ in 0..FUSE_MOUNT_DEADLINE_MS {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::stat(staged.as_ptr(), &mut st) == 0 && st.st_dev != dir_stat.st_dev {
                return Ok(());
            }
            let mut status = 0;
            if libc::waitpid(pid, &mut status, libc::WNOHANG) == pid {
                // (Only an errno survives a failed `pre_exec` hook.)
                return Err(io::Error::from_raw_os_error(libc::ENODEV));
            }
            libc::nanosleep(&pause, std::ptr::null_mut());
        }
        libc::kill(pid, libc::SIGKILL);
        Err(io::Error::from_raw_os_error(libc::ETIMEDOUT))
    }
}

fn invalid_static() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// Create the stage directory (as root, at server start).
pub(crate) fn prepare_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| nul())
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

fn nul() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte")
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt as _;

    use super::*;

    #[test]
    fn a_child_sees_private_sources_at_their_staged_paths() {
        if !rustix::process::geteuid().is_root() {
            return; // Staging mounts is root's; unprivileged servers never stage.
        }
        let tmp = tempfile::tempdir().unwrap();
        let private = tmp.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::write(private.join("file"), "hello").unwrap();
        let stage_dir = tmp.path().join("stage");
        prepare_dir(&stage_dir).unwrap();
        let (stage, paths) = Stage::plan(
            &stage_dir,
            &[
                Source::Bind(private.clone()),
                Source::Bind(private.join("file")),
                Source::Hidden(private.clone()),
            ],
            None,
        )
        .unwrap();
        let hook = stage.hook();
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg("cat \"$0/file\" \"$1\" \"$2/file\"; echo; grep -F \" $2 \" /proc/self/mountinfo")
            .args(&paths);
        // SAFETY: the hook only makes async-signal-safe calls.
        unsafe { cmd.pre_exec(hook) };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let (files, mount) = text.split_once('\n').unwrap();
        assert_eq!(files, "hellohellohello");
        // The hidden directory is an overlay whose root names no host path.
        assert!(
            mount.contains(" / ") && mount.contains(" - overlay "),
            "{mount}"
        );
        assert!(!mount.contains(&*private.to_string_lossy()), "{mount}");
        // Nothing was mounted in the server's own namespace.
        assert_eq!(std::fs::read_dir(&stage_dir).unwrap().count(), 0);
    }
}
