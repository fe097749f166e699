//! Which part of the server a request is for: the control plane, or a port of a sandbox.
//!
//! Sandbox traffic is recognised, as at E2B's edge, by a host of the form
//! `<port>-<sandboxID>.<anything>` or, on any other host (`localhost`, an IP,
//! `sandbox.<domain>`: what the SDKs use with `E2B_SANDBOX_URL` or E2B's shared
//! sandbox host), by the `E2b-Sandbox-Id` and `E2b-Sandbox-Port` headers. A
//! `<port>-<sandboxID>` host wins over the headers, which the SDKs send
//! everywhere. Everything else is the control plane.

use http::HeaderMap;

/// Header naming the sandbox.
pub(crate) const SANDBOX_ID_HEADER: &str = "e2b-sandbox-id";
/// Header naming the port inside the sandbox.
pub(crate) const SANDBOX_PORT_HEADER: &str = "e2b-sandbox-port";

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The REST control plane.
    ControlPlane,
    /// A port inside a sandbox.
    Sandbox {
        /// The sandbox id (validated `^[a-z0-9]+$`).
        id: String,
        /// The port inside the sandbox.
        port: u16,
    },
}

/// A request that names a sandbox badly (answered with 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RoutingError {
    /// Only one of the two routing headers was sent.
    #[error("Missing header: {0}")]
    MissingHeader(&'static str),
    /// The port is not a number in 1..=65535.
    #[error("Invalid sandbox port '{0}'")]
    InvalidPort(String),
    /// The sandbox id has characters outside `[a-z0-9]`.
    #[error("Invalid sandbox ID '{0}'")]
    InvalidSandboxId(String),
}

/// Classify a request by its headers and `Host`.
pub(crate) fn classify(headers: &HeaderMap, host: Option<&str>) -> Result<Target, RoutingError> {
    if let Some((port, id)) = host.and_then(parse_sandbox_host) {
        return sandbox_target(id, port);
    }
    let id = header_str(headers, SANDBOX_ID_HEADER);
    let port = header_str(headers, SANDBOX_PORT_HEADER);
    match (id, port) {
        (Some(id), Some(port)) => sandbox_target(id, port),
        (Some(_), None) => Err(RoutingError::MissingHeader("E2b-Sandbox-Port")),
        (None, Some(_)) => Err(RoutingError::MissingHeader("E2b-Sandbox-Id")),
        (None, None) => Ok(Target::ControlPlane),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap_or("\u{fffd}").trim())
        .filter(|v| !v.is_empty())
}

fn sandbox_target(id: &str, port: &str) -> Result<Target, RoutingError> {
    let port: u16 = match port.parse() {
        Ok(p) if p > 0 => p,
        _ => return Err(RoutingError::InvalidPort(port.to_owned())),
    };
    if !crate::ids::is_valid_id(id) {
        return Err(RoutingError::InvalidSandboxId(id.to_owned()));
    }
    Ok(Target::Sandbox {
        id: id.to_owned(),
        port,
    })
}

/// `<port>-<id>.<anything>[:<listen port>]` → `(port, id)`; anything else → `None`.
fn parse_sandbox_host(host: &str) -> Option<(&str, &str)> {
    let (label, _) = host.split_once('.')?;
    let mut parts = label.split('-');
    let port = parts.next()?;
    let id = parts.next()?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
        return None;
    }
    Some((port, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn both_headers_route_to_the_sandbox() {
        let h = headers(&[("E2b-Sandbox-Id", "iabc123"), ("E2b-Sandbox-Port", "49983")]);
        assert_eq!(
            classify(&h, Some("127.0.0.1:3000")),
            Ok(Target::Sandbox {
                id: "iabc123".into(),
                port: 49983
            })
        );
    }

    #[test]
    fn one_header_is_a_bad_request() {
        let h = headers(&[("E2b-Sandbox-Id", "iabc")]);
        assert_eq!(
            classify(&h, None),
            Err(RoutingError::MissingHeader("E2b-Sandbox-Port"))
        );
        assert_eq!(
            classify(&h, None).unwrap_err().to_string(),
            "Missing header: E2b-Sandbox-Port"
        );
        let h = headers(&[("E2b-Sandbox-Port", "49983")]);
        assert_eq!(
            classify(&h, None),
            Err(RoutingError::MissingHeader("E2b-Sandbox-Id"))
        );
    }

    #[test]
    fn bad_ports_and_ids_are_refused() {
        let h = headers(&[("E2b-Sandbox-Id", "iabc"), ("E2b-Sandbox-Port", "http")]);
        assert!(matches!(
            classify(&h, None),
            Err(RoutingError::InvalidPort(_))
        ));
        let h = headers(&[("E2b-Sandbox-Id", "iabc"), ("E2b-Sandbox-Port", "70000")]);
        assert!(matches!(
            classify(&h, None),
            Err(RoutingError::InvalidPort(_))
        ));
        let h = headers(&[("E2b-Sandbox-Id", "../etc"), ("E2b-Sandbox-Port", "1")]);
        assert!(matches!(
            classify(&h, None),
            Err(RoutingError::InvalidSandboxId(_))
        ));
    }

    #[test]
    fn host_form_routes_to_the_sandbox() {
        let h = HeaderMap::new();
        assert_eq!(
            classify(&h, Some("8000-iabc.localhost:3000")),
            Ok(Target::Sandbox {
                id: "iabc".into(),
                port: 8000
            })
        );
        assert_eq!(
            classify(&h, Some("49983-iabc.e2b.local")),
            Ok(Target::Sandbox {
                id: "iabc".into(),
                port: 49983
            })
        );
    }

    #[test]
    fn a_sandbox_host_wins_over_the_headers() {
        // As at E2B's edge, which reads the headers only on hosts that name no sandbox.
        let h = headers(&[("E2b-Sandbox-Id", "iother"), ("E2b-Sandbox-Port", "8000")]);
        assert_eq!(
            classify(&h, Some("49983-iabc.e2b.test")),
            Ok(Target::Sandbox {
                id: "iabc".into(),
                port: 49983
            })
        );
        let lone = headers(&[("E2b-Sandbox-Id", "iother")]);
        assert!(classify(&lone, Some("49983-iabc.e2b.test")).is_ok());
        // On the shared host the headers decide.
        assert_eq!(
            classify(&h, Some("sandbox.e2b.test")),
            Ok(Target::Sandbox {
                id: "iother".into(),
                port: 8000
            })
        );
    }

    #[test]
    fn other_hosts_are_the_control_plane() {
        let h = HeaderMap::new();
        for host in [
            "127.0.0.1:3000",
            "localhost:3000",
            "api.localhost",
            "[::1]:3000",
            "my-host.example",
            "x-1.y",
        ] {
            assert_eq!(classify(&h, Some(host)), Ok(Target::ControlPlane), "{host}");
        }
        assert_eq!(classify(&h, None), Ok(Target::ControlPlane));
    }
}
