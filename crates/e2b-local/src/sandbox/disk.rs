//! A sandbox's writable state on a filesystem of its own.
//!
//! On a root server whose host has loop devices and `mkfs.ext4`, every new
//! sandbox keeps its `/home/user` and `/tmp` in one ext4 image
//! (`disk.img` in its directory). The child that becomes bubblewrap mounts
//! the image through a loop device in its private mount namespace (see
//! [`stage`](super::stage)); nothing is mounted in the server's namespace.
//! This gives every sandbox:
//!
//! - a disk-usage cap, the image's size: filling it fails with "No space
//!   left on device" in that sandbox only, never on the host;
//! - a mount table without host paths: the roots of its mounts are paths
//!   inside its own filesystem;
//! - snapshots and forks as the copy of one sparse file, taken while the
//!   filesystem is frozen.
//!
//! Images are sparse: a new sandbox costs the few MiB of its filesystem's
//! metadata, copied from a blank image made once per size.

#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::layout::USER_ID;
use super::userns::UserNamespace;

/// The image file in a sandbox's directory (and in a snapshot's `fs/`).
pub(crate) const IMAGE_FILE: &str = "disk.img";
/// The smallest image that holds an ext4 filesystem with a journal.
pub(crate) const MIN_SIZE: u64 = 16 * 1024 * 1024;
/// Copies move this much at a time between deadline checks.
const COPY_CHUNK: u64 = 64 * 1024 * 1024;

/// The server's sandbox disks: how big, and the blank image new ones copy.
#[derive(Debug)]
pub(crate) struct Disks {
    blank: PathBuf,
    size: u64,
}

impl Disks {
    /// Make (or reuse) the blank image of `size` bytes in `dir`. Fails with
    /// the reason when this host cannot give sandboxes their own disks.
    pub(crate) fn prepare(dir: &Path, size: u64) -> Result<Self, String> {
        if size < MIN_SIZE {
            return Err(format!(
                "a sandbox disk needs at least {} MiB",
                MIN_SIZE >> 20
            ));
        }
        let mkfs = host_support()?;
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let blank = dir.join(format!("blank-{}m.img", size >> 20));
        if !blank.is_file() {
            make_blank(&mkfs, dir, &blank, size)
                .map_err(|e| format!("cannot make a blank sandbox disk: {e}"))?;
        }
        Ok(Self { blank, size })
    }

    /// The size of every sandbox's disk, in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Give a new sandbox its empty disk at `image`.
    pub(crate) fn create(&self, image: &Path) -> io::Result<()> {
        copy_sparse(&self.blank, image, None)
    }
}

/// Whether this host lets the server give sandboxes disks of their own
/// (root, loop devices, `mkfs.ext4`): the `mkfs.ext4` to use, or why not.
pub(crate) fn host_support() -> Result<PathBuf, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("sandbox disks need a root server".to_owned());
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
        .map_err(|e| format!("no loop devices (/dev/loop-control: {e})"))?;
    find_mkfs().ok_or_else(|| "mkfs.ext4 not found (install e2fsprogs)".to_owned())
}

fn find_mkfs() -> Option<PathBuf> {
    crate::edge::server::find_in_path("mkfs.ext4").or_else(|| {
        ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
}

/// An ext4 image with `home` (owned by `user`) and `tmp` (sticky, world
/// writable), as seen inside the sandboxes' user namespace.
fn make_blank(mkfs: &Path, dir: &Path, blank: &Path, size: u64) -> io::Result<()> {
    let work = tempfile::Builder::new().prefix(".blank-").tempdir_in(dir)?;
    let content = work.path().join("content");
    let home = content.join("home");
    let tmp = content.join("tmp");
    fs::create_dir_all(&home)?;
    fs::create_dir(&tmp)?;
    let root_id = UserNamespace::host_id(0);
    let user_id = UserNamespace::host_id(USER_ID);
    std::os::unix::fs::chown(&content, Some(root_id), Some(root_id))?;
    std::os::unix::fs::chown(&home, Some(user_id), Some(user_id))?;
    std::os::unix::fs::chown(&tmp, Some(root_id), Some(root_id))?;
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777))?;
    let image = work.path().join("image");
    File::create(&image)?.set_len(size)?;
    // Inode tables are zeroed now (as holes), so the kernel never fills
    // them in the background; the journal is left unwritten.
    let out = Command::new(mkfs)
        .args(["-q", "-F", "-m", "0", "-E"])
        .arg(format!(
            "lazy_itable_init=0,lazy_journal_init=1,root_owner={root_id}:{root_id}"
        ))
        .arg("-d")
        .arg(&content)
        .arg(&image)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} failed: {}",
            mkfs.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    fs::rename(&image, blank)
}

/// Copy the file `from` to `to` (which must not exist), keeping its holes,
/// giving up at `deadline`.
pub(crate) fn copy_sparse(from: &Path, to: &Path, deadline: Option<Instant>) -> io::Result<()> {
    let copied = copy_data(from, to, deadline);
    if let Err(e) = &copied
        && e.kind() != io::ErrorKind::AlreadyExists
    {
        // A partial image must not pass for a disk.
        let _ = fs::remove_file(to);
    }
    copied
}

fn copy_data(from: &Path, to: &Path, deadline: Option<Instant>) -> io::Result<()> {
    let src = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(from)?;
    let dst = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    let len = src.metadata()?.len();
    dst.set_len(len)?;
    let mut offset = 0u64;
    while offset < len {
        if deadline.is_some_and(|d| Instant::now() > d) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "copying the sandbox's disk took too long",
            ));
        }
        let data = match rustix::fs::seek(&src, rustix::fs::SeekFrom::Data(offset)) {
            Ok(at) => at,
            // Nothing but a hole after `offset`.
            Err(rustix::io::Errno::NXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let hole = rustix::fs::seek(&src, rustix::fs::SeekFrom::Hole(data))?.min(len);
        let mut at = data;
        while at < hole {
            let want = usize::try_from((hole - at).min(COPY_CHUNK)).unwrap_or(usize::MAX);
            let mut src_at = at;
            let mut dst_at = at;
            let n = rustix::fs::copy_file_range(
                &src,
                Some(&mut src_at),
                &dst,
                Some(&mut dst_at),
                want,
            )?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the disk image shrank while it was copied",
                ));
            }
            at += n as u64;
        }
        offset = hole;
    }
    Ok(())
}

/// A loop device backed by a sandbox's image, held open (it detaches by
/// itself once nothing holds or mounts it).
#[derive(Debug)]
pub(crate) struct LoopDevice {
    _device: File,
    path: PathBuf,
}

impl LoopDevice {
    /// The loop device of `image`: the one already backed by it (a mount of
    /// the image may outlive its sandbox's processes for a moment, and two
    /// devices must never mount one image), else a free one set up now.
    pub(crate) fn attach(image: &Path) -> io::Result<Self> {
        let image = fs::canonicalize(image)?;
        if let Some(path) = attached_to(&image) {
            let device = open_rw(&path)?;
            return Ok(Self {
                _device: device,
                path,
            });
        }
        let control = open_rw(Path::new("/dev/loop-control"))?;
        let backing = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&image)?;
        let mut last = io::Error::other("no free loop device");
        for _ in 0..16 {
            // SAFETY: an ioctl without argument on the control device.
            let n = unsafe {
                libc::ioctl(
                    control.as_raw_fd(),
                    linux_raw_sys::loop_device::LOOP_CTL_GET_FREE as _,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let path = PathBuf::from(format!("/dev/loop{n}"));
            let device = open_rw(&path)?;
            // SAFETY: an all-zero `loop_config` is valid (plain integers and arrays).
            let mut config: linux_raw_sys::loop_device::loop_config = unsafe { std::mem::zeroed() };
            config.fd = u32::try_from(backing.as_raw_fd()).map_err(io::Error::other)?;
            config.info.lo_flags = linux_raw_sys::loop_device::LO_FLAGS_AUTOCLEAR as u32;
            // SAFETY: LOOP_CONFIGURE reads one `loop_config`, which outlives the call.
            let ret = unsafe {
                libc::ioctl(
                    device.as_raw_fd(),
                    linux_raw_sys::loop_device::LOOP_CONFIGURE as _,
                    &config,
                )
            };
            if ret == 0 {
                return Ok(Self {
                    _device: device,
                    path,
                });
            }
            last = io::Error::last_os_error();
            // Another launch took this device first: try the next free one.
            if last.raw_os_error() != Some(libc::EBUSY) {
                return Err(last);
            }
        }
        Err(last)
    }

    /// The device node, `/dev/loopN`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// The loop device whose backing file is `image`, if any.
fn attached_to(image: &Path) -> Option<PathBuf> {
    fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            if !name.starts_with("loop") {
                return None;
            }
            let backing = fs::read_to_string(entry.path().join("loop/backing_file")).ok()?;
            (OsStr::new(backing.trim_end_matches('\n')) == image.as_os_str())
                .then(|| PathBuf::from("/dev").join(name))
        })
}

/// A mounted sandbox filesystem frozen for a consistent copy of its image;
/// thawed when dropped.
#[derive(Debug)]
pub(crate) struct Frozen(File);

/// Freeze the filesystem mounted at `root` (its writes wait until thawed).
pub(crate) fn freeze(root: &Path) -> io::Result<Frozen> {
    let dir = open_mount_root(root)?;
    // SAFETY: FIFREEZE takes no argument beyond the descriptor.
    let ret = unsafe { libc::ioctl(dir.as_raw_fd(), linux_raw_sys::ioctl::FIFREEZE as _, 0) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Frozen(dir))
}

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: FITHAW takes no argument beyond the descriptor.
        let ret = unsafe { libc::ioctl(self.0.as_raw_fd(), linux_raw_sys::ioctl::FITHAW as _, 0) };
        if ret != 0 {
            tracing::error!(error = %io::Error::last_os_error(), "cannot thaw a sandbox's filesystem");
        }
    }
}

/// (used, total) bytes of the filesystem mounted at `root`.
pub(crate) fn usage(root: &Path) -> io::Result<(u64, u64)> {
    let dir = open_mount_root(root)?;
    let st = rustix::fs::fstatvfs(&dir)?;
    let used = st.f_blocks.saturating_sub(st.f_bfree) * st.f_frsize;
    Ok((used, st.f_blocks * st.f_frsize))
}

/// (allocated, apparent) bytes of an image that is not mounted.
pub(crate) fn image_usage(image: &Path) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = fs::symlink_metadata(image)?;
    Ok((meta.blocks() * 512, meta.len()))
}

/// The root directory of a mounted sandbox filesystem, never through a symlink.
fn open_mount_root(root: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(root)
}

#[cfg(test)]
mod tests {
    use std::io::{Seek as _, SeekFrom, Write as _};
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    #[test]
    fn sparse_copies_keep_data_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        let mut f = File::create(&from).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all(b"head").unwrap();
        f.seek(SeekFrom::Start(40 << 20)).unwrap();
        f.write_all(b"middle").unwrap();
        drop(f);
        let to = dir.path().join("to");
        copy_sparse(&from, &to, None).unwrap();
        let copied = fs::read(&to).unwrap();
        assert_eq!(copied.len(), 64 << 20);
        assert_eq!(&copied[..4], b"head");
        assert_eq!(&copied[40 << 20..(40 << 20) + 6], b"middle");
        // The holes stayed holes: far less than 64 MiB is allocated.
        assert!(fs::metadata(&to).unwrap().blocks() * 512 < 8 << 20);
        // An existing target is never overwritten.
        assert_eq!(
            copy_sparse(&from, &to, None).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn too_small_disks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Disks::prepare(dir.path(), 1 << 20).unwrap_err();
        assert!(err.contains("at least"), "{err}");
    }

    #[test]
    fn a_blank_disk_mounts_with_home_and_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let disks = match Disks::prepare(dir.path(), 64 << 20) {
            Ok(d) => d,
            // Unprivileged, or a host without loop devices: nothing to test.
            Err(why) if !rustix::process::geteuid().is_root() || why.contains("loop") => return,
            Err(why) => panic!("{why}"),
        };
        let image = dir.path().join(IMAGE_FILE);
        disks.create(&image).unwrap();
        assert!(fs::metadata(&image).unwrap().blocks() * 512 < 16 << 20);
        let device = LoopDevice::attach(&image).unwrap();
        // Attaching again finds the same device.
        assert_eq!(LoopDevice::attach(&image).unwrap().path(), device.path());
        let out = Command::new("sh")
            .arg("-c")
            .arg("unshare -m sh -c 'mount -t ext4 \"$0\" \"$1\" && stat -c \"%n %u %a\" \"$1\"/home \"$1\"/tmp && df -B1 --output=size \"$1\" | tail -1' \"$0\" \"$1\"")
            .arg(device.path())
            .arg(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let user = UserNamespace::host_id(USER_ID);
        let root = UserNamespace::host_id(0);
        assert!(text.contains(&format!("/home {user} 755")), "{text}");
        assert!(text.contains(&format!("/tmp {root} 1777")), "{text}");
    }
}
