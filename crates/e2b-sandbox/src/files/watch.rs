//! Watching a directory: envd's `WatchDir` stream as a [`Stream`] of events.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use e2b_core::{EnvdFeature, Error, NotFoundKind, Result};
use e2b_envd::connect::Streaming;
use e2b_envd::filesystem::{self as pb, watch_dir_response::Event};
use futures_util::Stream;
use tracing::Instrument as _;

use super::{DEFAULT_STREAM_IDLE_TIMEOUT, EntryInfo, Files};
use crate::envd::{Envd, Operation};

/// What happened to an entry.
///
/// Events of a kind this crate does not know (from an envd newer than it) are skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilesystemEventType {
    /// Created.
    Create,
    /// Written to.
    Write,
    /// Removed.
    Remove,
    /// Renamed (reported at the old name).
    Rename,
    /// Permissions changed.
    Chmod,
}

/// One change under a watched directory.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FilesystemEvent {
    /// The path relative to the watched directory.
    pub name: String,
    /// What happened.
    pub event_type: FilesystemEventType,
    /// The entry after the change, with [`WatchOptions::include_entry`] when it still exists.
    pub entry: Option<EntryInfo>,
}

impl FilesystemEvent {
    fn from_wire(e: pb::FilesystemEvent) -> Option<Self> {
        let event_type = match pb::EventType::try_from(e.r#type).ok()? {
            pb::EventType::Create => FilesystemEventType::Create,
            pb::EventType::Write => FilesystemEventType::Write,
            pb::EventType::Remove => FilesystemEventType::Remove,
            pb::EventType::Rename => FilesystemEventType::Rename,
            pb::EventType::Chmod => FilesystemEventType::Chmod,
            pb::EventType::Unspecified => return None,
        };
        Some(FilesystemEvent {
            name: e.name,
            event_type,
            entry: e.entry.map(EntryInfo::from),
        })
    }
}

/// How long a watch lasts unless told otherwise (upstream's default).
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Called once when a watch ends by itself: `None` when the stream ended, the error
/// otherwise (the watch's [`timeout`](WatchOptions::timeout) passing included).
pub type WatchExitCallback = Arc<dyn Fn(Option<&Error>) + Send + Sync>;

/// Options of [`Files::watch_dir`].
#[derive(Clone)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Watch subdirectories too (envd 0.1.4 or newer).
    pub recursive: bool,
    /// Attach the entry's info to each event (envd 0.6.3 or newer).
    pub include_entry: bool,
    /// Allow watching a network mount, whose events may be unreliable (envd 0.6.4 or newer).
    pub allow_network_mounts: bool,
    /// The longest silence allowed on the stream (envd sends keepalives); default 60 s,
    /// `Duration::ZERO` for no limit.
    pub idle_timeout: Duration,
    /// How long the watch lasts ([`DEFAULT_WATCH_TIMEOUT`]); when it passes, the stream
    /// ends with a timeout error. `Duration::ZERO` means no limit.
    pub timeout: Duration,
    /// Called once when the watch ends by itself (not when the handle is dropped).
    pub on_exit: Option<WatchExitCallback>,
}

impl std::fmt::Debug for WatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchOptions")
            .field("recursive", &self.recursive)
            .field("include_entry", &self.include_entry)
            .field("allow_network_mounts", &self.allow_network_mounts)
            .field("idle_timeout", &self.idle_timeout)
            .field("timeout", &self.timeout)
            .field("on_exit", &self.on_exit.is_some())
            .finish()
    }
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            recursive: false,
            include_entry: false,
            allow_network_mounts: false,
            idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
            timeout: DEFAULT_WATCH_TIMEOUT,
            on_exit: None,
        }
    }
}

impl WatchOptions {
    /// The defaults: not recursive, no entries, no network mounts.
    pub fn new() -> Self {
        Self::default()
    }
    /// Watch subdirectories too.
    #[must_use]
    pub fn recursive(mut self, on: bool) -> Self {
        self.recursive = on;
        self
    }
    /// Attach entry info to events.
    #[must_use]
    pub fn include_entry(mut self, on: bool) -> Self {
        self.include_entry = on;
        self
    }
    /// Allow network mounts.
    #[must_use]
    pub fn allow_network_mounts(mut self, on: bool) -> Self {
        self.allow_network_mounts = on;
        self
    }
    /// Set the stream's idle timeout; `Duration::ZERO` means no limit.
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }
    /// Set how long the watch lasts (default [`DEFAULT_WATCH_TIMEOUT`]);
    /// `Duration::ZERO` means no limit.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Call `f` once when the watch ends by itself: with `None` when the stream ended,
    /// with the error otherwise.
    #[must_use]
    pub fn on_exit(mut self, f: impl Fn(Option<&Error>) + Send + Sync + 'static) -> Self {
        self.on_exit = Some(Arc::new(f));
        self
    }
}

/// A running watch: a [`Stream`] of [`FilesystemEvent`]s. Dropping it stops the watch.
///
/// When the stream breaks because the sandbox is gone (killed, timed out, paused), its
/// last item is a [`TimeoutKind::SandboxGone`](e2b_core::TimeoutKind::SandboxGone) error.
pub struct WatchHandle {
    inner: Pin<Box<dyn Stream<Item = Result<FilesystemEvent>> + Send>>,
}

impl std::fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchHandle").finish_non_exhaustive()
    }
}

impl WatchHandle {
    fn new(
        stream: Streaming<pb::WatchDirResponse>,
        envd: Envd,
        on_exit: Option<WatchExitCallback>,
    ) -> Self {
        let events =
            futures_util::stream::unfold(Some((stream, envd, on_exit)), |state| async move {
                let (mut stream, envd, on_exit) = state?;
                loop {
                    match stream.message().await {
                        Ok(Some(message)) => {
                            if let Some(Event::Filesystem(e)) = message.event
                                && let Some(event) = FilesystemEvent::from_wire(e)
                            {
                                return Some((Ok(event), Some((stream, envd, on_exit))));
                            }
                        }
                        Ok(None) => {
                            if let Some(f) = on_exit {
                                f(None);
                            }
                            return None;
                        }
                        Err(e) => {
                            let error = envd.map_error(e, Operation::Other).await;
                            if let Some(f) = on_exit {
                                f(Some(&error));
                            }
                            return Some((Err(error), None));
                        }
                    }
                }
            });
        WatchHandle {
            inner: Box::pin(events),
        }
    }
}

impl Stream for WatchHandle {
    type Item = Result<FilesystemEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Files<'_> {
    /// Watch directory `path`. Returns once envd has started watching, so every change
    /// made after this returns is reported.
    ///
    /// ```no_run
    /// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// use futures_util::StreamExt as _;
    /// use e2b_sandbox::WatchOptions;
    /// let mut events = sandbox.files().watch_dir("/tmp").await?;
    /// sandbox.files().write("/tmp/x", "1").await?;
    /// let event = events.next().await.unwrap()?;
    /// println!("{} {:?}", event.name, event.event_type);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A template error when envd is too old for an option; invalid argument if `path` is
    /// not a directory; not found if it does not exist.
    pub async fn watch_dir(&self, path: &str) -> Result<WatchHandle> {
        self.watch_dir_with(path, WatchOptions::new()).await
    }

    /// [`watch_dir`](Self::watch_dir) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`watch_dir`](Self::watch_dir).
    pub async fn watch_dir_with(&self, path: &str, options: WatchOptions) -> Result<WatchHandle> {
        let version = self.sandbox.envd_version();
        let gates = [
            (
                options.recursive,
                EnvdFeature::RecursiveWatch,
                "recursive watch",
                "0.1.4",
            ),
            (
                options.include_entry,
                EnvdFeature::WatchIncludeEntry,
                "include_entry",
                "0.6.3",
            ),
            (
                options.allow_network_mounts,
                EnvdFeature::WatchNetworkMounts,
                "allow_network_mounts",
                "0.6.4",
            ),
        ];
        for (wanted, feature, name, min) in gates {
            if wanted && !version.supports(feature) {
                return Err(Error::template(format!(
                    "{name} needs envd {min} or newer; rebuild the template"
                )));
            }
        }
        let envd = self.sandbox.envd();
        let request = pb::WatchDirRequest {
            path: path.to_owned(),
            recursive: options.recursive,
            include_entry: options.include_entry,
            allow_network_mounts: options.allow_network_mounts,
        };
        async {
            let lasts = Some(options.timeout).filter(|t| !t.is_zero());
            let idle = Some(options.idle_timeout).filter(|t| !t.is_zero());
            let call = envd.stream_options(lasts, idle, self.user())?;
            let start = async {
                let mut stream = envd.filesystem().watch_dir(request, call).await?;
                // The first message says envd is watching.
                loop {
                    match stream.message().await? {
                        Some(pb::WatchDirResponse {
                            event: Some(Event::Start(_)),
                        }) => return Ok(stream),
                        Some(_) => continue,
                        None => {
                            return Err(e2b_envd::connect::Error::Protocol(
                                "the watch ended before it started".to_owned(),
                            ));
                        }
                    }
                }
            };
            let started = match self.sandbox.request_timeout() {
                Some(limit) => tokio::time::timeout(limit, start).await.map_err(|_| {
                    Error::timeout(
                        e2b_core::TimeoutKind::Request,
                        format!("the watch did not start within {limit:?}"),
                    )
                })?,
                None => start.await,
            };
            match started {
                Ok(stream) => Ok(WatchHandle::new(stream, envd.clone(), options.on_exit)),
                Err(e) => Err(envd
                    .map_error(e, Operation::Other)
                    .await
                    .with_not_found_kind(NotFoundKind::File)),
            }
        }
        .instrument(self.span("watch_dir", path))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: i32) -> pb::FilesystemEvent {
        pb::FilesystemEvent {
            name: "a.txt".into(),
            r#type: kind,
            entry: None,
        }
    }

    #[test]
    fn event_kinds_newer_than_the_proto_are_skipped() {
        let write = FilesystemEvent::from_wire(event(pb::EventType::Write as i32));
        assert_eq!(
            write.map(|e| e.event_type),
            Some(FilesystemEventType::Write)
        );
        assert!(FilesystemEvent::from_wire(event(42)).is_none());
        assert!(FilesystemEvent::from_wire(event(pb::EventType::Unspecified as i32)).is_none());
    }
}
