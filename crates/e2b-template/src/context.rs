//! The local file context of `copy` steps: which files a source selects (globs,
//! `.dockerignore`), their hash — byte-identical to the official SDKs' — and the archive
//! that is uploaded.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use e2b_core::{Error, Result};
use globset::GlobBuilder;
use sha2::{Digest as _, Sha256};

use crate::ignore::{PatternMatcher, normpath};

/// The files a `copy` source selects, and the patterns that left others out.
#[derive(Debug)]
pub(crate) struct FileContext {
    /// The context directory, absolute and normalized.
    root: String,
    matcher: PatternMatcher,
}

/// The lines of `<dir>/.dockerignore` that are patterns (none without the file).
pub(crate) fn read_dockerignore(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join(".dockerignore");
    let content = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&path, e)),
    };
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&content);
    let content = String::from_utf8_lossy(content);
    Ok(content
        .split('\n')
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| line.trim().to_owned())
        .collect())
}

fn io_error(path: &Path, e: io::Error) -> Error {
    Error::invalid_argument(format!("cannot read {}: {e}", path.display()))
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::invalid_argument(format!(
            "{} is not valid UTF-8; template contexts need UTF-8 paths",
            path.display()
        ))
    })
}

/// `dir` made absolute (against the current directory) and normalized, as Python's
/// `os.path.abspath`: symbolic links are not resolved.
fn absolute(dir: &Path) -> Result<String> {
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::invalid_argument(format!("no current directory: {e}")))?
            .join(dir)
    };
    Ok(normpath(path_str(&dir)?))
}

/// An absolute ignore pattern that points into the context, made relative to it.
fn normalize_ignore_pattern(pattern: &str, root: &str) -> String {
    let mut pattern = pattern.trim();
    let negated = pattern.starts_with('!');
    if negated {
        pattern = pattern[1..].trim();
    }
    let mut out = pattern.to_owned();
    if pattern.starts_with('/') {
        let normalized = normpath(pattern);
        if let Some(rest) = normalized
            .strip_prefix(root)
            .and_then(|r| r.strip_prefix('/'))
            && !rest.is_empty()
        {
            out = rest.to_owned();
        }
    }
    if negated { format!("!{out}") } else { out }
}

fn join(root: &str, relative: &str) -> String {
    if relative == "." {
        root.to_owned()
    } else if root == "/" {
        format!("/{relative}")
    } else {
        format!("{root}/{relative}")
    }
}

/// `path` relative to `root` (`path` is `root` or under it).
fn relative_to<'a>(path: &'a str, root: &str) -> &'a str {
    if path == root {
        return ".";
    }
    let rest = path.strip_prefix(root).unwrap_or(path);
    if root == "/" {
        rest
    } else {
        rest.strip_prefix('/').unwrap_or(rest)
    }
}

impl FileContext {
    /// The context at `dir` with `patterns` (the `.dockerignore` lines, then the
    /// template's own).
    pub(crate) fn new(dir: &Path, patterns: &[String]) -> Result<Self> {
        let root = absolute(dir)?;
        let patterns: Vec<String> = patterns
            .iter()
            .map(|p| normalize_ignore_pattern(p, &root))
            .collect();
        Ok(FileContext {
            root,
            matcher: PatternMatcher::new(&patterns)?,
        })
    }

    /// Every file and directory `src` selects, as sorted absolute paths: what a glob of
    /// `src` matches (dot files included, `**` any depth), directories with everything
    /// under them, less what the ignore patterns exclude. Symbolic links are not followed.
    pub(crate) fn files(&self, src: &str) -> Result<Vec<String>> {
        let mut files = BTreeSet::new();
        let mut matches: Vec<(String, String)> = self
            .glob(src)?
            .into_iter()
            .map(|m| {
                let file = normpath(&join(&self.root, &m));
                let rel = relative_to(&file, &self.root).to_owned();
                (file, rel)
            })
            .collect();
        // Parents before children, so nothing is walked twice.
        matches.sort_by_key(|(_, rel)| {
            if rel == "." {
                0
            } else {
                rel.matches('/').count() + 1
            }
        });
        let mut walked: BTreeSet<String> = BTreeSet::new();
        for (file, rel) in matches {
            if is_under(&walked, &rel) {
                continue;
            }
            if rel != "." && self.matcher.matches(&rel) {
                continue;
            }
            let meta = fs::symlink_metadata(&file).map_err(|e| io_error(Path::new(&file), e))?;
            if meta.is_dir() {
                files.insert(file.clone());
                self.walk(&file, &rel, &mut files)?;
                walked.insert(rel);
            } else {
                files.insert(file);
            }
        }
        Ok(files.into_iter().collect())
    }

    fn walk(&self, dir: &str, dir_rel: &str, files: &mut BTreeSet<String>) -> Result<()> {
        let entries = fs::read_dir(dir).map_err(|e| io_error(Path::new(dir), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(Path::new(dir), e))?;
            let name = entry.file_name();
            let name = path_str(Path::new(&name))?.to_owned();
            let rel = if dir_rel == "." {
                name.clone()
            } else {
                format!("{dir_rel}/{name}")
            };
            let path = join(dir, &name);
            let ignored = self.matcher.matches(&rel);
            if !ignored {
                files.insert(path.clone());
            }
            let is_dir = entry
                .file_type()
                .map_err(|e| io_error(Path::new(&path), e))?
                .is_dir();
            if is_dir && (!ignored || self.matcher.may_match_under(&rel)) {
                self.walk(&path, &rel, files)?;
            }
        }
        Ok(())
    }

    /// What the glob `src` matches under the root, relative to it.
    fn glob(&self, src: &str) -> Result<Vec<String>> {
        if !src.contains(['*', '?', '[']) {
            let path = join(&self.root, src);
            return Ok(if fs::symlink_metadata(&path).is_ok() {
                vec![src.to_owned()]
            } else {
                Vec::new()
            });
        }
        let pattern = normpath(src);
        let glob = GlobBuilder::new(&pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| Error::invalid_argument(format!("invalid source pattern {src:?}: {e}")))?
            .compile_matcher();
        let mut found = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                let child_rel = if rel.is_empty() {
                    name.to_owned()
                } else {
                    format!("{rel}/{name}")
                };
                if glob.is_match(&child_rel) {
                    found.push(child_rel.clone());
                }
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push((join(&dir, name), child_rel));
                }
            }
        }
        Ok(found)
    }

    /// The hash of a `copy` of `src` to `dest`: SHA-256 over `COPY <src> <dest>`, then per
    /// file (sorted by path) its relative path, mode and size (no size for directories),
    /// and its bytes, or a symbolic link's target when links are not resolved. The same
    /// bytes as the official SDKs' `calculate_files_hash`.
    ///
    /// # Errors
    ///
    /// Invalid argument when `src` selects no file or a file cannot be read.
    pub(crate) fn hash(&self, src: &str, dest: &str, resolve_symlinks: bool) -> Result<String> {
        let mut hasher = Sha256::new();
        hasher.update(format!("COPY {src} {dest}").as_bytes());
        let files = self.files(src)?;
        if files.is_empty() {
            return Err(Error::invalid_argument(format!(
                "no files found in {}",
                join(&self.root, src)
            )));
        }
        for file in &files {
            hasher.update(relative_to(file, &self.root).as_bytes());
            let path = Path::new(file);
            let lmeta = fs::symlink_metadata(path).map_err(|e| io_error(path, e))?;
            if lmeta.file_type().is_symlink() {
                let follow = resolve_symlinks && fs::metadata(path).is_ok();
                if !follow {
                    hash_stats(&mut hasher, &lmeta);
                    let target = fs::read_link(path).map_err(|e| io_error(path, e))?;
                    hasher.update(path_str(&target)?.as_bytes());
                    continue;
                }
            }
            let meta = fs::metadata(path).map_err(|e| io_error(path, e))?;
            hash_stats(&mut hasher, &meta);
            if meta.is_file() {
                let mut reader = fs::File::open(path).map_err(|e| io_error(path, e))?;
                let mut buf = vec![0; 1 << 20];
                loop {
                    let n = reader.read(&mut buf).map_err(|e| io_error(path, e))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                }
            }
        }
        Ok(hex(&hasher.finalize()))
    }

    /// A tar archive (gzipped unless `gzip` is false) of the files `src` selects, named
    /// relative to the context, spooled to an anonymous temporary file positioned at its
    /// start. Symbolic links are archived as links unless `resolve_symlinks`.
    pub(crate) fn archive(
        &self,
        src: &str,
        resolve_symlinks: bool,
        gzip: bool,
    ) -> Result<fs::File> {
        let files = self.files(src)?;
        let spool = tempfile::tempfile()
            .map_err(|e| Error::invalid_argument(format!("cannot create a temporary file: {e}")))?;
        let write = |e: io::Error| Error::invalid_argument(format!("cannot archive {src}: {e}"));
        let mut file = if gzip {
            let encoder = flate2::write::GzEncoder::new(spool, flate2::Compression::default());
            let encoder = self
                .tar_into(encoder, &files, resolve_symlinks)
                .map_err(write)?;
            encoder.finish().map_err(write)?
        } else {
            self.tar_into(spool, &files, resolve_symlinks)
                .map_err(write)?
        };
        file.flush().map_err(write)?;
        use std::io::Seek as _;
        file.seek(io::SeekFrom::Start(0)).map_err(write)?;
        Ok(file)
    }

    fn tar_into<W: io::Write>(&self, out: W, files: &[String], resolve: bool) -> io::Result<W> {
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(resolve);
        for file in files {
            let rel = relative_to(file, &self.root);
            let name = if rel == "." {
                PathBuf::from("./")
            } else {
                PathBuf::from(rel)
            };
            let path = Path::new(file);
            let meta = if resolve {
                fs::metadata(path).or_else(|_| fs::symlink_metadata(path))?
            } else {
                fs::symlink_metadata(path)?
            };
            if meta.is_dir() {
                tar.append_dir(&name, path)?;
            } else {
                tar.append_path_with_name(path, &name)?;
            }
        }
        tar.into_inner()
    }
}

fn is_under(walked: &BTreeSet<String>, rel: &str) -> bool {
    if walked.contains(".") {
        return true;
    }
    let mut parent = rel;
    while let Some(i) = parent.rfind('/') {
        parent = &parent[..i];
        if walked.contains(parent) {
            return true;
        }
    }
    false
}

#[cfg(unix)]
fn hash_stats(hasher: &mut Sha256, meta: &fs::Metadata) {
    use std::os::unix::fs::MetadataExt as _;
    hasher.update(meta.mode().to_string().as_bytes());
    if !meta.is_dir() {
        hasher.update(meta.size().to_string().as_bytes());
    }
}

#[cfg(not(unix))]
fn hash_stats(hasher: &mut Sha256, meta: &fs::Metadata) {
    // Python's emulated st_mode on platforms without one.
    let mode: u32 = if meta.is_dir() {
        0o40777
    } else if meta.permissions().readonly() {
        0o100444
    } else {
        0o100666
    };
    hasher.update(mode.to_string().as_bytes());
    if !meta.is_dir() {
        hasher.update(meta.len().to_string().as_bytes());
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_and_patterns() {
        assert_eq!(relative_to("/a/b", "/a"), "b");
        assert_eq!(relative_to("/a", "/a"), ".");
        assert_eq!(relative_to("/x", "/"), "x");
        assert_eq!(normalize_ignore_pattern("/ctx/dist", "/ctx"), "dist");
        assert_eq!(normalize_ignore_pattern("! /ctx/dist", "/ctx"), "!dist");
        assert_eq!(normalize_ignore_pattern("/other/x", "/ctx"), "/other/x");
        assert_eq!(normalize_ignore_pattern("/ctx", "/ctx"), "/ctx");
    }
}
