//! Query-string parsing with errors reported as 400 JSON.

use super::errors::ApiError;

/// The decoded `key=value` pairs of a query string.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Parse a raw query string (absent → empty).
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` as a number in `min..=max`, or `default` when absent.
    pub(crate) fn int(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_request(format!(
                    "Invalid value of '{key}': expected an integer in {min}..={max}, got '{v}'"
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let q = Query::parse(Some("limit=5&metadata=user%3Dabc%26app%3Dprod&x="));
        assert_eq!(q.get("metadata"), Some("user=abc&app=prod"));
        assert_eq!(q.int("limit", 100, 1, 100).unwrap(), 5);
        assert_eq!(q.int("missing", 100, 1, 100).unwrap(), 100);
        assert_eq!(q.int("x", 7, 1, 100).unwrap(), 7);
        let q = Query::parse(Some("limit=0"));
        assert_eq!(
            q.int("limit", 100, 1, 100).unwrap_err().status.as_u16(),
            400
        );
        let q = Query::parse(Some("limit=abc"));
        assert!(q.int("limit", 100, 1, 100).is_err());
        assert_eq!(Query::parse(None).get("a"), None);
    }
}
