//! Signed file URLs (`download_url` / `upload_url`), as envd verifies them.
//!
//! ```text
//! raw       = "<path>:<operation>:<username>:<token>"            (no expiration)
//!           | "<path>:<operation>:<username>:<token>:<expiry>"   (with expiration)
//! signature = "v1_" + base64_std_nopad(sha256(raw))
//! ```
//!
//! `path` is the exact `path` query value, `username` the `username` query
//! value or empty, `operation` is `read` for `GET /files` and `write` for
//! `POST /files`, `expiry` absolute unix seconds.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a signed URL grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Download (`GET /files`).
    Read,
    /// Upload (`POST /files`).
    Write,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// Why a signature was refused (the message is what envd answers with 401).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Neither a token header nor a `signature` query parameter.
    #[error("missing signature query parameter")]
    Missing,
    /// The signature does not match.
    #[error("invalid signature")]
    Invalid,
    /// The signature matched but its expiration is in the past.
    #[error("signature is already expired")]
    Expired,
}

/// Compute the signature for `path`/`operation`/`username` under `token`.
pub fn sign(
    path: &str,
    operation: Operation,
    username: &str,
    token: &str,
    expiration: Option<i64>,
) -> String {
    let raw = match expiration {
        None => format!("{path}:{}:{username}:{token}", operation.as_str()),
        Some(exp) => format!("{path}:{}:{username}:{token}:{exp}", operation.as_str()),
    };
    let digest = Sha256::digest(raw.as_bytes());
    format!(
        "v1_{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// Verify `signature` (constant-time), then its expiration against `now_unix`.
pub fn verify(
    signature: &str,
    path: &str,
    operation: Operation,
    username: &str,
    token: &str,
    expiration: Option<i64>,
    now_unix: i64,
) -> Result<(), SignatureError> {
    let expected = sign(path, operation, username, token, expiration);
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return Err(SignatureError::Invalid);
    }
    match expiration {
        Some(exp) if exp < now_unix => Err(SignatureError::Expired),
        _ => Ok(()),
    }
}

/// Constant-time string equality (for tokens and keys).
pub(crate) fn secure_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn signature_matches_the_reference_algorithm() {
        // sha256("/home/user/a.txt:read::<TOKEN>"), base64 without padding.
        let raw = format!("/home/user/a.txt:read::{TOKEN}");
        let digest = Sha256::digest(raw.as_bytes());
        let expected = format!(
            "v1_{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
        );
        assert_eq!(
            sign("/home/user/a.txt", Operation::Read, "", TOKEN, None),
            expected
        );
        assert!(!expected.ends_with('='));
        assert_eq!(expected.len(), 3 + 43);
    }

    #[test]
    fn expiration_and_user_are_part_of_the_signature() {
        let plain = sign("a", Operation::Write, "user", TOKEN, None);
        let with_exp = sign("a", Operation::Write, "user", TOKEN, Some(10));
        let other_user = sign("a", Operation::Write, "root", TOKEN, None);
        let read = sign("a", Operation::Read, "user", TOKEN, None);
        assert_ne!(plain, with_exp);
        assert_ne!(plain, other_user);
        assert_ne!(plain, read);
    }

    #[test]
    fn verify_accepts_good_and_refuses_bad_signatures() {
        let sig = sign("/x", Operation::Read, "", TOKEN, None);
        assert_eq!(
            verify(&sig, "/x", Operation::Read, "", TOKEN, None, 0),
            Ok(())
        );
        assert_eq!(
            verify(&sig, "/y", Operation::Read, "", TOKEN, None, 0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&sig, "/x", Operation::Write, "", TOKEN, None, 0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&sig, "/x", Operation::Read, "root", TOKEN, None, 0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&sig, "/x", Operation::Read, "", "other", None, 0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify("v1_", "/x", Operation::Read, "", TOKEN, None, 0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify("", "/x", Operation::Read, "", TOKEN, None, 0),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn verify_checks_expiration_after_the_signature() {
        let sig = sign("/x", Operation::Read, "", TOKEN, Some(100));
        assert_eq!(
            verify(&sig, "/x", Operation::Read, "", TOKEN, Some(100), 100),
            Ok(())
        );
        assert_eq!(
            verify(&sig, "/x", Operation::Read, "", TOKEN, Some(100), 101),
            Err(SignatureError::Expired)
        );
        // A tampered expiration is an invalid signature, not an expired one.
        assert_eq!(
            verify(&sig, "/x", Operation::Read, "", TOKEN, Some(200), 101),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn secure_eq_compares_exactly() {
        assert!(secure_eq("abc", "abc"));
        assert!(!secure_eq("abc", "abd"));
        assert!(!secure_eq("abc", "abcd"));
    }
}
