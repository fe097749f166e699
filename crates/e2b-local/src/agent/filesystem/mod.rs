//! The `filesystem.Filesystem` Connect service.

mod entry;
mod ops;
mod watch;
mod watchers;

use std::path::Path;
use std::sync::Arc;

use e2b_envd::connect::server::{RequestContext, ResponseStream};
use e2b_envd::connect::{Code, ConnectError};
use e2b_envd::filesystem::filesystem_server::Filesystem;
use e2b_envd::filesystem::*;

use super::UserAccount;
use super::context::Sandbox;
use super::fs_user::FsUser;
use super::keepalive::{self, Keepalive};
use super::rpc_error::RpcError;
use watch::{Change, DirWatch};
use watchers::Watchers;

use entry::entry_info;

/// Filesystems on which watches are refused unless the request allows
/// network mounts (NFS, CIFS, SMB, SMB2, FUSE), as in envd.
const NETWORK_FS_MAGIC: [i64; 5] = [0x6969, 0xFF53_4D42, 0x517B, 0xFE53_4D42, FUSE_MAGIC];
/// FUSE's filesystem magic.
const FUSE_MAGIC: i64 = 0x6573_5546;

/// The service, over the sandbox's accounts.
#[derive(Debug)]
pub(crate) struct FilesystemService {
    sandbox: Arc<Sandbox>,
    watchers: Watchers,
}

impl FilesystemService {
    pub(crate) fn new(sandbox: Arc<Sandbox>) -> Self {
        FilesystemService {
            sandbox,
            watchers: Watchers::default(),
        }
    }

    /// Run a blocking filesystem operation off the async workers, as `user`.
    async fn blocking<T: Send + 'static>(
        &self,
        user: &UserAccount,
        f: impl FnOnce(&Sandbox) -> Result<T, RpcError> + Send + 'static,
    ) -> Result<T, RpcError> {
        let sandbox = self.sandbox.clone();
        self.sandbox.fs_user(user).run(move || f(&sandbox)).await
    }

    /// Start the watch a request asks for: the directory is resolved for
    /// the requesting user, checked as envd does, and watched only if that
    /// user may read it; directories appearing later are watched as that
    /// user too.
    async fn start_watch(
        &self,
        ctx: &RequestContext,
        path: &str,
        recursive: bool,
        allow_network_mounts: bool,
    ) -> Result<(DirWatch, FsUser), RpcError> {
        let user = self.sandbox.users.requester(&ctx.headers)?.clone();
        let root = self.sandbox.resolve(path, &user)?;
        let fs_user = self.sandbox.fs_user(&user);
        let local_fuse = self.sandbox.local_fuse;
        let watch = self
            .blocking(&user, move |_| {
                check_watch_root(&root, allow_network_mounts, local_fuse)?;
                DirWatch::new(root, recursive, fs_user).map_err(watch_error)
            })
            .await?;
        Ok((watch, fs_user))
    }

    /// A converter from watch changes to protocol events.
    /// Entry infos are read as `fs_user`, briefly, on the thread that
    /// converts the change (no `.await` in between).
    fn event_builder(
        &self,
        include_entry: bool,
        fs_user: FsUser,
    ) -> impl Fn(Change) -> FilesystemEvent + Send + 'static {
        let sandbox = self.sandbox.clone();
        move |change: Change| {
            // Only entries expected to exist at the path carry info; a removed
            // or renamed-away path might already hold a different entry.
            let carries_entry = matches!(
                change.kind,
                EventType::Create | EventType::Write | EventType::Chmod
            );
            let entry = (include_entry && carries_entry)
                .then(|| {
                    let _as_user = fs_user.enter().ok()?;
                    entry_info(&change.path, &sandbox.users).ok()
                })
                .flatten();
            FilesystemEvent {
                name: change.name,
                r#type: change.kind as i32,
                entry,
            }
        }
    }
}

/// Check that `root` is a directory that may be watched (as the calling
/// thread's user).
fn check_watch_root(
    root: &Path,
    allow_network_mounts: bool,
    local_fuse: bool,
) -> Result<(), RpcError> {
    match std::fs::metadata(root) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(RpcError::new(
                Code::InvalidArgument,
                format!("path {} not a directory", root.display()),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RpcError::new(
                Code::NotFound,
                format!("path {} not found: {e}", root.display()),
            ));
        }
        Err(e) => {
            return Err(RpcError::io(
                &e,
                format!("error statting path {}: {e}", root.display()),
            ));
        }
    }
    if !allow_network_mounts && is_network_mount(root, local_fuse)? {
        return Err(RpcError::new(
            Code::InvalidArgument,
            format!(
                "cannot watch path on network filesystem: {}",
                root.display()
            ),
        ));
    }
    Ok(())
}

/// (`local_fuse`: FUSE is the sandbox's own root, not a network mount.)
fn is_network_mount(path: &Path, local_fuse: bool) -> Result<bool, RpcError> {
    let stat = rustix::fs::statfs(path).map_err(|e| {
        RpcError::io(
            &e.into(),
            format!(
                "error checking mount status: failed to statfs {}: {e}",
                path.display()
            ),
        )
    })?;
    // `f_type` is an `i64` on 64-bit Linux and an `i32` on some 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let magic = i64::from(stat.f_type);
    Ok(NETWORK_FS_MAGIC.contains(&magic) && !(local_fuse && magic == FUSE_MAGIC))
}

/// A watch that could not be set up: the user may not read the directory
/// (`permission_denied`), or an internal failure.
fn watch_error(e: watch::WatchError) -> RpcError {
    match &e {
        watch::WatchError::Add { source, .. } => RpcError::io(source, e.to_string()),
        _ => RpcError::new(Code::Internal, e.to_string()),
    }
}

impl Filesystem for FilesystemService {
    async fn stat(
        &self,
        ctx: RequestContext,
        request: StatRequest,
    ) -> Result<StatResponse, ConnectError> {
        let user = self.sandbox.users.requester(&ctx.headers)?.clone();
        let path = self.sandbox.resolve(&request.path, &user)?;
        let entry = self
            .blocking(&user, move |s| ops::stat(&path, &s.users))
            .await?;
        Ok(StatResponse { entry: Some(entry) })
    }

    async fn make_dir(
        &self,
        ctx: RequestContext,
        request: MakeDirRequest,
    ) -> Result<MakeDirResponse, ConnectError> {
        let user = self.sandbox.users.requester(&ctx.headers)?.clone();
        let path = self.sandbox.resolve(&request.path, &user)?;
        let owner = self.sandbox.owner_for(&user);
        let entry = self
            .blocking(&user, move |s| ops::make_dir(&path, owner, &s.users))
            .await?;
        Ok(MakeDirResponse { entry: Some(entry) })
    }

    async fn r#move(
        &self,
        ctx: RequestContext,
        request: MoveRequest,
    ) -> Result<MoveResponse, ConnectError> {
        let user = self.sandbox.users.requester(&ctx.headers)?.clone();
        let source = self.sandbox.resolve(&request.source, &user)?;
        let destination = self.sandbox.resolve(&request.destination, &user)?;
        let owner = self.sandbox.owner_for(&user);
        let entry = self
            .blocking(&user, move |s| {
                ops::rename(&source, &destination, owner, &s.users)
            })
            .await?;
        Ok(MoveResponse { entry: Some(entry) })
    }

    async fn list_dir(
        &self,
        ctx: RequestContext,
        request: ListDirRequest,
    ) -> Result<ListDirResponse, ConnectError> {
        let user = self.sandbox.users.requester(&ctx.headers)?.clone();
        let path = self.sandbox.resolve(&request.path, &user)?;
        let depth = request.depth;
        let entries = self
            .blocking(&user, move |s| ops::list_dir(&path, depth, &s.users))
            .await?;
        Ok(ListDirResponse { entries })
    }

    async fn remove(
        &self,
        ctx: RequestContext,
        request: RemoveRequest,
    ) -> Result<RemoveResponse, ConnectError> {
        let user = self.sandbox.users.requester(&ctx.headers)?.clone();
        let path = self.sandbox.resolve(&request.path, &user)?;
        self.blocking(&user, move |_| ops::remove(&path)).await?;
        Ok(RemoveResponse {})
    }

    async fn watch_dir(
        &self,
        ctx: RequestContext,
        request: WatchDirRequest,
    ) -> Result<ResponseStream<WatchDirResponse>, ConnectError> {
        let (watch, fs_user) = self
            .start_watch(
                &ctx,
                &request.path,
                request.recursive,
                request.allow_network_mounts,
            )
            .await?;
        let to_event = self.event_builder(request.include_entry, fs_user);
        let keepalive = Keepalive::new(keepalive::interval(&ctx.headers));
        Ok(Box::pin(watch_stream(watch, keepalive, to_event)))
    }

    async fn create_watcher(
        &self,
        ctx: RequestContext,
        request: CreateWatcherRequest,
    ) -> Result<CreateWatcherResponse, ConnectError> {
        let (watch, fs_user) = self
            .start_watch(
                &ctx,
                &request.path,
                request.recursive,
                request.allow_network_mounts,
            )
            .await?;
        let watcher_id = self
            .watchers
            .create(watch, self.event_builder(request.include_entry, fs_user));
        Ok(CreateWatcherResponse { watcher_id })
    }

    async fn get_watcher_events(
        &self,
        _ctx: RequestContext,
        request: GetWatcherEventsRequest,
    ) -> Result<GetWatcherEventsResponse, ConnectError> {
        let events = self.watchers.drain(&request.watcher_id)?;
        Ok(GetWatcherEventsResponse { events })
    }

    async fn remove_watcher(
        &self,
        _ctx: RequestContext,
        request: RemoveWatcherRequest,
    ) -> Result<RemoveWatcherResponse, ConnectError> {
        self.watchers.remove(&request.watcher_id)?;
        Ok(RemoveWatcherResponse {})
    }
}

fn message(event: watch_dir_response::Event) -> WatchDirResponse {
    WatchDirResponse { event: Some(event) }
}

/// `{start}`, then changes as they happen with keepalives in silences; an
/// inotify failure ends the stream with `internal`.
fn watch_stream(
    watch: DirWatch,
    keepalive: Keepalive,
    to_event: impl Fn(Change) -> FilesystemEvent + Send + 'static,
) -> impl futures_util::Stream<Item = Result<WatchDirResponse, ConnectError>> + Send {
    let start = message(watch_dir_response::Event::Start(
        watch_dir_response::StartEvent {},
    ));
    let changes = futures_util::stream::unfold(
        Some((watch, keepalive, to_event)),
        |state| async move {
            let (mut watch, mut keepalive, to_event) = state?;
            tokio::select! {
                change = watch.next() => match change {
                    Ok(change) => {
                        keepalive.reset();
                        let event = watch_dir_response::Event::Filesystem(to_event(change));
                        Some((Ok(message(event)), Some((watch, keepalive, to_event))))
                    }
                    Err(e) => Some((Err(watch_error(e).into()), None)),
                },
                () = keepalive.tick() => {
                    let event = watch_dir_response::Event::Keepalive(watch_dir_response::KeepAlive {});
                    Some((Ok(message(event)), Some((watch, keepalive, to_event))))
                }
            }
        },
    );
    futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(start) }),
        changes,
    )
}
