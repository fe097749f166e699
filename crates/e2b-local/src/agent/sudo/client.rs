//! `sudo` as the caller runs it: hand everything to the agent, forward
//! signals, exit with the command's status.

use std::io::{self, Write as _};
use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::signal::unix::{SignalKind, signal};

use super::args::{self, Action};
use super::{Forward, REQUEST, Reply, Request};

/// Run `sudo` with `args` (after the program name); returns the exit status.
pub(crate) fn main(socket: &str, args: &[String]) -> i32 {
    let invocation = match args::parse(args) {
        Ok(Action::Run(invocation)) => invocation,
        Ok(Action::Print(text)) => {
            print!("{text}");
            return 0;
        }
        Err(usage) => {
            eprint!("{usage}");
            if !usage.0.ends_with('\n') {
                eprintln!();
            }
            return 1;
        }
    };
    let request = Request {
        invocation,
        env: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
        cwd: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "/".to_owned()),
    };
    match run(socket, &request) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sudo: {e}");
            1
        }
    }
}

fn run(socket: &str, request: &Request) -> io::Result<i32> {
    let stream = StdUnixStream::connect(socket).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("the sandbox's agent does not serve sudo here ({socket}: {e})"),
        )
    })?;
    let stdio = standard_descriptors()?;
    let borrowed: Vec<BorrowedFd<'_>> = stdio.iter().map(|fd| fd.as_fd()).collect();
    crate::agent::fd_passing::send(&stream, REQUEST, &borrowed)?;
    drop(stdio);
    let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
    line.push(b'\n');
    (&stream).write_all(&line)?;
    stream.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async { wait(tokio::net::UnixStream::from_std(stream)?).await })
}

/// Copies of descriptors 0, 1 and 2 (`/dev/null` for a closed one).
fn standard_descriptors() -> io::Result<Vec<OwnedFd>> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let stderr = io::stderr();
    [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()]
        .into_iter()
        .map(|fd| match fd.try_clone_to_owned() {
            Ok(owned) => Ok(owned),
            Err(_) => Ok(std::fs::File::options()
                .read(true)
                .write(true)
                .open("/dev/null")?
                .into()),
        })
        .collect()
}

/// Forward signals until the agent says how the command ended.
async fn wait(stream: tokio::net::UnixStream) -> io::Result<i32> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let kinds = [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
        SignalKind::quit(),
        SignalKind::user_defined1(),
        SignalKind::user_defined2(),
    ];
    let mut signals = Vec::with_capacity(kinds.len());
    for kind in kinds {
        signals.push((kind.as_raw_value(), signal(kind)?));
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (number, mut stream) in signals {
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if tx.send(number).is_err() {
                    return;
                }
            }
        });
    }
    let mut line = String::new();
    loop {
        tokio::select! {
            read = reader.read_line(&mut line) => {
                read?;
                return match serde_json::from_str::<Reply>(line.trim()) {
                    Ok(Reply::Exit(code)) => Ok(code),
                    Ok(Reply::Error(message)) => {
                        let _ = writeln!(io::stderr(), "sudo: {message}");
                        Ok(1)
                    }
                    Err(_) => Err(io::Error::other("the agent ended the request without an answer")),
                };
            }
            Some(number) = rx.recv() => {
                let mut forward = serde_json::to_vec(&Forward { signal: number }).map_err(io::Error::other)?;
                forward.push(b'\n');
                write.write_all(&forward).await?;
            }
        }
    }
}
