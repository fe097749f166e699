//! The SDK's one HTTP seam, [`HttpClient`]; re-exported by [`raw`](crate::raw).

mod clients;
mod retry;
mod trace;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument as _;

pub use clients::{API_KEY_HEADER, SDK_VERSION, sdk_metadata_headers, user_agent};
pub(crate) use trace::request_id;

use crate::config::ConnectionConfig;
use crate::error::{Error, Result, TimeoutKind};

/// Which of the two clients sends a request; see [`HttpClient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// The control plane: credentials and SDK metadata headers.
    ControlPlane,
    /// A sandbox (envd, the code interpreter, other ports) or a presigned URL: no
    /// credentials.
    Sandbox,
}

/// The SDK's one HTTP seam: every request of every crate goes through it. Cheap to clone
/// (clones share the pools).
///
/// It holds two `reqwest` clients built with the same transport settings
/// (rustls, connection pooling tuned like the official SDKs, `TCP_NODELAY`, connect
/// timeout, proxy, the system's trusted roots plus any
/// [extra ones](crate::ConnectionConfigBuilder::root_certificates_pem), user agent
/// `e2b-rust-sdk/<version>`, redirects only within one origin), one per [`Target`]:
///
/// - [`Target::ControlPlane`]: its default headers carry the credentials (`X-API-KEY`,
///   `Authorization: Bearer` for an access token, both marked sensitive), the SDK metadata
///   headers the official SDKs send (`lang`, `lang_version`, `package_version`,
///   `publisher`, `sdk_runtime`, `system`) and the configured extra API headers.
/// - [`Target::Sandbox`]: envd, the code interpreter, presigned URLs. No credentials: the
///   sandbox runs untrusted code and must never see the API key; callers add
///   [`SandboxRoute::headers`](crate::SandboxRoute::headers).
///
/// Two clients rather than one with per-request headers, because default headers are
/// applied by the client that sends a request: a request sent to the wrong target loses
/// the credentials (fails closed) rather than leaking them.
///
/// Every request, whether built by hand, by a generated REST client (through
/// [`api_transport`](HttpClient::api_transport)) or by the Connect runtime (through
/// [`envd_transport`](HttpClient::envd_transport)), is sent by
/// [`execute`](HttpClient::execute), which
///
/// - runs it in a `tracing` span named `e2b.http` (operation id, method, host, path,
///   status, the request id of the response, retries, duration; no header, query or
///   body is recorded);
/// - retries it when that cannot repeat a side effect
///   ([`connection_retries`](crate::ConnectionConfigBuilder::connection_retries), default
///   3, with a backoff of 100 ms doubling up to 2 s): a connection that could not be
///   established (nothing was sent; but not a TLS refusal such as an untrusted
///   certificate, which would fail the same way again), or a `GET`/`HEAD`/`OPTIONS` whose
///   connection broke before the response arrived. Requests whose body is a stream cannot be replayed and
///   are sent once; timeouts and error statuses are never retried.
///
/// [`send`](HttpClient::send) adds the deadline and maps failures into [`Error`];
/// [`call`](HttpClient::call) does the same for a whole generated-client operation.
///
/// Part of [`raw`](crate::raw): it exposes `reqwest` and `progenitor` types and follows
/// their versions rather than this crate's semver.
#[derive(Clone)]
pub struct HttpClient(Arc<Inner>);

struct Inner {
    api: reqwest::Client,
    sandbox: reqwest::Client,
    retries: u32,
    request_timeout: Option<Duration>,
}

impl HttpClient {
    /// Build the clients for a configuration.
    ///
    /// # Errors
    ///
    /// A configuration error if a credential is not a valid header value or the proxy
    /// cannot be used, a transport error if the TLS backend cannot be initialised.
    pub fn new(config: &ConnectionConfig) -> Result<Self> {
        let api = clients::base_builder(config)?
            .default_headers(clients::api_headers(config)?)
            .build()
            .map_err(|e| clients::build_error("control-plane", e))?;
        let sandbox = clients::base_builder(config)?
            .build()
            .map_err(|e| clients::build_error("sandbox", e))?;
        tracing::debug!(
            user_agent = user_agent(),
            proxy = ?clients::proxy_summary(config),
            extra_root_certificates = config.root_certificate_count(),
            request_timeout = ?config.request_timeout(),
            connect_timeout = ?config.connect_timeout(),
            connection_retries = config.connection_retries(),
            pool_idle_timeout = ?config.pool_idle_timeout(),
            pool_max_idle_per_host = config.pool_max_idle_per_host(),
            "built e2b http clients"
        );
        Ok(HttpClient(Arc::new(Inner {
            api,
            sandbox,
            retries: config.connection_retries(),
            request_timeout: config.request_timeout(),
        })))
    }

    /// The client that builds (and sends) requests to `target`.
    pub fn client(&self, target: Target) -> &reqwest::Client {
        match target {
            Target::ControlPlane => &self.0.api,
            Target::Sandbox => &self.0.sandbox,
        }
    }

    /// The configured request timeout (default 60 s), the deadline callers pass to
    /// [`send`](Self::send) unless they have another; `None` means none. The clients
    /// themselves carry no timeout, so that a caller can wait longer.
    pub fn request_timeout(&self) -> Option<Duration> {
        self.0.request_timeout
    }

    /// How many times a failed connection is retried.
    pub fn connection_retries(&self) -> u32 {
        self.0.retries
    }

    /// Send `request` (built with [`client(target)`](Self::client)) in its span, with
    /// connection retries; returns the response whatever its status. `operation` names
    /// the request in the span (an operation id, an RPC path, `files.read`, …).
    ///
    /// # Errors
    ///
    /// reqwest's error of the last attempt.
    pub fn execute(
        &self,
        target: Target,
        request: reqwest::Request,
        operation: &str,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + use<> {
        // The span is made now, so the future owns everything it needs.
        let span = trace::span(operation, &request);
        let this = self.clone();
        let attempts = async move {
            let started = Instant::now();
            let (result, retries) = this.attempts(target, request).await;
            trace::record_response(
                &tracing::Span::current(),
                &result,
                retries,
                started.elapsed(),
            );
            result
        };
        attempts.instrument(span)
    }

    /// Send until an attempt succeeds, fails for good, or the retries are spent; returns
    /// the last result and how many retries were made.
    async fn attempts(
        &self,
        target: Target,
        mut request: reqwest::Request,
    ) -> (reqwest::Result<reqwest::Response>, u32) {
        let client = self.client(target);
        let mut retries = 0;
        loop {
            let spare = if retries < self.0.retries {
                request.try_clone()
            } else {
                None
            };
            let method = request.method().clone();
            let error = match client.execute(request).await {
                Ok(response) => return (Ok(response), retries),
                Err(error) => error,
            };
            let (Some(next), Some(reason)) = (spare, retry::reason(&method, &error)) else {
                return (Err(error), retries);
            };
            retries += 1;
            let wait = retry::backoff(retries);
            tracing::debug!(%error, ?reason, retry = retries, ?wait, "retrying");
            tokio::time::sleep(wait).await;
            request = next;
        }
    }

    /// [`execute`](Self::execute) with a deadline on the wait for the response head, and
    /// failures mapped into [`Error`]. The response is returned whatever its status;
    /// check it with [`raw::check_response`](crate::raw::check_response).
    ///
    /// # Errors
    ///
    /// A [`TimeoutKind::Request`] timeout when `deadline` passes first (retries included);
    /// otherwise the mapped transport error.
    pub async fn send(
        &self,
        target: Target,
        request: reqwest::Request,
        operation: &str,
        deadline: Option<Duration>,
    ) -> Result<reqwest::Response> {
        let sent = self.execute(target, request, operation);
        let result = match deadline {
            None => sent.await,
            Some(limit) => match tokio::time::timeout(limit, sent).await {
                Ok(result) => result,
                Err(_) => {
                    return Err(Error::timeout(
                        TimeoutKind::Request,
                        format!("{operation} did not answer within {limit:?}"),
                    ));
                }
            },
        };
        result.map_err(crate::raw::error_from_reqwest)
    }

    /// Run one operation of a generated REST client (which sends through
    /// [`api_transport`](Self::api_transport)) under `deadline`, which bounds the whole
    /// operation, body included; map its error.
    ///
    /// # Errors
    ///
    /// A [`TimeoutKind::Request`] timeout naming `operation` when the deadline passes;
    /// otherwise the operation's error, mapped by
    /// [`raw::error_from_api`](crate::raw::error_from_api).
    pub async fn call<T, E: serde::Serialize>(
        &self,
        operation: &str,
        deadline: Option<Duration>,
        call: impl Future<
            Output = std::result::Result<
                progenitor_client::ResponseValue<T>,
                progenitor_client::Error<E>,
            >,
        >,
    ) -> Result<progenitor_client::ResponseValue<T>> {
        let mapped = async {
            match call.await {
                Ok(value) => Ok(value),
                Err(error) => Err(crate::raw::error_from_api(error).await),
            }
        };
        match deadline {
            None => mapped.await,
            Some(limit) => tokio::time::timeout(limit, mapped)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::timeout(
                        TimeoutKind::Request,
                        format!("{operation} did not complete within {limit:?}"),
                    ))
                }),
        }
    }

    /// The transport generated REST clients send through: [`execute`](Self::execute)
    /// with [`Target::ControlPlane`].
    pub fn api_transport(&self) -> e2b_api::Transport {
        e2b_api::Transport::new(Seam {
            http: self.clone(),
            target: Target::ControlPlane,
        })
    }

    /// The transport Connect clients of envd send through: [`execute`](Self::execute)
    /// with [`Target::Sandbox`].
    pub fn envd_transport(&self) -> Arc<dyn e2b_envd::connect::Execute> {
        Arc::new(Seam {
            http: self.clone(),
            target: Target::Sandbox,
        })
    }

    /// The control-plane REST client at `base_url`, authenticated and sending through
    /// this seam.
    pub fn control_client(&self, base_url: &str) -> e2b_api::control::Client {
        e2b_api::control::Client::new_with_client(
            base_url,
            self.0.api.clone(),
            self.api_transport(),
        )
    }

    /// The volume content REST client at `base_url`, sending through this seam. Volume
    /// content requests carry a volume token, added by the caller.
    pub fn volume_content_client(&self, base_url: &str) -> e2b_api::volume_content::Client {
        e2b_api::volume_content::Client::new_with_client(
            base_url,
            self.0.sandbox.clone(),
            e2b_api::Transport::new(Seam {
                http: self.clone(),
                target: Target::Sandbox,
            }),
        )
    }

    /// A Connect client for the envd at `base_url`, sending through this seam (add the
    /// routing headers with `with_headers`).
    pub fn connect_client(&self, base_url: impl Into<String>) -> e2b_envd::connect::Client {
        e2b_envd::connect::Client::new(self.0.sandbox.clone(), base_url)
            .with_transport(self.envd_transport())
    }
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The clients' own `Debug` would show default headers (marked sensitive, but
        // still): show the settings only.
        f.debug_struct("HttpClient")
            .field("connection_retries", &self.0.retries)
            .field("request_timeout", &self.0.request_timeout)
            .finish_non_exhaustive()
    }
}

/// [`HttpClient::execute`] for one target, as the generated crates' transports.
struct Seam {
    http: HttpClient,
    target: Target,
}

impl e2b_api::Execute for Seam {
    fn execute(&self, request: reqwest::Request, operation_id: &str) -> e2b_api::ExecFuture {
        Box::pin(self.http.execute(self.target, request, operation_id))
    }
}

impl e2b_envd::connect::Execute for Seam {
    fn execute(&self, request: reqwest::Request, procedure: &str) -> e2b_envd::connect::ExecFuture {
        Box::pin(self.http.execute(self.target, request, procedure))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::secret::SecretString;

    const KEY: &str = "e2b_0123456789abcdef";
    const NO_CONTENT: &str = "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";

    fn config(url: &str) -> ConnectionConfig {
        ConnectionConfig::builder()
            .api_key(KEY)
            .api_url(url)
            .sandbox_url(url)
            .build()
            .unwrap()
    }

    /// A `GET` of `url` built by `target`'s client.
    fn get(http: &HttpClient, target: Target, url: &str) -> reqwest::Request {
        http.client(target).get(url).build().unwrap()
    }

    /// Read one request (head and, when it has a `content-length`, its body); returns the
    /// head, or `None` if the peer closed first.
    async fn read_request(stream: &mut TcpStream) -> Option<String> {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while data.len() < head_end + length {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        Some(head)
    }

    /// What a [`flaky_server`] saw.
    #[derive(Default)]
    struct Seen {
        connections: AtomicUsize,
        requests: AtomicUsize,
    }

    /// A server whose first `drop_first` connections are closed after the whole request
    /// was read and before any answer; every later connection answers 204. The request
    /// reached the server each time: only a safe method may be sent again.
    async fn flaky_server(drop_first: usize) -> (String, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Seen::default());
        let counts = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let n = counts.connections.fetch_add(1, Ordering::SeqCst);
                let counts = Arc::clone(&counts);
                tokio::spawn(async move {
                    if read_request(&mut stream).await.is_none() {
                        return;
                    }
                    counts.requests.fetch_add(1, Ordering::SeqCst);
                    if n >= drop_first {
                        let _ = stream.write_all(NO_CONTENT.as_bytes()).await;
                    }
                    // Otherwise dropped: the connection closes unanswered.
                });
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn a_get_whose_connection_broke_is_sent_again() {
        let (url, seen) = flaky_server(2).await;
        let http = HttpClient::new(&config(&url)).unwrap();
        let request = get(&http, Target::Sandbox, &format!("{url}/health"));
        let response = http
            .send(Target::Sandbox, request, "health", None)
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 3);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_post_that_was_sent_is_never_sent_again() {
        let (url, seen) = flaky_server(1).await;
        let http = HttpClient::new(&config(&url)).unwrap();
        let post = || {
            http.client(Target::ControlPlane)
                .post(format!("{url}/sandboxes"))
                .body("{}")
                .build()
                .unwrap()
        };
        let err = http
            .send(Target::ControlPlane, post(), "post_sandboxes", None)
            .await
            .unwrap_err();
        assert!(err.is_transport(), "{err}");
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
        // The server is fine otherwise: the next POST is answered, once.
        let response = http
            .send(Target::ControlPlane, post(), "post_sandboxes", None)
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn retries_follow_the_configured_count() {
        let (url, seen) = flaky_server(2).await;
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .api_url(&url)
            .connection_retries(1)
            .build()
            .unwrap();
        let http = HttpClient::new(&config).unwrap();
        assert_eq!(http.connection_retries(), 1);
        let request = get(&http, Target::ControlPlane, &format!("{url}/v2/sandboxes"));
        let err = http
            .send(Target::ControlPlane, request, "get_v2_sandboxes", None)
            .await
            .unwrap_err();
        assert!(err.is_transport(), "{err}");
        assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
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

    /// An HTTPS server on `https://localhost:<port>` whose first `refuse_first`
    /// connections are closed before the TLS handshake (the client cannot establish
    /// them: not a byte of a request is sent); later ones answer every request with
    /// `answer`. Handshakes that fail on the client's side (an untrusted certificate)
    /// just end the connection.
    async fn https_server(
        acceptor: tokio_rustls::TlsAcceptor,
        refuse_first: usize,
        answer: &'static str,
    ) -> (String, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Seen::default());
        let counts = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let n = counts.connections.fetch_add(1, Ordering::SeqCst);
                if n < refuse_first {
                    drop(tcp);
                    continue;
                }
                let acceptor = acceptor.clone();
                let counts = Arc::clone(&counts);
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut data = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&buf[..n]),
                        }
                    }
                    counts.requests.fetch_add(1, Ordering::SeqCst);
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (format!("https://localhost:{port}"), seen)
    }

    #[tokio::test]
    async fn connections_that_could_not_be_established_are_retried_for_any_request() {
        let (ca_pem, acceptor) = test_ca();
        let (url, seen) = https_server(acceptor, 2, NO_CONTENT).await;
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .api_url(&url)
            .root_certificates_pem(&ca_pem)
            .build()
            .unwrap();
        let http = HttpClient::new(&config).unwrap();
        // A POST through the generated control-plane client: it rides the seam.
        let api = http.control_client(config.api_url());
        let call = api
            .post_sandboxes_sandbox_id_timeout()
            .sandbox_id("sbx1")
            .body(e2b_api::control::types::SandboxTimeoutRequest { timeout: 30 })
            .send();
        http.call("post_sandboxes_sandbox_id_timeout", None, call)
            .await
            .unwrap();
        assert_eq!(seen.connections.load(Ordering::SeqCst), 3);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 1);

        // Without retries the first refusal is the answer.
        let (url, seen) = https_server(test_ca().1, 1, NO_CONTENT).await;
        let config = config
            .to_builder()
            .api_url(&url)
            .connection_retries(0)
            .build()
            .unwrap();
        let http = HttpClient::new(&config).unwrap();
        let request = http
            .client(Target::ControlPlane)
            .delete(format!("{url}/sandboxes/sbx1"))
            .build()
            .unwrap();
        let err = http
            .send(
                Target::ControlPlane,
                request,
                "delete_sandboxes_sandbox_id",
                None,
            )
            .await
            .unwrap_err();
        assert!(err.is_transport(), "{err}");
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn envd_rpcs_ride_the_seam() {
        let (ca_pem, acceptor) = test_ca();
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                      content-length: 2\r\nconnection: close\r\n\r\n{}";
        let (url, seen) = https_server(acceptor, 1, answer).await;
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .sandbox_url(&url)
            .root_certificates_pem(&ca_pem)
            .build()
            .unwrap();
        let http = HttpClient::new(&config).unwrap();
        let process = e2b_envd::process::process_client::ProcessClient::new(
            http.connect_client(url.as_str()),
        );
        let listed = process
            .list(
                e2b_envd::process::ListRequest::default(),
                e2b_envd::connect::CallOptions::new(),
            )
            .await
            .unwrap();
        assert!(listed.processes.is_empty());
        // The first connection was refused before a byte was sent: the unary RPC (a POST)
        // was retried, and reached the server once.
        assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn extra_root_certificates_are_trusted_by_both_clients() {
        let (ca_pem, acceptor) = test_ca();
        let (url, seen) = https_server(acceptor, 0, NO_CONTENT).await;
        let config = |roots: Option<&str>| {
            let mut b = ConnectionConfig::builder().api_key(KEY).api_url(&url);
            if let Some(pem) = roots {
                b = b.root_certificates_pem(pem);
            }
            b.build().unwrap()
        };
        let health = |http: &HttpClient, target| {
            http.execute(
                target,
                get(http, target, &format!("{url}/health")),
                "health",
            )
        };

        // Without the CA the certificate is not trusted by either client; an untrusted
        // certificate is not a connection to try again.
        let untrusting = HttpClient::new(&config(None)).unwrap();
        assert_eq!(untrusting.connection_retries(), 3);
        for (n, target) in [Target::ControlPlane, Target::Sandbox]
            .into_iter()
            .enumerate()
        {
            let err = health(&untrusting, target).await.unwrap_err();
            assert!(err.is_connect(), "{err:?}");
            assert_eq!(seen.connections.load(Ordering::SeqCst), n + 1);
        }

        let trusting_config = config(Some(&ca_pem));
        assert_eq!(trusting_config.root_certificate_count(), 1);
        let trusting = HttpClient::new(&trusting_config).unwrap();
        for target in [Target::ControlPlane, Target::Sandbox] {
            assert_eq!(health(&trusting, target).await.unwrap().status(), 204);
        }
        // A derived configuration keeps the roots.
        let derived = trusting_config.to_builder().build().unwrap();
        assert_eq!(derived.root_certificate_count(), 1);
        let derived = HttpClient::new(&derived).unwrap();
        assert_eq!(
            health(&derived, Target::Sandbox).await.unwrap().status(),
            204
        );
    }

    /// A server answering one request with `answer`; returns the request head it got.
    async fn one_shot(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let head = read_request(&mut stream).await.unwrap();
            stream.write_all(answer.as_bytes()).await.unwrap();
            head
        });
        (url, handle)
    }

    #[tokio::test]
    async fn control_plane_requests_carry_key_metadata_and_user_agent() {
        let (url, server) = one_shot(NO_CONTENT).await;
        let config = config(&url);
        let http = HttpClient::new(&config).unwrap();
        let api = http.control_client(config.api_url());
        let call = api.delete_sandboxes_sandbox_id().sandbox_id("abc").send();
        http.call("delete_sandboxes_sandbox_id", None, call)
            .await
            .unwrap();
        let head = server.await.unwrap();
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
    async fn sandbox_requests_carry_no_credentials() {
        let (url, server) = one_shot(NO_CONTENT).await;
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .access_token("tok")
            .sandbox_url(&url)
            .build()
            .unwrap();
        let http = HttpClient::new(&config).unwrap();
        let route = config.routing().sandbox("sbx1", None).unwrap();
        let token = SecretString::from("envd-token");
        let request = http
            .client(Target::Sandbox)
            .get(format!("{}/health", route.envd_url()))
            .headers(route.headers(crate::ENVD_PORT, Some(&token)).unwrap())
            .build()
            .unwrap();
        let response = http
            .send(Target::Sandbox, request, "health", None)
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        let head = server.await.unwrap();
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
    async fn a_request_built_for_the_control_plane_but_sent_to_a_sandbox_loses_the_key() {
        let (url, server) = one_shot(NO_CONTENT).await;
        let http = HttpClient::new(&config(&url)).unwrap();
        let request = get(&http, Target::ControlPlane, &format!("{url}/x"));
        http.send(Target::Sandbox, request, "x", None)
            .await
            .unwrap();
        let head = server.await.unwrap();
        assert!(!head.contains("x-api-key"), "{head}");
    }

    #[tokio::test]
    async fn cross_origin_redirects_are_not_followed() {
        let (url, server) = one_shot(
            "HTTP/1.1 302 Found\r\nlocation: http://elsewhere.invalid/steal\r\n\
             content-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let http = HttpClient::new(&config(&url)).unwrap();
        let request = get(&http, Target::ControlPlane, &format!("{url}/x"));
        let response = http
            .send(Target::ControlPlane, request, "x", None)
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn the_deadline_bounds_the_wait_and_clients_carry_none() {
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .api_url(&url)
            .request_timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let http = HttpClient::new(&config).unwrap();
        assert_eq!(http.request_timeout(), Some(Duration::from_millis(100)));
        let request = || get(&http, Target::ControlPlane, &url);
        let err = http
            .send(
                Target::ControlPlane,
                request(),
                "slow",
                http.request_timeout(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.timeout_kind(), Some(TimeoutKind::Request), "{err}");
        assert!(err.to_string().contains("slow"), "{err}");
        // The client itself has no timeout: without a deadline the request still waits.
        let waiting = http.send(Target::ControlPlane, request(), "slow", None);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), waiting)
                .await
                .is_err()
        );
    }

    /// The fields recorded on every `e2b.http` span, by a layer installed for one test.
    mod capture {
        use std::collections::BTreeMap;
        use std::sync::{Arc, Mutex};

        use tracing::field::{Field, Visit};
        use tracing::span::{Attributes, Id, Record};
        use tracing_subscriber::layer::{Context, Layer};

        type Fields = BTreeMap<String, String>;

        #[derive(Clone, Default)]
        pub(super) struct Spans(Arc<Mutex<BTreeMap<u64, Fields>>>);

        impl Spans {
            pub(super) fn all(&self) -> Vec<Fields> {
                self.0.lock().unwrap().values().cloned().collect()
            }
        }

        struct Collect<'a>(&'a mut Fields);

        impl Visit for Collect<'_> {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                self.0.insert(
                    field.name().to_owned(),
                    format!("{value:?}").replace('"', ""),
                );
            }
        }

        impl<S: tracing::Subscriber> Layer<S> for Spans {
            fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
                if attrs.metadata().name() == "e2b.http" {
                    let mut fields = Fields::new();
                    attrs.record(&mut Collect(&mut fields));
                    self.0.lock().unwrap().insert(id.into_u64(), fields);
                }
            }

            fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
                if let Some(fields) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
                    values.record(&mut Collect(fields));
                }
            }
        }
    }

    #[tokio::test]
    async fn every_request_has_a_span_with_operation_status_and_request_id() {
        use tracing_subscriber::layer::SubscriberExt as _;

        let spans = capture::Spans::default();
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
        let (url, server) =
            one_shot("HTTP/1.1 204 No Content\r\nx-request-id: req-7\r\nconnection: close\r\n\r\n")
                .await;
        let config = config(&url);
        let http = HttpClient::new(&config).unwrap();
        let api = http.control_client(config.api_url());
        // Tests on other threads may have registered the span's callsite while no
        // subscriber wanted it, racing the registration of this one: ask every callsite
        // again, now that it is in place.
        tracing::callsite::rebuild_interest_cache();
        let call = api.delete_sandboxes_sandbox_id().sandbox_id("abc").send();
        http.call("killing the sandbox", None, call).await.unwrap();
        server.await.unwrap();

        let all = spans.all();
        assert_eq!(all.len(), 1, "{all:?}");
        let span = &all[0];
        assert_eq!(span["operation"], "delete_sandboxes_sandbox_id");
        assert_eq!(span["http.request.method"], "DELETE");
        assert_eq!(span["url.path"], "/sandboxes/abc");
        assert_eq!(span["server.address"], "127.0.0.1");
        assert_eq!(span["http.response.status_code"], "204");
        assert_eq!(span["http.request_id"], "req-7");
        assert!(span.contains_key("duration_ms"));
        assert!(!span.contains_key("retries"), "no retry was made");
        let shown = format!("{all:?}");
        assert!(!shown.contains(KEY), "{shown}");
    }

    #[test]
    fn debug_does_not_leak_the_key() {
        let config = ConnectionConfig::builder()
            .api_key(KEY)
            .access_token("sk_super_secret")
            .build()
            .unwrap();
        let out = format!("{:?}", HttpClient::new(&config).unwrap());
        assert!(!out.contains(KEY), "{out}");
        assert!(!out.contains("sk_super_secret"), "{out}");
    }
}
