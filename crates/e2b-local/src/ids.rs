//! Random identifiers and secrets: sandbox and template ids, API keys, tokens.
//!
//! Everything comes from the kernel's CSPRNG (`getrandom(2)`).

use std::io;

/// The alphabet of sandbox and template ids (`^[a-z0-9]+$`, as upstream).
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Length of the random part of generated ids (upstream uses 20).
const ID_LEN: usize = 20;

/// Fill `buf` from the kernel's random source.
fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty())?;
        filled += n;
    }
    Ok(())
}

/// `n` random bytes.
pub(crate) fn random_bytes(n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    fill_random(&mut buf)?;
    Ok(buf)
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A random string of `len` characters from `[a-z0-9]` (unbiased).
fn random_id_chars(len: usize) -> io::Result<String> {
    let mut out = String::with_capacity(len);
    // 252 = 7 * 36: reject bytes above it so every character is equally likely.
    while out.len() < len {
        for b in random_bytes(len * 2)? {
            if b < 252 && out.len() < len {
                out.push(char::from(ID_ALPHABET[usize::from(b) % ID_ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

/// A random (version 4) UUID, like the kernel ids upstream's code interpreter hands out.
pub(crate) fn uuid_v4() -> io::Result<String> {
    let mut b = random_bytes(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A new sandbox id: `i` followed by 20 characters of `[a-z0-9]`.
pub(crate) fn sandbox_id() -> io::Result<String> {
    Ok(format!("i{}", random_id_chars(ID_LEN)?))
}

/// A new template (snapshot) id: 20 characters of `[a-z0-9]`.
pub(crate) fn template_id() -> io::Result<String> {
    random_id_chars(ID_LEN)
}

/// A new API key: `e2b_` followed by 32 hex digits.
pub(crate) fn api_key() -> io::Result<String> {
    Ok(format!("e2b_{}", hex(&random_bytes(16)?)))
}

/// A new access token (envd or traffic): 64 hex digits.
pub(crate) fn access_token() -> io::Result<String> {
    Ok(hex(&random_bytes(32)?))
}

/// What `Debug` output shows instead of a secret (API key, access token).
pub(crate) fn redacted(secret: Option<&str>) -> Option<&'static str> {
    secret.map(|_| "<redacted>")
}

/// Whether `id` is a well-formed sandbox or template id (`^[a-z0-9]+$`, at most 64 chars).
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether `key` has the form the SDKs accept: `^e2b_[0-9a-f]+$`.
pub fn is_valid_api_key(key: &str) -> bool {
    key.strip_prefix("e2b_").is_some_and(|hex| {
        !hex.is_empty()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_ids_are_21_chars_of_the_alphabet_and_distinct() {
        let a = sandbox_id().unwrap();
        let b = sandbox_id().unwrap();
        assert_eq!(a.len(), 21);
        assert!(a.starts_with('i'));
        assert!(is_valid_id(&a));
        assert_ne!(a, b);
    }

    #[test]
    fn api_keys_validate() {
        let key = api_key().unwrap();
        assert_eq!(key.len(), 4 + 32);
        assert!(is_valid_api_key(&key));
        assert!(!is_valid_api_key("e2b_"));
        assert!(!is_valid_api_key("e2b_ABC"));
        assert!(!is_valid_api_key("abc_123"));
        assert!(!is_valid_api_key("e2b_12g"));
    }

    #[test]
    fn id_validation_rejects_bad_characters() {
        assert!(is_valid_id("abc123"));
        assert!(!is_valid_id("ABC"));
        assert!(!is_valid_id("a-b"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("../x"));
    }

    #[test]
    fn tokens_are_64_hex() {
        let t = access_token().unwrap();
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
