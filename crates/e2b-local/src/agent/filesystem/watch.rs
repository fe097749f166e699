//! Directory watches over inotify, with the event semantics of envd (which
//! uses fsnotify).
//!
//! * One inotify event becomes one change per operation it carries, in the
//!   order create, rename, chmod, write, remove.
//! * Names are relative to the watched directory (`.` for the directory
//!   itself).
//! * Recursive watches add a watch for every directory below the root
//!   (symlinks are not followed) and for directories created or moved in
//!   later; the contents found in such a new directory are reported as
//!   creations, since they usually appeared before its watch did
//!   (`mkdir -p a/b/c`).
//! * A removed subdirectory is reported once (by its parent), not again by
//!   its own watch.
//! * Watches are added as the requesting user: inotify only watches what
//!   that user may read, so a directory they may not read is not watched
//!   and what happens inside it goes unreported.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use e2b_envd::filesystem::EventType;
use futures_util::StreamExt;
use inotify::{EventMask, EventStream, Inotify, WatchDescriptor, WatchMask, Watches};

use crate::agent::fs_user::FsUser;

/// What fsnotify asks inotify for.
fn watch_mask() -> WatchMask {
    WatchMask::MOVED_TO
        | WatchMask::MOVED_FROM
        | WatchMask::CREATE
        | WatchMask::ATTRIB
        | WatchMask::MODIFY
        | WatchMask::MOVE_SELF
        | WatchMask::DELETE
        | WatchMask::DELETE_SELF
}

/// Size of the buffer inotify events are read into (room for many events
/// with the longest names).
const EVENT_BUFFER: usize = 16 * 1024;

/// One change below a watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// Absolute path of the entry.
    pub(crate) path: PathBuf,
    /// Path relative to the watched directory.
    pub(crate) name: String,
    /// What happened.
    pub(crate) kind: EventType,
}

/// Why a watch stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WatchError {
    #[error("error creating watcher: {0}")]
    Create(#[source] io::Error),
    #[error("error adding path {} to watcher: {source}", .path.display())]
    Add {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("watcher error: {0}")]
    Read(#[source] io::Error),
    #[error("watcher error: inotify queue overflow, events were lost")]
    Overflow,
    #[error("watcher event channel closed")]
    Closed,
}

/// A watch on one directory, optionally recursive.
#[derive(Debug)]
pub(crate) struct DirWatch {
    events: EventStream<Vec<u8>>,
    watches: Watches,
    root: PathBuf,
    recursive: bool,
    /// The directory each watch descriptor stands for.
    dirs: HashMap<WatchDescriptor, PathBuf>,
    /// Directories moved away, by rename cookie, to re-path their watches
    /// when they reappear.
    moved_from: HashMap<u32, PathBuf>,
    pending: VecDeque<Change>,
    /// Who watches are added as.
    fs_user: FsUser,
}

impl DirWatch {
    /// Start watching `root` (a directory). When this returns, every change
    /// made afterwards is reported. Call it as `fs_user` (see
    /// [`FsUser::run`]); directories created later are watched as them.
    pub(crate) fn new(root: PathBuf, recursive: bool, fs_user: FsUser) -> Result<Self, WatchError> {
        let inotify = Inotify::init().map_err(WatchError::Create)?;
        let events = inotify
            .into_event_stream(vec![0u8; EVENT_BUFFER])
            .map_err(WatchError::Create)?;
        let watches = events.watches();
        let mut watch = DirWatch {
            events,
            watches,
            root: root.clone(),
            recursive,
            dirs: HashMap::new(),
            moved_from: HashMap::new(),
            pending: VecDeque::new(),
            fs_user,
        };
        watch.add(&root).map_err(|source| WatchError::Add {
            path: root.clone(),
            source,
        })?;
        if recursive {
            watch.add_tree(&root, false);
        }
        Ok(watch)
    }

    fn add(&mut self, dir: &Path) -> io::Result<()> {
        let wd = self.watches.add(dir, watch_mask())?;
        self.dirs.insert(wd, dir.to_path_buf());
        Ok(())
    }

    /// Watch every directory below `dir` (not following symlinks), reporting
    /// what is found as creations when `report` is set. Entries that vanish
    /// meanwhile are skipped.
    fn add_tree(&mut self, dir: &Path, report: bool) {
        let Ok(read) = std::fs::read_dir(dir) else {
            return;
        };
        let mut children: Vec<(OsString, bool)> = read
            .filter_map(Result::ok)
            .map(|e| {
                (
                    e.file_name(),
                    e.file_type().map(|t| t.is_dir()).unwrap_or(false),
                )
            })
            .collect();
        children.sort();
        for (name, is_dir) in children {
            let path = dir.join(name);
            if report {
                self.push(path.clone(), EventType::Create);
            }
            if is_dir {
                self.watch_new_dir(&path, report);
            }
        }
    }

    /// Watch `dir` and everything below it.
    fn watch_new_dir(&mut self, dir: &Path, report: bool) {
        match self.add(dir) {
            Ok(()) => self.add_tree(dir, report),
            // Gone already, or not the user's to read: nothing to watch.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) => {}
            // Typically the inotify watch limit: changes below this directory
            // go unreported.
            Err(e) => tracing::warn!(path = %dir.display(), "cannot watch directory: {e}"),
        }
    }

    fn push(&mut self, path: PathBuf, kind: EventType) {
        let name = match path.strip_prefix(&self.root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => path.to_string_lossy().into_owned(),
        };
        self.pending.push_back(Change { path, name, kind });
    }

    /// The next change.
    pub(crate) async fn next(&mut self) -> Result<Change, WatchError> {
        loop {
            if let Some(change) = self.pending.pop_front() {
                return Ok(change);
            }
            let event = match self.events.next().await {
                Some(Ok(event)) => event,
                Some(Err(e)) => return Err(WatchError::Read(e)),
                None => return Err(WatchError::Closed),
            };
            self.handle(event.wd, event.mask, event.cookie, event.name)?;
        }
    }

    fn handle(
        &mut self,
        wd: WatchDescriptor,
        mask: EventMask,
        cookie: u32,
        name: Option<OsString>,
    ) -> Result<(), WatchError> {
        if mask.contains(EventMask::Q_OVERFLOW) {
            return Err(WatchError::Overflow);
        }
        // Removed concurrently: nothing to report.
        let Some(dir) = self.dirs.get(&wd).cloned() else {
            return Ok(());
        };
        if mask.intersects(EventMask::IGNORED | EventMask::UNMOUNT) {
            self.dirs.remove(&wd);
            return Ok(());
        }
        let path = match &name {
            Some(n) if !n.is_empty() => dir.join(n),
            _ => dir.clone(),
        };
        if mask.contains(EventMask::DELETE_SELF) {
            self.dirs.remove(&wd);
            // The parent's watch reports the removal already.
            if dir != self.root {
                return Ok(());
            }
        }
        if mask.contains(EventMask::MOVE_SELF) {
            if self.recursive {
                return Ok(());
            }
            let _ = self.watches.remove(wd.clone());
            self.dirs.remove(&wd);
        }
        let is_dir = mask.contains(EventMask::ISDIR);
        if mask.contains(EventMask::MOVED_FROM) && is_dir {
            self.moved_from.insert(cookie, path.clone());
        }
        let created = mask.intersects(EventMask::CREATE | EventMask::MOVED_TO);
        let ops = [
            (created, EventType::Create),
            (
                mask.intersects(EventMask::MOVE_SELF | EventMask::MOVED_FROM),
                EventType::Rename,
            ),
            (mask.contains(EventMask::ATTRIB), EventType::Chmod),
            (mask.contains(EventMask::MODIFY), EventType::Write),
            (
                mask.intersects(EventMask::DELETE | EventMask::DELETE_SELF),
                EventType::Remove,
            ),
        ];
        for (present, kind) in ops {
            if present {
                self.push(path.clone(), kind);
            }
        }
        if self.recursive && is_dir && created {
            if mask.contains(EventMask::MOVED_TO)
                && let Some(old) = self.moved_from.remove(&cookie)
            {
                self.repath(&old, &path);
            }
            // Synchronous: the identity is back before the task yields.
            match self.fs_user.enter() {
                Ok(_as_user) => self.watch_new_dir(&path, true),
                Err(e) => tracing::warn!(path = %path.display(), "cannot watch directory: {e}"),
            }
        }
        Ok(())
    }

    /// A watched directory moved from `old` to `new` inside the tree: its
    /// watches (kernel-side unchanged) now stand for paths under `new`.
    fn repath(&mut self, old: &Path, new: &Path) {
        for dir in self.dirs.values_mut() {
            if let Ok(rest) = dir.strip_prefix(old) {
                *dir = new.join(rest);
            }
        }
    }
}
