//! `GET /files` (download) and `POST /files` (upload).
//!
//! Both stream: a download reads the file in fixed-size chunks (gzip-encoded
//! on the fly when asked), an upload writes the body as it arrives, so
//! memory use does not depend on file size. Plain transfers read and write
//! the file on a thread of their own ([`pipe`]). Like envd, neither imposes an
//! idle timeout: a transfer lasts as long as the client keeps its
//! connection, and ends when the client goes away.

pub(crate) mod download;
pub(crate) mod encoding;
mod pipe;
mod upload;

use http::StatusCode;
use serde::Deserialize;

use super::UserAccount;
use super::context::Sandbox;
use super::http_error::HttpError;

pub(crate) use download::download;
pub(crate) use upload::upload;

/// Size of the chunks files are read and written in.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Query parameters of `/files` (the signature parameters are checked by the
/// server in front of the agent and ignored here).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FilesQuery {
    pub(crate) path: Option<String>,
    pub(crate) username: Option<String>,
}

impl FilesQuery {
    /// The account the request acts as: `username`, or the default user.
    fn user<'a>(&self, sandbox: &'a Sandbox) -> Result<&'a UserAccount, HttpError> {
        match &self.username {
            None => Ok(sandbox.users.default_account()),
            Some(name) => sandbox.users.by_name(name).ok_or_else(|| {
                HttpError::new(
                    StatusCode::UNAUTHORIZED,
                    format!("error looking up user '{name}': user: unknown user {name}"),
                )
            }),
        }
    }
}

/// `inline; filename=…` as Go's `mime.FormatMediaType` writes it: a bare
/// token when possible, a quoted string otherwise, RFC 2231 for non-ASCII.
fn content_disposition(file_name: &str) -> String {
    let is_token_char = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c);
    if !file_name.is_empty() && file_name.chars().all(is_token_char) {
        return format!("inline; filename={file_name}");
    }
    if file_name.is_ascii() {
        let escaped: String = file_name
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        return format!("inline; filename=\"{escaped}\"");
    }
    let mut encoded = String::new();
    for b in file_name.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "!#$&+-.^_`|~".contains(c) {
            encoded.push(c);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("inline; filename*=utf-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions() {
        assert_eq!(content_disposition("a.txt"), "inline; filename=a.txt");
        assert_eq!(
            content_disposition("my file.txt"),
            "inline; filename=\"my file.txt\""
        );
        assert_eq!(
            content_disposition("é.txt"),
            "inline; filename*=utf-8''%C3%A9.txt"
        );
    }
}
