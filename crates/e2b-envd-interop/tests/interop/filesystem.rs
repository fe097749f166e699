//! `filesystem.Filesystem`: the ProtoJSON corners of `EntryInfo` (int64 past
//! 2^53, enums, `google.protobuf.Timestamp`, optional fields, maps) and a
//! oneof-shaped stream whose keepalives are skipped.

use std::collections::HashMap;

use e2b_envd::connect::{CallOptions, Code, Codec};
use e2b_envd::filesystem::filesystem_client::FilesystemClient;
use e2b_envd::filesystem::watch_dir_response::{Event, StartEvent};
use e2b_envd::filesystem::{
    EntryInfo, EventType, FileType, FilesystemEvent, ListDirRequest, MakeDirRequest, StatRequest,
    WatchDirRequest,
};
use e2b_envd::wkt::Timestamp;
use e2b_envd_interop::TestServer;

use crate::support::*;

wire_tests!(
    stat_and_list_dir,
    filesystem_errors,
    watch_dir_skips_keepalives
);

fn client(server: &TestServer, wire: Wire) -> FilesystemClient {
    FilesystemClient::new(connect_client(server, wire))
}

/// What `FakeFilesystem::entry` describes, written independently.
fn entry(path: &str, kind: FileType) -> EntryInfo {
    EntryInfo {
        name: path.rsplit('/').next().unwrap_or_default().to_owned(),
        r#type: kind as i32,
        path: path.to_owned(),
        size: (1_i64 << 53) + 3,
        mode: 0o2755,
        permissions: "drwxr-sr-x".into(),
        owner: "user".into(),
        group: "üsers".into(),
        modified_time: Some(Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        }),
        symlink_target: (kind == FileType::Symlink).then(|| "/etc/target".to_owned()),
        metadata: HashMap::from([("owner-app".to_owned(), "e2b ✓".to_owned())]),
    }
}

async fn stat_and_list_dir(wire: Wire) {
    let server = TestServer::start().await;
    let fs = client(&server, wire);

    let stat = fs
        .stat(
            StatRequest {
                path: "/home/user/dir".into(),
            },
            CallOptions::new(),
        )
        .await
        .expect("stat");
    assert_eq!(
        stat.entry,
        Some(entry("/home/user/dir", FileType::Directory))
    );

    let list = fs
        .list_dir(
            ListDirRequest {
                path: "/srv".into(),
                depth: 4,
            },
            CallOptions::new(),
        )
        .await
        .expect("list dir");
    assert_eq!(
        list.entries,
        vec![
            entry("/srv/entry-0", FileType::File),
            entry("/srv/entry-1", FileType::Directory),
            entry("/srv/entry-2", FileType::Symlink),
            entry("/srv/entry-3", FileType::File),
        ]
    );
}

async fn filesystem_errors(wire: Wire) {
    let server = TestServer::start().await;
    let fs = client(&server, wire);
    let err = fs
        .stat(
            StatRequest {
                path: "/missing".into(),
            },
            CallOptions::new(),
        )
        .await
        .expect_err("missing");
    let e = connect_error(&err);
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::NotFound, "no such file or directory: /missing")
    );
    let err = fs
        .make_dir(MakeDirRequest { path: "/x".into() }, CallOptions::new())
        .await
        .expect_err("unimplemented");
    assert_eq!(connect_error(&err).code, Code::Unimplemented);
}

async fn watch_dir_skips_keepalives(wire: Wire) {
    let server = TestServer::start().await;
    let mut stream = client(&server, wire)
        .watch_dir(
            WatchDirRequest {
                path: "/w".into(),
                recursive: true,
                include_entry: true,
                allow_network_mounts: false,
            },
            CallOptions::new(),
        )
        .await
        .expect("watch");
    let mut events = Vec::new();
    while let Some(message) = stream.message().await.expect("message") {
        events.push(message.event.expect("event"));
    }
    assert_eq!(
        events,
        vec![
            Event::Start(StartEvent {}),
            Event::Filesystem(FilesystemEvent {
                name: "file.txt".into(),
                r#type: EventType::Write as i32,
                entry: Some(entry("/w/file.txt", FileType::File)),
            }),
        ]
    );
}

/// Proto3 enums are open: a value this revision of the proto does not define
/// (a newer envd) must not make the whole message undecodable.
async fn unknown_enum_value(wire: Wire) {
    let server = TestServer::start().await;
    let stat = client(&server, wire)
        .stat(
            StatRequest {
                path: "/future".into(),
            },
            CallOptions::new(),
        )
        .await
        .expect("an unknown enum value must decode");
    let entry = stat.entry.expect("entry");
    // ProtoJSON keeps the number; ignoring the unknown value (the default)
    // would also be acceptable for JSON.
    assert!(
        entry.r#type == 42 || (wire.is_json() && entry.r#type == 0),
        "{entry:?}"
    );
    assert_eq!(entry.size, (1_i64 << 53) + 3);
}

#[tokio::test]
async fn unknown_enum_value_proto() {
    each_wire_of(Codec::Proto, unknown_enum_value).await
}

#[tokio::test]
async fn unknown_enum_value_json() {
    each_wire_of(Codec::Json, unknown_enum_value).await
}
