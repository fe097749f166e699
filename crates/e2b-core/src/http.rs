//! The HTTP clients of one [`ConnectionConfig`].
//!
//! [`HttpClient`] holds two `reqwest` clients built with the same transport settings
//! (rustls, connection pooling, `TCP_NODELAY`, connect timeout, proxy, the system's trusted
//! roots plus any [extra ones](crate::ConnectionConfigBuilder::root_certificates_pem), user
//! agent `e2b-rust-sdk/<version>`, redirects only within one origin):
//!
//! - [`api`](HttpClient::api) for the control plane. Its default headers carry the
//!   credentials (`X-API-KEY`, `Authorization: Bearer` for an access token, both marked
//!   sensitive), the SDK metadata headers the official SDKs send (`lang`, `lang_version`,
//!   `package_version`, `publisher`, `sdk_runtime`, `system`) and the configured extra API
//!   headers; it applies the request timeout. Generated REST clients take this one.
//! - [`sandbox`](HttpClient::sandbox) for everything else: envd, the code interpreter,
//!   presigned upload URLs. It carries no credentials and no timeout: the sandbox runs
//!   untrusted code and must never see the API key, and streams (commands, watches, file
//!   transfers) outlive any fixed request timeout, so callers set per-request timeouts and
//!   add [`SandboxRoute::headers`](crate::SandboxRoute::headers).
//!
//! Two clients rather than one with per-request headers, because generated clients cannot
//! add headers per request and a forgotten header must fail closed (no key sent), not open.

use std::sync::OnceLock;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect;

use crate::config::{ConnectionConfig, ProxyConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::{ExposeSecret, SecretString, redact_url, sensitive_header_value};

/// The header carrying the API key.
pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// The SDK's version, as sent in `User-Agent` and `package_version`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
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

/// The HTTP clients of one configuration; cheap to clone (both clients share their pools
/// across clones). See the [module docs](self).
#[derive(Clone, Debug)]
pub struct HttpClient {
    api: reqwest::Client,
    sandbox: reqwest::Client,
}

impl HttpClient {
    /// Build the clients for a configuration.
    ///
    /// # Errors
    ///
    /// A configuration error if a credential is not a valid header value or the proxy
    /// cannot be used, a transport error if the TLS backend cannot be initialised.
    pub fn new(config: &ConnectionConfig) -> Result<Self> {
        let mut api = base_builder(config)?.default_headers(api_headers(config)?);
        if let Some(timeout) = config.request_timeout() {
            // Part of the client so that generated clients honour it too.
            api = api.timeout(timeout);
        }
        let api = api.build().map_err(|e| build_error("control-plane", e))?;
        let sandbox = base_builder(config)?
            .build()
            .map_err(|e| build_error("sandbox", e))?;
        tracing::debug!(
            user_agent = user_agent(),
            proxy = ?proxy_summary(config),
            extra_root_certificates = config.root_certificate_count(),
            request_timeout = ?config.request_timeout(),
            connect_timeout = ?config.connect_timeout(),
            "built e2b http clients"
        );
        Ok(HttpClient { api, sandbox })
    }

    /// The control-plane client: credentials, metadata headers, request timeout.
    pub fn api(&self) -> &reqwest::Client {
        &self.api
    }

    /// The client for sandbox traffic and presigned URLs: no credentials, no timeout.
    pub fn sandbox(&self) -> &reqwest::Client {
        &self.sandbox
    }
}

/// Transport settings shared by both clients.
fn base_builder(config: &ConnectionConfig) -> Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder()
        .user_agent(user_agent())
        .tcp_nodelay(true)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .redirect(same_origin_redirects());
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

fn proxy_summary(config: &ConnectionConfig) -> Option<String> {
    match config.proxy_config() {
        ProxyConfig::None => None,
        ProxyConfig::Explicit(url) => Some(redact_url(url)),
        ProxyConfig::Env(_) => Some("from environment".to_owned()),
    }
}

/// The control plane's default headers: metadata, then the configured extra headers, then
/// the credentials (which extra headers cannot replace).
fn api_headers(config: &ConnectionConfig) -> Result<HeaderMap> {
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

fn build_error(which: &str, e: reqwest::Error) -> Error {
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
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::Arc;

    use super::*;
    use crate::env::tests::lookup;

    const KEY: &str = "e2b_0123456789abcdef";

    /// A one-shot HTTP server: answers one request with `response` and returns the request
    /// head it received.
    fn one_shot(response: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let mut stream = reader.into_inner();
            stream.write_all(response.as_bytes()).unwrap();
            stream.flush().unwrap();
            head
        });
        (addr, handle)
    }

    const NO_CONTENT: &str = "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";

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
    fn client_debug_does_not_leak_the_key() {
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .access_token("sk_super_secret")
            .build()
            .unwrap();
        let client = HttpClient::new(&config).unwrap();
        let out = format!("{client:?}");
        assert!(!out.contains(KEY), "{out}");
        assert!(!out.contains("sk_super_secret"), "{out}");
    }

    #[test]
    fn builds_with_every_proxy_form() {
        let explicit = ConnectionConfig::builder()
            .api_key(KEY)
            .proxy("socks5h://user:pw@127.0.0.1:1080")
            .build()
            .unwrap();
        assert!(HttpClient::new(&explicit).is_ok());
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
        assert!(HttpClient::new(&env).is_ok());
        assert_eq!(proxy_summary(&env).as_deref(), Some("from environment"));
        assert_eq!(
            proxy_summary(&explicit).as_deref(),
            Some("socks5h://***@127.0.0.1:1080")
        );
    }

    #[tokio::test]
    async fn api_client_sends_key_metadata_and_user_agent() {
        let (url, server) = one_shot(NO_CONTENT);
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .api_url(&url)
            .build()
            .unwrap();
        let client = HttpClient::new(&config).unwrap();
        let resp = client
            .api()
            .delete(format!("{}/sandboxes/abc", config.api_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        let head = server.join().unwrap().to_lowercase();
        assert!(head.starts_with("delete /sandboxes/abc http/1.1"), "{head}");
        assert!(head.contains(&format!("x-api-key: {KEY}")), "{head}");
        assert!(
            head.contains(&format!("user-agent: e2b-rust-sdk/{SDK_VERSION}")),
            "{head}"
        );
        assert!(head.contains("lang: rust"), "{head}");
        assert!(head.contains("sdk_runtime: rust"), "{head}");
    }

    #[tokio::test]
    async fn sandbox_client_sends_no_credentials() {
        let (url, server) = one_shot(NO_CONTENT);
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .access_token("tok")
            .sandbox_url(&url)
            .build()
            .unwrap();
        let client = HttpClient::new(&config).unwrap();
        let route = config.routing().sandbox("sbx1", None).unwrap();
        let token = SecretString::from("envd-token");
        let resp = client
            .sandbox()
            .get(format!("{}/health", route.envd_url()))
            .headers(route.headers(crate::ENVD_PORT, Some(&token)).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        let head = server.join().unwrap().to_lowercase();
        assert!(head.starts_with("get /health http/1.1"), "{head}");
        assert!(!head.contains("x-api-key"), "{head}");
        assert!(!head.contains("authorization"), "{head}");
        assert!(!head.contains(KEY), "{head}");
        assert!(head.contains("e2b-sandbox-id: sbx1"), "{head}");
        assert!(head.contains("e2b-sandbox-port: 49983"), "{head}");
        assert!(head.contains("x-access-token: envd-token"), "{head}");
        assert!(head.contains("user-agent: e2b-rust-sdk/"), "{head}");
    }

    #[tokio::test]
    async fn cross_origin_redirects_are_not_followed() {
        let (url, server) = one_shot(
            "HTTP/1.1 302 Found\r\nlocation: http://elsewhere.invalid/steal\r\n\
             content-length: 0\r\nconnection: close\r\n\r\n",
        );
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .api_url(&url)
            .build()
            .unwrap();
        let client = HttpClient::new(&config).unwrap();
        let resp = client.api().get(format!("{url}/x")).send().await.unwrap();
        assert_eq!(resp.status(), 302);
        server.join().unwrap();
    }

    /// A CA (PEM) and a TLS acceptor presenting a certificate for `localhost` it issued.
    fn test_ca() -> (String, tokio_rustls::TlsAcceptor) {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name
            .push(DnType::CommonName, "e2b-core test CA");
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf.signed_by(&leaf_key, &issuer).unwrap();
        let server = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der())
                    .unwrap(),
            )
            .unwrap();
        (ca_pem, tokio_rustls::TlsAcceptor::from(Arc::new(server)))
    }

    /// An HTTPS server answering every request with 204; returns its `https://localhost`
    /// URL. Handshakes that fail (an untrusted certificate) just end the connection.
    async fn https_server(acceptor: tokio_rustls::TlsAcceptor) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.ends_with(b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tls.write_all(NO_CONTENT.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        format!("https://localhost:{port}")
    }

    #[tokio::test]
    async fn extra_root_certificates_are_trusted_by_both_clients() {
        let (ca_pem, acceptor) = test_ca();
        let url = https_server(acceptor).await;
        let config = |roots: Option<&str>| {
            let mut b = ConnectionConfig::builder().api_key(KEY).api_url(&url);
            if let Some(pem) = roots {
                b = b.root_certificates_pem(pem);
            }
            b.build().unwrap()
        };

        // Without the CA the certificate is not trusted by either client.
        let untrusting = HttpClient::new(&config(None)).unwrap();
        for client in [untrusting.api(), untrusting.sandbox()] {
            let err = client
                .get(format!("{url}/health"))
                .send()
                .await
                .unwrap_err();
            assert!(err.is_connect(), "{err:?}");
        }

        let trusting_config = config(Some(&ca_pem));
        assert_eq!(trusting_config.root_certificate_count(), 1);
        let trusting = HttpClient::new(&trusting_config).unwrap();
        for client in [trusting.api(), trusting.sandbox()] {
            let resp = client.get(format!("{url}/health")).send().await.unwrap();
            assert_eq!(resp.status(), 204);
        }
        // A derived configuration keeps the roots.
        let derived = trusting_config.to_builder().build().unwrap();
        assert_eq!(derived.root_certificate_count(), 1);
        let resp = HttpClient::new(&derived)
            .unwrap()
            .sandbox()
            .get(format!("{url}/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
    }

    #[tokio::test]
    async fn request_timeout_applies_to_api_client_only() {
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .api_url(&url)
            .request_timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let client = HttpClient::new(&config).unwrap();
        let err = client.api().get(&url).send().await.unwrap_err();
        let err = Error::from(err);
        assert_eq!(
            err.timeout_kind(),
            Some(crate::TimeoutKind::Request),
            "{err}"
        );
    }
}
