//! Shell quoting, credentialed URLs and the classification of git failures.

use e2b_core::{Error, ErrorKind, Result};

/// Quote `arg` for a POSIX shell, as Python's `shlex.quote` does.
pub(crate) fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b));
    if safe {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r#"'"'"'"#))
    }
}

/// `url` with `username:password@` in it; only for http(s) URLs.
pub(crate) fn with_credentials(url: &str, username: &str, password: &str) -> Result<String> {
    let mut parsed = url::Url::parse(url)
        .map_err(|_| Error::invalid_argument("credentials need an http(s) repository URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::invalid_argument(
            "credentials are only supported for http(s) repository URLs",
        ));
    }
    parsed
        .set_username(username)
        .and_then(|()| parsed.set_password(Some(password)))
        .map_err(|()| Error::invalid_argument("the repository URL cannot carry credentials"))?;
    Ok(parsed.into())
}

/// `url` without any user name or password.
pub(crate) fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if matches!(parsed.scheme(), "http" | "https") => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.into()
        }
        _ => url.to_owned(),
    }
}

const AUTH_MARKERS: [&str; 8] = [
    "authentication failed",
    "terminal prompts disabled",
    "could not read username",
    "could not read password",
    "invalid username or password",
    "access denied",
    "permission denied",
    "not authorized",
];

const UPSTREAM_MARKERS: [&str; 5] = [
    "has no upstream branch",
    "no upstream configured",
    "no tracking information",
    "set the upstream branch",
    "no upstream branch",
];

/// Turn a failed git command into a git auth or git upstream error when its output says
/// so; other errors are returned unchanged.
pub(crate) fn classify(error: Error) -> Error {
    let Some(exit) = error.command_exit_result() else {
        return error;
    };
    let output = format!("{}\n{}", exit.stderr, exit.stdout).to_lowercase();
    let message = exit.stderr.trim().to_owned();
    if AUTH_MARKERS.iter().any(|m| output.contains(m)) {
        return Error::new(ErrorKind::GitAuth { message });
    }
    if UPSTREAM_MARKERS.iter().any(|m| output.contains(m)) {
        return Error::new(ErrorKind::GitUpstream { message });
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_shlex() {
        assert_eq!(shell_quote("abc/d-e.f"), "abc/d-e.f");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn credentials_in_and_out_of_urls() {
        let url = with_credentials("https://example.com/r.git", "me", "p@ss word").unwrap();
        assert_eq!(url, "https://me:p%40ss%20word@example.com/r.git");
        assert_eq!(without_credentials(&url), "https://example.com/r.git");
        assert!(
            with_credentials("git@example.com:r.git", "a", "b")
                .unwrap_err()
                .is_invalid_argument()
        );
        assert!(
            with_credentials("ssh://example.com/r.git", "a", "b")
                .unwrap_err()
                .is_invalid_argument()
        );
    }
}
