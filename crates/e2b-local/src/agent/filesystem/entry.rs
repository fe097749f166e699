//! `EntryInfo`: what envd reports about a path.
//!
//! Built from `lstat`: name, size, mtime, owner and the permission string
//! describe the entry itself. A symlink additionally reports its resolved
//! target in `symlink_target`, and the target's type and permission bits in
//! `type` and `mode`; a dangling symlink has type `FILE_TYPE_UNSPECIFIED`.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use e2b_envd::connect::Code;
use e2b_envd::filesystem::{EntryInfo, FileType};
use e2b_envd::wkt::Timestamp;

use crate::agent::metadata;
use crate::agent::rpc_error::RpcError;
use crate::agent::users::Users;

const S_IFMT: u32 = 0o170_000;
const S_IFSOCK: u32 = 0o140_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFREG: u32 = 0o100_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;
const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_ISVTX: u32 = 0o1000;

/// Seconds a `google.protobuf.Timestamp` may hold: 0001-01-01 to
/// 9999-12-31 UTC. Filesystems such as tmpfs keep times outside it, which
/// are left out rather than failing the JSON encoding of the whole answer.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// The entry info of `path`, or the error answering the failed call
/// (`not_found`, `permission_denied`, …).
pub(crate) fn entry_info(path: &Path, users: &Users) -> Result<EntryInfo, RpcError> {
    build(path, users).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            RpcError::new(Code::NotFound, format!("file not found: {e}"))
        } else {
            RpcError::io(&e, format!("error getting file info: {e}"))
        }
    })
}

fn build(path: &Path, users: &Users) -> io::Result<EntryInfo> {
    let meta = std::fs::symlink_metadata(path)?;
    let mode = meta.mode();
    let (file_type, perm, symlink_target) = if mode & S_IFMT == S_IFLNK {
        // An unresolvable link reports itself as its target, as envd does.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let (file_type, perm) = match std::fs::metadata(&target) {
            Ok(t) => (file_type_of(t.mode()), t.mode() & 0o777),
            Err(_) => (FileType::Unspecified, 0),
        };
        (file_type, perm, Some(target.to_string_lossy().into_owned()))
    } else {
        (file_type_of(mode), mode & 0o777, None)
    };
    let modified_time = match (meta.mtime(), meta.mtime_nsec()) {
        (0, 0) => None,
        (seconds, _) if !TIMESTAMP_SECONDS.contains(&seconds) => None,
        (seconds, nanos) => Some(Timestamp {
            seconds,
            nanos: i32::try_from(nanos).unwrap_or(0),
        }),
    };
    Ok(EntryInfo {
        name: name_of(path),
        r#type: file_type as i32,
        path: path.to_string_lossy().into_owned(),
        size: i64::try_from(meta.size()).unwrap_or(i64::MAX),
        mode: perm,
        permissions: permissions_string(mode),
        owner: users.owner_name(meta.uid()),
        group: users.group_name(meta.gid()),
        modified_time,
        symlink_target,
        // Best effort: metadata that cannot be read does not fail the entry.
        metadata: metadata::read(path).unwrap_or_default(),
    })
}

/// The last component of `path` (`/` for the root).
fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

fn file_type_of(mode: u32) -> FileType {
    match mode & S_IFMT {
        S_IFREG => FileType::File,
        S_IFDIR => FileType::Directory,
        S_IFLNK => FileType::Symlink,
        _ => FileType::Unspecified,
    }
}

/// Go's `FileMode.String()` of a Unix `st_mode`: type and special-bit letters
/// from `dalTLDpSugct?` (or `-` when none apply), then `rwxrwxrwx`.
pub(crate) fn permissions_string(mode: u32) -> String {
    let format = mode & S_IFMT;
    let mut s = String::with_capacity(12);
    if format == S_IFDIR {
        s.push('d');
    }
    if format == S_IFLNK {
        s.push('L');
    }
    if format == S_IFBLK || format == S_IFCHR {
        s.push('D');
    }
    if format == S_IFIFO {
        s.push('p');
    }
    if format == S_IFSOCK {
        s.push('S');
    }
    if mode & S_ISUID != 0 {
        s.push('u');
    }
    if mode & S_ISGID != 0 {
        s.push('g');
    }
    if format == S_IFCHR {
        s.push('c');
    }
    if mode & S_ISVTX != 0 {
        s.push('t');
    }
    if s.is_empty() {
        s.push('-');
    }
    for (i, letter) in "rwxrwxrwx".chars().enumerate() {
        s.push(if mode & (1 << (8 - i)) != 0 {
            letter
        } else {
            '-'
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_permission_strings() {
        assert_eq!(permissions_string(S_IFREG | 0o644), "-rw-r--r--");
        assert_eq!(permissions_string(S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(permissions_string(S_IFLNK | 0o777), "Lrwxrwxrwx");
        assert_eq!(permissions_string(S_IFDIR | S_ISVTX | 0o777), "dtrwxrwxrwx");
        assert_eq!(permissions_string(S_IFCHR | 0o666), "Dcrw-rw-rw-");
        assert_eq!(permissions_string(S_IFREG | S_ISUID | 0o755), "urwxr-xr-x");
        assert_eq!(permissions_string(S_IFIFO | 0o600), "prw-------");
        assert_eq!(permissions_string(S_IFSOCK | 0o755), "Srwxr-xr-x");
    }
}
