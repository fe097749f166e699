//! Lists sent as one comma-joined query value.

use serde::ser::{Error as _, Serialize, Serializer};

/// A list that travels as a single comma-joined query value
/// (`state=running,paused`), the encoding of OpenAPI `style: form,
/// explode: false` array parameters.
///
/// Each element is serialised on its own (enums by their wire name) and the
/// results are joined with `,`. Elements must serialise to strings, numbers or
/// booleans.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommaSeparated<T>(pub Vec<T>);

impl<T> From<Vec<T>> for CommaSeparated<T> {
    fn from(items: Vec<T>) -> Self {
        CommaSeparated(items)
    }
}

impl<T> FromIterator<T> for CommaSeparated<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        CommaSeparated(iter.into_iter().collect())
    }
}

impl<T: Serialize> Serialize for CommaSeparated<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut joined = String::new();
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                joined.push(',');
            }
            match serde_json::to_value(item).map_err(S::Error::custom)? {
                serde_json::Value::String(s) => joined.push_str(&s),
                serde_json::Value::Number(n) => joined.push_str(&n.to_string()),
                serde_json::Value::Bool(b) => joined.push_str(if b { "true" } else { "false" }),
                other => {
                    return Err(S::Error::custom(format!(
                        "cannot put {other} in a comma-separated query value"
                    )));
                }
            }
        }
        serializer.serialize_str(&joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::types::SandboxState;

    #[test]
    fn enums_join_by_wire_name() {
        let list = CommaSeparated(vec![SandboxState::Running, SandboxState::Paused]);
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, r#""running,paused""#);
    }

    #[test]
    fn query_string_is_one_value() {
        // The generated builders add query parameters through reqwest, which
        // URL-encodes the separator; servers decode it back to `,`.
        let url = reqwest::Url::parse_with_params(
            "http://x/v2/sandboxes",
            [(
                "state",
                serde_json::to_value(CommaSeparated(vec!["a", "b"]))
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )],
        )
        .unwrap();
        assert_eq!(url.query(), Some("state=a%2Cb"));
    }

    #[test]
    fn nested_values_are_refused() {
        let list = CommaSeparated(vec![vec![1]]);
        assert!(serde_json::to_string(&list).is_err());
    }
}
