//! Building the two `reqwest` clients of a configuration: transport settings, proxies,
//! trusted roots, pool tuning, redirects and the control plane's default headers.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect;

use crate::config::{ConnectionConfig, ProxyConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::{ExposeSecret, SecretString, redact_url, sensitive_header_value};

/// The header carrying the API key.
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// The SDK's version, as sent in `User-Agent` and `package_version`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Redirects followed within one origin.
const MAX_REDIRECTS: usize = 10;

/// The `User-Agent` of every request: `e2b-rust-sdk/<version>`.
pub fn user_agent() -> &'static str {
    concat!("e2b-rust-sdk/", env!("CARGO_PKG_VERSION"))
}

/// The SDK metadata headers the official SDKs send to the control plane.
///
/// `lang: rust`, `lang_version` (the compiler that built the SDK), `package_version`,
/// `publisher: e2b-rs` (this SDK is not published by E2B), `sdk_runtime: rust`, `system`
/// (`Linux`, `Darwin`, `Windows`, … as Python's `platform.system()` reports it).
pub fn sdk_metadata_headers() -> &'static HeaderMap {
    static HEADERS: OnceLock<HeaderMap> = OnceLock::new();
    HEADERS.get_or_init(|| {
        let system = match std::env::consts::OS {
            "linux" => "Linux",
            "macos" => "Darwin",
            "windows" => "Windows",
            "freebsd" => "FreeBSD",
            other => other,
        };
        let mut h = HeaderMap::new();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                h.insert(HeaderName::from_static(name), value);
            }
        };
        put("lang", "rust");
        put("lang_version", env!("E2B_RUSTC_VERSION"));
        put("package_version", SDK_VERSION);
        put("publisher", "e2b-rs");
        put("sdk_runtime", "rust");
        put("system", system);
        h
    })
}

/// Transport settings shared by both clients.
pub(super) fn base_builder(config: &ConnectionConfig) -> Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder()
        .user_agent(user_agent())
        .tcp_nodelay(true)
        .redirect(same_origin_redirects());
    // `E2B_KEEPALIVE_EXPIRY` / `E2B_MAX_KEEPALIVE_CONNECTIONS`; zero keeps nothing idle.
    if config.pool_idle_timeout().is_zero() {
        builder = builder.pool_max_idle_per_host(0);
    } else {
        builder = builder
            .pool_idle_timeout(config.pool_idle_timeout())
            .pool_max_idle_per_host(config.pool_max_idle_per_host());
    }
    if let Some(timeout) = config.connect_timeout() {
        builder = builder.connect_timeout(timeout);
    }
    // Proxies come only from the configuration, which read the environment (if asked to)
    // in one place; reqwest's own environment and system lookup is turned off.
    builder = builder.no_proxy();
    for proxy in proxies(config)? {
        builder = builder.proxy(proxy);
    }
    let roots = config.root_certificates().certificates();
    if !roots.is_empty() {
        // Added to the platform's roots, not instead of them.
        builder = builder.tls_certs_merge(roots.iter().cloned());
    }
    Ok(builder)
}

fn proxies(config: &ConnectionConfig) -> Result<Vec<reqwest::Proxy>> {
    let invalid = |url: &str| {
        Error::from(crate::ConfigError::InvalidProxy {
            value: redact_url(url),
        })
    };
    match config.proxy_config() {
        ProxyConfig::None => Ok(Vec::new()),
        ProxyConfig::Explicit(url) => Ok(vec![reqwest::Proxy::all(url).map_err(|_| invalid(url))?]),
        ProxyConfig::Env(env) => {
            let no_proxy = || {
                env.no_proxy
                    .as_deref()
                    .and_then(reqwest::NoProxy::from_string)
            };
            let mut list = Vec::new();
            if let Some(url) = &env.https {
                let p = reqwest::Proxy::https(url).map_err(|_| invalid(url))?;
                list.push(p.no_proxy(no_proxy()));
            }
            if let Some(url) = &env.http {
                let p = reqwest::Proxy::http(url).map_err(|_| invalid(url))?;
                list.push(p.no_proxy(no_proxy()));
            }
            if let Some(url) = &env.all {
                let p = reqwest::Proxy::all(url).map_err(|_| invalid(url))?;
                list.push(p.no_proxy(no_proxy()));
            }
            Ok(list)
        }
    }
}

pub(super) fn proxy_summary(config: &ConnectionConfig) -> Option<String> {
    match config.proxy_config() {
        ProxyConfig::None => None,
        ProxyConfig::Explicit(url) => Some(redact_url(url)),
        ProxyConfig::Env(_) => Some("from environment".to_owned()),
    }
}

/// The control plane's default headers: metadata, then the configured extra headers, then
/// the credentials (which extra headers cannot replace).
pub(super) fn api_headers(config: &ConnectionConfig) -> Result<HeaderMap> {
    let mut headers = sdk_metadata_headers().clone();
    for (name, value) in config.api_headers() {
        headers.insert(name.clone(), value.clone());
    }
    if let Some(key) = config.api_key() {
        headers.insert(API_KEY_HEADER, credential(key, "api key")?);
    }
    if let Some(token) = config.access_token() {
        let bearer = SecretString::from(format!("Bearer {}", token.expose_secret()));
        headers.insert(
            http::header::AUTHORIZATION,
            credential(&bearer, "access token")?,
        );
    }
    Ok(headers)
}

fn credential(secret: &SecretString, what: &str) -> Result<HeaderValue> {
    sensitive_header_value(secret).map_err(|_| {
        Error::from(crate::ConfigError::InvalidHeader {
            name: what.to_owned(),
            reason: "the value has characters not allowed in a header value",
        })
    })
}

pub(super) fn build_error(which: &str, e: reqwest::Error) -> Error {
    Error::with_source(
        ErrorKind::Transport {
            message: format!("could not initialise the {which} http client"),
        },
        e,
    )
}

/// Follow redirects only within the original scheme, host and port, so that credentials
/// (`X-API-KEY`, `X-Access-Token`) never travel to another origin.
fn same_origin_redirects() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::tests::lookup;

    const KEY: &str = "e2b_0123456789abcdef";

    #[test]
    fn user_agent_and_metadata() {
        assert_eq!(user_agent(), format!("e2b-rust-sdk/{SDK_VERSION}"));
        let h = sdk_metadata_headers();
        assert_eq!(h["lang"], "rust");
        assert_eq!(h["package_version"], SDK_VERSION);
        assert_eq!(h["publisher"], "e2b-rs");
        assert_eq!(h["sdk_runtime"], "rust");
        assert!(!h["lang_version"].is_empty());
        assert!(!h["system"].is_empty());
        #[cfg(target_os = "linux")]
        assert_eq!(h["system"], "Linux");
    }

    #[test]
    fn api_headers_carry_credentials_last() {
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .access_token("tok")
            .header("x-extra", "1")
            .header("x-api-key", "spoofed")
            .header("lang", "overridden")
            .build()
            .unwrap();
        let h = api_headers(&config).unwrap();
        assert_eq!(h[API_KEY_HEADER], KEY);
        assert!(h[API_KEY_HEADER].is_sensitive());
        assert_eq!(h[http::header::AUTHORIZATION], "Bearer tok");
        assert!(h[http::header::AUTHORIZATION].is_sensitive());
        assert_eq!(h["x-extra"], "1");
        assert_eq!(h["lang"], "overridden");
        assert_eq!(h["publisher"], "e2b-rs");
        let debug = format!("{h:?}");
        assert!(
            !debug.contains(KEY) && !debug.contains("Bearer tok"),
            "{debug}"
        );
    }

    #[test]
    fn builds_with_every_proxy_form() {
        let explicit = ConnectionConfig::builder()
            .api_key(KEY)
            .proxy("socks5h://user:pw@127.0.0.1:1080")
            .build()
            .unwrap();
        assert!(super::super::HttpClient::new(&explicit).is_ok());
        let env = ConnectionConfig::builder()
            .env_from(lookup(&[
                ("E2B_API_KEY", KEY),
                ("HTTPS_PROXY", "http://127.0.0.1:3128"),
                ("HTTP_PROXY", "http://127.0.0.1:3129"),
                ("ALL_PROXY", "socks5://127.0.0.1:1080"),
                ("NO_PROXY", "localhost,127.0.0.1"),
            ]))
            .build()
            .unwrap();
        assert_eq!(proxies(&env).unwrap().len(), 3);
        assert!(super::super::HttpClient::new(&env).is_ok());
        assert_eq!(proxy_summary(&env).as_deref(), Some("from environment"));
        assert_eq!(
            proxy_summary(&explicit).as_deref(),
            Some("socks5h://***@127.0.0.1:1080")
        );
    }
}
