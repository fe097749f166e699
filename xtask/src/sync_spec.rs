//! `cargo xtask sync-spec --tag e2b@X.Y.Z [--repo URL|PATH]`: copy upstream's pinned spec files
//! at a tag into `spec/` and record the pin in `spec/UPSTREAM.toml`.

use std::path::Path;

use anyhow::Context;

use crate::SPEC_FILES;
use crate::git::{self, PIN_FILE, SpecSnapshot};

pub(crate) fn run(root: &Path, tag: &str, repo: &str) -> anyhow::Result<()> {
    eprintln!("fetching spec/ at {tag} from {repo}");
    let snapshot = git::read_spec_at(repo, tag)?;
    for line in write(root, &snapshot, repo)? {
        println!("{line}");
    }
    Ok(())
}

/// Writes the pinned files of `snapshot` and its pin into `<root>/spec`, and reads them back.
/// Returns what it did, one line per file, for the caller to print.
pub(crate) fn write(
    root: &Path,
    snapshot: &SpecSnapshot,
    repo: &str,
) -> anyhow::Result<Vec<String>> {
    let pin = git::pin_for(snapshot, repo)?;
    let dir = git::spec_dir(root);
    let mut report = vec![format!(
        "{}: upstream commit {}{}",
        snapshot.tag,
        pin.upstream_commit,
        if snapshot.is_mirror() {
            format!(" (mirror commit {})", snapshot.commit)
        } else {
            String::new()
        }
    )];
    for file in SPEC_FILES {
        let status = write_if_changed(&dir.join(file), &snapshot.files[file])?;
        report.push(format!("  {status:<9} spec/{file}"));
    }
    let status = write_if_changed(&dir.join(PIN_FILE), git::render_pin(&pin).as_bytes())?;
    report.push(format!("  {status:<9} spec/{PIN_FILE}"));

    // Read back what was written, so a pin the parser cannot read never lands.
    git::verify_pinned_files(root).context("the freshly written pin does not verify")?;
    Ok(report)
}

/// Writes `bytes` to `path` unless it already holds exactly them; says which.
fn write_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<&'static str> {
    match std::fs::read(path) {
        Ok(existing) if existing == bytes => return Ok("unchanged"),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
    let existed = path.exists();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(if existed { "updated" } else { "created" })
}
