//! The blocking filesystem operations behind the unary RPCs. They run as
//! the requesting user (see `fs_user`), so the kernel decides what the user
//! may see and change; failed calls are answered as `os_error` says. Paths
//! are already resolved; `owner` is who directories the agent creates
//! belong to.

use std::io;
use std::path::{Path, PathBuf};

use e2b_envd::connect::Code;
use e2b_envd::filesystem::EntryInfo;

use super::entry::entry_info;
use crate::agent::paths::{EnsureDirsError, ensure_dirs};
use crate::agent::rpc_error::RpcError;
use crate::agent::users::Users;

fn ensure_dirs_error(e: EnsureDirsError) -> RpcError {
    RpcError::io(&e.os_error(), e.to_string())
}

/// `Stat`.
pub(crate) fn stat(path: &Path, users: &Users) -> Result<EntryInfo, RpcError> {
    entry_info(path, users)
}

/// `MakeDir`: create `path` and its parents; an existing directory is
/// `already_exists`, anything else there `invalid_argument`.
pub(crate) fn make_dir(
    path: &Path,
    owner: Option<(u32, u32)>,
    users: &Users,
) -> Result<EntryInfo, RpcError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(RpcError::new(
                Code::AlreadyExists,
                format!("directory already exists: {}", path.display()),
            ));
        }
        Ok(_) => {
            return Err(RpcError::new(
                Code::InvalidArgument,
                format!(
                    "path already exists but it is not a directory: {}",
                    path.display()
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(RpcError::io(&e, format!("error getting file info: {e}"))),
    }
    ensure_dirs(path, owner).map_err(ensure_dirs_error)?;
    entry_info(path, users)
}

/// `Move`: rename `source` to `destination`, creating the destination's
/// parents.
pub(crate) fn rename(
    source: &Path,
    destination: &Path,
    owner: Option<(u32, u32)>,
    users: &Users,
) -> Result<EntryInfo, RpcError> {
    if let Some(parent) = destination.parent() {
        ensure_dirs(parent, owner).map_err(ensure_dirs_error)?;
    }
    std::fs::rename(source, destination).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            RpcError::new(Code::NotFound, format!("source file not found: {e}"))
        } else {
            RpcError::io(&e, format!("error renaming: {e}"))
        }
    })?;
    entry_info(destination, users)
}

/// `Remove`: delete a file, link or whole tree; a missing path is fine.
pub(crate) fn remove(path: &Path) -> Result<(), RpcError> {
    let result = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RpcError::io(
            &e,
            format!("error removing file or directory: {e}"),
        )),
    }
}

/// `ListDir`: entries below `requested` down to `depth` levels (0 means 1),
/// without the directory itself. The requested path itself may be a symlink
/// (it is followed); symlinks below it are listed but not descended into.
/// Entry paths are reported under `requested`, not under the resolved target.
pub(crate) fn list_dir(
    requested: &Path,
    depth: u32,
    users: &Users,
) -> Result<Vec<EntryInfo>, RpcError> {
    let depth = depth.max(1);
    let resolved = std::fs::canonicalize(requested).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => RpcError::new(Code::NotFound, format!("path not found: {e}")),
        _ if e.raw_os_error() == Some(libc::ELOOP) => RpcError::new(
            Code::FailedPrecondition,
            format!(
                "cyclic symlink or chain >255 links at {:?}",
                requested.display().to_string()
            ),
        ),
        _ => RpcError::io(&e, format!("error resolving symlink: {e}")),
    })?;
    match std::fs::metadata(&resolved) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(RpcError::new(
                Code::InvalidArgument,
                format!("path is not a directory: {}", resolved.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(RpcError::new(
                Code::NotFound,
                format!("directory not found: {e}"),
            ));
        }
        Err(e) => return Err(RpcError::io(&e, format!("error getting file info: {e}"))),
    }
    let mut entries = Vec::new();
    walk(&resolved, requested, 1, depth, users, &mut entries).map_err(|e| {
        RpcError::new(
            e.code,
            format!(
                "error reading directory {}: {}",
                resolved.display(),
                e.message
            ),
        )
    })?;
    Ok(entries)
}

/// Visit the children of `dir` in name order (depth `level`), recursing into
/// real directories while `level < depth`. The requested directory must be
/// readable; below it, what the user may not read or stat is left out.
fn walk(
    dir: &Path,
    reported: &Path,
    level: u32,
    depth: u32,
    users: &Users,
    out: &mut Vec<EntryInfo>,
) -> Result<(), RpcError> {
    let mut children: Vec<(std::ffi::OsString, bool)> = Vec::new();
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        // The directory went away while walking, or the user may not read
        // it: nothing to list.
        Err(e)
            if level > 1
                && matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
        {
            return Ok(());
        }
        Err(e) => return Err(RpcError::io(&e, e.to_string())),
    };
    for child in read {
        let child = child.map_err(|e| RpcError::io(&e, e.to_string()))?;
        let is_dir = child.file_type().map(|t| t.is_dir()).unwrap_or(false);
        children.push((child.file_name(), is_dir));
    }
    children.sort();
    for (name, is_dir) in children {
        let actual: PathBuf = dir.join(&name);
        let shown = reported.join(&name);
        match entry_info(&actual, users) {
            Ok(mut entry) => {
                entry.path = shown.to_string_lossy().into_owned();
                out.push(entry);
            }
            // Removed since it was listed, or the user may not stat it.
            Err(e) if matches!(e.code, Code::NotFound | Code::PermissionDenied) => continue,
            Err(e) => return Err(e),
        }
        if is_dir && level < depth {
            walk(&actual, &shown, level + 1, depth, users, out)?;
        }
    }
    Ok(())
}
