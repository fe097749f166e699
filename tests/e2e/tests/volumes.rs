//! Volumes end to end through `e2b-volume` against e2b-local: every control-plane and
//! content operation, typed errors, token refusals, escapes, durability across a restart,
//! and one volume mounted in two sandboxes. (Streaming in constant memory is measured by
//! `volumes_memory.rs`, a test binary of its own.)

use std::time::Duration;

use bytes::Bytes;
use e2b_sandbox::{Sandbox, VolumeMount};
use e2b_test_support::sdk::Local;
use e2b_volume::{
    ListDirOptions, MakeDirOptions, Metadata, ReadOptions, Volume, VolumeAndToken, VolumeFileType,
    WriteOptions,
};
use futures_util::StreamExt as _;
use tokio::io::AsyncReadExt as _;

fn paths(entries: &[e2b_volume::VolumeEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.path.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_connect_get_info_list_and_destroy() {
    let local = Local::start().await;
    let client = &local.client;

    let volume = Volume::create(client, "models").await.unwrap();
    assert_eq!(volume.name(), "models");
    assert_eq!(volume.api_url(), local.server.api_url());
    assert!(
        !format!("{volume:?}").contains(e2b_sandbox::ExposeSecret::expose_secret(volume.token())),
        "the token is printed"
    );
    let other = Volume::create(client, "scratch").await.unwrap();

    let info = Volume::get_info(client, volume.id()).await.unwrap();
    assert_eq!(
        (info.volume_id.as_str(), info.name.as_str()),
        (volume.id(), "models")
    );
    assert_eq!(info.domain, None);
    let connected = Volume::connect(client, volume.id()).await.unwrap();
    assert_eq!(connected.name(), "models");

    let listed = Volume::list(client).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["models", "scratch"]);

    // Bad names, a taken name, unknown ids: typed errors.
    let err = Volume::create(client, "no spaces").await.unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    let err = Volume::create(client, "models").await.unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    assert!(err.to_string().contains("already exists"), "{err}");
    let missing = "00000000-0000-4000-8000-000000000000";
    let err = Volume::connect(client, missing).await.unwrap_err();
    assert!(err.is_volume_not_found(), "{err}");
    assert!(err.is_not_found());
    let err = Volume::get_info(client, missing).await.unwrap_err();
    assert!(err.is_volume_not_found(), "{err}");

    assert!(Volume::destroy(client, other.id()).await.unwrap());
    assert!(!Volume::destroy(client, other.id()).await.unwrap());
    // The destroyed volume's token no longer opens anything.
    let err = other.list_dir("/").await.unwrap_err();
    assert!(err.is_authentication(), "{err}");
    let listed = Volume::list(client).await.unwrap();
    assert_eq!(listed.len(), 1);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_content_operation() {
    let local = Local::start().await;
    let volume = Volume::create(&local.client, "work").await.unwrap();

    // Directories.
    let err = volume.make_dir("/a/b").await.unwrap_err();
    assert!(err.is_volume_path_not_found(), "{err}");
    let dir = volume
        .make_dir_with(
            "/a/b",
            MakeDirOptions::new()
                .force(true)
                .uid(1000)
                .gid(1000)
                .mode(0o750),
        )
        .await
        .unwrap();
    assert_eq!(dir.file_type, VolumeFileType::Directory);
    assert_eq!((dir.uid, dir.gid, dir.mode), (1000, 1000, 0o750));
    let err = volume.make_dir("/a/b").await.unwrap_err();
    assert!(err.is_conflict(), "{err}");

    // Files: bytes, text, a stream, a reader; owner and mode; no overwrite without force.
    let written = volume.write("/a/b/hello.txt", "hello").await.unwrap();
    assert_eq!((written.size, written.uid, written.mode), (5, 9090, 0o666));
    let err = volume.write("/a/b/hello.txt", "again").await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let replaced = volume
        .write_with(
            "/a/b/hello.txt",
            "hello, volume",
            WriteOptions::new()
                .force(true)
                .uid(1000)
                .gid(1000)
                .mode(0o640),
        )
        .await
        .unwrap();
    assert_eq!(
        (replaced.size, replaced.uid, replaced.mode),
        (13, 1000, 0o640)
    );
    assert_eq!(
        volume.read_text("/a/b/hello.txt").await.unwrap(),
        "hello, volume"
    );
    let chunks = futures_util::stream::iter(
        ["one ", "two ", "three"].map(|s| Ok::<_, std::io::Error>(Bytes::from(s))),
    );
    volume
        .write_stream_with("/streamed/s.txt", chunks, WriteOptions::new().force(true))
        .await
        .unwrap();
    assert_eq!(
        volume.read_bytes("/streamed/s.txt").await.unwrap(),
        b"one two three"
    );
    let reader = std::io::Cursor::new(vec![42u8; 300_000]);
    let entry = volume
        .write_reader("/streamed/r.bin", reader)
        .await
        .unwrap();
    assert_eq!(entry.size, 300_000);
    let mut stream = volume
        .read_stream_with(
            "/streamed/r.bin",
            ReadOptions::new().idle_timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, vec![42u8; 300_000]);
    let mut chunks = volume.read_stream("/a/b/hello.txt").await.unwrap();
    let first = chunks.next().await.unwrap().unwrap();
    assert_eq!(&first[..], b"hello, volume");

    // Info, exists, listing with depth.
    let info = volume.info("/a/b/hello.txt").await.unwrap();
    assert_eq!(
        (info.name.as_str(), info.path.as_str()),
        ("hello.txt", "/a/b/hello.txt")
    );
    assert!(info.mtime > std::time::SystemTime::UNIX_EPOCH);
    assert!(volume.exists("/a/b").await.unwrap());
    assert!(!volume.exists("/a/nope").await.unwrap());
    let err = volume.info("/nope").await.unwrap_err();
    assert!(err.is_volume_path_not_found(), "{err}");
    assert!(!err.is_volume_not_found());
    assert_eq!(
        paths(&volume.list_dir("/").await.unwrap()),
        ["/a", "/streamed"]
    );
    let deep = volume
        .list_dir_with("/", ListDirOptions::new().depth(3))
        .await
        .unwrap();
    assert_eq!(
        paths(&deep),
        [
            "/a",
            "/a/b",
            "/a/b/hello.txt",
            "/streamed",
            "/streamed/r.bin",
            "/streamed/s.txt"
        ]
    );
    let err = volume
        .list_dir_with("/", ListDirOptions::new().depth(11))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");

    // Metadata.
    let updated = volume
        .update_metadata("/a/b/hello.txt", Metadata::new().mode(0o600).uid(0))
        .await
        .unwrap();
    assert_eq!((updated.mode, updated.uid, updated.gid), (0o600, 0, 1000));
    let err = volume
        .update_metadata("/nope", Metadata::new().mode(0o600))
        .await
        .unwrap_err();
    assert!(err.is_volume_path_not_found(), "{err}");

    // Remove.
    volume.remove("/a").await.unwrap();
    assert!(!volume.exists("/a/b/hello.txt").await.unwrap());
    let err = volume.remove("/a").await.unwrap_err();
    assert!(err.is_volume_path_not_found(), "{err}");
    let err = volume.remove("/").await.unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    let err = volume.read_text("/streamed").await.unwrap_err();
    assert!(
        err.is_invalid_argument(),
        "a directory is not a file: {err}"
    );
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_and_paths_stay_inside() {
    let local = Local::start().await;
    let client = &local.client;
    let volume = Volume::create(client, "guarded").await.unwrap();
    let other = Volume::create(client, "neighbour").await.unwrap();
    volume.write("/secret.txt", "mine").await.unwrap();

    // A wrong token, and another volume's token.
    let forged = Volume::from_parts(
        client,
        VolumeAndToken::new(volume.id(), "guarded", "e2bvol_forged"),
    )
    .unwrap();
    let err = forged.read_text("/secret.txt").await.unwrap_err();
    assert!(err.is_authentication(), "{err}");
    assert_eq!(err.status(), Some(401));
    let borrowed = Volume::from_parts(
        client,
        VolumeAndToken::new(
            volume.id(),
            "guarded",
            e2b_sandbox::ExposeSecret::expose_secret(other.token()),
        ),
    )
    .unwrap();
    let err = borrowed.read_text("/secret.txt").await.unwrap_err();
    assert!(err.is_authentication(), "{err}");
    assert_eq!(err.status(), Some(403));

    // `..` and absolute paths stop at the volume's root.
    for path in ["../../../etc/passwd", "/../etc/passwd", "/etc/passwd"] {
        let err = volume.read_bytes(path).await.unwrap_err();
        assert!(err.is_volume_path_not_found(), "{path}: {err}");
    }
    let entry = volume.write("../../outside.txt", "x").await.unwrap();
    assert_eq!(entry.path, "/outside.txt");

    // Symlinks planted by a sandbox lead back into the volume, never to the host.
    let sbx = Sandbox::builder()
        .volume_mount("/mnt/guarded", &volume)
        .timeout(Duration::from_secs(120))
        .create(&local.client)
        .await
        .unwrap();
    let planted = sbx
        .with_user("root")
        .commands()
        .run("ln -s /etc /mnt/guarded/etc-link && ln -s / /mnt/guarded/root-link && ln -s /etc/shadow /mnt/guarded/shadow")
        .await
        .unwrap();
    assert_eq!(planted.exit_code, 0);
    for path in ["etc-link/passwd", "root-link/etc/passwd", "shadow"] {
        let err = volume.read_bytes(path).await.unwrap_err();
        assert!(err.is_volume_path_not_found(), "{path}: {err}");
    }
    let through_root = volume.list_dir("root-link").await.unwrap();
    assert!(
        paths(&through_root).contains(&"/root-link/secret.txt"),
        "{through_root:?}"
    );
    let link = volume.info("etc-link").await.unwrap();
    assert_eq!(link.file_type, VolumeFileType::Symlink);
    assert_eq!(link.target.as_deref(), Some("/etc"));
    sbx.kill().await.unwrap();
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_volume_in_two_sandboxes_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let local = Local::start_with(|o| o.with_data_dir(data.clone())).await;
    let volume = Volume::create(&local.client, "shared").await.unwrap();
    volume
        .write_with(
            "/from-host.txt",
            "host",
            WriteOptions::new().uid(1000).gid(1000).mode(0o644),
        )
        .await
        .unwrap();

    let one = Sandbox::builder()
        .volume_mount("/mnt/shared", &volume)
        .timeout(Duration::from_secs(120))
        .create(&local.client)
        .await
        .unwrap();
    let two = Sandbox::builder()
        .volume_mount("/data", volume.name())
        .timeout(Duration::from_secs(120))
        .create(&local.client)
        .await
        .unwrap();
    assert_eq!(
        one.info().await.unwrap().volume_mounts,
        [VolumeMount::new("shared", "/mnt/shared")]
    );
    let seen = one
        .commands()
        .run("stat -c '%u %a' /mnt/shared/from-host.txt && cat /mnt/shared/from-host.txt")
        .await
        .unwrap();
    assert_eq!(seen.stdout, "1000 644\nhost");
    one.commands()
        .run("echo from-one > /mnt/shared/one.txt")
        .await
        .unwrap();
    let seen = two.commands().run("cat /data/one.txt").await.unwrap();
    assert_eq!(seen.stdout, "from-one\n");
    two.commands()
        .run("mkdir -p /data/out && echo from-two > /data/out/two.txt")
        .await
        .unwrap();
    assert_eq!(
        volume.read_text("/out/two.txt").await.unwrap(),
        "from-two\n"
    );
    let by_two = volume.info("/out/two.txt").await.unwrap();
    assert_eq!(by_two.uid, 1000, "written by `user`");
    one.kill().await.unwrap();
    two.kill().await.unwrap();

    // A restart on the same data directory keeps the volume, its token and its files.
    local.stop().await;
    let local = Local::start_with(|o| o.with_data_dir(data.clone())).await;
    let again = Volume::connect(&local.client, volume.id()).await.unwrap();
    assert_eq!(again.read_text("/out/two.txt").await.unwrap(), "from-two\n");
    let names: Vec<String> = Volume::list(&local.client)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["shared"]);
    let sbx = Sandbox::builder()
        .volume_mount("/mnt/shared", &again)
        .timeout(Duration::from_secs(120))
        .create(&local.client)
        .await
        .unwrap();
    let seen = sbx.commands().run("cat /mnt/shared/one.txt").await.unwrap();
    assert_eq!(seen.stdout, "from-one\n");
    sbx.kill().await.unwrap();
    local.stop().await;
}
