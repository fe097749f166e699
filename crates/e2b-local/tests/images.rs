//! Pulling OCI images from a real registry (`docker-registry` on loopback,
//! images pushed with `skopeo` from layouts written here) into the image
//! store, and the `image` commands.

use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::Path;
use std::process::Command;

use e2b_local::image::{ImageStore, PullOptions, RegistryAuth};
use e2b_test_support::oci::{Image, Layer, Layout, runnable, runnable_image};
use e2b_test_support::registry::Registry;
use serde_json::json;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn small_image(marker: &str) -> Image {
    let mut layer = Layer::new();
    layer
        .dir("etc", 0o755)
        .file("etc/marker", 0o644, marker.as_bytes());
    Image::new(vec![layer], json!({"Env": ["MARKER=".to_owned() + marker]}))
}

#[tokio::test]
async fn the_runnable_image_pulls_with_its_config_and_overlay_format() {
    let registry = Registry::start();
    let _layout = registry.push_image(runnable_image(), "test/runnable", "v1");
    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let reference = format!("{}/test/runnable:v1", registry.host());

    let (image, stats) = store
        .pull_with_stats(
            &reference,
            &RegistryAuth::Anonymous,
            &PullOptions::default(),
        )
        .await
        .unwrap();
    eprintln!(
        "pull+unpack of the runnable image: {:?} ({} bytes, {} layers)",
        stats.elapsed, stats.bytes_downloaded, stats.layers_downloaded
    );
    assert_eq!(image.reference, reference);
    assert_eq!(image.layers.len(), 2);
    assert_eq!((stats.layers_downloaded, stats.layers_cached), (2, 0));
    assert_eq!(
        image.config.env_var(runnable::IMAGE_VAR.0),
        Some(runnable::IMAGE_VAR.1)
    );
    assert_eq!(image.config.env_var("PATH"), Some(runnable::PATH));
    assert_eq!(image.config.working_dir.as_deref(), Some(runnable::WORKDIR));
    assert_eq!(image.config.user.as_deref(), Some(runnable::USER));
    assert_eq!(image.config.cmd, ["/bin/bash"]);
    assert_eq!(store.get(&reference).unwrap().as_ref(), Some(&image));

    let base = store.layer_dir(&image.layers[0]);
    let top = store.layer_dir(&image.layers[1]);
    // Whiteout: a character device 0:0 named like the hidden file.
    let whiteout = top.join(runnable::WHITED_OUT.trim_start_matches('/'));
    let meta = std::fs::symlink_metadata(&whiteout).unwrap();
    assert!(meta.file_type().is_char_device(), "{meta:?}");
    assert_eq!(meta.rdev(), 0);
    assert!(!top.join("etc/.wh.removed-by-layer2").exists());
    // Opaque directory: the xattr, no marker file.
    let opaque = top.join(runnable::OPAQUE_DIR.trim_start_matches('/'));
    assert!(!opaque.join(".wh..wh..opq").exists());
    assert_eq!(
        xattr_get(&opaque, "user.overlay.opaque"),
        Some(b"y".to_vec())
    );
    if is_root() {
        assert_eq!(
            xattr_get(&opaque, "trusted.overlay.opaque"),
            Some(b"y".to_vec())
        );
    }
    // Symbolic links kept as links, not followed.
    let bin = std::fs::symlink_metadata(base.join("bin"));
    if let Ok(bin) = bin {
        assert!(bin.file_type().is_symlink() || bin.is_dir());
    }
    assert!(base.join("usr/bin/bash").is_file());
    // Hard links share the inode.
    let (file, link) = runnable::HARDLINKED;
    let a = std::fs::metadata(base.join(file.trim_start_matches('/'))).unwrap();
    let b = std::fs::metadata(base.join(link.trim_start_matches('/'))).unwrap();
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    // Ownership as in the archive on a root server; modes and mtimes kept.
    let app = std::fs::metadata(base.join("app")).unwrap();
    if is_root() {
        assert_eq!((app.uid(), app.gid()), (1000, 1000));
        assert_eq!(
            std::fs::metadata(base.join("usr/bin/bash")).unwrap().uid(),
            0
        );
    }
    assert_eq!(
        std::fs::metadata(base.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    assert_eq!(app.mtime(), 1_700_000_000);
}

fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    xattr::get(path, name).unwrap()
}

#[tokio::test]
async fn the_merged_overlay_of_the_runnable_image_runs_its_bash() {
    if !is_root() {
        eprintln!("skipped: mounting an overlay needs root here");
        return;
    }
    let registry = Registry::start();
    let _layout = registry.push_image(runnable_image(), "test/runnable", "v1");
    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let image = store
        .pull(
            &format!("{}/test/runnable:v1", registry.host()),
            &RegistryAuth::Anonymous,
            &PullOptions::default(),
        )
        .await
        .unwrap();
    let lower: Vec<String> = image
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_dir(l).display().to_string())
        .collect();
    let merged = data.path().join("merged");
    std::fs::create_dir(&merged).unwrap();
    let script = format!(
        "mount -t overlay overlay -o ro,lowerdir={lower} {m} && \
         chroot {m} /bin/bash -c 'cd /app && ls /opt/stuff && cat /app/hello.txt && \
         test ! -e /etc/removed-by-layer2 && echo gone && id -un 1000 && pwd'",
        lower = lower.join(":"),
        m = merged.display()
    );
    let output = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout, "c\nhello from layer 2\ngone\nuser\n/app\n");
}

#[tokio::test]
async fn credentials_are_sent_and_a_wrong_password_is_unauthorized() {
    let registry = Registry::start_with_auth("alice", "correct horse");
    let _layout = registry.push_image(small_image("private"), "team/private", "1");
    let reference = format!("{}/team/private:1", registry.host());
    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let options = PullOptions::default();

    let wrong = store
        .pull(
            &reference,
            &RegistryAuth::basic("alice", "battery staple"),
            &options,
        )
        .await
        .unwrap_err();
    assert!(wrong.is_unauthorized(), "{wrong:?}");
    assert!(
        wrong
            .to_string()
            .contains("check the username and password"),
        "{wrong}"
    );
    let anonymous = store
        .pull(&reference, &RegistryAuth::Anonymous, &options)
        .await
        .unwrap_err();
    assert!(anonymous.is_unauthorized(), "{anonymous:?}");
    assert!(store.list().unwrap().is_empty());

    let image = store
        .pull(
            &reference,
            &RegistryAuth::basic("alice", "correct horse"),
            &options,
        )
        .await
        .unwrap();
    assert_eq!(image.config.env_var("MARKER"), Some("private"));
    let marker = store.layer_dir(&image.layers[0]).join("etc/marker");
    assert_eq!(std::fs::read_to_string(marker).unwrap(), "private");

    let aws = RegistryAuth::Aws {
        access_key_id: "AKIA".into(),
        secret_access_key: "secret".into(),
        region: "us-east-1".into(),
    };
    let err = store.pull(&reference, &aws, &options).await.unwrap_err();
    assert!(err.is_unsupported_registry_type(), "{err:?}");
    assert!(err.to_string().contains("not supported yet"), "{err}");
}

#[tokio::test]
async fn a_multi_platform_index_resolves_to_this_host() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(dir.path());
    let other_arch = if e2b_test_support::oci::host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let mut other = small_image(other_arch);
    other.architecture = other_arch.to_owned();
    let (other_manifest, _) = layout.image(other);
    let host_arch = e2b_test_support::oci::host_arch();
    let (host_manifest, _) = layout.image(small_image(host_arch));
    // The foreign platform first, so that taking the first entry would be wrong.
    let index = layout.index(&[
        (other_manifest, other_arch),
        (host_manifest.clone(), host_arch),
    ]);
    layout.tag(&index, "multi");
    registry.push(dir.path(), "multi", "test/multi");

    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let image = store
        .pull(
            &format!("{}/test/multi:multi", registry.host()),
            &RegistryAuth::Anonymous,
            &PullOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(image.config.architecture.as_deref(), Some(host_arch));
    assert_eq!(image.digest, host_manifest.digest);
    assert!(image.index_digest.is_some());
    let marker = store.layer_dir(&image.layers[0]).join("etc/marker");
    assert_eq!(std::fs::read_to_string(marker).unwrap(), host_arch);

    // An index without this host's platform is "not found", saying which platform.
    let dir = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(dir.path());
    let mut foreign = small_image("foreign");
    foreign.architecture = "s390x".into();
    let (manifest, _) = layout.image(foreign);
    let index = layout.index(&[(manifest, "s390x")]);
    layout.tag(&index, "foreign");
    registry.push(dir.path(), "foreign", "test/multi");
    let err = store
        .pull(
            &format!("{}/test/multi:foreign", registry.host()),
            &RegistryAuth::Anonymous,
            &PullOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn a_second_pull_reuses_the_layers_and_images_share_them() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(dir.path());
    let shared = || {
        let mut layer = Layer::new();
        layer
            .dir("usr", 0o755)
            .file("usr/shared", 0o644, b"shared\n");
        layer
    };
    let top = |name: &str| {
        let mut layer = Layer::new();
        layer
            .dir("etc", 0o755)
            .file("etc/name", 0o644, name.as_bytes());
        layer
    };
    let (one, _) = layout.image(Image::new(vec![shared(), top("one")], json!({})));
    let (two, _) = layout.image(Image::new(vec![shared(), top("two")], json!({})));
    layout.tag(&one, "one").tag(&two, "two");
    registry.push(dir.path(), "one", "test/app");
    registry.push(dir.path(), "two", "test/app");

    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let auth = RegistryAuth::Anonymous;
    let options = PullOptions::default();
    let one_ref = format!("{}/test/app:one", registry.host());
    let two_ref = format!("{}/test/app:two", registry.host());

    let before = registry.blob_gets();
    let (first, stats) = store
        .pull_with_stats(&one_ref, &auth, &options)
        .await
        .unwrap();
    assert_eq!((stats.layers_downloaded, stats.layers_cached), (2, 0));
    assert_eq!(registry.blob_gets() - before, 3, "config + 2 layers");
    let base_dir = store.layer_dir(&first.layers[0]);
    let inode = std::fs::metadata(&base_dir).unwrap().ino();

    let before = registry.blob_gets();
    let (again, stats) = store
        .pull_with_stats(&one_ref, &auth, &options)
        .await
        .unwrap();
    assert_eq!((stats.layers_downloaded, stats.layers_cached), (0, 2));
    assert_eq!(registry.blob_gets() - before, 1, "only the config");
    assert_eq!(again.layers, first.layers);
    assert_eq!(
        std::fs::metadata(&base_dir).unwrap().ino(),
        inode,
        "the layer was not unpacked again"
    );

    let (second, stats) = store
        .pull_with_stats(&two_ref, &auth, &options)
        .await
        .unwrap();
    assert_eq!((stats.layers_downloaded, stats.layers_cached), (1, 1));
    assert_eq!(second.layers[0], first.layers[0]);
    assert_eq!(store.layers().unwrap().len(), 3);

    // gc: nothing while both images exist; after removing one, only its own layer.
    assert!(store.gc(&HashSet::new()).unwrap().is_empty());
    store.remove(&one_ref).unwrap();
    assert!(store.remove(&one_ref).unwrap_err().is_not_found());
    // A layer named in `keep` survives too.
    let keep: HashSet<_> = [first.layers[1].clone()].into();
    assert!(store.gc(&keep).unwrap().is_empty());
    let removed = store.gc(&HashSet::new()).unwrap();
    assert_eq!(removed, [first.layers[1].clone()]);
    assert!(!store.has_layer(&first.layers[1]));
    assert!(store.has_layer(&second.layers[0]) && store.has_layer(&second.layers[1]));
    assert_eq!(
        store.list().unwrap(),
        [store.get(&two_ref).unwrap().unwrap()]
    );
}

#[tokio::test]
async fn concurrent_pulls_of_one_image_agree() {
    let registry = Registry::start();
    let _layout = registry.push_image(small_image("concurrent"), "test/concurrent", "1");
    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let reference = format!("{}/test/concurrent:1", registry.host());
    let pulls = (0..4).map(|_| {
        let store = store.clone();
        let reference = reference.clone();
        tokio::spawn(async move {
            store
                .pull(
                    &reference,
                    &RegistryAuth::Anonymous,
                    &PullOptions::default(),
                )
                .await
        })
    });
    let images: Vec<_> = futures_util::future::join_all(pulls).await;
    let layers: HashSet<_> = images
        .into_iter()
        .map(|r| r.unwrap().unwrap().layers)
        .collect();
    assert_eq!(layers.len(), 1);
    assert_eq!(store.layers().unwrap().len(), 1);
    // Nothing left over in the work area.
    assert_eq!(
        std::fs::read_dir(data.path().join("layers/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn a_corrupted_blob_is_a_bad_digest_and_leaves_nothing() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(dir.path());
    let (manifest, layers) = layout.image(small_image("corrupt"));
    layout.tag(&manifest, "1");
    registry.push(dir.path(), "1", "test/corrupt");
    let blob = registry.blob_file(&layers[0].digest);
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();

    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let err = store
        .pull(
            &format!("{}/test/corrupt:1", registry.host()),
            &RegistryAuth::Anonymous,
            &PullOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(err.is_bad_digest(), "{err:?}");
    assert!(store.layers().unwrap().is_empty());
    assert!(store.list().unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(data.path().join("layers/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn a_hostile_layer_writes_nothing_outside_and_is_refused() {
    let registry = Registry::start();
    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let outside = data.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let cases: Vec<(&str, Layer)> = vec![
        ("dotdot", {
            let mut l = Layer::new();
            l.raw(
                "../../../../outside/escaped",
                tar::EntryType::Regular,
                None,
                b"x",
            );
            l
        }),
        ("absolute", {
            let mut l = Layer::new();
            l.raw(
                &format!("{}/abs", outside.display()),
                tar::EntryType::Regular,
                None,
                b"x",
            );
            l
        }),
        ("through-symlink", {
            let mut l = Layer::new();
            l.symlink("link", outside.to_str().unwrap());
            l.raw("link/through", tar::EntryType::Regular, None, b"x");
            l
        }),
        ("hardlink-out", {
            let mut l = Layer::new();
            l.raw(
                "passwd",
                tar::EntryType::Link,
                Some("../../../../../etc/passwd"),
                b"",
            );
            l
        }),
    ];
    for (tag, layer) in cases {
        let _layout = registry.push_image(Image::new(vec![layer], json!({})), "test/hostile", tag);
        let err = store
            .pull(
                &format!("{}/test/hostile:{tag}", registry.host()),
                &RegistryAuth::Anonymous,
                &PullOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(err.is_unsafe_path(), "{tag}: {err:?}");
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "{tag} wrote outside"
        );
        assert!(store.layers().unwrap().is_empty(), "{tag}");
    }
    assert!(store.list().unwrap().is_empty());

    // Device nodes and FIFOs are skipped, the rest of the layer kept.
    let mut layer = Layer::new();
    layer
        .special("null", tar::EntryType::Char)
        .special("disk", tar::EntryType::Block)
        .special("pipe", tar::EntryType::Fifo)
        .file("kept", 0o644, b"kept");
    let _layout = registry.push_image(
        Image::new(vec![layer], json!({})),
        "test/hostile",
        "devices",
    );
    let (image, stats) = store
        .pull_with_stats(
            &format!("{}/test/hostile:devices", registry.host()),
            &RegistryAuth::Anonymous,
            &PullOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(stats.skipped_special, 3);
    let dir = store.layer_dir(&image.layers[0]);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["kept"]);
}

#[tokio::test]
async fn docker_hub_images_come_from_the_mirror() {
    let mirror = Registry::start();
    let _layout = mirror.push_image(small_image("mirrored"), "library/mirrored", "1");
    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let options = PullOptions::default().with_registry_mirror(format!("http://{}", mirror.host()));
    let (image, stats) = store
        .pull_with_stats("mirrored:1", &RegistryAuth::Anonymous, &options)
        .await
        .unwrap();
    assert_eq!(image.reference, "docker.io/library/mirrored:1");
    assert_eq!(stats.source, mirror.host());
    assert_eq!(image.config.env_var("MARKER"), Some("mirrored"));
    assert!(store.get("mirrored:1").unwrap().is_some());
}

#[tokio::test]
async fn a_missing_image_is_not_found() {
    let registry = Registry::start();
    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::open(data.path()).unwrap();
    let err = store
        .pull(
            &format!("{}/no/such:image", registry.host()),
            &RegistryAuth::Anonymous,
            &PullOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = store
        .pull(
            "Not A Reference",
            &RegistryAuth::Anonymous,
            &PullOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
}

#[test]
fn the_image_commands_pull_list_and_remove() {
    let registry = Registry::start_with_auth("bob", "pw");
    let _one = registry.push_image(small_image("one"), "cli/one", "1");
    let _two = registry.push_image(small_image("two"), "cli/two", "1");
    let data = tempfile::tempdir().unwrap();
    let bin = e2b_test_support::agent_binary();
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write as _;
        let mut child = Command::new(&bin)
            .args(args)
            .arg("--data-dir")
            .arg(data.path())
            .env("RUST_BACKTRACE", "0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let one = format!("{}/cli/one:1", registry.host());
    let two = format!("{}/cli/two:1", registry.host());

    let (ok, _, stderr) = run(
        &[
            "image",
            "pull",
            &one,
            "--username",
            "bob",
            "--password-stdin",
        ],
        Some("wrong\n"),
    );
    assert!(!ok);
    assert!(stderr.contains("refused access"), "{stderr}");
    for reference in [&one, &two] {
        let (ok, stdout, stderr) = run(
            &[
                "image",
                "pull",
                reference,
                "--username",
                "bob",
                "--password-stdin",
            ],
            Some("pw\n"),
        );
        assert!(ok, "{stdout}{stderr}");
        assert!(stdout.contains("1 downloaded"), "{stdout}");
    }

    let (ok, table, _) = run(&["image", "ls"], None);
    assert!(ok);
    assert!(table.starts_with("REFERENCE"), "{table}");
    assert!(table.contains(&one) && table.contains(&two), "{table}");
    let (ok, listed, _) = run(&["image", "ls", "--format", "json"], None);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["reference"], one.as_str());
    assert_eq!(listed[0]["config"]["env"][0], json!(["MARKER", "one"]));

    let (ok, stdout, stderr) = run(&["image", "rm", &one], None);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("1 unused layers removed"), "{stdout}");
    let (ok, listed, _) = run(&["image", "ls", "--format", "json"], None);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["reference"], two.as_str());
    let (ok, _, stderr) = run(&["image", "rm", &one], None);
    assert!(!ok);
    assert!(stderr.contains("not found"), "{stderr}");
}
