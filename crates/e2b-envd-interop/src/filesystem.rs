//! A fake `filesystem.Filesystem`: fixed entries that exercise the ProtoJSON
//! corners of `EntryInfo` (int64 as a string, an enum by name, a
//! `google.protobuf.Timestamp`, an optional field, a map).
//!
//! * `Stat` of `/missing` is `not_found`; `/future` is an entry whose type is
//!   42, a value the proto does not define; any other path is a directory
//!   described by [`FakeFilesystem::entry`].
//! * `ListDir` returns `depth` entries cycling through file, directory and
//!   symlink.
//! * `WatchDir` sends start, keepalive, one write event (with the entry when
//!   asked), keepalive, then ends.
//! * The other methods are `unimplemented`.

use buffa::{EnumValue, MessageField};
use buffa_types::google::protobuf::Timestamp;
use connectrpc::{
    ConnectError, RequestContext, Response, ServiceRequest, ServiceResult, ServiceStream,
};
use futures_util::stream;

use crate::proto::filesystem as pb;
use crate::proto::filesystem::__buffa::oneof::watch_dir_response::Event;

/// The fake service; stateless.
#[derive(Clone, Copy, Debug, Default)]
pub struct FakeFilesystem;

impl FakeFilesystem {
    /// The entry the fake describes for `path` with type `kind`.
    pub fn entry(path: &str, kind: pb::FileType) -> pb::EntryInfo {
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        pb::EntryInfo {
            name,
            r#type: EnumValue::from(kind),
            path: path.to_owned(),
            // Past 2^53: a JSON number would lose precision, ProtoJSON uses a string.
            size: (1_i64 << 53) + 3,
            mode: 0o2755,
            permissions: "drwxr-sr-x".to_owned(),
            owner: "user".to_owned(),
            group: "üsers".to_owned(),
            modified_time: MessageField::some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_456_789,
                ..Default::default()
            }),
            symlink_target: (kind == pb::FileType::FILE_TYPE_SYMLINK)
                .then(|| "/etc/target".to_owned()),
            metadata: [("owner-app".to_owned(), "e2b ✓".to_owned())]
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }
}

fn unimplemented<T>(method: &str) -> ServiceResult<T> {
    Err(ConnectError::unimplemented(format!(
        "filesystem.Filesystem/{method} is not faked"
    )))
}

// Handlers return concrete types where the trait allows any `Encodable`.
#[allow(refining_impl_trait)]
impl pb::Filesystem for FakeFilesystem {
    async fn stat(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, pb::StatRequest>,
    ) -> ServiceResult<pb::StatResponse> {
        let path = request.to_owned_message().path;
        if path == "/missing" {
            return Err(ConnectError::not_found(format!(
                "no such file or directory: {path}"
            )));
        }
        if path == "/future" {
            // A file type this proto revision does not know (enums are open).
            let mut entry = Self::entry(&path, pb::FileType::FILE_TYPE_FILE);
            entry.r#type = EnumValue::from(42);
            return Response::ok(pb::StatResponse {
                entry: MessageField::some(entry),
                ..Default::default()
            });
        }
        Response::ok(pb::StatResponse {
            entry: MessageField::some(Self::entry(&path, pb::FileType::FILE_TYPE_DIRECTORY)),
            ..Default::default()
        })
    }

    async fn make_dir(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, pb::MakeDirRequest>,
    ) -> ServiceResult<pb::MakeDirResponse> {
        unimplemented("MakeDir")
    }

    async fn r#move(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, pb::MoveRequest>,
    ) -> ServiceResult<pb::MoveResponse> {
        unimplemented("Move")
    }

    async fn list_dir(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, pb::ListDirRequest>,
    ) -> ServiceResult<pb::ListDirResponse> {
        let req = request.to_owned_message();
        let kinds = [
            pb::FileType::FILE_TYPE_FILE,
            pb::FileType::FILE_TYPE_DIRECTORY,
            pb::FileType::FILE_TYPE_SYMLINK,
        ];
        let entries = (0..req.depth as usize)
            .map(|i| Self::entry(&format!("{}/entry-{i}", req.path), kinds[i % kinds.len()]))
            .collect();
        Response::ok(pb::ListDirResponse {
            entries,
            ..Default::default()
        })
    }

    async fn remove(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, pb::RemoveRequest>,
    ) -> ServiceResult<pb::RemoveResponse> {
        unimplemented("Remove")
    }

    async fn watch_dir(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, pb::WatchDirRequest>,
    ) -> ServiceResult<ServiceStream<pb::WatchDirResponse>> {
        let req = request.to_owned_message();
        let response = |e: Event| pb::WatchDirResponse {
            event: Some(e),
            ..Default::default()
        };
        let keepalive = || response(Event::Keepalive(Box::default()));
        let fs_event = pb::FilesystemEvent {
            name: "file.txt".to_owned(),
            r#type: EnumValue::from(pb::EventType::EVENT_TYPE_WRITE),
            entry: if req.include_entry {
                MessageField::some(Self::entry(
                    &format!("{}/file.txt", req.path),
                    pb::FileType::FILE_TYPE_FILE,
                ))
            } else {
                MessageField::none()
            },
            ..Default::default()
        };
        Response::stream_ok(stream::iter(
            [
                response(Event::Start(Box::default())),
                keepalive(),
                response(Event::Filesystem(Box::new(fs_event))),
                keepalive(),
            ]
            .map(Ok),
        ))
    }

    async fn create_watcher(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, pb::CreateWatcherRequest>,
    ) -> ServiceResult<pb::CreateWatcherResponse> {
        unimplemented("CreateWatcher")
    }

    async fn get_watcher_events(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, pb::GetWatcherEventsRequest>,
    ) -> ServiceResult<pb::GetWatcherEventsResponse> {
        unimplemented("GetWatcherEvents")
    }

    async fn remove_watcher(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, pb::RemoveWatcherRequest>,
    ) -> ServiceResult<pb::RemoveWatcherResponse> {
        unimplemented("RemoveWatcher")
    }
}
