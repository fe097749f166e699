//! `git status --porcelain=1 -b` parsed into [`GitStatus`], and `git branch` into
//! [`GitBranches`].

/// The state of one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GitStatusLabel {
    /// Unmerged.
    Conflict,
    /// Renamed.
    Renamed,
    /// Copied.
    Copied,
    /// Deleted.
    Deleted,
    /// Added.
    Added,
    /// Modified.
    Modified,
    /// Type changed.
    TypeChange,
    /// Not tracked.
    Untracked,
    /// Anything else.
    Unknown,
}

/// One changed path.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitFileStatus {
    /// The path (the new one for a rename).
    pub name: String,
    /// The overall state.
    pub status: GitStatusLabel,
    /// The index column of the porcelain output.
    pub index_status: char,
    /// The working-tree column.
    pub working_tree_status: char,
    /// Whether the change is staged.
    pub staged: bool,
    /// The old path of a rename or copy.
    pub renamed_from: Option<String>,
}

/// A repository's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitStatus {
    /// The current branch; `None` when detached.
    pub current_branch: Option<String>,
    /// The upstream branch.
    pub upstream: Option<String>,
    /// Commits ahead of the upstream.
    pub ahead: u32,
    /// Commits behind the upstream.
    pub behind: u32,
    /// Whether HEAD is detached.
    pub detached: bool,
    /// Every changed path.
    pub file_status: Vec<GitFileStatus>,
}

impl GitStatus {
    /// No changes at all.
    pub fn is_clean(&self) -> bool {
        self.file_status.is_empty()
    }
    /// Any change.
    pub fn has_changes(&self) -> bool {
        !self.is_clean()
    }
    /// Any staged change.
    pub fn has_staged(&self) -> bool {
        self.staged_count() > 0
    }
    /// Any untracked path.
    pub fn has_untracked(&self) -> bool {
        self.untracked_count() > 0
    }
    /// Any conflict.
    pub fn has_conflicts(&self) -> bool {
        self.conflict_count() > 0
    }
    /// Changed paths.
    pub fn total_count(&self) -> usize {
        self.file_status.len()
    }
    /// Staged paths.
    pub fn staged_count(&self) -> usize {
        self.file_status.iter().filter(|f| f.staged).count()
    }
    /// Paths with unstaged changes (untracked ones excluded).
    pub fn unstaged_count(&self) -> usize {
        self.file_status
            .iter()
            .filter(|f| {
                f.status != GitStatusLabel::Untracked && !matches!(f.working_tree_status, ' ' | '?')
            })
            .count()
    }
    /// Untracked paths.
    pub fn untracked_count(&self) -> usize {
        self.count(GitStatusLabel::Untracked)
    }
    /// Conflicted paths.
    pub fn conflict_count(&self) -> usize {
        self.count(GitStatusLabel::Conflict)
    }
    fn count(&self, label: GitStatusLabel) -> usize {
        self.file_status
            .iter()
            .filter(|f| f.status == label)
            .count()
    }
}

/// A repository's local branches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitBranches {
    /// Every branch.
    pub branches: Vec<String>,
    /// The checked-out branch.
    pub current_branch: Option<String>,
}

fn label(index: char, work: char) -> GitStatusLabel {
    let conflict = matches!((index, work), ('D', 'D') | ('A', 'A') | ('U', _) | (_, 'U'));
    if conflict {
        return GitStatusLabel::Conflict;
    }
    if index == '?' && work == '?' {
        return GitStatusLabel::Untracked;
    }
    let code = if index != ' ' { index } else { work };
    match code {
        'R' => GitStatusLabel::Renamed,
        'C' => GitStatusLabel::Copied,
        'D' => GitStatusLabel::Deleted,
        'A' => GitStatusLabel::Added,
        'M' => GitStatusLabel::Modified,
        'T' => GitStatusLabel::TypeChange,
        _ => GitStatusLabel::Unknown,
    }
}

/// Parse `git status --porcelain=1 -b`.
pub(crate) fn parse_status(output: &str) -> GitStatus {
    let mut status = GitStatus::default();
    for line in output.lines() {
        if let Some(head) = line.strip_prefix("## ") {
            parse_head(head, &mut status);
            continue;
        }
        let mut chars = line.chars();
        let (Some(index), Some(work)) = (chars.next(), chars.next()) else {
            continue;
        };
        let rest = line.get(3..).unwrap_or("").to_owned();
        let (name, renamed_from) = match rest.split_once(" -> ") {
            Some((from, to)) if matches!(index, 'R' | 'C') => {
                (to.to_owned(), Some(from.to_owned()))
            }
            _ => (rest, None),
        };
        status.file_status.push(GitFileStatus {
            name,
            status: label(index, work),
            index_status: index,
            working_tree_status: work,
            staged: !matches!(index, ' ' | '?'),
            renamed_from,
        });
    }
    status
}

fn parse_head(head: &str, status: &mut GitStatus) {
    let (refs, tracking) = match head.split_once(" [") {
        Some((refs, rest)) => (refs, rest.trim_end_matches(']')),
        None => (head, ""),
    };
    for part in tracking.split(", ") {
        if let Some(n) = part.strip_prefix("ahead ") {
            status.ahead = n.parse().unwrap_or(0);
        } else if let Some(n) = part.strip_prefix("behind ") {
            status.behind = n.parse().unwrap_or(0);
        }
    }
    if refs.starts_with("HEAD (no branch)") {
        status.detached = true;
        return;
    }
    let refs = refs
        .strip_prefix("No commits yet on ")
        .or_else(|| refs.strip_prefix("Initial commit on "))
        .unwrap_or(refs);
    match refs.split_once("...") {
        Some((branch, upstream)) => {
            status.current_branch = Some(branch.to_owned());
            status.upstream = Some(upstream.to_owned());
        }
        None => status.current_branch = Some(refs.to_owned()),
    }
}

/// Parse `git branch --format=%(refname:short)\t%(HEAD)`.
pub(crate) fn parse_branches(output: &str) -> GitBranches {
    let mut out = GitBranches::default();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let (name, head) = line.split_once('\t').unwrap_or((line, ""));
        if name.starts_with('(') {
            continue; // "(HEAD detached at …)"
        }
        if head.trim() == "*" {
            out.current_branch = Some(name.to_owned());
        }
        out.branches.push(name.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_porcelain() {
        let s = parse_status(
            "## main...origin/main [ahead 2, behind 1]\nM  staged.txt\n M work.txt\nR  old -> new\n?? u.txt\nUU c.txt\n",
        );
        assert_eq!(s.current_branch.as_deref(), Some("main"));
        assert_eq!(s.upstream.as_deref(), Some("origin/main"));
        assert_eq!((s.ahead, s.behind), (2, 1));
        assert_eq!(s.total_count(), 5);
        assert_eq!(s.untracked_count(), 1);
        assert_eq!(s.conflict_count(), 1);
        assert_eq!(s.file_status[2].renamed_from.as_deref(), Some("old"));
        assert_eq!(s.file_status[2].name, "new");
        assert!(s.file_status[0].staged && !s.file_status[1].staged);
        let d = parse_status("## HEAD (no branch)\n");
        assert!(d.detached && d.current_branch.is_none() && d.is_clean());
        let fresh = parse_status("## No commits yet on main\n");
        assert_eq!(fresh.current_branch.as_deref(), Some("main"));
    }

    #[test]
    fn parses_branches() {
        let b = parse_branches("dev\t \nmain\t*\n");
        assert_eq!(b.branches, ["dev", "main"]);
        assert_eq!(b.current_branch.as_deref(), Some("main"));
    }
}
