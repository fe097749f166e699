//! Content codings of `/files`: gzip or identity, negotiated as RFC 9110
//! (and envd) describe.

use http::HeaderMap;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING};

/// A content coding the agent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Identity,
    Gzip,
}

/// A coding the agent does not speak, or no acceptable one.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CodingError {
    #[error("unsupported Content-Encoding: {0}, supported: [gzip]")]
    UnsupportedContentEncoding(String),
    #[error("no acceptable encoding found, supported: [gzip]")]
    NothingAcceptable,
}

/// One `coding;q=x` entry, lowercased; quality 1 when absent or unparsable.
fn parse_entry(entry: &str) -> (String, f64) {
    let mut parts = entry.split(';');
    let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut quality = 1.0;
    for param in parts {
        let param = param.trim();
        if let Some(q) = param
            .strip_prefix("q=")
            .or_else(|| param.strip_prefix("Q="))
            .and_then(|q| q.trim().parse::<f64>().ok())
        {
            quality = q;
        }
    }
    (coding, quality)
}

fn header<'a>(headers: &'a HeaderMap, name: &http::HeaderName) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The coding of a request body (`Content-Encoding`).
pub(crate) fn request_coding(headers: &HeaderMap) -> Result<Coding, CodingError> {
    let value = header(headers, &CONTENT_ENCODING);
    if value.trim().is_empty() {
        return Ok(Coding::Identity);
    }
    match parse_entry(value).0.as_str() {
        "identity" => Ok(Coding::Identity),
        "gzip" => Ok(Coding::Gzip),
        _ => Err(CodingError::UnsupportedContentEncoding(value.to_owned())),
    }
}

/// Whether `identity` is acceptable: it is unless `identity;q=0`, or `*;q=0`
/// without an explicit positive `identity`.
pub(crate) fn identity_acceptable(headers: &HeaderMap) -> bool {
    let entries: Vec<(String, f64)> = header(headers, &ACCEPT_ENCODING)
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(parse_entry)
        .collect();
    let identity = entries
        .iter()
        .find(|(c, _)| c == "identity")
        .map(|(_, q)| *q);
    let wildcard = entries.iter().find(|(c, _)| c == "*").map(|(_, q)| *q);
    match (identity, wildcard) {
        (Some(q), _) => q > 0.0,
        (None, Some(q)) => q > 0.0,
        (None, None) => true,
    }
}

/// The coding of a response, from `Accept-Encoding`: the acceptable
/// supported coding of highest quality, identity unless refused.
pub(crate) fn response_coding(headers: &HeaderMap) -> Result<Coding, CodingError> {
    let mut entries: Vec<(String, f64)> = header(headers, &ACCEPT_ENCODING)
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(parse_entry)
        .collect();
    if entries.is_empty() {
        return Ok(Coding::Identity);
    }
    let identity_ok = identity_acceptable(headers);
    // Stable: equal qualities keep the client's order.
    entries.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (coding, quality) in entries {
        if quality <= 0.0 {
            continue;
        }
        match coding.as_str() {
            "identity" => return Ok(Coding::Identity),
            "gzip" => return Ok(Coding::Gzip),
            "*" if identity_ok => return Ok(Coding::Identity),
            "*" => return Ok(Coding::Gzip),
            _ => {}
        }
    }
    if identity_ok {
        Ok(Coding::Identity)
    } else {
        Err(CodingError::NothingAcceptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, value.parse().unwrap());
        h
    }

    #[test]
    fn negotiation() {
        assert_eq!(response_coding(&HeaderMap::new()), Ok(Coding::Identity));
        assert_eq!(response_coding(&accept("gzip")), Ok(Coding::Gzip));
        assert_eq!(response_coding(&accept("gzip, deflate")), Ok(Coding::Gzip));
        assert_eq!(response_coding(&accept("br")), Ok(Coding::Identity));
        assert_eq!(
            response_coding(&accept("identity;q=1, gzip;q=0.5")),
            Ok(Coding::Identity)
        );
        assert_eq!(response_coding(&accept("gzip;q=0")), Ok(Coding::Identity));
        assert_eq!(
            response_coding(&accept("*;q=0")),
            Err(CodingError::NothingAcceptable)
        );
        assert_eq!(
            response_coding(&accept("identity;q=0, *")),
            Ok(Coding::Gzip)
        );
        assert!(!identity_acceptable(&accept("identity;q=0")));
        assert!(identity_acceptable(&accept("*;q=0, identity")));
    }

    #[test]
    fn request_bodies() {
        let mut h = HeaderMap::new();
        assert_eq!(request_coding(&h), Ok(Coding::Identity));
        h.insert(CONTENT_ENCODING, "GZIP".parse().unwrap());
        assert_eq!(request_coding(&h), Ok(Coding::Gzip));
        h.insert(CONTENT_ENCODING, "br".parse().unwrap());
        assert!(request_coding(&h).is_err());
    }
}
