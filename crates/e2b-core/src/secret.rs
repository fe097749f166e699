//! Secret handling: API keys and tokens are [`SecretString`]s, sent as sensitive header
//! values and never printed (the `Debug` impls of every type holding one redact it).

use http::HeaderValue;
use http::header::InvalidHeaderValue;
pub use secrecy::{ExposeSecret, SecretString};

/// A header value holding a secret, marked sensitive so that `Debug` output and HTTP/2
/// header compression never expose it.
///
/// # Errors
///
/// Fails if the secret contains bytes not allowed in a header value (control
/// characters). The error does not contain the secret.
pub fn sensitive_header_value(secret: &SecretString) -> Result<HeaderValue, InvalidHeaderValue> {
    let mut value = HeaderValue::from_str(secret.expose_secret())?;
    value.set_sensitive(true);
    Ok(value)
}

/// Whether an API key has the format E2B issues: `^e2b_[0-9a-f]+$`.
pub fn is_valid_api_key(key: &str) -> bool {
    key.strip_prefix("e2b_").is_some_and(|hex| {
        !hex.is_empty() && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// A URL with any `user:password@` part replaced by `***@`, for logs and `Debug` output.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        };
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{tail}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_format() {
        assert!(is_valid_api_key("e2b_0123456789abcdef"));
        assert!(is_valid_api_key("e2b_0"));
        for bad in [
            "",
            "e2b_",
            "e2b_ABC",
            "e2b_xyz",
            "E2B_abc",
            "sk_abc",
            " e2b_abc",
            "e2b_abc ",
            "e2b_ab-c",
            "e2b_abc\n",
        ] {
            assert!(!is_valid_api_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn sensitive_values_are_hidden_in_debug() {
        let v = sensitive_header_value(&SecretString::from("hunter2")).unwrap();
        assert!(v.is_sensitive());
        assert_eq!(v, "hunter2");
        assert!(!format!("{v:?}").contains("hunter2"));
        assert!(sensitive_header_value(&SecretString::from("a\r\nb")).is_err());
    }

    #[test]
    fn url_redaction() {
        assert_eq!(
            redact_url("http://user:pw@proxy:3128/x?y"),
            "http://***@proxy:3128/x?y"
        );
        assert_eq!(
            redact_url("socks5h://pw@proxy:1080"),
            "socks5h://***@proxy:1080"
        );
        assert_eq!(redact_url("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(redact_url("http://proxy/a@b"), "http://proxy/a@b");
        assert_eq!(redact_url("user:pw@proxy:3128"), "***@proxy:3128");
        assert_eq!(redact_url("proxy:3128"), "proxy:3128");
    }
}
