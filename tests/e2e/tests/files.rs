//! Files end to end against e2b-local: reads and writes of every kind, gzip on the wire,
//! stalled uploads, multipart uploads for older envd, metadata, listing, stat,
//! directories, moves, removal, watching and signed URLs.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use e2b_sandbox::{
    ExposeSecret as _, FileOperation, FileType, FileUrlOptions, FilesystemEventType,
    ListDirOptions, NotFoundKind, ReadOptions, Sandbox, TimeoutKind, WatchOptions, WriteEntry,
    WriteOptions, file_signature,
};
use e2b_test_support::sdk::Local;
use futures_util::StreamExt as _;
use support::proxy::{Proxy, Verdict};
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
        .read_stream_with(
            "/tmp/bytes.bin",
            ReadOptions::new().idle_timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let mut via_read = Vec::new();
    reader.read_to_end(&mut via_read).await.unwrap();
    assert_eq!(via_read, data);
    let mut stream = files.read_stream("/tmp/bytes.bin").await.unwrap();
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
        .write_stream("/tmp/streamed.bin", futures_util::stream::iter(chunks))
        .await
        .unwrap();
    assert_eq!(files.read_bytes("/tmp/streamed.bin").await.unwrap(), data);

    // From an AsyncRead.
    files
        .write_reader("/tmp/reader.bin", std::io::Cursor::new(data.clone()))
        .await
        .unwrap();
    assert_eq!(files.read_bytes("/tmp/reader.bin").await.unwrap(), data);

    // From and to local files, over several chunks (the last one short).
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = every_byte(4 * 1024 + 7).repeat(3);
    std::fs::write(dir.path().join("up.bin"), &big).unwrap();
    files
        .write_from_file("/tmp/local.bin", dir.path().join("up.bin"))
        .await
        .unwrap();
    let down = dir.path().join("down.bin");
    let copied = files.read_to_file("/tmp/local.bin", &down).await.unwrap();
    assert_eq!(copied, big.len() as u64);
    assert_eq!(std::fs::read(&down).unwrap(), big);
    let err = files
        .write_from_file("/tmp/x", dir.path().join("missing"))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    // An empty file (a length of 0), and a pipe, which has no length: read to its end.
    std::fs::write(dir.path().join("empty"), b"").unwrap();
    files
        .write_from_file("/tmp/local.bin", dir.path().join("empty"))
        .await
        .unwrap();
    assert!(files.read_bytes("/tmp/local.bin").await.unwrap().is_empty());
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let feeding = {
        let (fifo, big) = (fifo.clone(), big.clone());
        std::thread::spawn(move || std::fs::write(fifo, big).unwrap())
    };
    files
        .write_from_file("/tmp/piped.bin", &fifo)
        .await
        .unwrap();
    feeding.join().unwrap();
    assert_eq!(files.read_bytes("/tmp/piped.bin").await.unwrap(), big);
    let err = files
        .read_to_file("/tmp/local.bin", dir.path().join("no/such/dir/f"))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    let err = files
        .read_to_file("/tmp/nope", dir.path().join("never"))
        .await
        .unwrap_err();
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::File), "{err}");
    assert!(!dir.path().join("never").exists());

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
    let stat = files.info("/tmp/m.txt").await.unwrap();
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

    let info = files.info("/tmp/tree/top.txt").await.unwrap();
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
    let dir = files.info("/tmp/tree/sub").await.unwrap();
    assert_eq!(dir.file_type, Some(FileType::Directory));

    let shallow: Vec<String> = files
        .list("/tmp/tree")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(shallow.len(), 2, "{shallow:?}");
    assert!(shallow.contains(&"/tmp/tree/sub".to_owned()));
    let deep = files
        .list_with("/tmp/tree", ListDirOptions::new().depth(2))
        .await
        .unwrap();
    assert!(
        deep.iter().any(|e| e.path == "/tmp/tree/sub/deep.txt"),
        "{deep:?}"
    );
    assert!(
        files
            .list_with("/tmp/tree", ListDirOptions::new().depth(0))
            .await
            .unwrap_err()
            .is_invalid_argument()
    );
    assert!(
        files
            .list("/tmp/tree/top.txt")
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
    let err = files.info("/tmp/tree").await.unwrap_err();
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::File), "{err}");

    // Acting as root.
    let root = sbx.with_user("root");
    root.files().write("/root/r.txt", "r").await.unwrap();
    let info = root.files().info("/root/r.txt").await.unwrap();
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
        .watch_dir_with(
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

    let err = files.watch_dir("/tmp/not-there").await.unwrap_err();
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
        .upload_url_with(
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

    let down = sbx.download_url("/tmp/signed.bin").unwrap();
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
    let sig = file_signature(
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

/// `len` bytes of numbered text lines: compresses well.
fn compressible(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("line {i}: the quick brown fox\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// `Content-Encoding` and `Accept-Encoding` of one `/files` request, as the proxy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    method: http::Method,
    content_encoding: Option<String>,
    accept_encoding: Option<String>,
    content_length: Option<String>,
    transfer_encoding: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_is_on_the_wire_both_ways_and_decoded() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    // The sandbox's traffic through a proxy that counts the bytes on the wire.
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let record = Arc::clone(&seen);
    let proxy = Proxy::start(
        "127.0.0.1:0".parse().unwrap(),
        local.server.api_url(),
        Arc::new(move |parts| {
            if parts.uri.path() == "/files" {
                let header = |name| {
                    parts
                        .headers
                        .get(name)
                        .map(|v: &http::HeaderValue| v.to_str().unwrap().to_owned())
                };
                record.lock().unwrap().push(Seen {
                    method: parts.method.clone(),
                    content_encoding: header(http::header::CONTENT_ENCODING),
                    accept_encoding: header(http::header::ACCEPT_ENCODING),
                    content_length: header(http::header::CONTENT_LENGTH),
                    transfer_encoding: header(http::header::TRANSFER_ENCODING),
                });
            }
            Verdict::Forward
        }),
    )
    .await
    .unwrap();
    let client = e2b_sandbox::Client::new(
        e2b_test_support::sdk::config(&local.server)
            .sandbox_url(proxy.url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let via_proxy = Sandbox::connect(&client, sbx.id()).await.unwrap();
    let files = via_proxy.files();
    let traffic = proxy.traffic();
    let last = || seen.lock().unwrap().last().cloned().unwrap();
    let data = compressible(4 * 1024 * 1024);
    let len = data.len() as u64;

    // Uploads: plain, then gzip from memory, from a stream and as several files.
    traffic.reset();
    files.write("/tmp/plain.txt", data.clone()).await.unwrap();
    let plain_up = traffic.request_bytes();
    assert!(plain_up >= len, "{plain_up}");
    assert_eq!(last().content_encoding, None);

    // A local file goes with its length, not chunked; gzipped, its length is unknown.
    let dir = tempfile::tempdir().unwrap();
    let local_file = dir.path().join("data.txt");
    std::fs::write(&local_file, &data).unwrap();
    files
        .write_from_file("/tmp/from-file.txt", &local_file)
        .await
        .unwrap();
    assert_eq!(last().content_length, Some(len.to_string()));
    assert_eq!(last().transfer_encoding, None);
    assert_eq!(last().content_encoding, None);
    files
        .write_from_file_with(
            "/tmp/from-file-gz.txt",
            &local_file,
            WriteOptions::new().gzip(true),
        )
        .await
        .unwrap();
    assert_eq!(last().content_length, None);
    assert_eq!(last().transfer_encoding.as_deref(), Some("chunked"));
    assert_eq!(last().content_encoding.as_deref(), Some("gzip"));
    for path in ["/tmp/from-file.txt", "/tmp/from-file-gz.txt"] {
        assert_eq!(sbx.files().read_bytes(path).await.unwrap(), data, "{path}");
    }

    traffic.reset();
    files
        .write_with("/tmp/gz.txt", data.clone(), WriteOptions::new().gzip(true))
        .await
        .unwrap();
    let gzip_up = traffic.request_bytes();
    assert_eq!(last().method, http::Method::POST);
    assert_eq!(last().content_encoding.as_deref(), Some("gzip"));
    assert!(
        gzip_up * 10 < len,
        "gzip upload sent {gzip_up} bytes for {len}"
    );
    assert_eq!(sbx.files().read_bytes("/tmp/gz.txt").await.unwrap(), data);

    traffic.reset();
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(100_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    files
        .write_stream_with(
            "/tmp/gz-stream.txt",
            futures_util::stream::iter(chunks),
            WriteOptions::new().gzip(true),
        )
        .await
        .unwrap();
    assert_eq!(last().content_encoding.as_deref(), Some("gzip"));
    assert!(traffic.request_bytes() * 10 < len);
    assert_eq!(
        sbx.files().read_bytes("/tmp/gz-stream.txt").await.unwrap(),
        data
    );

    let binary = every_byte(4096);
    let written = files
        .write_files_with(
            &[
                WriteEntry::new("/tmp/many/a.txt", data.clone()),
                WriteEntry::new("/tmp/many/b.bin", binary.clone()),
            ],
            WriteOptions::new().gzip(true),
        )
        .await
        .unwrap();
    assert_eq!(written.len(), 2);
    assert_eq!(last().content_encoding.as_deref(), Some("gzip"));
    assert_eq!(
        sbx.files().read_bytes("/tmp/many/a.txt").await.unwrap(),
        data
    );
    assert_eq!(
        sbx.files().read_bytes("/tmp/many/b.bin").await.unwrap(),
        binary
    );

    // Downloads: plain, then gzip, decoded.
    traffic.reset();
    assert_eq!(files.read_bytes("/tmp/plain.txt").await.unwrap(), data);
    let plain_down = traffic.response_bytes();
    assert!(plain_down >= len, "{plain_down}");
    assert_eq!(last().accept_encoding, None);

    traffic.reset();
    let back = files
        .read_bytes_with("/tmp/plain.txt", ReadOptions::new().gzip(true))
        .await
        .unwrap();
    let gzip_down = traffic.response_bytes();
    assert_eq!(last().method, http::Method::GET);
    assert_eq!(last().accept_encoding.as_deref(), Some("gzip"));
    assert!(back == data, "gzip download differs");
    assert!(
        gzip_down * 10 < len,
        "gzip download took {gzip_down} bytes for {len}"
    );

    let mut reader = files
        .read_stream_with("/tmp/many/b.bin", ReadOptions::new().gzip(true))
        .await
        .unwrap();
    let mut via_read = Vec::new();
    reader.read_to_end(&mut via_read).await.unwrap();
    assert_eq!(via_read, binary);
    assert_eq!(
        files
            .read_text_with("/tmp/gz.txt", ReadOptions::new().gzip(true))
            .await
            .unwrap()
            .len(),
        data.len()
    );
    files.write("/tmp/empty", Bytes::new()).await.unwrap();
    assert!(
        files
            .read_bytes_with("/tmp/empty", ReadOptions::new().gzip(true))
            .await
            .unwrap()
            .is_empty()
    );
    let err = files
        .read_bytes_with("/tmp/missing", ReadOptions::new().gzip(true))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    eprintln!(
        "{len} bytes of text: upload {plain_up} plain, {gzip_up} gzip; download {plain_down} plain, {gzip_down} gzip"
    );
    local.stop().await;
}

/// A source that yields `first` and then nothing, ever.
fn stalling(first: &'static [u8]) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    futures_util::stream::iter([Ok(Bytes::from_static(first))])
        .chain(futures_util::stream::pending())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_uploads_end_with_an_idle_timeout() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let files = sbx.files();
    let idle = Duration::from_millis(500);
    // Far longer than the idle timeout: a hang fails the test instead of blocking it.
    let guard = Duration::from_secs(30);

    for gzip in [false, true] {
        let options = WriteOptions::new().idle_timeout(idle).gzip(gzip);
        let started = Instant::now();
        let err = tokio::time::timeout(
            guard,
            files.write_stream_with("/tmp/stalled.bin", stalling(b"some bytes"), options),
        )
        .await
        .expect("the upload ends")
        .unwrap_err();
        assert_eq!(err.timeout_kind(), Some(TimeoutKind::StreamIdle), "{err}");
        assert!(err.is_timeout());
        assert!(started.elapsed() >= idle);
        eprintln!(
            "gzip {gzip}: stalled upload failed after {:?}",
            started.elapsed()
        );
    }

    // An AsyncRead whose writer stays open but writes nothing more.
    let (mut tx, rx) = tokio::io::duplex(1024);
    tokio::io::AsyncWriteExt::write_all(&mut tx, b"first")
        .await
        .unwrap();
    let err = tokio::time::timeout(
        guard,
        files.write_reader_with(
            "/tmp/stalled.txt",
            rx,
            WriteOptions::new().idle_timeout(idle),
        ),
    )
    .await
    .expect("the upload ends")
    .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::StreamIdle), "{err}");
    drop(tx);

    // A source slower than nothing-at-all but within the idle timeout completes.
    let (mut tx, rx) = tokio::io::duplex(1024);
    let writer = tokio::spawn(async move {
        for i in 0..3 {
            tokio::io::AsyncWriteExt::write_all(&mut tx, format!("{i}\n").as_bytes())
                .await
                .unwrap();
            tokio::task::yield_now().await;
        }
    });
    files
        .write_reader_with("/tmp/slow.txt", rx, WriteOptions::new().idle_timeout(idle))
        .await
        .unwrap();
    writer.await.unwrap();
    assert_eq!(files.read_text("/tmp/slow.txt").await.unwrap(), "0\n1\n2\n");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_envd_gets_multipart_uploads() {
    let local = Local::start_with(|options| options.with_envd_version("0.5.6")).await;
    let sbx = local.sandbox().await;
    assert_eq!(sbx.envd_version().to_string(), "0.5.6");
    assert!(
        !sbx.envd_version()
            .supports(e2b_sandbox::EnvdFeature::OctetStreamUpload)
    );

    // This agent refuses octet-stream bodies, as envd 0.5.6 did: an SDK that sent one
    // would fail below.
    let token = sbx.envd_access_token().expect("a secure sandbox");
    let refused = reqwest::Client::new()
        .post(format!(
            "{}/files?path=/tmp/raw",
            local.server.sandbox_url()
        ))
        .header("E2b-Sandbox-Id", sbx.id())
        .header("E2b-Sandbox-Port", "49983")
        .header("X-Access-Token", token.expose_secret())
        .header(http::header::CONTENT_TYPE, "application/octet-stream")
        .body("raw")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), http::StatusCode::BAD_REQUEST);
    let message = refused.text().await.unwrap();
    assert!(
        message.contains("expected multipart/form-data"),
        "{message}"
    );

    let files = sbx.files();
    let binary = every_byte(300);
    let info = files.write("/tmp/one.bin", binary.clone()).await.unwrap();
    assert_eq!(info.path, "/tmp/one.bin");
    assert_eq!(files.read_bytes("/tmp/one.bin").await.unwrap(), binary);

    let entries = [
        WriteEntry::new("/tmp/many/a.txt", "alpha"),
        WriteEntry::new("/tmp/many/deep/b.bin", binary.clone()),
        WriteEntry::new("relative.txt", "in the home directory"),
    ];
    let written = files.write_files(&entries).await.unwrap();
    let paths: Vec<&str> = written.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/tmp/many/a.txt",
            "/tmp/many/deep/b.bin",
            "/home/user/relative.txt"
        ]
    );
    assert_eq!(files.read_text("/tmp/many/a.txt").await.unwrap(), "alpha");
    assert_eq!(
        files.read_bytes("/tmp/many/deep/b.bin").await.unwrap(),
        binary
    );
    assert_eq!(
        files.read_text("/home/user/relative.txt").await.unwrap(),
        "in the home directory"
    );

    // Streams become the one part of a multipart body; gzip is ignored, as upstream does.
    let chunks: Vec<std::io::Result<Bytes>> = binary
        .chunks(777)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    files
        .write_stream_with(
            "/tmp/streamed.bin",
            futures_util::stream::iter(chunks),
            WriteOptions::new().gzip(true),
        )
        .await
        .unwrap();
    assert_eq!(files.read_bytes("/tmp/streamed.bin").await.unwrap(), binary);
    files
        .write_reader("/tmp/reader.bin", std::io::Cursor::new(binary.clone()))
        .await
        .unwrap();
    assert_eq!(files.read_bytes("/tmp/reader.bin").await.unwrap(), binary);
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        files.write_stream_with(
            "/tmp/stalled.bin",
            stalling(b"x"),
            WriteOptions::new().idle_timeout(Duration::from_millis(500)),
        ),
    )
    .await
    .expect("the upload ends")
    .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::StreamIdle), "{err}");

    // Metadata needs envd 0.6.2.
    let err = files
        .write_with("/tmp/meta", "x", WriteOptions::new().metadata("k", "v"))
        .await
        .unwrap_err();
    assert!(err.is_template(), "{err}");
    assert!(files.write_files(&[]).await.unwrap().is_empty());
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_timeouts_mean_no_limit() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let files = sbx.files();
    let data = every_byte(64 * 1024);
    // A zero deadline, like everywhere else, is no deadline: never "already expired".
    files
        .write_with(
            "/tmp/zero.bin",
            data.clone(),
            WriteOptions::new().timeout(Duration::ZERO),
        )
        .await
        .unwrap();
    let read = files
        .read_bytes_with(
            "/tmp/zero.bin",
            ReadOptions::new().idle_timeout(Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(read, data);
    let streamed = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(data.clone()))]);
    files
        .write_stream_with(
            "/tmp/zero-stream.bin",
            streamed,
            WriteOptions::new()
                .timeout(Duration::ZERO)
                .idle_timeout(Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(
        files.read_bytes("/tmp/zero-stream.bin").await.unwrap(),
        data
    );
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_at_its_timeout_and_reports_its_exit() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let files = sbx.files();
    assert_eq!(
        WatchOptions::new().timeout,
        e2b_sandbox::DEFAULT_WATCH_TIMEOUT
    );
    let exits: Arc<Mutex<Vec<Option<bool>>>> = Arc::default();
    let seen = Arc::clone(&exits);
    let mut watch = files
        .watch_dir_with(
            "/tmp",
            WatchOptions::new()
                .timeout(Duration::from_millis(800))
                .on_exit(move |e| seen.lock().unwrap().push(e.map(|e| e.is_timeout()))),
        )
        .await
        .unwrap();
    files.write("/tmp/watched", "1").await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("an event")
        .expect("the stream is open")
        .expect("an event, not an error");
    assert_eq!(first.name, "watched");
    // Then the watch's own deadline ends it, with a timeout error, reported once.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match watch.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Some(e),
                None => return None,
            }
        }
    })
    .await
    .expect("the watch ended within its timeout");
    let error = ended.expect("it ended with an error");
    assert!(error.is_timeout(), "{error}");
    assert_eq!(*exits.lock().unwrap(), [Some(true)]);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_killed_mid_watch_or_mid_download_is_reported_as_gone() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let files = sbx.files();
    // A file far larger than what the sockets on the way can hold.
    let made = sbx
        .commands()
        .run("head -c 268435456 /dev/zero > /tmp/big")
        .await
        .unwrap();
    assert_eq!(made.exit_code, 0);
    let mut download = files.read_stream("/tmp/big").await.unwrap();
    let first = download.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    let exits: Arc<Mutex<Vec<bool>>> = Arc::default();
    let seen = Arc::clone(&exits);
    let mut watch = files
        .watch_dir_with(
            "/tmp",
            WatchOptions::new()
                .timeout(Duration::ZERO)
                .on_exit(move |e| {
                    seen.lock()
                        .unwrap()
                        .push(e.is_some_and(|e| e.is_sandbox_gone()))
                }),
        )
        .await
        .unwrap();
    assert!(local.client.kill_sandbox(sbx.id()).await.unwrap());
    let watch_end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match watch.next().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the watch ends when the sandbox is killed");
    let err = watch_end.expect("an error, not a clean end").unwrap_err();
    assert!(err.is_sandbox_gone(), "{err:?}");
    assert_eq!(*exits.lock().unwrap(), [true]);
    let download_end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match download.next().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the download ends when the sandbox is killed");
    let err = download_end
        .expect("an error, not a complete file")
        .unwrap_err();
    assert!(err.is_sandbox_gone(), "{err:?}");
    local.stop().await;
}
