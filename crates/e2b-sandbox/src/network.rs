//! Sandbox networking: egress rules, per-host request transforms, a SOCKS5 egress proxy and
//! public access to sandbox URLs.

use std::collections::BTreeMap;
use std::fmt;

use e2b_core::{ExposeSecret, SecretString};

/// The CIDR block covering all IPv4 traffic; `deny_out([ALL_TRAFFIC])` blocks all egress.
pub const ALL_TRAFFIC: &str = "0.0.0.0/0";

/// Headers injected into outbound requests to one host.
///
/// `Debug` shows the header names only: values are often credentials.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct NetworkTransform {
    /// Headers to set on matching requests (replacing headers of the same name). Values may
    /// contain workload-token placeholders from [`iam_token_placeholder`](crate::iam_token_placeholder).
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for NetworkTransform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkTransform")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl NetworkTransform {
    /// A transform with no headers.
    pub fn new() -> Self {
        NetworkTransform::default()
    }

    /// Set a header on matching requests.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }
}

/// A rule applied to outbound HTTP(S) requests to one host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct NetworkRule {
    /// How matching requests are changed.
    pub transform: Option<NetworkTransform>,
}

impl NetworkRule {
    /// A rule with no transform.
    pub fn new() -> Self {
        NetworkRule::default()
    }

    /// A rule injecting headers.
    pub fn transform(transform: NetworkTransform) -> Self {
        NetworkRule {
            transform: Some(transform),
        }
    }
}

/// A SOCKS5 proxy through which the sandbox's outbound TCP is tunneled.
///
/// Egress fails closed: when the proxy is unreachable, connections fail rather than going
/// out directly. UDP (DNS, QUIC) is not tunneled. The password is a secret and is never
/// printed.
#[derive(Clone)]
#[non_exhaustive]
pub struct EgressProxy {
    /// `host:port` of the proxy.
    pub address: String,
    /// The SOCKS5 username (up to 255 bytes).
    pub username: Option<String>,
    /// The SOCKS5 password (up to 255 bytes; only with a username).
    pub password: Option<SecretString>,
}

impl EgressProxy {
    /// A proxy at `host:port` taking no credentials.
    pub fn new(address: impl Into<String>) -> Self {
        EgressProxy {
            address: address.into(),
            username: None,
            password: None,
        }
    }

    /// Authenticate with a username and password.
    #[must_use]
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self.password = Some(SecretString::from(password.into()));
        self
    }
}

impl PartialEq for EgressProxy {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address
            && self.username == other.username
            && self.password.as_ref().map(ExposeSecret::expose_secret)
                == other.password.as_ref().map(ExposeSecret::expose_secret)
    }
}

impl fmt::Debug for EgressProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressProxy")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// The network configuration of a new sandbox.
///
/// ```
/// use e2b_sandbox::{NetworkConfig, NetworkRule, NetworkTransform, ALL_TRAFFIC};
///
/// // Deny everything but one API, and add a header to requests to it.
/// let network = NetworkConfig::new()
///     .deny_out([ALL_TRAFFIC])
///     .allow_out(["api.example.com"])
///     .rule(
///         "api.example.com",
///         NetworkRule::transform(NetworkTransform::new().header("X-Team", "42")),
///     );
/// # let _ = network;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
#[must_use]
pub struct NetworkConfig {
    /// Addresses (CIDR blocks, IPs or host names) the sandbox may reach even if denied.
    pub allow_out: Option<Vec<String>>,
    /// Addresses the sandbox may not reach.
    pub deny_out: Option<Vec<String>>,
    /// Per-host rules for outbound HTTP(S) requests. A host listed here is not allowed by
    /// that alone; it must also pass `allow_out`/`deny_out`.
    pub rules: BTreeMap<String, Vec<NetworkRule>>,
    /// Tunnel outbound TCP through a SOCKS5 proxy.
    pub egress_proxy: Option<EgressProxy>,
    /// Whether sandbox URLs are reachable without the traffic access token (default true).
    pub allow_public_traffic: Option<bool>,
    /// A host mask for requests to the sandbox, with `${PORT}` for the port.
    pub mask_request_host: Option<String>,
}

impl NetworkConfig {
    /// No rules: all egress allowed, public traffic allowed.
    pub fn new() -> Self {
        NetworkConfig::default()
    }

    /// Set the allowed addresses.
    pub fn allow_out<I, S>(mut self, addresses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_out = Some(addresses.into_iter().map(Into::into).collect());
        self
    }

    /// Set the denied addresses.
    pub fn deny_out<I, S>(mut self, addresses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.deny_out = Some(addresses.into_iter().map(Into::into).collect());
        self
    }

    /// Add a rule for a host.
    pub fn rule(mut self, host: impl Into<String>, rule: NetworkRule) -> Self {
        self.rules.entry(host.into()).or_default().push(rule);
        self
    }

    /// Tunnel outbound TCP through a SOCKS5 proxy.
    pub fn egress_proxy(mut self, proxy: EgressProxy) -> Self {
        self.egress_proxy = Some(proxy);
        self
    }

    /// Set whether sandbox URLs are public; when not, requests need the sandbox's
    /// [traffic access token](crate::Sandbox::traffic_access_token).
    pub fn allow_public_traffic(mut self, allow: bool) -> Self {
        self.allow_public_traffic = Some(allow);
        self
    }

    /// Set the host mask (`${PORT}` stands for the port).
    pub fn mask_request_host(mut self, mask: impl Into<String>) -> Self {
        self.mask_request_host = Some(mask.into());
        self
    }
}

/// A replacement of a running sandbox's egress configuration, for
/// [`Sandbox::update_network`](crate::Sandbox::update_network).
///
/// The update replaces the whole configuration: whatever is left out is cleared, including
/// the egress proxy.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
#[must_use]
pub struct NetworkUpdate {
    /// Addresses the sandbox may reach even if denied.
    pub allow_out: Vec<String>,
    /// Addresses the sandbox may not reach.
    pub deny_out: Vec<String>,
    /// Per-host rules for outbound HTTP(S) requests.
    pub rules: BTreeMap<String, Vec<NetworkRule>>,
    /// Tunnel outbound TCP through a SOCKS5 proxy.
    pub egress_proxy: Option<EgressProxy>,
    /// Allow (`true`) or block (`false`, like denying [`ALL_TRAFFIC`]) internet access.
    pub allow_internet_access: Option<bool>,
}

impl NetworkUpdate {
    /// An update that clears every rule.
    pub fn new() -> Self {
        NetworkUpdate::default()
    }

    /// Set the allowed addresses.
    pub fn allow_out<I, S>(mut self, addresses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_out = addresses.into_iter().map(Into::into).collect();
        self
    }

    /// Set the denied addresses.
    pub fn deny_out<I, S>(mut self, addresses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.deny_out = addresses.into_iter().map(Into::into).collect();
        self
    }

    /// Add a rule for a host.
    pub fn rule(mut self, host: impl Into<String>, rule: NetworkRule) -> Self {
        self.rules.entry(host.into()).or_default().push(rule);
        self
    }

    /// Tunnel outbound TCP through a SOCKS5 proxy.
    pub fn egress_proxy(mut self, proxy: EgressProxy) -> Self {
        self.egress_proxy = Some(proxy);
        self
    }

    /// Allow or block internet access.
    pub fn allow_internet_access(mut self, allow: bool) -> Self {
        self.allow_internet_access = Some(allow);
        self
    }
}

/// The egress proxy as the control plane reports it (never with the password).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EgressProxyInfo {
    /// `host:port` of the proxy.
    pub address: String,
    /// The SOCKS5 username, if any.
    pub username: Option<String>,
}

/// A sandbox's network configuration, as [`Sandbox::info`](crate::Sandbox::info) reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkInfo {
    /// Allowed addresses.
    pub allow_out: Vec<String>,
    /// Denied addresses.
    pub deny_out: Vec<String>,
    /// Per-host rules.
    pub rules: BTreeMap<String, Vec<NetworkRule>>,
    /// The egress proxy, if outbound TCP is tunneled.
    pub egress_proxy: Option<EgressProxyInfo>,
    /// Whether sandbox URLs are public.
    pub allow_public_traffic: bool,
    /// The host mask, if any.
    pub mask_request_host: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_password_is_never_printed() {
        let p = EgressProxy::new("proxy:1080").credentials("u", "hunter2-secret");
        let s = format!("{p:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("[REDACTED]"));
        let n = NetworkConfig::new().egress_proxy(p.clone());
        assert!(!format!("{n:?}").contains("hunter2"));
        assert_eq!(p, p.clone());
        assert_ne!(p, EgressProxy::new("proxy:1080"));
    }

    #[test]
    fn builders_accumulate_rules() {
        let n = NetworkConfig::new()
            .rule("a.com", NetworkRule::new())
            .rule(
                "a.com",
                NetworkRule::transform(NetworkTransform::new().header("k", "v")),
            )
            .deny_out([ALL_TRAFFIC])
            .allow_out(vec!["1.1.1.1".to_owned()]);
        assert_eq!(n.rules["a.com"].len(), 2);
        assert_eq!(n.deny_out.as_deref(), Some(&["0.0.0.0/0".to_owned()][..]));
        assert_eq!(n.allow_out.unwrap(), ["1.1.1.1"]);
    }
}
