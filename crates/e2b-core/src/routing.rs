//! Where control-plane and sandbox traffic goes, and which headers route it.
//!
//! Every mode the E2B ecosystem uses is covered by one type, [`Routing`], built by
//! [`ConnectionConfig`](crate::ConnectionConfig). The rules, first match wins:
//!
//! | | [`SandboxRoute::url`] (envd, RPC + `/files`) | [`SandboxRoute::direct_url`] (signed file URLs, code interpreter) | [`SandboxRoute::host`] |
//! |---|---|---|---|
//! | sandbox URL override | the override, verbatim | the override, verbatim | as below |
//! | debug | `http://localhost:<port>` | `http://localhost:<port>` | `localhost:<port>` |
//! | [`RoutingMode::OpenKruise`] | `<scheme>://<domain>/kruise/<id>/<port>` | same | `<domain>/kruise/<id>/<port>` |
//! | [`RoutingMode::SharedHost`] | `https://sandbox.<domain>` | `https://<port>-<id>.<domain>` | `<port>-<id>.<domain>` |
//! | [`RoutingMode::Auto`] | shared host if the domain is one of [`SHARED_HOST_DOMAINS`], else per-sandbox host | `https://<port>-<id>.<domain>` | `<port>-<id>.<domain>` |
//! | [`RoutingMode::PerSandboxHost`] | `https://<port>-<id>.<domain>` | same | `<port>-<id>.<domain>` |
//!
//! `<domain>` is the sandbox's own domain when the control plane returned one, else the
//! configured domain. The routing headers (`E2b-Sandbox-Id`, `E2b-Sandbox-Port`) are sent
//! in every mode: they are what discriminates sandboxes and ports behind a shared host or
//! an override URL. Base URLs never end with `/`.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;

use crate::error::{Error, ErrorKind, Result};
use crate::secret::sensitive_header_value;

/// Port of envd, the daemon inside every sandbox (processes, filesystem, `/files`).
pub const ENVD_PORT: u16 = 49983;
/// Port of the code-interpreter server in code-interpreter templates.
pub const CODE_INTERPRETER_PORT: u16 = 49999;
/// Port of the MCP gateway in sandboxes created with MCP servers.
pub const MCP_PORT: u16 = 50005;

/// Header naming the sandbox a request is for.
pub const SANDBOX_ID_HEADER: HeaderName = HeaderName::from_static("e2b-sandbox-id");
/// Header naming the port inside the sandbox a request is for.
pub const SANDBOX_PORT_HEADER: HeaderName = HeaderName::from_static("e2b-sandbox-port");
/// Header carrying the sandbox's envd access token (secure sandboxes).
pub const ACCESS_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-access-token");
/// Header carrying the sandbox's traffic access token (sandboxes without public traffic).
pub const TRAFFIC_ACCESS_TOKEN_HEADER: HeaderName =
    HeaderName::from_static("e2b-traffic-access-token");

/// Domains whose edge serves every sandbox from the shared host `sandbox.<domain>`.
pub const SHARED_HOST_DOMAINS: [&str; 4] = ["e2b.app", "e2b.dev", "e2b.pro", "e2b-staging.dev"];

/// The domain used when none is configured.
pub const DEFAULT_DOMAIN: &str = "e2b.app";
/// The control-plane URL used in debug mode.
pub const DEBUG_API_URL: &str = "http://localhost:3000";
/// Path prefix of the OpenKruise "private" routing protocol.
pub const KRUISE_PATH_PREFIX: &str = "/kruise";

/// URL scheme used by [`RoutingMode::OpenKruise`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `https://` (the default).
    #[default]
    Https,
    /// `http://`, for gateways without TLS.
    Http,
}

impl Scheme {
    /// `"https"` or `"http"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sandboxes are addressed when neither debug mode nor a sandbox URL override applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RoutingMode {
    /// What the official SDKs do: the shared host `https://sandbox.<domain>` for E2B's own
    /// domains ([`SHARED_HOST_DOMAINS`]), a per-sandbox host otherwise.
    #[default]
    Auto,
    /// Always `https://<port>-<sandboxID>.<domain>` (self-hosted E2B with wildcard DNS and TLS).
    PerSandboxHost,
    /// Always the shared host `https://sandbox.<domain>`, routed by headers.
    SharedHost,
    /// OpenKruise's "private" protocol: path-prefix routing through one gateway,
    /// `<scheme>://<domain>/kruise/<sandboxID>/<port>`, control plane at
    /// `<scheme>://<domain>/kruise/api`.
    OpenKruise {
        /// The gateway's scheme.
        scheme: Scheme,
    },
}

/// The routing of one configuration: control-plane URL and the rules for sandbox URLs.
///
/// Obtained from [`ConnectionConfig::routing`](crate::ConnectionConfig::routing); cheap to clone.
#[derive(Clone)]
pub struct Routing {
    inner: Arc<Inner>,
}

struct Inner {
    mode: RoutingMode,
    domain: String,
    debug: bool,
    sandbox_url: Option<String>,
    api_url: String,
    sandbox_headers: HeaderMap,
}

impl Routing {
    /// Assemble a routing from already validated parts (see `config.rs`).
    pub(crate) fn new(
        mode: RoutingMode,
        domain: String,
        debug: bool,
        sandbox_url: Option<String>,
        api_url: String,
        sandbox_headers: HeaderMap,
    ) -> Self {
        Routing {
            inner: Arc::new(Inner {
                mode,
                domain,
                debug,
                sandbox_url,
                api_url,
                sandbox_headers,
            }),
        }
    }

    /// The default control-plane URL for a domain and mode (no override, not debug).
    pub(crate) fn default_api_url(mode: RoutingMode, domain: &str) -> String {
        match mode {
            RoutingMode::OpenKruise { scheme } => {
                format!("{scheme}://{domain}{KRUISE_PATH_PREFIX}/api")
            }
            _ => format!("https://api.{domain}"),
        }
    }

    /// The control-plane base URL (no trailing `/`).
    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    /// The configured domain.
    pub fn domain(&self) -> &str {
        &self.inner.domain
    }

    /// The selected routing mode.
    pub fn mode(&self) -> RoutingMode {
        self.inner.mode
    }

    /// Whether debug mode routes everything to `localhost`.
    pub fn is_debug(&self) -> bool {
        self.inner.debug
    }

    /// The sandbox URL override, if one is configured.
    pub fn sandbox_url_override(&self) -> Option<&str> {
        self.inner.sandbox_url.as_deref()
    }

    /// The route to one sandbox.
    ///
    /// `sandbox_domain` is the `domain` the control plane returned for the sandbox; when
    /// present it replaces the configured domain for this sandbox.
    ///
    /// # Errors
    ///
    /// An invalid-argument error if the sandbox id is empty or has characters that cannot
    /// appear in a host name label or URL path segment (allowed: ASCII letters, digits,
    /// `-`, `_`, `.`), or if `sandbox_domain` is not a valid host.
    pub fn sandbox(&self, sandbox_id: &str, sandbox_domain: Option<&str>) -> Result<SandboxRoute> {
        if !is_valid_sandbox_id(sandbox_id) {
            return Err(Error::new(ErrorKind::InvalidArgument {
                message: format!(
                    "sandbox id `{}` is not valid: use ASCII letters, digits, `-`, `_` or `.`",
                    sandbox_id.escape_debug()
                ),
            }));
        }
        let domain = match sandbox_domain.map(str::trim).filter(|d| !d.is_empty()) {
            Some(domain) => {
                validate_domain(domain, uses_subdomains(self.inner.mode)).map_err(|reason| {
                    Error::new(ErrorKind::InvalidArgument {
                        message: format!(
                            "sandbox domain `{}` is not valid: {reason}",
                            domain.escape_debug()
                        ),
                    })
                })?;
                domain.trim_end_matches('.').to_owned()
            }
            None => self.inner.domain.clone(),
        };
        Ok(SandboxRoute {
            routing: self.clone(),
            sandbox_id: sandbox_id.to_owned(),
            domain,
        })
    }
}

impl fmt::Debug for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Routing")
            .field("mode", &i.mode)
            .field("domain", &i.domain)
            .field("debug", &i.debug)
            .field("sandbox_url", &i.sandbox_url)
            .field("api_url", &i.api_url)
            .field(
                "sandbox_headers",
                &i.sandbox_headers.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The route to one sandbox: its URLs, host names and routing headers.
#[derive(Clone, Debug)]
pub struct SandboxRoute {
    routing: Routing,
    sandbox_id: String,
    domain: String,
}

impl SandboxRoute {
    /// The sandbox id.
    pub fn sandbox_id(&self) -> &str {
        &self.sandbox_id
    }

    /// The domain this sandbox is served under.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Base URL of envd ([`ENVD_PORT`]) for RPCs, `/files` and `/health`.
    pub fn envd_url(&self) -> String {
        self.url(ENVD_PORT)
    }

    /// Base URL for a port, using the shared host where the routing mode allows it.
    ///
    /// Requests to it must carry [`headers`](Self::headers) for the same port.
    pub fn url(&self, port: u16) -> String {
        let inner = &self.routing.inner;
        if let Some(url) = &inner.sandbox_url {
            return url.clone();
        }
        if inner.debug {
            return format!("http://localhost:{port}");
        }
        let shared = match inner.mode {
            RoutingMode::SharedHost => true,
            RoutingMode::Auto => SHARED_HOST_DOMAINS.contains(&self.domain.as_str()),
            RoutingMode::PerSandboxHost | RoutingMode::OpenKruise { .. } => false,
        };
        if shared {
            format!("https://sandbox.{}", self.domain)
        } else {
            self.direct_url(port)
        }
    }

    /// Base URL for a port that names the sandbox itself, never the shared host.
    ///
    /// Used where the URL must work on its own: signed upload/download URLs handed to
    /// third parties, the code-interpreter base URL, public port URLs.
    pub fn direct_url(&self, port: u16) -> String {
        let inner = &self.routing.inner;
        if let Some(url) = &inner.sandbox_url {
            return url.clone();
        }
        let scheme = match inner.mode {
            _ if inner.debug => Scheme::Http,
            RoutingMode::OpenKruise { scheme } => scheme,
            _ => Scheme::Https,
        };
        format!("{scheme}://{}", self.host(port))
    }

    /// The host (and, for OpenKruise, path) under which a port of the sandbox is exposed:
    /// `<port>-<sandboxID>.<domain>`, `localhost:<port>` in debug mode,
    /// `<domain>/kruise/<sandboxID>/<port>` with [`RoutingMode::OpenKruise`].
    ///
    /// Like the official SDKs' `get_host`, this ignores the sandbox URL override.
    pub fn host(&self, port: u16) -> String {
        let inner = &self.routing.inner;
        if inner.debug {
            return format!("localhost:{port}");
        }
        match inner.mode {
            RoutingMode::OpenKruise { .. } => format!(
                "{}{KRUISE_PATH_PREFIX}/{}/{port}",
                self.domain, self.sandbox_id
            ),
            _ => format!("{port}-{}.{}", self.sandbox_id, self.domain),
        }
    }

    /// The headers every request to a port of this sandbox carries: the configured extra
    /// sandbox headers, `E2b-Sandbox-Id`, `E2b-Sandbox-Port` and, when given, the envd
    /// access token as `X-Access-Token` (marked sensitive).
    ///
    /// # Errors
    ///
    /// An invalid-argument error if the access token is not a valid header value.
    pub fn headers(&self, port: u16, access_token: Option<&SecretString>) -> Result<HeaderMap> {
        let mut headers = self.routing.inner.sandbox_headers.clone();
        headers.insert(
            SANDBOX_ID_HEADER,
            HeaderValue::from_str(&self.sandbox_id).map_err(|_| invalid_header("sandbox id"))?,
        );
        headers.insert(SANDBOX_PORT_HEADER, HeaderValue::from(port));
        if let Some(token) = access_token {
            headers.insert(
                ACCESS_TOKEN_HEADER,
                sensitive_header_value(token).map_err(|_| invalid_header("envd access token"))?,
            );
        }
        Ok(headers)
    }
}

fn invalid_header(what: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument {
        message: format!("the {what} cannot be sent as an HTTP header value"),
    })
}

fn is_valid_sandbox_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Check that `domain` is a bare host, optionally with a port. With `subdomains`, it must
/// also accept labels in front (`api.<domain>`, `<port>-<id>.<domain>`), which rules out
/// IP addresses. Returns the reason when it is not valid.
pub(crate) fn validate_domain(domain: &str, subdomains: bool) -> std::result::Result<(), String> {
    if domain.is_empty() {
        return Err("it is empty".into());
    }
    if domain.contains("://") {
        return Err("give the host name only, without a scheme such as `https://`".into());
    }
    if domain
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@' | '\\'))
    {
        return Err("give the host name only, without a path, query or credentials".into());
    }
    let probe = |url: &str| match url::Url::parse(url) {
        Ok(url) if url.host_str().is_some() && url.path() == "/" => Ok(()),
        Ok(_) => Err("it is not a host name".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    probe(&format!("https://{domain}/"))?;
    if subdomains {
        probe(&format!("https://api.{domain}/")).map_err(|_| {
            "sandboxes are addressed as `<port>-<id>.<domain>`, which needs a DNS name; use \
             RoutingMode::OpenKruise or a sandbox url to reach an IP address"
                .to_owned()
        })?;
    }
    Ok(())
}

/// Whether a routing mode puts labels in front of the domain.
pub(crate) fn uses_subdomains(mode: RoutingMode) -> bool {
    !matches!(mode, RoutingMode::OpenKruise { .. })
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    const ID: &str = "i1x9abc";

    fn routing(mode: RoutingMode, domain: &str) -> Routing {
        Routing::new(
            mode,
            domain.into(),
            false,
            None,
            Routing::default_api_url(mode, domain),
            HeaderMap::new(),
        )
    }

    fn route(r: &Routing) -> SandboxRoute {
        r.sandbox(ID, None).unwrap()
    }

    #[test]
    fn auto_uses_shared_host_for_e2b_domains() {
        for domain in SHARED_HOST_DOMAINS {
            let r = routing(RoutingMode::Auto, domain);
            let s = route(&r);
            assert_eq!(s.envd_url(), format!("https://sandbox.{domain}"));
            assert_eq!(
                s.url(CODE_INTERPRETER_PORT),
                format!("https://sandbox.{domain}")
            );
            assert_eq!(
                s.direct_url(ENVD_PORT),
                format!("https://49983-{ID}.{domain}")
            );
            assert_eq!(s.host(3000), format!("3000-{ID}.{domain}"));
            assert_eq!(r.api_url(), format!("https://api.{domain}"));
        }
    }

    #[test]
    fn auto_uses_per_sandbox_host_for_other_domains() {
        let r = routing(RoutingMode::Auto, "sbx.example.com");
        let s = route(&r);
        assert_eq!(s.envd_url(), format!("https://49983-{ID}.sbx.example.com"));
        assert_eq!(s.url(49999), format!("https://49999-{ID}.sbx.example.com"));
        assert_eq!(s.direct_url(49983), s.envd_url());
        assert_eq!(s.host(8080), format!("8080-{ID}.sbx.example.com"));
        assert_eq!(r.api_url(), "https://api.sbx.example.com");
    }

    #[test]
    fn per_sandbox_host_mode_never_uses_shared_host() {
        let r = routing(RoutingMode::PerSandboxHost, "e2b.app");
        let s = route(&r);
        assert_eq!(s.envd_url(), format!("https://49983-{ID}.e2b.app"));
        assert_eq!(
            s.direct_url(MCP_PORT),
            format!("https://50005-{ID}.e2b.app")
        );
    }

    #[test]
    fn shared_host_mode_applies_to_any_domain_but_not_direct_urls() {
        let r = routing(RoutingMode::SharedHost, "self.hosted.dev");
        let s = route(&r);
        assert_eq!(s.envd_url(), "https://sandbox.self.hosted.dev");
        assert_eq!(s.url(49999), "https://sandbox.self.hosted.dev");
        assert_eq!(
            s.direct_url(49983),
            format!("https://49983-{ID}.self.hosted.dev")
        );
        assert_eq!(s.host(49983), format!("49983-{ID}.self.hosted.dev"));
    }

    #[test]
    fn openkruise_path_prefix_routing() {
        let mode = RoutingMode::OpenKruise {
            scheme: Scheme::Https,
        };
        let r = routing(mode, "gw.example.com");
        assert_eq!(r.api_url(), "https://gw.example.com/kruise/api");
        let s = route(&r);
        assert_eq!(
            s.envd_url(),
            format!("https://gw.example.com/kruise/{ID}/49983")
        );
        assert_eq!(
            s.direct_url(49999),
            format!("https://gw.example.com/kruise/{ID}/49999")
        );
        assert_eq!(s.url(49999), s.direct_url(49999));
        assert_eq!(s.host(3000), format!("gw.example.com/kruise/{ID}/3000"));

        let mode = RoutingMode::OpenKruise {
            scheme: Scheme::Http,
        };
        let r = routing(mode, "10.0.0.5:8080");
        assert_eq!(r.api_url(), "http://10.0.0.5:8080/kruise/api");
        assert_eq!(
            route(&r).envd_url(),
            format!("http://10.0.0.5:8080/kruise/{ID}/49983")
        );
    }

    #[test]
    fn override_is_verbatim_for_every_sandbox_port_and_mode() {
        let modes = [
            RoutingMode::Auto,
            RoutingMode::PerSandboxHost,
            RoutingMode::SharedHost,
            RoutingMode::OpenKruise {
                scheme: Scheme::Http,
            },
        ];
        for mode in modes {
            for debug in [false, true] {
                let r = Routing::new(
                    mode,
                    "e2b.app".into(),
                    debug,
                    Some("http://127.0.0.1:49983".into()),
                    "http://127.0.0.1:3000".into(),
                    HeaderMap::new(),
                );
                for id in ["a", "b"] {
                    let s = r.sandbox(id, Some("other.dev")).unwrap();
                    for port in [ENVD_PORT, CODE_INTERPRETER_PORT, MCP_PORT] {
                        assert_eq!(s.url(port), "http://127.0.0.1:49983");
                        assert_eq!(s.direct_url(port), "http://127.0.0.1:49983");
                    }
                }
            }
        }
    }

    #[test]
    fn override_does_not_change_host() {
        let r = Routing::new(
            RoutingMode::Auto,
            "e2b.app".into(),
            false,
            Some("http://127.0.0.1:49983".into()),
            "http://127.0.0.1:3000".into(),
            HeaderMap::new(),
        );
        assert_eq!(route(&r).host(3000), format!("3000-{ID}.e2b.app"));
    }

    #[test]
    fn debug_routes_to_localhost_in_every_mode() {
        for mode in [
            RoutingMode::Auto,
            RoutingMode::SharedHost,
            RoutingMode::OpenKruise {
                scheme: Scheme::Https,
            },
        ] {
            let r = Routing::new(
                mode,
                "e2b.app".into(),
                true,
                None,
                DEBUG_API_URL.into(),
                HeaderMap::new(),
            );
            let s = route(&r);
            assert_eq!(s.envd_url(), "http://localhost:49983");
            assert_eq!(s.url(49999), "http://localhost:49999");
            assert_eq!(s.direct_url(49983), "http://localhost:49983");
            assert_eq!(s.host(3000), "localhost:3000");
        }
    }

    #[test]
    fn sandbox_domain_overrides_config_domain() {
        // An E2B domain from the API switches an otherwise per-sandbox setup to the shared host…
        let r = routing(RoutingMode::Auto, "example.com");
        let s = r.sandbox(ID, Some("e2b.dev")).unwrap();
        assert_eq!(s.domain(), "e2b.dev");
        assert_eq!(s.envd_url(), "https://sandbox.e2b.dev");
        assert_eq!(s.direct_url(49983), format!("https://49983-{ID}.e2b.dev"));
        // …and a custom one switches E2B's shared host off.
        let r = routing(RoutingMode::Auto, "e2b.app");
        let s = r.sandbox(ID, Some("eu.cluster.example")).unwrap();
        assert_eq!(
            s.envd_url(),
            format!("https://49983-{ID}.eu.cluster.example")
        );
        assert_eq!(s.host(1), format!("1-{ID}.eu.cluster.example"));
        // Blank means absent.
        assert_eq!(r.sandbox(ID, Some(" ")).unwrap().domain(), "e2b.app");
        // OpenKruise honours it too.
        let mode = RoutingMode::OpenKruise {
            scheme: Scheme::Https,
        };
        let s = routing(mode, "gw.a").sandbox(ID, Some("gw.b")).unwrap();
        assert_eq!(s.envd_url(), format!("https://gw.b/kruise/{ID}/49983"));
    }

    #[test]
    fn headers_are_always_sent() {
        let modes = [
            RoutingMode::Auto,
            RoutingMode::PerSandboxHost,
            RoutingMode::OpenKruise {
                scheme: Scheme::Https,
            },
        ];
        for mode in modes {
            let s = route(&routing(mode, "e2b.app"));
            let h = s.headers(ENVD_PORT, None).unwrap();
            assert_eq!(h["e2b-sandbox-id"], ID);
            assert_eq!(h["E2b-Sandbox-Port"], "49983");
            assert!(!h.contains_key("x-access-token"));
            let h = s.headers(CODE_INTERPRETER_PORT, None).unwrap();
            assert_eq!(h[SANDBOX_PORT_HEADER], "49999");
        }
    }

    #[test]
    fn access_token_header_is_sensitive() {
        let s = route(&routing(RoutingMode::Auto, "e2b.app"));
        let token = SecretString::from("tok-123");
        let h = s.headers(ENVD_PORT, Some(&token)).unwrap();
        assert_eq!(h[ACCESS_TOKEN_HEADER], "tok-123");
        assert!(h[ACCESS_TOKEN_HEADER].is_sensitive());
        assert!(!format!("{h:?}").contains("tok-123"));
        let bad = SecretString::from("a\nb");
        let err = s.headers(ENVD_PORT, Some(&bad)).unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(!err.to_string().contains("a\nb"));
    }

    #[test]
    fn extra_sandbox_headers_come_first_and_cannot_override_routing() {
        let mut extra = HeaderMap::new();
        extra.insert("x-gateway-auth", HeaderValue::from_static("g"));
        extra.insert(SANDBOX_ID_HEADER, HeaderValue::from_static("spoofed"));
        let r = Routing::new(
            RoutingMode::Auto,
            "e2b.app".into(),
            false,
            None,
            "https://api.e2b.app".into(),
            extra,
        );
        let h = route(&r).headers(ENVD_PORT, None).unwrap();
        assert_eq!(h["x-gateway-auth"], "g");
        assert_eq!(h[SANDBOX_ID_HEADER], ID);
    }

    #[test]
    fn invalid_sandbox_ids_and_domains_are_rejected() {
        let r = routing(RoutingMode::Auto, "e2b.app");
        for id in ["", "a/b", "a b", "a?b", "a#b", "a@b", "ä", "a:1"] {
            let err = r.sandbox(id, None).unwrap_err();
            assert!(err.is_invalid_argument(), "{id}");
        }
        assert!(r.sandbox("debug_sandbox_id", None).is_ok());
        assert!(r.sandbox("default--sbx-1.x", None).is_ok());
        for domain in ["https://e2b.app", "e2b.app/x", "a b", "user@e2b.app"] {
            assert!(r.sandbox(ID, Some(domain)).is_err(), "{domain}");
        }
    }

    #[test]
    fn domain_validation() {
        for sub in [true, false] {
            assert!(validate_domain("e2b.app", sub).is_ok());
            assert!(validate_domain("localhost:8080", sub).is_ok());
            assert!(validate_domain("", sub).is_err());
            assert!(validate_domain("https://e2b.app", sub).is_err());
            assert!(validate_domain("e2b.app/path", sub).is_err());
            assert!(validate_domain("e2b.app:notaport", sub).is_err());
        }
        assert!(validate_domain("10.0.0.1:8080", false).is_ok());
        let err = validate_domain("10.0.0.1", true).unwrap_err();
        assert!(err.contains("OpenKruise"), "{err}");
        let r = routing(RoutingMode::Auto, "e2b.app");
        assert!(r.sandbox(ID, Some("10.0.0.1")).is_err());
        let kruise = RoutingMode::OpenKruise {
            scheme: Scheme::Http,
        };
        let r = routing(kruise, "gw");
        assert!(r.sandbox(ID, Some("10.0.0.1:80")).is_ok());
    }

    #[test]
    fn scheme_display() {
        assert_eq!(Scheme::Https.to_string(), "https");
        assert_eq!(Scheme::Http.as_str(), "http");
        assert_eq!(RoutingMode::default(), RoutingMode::Auto);
    }
}
