//! Commands end to end against e2b-local: run, spawn, streams, callbacks, stdin, connect,
//! list, kill, timeouts and failures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2b_sandbox::{CommandOptions, CommandOutput, NotFoundKind, ProcessSelector, TimeoutKind};
use e2b_test_support::sdk::Local;
use futures_util::StreamExt as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_returns_output_and_exit_code() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let result = sbx.commands().run("echo out; echo err >&2").await.unwrap();
    assert_eq!(result.exit_code, 0);
    assert!(result.success());
    assert_eq!(result.stdout, "out\n");
    assert_eq!(result.stderr, "err\n");

    // A non-zero exit is a typed error carrying everything.
    let err = sbx
        .commands()
        .run("echo partial; echo boom >&2; exit 3")
        .await
        .unwrap_err();
    assert!(err.is_command_exit(), "{err}");
    let exit = err.command_exit_result().unwrap();
    assert_eq!(exit.exit_code, 3);
    assert_eq!(exit.stdout, "partial\n");
    assert_eq!(exit.stderr, "boom\n");
    assert!(err.to_string().contains("code 3"), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_reach_the_process() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let result = sbx
        .with_user("root")
        .commands()
        .run_with(
            "echo $FOO; pwd; whoami",
            CommandOptions::new().env("FOO", "bar baz").cwd("/tmp"),
        )
        .await
        .unwrap();
    let lines: Vec<&str> = result.stdout.lines().collect();
    assert_eq!(lines, ["bar baz", "/tmp", "root"]);

    // Defaults: the template's user in its home.
    let result = sbx.commands().run("whoami; pwd").await.unwrap();
    assert_eq!(result.stdout, "user\n/home/user\n");

    // Sandbox-wide environment from creation.
    let sbx2 = e2b_sandbox::Sandbox::builder()
        .env("SBX_WIDE", "1")
        .timeout(Duration::from_secs(60))
        .create(&local.client)
        .await
        .unwrap();
    let result = sbx2.commands().run("echo $SBX_WIDE").await.unwrap();
    assert_eq!(result.stdout, "1\n");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_typed_errors() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let err = sbx
        .commands()
        .run_with("true", CommandOptions::new().cwd("/does/not/exist"))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");

    let err = sbx
        .with_user("nobody-such-user")
        .commands()
        .run("true")
        .await
        .unwrap_err();
    assert!(err.is_authentication(), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_streams_output_in_order_to_streams_and_callbacks() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let seen = Arc::new(Mutex::new(String::new()));
    let seen_err = Arc::new(Mutex::new(String::new()));
    let (out_cb, err_cb) = (Arc::clone(&seen), Arc::clone(&seen_err));
    let handle = sbx
        .commands()
        .spawn_with(
            "for i in 1 2 3; do echo line$i; echo e$i >&2; done",
            CommandOptions::new()
                .on_stdout(move |s| out_cb.lock().unwrap().push_str(s))
                .on_stderr(move |s| err_cb.lock().unwrap().push_str(s)),
        )
        .await
        .unwrap();
    assert!(handle.pid() > 0);
    let mut all = handle.output();
    let mut stdout = String::new();
    let mut stderr = String::new();
    while let Some(chunk) = all.next().await {
        match chunk {
            CommandOutput::Stdout(s) => stdout.push_str(&s),
            CommandOutput::Stderr(s) => stderr.push_str(&s),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(stdout, "line1\nline2\nline3\n");
    assert_eq!(stderr, "e1\ne2\ne3\n");
    let result = handle.wait().await.unwrap();
    assert_eq!(result.stdout, stdout);
    assert_eq!(result.stderr, stderr);
    assert_eq!(*seen.lock().unwrap(), stdout);
    assert_eq!(*seen_err.lock().unwrap(), stderr);
    assert_eq!(handle.exit_code(), Some(0));

    // A stream opened after the end still sees the buffered output, then ends.
    let late: Vec<String> = handle.stdout().collect().await;
    assert_eq!(late.concat(), stdout);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_split_across_chunks_is_decoded_whole() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    // The euro sign's three bytes arrive in separate chunks.
    let result = sbx
        .commands()
        .run(
            r"printf '\xe2'; sleep 0.2; printf '\x82'; sleep 0.2; printf '\xac\n'; printf 'bad\xff\n'",
        )
        .await
        .unwrap();
    assert_eq!(result.stdout, "€\nbad\u{fffd}\n");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_output_streams_through_the_bounded_buffer() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    // 8 MiB through a 1 MiB buffer, read by a stream.
    let handle = sbx
        .commands()
        .spawn("head -c 6291456 /dev/zero | base64 -w 0")
        .await
        .unwrap();
    let mut total = 0;
    let mut stream = handle.stdout();
    while let Some(text) = stream.next().await {
        total += text.len();
    }
    assert_eq!(total, 8 * 1024 * 1024);
    let result = handle.wait().await.unwrap();
    assert_eq!(result.stdout.len(), total);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_is_closed_by_default_and_can_be_written() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    // Without stdin, `cat` sees end of file at once.
    let result = sbx.commands().run("cat").await.unwrap();
    assert_eq!(result.stdout, "");

    let handle = sbx
        .commands()
        .spawn_with("cat", CommandOptions::new().stdin(true))
        .await
        .unwrap();
    handle.send_stdin("hello ").await.unwrap();
    sbx.commands()
        .send_stdin(handle.pid(), b"world\n")
        .await
        .unwrap();
    handle.close_stdin().await.unwrap();
    let result = handle.wait().await.unwrap();
    assert_eq!(result.stdout, "hello world\n");

    // Writing to a process that is gone.
    let err = sbx
        .commands()
        .send_stdin(handle.pid(), "x")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::Process));
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_connect_and_kill() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let handle = sbx
        .commands()
        .spawn_with(
            "echo started; sleep 30",
            CommandOptions::new().tag("sleeper").no_timeout(),
        )
        .await
        .unwrap();
    let listed = sbx.commands().list().await.unwrap();
    let me = listed
        .iter()
        .find(|p| p.pid == handle.pid())
        .expect("listed");
    assert_eq!(me.tag.as_deref(), Some("sleeper"));
    assert_eq!(me.cmd, "/bin/bash");
    assert_eq!(me.args, ["-l", "-c", "echo started; sleep 30"]);

    // Wait for the first output, then detach: the process keeps running.
    let first = handle.stdout().next().await.unwrap();
    assert_eq!(first, "started\n");
    handle.disconnect();
    let err = handle.wait().await.unwrap_err();
    assert!(err.is_transport(), "{err}");
    assert!(
        sbx.commands()
            .list()
            .await
            .unwrap()
            .iter()
            .any(|p| p.pid == handle.pid())
    );

    // Attach again by pid and by tag.
    let again = sbx.commands().connect(handle.pid()).await.unwrap();
    assert_eq!(again.pid(), handle.pid());
    let by_tag = sbx
        .commands()
        .connect(ProcessSelector::Tag("sleeper".into()))
        .await
        .unwrap();
    assert_eq!(by_tag.pid(), handle.pid());

    assert!(again.kill().await.unwrap());
    let err = again.wait().await.unwrap_err();
    let exit = err.command_exit_result().expect("killed command exits");
    assert_ne!(exit.exit_code, 0);
    let err = by_tag.wait().await.unwrap_err();
    assert!(err.is_command_exit(), "{err}");

    // Gone now: killing again reports it. (envd keeps an exited process's end for a while,
    // so connecting to it still works; a pid that never existed does not.)
    assert!(!sbx.commands().kill(handle.pid()).await.unwrap());
    let err = sbx.commands().connect(999_999).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::Process));
    assert!(!sbx.commands().kill(999_999).await.unwrap());
    let err = sbx.commands().connect("no-such-tag").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_handle_leaves_the_process_running() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let handle = sbx
        .commands()
        .spawn_with("sleep 30", CommandOptions::new().no_timeout())
        .await
        .unwrap();
    let pid = handle.pid();
    drop(handle);
    assert!(
        sbx.commands()
            .list()
            .await
            .unwrap()
            .iter()
            .any(|p| p.pid == pid)
    );
    assert!(sbx.commands().kill(pid).await.unwrap());
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_timeout_kills_the_command() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let started = Instant::now();
    let err = sbx
        .commands()
        .run_with(
            "echo before; sleep 20",
            CommandOptions::new().timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Execution), "{err}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sandbox_mid_command_is_reported_within_a_second() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let handle = sbx
        .commands()
        .spawn_with("sleep 60", CommandOptions::new().no_timeout())
        .await
        .unwrap();
    assert!(local.client.kill_sandbox(sbx.id()).await.unwrap());
    let killed = Instant::now();
    let err = handle.wait().await.unwrap_err();
    let elapsed = killed.elapsed();
    assert!(err.is_sandbox_gone(), "{err:?}");
    assert!(err.to_string().contains("killed or timed out"), "{err}");
    // About a second; the slack is for loaded CI machines.
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");

    // Later calls say the same without hanging.
    let err = sbx.commands().run("true").await.unwrap_err();
    assert!(err.is_sandbox_gone(), "{err:?}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_idle_timeout_is_distinct_from_the_command_timeout() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    // Keepalives are asked for at half the idle timeout, so a quiet command stays healthy.
    let result = sbx
        .commands()
        .run_with(
            "sleep 4; echo done",
            CommandOptions::new().stream_idle_timeout(Duration::from_secs(3)),
        )
        .await
        .unwrap();
    assert_eq!(result.stdout, "done\n");
    local.stop().await;
}
