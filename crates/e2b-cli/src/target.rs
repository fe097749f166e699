//! `ID:/path`: a path in a sandbox, as `files` commands write it.

use crate::error::CliError;

/// A path in a sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Remote {
    pub(crate) sandbox_id: String,
    pub(crate) path: String,
}

/// One side of `files cp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    Remote(Remote),
    /// A path on this machine.
    Local(String),
    /// `-`: standard input or output.
    Stdio,
}

impl Location {
    /// `ID:PATH` is in a sandbox when `ID` is not empty and has no `/` (write a local path
    /// with a colon as `./a:b`); `-` is standard input or output; anything else is local.
    pub(crate) fn parse(text: &str) -> Location {
        if text == "-" {
            return Location::Stdio;
        }
        match text.split_once(':') {
            Some((id, path)) if !id.is_empty() && !id.contains('/') => Location::Remote(Remote {
                sandbox_id: id.to_owned(),
                path: path.to_owned(),
            }),
            _ => Location::Local(text.to_owned()),
        }
    }
}

impl Remote {
    /// `ID:/path`, required.
    pub(crate) fn parse(text: &str) -> Result<Remote, CliError> {
        match Location::parse(text) {
            Location::Remote(remote) if !remote.path.is_empty() => Ok(remote),
            _ => Err(CliError::with_code(
                2,
                format!("`{text}` is not a path in a sandbox: write it ID:/path"),
            )),
        }
    }
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.sandbox_id, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_parse() {
        assert_eq!(
            Location::parse("i1x9:/home/user/a"),
            Location::Remote(Remote {
                sandbox_id: "i1x9".into(),
                path: "/home/user/a".into()
            })
        );
        assert_eq!(Location::parse("./a:b"), Location::Local("./a:b".into()));
        assert_eq!(Location::parse("/tmp/x"), Location::Local("/tmp/x".into()));
        assert_eq!(Location::parse(":x"), Location::Local(":x".into()));
        assert_eq!(Location::parse("-"), Location::Stdio);
        assert!(Remote::parse("i1x9:").is_err());
        assert!(Remote::parse("/tmp").is_err());
    }
}
