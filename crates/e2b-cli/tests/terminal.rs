//! `e2b sandbox connect` (and `create` without `--detach`) driven through a real
//! pseudo-terminal: typing, Ctrl-C, resizing, and the shell's exit code.

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Cli, E2B, PATIENCE};
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

/// `e2b ARGS…` on a terminal of its own.
struct Terminal {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn std::io::Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    screen: Arc<(Mutex<Vec<u8>>, Condvar)>,
    /// How much of `screen` earlier expectations consumed.
    read: usize,
}

impl Terminal {
    fn spawn(cli: &Cli, args: &[&str], rows: u16, cols: u16) -> Terminal {
        let pair = native_pty_system()
            .openpty(size(rows, cols))
            .expect("open a pseudo-terminal");
        let server = &cli.local.server;
        let mut command = CommandBuilder::new(E2B);
        command.args(args);
        command.env("E2B_API_KEY", server.api_key());
        command.env("E2B_API_URL", server.api_url());
        command.env("E2B_SANDBOX_URL", server.sandbox_url());
        command.env("E2B_DOMAIN", server.domain());
        command.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(command).expect("start e2b");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("terminal reader");
        let writer = pair.master.take_writer().expect("terminal writer");
        let screen = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        sink.0.lock().unwrap().extend_from_slice(&buf[..n]);
                        sink.1.notify_all();
                    }
                }
            }
        });
        Terminal {
            master: pair.master,
            writer,
            child,
            screen,
            read: 0,
        }
    }

    fn type_text(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Wait until `marker` appears after what earlier calls consumed; returns the text up
    /// to and including it.
    fn expect(&mut self, marker: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let (lock, changed) = &*self.screen;
        let mut screen = lock.lock().unwrap();
        loop {
            let text = String::from_utf8_lossy(&screen[self.read..]).into_owned();
            if let Some(at) = text.find(marker) {
                let end = at + marker.len();
                self.read += text[..end].len();
                return text[..end].to_owned();
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "`{marker}` never appeared; the terminal shows: {text:?}"
            );
            screen = changed.wait_timeout(screen, deadline - now).unwrap().0;
        }
    }

    fn resize(&self, rows: u16, cols: u16) {
        self.master.resize(size(rows, cols)).expect("resize");
    }

    /// Wait for e2b to exit; its exit code.
    fn wait(&mut self) -> u32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("e2b's status") {
                return status.exit_code();
            }
            assert!(Instant::now() < deadline, "e2b did not exit");
            // The pty offers no exit notification to wait on besides polling.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn size(rows: u16, cols: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// Run `f` (blocking terminal I/O) off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("terminal driver")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_types_resizes_interrupts_and_returns_the_exit_code() {
    let cli = Cli::start().await;
    let id = cli.sandbox().await;
    let mut term = Terminal::spawn(
        &cli,
        &["sandbox", "connect", &id, "-e", "GREETING=hi-there"],
        24,
        80,
    );
    let mut probe = cli.command(&["sandbox", "exec", &id, "--", "pgrep -x sleep"]);
    probe
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let code = blocking(move || {
        // Typed keys reach the remote shell; its size is the local window's.
        term.type_text("echo $GREETING; stty size; echo MARK$((1+0))\r");
        let text = term.expect("MARK1");
        assert!(text.contains("hi-there"), "{text:?}");
        assert!(text.contains("24 80"), "{text:?}");

        // A resize of the local window reaches the remote terminal.
        term.resize(40, 120);
        // SIGWINCH is asynchronous: ask until the remote side reports the new size.
        let deadline = Instant::now() + PATIENCE;
        let mut n = 2;
        loop {
            term.type_text(&format!("stty size; echo MARK$(({n}+0))\r"));
            let text = term.expect(&format!("MARK{n}"));
            if text.contains("40 120") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the remote size never changed: {text:?}"
            );
            n += 1;
        }

        // Ctrl-C interrupts the remote command, not e2b. It must reach `sleep` once the
        // shell has made it the foreground job (before, it would hit the shell itself).
        term.type_text("sleep 300; echo SLEPT$((1+0))\r");
        let deadline = Instant::now() + PATIENCE;
        while !probe.status().expect("run e2b exec").success() {
            assert!(Instant::now() < deadline, "`sleep 300` never started");
        }
        term.type_text("\x03");
        term.type_text("echo AFTER$((1+1))\r");
        let text = term.expect("AFTER2");
        assert!(!text.contains("SLEPT1"), "{text:?}");

        // The shell's exit code is e2b's.
        term.type_text("exit 3\r");
        term.wait()
    })
    .await;
    assert_eq!(code, 3);
    cli.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_opens_a_terminal_and_kills_the_sandbox_when_it_closes() {
    let cli = Cli::start().await;
    let mut term = Terminal::spawn(&cli, &["sandbox", "create"], 24, 80);
    let (code, text) = blocking(move || {
        term.type_text("echo MARK$((4+0))\r");
        let text = term.expect("MARK4");
        term.type_text("exit\r");
        (term.wait(), text)
    })
    .await;
    assert_eq!(code, 0, "{text:?}");
    let sandboxes = cli
        .json(&["sandbox", "list", "--state", "running,paused"])
        .await;
    assert_eq!(sandboxes, serde_json::json!([]), "{text:?}");
    cli.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_copies_show_a_progress_bar_on_a_terminal() {
    let cli = Cli::start().await;
    let id = cli.sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("64m.bin");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let mut term = Terminal::spawn(
        &cli,
        &[
            "files",
            "cp",
            file.to_str().unwrap(),
            &format!("{id}:/tmp/64m.bin"),
        ],
        24,
        100,
    );
    let (code, shown) = blocking(move || {
        // The bar's total, then the summary once it is cleared.
        let bar = term.expect("64.00 MiB");
        let done = term.expect("copied 1 file (64.0 MiB)");
        (term.wait(), format!("{bar}{done}"))
    })
    .await;
    assert_eq!(code, 0, "{shown:?}");
    cli.stop().await;
}
