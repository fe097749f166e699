//! `e2b volume …`: create, list, remove, list and copy files, in constant memory.

use std::path::Path;

use e2b_sandbox::Client;
use e2b_volume::{ListDirOptions, Volume, VolumeEntry, VolumeFileType, VolumeInfo, WriteOptions};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::cli::VolumeCommand;
use crate::error::{CliError, code};
use crate::output::{self, Out};
use crate::target::Location;

pub(crate) async fn run(
    command: VolumeCommand,
    client: &Client,
    out: &Out,
) -> Result<u8, CliError> {
    match command {
        VolumeCommand::Create { name } => {
            let volume = Volume::create(client, &name).await?;
            if out.json() {
                out.print_json(&json!({ "volumeId": volume.id(), "name": volume.name() }))?;
            } else {
                out.line(volume.id())?;
            }
            Ok(0)
        }
        VolumeCommand::List => {
            let mut volumes = Volume::list(client).await?;
            volumes.sort_by(|a, b| a.name.cmp(&b.name));
            if out.json() {
                let list = volumes
                    .iter()
                    .map(|v| json!({ "volumeId": v.volume_id, "name": v.name }))
                    .collect();
                out.print_json(&Value::Array(list))?;
            } else if volumes.is_empty() {
                out.note("No volumes found");
            } else {
                let rows: Vec<Vec<String>> = volumes
                    .iter()
                    .map(|v| vec![v.volume_id.clone(), v.name.clone()])
                    .collect();
                out.table(&["VOLUME ID", "NAME"], &rows, |_, text| text.to_owned())?;
            }
            Ok(0)
        }
        VolumeCommand::Rm { volumes } => rm(client, out, volumes).await,
        VolumeCommand::Ls { target, depth } => {
            let (volume, path) = match target.split_once(':') {
                Some((volume, path)) if !path.is_empty() => (volume, path),
                Some((volume, _)) => (volume, "/"),
                None => (target.as_str(), "/"),
            };
            let volume = open(client, volume).await?;
            let mut entries = volume
                .list_dir_with(path, ListDirOptions::new().depth(depth))
                .await?;
            entries.sort_by(|a, b| a.path.cmp(&b.path));
            if out.json() {
                out.print_json(&Value::Array(entries.iter().map(entry_json).collect()))?;
            } else {
                let rows: Vec<Vec<String>> = entries
                    .iter()
                    .map(|e| {
                        let name = match (&e.target, e.file_type) {
                            (Some(target), _) => format!("{} -> {target}", e.path),
                            (None, VolumeFileType::Directory) => format!("{}/", e.path),
                            (None, _) => e.path.clone(),
                        };
                        vec![
                            format!("{:o}", e.mode),
                            e.uid.to_string(),
                            e.gid.to_string(),
                            e.size.to_string(),
                            output::time(e.mtime),
                            name,
                        ]
                    })
                    .collect();
                out.table(
                    &["MODE", "UID", "GID", "SIZE", "MODIFIED", "PATH"],
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
        VolumeCommand::Cp {
            source,
            destination,
        } => cp(client, out, &source, &destination).await,
    }
}

/// The volume `name_or_id` names: an id first, else a name.
async fn resolve(client: &Client, name_or_id: &str) -> Result<Option<VolumeInfo>, CliError> {
    let volumes = Volume::list(client).await?;
    let by_id = volumes.iter().find(|v| v.volume_id == name_or_id);
    let found = by_id.or_else(|| volumes.iter().find(|v| v.name == name_or_id));
    Ok(found.cloned())
}

async fn open(client: &Client, name_or_id: &str) -> Result<Volume, CliError> {
    let info = resolve(client, name_or_id).await?.ok_or_else(|| {
        CliError::not_found(format!(
            "no volume named or with the id `{name_or_id}`: `e2b volume list` shows them"
        ))
    })?;
    Ok(Volume::connect(client, &info.volume_id).await?)
}

async fn rm(client: &Client, out: &Out, volumes: Vec<String>) -> Result<u8, CliError> {
    let (mut removed, mut missing) = (Vec::new(), Vec::new());
    for name_or_id in volumes {
        let destroyed = match resolve(client, &name_or_id).await? {
            Some(info) => Volume::destroy(client, &info.volume_id).await?,
            None => false,
        };
        if destroyed {
            removed.push(name_or_id);
        } else {
            missing.push(name_or_id);
        }
    }
    if out.json() {
        out.print_json(&json!({ "removed": removed, "notFound": missing }))?;
    } else {
        for volume in &removed {
            out.line(&format!("Volume {} removed", out.bold(volume)))?;
        }
        for volume in &missing {
            out.note(&format!("Volume {volume} not found"));
        }
    }
    Ok(if missing.is_empty() {
        0
    } else {
        code::NOT_FOUND
    })
}

/// What a copy did.
#[derive(Default)]
struct Copied {
    files: u64,
    bytes: u64,
    destination: String,
}

async fn cp(client: &Client, out: &Out, source: &str, destination: &str) -> Result<u8, CliError> {
    let (source, destination) = (Location::parse(source), Location::parse(destination));
    let copied = match (&source, &destination) {
        (Location::Remote(_), Location::Remote(_)) => {
            return Err(CliError::with_code(
                2,
                "copy between this machine and a volume: one side must be local",
            ));
        }
        (_, Location::Remote(remote)) => {
            let volume = open(client, &remote.sandbox_id).await?;
            upload(&volume, &source, &remote.path).await?
        }
        (Location::Remote(remote), _) => {
            let volume = open(client, &remote.sandbox_id).await?;
            download(&volume, &remote.path, &destination).await?
        }
        _ => {
            return Err(CliError::with_code(
                2,
                "one side of the copy must be in a volume: write it VOLUME:/path",
            ));
        }
    };
    if destination == Location::Stdio {
        return Ok(0);
    }
    if out.json() {
        out.print_json(&json!({
            "destination": copied.destination,
            "files": copied.files,
            "bytes": copied.bytes,
        }))?;
    } else {
        let files = if copied.files == 1 { "file" } else { "files" };
        out.note(&format!(
            "copied {} {files} ({}) to {}",
            copied.files,
            output::size(copied.bytes),
            copied.destination
        ));
    }
    Ok(0)
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// A local file (or standard input) into the volume: inside `path` when it is a directory
/// (or ends with `/`), else at `path`; missing parents are made, an existing file replaced.
async fn upload(volume: &Volume, source: &Location, path: &str) -> Result<Copied, CliError> {
    let path = if path.is_empty() { "/" } else { path };
    let write = WriteOptions::new().force(true);
    let (target, entry) = match source {
        Location::Stdio => {
            if path.ends_with('/') {
                return Err(CliError::failed(
                    "standard input has no name: give a file path in the volume, not a directory",
                ));
            }
            let entry = volume
                .write_reader_with(path, tokio::io::stdin(), write)
                .await?;
            (path.to_owned(), entry)
        }
        Location::Local(local) => {
            let local = Path::new(local);
            let meta = tokio::fs::metadata(local)
                .await
                .map_err(|e| local_error(local, e))?;
            if !meta.is_file() {
                return Err(CliError::failed(format!(
                    "{} is not a regular file: volume cp copies one file at a time",
                    local.display()
                )));
            }
            let name = local
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let is_dir = path.ends_with('/')
                || match volume.info(path).await {
                    Ok(entry) => entry.file_type == VolumeFileType::Directory,
                    Err(e) if e.is_not_found() => false,
                    Err(e) => return Err(e.into()),
                };
            let target = if is_dir {
                join(path, &name)
            } else {
                path.to_owned()
            };
            let file = tokio::fs::File::open(local)
                .await
                .map_err(|e| local_error(local, e))?;
            let entry = volume.write_reader_with(&target, file, write).await?;
            (target, entry)
        }
        Location::Remote(_) => unreachable!("both sides remote is refused by the caller"),
    };
    Ok(Copied {
        files: 1,
        bytes: entry.size,
        destination: format!("{}:{target}", volume.name()),
    })
}

/// A volume file to a local path (inside it when it is a directory) or standard output.
async fn download(volume: &Volume, path: &str, dest: &Location) -> Result<Copied, CliError> {
    let info = volume.info(path).await?;
    if info.file_type != VolumeFileType::File {
        return Err(CliError::failed(format!(
            "{}:{path} is not a regular file: volume cp copies one file at a time",
            volume.name()
        )));
    }
    let mut stream = volume.read_stream(path).await?;
    let (mut writer, destination): (Box<dyn tokio::io::AsyncWrite + Unpin + Send>, String) =
        match dest {
            Location::Stdio => (Box::new(tokio::io::stdout()), "-".to_owned()),
            Location::Local(local) => {
                let local = Path::new(local);
                let into_dir = local.as_os_str().to_string_lossy().ends_with('/')
                    || tokio::fs::metadata(local).await.is_ok_and(|m| m.is_dir());
                let target = if into_dir {
                    local.join(&info.name)
                } else {
                    local.to_path_buf()
                };
                let file = tokio::fs::File::create(&target)
                    .await
                    .map_err(|e| local_error(&target, e))?;
                (Box::new(file), target.display().to_string())
            }
            Location::Remote(_) => unreachable!("both sides remote is refused by the caller"),
        };
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        writer
            .write_all(&chunk)
            .await
            .map_err(|e| CliError::io(format!("cannot write {destination}"), e))?;
        bytes += chunk.len() as u64;
    }
    writer
        .flush()
        .await
        .map_err(|e| CliError::io(format!("cannot write {destination}"), e))?;
    Ok(Copied {
        files: 1,
        bytes,
        destination,
    })
}

fn local_error(path: &Path, e: std::io::Error) -> CliError {
    let message = format!("{}: {e}", path.display());
    if e.kind() == std::io::ErrorKind::NotFound {
        CliError::not_found(message)
    } else {
        CliError::failed(message)
    }
}

fn entry_json(e: &VolumeEntry) -> Value {
    json!({
        "name": e.name,
        "path": e.path,
        "type": e.file_type.as_str(),
        "size": e.size,
        "mode": e.mode,
        "uid": e.uid,
        "gid": e.gid,
        "modifiedTime": output::time_json(e.mtime),
        "target": e.target,
    })
}
