//! Command lines and exit codes, as a POSIX shell has them.

/// The command line `exec` runs: one argument is a shell command line as is (`exec ID --
/// 'ls | wc -l'`); several are quoted word by word (`exec ID -- ls -l 'my file'`).
pub(crate) fn command_line(words: &[String]) -> String {
    match words {
        [one] => one.clone(),
        words => words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "),
    }
}

/// `word` as one shell word: as is when it has no special character, else single-quoted.
pub(crate) fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if word.is_empty() {
        "''".to_owned()
    } else if word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The exit code a shell reports for a remote process: its code, or 128 + N when signal N
/// ended it (envd reports `-1` and `signal: killed`).
pub(crate) fn exit_code(code: i32, error: Option<&str>) -> u8 {
    if let Ok(code) = u8::try_from(code) {
        return code;
    }
    let signal = error
        .and_then(|e| e.strip_prefix("signal: "))
        .and_then(signal_number)
        .unwrap_or(9);
    128 + signal
}

/// The number of a signal as Go names it (`killed`, `terminated`, …).
fn signal_number(name: &str) -> Option<u8> {
    Some(match name.trim() {
        "hangup" => 1,
        "interrupt" => 2,
        "quit" => 3,
        "aborted" => 6,
        "killed" => 9,
        "broken pipe" => 13,
        "alarm clock" => 14,
        "terminated" => 15,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(command_line(&["ls | wc -l".into()]), "ls | wc -l");
        assert_eq!(
            command_line(&[
                "echo".into(),
                "it's".into(),
                "a b".into(),
                "".into(),
                "x=1".into()
            ]),
            r"echo 'it'\''s' 'a b' '' x=1"
        );
    }

    #[test]
    fn signals_exit_like_a_shell() {
        assert_eq!(exit_code(3, None), 3);
        assert_eq!(exit_code(-1, Some("signal: killed")), 137);
        assert_eq!(exit_code(-1, Some("signal: terminated")), 143);
        assert_eq!(exit_code(-1, None), 137);
    }
}
