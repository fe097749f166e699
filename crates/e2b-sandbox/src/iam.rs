//! Workload identity: tokens the egress proxy mints for a sandbox's outbound requests.

use std::collections::BTreeMap;

use e2b_core::{Error, Result};

use crate::network::NetworkRule;

/// The token type the API accepts today.
pub const JWT_SVID: &str = "JWT-SVID";

const PLACEHOLDER_PREFIX: &str = "${e2b.identity.tokens.";

/// A workload token definition, registered at creation with
/// [`SandboxBuilder::iam_token`](crate::SandboxBuilder::iam_token).
///
/// Reference the token in a [`NetworkTransform`](crate::NetworkTransform) header with
/// [`iam_token_placeholder`]; the egress proxy replaces the placeholder with a fresh token
/// per request, so the token itself never reaches the sandbox or this process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct IamToken {
    /// The audience of the token, stored exactly as given.
    pub audience: String,
    /// The token type, e.g. [`JWT_SVID`].
    pub token_type: String,
}

impl IamToken {
    /// A token for `audience` of type `token_type`.
    pub fn new(audience: impl Into<String>, token_type: impl Into<String>) -> Self {
        IamToken {
            audience: audience.into(),
            token_type: token_type.into(),
        }
    }

    /// A JWT-SVID token for `audience`.
    pub fn jwt_svid(audience: impl Into<String>) -> Self {
        IamToken::new(audience, JWT_SVID)
    }
}

/// The placeholder `${e2b.identity.tokens.<name>}` that the egress proxy replaces with the
/// workload token registered under `name`.
///
/// # Errors
///
/// An invalid-argument error if `name` is empty or contains `{`, `}` or control characters.
pub fn iam_token_placeholder(name: &str) -> Result<String> {
    validate_token_name(name)?;
    Ok(format!("{PLACEHOLDER_PREFIX}{name}}}"))
}

/// Check that a token name can be interpolated into a placeholder.
pub(crate) fn validate_token_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(|c| c == '{' || c == '}' || c.is_control()) {
        return Err(Error::invalid_argument(format!(
            "iam token name `{}` is not usable: a token name must be non-empty and cannot \
             contain `{{`, `}}` or control characters",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Check that every placeholder referenced by the rules names a registered token (the proxy
/// never turns an unregistered name into a token, so a typo would otherwise surface as an
/// authentication failure at the destination).
pub(crate) fn check_rule_placeholders(
    rules: &BTreeMap<String, Vec<NetworkRule>>,
    registered: &BTreeMap<String, IamToken>,
) -> Result<()> {
    for (host, host_rules) in rules {
        for transform in host_rules.iter().filter_map(|r| r.transform.as_ref()) {
            for value in transform.headers.values() {
                for name in placeholders(value) {
                    if !registered.contains_key(name) {
                        let known: Vec<&str> = registered.keys().map(String::as_str).collect();
                        return Err(Error::invalid_argument(format!(
                            "the network rule for `{host}` references iam token `{name}`, which \
                             is not registered (registered: {}); add it with \
                             SandboxBuilder::iam_token",
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The token names referenced by placeholders in `value`.
fn placeholders(value: &str) -> impl Iterator<Item = &str> {
    value
        .match_indices(PLACEHOLDER_PREFIX)
        .filter_map(|(at, _)| {
            let rest = &value[at + PLACEHOLDER_PREFIX.len()..];
            rest.find('}').map(|end| &rest[..end])
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::NetworkTransform;

    #[test]
    fn placeholder_format_and_validation() {
        assert_eq!(
            iam_token_placeholder("aws").unwrap(),
            "${e2b.identity.tokens.aws}"
        );
        for bad in ["", "a}b", "{a", "a\nb", "a\u{7f}"] {
            assert!(
                iam_token_placeholder(bad)
                    .unwrap_err()
                    .is_invalid_argument(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn unregistered_placeholders_are_rejected() {
        let header = format!(
            "Bearer {} {}",
            iam_token_placeholder("aws").unwrap(),
            iam_token_placeholder("gcp").unwrap()
        );
        let mut rules = BTreeMap::new();
        rules.insert(
            "api.example.com".to_owned(),
            vec![NetworkRule::transform(
                NetworkTransform::new().header("Authorization", header),
            )],
        );
        let mut registered = BTreeMap::new();
        registered.insert("aws".to_owned(), IamToken::jwt_svid("sts"));
        let err = check_rule_placeholders(&rules, &registered).unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(err.to_string().contains("`gcp`"), "{err}");
        registered.insert("gcp".to_owned(), IamToken::jwt_svid("gcp"));
        check_rule_placeholders(&rules, &registered).unwrap();
    }
}
