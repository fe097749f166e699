//! `cargo xtask spec-diff <tagA> <tagB> [--repo URL|PATH]`: a readable summary of what changed in
//! upstream's spec between two tags, so a maintainer knows what a regeneration will touch.
//!
//! The pinned OpenAPI documents are compared structurally (operations, their parameters, request
//! bodies and responses; component schemas and their fields; other components), the pinned
//! protobuf files are compiled with protox and compared as descriptors (services, RPCs, messages,
//! fields, enums). Changes are marked `+` (added), `-` (removed) and `~` (changed); changes to
//! descriptions and examples only are flagged `(docs)`. Other files under upstream's `spec/`
//! are listed by name only.

use std::fmt::Write as _;

use crate::SPEC_FILES;
use crate::git::{self, SpecSnapshot};

mod openapi;
mod proto;

pub(crate) fn run(from: &str, to: &str, repo: &str) -> anyhow::Result<()> {
    eprintln!("fetching spec/ at {from} and {to} from {repo}");
    let snapshots = git::read_specs_at(repo, &[from, to])?;
    print!("{}", diff_snapshots(&snapshots[0], &snapshots[1])?);
    Ok(())
}

/// The whole report for two snapshots.
fn diff_snapshots(old: &SpecSnapshot, new: &SpecSnapshot) -> anyhow::Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "spec-diff {} → {}", old.tag, new.tag);
    for snapshot in [old, new] {
        let _ = writeln!(
            out,
            "  {}: upstream commit {}",
            snapshot.tag, snapshot.upstream_commit
        );
    }

    for file in SPEC_FILES {
        let _ = writeln!(out, "\n== spec/{file} ==");
        let (a, b) = (old.files.get(file), new.files.get(file));
        match (a, b) {
            (None, None) => out.push_str("not present at either tag\n"),
            (Some(a), Some(b)) if a == b => out.push_str("no changes\n"),
            _ => {
                match (a, b) {
                    (None, Some(_)) => {
                        let _ = writeln!(out, "+ file added in {}", new.tag);
                    }
                    (Some(_), None) => {
                        let _ = writeln!(out, "- file removed in {}", new.tag);
                    }
                    _ => {}
                }
                let a = a.map(Vec::as_slice);
                let b = b.map(Vec::as_slice);
                let groups = if file.ends_with(".proto") {
                    proto::diff(file, (&old.files, a), (&new.files, b))?
                } else {
                    openapi::diff(a, b)?
                };
                if groups.is_empty() {
                    out.push_str("no API changes (comments or formatting only)\n");
                }
                render_groups(&mut out, &groups);
            }
        }
    }

    let mut others = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        old.files.keys().chain(new.files.keys()).collect();
    for name in names {
        if SPEC_FILES.contains(&name.as_str()) {
            continue;
        }
        match (old.files.get(name), new.files.get(name)) {
            (None, Some(_)) => others.push(Entry::added(name.clone())),
            (Some(_), None) => others.push(Entry::removed(name.clone())),
            (Some(a), Some(b)) if a != b => others.push(Entry::changed(name.clone())),
            _ => {}
        }
    }
    out.push_str("\n== other files under spec/ (not pinned) ==\n");
    if others.is_empty() {
        out.push_str("no changes\n");
    } else {
        for entry in &others {
            entry.render(&mut out, 0);
        }
    }
    Ok(out)
}

/// What an entry of the report says about its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Added,
    Removed,
    Changed,
    /// Detail without a change of its own (e.g. the responses of an added operation).
    Note,
}

impl Marker {
    fn symbol(self) -> char {
        match self {
            Marker::Added => '+',
            Marker::Removed => '-',
            Marker::Changed => '~',
            Marker::Note => ' ',
        }
    }
}

/// One line of the report, with indented details.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    marker: Marker,
    text: String,
    children: Vec<Entry>,
}

impl Entry {
    fn new(marker: Marker, text: impl Into<String>) -> Self {
        Entry {
            marker,
            text: text.into(),
            children: Vec::new(),
        }
    }

    fn added(text: impl Into<String>) -> Self {
        Entry::new(Marker::Added, text)
    }

    fn removed(text: impl Into<String>) -> Self {
        Entry::new(Marker::Removed, text)
    }

    fn changed(text: impl Into<String>) -> Self {
        Entry::new(Marker::Changed, text)
    }

    fn note(text: impl Into<String>) -> Self {
        Entry::new(Marker::Note, text)
    }

    fn with_children(mut self, children: Vec<Entry>) -> Self {
        self.children = children;
        self
    }

    fn render(&self, out: &mut String, depth: usize) {
        let _ = writeln!(
            out,
            "{:indent$}{} {}",
            "",
            self.marker.symbol(),
            self.text,
            indent = 2 + depth * 4
        );
        for child in &self.children {
            child.render(out, depth + 1);
        }
    }
}

/// A titled list of entries (e.g. "Operations").
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    title: String,
    entries: Vec<Entry>,
}

impl Group {
    fn new(title: impl Into<String>, entries: Vec<Entry>) -> Self {
        Group {
            title: title.into(),
            entries,
        }
    }
}

/// Pushes a group unless it is empty.
fn push_group(groups: &mut Vec<Group>, title: impl Into<String>, entries: Vec<Entry>) {
    if !entries.is_empty() {
        groups.push(Group::new(title, entries));
    }
}

fn render_groups(out: &mut String, groups: &[Group]) {
    for group in groups {
        let count = |m: Marker| group.entries.iter().filter(|e| e.marker == m).count();
        let counts: Vec<String> = [
            (Marker::Added, "added"),
            (Marker::Removed, "removed"),
            (Marker::Changed, "changed"),
        ]
        .into_iter()
        .filter_map(|(m, word)| match count(m) {
            0 => None,
            n => Some(format!("{n} {word}")),
        })
        .collect();
        if counts.is_empty() {
            let _ = writeln!(out, "{}:", group.title);
        } else {
            let _ = writeln!(out, "{} ({}):", group.title, counts.join(", "));
        }
        for entry in &group.entries {
            entry.render(out, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn snapshot(tag: &str, files: &[(&str, &str)]) -> SpecSnapshot {
        SpecSnapshot {
            tag: tag.into(),
            commit: "c".repeat(40),
            upstream_commit: "u".repeat(40),
            files: files
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn report_layout() {
        let yaml_a = "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses:\n        \"200\": {description: ok}\n";
        let yaml_b = "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses:\n        \"200\": {description: ok}\n  /b:\n    delete:\n      responses:\n        \"204\": {description: gone}\n";
        let proto = "syntax = \"proto3\";\npackage process;\nmessage A { string x = 1; }\n";
        let old = snapshot(
            "e2b@1.0.0",
            &[
                ("openapi.yml", yaml_a),
                ("envd/process/process.proto", proto),
                ("notes.txt", "a"),
                ("gone.txt", "x"),
            ],
        );
        let new = snapshot(
            "e2b@1.1.0",
            &[
                ("openapi.yml", yaml_b),
                (
                    "envd/process/process.proto",
                    &format!("{proto}// comment\n"),
                ),
                ("notes.txt", "b"),
            ],
        );
        let report = diff_snapshots(&old, &new).unwrap();
        let expected = "\
spec-diff e2b@1.0.0 → e2b@1.1.0
  e2b@1.0.0: upstream commit uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu
  e2b@1.1.0: upstream commit uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu

== spec/openapi.yml ==
Operations (1 added):
  + DELETE /b
        responses: 204 → no body

== spec/openapi-volumecontent.yml ==
not present at either tag

== spec/envd/envd.yaml ==
not present at either tag

== spec/envd/process/process.proto ==
no API changes (comments or formatting only)

== spec/envd/filesystem/filesystem.proto ==
not present at either tag

== other files under spec/ (not pinned) ==
  - gone.txt
  ~ notes.txt
";
        assert_eq!(report, expected);
    }

    #[test]
    fn diff_against_bundle() {
        let bundle = crate::workspace_root().join("../shared/upstream/e2b-spec.bundle");
        if !bundle.exists() {
            println!("note: {} not found; skipping", bundle.display());
            return;
        }
        let snaps =
            git::read_specs_at(bundle.to_str().unwrap(), &["e2b@2.38.0", "e2b@2.45.0"]).unwrap();
        let report = diff_snapshots(&snaps[0], &snaps[1]).unwrap();
        for needle in [
            "  + GET /secrets",
            "  + POST /secrets",
            "  + DELETE /secrets/{secretID}",
            "  + GET /admin/sandboxes/running-counts",
            "  ~ GET /v2/sandboxes",
            "+ query parameter order: OrderDirection, optional",
            "  + Secret: object",
            "  ~ NodeDetail\n      - field cachedBuilds: array<string>, required",
            "+ field error_code: string, optional",
            "  ~ POST /freeze",
            "+ query parameter maxWaitMs: integer(int64), optional",
            "  + FreezeResult: object",
            "  ~ mcp-server.json",
        ] {
            assert!(report.contains(needle), "missing `{needle}` in\n{report}");
        }
        // The protobuf files did not change between these tags.
        assert!(report.contains("== spec/envd/process/process.proto ==\nno changes\n"));
    }
}
