//! Pseudo-terminals end to end against e2b-local.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2b_sandbox::{PtyOptions, PtySize};
use e2b_test_support::sdk::{Local, read_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_shell_with_resize_and_kill() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let data = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&data);
    let term = sbx
        .pty()
        .create_with(
            PtyOptions::new()
                .size(PtySize::new().rows(30).cols(100))
                .cwd("/tmp")
                .env("GREETING", "hi-there")
                .no_timeout()
                .on_data(move |bytes| sink.lock().unwrap().extend_from_slice(bytes)),
        )
        .await
        .unwrap();
    let mut output = term.output();

    term.send_input(b"echo $GREETING $TERM $LANG; pwd; stty size; echo MARK$((1+0))\n")
        .await
        .unwrap();
    let text = read_until(&mut output, "MARK1\r\n").await;
    assert!(text.contains("hi-there xterm-256color C.UTF-8"), "{text:?}");
    assert!(text.contains("/tmp"), "{text:?}");
    assert!(text.contains("30 100"), "{text:?}");

    term.resize(PtySize::new().rows(40).cols(120))
        .await
        .unwrap();
    term.send_input(b"stty size; echo MARK$((2+0))\n")
        .await
        .unwrap();
    let text = read_until(&mut output, "MARK2\r\n").await;
    assert!(text.contains("40 120"), "{text:?}");

    // Raw bytes: Ctrl-C interrupts a running command.
    term.send_input(b"sleep 100\n").await.unwrap();
    // Ctrl-C reaches `sleep` only once the shell has made it the terminal's
    // foreground job; before that it would hit the shell itself.
    let running = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let probe = sbx.commands().run("pgrep -x sleep").await;
            if probe.is_ok() {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(running.is_ok(), "`sleep 100` never started in the terminal");
    term.send_input([0x03]).await.unwrap();
    term.send_input(b"echo MARK$((3+0))\n").await.unwrap();
    read_until(&mut output, "MARK3\r\n").await;

    // Another connection to the same terminal sees new output.
    let other = sbx.pty().connect(term.pid()).await.unwrap();
    let mut other_output = other.output();
    sbx.pty()
        .send_input(term.pid(), b"echo MARK$((4+0))\n")
        .await
        .unwrap();
    read_until(&mut other_output, "MARK4\r\n").await;

    assert!(!data.lock().unwrap().is_empty(), "the callback saw output");
    let listed = sbx.commands().list().await.unwrap();
    assert!(listed.iter().any(|p| p.pid == term.pid()));

    assert!(term.kill().await.unwrap());
    let err = term.wait().await.unwrap_err();
    assert!(err.is_command_exit(), "{err}");
    assert!(!sbx.pty().kill(term.pid()).await.unwrap());
    let err = sbx
        .pty()
        .resize(999_999, PtySize::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_ends_the_terminal_with_its_code() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let term = sbx.pty().create().await.unwrap();
    term.send_input(b"exit 0\n").await.unwrap();
    let result = term.wait().await.unwrap();
    assert_eq!(result.exit_code, 0);
    assert_eq!(result.stdout, "", "terminal output is not collected");
    assert_eq!(term.exit_code(), Some(0));

    let term = sbx.pty().create().await.unwrap();
    term.send_input(b"exit 7\n").await.unwrap();
    let err = term.wait().await.unwrap_err();
    assert_eq!(err.command_exit_result().unwrap().exit_code, 7);

    // The terminal's own timeout.
    let term = sbx
        .pty()
        .create_with(PtyOptions::new().timeout(Duration::from_secs(1)))
        .await
        .unwrap();
    let err = term.wait().await.unwrap_err();
    assert_eq!(
        err.timeout_kind(),
        Some(e2b_sandbox::TimeoutKind::Execution),
        "{err}"
    );
    local.stop().await;
}
