//! An interactive shell in a sandbox on this terminal, in raw mode.
//!
//! ```text
//! cargo run -p e2b-examples --example terminal
//! ```
//!
//! Everything typed goes to the sandbox's pseudo-terminal and its output comes back as raw
//! bytes; the window size follows this terminal's. Exit the shell (`exit` or Ctrl-D) to
//! leave. Uses the E2B cloud when `E2B_API_KEY` is set, else an e2b-local server in this
//! process.

use std::io::Write as _;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal;
use e2b::{PtyOptions, PtySize, Sandbox};
use futures_util::StreamExt as _;

/// Leaves raw mode however the example ends.
struct RawMode;

impl RawMode {
    fn enable() -> std::io::Result<RawMode> {
        terminal::enable_raw_mode()?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
    }
}

/// The bytes a terminal sends for a key.
fn key_bytes(key: KeyEvent) -> Vec<u8> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char(c) if ctrl && c.is_ascii_alphabetic() => {
            vec![(c.to_ascii_lowercase() as u8) - b'a' + 1]
        }
        KeyCode::Char(c) => c.to_string().into_bytes(),
        KeyCode::Enter => b"\r".to_vec(),
        KeyCode::Backspace => vec![0x7f],
        KeyCode::Tab => b"\t".to_vec(),
        KeyCode::Esc => vec![0x1b],
        KeyCode::Up => b"\x1b[A".to_vec(),
        KeyCode::Down => b"\x1b[B".to_vec(),
        KeyCode::Right => b"\x1b[C".to_vec(),
        KeyCode::Left => b"\x1b[D".to_vec(),
        KeyCode::Home => b"\x1b[H".to_vec(),
        KeyCode::End => b"\x1b[F".to_vec(),
        KeyCode::Delete => b"\x1b[3~".to_vec(),
        KeyCode::PageUp => b"\x1b[5~".to_vec(),
        KeyCode::PageDown => b"\x1b[6~".to_vec(),
        _ => Vec::new(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = e2b_examples::Backend::from_env().await?;
    let sandbox = Sandbox::builder()
        .timeout(Duration::from_secs(600))
        .create(&backend.client)
        .await?;
    let (cols, rows) = terminal::size().unwrap_or((80, 24));
    let term = sandbox
        .pty()
        .create_with(
            PtyOptions::new()
                .size(PtySize::new().rows(rows.into()).cols(cols.into()))
                .no_timeout(),
        )
        .await?;
    eprintln!(
        "connected to sandbox {} (exit the shell to leave)\r",
        sandbox.id()
    );

    let raw = RawMode::enable()?;
    let mut output = term.output();
    let mut events = EventStream::new();
    let mut stdout = std::io::stdout();
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(bytes) => {
                    stdout.write_all(&bytes)?;
                    stdout.flush()?;
                }
                None => break,
            },
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    let bytes = key_bytes(key);
                    if !bytes.is_empty() {
                        term.send_input(bytes).await?;
                    }
                }
                Some(Ok(Event::Resize(cols, rows))) => {
                    term.resize(PtySize::new().rows(rows.into()).cols(cols.into())).await?;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
        }
    }
    drop(raw);
    match term.wait().await {
        Ok(_) => eprintln!("the shell exited"),
        Err(e) => eprintln!("the shell ended: {e}"),
    }
    sandbox.kill().await?;
    backend.shutdown().await;
    Ok(())
}
