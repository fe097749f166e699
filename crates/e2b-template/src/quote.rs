//! Shell quoting exactly as the official SDKs do it (Python's `shlex.quote`), so that the
//! commands a template emits are byte-identical to theirs.

/// `word` as one shell word: unchanged when it only has characters no shell treats
/// specially, otherwise in single quotes (a quote inside becomes `'"'"'`).
pub(crate) fn quote(word: &str) -> String {
    if word.is_empty() {
        return "''".to_owned();
    }
    let safe = word.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'_' | b'@' | b'%' | b'+' | b'=' | b':' | b',' | b'.' | b'/' | b'-'
            )
    });
    if safe {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', "'\"'\"'"))
}

/// The words quoted and joined by spaces (Python's `shlex.join`).
pub(crate) fn join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_python() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("/usr/bin/python3"), "/usr/bin/python3");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\"'\"'s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("é"), "'é'");
        assert_eq!(join(&["echo", "a b"]), "echo 'a b'");
    }
}
