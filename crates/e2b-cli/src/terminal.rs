//! An interactive terminal in a sandbox over the SDK's pseudo-terminal: the local terminal
//! in raw mode (so Ctrl-C, Ctrl-D and every key reach the remote shell), window resizes
//! passed on, and the shell's exit code returned.

use std::io::{IsTerminal as _, Read as _};

use e2b_sandbox::{PtyOptions, PtySize, Sandbox};
use futures_util::StreamExt as _;
use tokio::io::AsyncWriteExt as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::cli::TerminalArgs;
use crate::error::{CliError, code};
use crate::shell;

/// Run an interactive shell in `sandbox` until it exits; returns its exit code. Errors
/// carry exit code 255, distinct from the shell's own codes.
pub(crate) async fn session(sandbox: &Sandbox, args: &TerminalArgs) -> Result<u8, CliError> {
    run(sandbox, args)
        .await
        .map_err(|e| e.recode(code::REMOTE_PROXY_FAILURE))
}

async fn run(sandbox: &Sandbox, args: &TerminalArgs) -> Result<u8, CliError> {
    let sandbox = match &args.user {
        Some(user) => sandbox.with_user(user.clone()),
        None => sandbox.clone(),
    };
    let mut options = PtyOptions::new()
        .size(window_size())
        .no_timeout()
        .envs(args.envs.iter().cloned());
    if let Some(cwd) = &args.cwd {
        options = options.cwd(cwd.clone());
    }
    let pty = sandbox.pty().create_with(options).await?;
    let interactive = std::io::stdin().is_terminal();
    let raw = if interactive {
        Some(RawMode::enable()?)
    } else {
        None
    };

    // Output: the remote terminal's bytes, as they come.
    let mut output = pty.output();
    let printer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(chunk) = output.next().await {
            if stdout.write_all(&chunk).await.is_err() || stdout.flush().await.is_err() {
                break;
            }
        }
    });

    // Input: keys (or piped bytes) to the remote terminal. Reading standard input blocks, so
    // it has a thread of its own, which the process leaves behind when the shell exits.
    let (keys_tx, mut keys) = mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || read_stdin(&keys_tx));
    let typist = {
        let pty = pty.clone();
        tokio::spawn(async move {
            while let Some(bytes) = keys.recv().await {
                if pty.send_input(&bytes).await.is_err() {
                    break;
                }
            }
            // End of piped input: the terminal's end-of-file key.
            if !interactive {
                let _ = pty.send_input([0x04]).await;
            }
        })
    };

    // Window resizes (SIGWINCH), and Ctrl-C when the local terminal is not in raw mode
    // (in raw mode it arrives as a key).
    let mut winch = signal(SignalKind::window_change())
        .map_err(|e| CliError::io("cannot watch the window size", e))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| CliError::io("cannot handle Ctrl-C", e))?;
    let signals = {
        let pty = pty.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(()) = winch.recv() => {
                        let _ = pty.resize(window_size()).await;
                    }
                    Some(()) = interrupt.recv() => {
                        let _ = pty.send_input([0x03]).await;
                    }
                    else => break,
                }
            }
        })
    };

    let result = pty.wait().await;
    typist.abort();
    signals.abort();
    // The output stream ends with the process: print what is left.
    let _ = printer.await;
    drop(raw);
    match result {
        Ok(_) => Ok(0),
        Err(e) => match e.command_exit_result() {
            Some(exit) => Ok(shell::exit_code(exit.exit_code, exit.error.as_deref())),
            None => Err(e.into()),
        },
    }
}

fn read_stdin(keys: &mpsc::Sender<Vec<u8>>) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 4096];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if keys.blocking_send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        }
    }
}

/// The local window's size, else 24×80.
pub(crate) fn window_size() -> PtySize {
    match crossterm::terminal::size() {
        Ok((cols, rows)) if cols > 0 && rows > 0 => {
            PtySize::new().rows(u32::from(rows)).cols(u32::from(cols))
        }
        _ => PtySize::new(),
    }
}

/// The local terminal in raw mode while this lives.
struct RawMode;

impl RawMode {
    fn enable() -> Result<RawMode, CliError> {
        crossterm::terminal::enable_raw_mode()
            .map_err(|e| CliError::io("cannot put the terminal in raw mode", e))?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}
