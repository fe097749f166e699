//! Files end to end against e2b-local: reads and writes of every kind, metadata, listing,
//! stat, directories, moves, removal, watching and signed URLs.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use e2b_sandbox::{
    ExposeSecret as _, FileOperation, FileType, FileUrlOptions, FilesystemEventType, NotFoundKind,
    ReadOptions, WatchOptions, WriteEntry, WriteOptions, get_signature,
};
use futures_util::StreamExt as _;
use support::Local;
use tokio::io::AsyncReadExt as _;

fn every_byte(repeat: usize) -> Vec<u8> {
    (0..=255u8).cycle().take(256 * repeat).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_byte_value_round_trips() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let files = sbx.files();
    let data = every_byte(1024 + 3);

    let info = files.write("/tmp/bytes.bin", data.clone()).await.unwrap();
    assert_eq!(info.path, "/tmp/bytes.bin");
    assert_eq!(info.name, "bytes.bin");
    assert_eq!(files.read_bytes("/tmp/bytes.bin").await.unwrap(), data);

    // The same bytes through AsyncRead and through the Stream.
    let mut reader = files
        .read_stream(
            "/tmp/bytes.bin",
            ReadOptions::new().idle_timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let mut via_read = Vec::new();
    reader.read_to_end(&mut via_read).await.unwrap();
    assert_eq!(via_read, data);
    let mut stream = files
        .read_stream("/tmp/bytes.bin", ReadOptions::new())
        .await
        .unwrap();
    let mut via_stream = Vec::new();
    while let Some(chunk) = stream.next().await {
        via_stream.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(via_stream, data);

    // A streamed upload of the same bytes in uneven chunks.
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(1000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    files
        .write_stream(
            "/tmp/streamed.bin",
            futures_util::stream::iter(chunks),
            WriteOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(files.read_bytes("/tmp/streamed.bin").await.unwrap(), data);

    // From an AsyncRead.
    files
        .write_reader(
            "/tmp/reader.bin",
            std::io::Cursor::new(data.clone()),
            WriteOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(files.read_bytes("/tmp/reader.bin").await.unwrap(), data);

    // Text, and text that is not UTF-8.
    files.write("notes/hello.txt", "héllo\n").await.unwrap();
    assert_eq!(files.read_text("notes/hello.txt").await.unwrap(), "héllo\n");
    let err = files.read_text("/tmp/bytes.bin").await.unwrap_err();
    assert!(err.is_protocol(), "{err}");

    // Several files at once.
    let written = files
        .write_files(&[
            WriteEntry::new("/tmp/many/a", "A"),
            WriteEntry::new("/tmp/many/b", vec![0u8, 255]),
        ])
        .await
        .unwrap();
    assert_eq!(written.len(), 2);
    assert_eq!(
        files.read_bytes("/tmp/many/b").await.unwrap(),
        vec![0u8, 255]
    );
    assert_eq!(files.read_text("/tmp/many/a").await.unwrap(), "A");

    // Missing files are typed not-found errors.
    let err = files.read_bytes("/tmp/nope").await.unwrap_err();
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::File), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_stored_and_validated() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let files = sbx.files();
    let info = files
        .write_with(
            "/tmp/m.txt",
            "x",
            WriteOptions::new().metadata("owner", "build-42"),
        )
        .await
        .unwrap();
    assert_eq!(info.path, "/tmp/m.txt");
    let stat = files.get_info("/tmp/m.txt").await.unwrap();
    assert_eq!(
        stat.metadata.get("owner").map(String::as_str),
        Some("build-42")
    );

    let err = files
        .write_with(
            "/tmp/m.txt",
            "x",
            WriteOptions::new().metadata("k", "ünicode"),
        )
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_stat_make_dir_rename_remove() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let files = sbx.files();

    assert!(files.make_dir("/tmp/tree/sub").await.unwrap());
    assert!(
        !files.make_dir("/tmp/tree/sub").await.unwrap(),
        "already there"
    );
    files.write("/tmp/tree/top.txt", "12345").await.unwrap();
    files.write("/tmp/tree/sub/deep.txt", "1").await.unwrap();

    let info = files.get_info("/tmp/tree/top.txt").await.unwrap();
    assert_eq!(info.name, "top.txt");
    assert_eq!(info.path, "/tmp/tree/top.txt");
    assert_eq!(info.file_type, Some(FileType::File));
    assert_eq!(info.size, 5);
    assert_eq!(info.permissions.len(), 10, "{}", info.permissions);
    assert!(info.permissions.starts_with('-'));
    assert_eq!(info.mode & 0o400, 0o400);
    assert!(!info.owner.is_empty());
    assert!(!info.group.is_empty());
    assert!(info.modified_time.is_some());
    assert_eq!(info.symlink_target, None);
    let dir = files.get_info("/tmp/tree/sub").await.unwrap();
    assert_eq!(dir.file_type, Some(FileType::Directory));

    let shallow: Vec<String> = files
        .list("/tmp/tree", 1)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(shallow.len(), 2, "{shallow:?}");
    assert!(shallow.contains(&"/tmp/tree/sub".to_owned()));
    let deep = files.list("/tmp/tree", 2).await.unwrap();
    assert!(
        deep.iter().any(|e| e.path == "/tmp/tree/sub/deep.txt"),
        "{deep:?}"
    );
    assert!(
        files
            .list("/tmp/tree", 0)
            .await
            .unwrap_err()
            .is_invalid_argument()
    );
    assert!(
        files
            .list("/tmp/tree/top.txt", 1)
            .await
            .unwrap_err()
            .is_invalid_argument()
    );

    assert!(files.exists("/tmp/tree/top.txt").await.unwrap());
    let moved = files
        .rename("/tmp/tree/top.txt", "/tmp/elsewhere/top.txt")
        .await
        .unwrap();
    assert_eq!(moved.path, "/tmp/elsewhere/top.txt");
    assert!(!files.exists("/tmp/tree/top.txt").await.unwrap());
    assert_eq!(
        files.read_text("/tmp/elsewhere/top.txt").await.unwrap(),
        "12345"
    );
    let err = files.rename("/tmp/missing", "/tmp/x").await.unwrap_err();
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::File), "{err}");

    files.remove("/tmp/tree").await.unwrap();
    assert!(!files.exists("/tmp/tree/sub/deep.txt").await.unwrap());
    files.remove("/tmp/tree").await.unwrap();
    let err = files.get_info("/tmp/tree").await.unwrap_err();
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::File), "{err}");

    // Acting as root.
    files
        .clone()
        .as_user("root")
        .write("/root/r.txt", "r")
        .await
        .unwrap();
    let info = files
        .clone()
        .as_user("root")
        .get_info("/root/r.txt")
        .await
        .unwrap();
    assert_eq!(info.owner, "root");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_reports_create_write_rename_remove() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let files = sbx.files();
    files.make_dir("/tmp/watched").await.unwrap();
    let mut events = files
        .watch_dir(
            "/tmp/watched",
            WatchOptions::new()
                .include_entry(true)
                .idle_timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();

    files.write("/tmp/watched/a.txt", "1").await.unwrap();
    files
        .rename("/tmp/watched/a.txt", "/tmp/watched/b.txt")
        .await
        .unwrap();
    files.remove("/tmp/watched/b.txt").await.unwrap();

    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|(name, t): &(String, FilesystemEventType)| {
            name == "b.txt" && *t == FilesystemEventType::Remove
        })
    {
        let event = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("an event within 30 s")
            .expect("the watch is open")
            .unwrap();
        // The entry is attached when envd could still stat the file.
        if event.event_type == FilesystemEventType::Write
            && event.name == "a.txt"
            && let Some(entry) = &event.entry
        {
            assert_eq!(entry.path, "/tmp/watched/a.txt");
        }
        seen.push((event.name, event.event_type));
    }
    for expected in [
        ("a.txt", FilesystemEventType::Create),
        ("a.txt", FilesystemEventType::Write),
        ("a.txt", FilesystemEventType::Rename),
        ("b.txt", FilesystemEventType::Create),
        ("b.txt", FilesystemEventType::Remove),
    ] {
        assert!(
            seen.iter()
                .any(|(n, t)| n == expected.0 && *t == expected.1),
            "{expected:?} not in {seen:?}"
        );
    }
    drop(events);

    let err = files
        .watch_dir("/tmp/not-there", WatchOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found() || err.is_invalid_argument(), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_work_with_plain_http_and_expire() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    assert!(sbx.envd_access_token().is_some(), "a secure sandbox");
    // A plain client: only the routing headers e2b-local's single sandbox URL needs (the
    // cloud routes by host name instead); never the access token.
    let mut routing = reqwest::header::HeaderMap::new();
    routing.insert("e2b-sandbox-id", sbx.id().parse().unwrap());
    routing.insert("e2b-sandbox-port", "49983".parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(routing)
        .build()
        .unwrap();

    let up = sbx
        .upload_url(
            "/tmp/signed.bin",
            FileUrlOptions::new().expiration(Duration::from_secs(300)),
        )
        .unwrap();
    assert!(up.contains("signature=v1_"), "{up}");
    let status = http
        .post(&up)
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 1, 2, 255])
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");

    let down = sbx
        .download_url("/tmp/signed.bin", FileUrlOptions::new())
        .unwrap();
    let response = http.get(&down).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(response.bytes().await.unwrap().as_ref(), &[0u8, 1, 2, 255]);

    // A download URL must not work for an upload.
    let status = http.post(&down).body("x").send().await.unwrap().status();
    assert_eq!(status, 401);

    // A signature whose expiration has passed is refused.
    let token = sbx.envd_access_token().unwrap().expose_secret().to_owned();
    let past = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
        - 5;
    let sig = get_signature(
        "/tmp/signed.bin",
        FileOperation::Read,
        "",
        &token,
        Some(past),
    );
    let expired = http
        .get(format!("{}/files", sbx.envd_url()))
        .query(&[
            ("path", "/tmp/signed.bin"),
            ("signature", sig.as_str()),
            ("signature_expiration", past.to_string().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    local.stop().await;
}
