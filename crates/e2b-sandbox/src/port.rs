//! [`PortEndpoint`]: how to reach an HTTP service listening on a port of a sandbox, with the
//! same routing and headers as the SDK's own envd traffic.

use std::fmt;

use e2b_core::raw::{HttpClient, Target};
use e2b_core::routing::TRAFFIC_ACCESS_TOKEN_HEADER;
use e2b_core::{Error, ExposeSecret, Result};
use http::{HeaderMap, HeaderValue, Method};

use crate::Sandbox;

/// An HTTP service on one port of a sandbox: its base URL and the headers every request to
/// it must carry.
///
/// Obtained with [`Sandbox::port_endpoint`]. Used by the code interpreter (port 49999) and
/// for any other service a template runs; send requests with any HTTP client, or through
/// the SDK's own seam (pooled, proxy-aware, traced, with connection retries) with
/// [`raw::port_request`](crate::raw::port_request):
///
/// ```no_run
/// # async fn demo(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
/// let service = sandbox.port_endpoint(8080)?;
/// println!("GET {}", service.url("/status"));
/// for (name, _) in service.headers() {
///     println!("  with {name}");
/// }
/// # Ok(()) }
/// ```
///
/// The base URL names the sandbox itself (`https://<port>-<id>.<domain>`, the OpenKruise
/// path, `http://localhost:<port>` in debug mode) or is the configured sandbox URL
/// override; the headers are the configured extra sandbox headers, `E2b-Sandbox-Id`,
/// `E2b-Sandbox-Port`, the envd access token as `X-Access-Token` (secure sandboxes) and the
/// traffic access token as `E2B-Traffic-Access-Token` (sandboxes without public traffic).
/// Token headers are marked sensitive and never printed.
#[derive(Clone)]
pub struct PortEndpoint {
    port: u16,
    base_url: String,
    headers: HeaderMap,
    http: HttpClient,
}

impl PortEndpoint {
    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The headers every request must carry (routing headers and tokens).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The seam's client for sandbox traffic and a request to `path` with the headers
    /// set; see [`raw::port_request`](crate::raw::port_request).
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
    ) -> (&HttpClient, reqwest::RequestBuilder) {
        let request = self
            .http
            .client(Target::Sandbox)
            .request(method, self.url(path))
            .headers(self.headers.clone());
        (&self.http, request)
    }
}

impl fmt::Debug for PortEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortEndpoint")
            .field("port", &self.port)
            .field("base_url", &self.base_url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// The HTTP service on `port` of this sandbox, reached like envd (see [`PortEndpoint`]).
    ///
    /// # Errors
    ///
    /// An invalid-argument error if a token or the sandbox id cannot be sent as a header.
    pub fn port_endpoint(&self, port: u16) -> Result<PortEndpoint> {
        let config = self.client().config();
        let domain = Some(self.sandbox_domain()).filter(|d| *d != config.domain());
        let route = config.routing().sandbox(self.id(), domain)?;
        let mut headers = route.headers(port, self.envd_access_token())?;
        if let Some(token) = self.traffic_access_token() {
            let mut value = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
                Error::invalid_argument("the traffic access token cannot be sent as a header")
            })?;
            value.set_sensitive(true);
            headers.insert(TRAFFIC_ACCESS_TOKEN_HEADER, value);
        }
        Ok(PortEndpoint {
            port,
            base_url: route.direct_url(port).trim_end_matches('/').to_owned(),
            headers,
            http: self.client().http().clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use e2b_core::ConnectionConfig;

    use super::*;
    use crate::Client;
    use crate::convert::SandboxCreated;

    fn sandbox(config: ConnectionConfig, domain: Option<&str>) -> Sandbox {
        Sandbox::from_created(
            &Client::new(config).unwrap(),
            SandboxCreated {
                sandbox_id: "sbx1".into(),
                template_id: "tpl".into(),
                alias: None,
                domain: domain.map(str::to_owned),
                envd_version: "0.5.7".into(),
                envd_access_token: Some("envd-token".into()),
                traffic_access_token: Some("traffic-token".into()),
            },
        )
        .unwrap()
    }

    fn builder() -> e2b_core::ConnectionConfigBuilder {
        ConnectionConfig::builder().api_key("e2b_0123456789abcdef")
    }

    #[test]
    fn per_sandbox_host_with_routing_headers_and_tokens() {
        let sbx = sandbox(builder().domain("example.com").build().unwrap(), None);
        let port = sbx.port_endpoint(49999).unwrap();
        assert_eq!(port.port(), 49999);
        assert_eq!(port.base_url(), "https://49999-sbx1.example.com");
        assert_eq!(
            port.url("/execute"),
            "https://49999-sbx1.example.com/execute"
        );
        let h = port.headers();
        assert_eq!(h["e2b-sandbox-id"], "sbx1");
        assert_eq!(h["e2b-sandbox-port"], "49999");
        assert_eq!(h["x-access-token"], "envd-token");
        assert!(h["x-access-token"].is_sensitive());
        assert_eq!(h["e2b-traffic-access-token"], "traffic-token");
        assert!(h["e2b-traffic-access-token"].is_sensitive());
        let debug = format!("{port:?}");
        assert!(!debug.contains("envd-token") && !debug.contains("traffic-token"));
    }

    #[test]
    fn sandbox_domain_override_and_debug() {
        let config = builder().domain("e2b.app").build().unwrap();
        let sbx = sandbox(config, Some("eu.e2b.app"));
        // Like upstream's code interpreter: the sandbox's own host, never the shared one.
        assert_eq!(
            sbx.port_endpoint(49999).unwrap().base_url(),
            "https://49999-sbx1.eu.e2b.app"
        );
        let sbx = sandbox(builder().debug(true).build().unwrap(), None);
        assert_eq!(
            sbx.port_endpoint(49999).unwrap().base_url(),
            "http://localhost:49999"
        );
    }

    #[test]
    fn sandbox_url_override_wins() {
        let config = builder()
            .sandbox_url("http://127.0.0.1:3000/")
            .build()
            .unwrap();
        let port = sandbox(config, None).port_endpoint(49999).unwrap();
        assert_eq!(port.base_url(), "http://127.0.0.1:3000");
        assert_eq!(port.headers()["e2b-sandbox-port"], "49999");
    }
}
