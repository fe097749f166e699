//! `e2b files …` against an in-process e2b-local: trees both ways, standard input and
//! output, listing, removal, directories, watching, and a 1 GiB copy in bounded memory.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{
    Cli, PATIENCE, assert_success, code, proc_status_bytes, stderr, stdout, tree,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_trees_both_ways_list_remove_and_make_directories() {
    let cli = Cli::start().await;
    let id = cli.sandbox().await;
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("project");
    std::fs::create_dir_all(src.join("src/deep/er")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::fs::write(src.join("README"), "read me\n").unwrap();
    std::fs::write(src.join("src/main.rs"), "fn main() {}\n").unwrap();
    let binary: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    std::fs::write(src.join("src/deep/er/blob.bin"), &binary).unwrap();
    let src_arg = src.to_str().unwrap().to_owned();

    // Up: into an existing directory, under the source's name.
    let up = cli
        .json(&["files", "cp", &src_arg, &format!("{id}:/home/user/")])
        .await;
    assert_eq!(up["destination"], format!("{id}:/home/user/project"));
    assert_eq!(up["files"], 3);
    assert_eq!(up["bytes"], 8 + 13 + 300_000);

    // ls: the tree, as JSON.
    let listed = cli
        .json(&[
            "files",
            "ls",
            &format!("{id}:/home/user/project"),
            "--depth",
            "4",
        ])
        .await;
    let mut paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/home/user/project/README",
            "/home/user/project/empty",
            "/home/user/project/src",
            "/home/user/project/src/deep",
            "/home/user/project/src/deep/er",
            "/home/user/project/src/deep/er/blob.bin",
            "/home/user/project/src/main.rs",
        ]
    );
    let blob = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "blob.bin")
        .unwrap();
    assert_eq!(blob["size"], 300_000);
    assert_eq!(blob["type"], "file");

    // Down: to a new local path, byte for byte, empty directory included.
    let back = local.path().join("back");
    let down = cli
        .json(&[
            "files",
            "cp",
            &format!("{id}:/home/user/project"),
            back.to_str().unwrap(),
        ])
        .await;
    assert_eq!(down["files"], 3);
    assert_eq!(tree(&back), tree(&src));
    assert!(back.join("empty").is_dir());

    // One file each way, through standard input and output.
    let out = cli
        .run_with_input(
            &["files", "cp", "-", &format!("{id}:/tmp/from-stdin")],
            b"piped bytes\n",
        )
        .await;
    assert_success(&out, &["files", "cp", "-"]);
    let out = cli
        .run(&["files", "cp", &format!("{id}:/tmp/from-stdin"), "-"])
        .await;
    assert_success(&out, &["files", "cp", "..", "-"]);
    assert_eq!(out.stdout, b"piped bytes\n");

    // mkdir (twice: the second time it exists), rm, and what is left.
    let made = cli
        .json(&[
            "files",
            "mkdir",
            &format!("{id}:/tmp/a/b"),
            &format!("{id}:/tmp/a/b"),
        ])
        .await;
    assert_eq!(
        made["created"],
        serde_json::json!([format!("{id}:/tmp/a/b")])
    );
    assert_eq!(
        made["existed"],
        serde_json::json!([format!("{id}:/tmp/a/b")])
    );
    let out = cli
        .run(&[
            "files",
            "rm",
            &format!("{id}:/tmp/a"),
            &format!("{id}:/home/user/project/src"),
        ])
        .await;
    assert_success(&out, &["files", "rm"]);
    let listed = cli
        .json(&["files", "ls", &format!("{id}:/home/user/project")])
        .await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"src"), "{names:?}");
    assert!(names.contains(&"README"), "{names:?}");

    // Missing on either side: exit code 4, one line.
    let out = cli
        .run(&["files", "ls", &format!("{id}:/no/such/dir")])
        .await;
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1);
    let out = cli
        .run(&["files", "cp", "/no/such/file", &format!("{id}:/tmp/")])
        .await;
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    // Two local sides: a usage error.
    let out = cli.run(&["files", "cp", "/etc/hosts", "/tmp/x"]).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    cli.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_changes_as_json_lines() {
    let cli = Cli::start().await;
    let id = cli.sandbox().await;
    let mut command = cli.command(&[
        "files",
        "watch",
        &format!("{id}:/tmp"),
        "--recursive",
        "--timeout",
        "60",
        "--format",
        "json",
    ]);
    let mut watcher = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    // The watch starts asynchronously: write until the first event shows it is on.
    let writer = {
        let mut touch = cli.command(&[
            "sandbox",
            "exec",
            &id,
            "--",
            "i=0; while [ $i -lt 300 ]; do echo $i > /tmp/seen-$i; i=$((i+1)); sleep 0.1; done",
        ]);
        touch
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let event = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let line = lines.next().expect("an event").expect("a line");
            let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            if event["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("seen-"))
            {
                return event;
            }
            assert!(Instant::now() < deadline, "no event for the written files");
        }
    })
    .await
    .unwrap();
    assert!(
        ["create", "write"].contains(&event["type"].as_str().unwrap()),
        "{event}"
    );
    watcher.kill().unwrap();
    watcher.wait().unwrap();
    let mut writer = writer;
    writer.kill().unwrap();
    writer.wait().unwrap();
    cli.stop().await;
}

/// `files cp` of a 1 GiB file up and back down: the CLI's peak resident memory stays
/// under 64 MiB (VmHWM of the child, read while it runs), and the copy is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_gib_copy_runs_in_bounded_memory() {
    const SIZE: u64 = 1 << 30;
    const LIMIT: u64 = 64 << 20;
    let cli = Cli::start().await;
    let id = cli.sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    // Sparse: no disk and no memory here; a marker at each end proves the copy is exact.
    let big = dir.path().join("big.bin");
    {
        use std::io::{Seek as _, SeekFrom, Write as _};
        let mut file = std::fs::File::create(&big).unwrap();
        file.write_all(b"HEAD").unwrap();
        file.seek(SeekFrom::Start(SIZE - 4)).unwrap();
        file.write_all(b"TAIL").unwrap();
    }

    let started = Instant::now();
    let (up, up_notes) = peak_memory(cli.command(&[
        "files",
        "cp",
        big.to_str().unwrap(),
        &format!("{id}:/tmp/big.bin"),
    ]))
    .await;
    let up_secs = started.elapsed().as_secs_f64();
    let out = cli
        .run(&[
            "sandbox",
            "exec",
            &id,
            "--",
            "stat -c %s /tmp/big.bin; head -c 4 /tmp/big.bin; tail -c 4 /tmp/big.bin",
        ])
        .await;
    assert_eq!(
        stdout(&out),
        format!("{SIZE}\nHEADTAIL"),
        "{}",
        stderr(&out)
    );

    let back = dir.path().join("back.bin");
    let started = Instant::now();
    let (down, down_notes) = peak_memory(cli.command(&[
        "files",
        "cp",
        &format!("{id}:/tmp/big.bin"),
        back.to_str().unwrap(),
    ]))
    .await;
    let down_secs = started.elapsed().as_secs_f64();
    let meta = std::fs::metadata(&back).unwrap();
    assert_eq!(meta.len(), SIZE);
    let mut file = std::fs::File::open(&back).unwrap();
    let mut ends = [0u8; 4];
    use std::io::{Read as _, Seek as _, SeekFrom};
    file.read_exact(&mut ends).unwrap();
    assert_eq!(&ends, b"HEAD");
    file.seek(SeekFrom::Start(SIZE - 4)).unwrap();
    file.read_exact(&mut ends).unwrap();
    assert_eq!(&ends, b"TAIL");

    eprintln!(
        "1 GiB: up {up_secs:.1} s, peak RSS {} MiB; down {down_secs:.1} s, peak RSS {} MiB",
        up >> 20,
        down >> 20
    );
    // Off a terminal, no progress bar: the summary alone.
    assert_eq!(
        up_notes,
        format!("copied 1 file (1.0 GiB) to {id}:/tmp/big.bin\n")
    );
    assert_eq!(down_notes.lines().count(), 1, "{down_notes:?}");
    assert!(up < LIMIT, "upload peak RSS {} MiB", up >> 20);
    assert!(down < LIMIT, "download peak RSS {} MiB", down >> 20);
    cli.stop().await;
}

/// Run `command` to success; its peak resident memory (VmHWM), read from /proc while it
/// runs (the peak only grows, so the last reading before it exits is the figure), and
/// what it printed on standard error.
async fn peak_memory(mut command: std::process::Command) -> (u64, String) {
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut peak = 0;
        let mut err = String::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(hwm) = proc_status_bytes(pid, "VmHWM:") {
                peak = peak.max(hwm);
            }
            if let Some(status) = child.try_wait().unwrap() {
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
                assert!(status.success(), "copy failed: {err}");
                break;
            }
            assert!(Instant::now() < deadline, "the copy did not finish");
            // A sampling interval, not a synchronisation.
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(peak > 0, "never read the copy's memory");
        (peak, err)
    })
    .await
    .unwrap()
}
