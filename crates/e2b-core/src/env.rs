//! The environment variables the SDK reads. This module is the only place that reads them;
//! everything else receives the values through [`ConnectionConfig`](crate::ConnectionConfig).

use std::fmt;

use secrecy::SecretString;

use crate::secret::redact_url;

/// The API key (`e2b_…`), sent to the control plane as `X-API-KEY`.
pub const E2B_API_KEY: &str = "E2B_API_KEY";
/// An access token, sent to the control plane as `Authorization: Bearer …`.
pub const E2B_ACCESS_TOKEN: &str = "E2B_ACCESS_TOKEN";
/// The domain (default `e2b.app`).
pub const E2B_DOMAIN: &str = "E2B_DOMAIN";
/// Control-plane URL override.
pub const E2B_API_URL: &str = "E2B_API_URL";
/// Sandbox (envd and code-interpreter) URL override.
pub const E2B_SANDBOX_URL: &str = "E2B_SANDBOX_URL";
/// Volume content API URL override.
pub const E2B_VOLUME_API_URL: &str = "E2B_VOLUME_API_URL";
/// `true` (any case) turns on debug mode.
pub const E2B_DEBUG: &str = "E2B_DEBUG";
/// `false` (any case) turns off the client-side API key format check.
pub const E2B_VALIDATE_API_KEY: &str = "E2B_VALIDATE_API_KEY";
/// How many times a connection that could not be established is retried (default 3).
pub const E2B_CONNECTION_RETRIES: &str = "E2B_CONNECTION_RETRIES";
/// How long, in seconds (fractions allowed), an idle pooled connection is kept (default 300).
pub const E2B_KEEPALIVE_EXPIRY: &str = "E2B_KEEPALIVE_EXPIRY";
/// How many idle connections are kept per host (default 20).
pub const E2B_MAX_KEEPALIVE_CONNECTIONS: &str = "E2B_MAX_KEEPALIVE_CONNECTIONS";

/// Proxy variables, in the order they are looked up (upper case first, like curl and reqwest).
const HTTPS_PROXY: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
const HTTP_PROXY: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
const ALL_PROXY: [&str; 2] = ["ALL_PROXY", "all_proxy"];
const NO_PROXY: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// A snapshot of the variables above. Empty values count as unset.
#[derive(Clone, Default)]
pub(crate) struct EnvVars {
    pub(crate) api_key: Option<SecretString>,
    pub(crate) access_token: Option<SecretString>,
    pub(crate) domain: Option<String>,
    pub(crate) api_url: Option<String>,
    pub(crate) sandbox_url: Option<String>,
    pub(crate) volume_api_url: Option<String>,
    pub(crate) debug: Option<bool>,
    pub(crate) validate_api_key: Option<bool>,
    /// [`E2B_CONNECTION_RETRIES`], as set (parsed when the configuration is built).
    pub(crate) connection_retries: Option<String>,
    /// [`E2B_KEEPALIVE_EXPIRY`], as set.
    pub(crate) keepalive_expiry: Option<String>,
    /// [`E2B_MAX_KEEPALIVE_CONNECTIONS`], as set.
    pub(crate) max_keepalive_connections: Option<String>,
    pub(crate) proxy: EnvProxy,
}

/// Proxy settings from the conventional variables.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct EnvProxy {
    pub(crate) https: Option<String>,
    pub(crate) http: Option<String>,
    pub(crate) all: Option<String>,
    pub(crate) no_proxy: Option<String>,
}

impl EnvProxy {
    pub(crate) fn is_empty(&self) -> bool {
        self.https.is_none() && self.http.is_none() && self.all.is_none()
    }
}

impl EnvVars {
    /// Read the process environment.
    pub(crate) fn from_process() -> Self {
        EnvVars::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read through `lookup`, which returns a variable's value or `None` when it is unset.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let first = |names: &[&str]| names.iter().find_map(|n| get(n));
        // Like reqwest and curl: under CGI, `HTTP_PROXY` may come from a request header
        // ("httpoxy"), so only the lower-case form is trusted there.
        let http_proxy = if get("REQUEST_METHOD").is_some() {
            get(HTTP_PROXY[1])
        } else {
            first(&HTTP_PROXY)
        };
        EnvVars {
            api_key: get(E2B_API_KEY).map(SecretString::from),
            access_token: get(E2B_ACCESS_TOKEN).map(SecretString::from),
            domain: get(E2B_DOMAIN),
            api_url: get(E2B_API_URL),
            sandbox_url: get(E2B_SANDBOX_URL),
            volume_api_url: get(E2B_VOLUME_API_URL),
            debug: get(E2B_DEBUG).map(|v| v.trim().eq_ignore_ascii_case("true")),
            validate_api_key: get(E2B_VALIDATE_API_KEY)
                .map(|v| !v.trim().eq_ignore_ascii_case("false")),
            connection_retries: get(E2B_CONNECTION_RETRIES),
            keepalive_expiry: get(E2B_KEEPALIVE_EXPIRY),
            max_keepalive_connections: get(E2B_MAX_KEEPALIVE_CONNECTIONS),
            proxy: EnvProxy {
                https: first(&HTTPS_PROXY),
                http: http_proxy,
                all: first(&ALL_PROXY),
                no_proxy: first(&NO_PROXY),
            },
        }
    }
}

impl fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvVars")
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("domain", &self.domain)
            .field("api_url", &self.api_url)
            .field("sandbox_url", &self.sandbox_url)
            .field("volume_api_url", &self.volume_api_url)
            .field("debug", &self.debug)
            .field("validate_api_key", &self.validate_api_key)
            .field("connection_retries", &self.connection_retries)
            .field("keepalive_expiry", &self.keepalive_expiry)
            .field("max_keepalive_connections", &self.max_keepalive_connections)
            .field("proxy", &self.proxy)
            .finish()
    }
}

impl fmt::Debug for EnvProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_deref().map(redact_url);
        f.debug_struct("EnvProxy")
            .field("https", &redact(&self.https))
            .field("http", &redact(&self.http))
            .field("all", &redact(&self.all))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    /// A lookup over a fixed map, for tests that must not touch the process environment.
    pub(crate) fn lookup<'a>(
        vars: &'a [(&'a str, &'a str)],
    ) -> impl Fn(&str) -> Option<String> + 'a {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        move |name| map.get(name).map(|v| (*v).to_owned())
    }

    #[test]
    fn reads_every_variable() {
        let env = EnvVars::from_lookup(lookup(&[
            ("E2B_API_KEY", "e2b_abc"),
            ("E2B_ACCESS_TOKEN", "sk_tok"),
            ("E2B_DOMAIN", "example.com"),
            ("E2B_API_URL", "http://127.0.0.1:3000"),
            ("E2B_SANDBOX_URL", "http://127.0.0.1:49983"),
            ("E2B_VOLUME_API_URL", "http://127.0.0.1:8080"),
            ("E2B_DEBUG", "TRUE"),
            ("E2B_VALIDATE_API_KEY", "False"),
            ("E2B_CONNECTION_RETRIES", "5"),
            ("E2B_KEEPALIVE_EXPIRY", "42.5"),
            ("E2B_MAX_KEEPALIVE_CONNECTIONS", "7"),
            ("HTTPS_PROXY", "http://p:1"),
            ("http_proxy", "http://p:2"),
            ("all_proxy", "socks5://p:3"),
            ("NO_PROXY", "localhost"),
        ]));
        assert_eq!(env.api_key.unwrap().expose_secret(), "e2b_abc");
        assert_eq!(env.access_token.unwrap().expose_secret(), "sk_tok");
        assert_eq!(env.domain.as_deref(), Some("example.com"));
        assert_eq!(env.api_url.as_deref(), Some("http://127.0.0.1:3000"));
        assert_eq!(env.sandbox_url.as_deref(), Some("http://127.0.0.1:49983"));
        assert_eq!(env.volume_api_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(env.debug, Some(true));
        assert_eq!(env.validate_api_key, Some(false));
        assert_eq!(env.connection_retries.as_deref(), Some("5"));
        assert_eq!(env.keepalive_expiry.as_deref(), Some("42.5"));
        assert_eq!(env.max_keepalive_connections.as_deref(), Some("7"));
        assert_eq!(env.proxy.https.as_deref(), Some("http://p:1"));
        assert_eq!(env.proxy.http.as_deref(), Some("http://p:2"));
        assert_eq!(env.proxy.all.as_deref(), Some("socks5://p:3"));
        assert_eq!(env.proxy.no_proxy.as_deref(), Some("localhost"));
    }

    #[test]
    fn unset_and_empty_are_none() {
        let env = EnvVars::from_lookup(lookup(&[("E2B_API_KEY", ""), ("E2B_DOMAIN", "  ")]));
        assert!(env.api_key.is_none());
        assert!(env.domain.is_none());
        assert_eq!(env.debug, None);
        assert_eq!(env.validate_api_key, None);
        assert!(env.proxy.is_empty());
    }

    #[test]
    fn boolean_parsing_matches_upstream() {
        let debug = |v| EnvVars::from_lookup(lookup(&[("E2B_DEBUG", v)])).debug;
        assert_eq!(debug("true"), Some(true));
        assert_eq!(debug("True"), Some(true));
        assert_eq!(debug("1"), Some(false));
        assert_eq!(debug("false"), Some(false));
        let validate =
            |v| EnvVars::from_lookup(lookup(&[("E2B_VALIDATE_API_KEY", v)])).validate_api_key;
        assert_eq!(validate("false"), Some(false));
        assert_eq!(validate("FALSE"), Some(false));
        assert_eq!(validate("0"), Some(true));
        assert_eq!(validate("true"), Some(true));
    }

    #[test]
    fn upper_case_proxy_wins_and_cgi_ignores_http_proxy() {
        let env = EnvVars::from_lookup(lookup(&[
            ("HTTPS_PROXY", "http://upper"),
            ("https_proxy", "http://lower"),
            ("HTTP_PROXY", "http://upper-http"),
        ]));
        assert_eq!(env.proxy.https.as_deref(), Some("http://upper"));
        assert_eq!(env.proxy.http.as_deref(), Some("http://upper-http"));
        let env = EnvVars::from_lookup(lookup(&[
            ("REQUEST_METHOD", "GET"),
            ("HTTP_PROXY", "http://attacker"),
        ]));
        assert_eq!(env.proxy.http, None);
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let env = EnvVars::from_lookup(lookup(&[
            ("E2B_API_KEY", "e2b_deadbeef"),
            ("E2B_ACCESS_TOKEN", "sk_secret_token"),
            ("HTTPS_PROXY", "http://user:pass@proxy:3128"),
        ]));
        let out = format!("{env:?}");
        assert!(!out.contains("deadbeef"));
        assert!(!out.contains("sk_secret_token"));
        assert!(!out.contains("pass"));
        assert!(out.contains("proxy:3128"));
    }
}
