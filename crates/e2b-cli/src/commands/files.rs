//! `e2b files …`: copy, list, remove, make directories, watch.

use std::time::Duration;

use e2b_sandbox::{
    Client, EntryInfo, FileType, FilesystemEventType, ListDirOptions, Sandbox, WatchOptions,
};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::cli::FilesCommand;
use crate::error::CliError;
use crate::output::{self, Out};
use crate::target::{Location, Remote};
use crate::transfer::{self, Copied, Side};

pub(crate) async fn run(command: FilesCommand, client: &Client, out: &Out) -> Result<u8, CliError> {
    match command {
        FilesCommand::Cp {
            source,
            destination,
            user,
        } => cp(client, out, &source, &destination, user).await,
        FilesCommand::Ls {
            target: remote,
            depth,
        } => {
            let sandbox = connect(client, &remote).await?;
            let entries = sandbox
                .files()
                .list_with(&remote.path, ListDirOptions::new().depth(depth))
                .await?;
            if out.json() {
                out.print_json(&Value::Array(entries.iter().map(entry_json).collect()))?;
            } else {
                let rows: Vec<Vec<String>> = entries
                    .iter()
                    .map(|e| {
                        let name = match &e.symlink_target {
                            Some(target) => format!("{} -> {target}", e.path),
                            None => e.path.clone(),
                        };
                        vec![
                            e.permissions.clone(),
                            e.owner.clone(),
                            e.group.clone(),
                            e.size.to_string(),
                            e.modified_time
                                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                                .unwrap_or_default(),
                            name,
                        ]
                    })
                    .collect();
                out.table(
                    &["MODE", "OWNER", "GROUP", "SIZE", "MODIFIED", "PATH"],
                    &rows,
                    |column, text| {
                        if column == 5 && text.ends_with('/') {
                            out.bold(text)
                        } else {
                            text.to_owned()
                        }
                    },
                )?;
            }
            Ok(0)
        }
        FilesCommand::Rm { targets } => {
            let mut removed = Vec::new();
            for remote in &targets {
                let sandbox = connect(client, remote).await?;
                sandbox.files().remove(&remote.path).await?;
                removed.push(remote.to_string());
            }
            if out.json() {
                out.print_json(&json!({ "removed": removed }))?;
            }
            Ok(0)
        }
        FilesCommand::Mkdir { targets } => {
            let (mut created, mut existed) = (Vec::new(), Vec::new());
            for remote in &targets {
                let sandbox = connect(client, remote).await?;
                if sandbox.files().make_dir(&remote.path).await? {
                    created.push(remote.to_string());
                } else {
                    existed.push(remote.to_string());
                }
            }
            if out.json() {
                out.print_json(&json!({ "created": created, "existed": existed }))?;
            } else {
                for path in &existed {
                    out.note(&format!("{path} already exists"));
                }
            }
            Ok(0)
        }
        FilesCommand::Watch {
            target,
            recursive,
            timeout,
        } => watch(client, out, &target, recursive, timeout).await,
    }
}

async fn connect(client: &Client, remote: &Remote) -> Result<Sandbox, CliError> {
    Ok(Sandbox::connect(client, &remote.sandbox_id).await?)
}

async fn cp(
    client: &Client,
    out: &Out,
    source: &str,
    destination: &str,
    user: Option<String>,
) -> Result<u8, CliError> {
    let (source, destination) = (Location::parse(source), Location::parse(destination));
    let as_user = |sandbox: Sandbox| match &user {
        Some(user) => sandbox.with_user(user.clone()),
        None => sandbox,
    };
    let copied = match (&source, &destination) {
        (_, Location::Remote(remote)) => {
            let sandbox = as_user(connect(client, remote).await?);
            transfer::upload(
                &source,
                Side {
                    sandbox: &sandbox,
                    remote,
                },
            )
            .await?
        }
        (Location::Remote(remote), _) => {
            let sandbox = as_user(connect(client, remote).await?);
            transfer::download(
                Side {
                    sandbox: &sandbox,
                    remote,
                },
                &destination,
            )
            .await?
        }
        _ => {
            return Err(CliError::with_code(
                2,
                "one side of the copy must be in a sandbox: write it ID:/path",
            ));
        }
    };
    summarise(out, &copied, destination == Location::Stdio)?;
    Ok(0)
}

fn summarise(out: &Out, copied: &Copied, to_stdout: bool) -> Result<(), CliError> {
    for path in &copied.skipped {
        out.note(&format!("skipped {path}: not a regular file or directory"));
    }
    if to_stdout {
        return Ok(());
    }
    if out.json() {
        out.print_json(&json!({
            "destination": copied.destination,
            "files": copied.files,
            "directories": copied.directories,
            "bytes": copied.bytes,
        }))
    } else {
        let files = if copied.files == 1 { "file" } else { "files" };
        out.note(&format!(
            "copied {} {files} ({}) to {}",
            copied.files,
            output::size(copied.bytes),
            copied.destination
        ));
        Ok(())
    }
}

async fn watch(
    client: &Client,
    out: &Out,
    remote: &Remote,
    recursive: bool,
    timeout: Option<u64>,
) -> Result<u8, CliError> {
    let sandbox = connect(client, remote).await?;
    let options = WatchOptions::new()
        .recursive(recursive)
        .timeout(Duration::from_secs(timeout.unwrap_or(0)));
    let mut events = sandbox
        .files()
        .watch_dir_with(&remote.path, options)
        .await?;
    if !out.json() {
        out.note(&out.dim(&format!("watching {remote} (Ctrl-C stops)")));
    }
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            // The watch's own deadline.
            Err(e) if timeout.is_some() && e.is_timeout() && !e.is_sandbox_gone() => break,
            Err(e) => return Err(e.into()),
        };
        let kind = match event.event_type {
            FilesystemEventType::Create => "create",
            FilesystemEventType::Write => "write",
            FilesystemEventType::Remove => "remove",
            FilesystemEventType::Rename => "rename",
            FilesystemEventType::Chmod => "chmod",
            _ => "other",
        };
        if out.json() {
            out.print_json_line(&json!({ "type": kind, "name": event.name }))?;
        } else {
            out.line(&format!("{kind:<7} {}", event.name))?;
        }
    }
    Ok(0)
}

fn entry_json(e: &EntryInfo) -> Value {
    let kind = match e.file_type {
        Some(FileType::File) => "file",
        Some(FileType::Directory) => "dir",
        Some(FileType::Symlink) => "symlink",
        _ => "unknown",
    };
    json!({
        "name": e.name,
        "path": e.path,
        "type": kind,
        "size": e.size,
        "mode": e.mode,
        "permissions": e.permissions,
        "owner": e.owner,
        "group": e.group,
        "modifiedTime": e.modified_time.map(|t| t.to_rfc3339()),
        "symlinkTarget": e.symlink_target,
    })
}
