//! `e2b sandbox …`, configuration errors and completions, run as the built binary against an
//! in-process e2b-local.

use std::collections::HashSet;

use crate::support::{Cli, PATIENCE, assert_success, bare, code, output, stderr, stdout};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_listing_metrics_logs_and_snapshots() {
    let cli = Cli::start().await;

    // create --detach --format json: the new sandbox's info.
    let created = cli
        .json(&[
            "sandbox",
            "create",
            "--detach",
            "--timeout",
            "120",
            "-m",
            "suite=cli",
            "-m",
            "role=one",
            "-e",
            "GREETING=hello",
        ])
        .await;
    let id = created["sandboxId"].as_str().expect("sandboxId").to_owned();
    assert_eq!(created["state"], "running");
    assert_eq!(created["templateId"], "base");
    assert_eq!(created["metadata"]["suite"], "cli");
    // The environment of every command in it.
    let out = cli
        .run(&["sandbox", "exec", &id, "--", "echo $GREETING"])
        .await;
    assert_eq!(stdout(&out), "hello\n");
    let other = cli.sandbox().await;

    // list: JSON, filtered by metadata; the table names both.
    let listed = cli.json(&["sandbox", "list", "-m", "role=one"]).await;
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sandboxId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let table = cli.run(&["sbx", "ls"]).await;
    assert_success(&table, &["sbx", "ls"]);
    let table = stdout(&table);
    assert!(table.starts_with("SANDBOX ID"), "{table}");
    assert!(table.contains(&id) && table.contains(&other), "{table}");
    // Paging: one at a time, the rest behind --next-token.
    let first = cli.run(&["sandbox", "list", "--limit", "1"]).await;
    assert_eq!(stdout(&first).lines().count(), 2, "{}", stdout(&first));
    assert!(
        stderr(&first).contains("more sandboxes"),
        "{}",
        stderr(&first)
    );

    // info
    let info = cli.json(&["sandbox", "info", &id]).await;
    assert_eq!(info["sandboxId"], id.as_str());
    assert!(info["cpuCount"].as_u64().unwrap() >= 1);
    let info_table = stdout(&cli.run(&["sandbox", "info", &id]).await);
    assert!(
        info_table.contains("State:") && info_table.contains("running"),
        "{info_table}"
    );

    // set-timeout moves the end.
    let before = info["endAt"].as_str().unwrap().to_owned();
    let set = cli.json(&["sandbox", "set-timeout", &id, "600"]).await;
    assert_eq!(set["sandboxId"], id.as_str());
    let after = cli.json(&["sandbox", "info", &id]).await;
    assert!(
        after["endAt"].as_str().unwrap() > before.as_str(),
        "{after}"
    );

    // metrics: JSON, one sample at least.
    let out = cli
        .run(&["sandbox", "metrics", &id, "--format", "json"])
        .await;
    assert_success(&out, &["sandbox", "metrics"]);
    let samples: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(!samples.is_empty());
    assert!(
        samples[0]["memTotal"].as_u64().unwrap() > 0,
        "{}",
        samples[0]
    );

    // logs: e2b-local keeps none, so the listing is empty but succeeds.
    let out = cli.run(&["sandbox", "logs", &id, "--level", "warn"]).await;
    assert_success(&out, &["sandbox", "logs"]);
    assert_eq!(stdout(&out), "");

    // pause, list paused, resume.
    let paused = cli.json(&["sandbox", "pause", &id]).await;
    assert_eq!(paused["status"], "paused");
    let listed = cli.json(&["sandbox", "list", "--state", "paused"]).await;
    assert_eq!(listed[0]["sandboxId"], id.as_str());
    assert_eq!(listed[0]["state"], "paused");
    let resumed = cli.json(&["sandbox", "resume", &id]).await;
    assert_eq!(resumed["status"], "resumed");
    let info = cli.json(&["sandbox", "info", &id]).await;
    assert_eq!(info["state"], "running");

    // snapshots: create, list, delete.
    let snap = cli
        .json(&["sandbox", "snapshot", "create", &id, "--name", "cli-snap"])
        .await;
    let snapshot_id = snap["snapshotId"].as_str().unwrap().to_owned();
    let snaps = cli.json(&["sandbox", "snapshot", "list", &id]).await;
    assert!(
        snaps
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["snapshotId"] == snapshot_id.as_str()),
        "{snaps}"
    );
    let deleted = cli
        .json(&["sandbox", "snapshot", "delete", &snapshot_id])
        .await;
    assert_eq!(deleted["deleted"][0], snapshot_id.as_str());
    let again = cli
        .run(&["sandbox", "snapshot", "delete", &snapshot_id])
        .await;
    assert_eq!(code(&again), 4, "{}", stderr(&again));

    // kill: one by id (a missing one is exit code 4), then --all.
    let out = cli.run(&["sandbox", "kill", &id, "no-such-sandbox"]).await;
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stdout(&out).contains(&id), "{}", stdout(&out));
    assert!(stderr(&out).contains("no-such-sandbox"), "{}", stderr(&out));
    let killed = cli.json(&["sandbox", "kill", "--all"]).await;
    assert_eq!(killed["killed"], serde_json::json!([other]));
    let left = cli.json(&["sandbox", "list"]).await;
    assert_eq!(left, serde_json::json!([]));

    // A sandbox that does not exist: one line, exit code 4.
    let out = cli.run(&["sandbox", "info", &id]).await;
    assert_eq!(code(&out), 4);
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    cli.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_pipes_streams_and_passes_the_exit_code_through() {
    let cli = Cli::start().await;
    let id = cli.sandbox().await;

    // The remote exit code is ours; stdout and stderr stay apart.
    let out = cli
        .run(&[
            "sandbox",
            "exec",
            &id,
            "--",
            "echo out; echo err >&2; exit 7",
        ])
        .await;
    assert_eq!(code(&out), 7);
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");

    // Several words are quoted for the shell word by word.
    let out = cli
        .run(&[
            "sandbox", "exec", &id, "--", "printf", "%s|", "a b", "it's", "$HOME",
        ])
        .await;
    assert_success(&out, &["exec printf"]);
    assert_eq!(stdout(&out), "a b|it's|$HOME|");

    // Piped standard input reaches the command and ends (wc sees end of file).
    let input: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let out = cli
        .run_with_input(&["sandbox", "exec", &id, "--", "wc -l"], &input)
        .await;
    assert_success(&out, &["exec wc -l"]);
    assert_eq!(stdout(&out).trim(), "200000");

    // --cwd, --env, --user.
    let out = cli
        .run(&[
            "sandbox",
            "exec",
            &id,
            "--cwd",
            "/tmp",
            "-e",
            "A=1",
            "-e",
            "B=two",
            "--user",
            "root",
            "--",
            "echo $(pwd) $A $B $(whoami)",
        ])
        .await;
    assert_eq!(stdout(&out), "/tmp 1 two root\n", "{}", stderr(&out));

    // A signal: 128 + its number, as a shell reports it.
    let out = cli
        .run(&["sandbox", "exec", &id, "--", "kill -TERM $$"])
        .await;
    assert_eq!(code(&out), 143, "{}", stderr(&out));

    // --background: the pid, at once; the process keeps running.
    let started = cli
        .json(&["sandbox", "exec", &id, "--background", "--", "sleep 60"])
        .await;
    let pid = started["pid"].as_u64().expect("pid");
    let out = cli
        .run(&[
            "sandbox",
            "exec",
            &id,
            "--",
            &format!("kill -0 {pid} && echo alive"),
        ])
        .await;
    assert_eq!(stdout(&out), "alive\n", "{}", stderr(&out));

    // Ctrl-C (SIGINT) kills the remote command: exit code 130, nothing left running.
    let mut sleeper = cli.command(&["sandbox", "exec", &id, "--", "sleep 301"]);
    let mut sleeper = sleeper
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `[3]`: the pattern does not match the probe's own command line.
    wait_for_remote(&cli, &id, "pgrep -f 'sleep [3]01'").await;
    let sent = std::process::Command::new("kill")
        .args(["-INT", &sleeper.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::task::spawn_blocking(move || sleeper.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(130));
    let out = cli
        .run(&["sandbox", "exec", &id, "--", "pgrep -f 'sleep [3]01'"])
        .await;
    assert_eq!(code(&out), 1, "sleep is gone: {}", stdout(&out));

    // e2b's own failure (no such sandbox) is 255, apart from any remote code.
    let out = cli
        .run(&["sandbox", "exec", "no-such-sandbox", "--", "true"])
        .await;
    assert_eq!(code(&out), 255, "{}", stderr(&out));
    cli.stop().await;
}

#[tokio::test]
async fn configuration_errors_say_what_to_do() {
    // No key anywhere: exit code 3, one line naming the variable and the flag.
    let out = output(&mut bare(&["sandbox", "list"]), None).await;
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(err.starts_with("error: E2B_API_KEY is not set: "), "{err}");
    assert!(err.contains("--api-key"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // A flag beats the environment: a malformed URL given as a flag is reported.
    let mut command = bare(&["sandbox", "list", "--api-url", "not a url"]);
    command.env("E2B_API_KEY", "e2b_0123456789abcdef");
    let out = output(&mut command, None).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("not a url"), "{}", stderr(&out));

    // Nothing listens there: a transport failure, exit code 1, with the fix.
    let mut command = bare(&["sandbox", "list", "--api-url", "http://127.0.0.1:9"]);
    command.env("E2B_API_KEY", "e2b_0123456789abcdef");
    let out = output(&mut command, None).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("E2B_API_URL"), "{}", stderr(&out));

    // Usage errors are clap's: exit code 2.
    let out = output(&mut bare(&["sandbox", "kill"]), None).await;
    assert_eq!(code(&out), 2);
    let out = output(&mut bare(&["files", "ls", "/tmp"]), None).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("ID:/path"), "{}", stderr(&out));

    // The exit codes are in --help.
    let out = output(&mut bare(&["--help"]), None).await;
    assert_success(&out, &["--help"]);
    assert!(stdout(&out).contains("Exit codes:"), "{}", stdout(&out));
}

#[tokio::test]
async fn completions_for_every_shell() {
    let mut seen = HashSet::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = output(&mut bare(&["completions", shell]), None).await;
        assert_success(&out, &["completions", shell]);
        let script = stdout(&out);
        assert!(script.contains("e2b"), "{shell}: {script}");
        assert!(script.contains("snapshot"), "{shell} completes subcommands");
        seen.insert(script);
    }
    assert_eq!(seen.len(), 3, "one script per shell");
}

/// Run `probe` in the sandbox until it succeeds.
async fn wait_for_remote(cli: &Cli, id: &str, probe: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if cli
            .run(&["sandbox", "exec", id, "--", probe])
            .await
            .status
            .success()
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "`{probe}` never succeeded"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_ends_with_the_sandbox() {
    let cli = Cli::start().await;
    let id = cli.sandbox().await;
    let mut follower = cli.command(&["sandbox", "metrics", &id, "--follow", "--format", "json"]);
    let mut follower = follower
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout_pipe = follower.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        let mut lines = std::io::BufReader::new(stdout_pipe).lines();
        let first = lines.next().expect("a sample").unwrap();
        // Drain the rest, so that the follower never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        first
    })
    .await
    .unwrap();
    let sample: Value = serde_json::from_str(&first).expect("a JSON line");
    assert!(sample["cpuCount"].as_u64().unwrap() >= 1, "{sample}");

    let out = cli.run(&["sandbox", "kill", &id]).await;
    assert_success(&out, &["sandbox", "kill"]);
    let status = tokio::time::timeout(
        PATIENCE,
        tokio::task::spawn_blocking(move || follower.wait().unwrap()),
    )
    .await
    .expect("--follow stops once the sandbox is gone")
    .unwrap();
    assert!(status.success(), "{status:?}");
    cli.stop().await;
}
