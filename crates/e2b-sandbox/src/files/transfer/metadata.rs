//! File metadata (`X-Metadata-*` headers), checked as upstream's SDKs and envd check it.

use std::collections::HashMap;

use e2b_core::{Error, Result};

/// Longest metadata key envd stores (`user.e2b.` + key must fit an xattr name).
const MAX_METADATA_KEY: usize = 246;
/// Largest total size of metadata keys and values.
const MAX_METADATA_TOTAL: usize = 4096;

/// Check metadata as upstream's SDKs and envd do: keys are HTTP tokens of up to 246 bytes,
/// values printable ASCII, 4096 bytes in all.
pub(crate) fn validate_metadata(metadata: &HashMap<String, String>) -> Result<()> {
    let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
    let mut total = 0;
    for (key, value) in metadata {
        // An HTTP token, as upstream's SDKs require: the key becomes a header name.
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if key.is_empty() || !key.bytes().all(token) {
            return Err(Error::invalid_argument(format!(
                "metadata key {key:?} must be a non-empty HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
            )));
        }
        if key.len() > MAX_METADATA_KEY {
            return Err(Error::invalid_argument(format!(
                "metadata key {key:?} is longer than {MAX_METADATA_KEY} bytes"
            )));
        }
        if !printable(value) {
            return Err(Error::invalid_argument(format!(
                "metadata value of {key:?} must be printable ASCII"
            )));
        }
        total += key.len() + value.len();
    }
    if total > MAX_METADATA_TOTAL {
        return Err(Error::invalid_argument(format!(
            "metadata is {total} bytes, more than {MAX_METADATA_TOTAL}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_validation_follows_envd() {
        let ok: HashMap<_, _> = [("owner".to_owned(), "build 42".to_owned())].into();
        assert!(validate_metadata(&ok).is_ok());
        let bad_value: HashMap<_, _> = [("k".to_owned(), "é".to_owned())].into();
        assert!(
            validate_metadata(&bad_value)
                .unwrap_err()
                .is_invalid_argument()
        );
        for bad in ["", "a b", "a/b", "a:b", "ключ", "a\tb"] {
            let key: HashMap<_, _> = [(bad.to_owned(), "v".to_owned())].into();
            assert!(
                validate_metadata(&key).unwrap_err().is_invalid_argument(),
                "{bad:?}"
            );
        }
        let token: HashMap<_, _> = [("Owner_1.x-y~z!#$%&'*+^`|".to_owned(), String::new())].into();
        assert!(validate_metadata(&token).is_ok());
        let long_key: HashMap<_, _> = [("k".repeat(247), "v".to_owned())].into();
        assert!(
            validate_metadata(&long_key)
                .unwrap_err()
                .is_invalid_argument()
        );
        let big: HashMap<_, _> = (0..5)
            .map(|i| (format!("k{i}"), "v".repeat(1000)))
            .collect();
        assert!(validate_metadata(&big).unwrap_err().is_invalid_argument());
    }
}
