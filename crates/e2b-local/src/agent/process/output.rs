//! Reading a process's output and handing it to its streams in chunks of at
//! most [`PIPE_CHUNK`] (stdout, stderr) or [`PTY_CHUNK`] (terminal) bytes.

use std::sync::Arc;

use e2b_envd::process::process_event::{DataEvent, data_event};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::fanout::Output;
use super::handle::ProcessHandle;
use super::pty;

/// Largest stdout or stderr chunk.
pub(crate) const PIPE_CHUNK: usize = 32 * 1024;
/// Largest terminal chunk.
pub(crate) const PTY_CHUNK: usize = 16 * 1024;

/// Which pipe a reader drains.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pipe {
    Stdout,
    Stderr,
}

fn data(output: data_event::Output) -> Output {
    Output::Data(DataEvent {
        output: Some(output),
    })
}

/// Forward one pipe until end-of-file, a read error, or the handle's
/// `stop_output`.
pub(crate) async fn pump_pipe(
    mut reader: impl AsyncRead + Unpin,
    pipe: Pipe,
    handle: Arc<ProcessHandle>,
) {
    let mut buf = vec![0u8; PIPE_CHUNK];
    loop {
        let n = tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(pid = handle.pid, ?pipe, "reading process output failed: {e}");
                    return;
                }
            },
            () = handle.stop_output.cancelled() => return,
        };
        let bytes = buf[..n].to_vec();
        let output = match pipe {
            Pipe::Stdout => data_event::Output::Stdout(bytes),
            Pipe::Stderr => data_event::Output::Stderr(bytes),
        };
        handle.publish(data(output)).await;
    }
}

/// Forward terminal output until no process has the terminal open any more,
/// a read error, or the handle's `stop_output`.
pub(crate) async fn pump_pty(master: Arc<pty::Master>, handle: Arc<ProcessHandle>) {
    let mut buf = vec![0u8; PTY_CHUNK];
    loop {
        let n = tokio::select! {
            read = master.read(&mut buf) => match read {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(pid = handle.pid, "reading terminal output failed: {e}");
                    return;
                }
            },
            () = handle.stop_output.cancelled() => return,
        };
        handle
            .publish(data(data_event::Output::Pty(buf[..n].to_vec())))
            .await;
    }
}
