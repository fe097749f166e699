//! `e2b volume …` against an in-process e2b-local: create, a file copied in and out (from
//! a path and standard input, to a path and standard output), ls, rm; JSON parsed.

use crate::support::{Cli, assert_success, code, stderr, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_copy_in_and_out_list_and_remove() {
    let cli = Cli::start().await;
    let created = cli.json(&["volume", "create", "cli-data"]).await;
    assert_eq!(created["name"], "cli-data");
    let volume_id = created["volumeId"].as_str().unwrap().to_owned();

    // In: a binary file into a new directory (parents made), then standard input.
    let local = tempfile::tempdir().unwrap();
    let blob: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let src = local.path().join("blob.bin");
    std::fs::write(&src, &blob).unwrap();
    let up = cli
        .json(&["volume", "cp", src.to_str().unwrap(), "cli-data:/raw/"])
        .await;
    assert_eq!(up["destination"], "cli-data:/raw/blob.bin");
    assert_eq!(up["bytes"], 300_000);
    let out = cli
        .run_with_input(
            &["volume", "cp", "-", &format!("{volume_id}:/notes.txt")],
            b"piped\n",
        )
        .await;
    assert_success(&out, &["volume", "cp", "-"]);

    // ls: by name and by id, as JSON, two levels.
    let listed = cli
        .json(&["volume", "ls", "cli-data", "--depth", "2"])
        .await;
    let mut entries: Vec<(String, String, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
                e["size"].as_u64().unwrap(),
            )
        })
        .filter(|(_, kind, _)| kind != "directory")
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            ("/notes.txt".to_owned(), "file".to_owned(), 6),
            ("/raw/blob.bin".to_owned(), "file".to_owned(), 300_000),
        ]
    );
    let listed = cli
        .json(&["volume", "ls", &format!("{volume_id}:/raw")])
        .await;
    assert_eq!(listed[0]["name"], "blob.bin");

    // Out: to a local directory, byte for byte, and to standard output.
    let back = local.path().join("back");
    std::fs::create_dir(&back).unwrap();
    let down = cli
        .json(&[
            "volume",
            "cp",
            "cli-data:/raw/blob.bin",
            back.to_str().unwrap(),
        ])
        .await;
    assert_eq!(down["bytes"], 300_000);
    assert_eq!(std::fs::read(back.join("blob.bin")).unwrap(), blob);
    let out = cli.run(&["volume", "cp", "cli-data:/notes.txt", "-"]).await;
    assert_success(&out, &["volume", "cp", "..", "-"]);
    assert_eq!(out.stdout, b"piped\n");

    // A missing file is "not found" (4), in one line.
    let out = cli
        .run(&["volume", "cp", "cli-data:/nope", back.to_str().unwrap()])
        .await;
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));

    // list, rm, and rm of a volume that is gone.
    let listed = cli.json(&["volume", "list"]).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["volumeId"] == volume_id.as_str() && v["name"] == "cli-data")
    );
    let out = cli.run(&["volume", "list"]).await;
    assert!(stdout(&out).contains("cli-data"), "{}", stdout(&out));
    let removed = cli.json(&["volume", "rm", "cli-data"]).await;
    assert_eq!(removed["removed"], serde_json::json!(["cli-data"]));
    let out = cli.run(&["volume", "rm", &volume_id]).await;
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let listed = cli.json(&["volume", "list"]).await;
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["volumeId"] == volume_id.as_str())
    );
    cli.stop().await;
}
