//! Turning request paths into absolute paths, and creating parent
//! directories owned by the requesting user.

use std::io;
use std::path::{Component, Path, PathBuf};

use super::UserAccount;

/// A request path that cannot be resolved.
#[derive(Debug, thiserror::Error)]
#[error("failed to expand path '{path}' for user '{user}': cannot expand user-specific home dir")]
pub(crate) struct UnresolvablePath {
    path: String,
    user: String,
}

/// Resolve a request path as envd does: empty → the default working directory
/// (empty meaning none); `~` and `~/…` → under the user's home; absolute paths
/// are kept as they are; relative ones are joined to the user's home and
/// normalised.
pub(crate) fn resolve(
    path: &str,
    user: &UserAccount,
    default_workdir: &str,
) -> Result<PathBuf, UnresolvablePath> {
    let path = if path.is_empty() {
        default_workdir
    } else {
        path
    };
    let expanded = match path.strip_prefix('~') {
        None => path.to_owned(),
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}/{}", user.home, rest.trim_start_matches('/'))
        }
        Some(_) => {
            return Err(UnresolvablePath {
                path: path.to_owned(),
                user: user.name.clone(),
            });
        }
    };
    if expanded.starts_with('/') && !path.starts_with('~') {
        return Ok(PathBuf::from(expanded));
    }
    Ok(normalize(&Path::new(&user.home).join(expanded)))
}

/// Lexically clean an absolute path: drop `.` and empty components and apply
/// `..` (never above `/`), like Go's `filepath.Clean`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Why the parent directories of a path could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EnsureDirsError {
    /// A component exists and is not a directory.
    #[error("path is a file: {}", .0.display())]
    NotADirectory(PathBuf),
    /// A filesystem call failed.
    #[error("failed to {what} directory {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl EnsureDirsError {
    /// The OS error to answer with: the failed call's, or `ENOTDIR`.
    pub(crate) fn os_error(&self) -> io::Error {
        match self {
            EnsureDirsError::Io { source, .. } => source.raw_os_error().map_or_else(
                || io::Error::other(source.to_string()),
                io::Error::from_raw_os_error,
            ),
            EnsureDirsError::NotADirectory(_) => io::Error::from_raw_os_error(libc::ENOTDIR),
        }
    }
}

/// Create `dir` and every missing ancestor with mode 0755, handing each
/// directory it creates to `owner` (uid, gid) when given. Run it as the
/// user the directories are for: a directory that exists already, or that
/// another process creates meanwhile, is left as it is.
pub(crate) fn ensure_dirs(dir: &Path, owner: Option<(u32, u32)>) -> Result<(), EnsureDirsError> {
    let mut current = PathBuf::new();
    for component in dir.components() {
        current.push(component);
        if matches!(component, Component::RootDir) {
            continue;
        }
        match std::fs::metadata(&current) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => return Err(EnsureDirsError::NotADirectory(current)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(EnsureDirsError::Io {
                    what: "stat",
                    path: current,
                    source,
                });
            }
        }
        let mut builder = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o755);
        match builder.create(&current) {
            Ok(()) => {}
            // Another process made it meanwhile: theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(EnsureDirsError::Io {
                    what: "create",
                    path: current,
                    source,
                });
            }
        }
        // Made as the user, it is theirs already, but its group may come
        // from a set-group-id parent.
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&current, Some(uid), Some(gid)).map_err(|source| {
                EnsureDirsError::Io {
                    what: "chown",
                    path: current.clone(),
                    source,
                }
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserAccount {
        UserAccount {
            name: "user".into(),
            uid: 1000,
            gid: 1000,
            home: "/home/user".into(),
        }
    }

    #[test]
    fn resolution_rules() {
        let u = user();
        let r = |p: &str, d: &str| resolve(p, &u, d).unwrap();
        assert_eq!(r("", ""), PathBuf::from("/home/user"));
        assert_eq!(r("", "/work"), PathBuf::from("/work"));
        assert_eq!(r("a/../b.txt", ""), PathBuf::from("/home/user/b.txt"));
        assert_eq!(r("~", ""), PathBuf::from("/home/user"));
        assert_eq!(r("~/x", ""), PathBuf::from("/home/user/x"));
        assert_eq!(r("/etc/hosts", ""), PathBuf::from("/etc/hosts"));
        assert_eq!(r("../../..", ""), PathBuf::from("/"));
        let err = resolve("~root/x", &u, "").unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot expand user-specific home dir")
        );
    }

    #[test]
    fn ensure_dirs_creates_and_refuses_files() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("a/b/c");
        ensure_dirs(&deep, None).unwrap();
        assert!(deep.is_dir());
        ensure_dirs(&deep, None).unwrap();
        std::fs::write(tmp.path().join("f"), b"x").unwrap();
        let err = ensure_dirs(&tmp.path().join("f/g"), None).unwrap_err();
        assert!(matches!(err, EnsureDirsError::NotADirectory(p) if p.ends_with("f")));
    }
}
