//! `.dockerignore` matching with Docker's semantics (moby's pattern matcher, as the
//! official SDKs use it): patterns are relative to the context root, a pattern that
//! matches a directory excludes everything under it, `!` re-includes, the last matching
//! pattern wins. Each pattern is compiled with `globset`.

use e2b_core::{Error, Result};
use globset::{GlobBuilder, GlobMatcher};

#[derive(Debug)]
struct Pattern {
    exclusion: bool,
    dirs: Vec<String>,
    matcher: GlobMatcher,
}

/// A compiled list of ignore patterns.
#[derive(Debug, Default)]
pub(crate) struct PatternMatcher {
    patterns: Vec<Pattern>,
}

/// `posixpath.normpath`: collapse `//`, `.` and `..` lexically.
pub(crate) fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Whether a path segment has glob syntax.
fn has_wildcard(segment: &str) -> bool {
    segment.contains(['*', '?', '[', '\\'])
}

/// Rejects what Go's `filepath.Match` rejects (an unterminated or empty `[` class, a
/// trailing escape), as Docker does.
fn validate(pattern: &str) -> std::result::Result<(), &'static str> {
    const BAD: &str = "syntax error in pattern";
    let chars: Vec<char> = pattern.chars().collect();
    let n = chars.len();
    let class_char = |mut i: usize| -> std::result::Result<usize, &'static str> {
        if i >= n || chars[i] == '-' || chars[i] == ']' {
            return Err(BAD);
        }
        if chars[i] == '\\' {
            i += 1;
            if i >= n {
                return Err(BAD);
            }
        }
        i += 1;
        if i >= n {
            return Err(BAD);
        }
        Ok(i)
    };
    let mut i = 0;
    while i < n {
        let ch = chars[i];
        i += 1;
        if ch == '\\' {
            if i >= n {
                return Err(BAD);
            }
            i += 1;
        } else if ch == '[' {
            if i < n && chars[i] == '^' {
                i += 1;
            }
            let mut ranges = 0;
            while !(ranges > 0 && i < n && chars[i] == ']') {
                i = class_char(i)?;
                if chars[i] == '-' {
                    i = class_char(i + 1)?;
                }
                ranges += 1;
            }
            i += 1;
        }
    }
    Ok(())
}

/// The pattern in `globset` syntax: Docker has no brace alternation, and negates a class
/// with `^`.
fn to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                out.push('\\');
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('!');
                } else if chars.peek() == Some(&'!') {
                    // A literal `!` in Docker's class.
                    chars.next();
                    out.push_str("\\!");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '{' | '}' | ',' if !in_class => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

impl PatternMatcher {
    /// Compile `patterns` (`.dockerignore` lines; comments and blank lines skipped).
    ///
    /// # Errors
    ///
    /// Invalid argument naming the pattern, for a bare `!` or bad glob syntax.
    pub(crate) fn new(patterns: &[String]) -> Result<Self> {
        let mut compiled = Vec::new();
        for original in patterns {
            if original.starts_with('#') {
                continue;
            }
            let mut pattern = original.trim();
            if pattern.is_empty() {
                continue;
            }
            let exclusion = pattern.starts_with('!');
            if exclusion {
                pattern = pattern[1..].trim();
                if pattern.is_empty() {
                    return Err(Error::invalid_argument(format!(
                        "invalid ignore pattern '{original}': illegal exclusion pattern"
                    )));
                }
            }
            let mut cleaned = normpath(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            validate(&cleaned).map_err(|e| {
                Error::invalid_argument(format!("invalid ignore pattern '{original}': {e}"))
            })?;
            let glob = GlobBuilder::new(&to_glob(&cleaned))
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| {
                    Error::invalid_argument(format!("invalid ignore pattern '{original}': {e}"))
                })?;
            compiled.push(Pattern {
                exclusion,
                dirs: cleaned.split('/').map(str::to_owned).collect(),
                matcher: glob.compile_matcher(),
            });
        }
        Ok(PatternMatcher { patterns: compiled })
    }

    /// Whether `path` (slash-separated, relative to the context root) is excluded. The
    /// patterns are evaluated on each parent first; one that matched a parent matches
    /// what is under it.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        let mut parent_matched: Vec<bool> = Vec::new();
        let mut matched = false;
        for depth in 1..=segments.len() {
            let current = segments[..depth].join("/");
            let mut current_matched = Vec::with_capacity(self.patterns.len());
            matched = false;
            for (i, pattern) in self.patterns.iter().enumerate() {
                let mut hit = parent_matched.get(i).copied().unwrap_or(false);
                if !hit {
                    // An inclusion cannot change a matched path, an exclusion one that
                    // has not matched yet.
                    if pattern.exclusion != matched {
                        current_matched.push(false);
                        continue;
                    }
                    hit = pattern.matcher.is_match(&current);
                }
                current_matched.push(hit);
                if hit {
                    matched = !pattern.exclusion;
                }
            }
            parent_matched = current_matched;
        }
        matched
    }

    /// Whether a `!` pattern could re-include something under the directory `dir`, so
    /// that an excluded directory must still be walked.
    pub(crate) fn may_match_under(&self, dir: &str) -> bool {
        let dir_segments: Vec<&str> = dir.split('/').collect();
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| may_match_under(p, &dir_segments))
    }
}

fn may_match_under(pattern: &Pattern, dir_segments: &[&str]) -> bool {
    for (i, dir_segment) in dir_segments.iter().enumerate() {
        let Some(segment) = pattern.dirs.get(i) else {
            return false;
        };
        if segment.contains("**") {
            return true;
        }
        if !has_wildcard(segment) && segment != dir_segment {
            return false;
        }
    }
    pattern.dirs.len() > dir_segments.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patterns: &[&str]) -> PatternMatcher {
        PatternMatcher::new(&patterns.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn docker_semantics() {
        let matcher = m(&["*.log", "build", "!build/keep.txt", "/tmp/**", "**/cache"]);
        assert!(matcher.matches("a.log"));
        assert!(!matcher.matches("dir/a.log"));
        assert!(matcher.matches("build"));
        assert!(matcher.matches("build/x"));
        assert!(!matcher.matches("build/keep.txt"));
        assert!(matcher.may_match_under("build"));
        assert!(!matcher.may_match_under("src"));
        assert!(matcher.matches("tmp/a/b"));
        assert!(matcher.matches("cache"));
        assert!(matcher.matches("x/y/cache/z"));
        assert!(!matcher.matches("src/main.rs"));
        assert!(!m(&["{a,b}"]).matches("a"));
        assert!(m(&["{a,b}"]).matches("{a,b}"));
        assert!(m(&["[^a]"]).matches("b"));
        assert!(!m(&["[^a]"]).matches("a"));
    }

    #[test]
    fn bad_patterns_are_invalid_arguments() {
        for bad in ["[", "!", "a\\", "[]"] {
            let e = PatternMatcher::new(&[bad.to_owned()]).unwrap_err();
            assert!(e.is_invalid_argument(), "{bad}: {e}");
        }
    }

    #[test]
    fn normpath_is_posix() {
        assert_eq!(normpath("a//b/./c/.."), "a/b");
        assert_eq!(normpath("../a"), "../a");
        assert_eq!(normpath("/../a"), "/a");
        assert_eq!(normpath("./"), ".");
        assert_eq!(normpath(""), ".");
    }
}
