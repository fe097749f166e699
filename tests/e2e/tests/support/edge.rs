//! An HTTPS edge in front of e2b-local, for the routing modes that need TLS and DNS:
//! the control plane at `https://api.<domain>`, E2B's shared sandbox host
//! `https://sandbox.<domain>` and per-sandbox hosts `https://<port>-<id>.<domain>`.
//!
//! - A CA and a certificate for `*.<domain>` are issued when the edge starts; clients trust
//!   the CA through [`ConnectionConfigBuilder::root_certificates_pem`](e2b_sandbox::ConnectionConfigBuilder::root_certificates_pem).
//! - Names are never resolved: clients use the edge's HTTP CONNECT proxy (the SDK's explicit
//!   proxy setting), which tunnels every connection, whatever host it names, to the TLS
//!   front, as a corporate proxy in front of a real deployment would. The front runs in the
//!   proxy's task: after `200 Connection Established` the tunnel's socket is handed to the
//!   TLS acceptor, so each request can be tied to the CONNECT target it came through.
//! - The front terminates TLS and forwards each request as plain HTTP/1.1 to e2b-local with
//!   the `Host` header and everything else untouched; e2b-local routes by host or headers.
//!
//! Every request the front forwards is recorded with the tunnel's CONNECT target, the SNI of
//! its TLS handshake and its `Host`, so tests can check where the traffic really went.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::PrivateKeyDer;

/// One request seen by the TLS front.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The target of the CONNECT tunnel the request came through (`host:port`).
    pub tunnel: String,
    /// The server name the client asked for in its TLS handshake.
    pub sni: Option<String>,
    /// The request's `Host` header.
    pub host: Option<String>,
    /// The request's `E2b-Sandbox-Id` header.
    pub sandbox_id: Option<String>,
    /// The request's `E2b-Sandbox-Port` header.
    pub sandbox_port: Option<String>,
    /// The request's `User-Agent` header.
    pub user_agent: Option<String>,
    /// Method and path, e.g. `POST /process.Process/Start`.
    pub request: String,
}

/// What the edge saw: forwarded requests, and tunnels that never carried one (a client that
/// refused the certificate, for example).
#[derive(Debug, Default)]
struct Log {
    requests: Vec<Seen>,
    tunnels: Vec<String>,
}

/// The CONNECT proxy and TLS front; stops when dropped.
pub struct Edge {
    domain: String,
    ca_pem: String,
    proxy: SocketAddr,
    log: Arc<Mutex<Log>>,
    task: JoinHandle<()>,
}

impl Edge {
    /// Start an edge for `domain` that forwards to `upstream` (e2b-local's address).
    pub async fn start(domain: &str, upstream: SocketAddr) -> Edge {
        let (ca_pem, acceptor) = issue_certificates(domain);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let proxy = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let task = tokio::spawn({
            let log = Arc::clone(&log);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let (acceptor, log) = (acceptor.clone(), Arc::clone(&log));
                    tokio::spawn(tunnel(client, acceptor, upstream, log));
                }
            }
        });
        Edge {
            domain: domain.to_owned(),
            ca_pem,
            proxy,
            log,
            task,
        }
    }

    /// The domain the certificate is for.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The test CA's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The proxy URL to give clients.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy)
    }

    /// A plain HTTP client (not the SDK's) that reaches the edge the same way: through the
    /// proxy, trusting the test CA.
    pub fn plain_client(&self, user_agent: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .user_agent(user_agent)
            .proxy(reqwest::Proxy::all(self.proxy_url()).unwrap())
            .tls_certs_merge(reqwest::Certificate::from_pem_bundle(self.ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap()
    }

    /// The requests forwarded so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().requests.clone()
    }

    /// The CONNECT targets of every tunnel opened so far.
    pub fn tunnels(&self) -> Vec<String> {
        self.log.lock().unwrap().tunnels.clone()
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A CA, and a TLS acceptor presenting a certificate for `domain` and `*.domain` it issued.
fn issue_certificates(domain: &str) -> (String, TlsAcceptor) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "e2b-rs test edge CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec![domain.to_owned(), format!("*.{domain}")]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    // No ALPN: the front speaks HTTP/1.1, like e2b-local behind it.
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    (ca_pem, TlsAcceptor::from(Arc::new(config)))
}

/// Serve one proxy client: `CONNECT host:port`, then TLS and HTTP inside the tunnel.
async fn tunnel(
    mut client: TcpStream,
    acceptor: TlsAcceptor,
    upstream: SocketAddr,
    log: Arc<Mutex<Log>>,
) {
    // The client sends nothing after its request head until it has the answer.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
        // Only tunnels are served: plain-HTTP proxying would bypass TLS.
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let target = target.to_owned();
    log.lock().unwrap().tunnels.push(target.clone());
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let Ok(tls) = acceptor.accept(client).await else {
        return;
    };
    let sni = tls.get_ref().1.server_name().map(str::to_owned);
    let service = service_fn(move |req: Request<Incoming>| {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        log.lock().unwrap().requests.push(Seen {
            tunnel: target.clone(),
            sni: sni.clone(),
            host: header("host"),
            sandbox_id: header("e2b-sandbox-id"),
            sandbox_port: header("e2b-sandbox-port"),
            user_agent: header("user-agent"),
            request: format!("{} {}", req.method(), req.uri().path()),
        });
        forward(req, upstream)
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// Send one request, unchanged and streaming both ways, over a fresh connection to e2b-local.
async fn forward(
    req: Request<Incoming>,
    upstream: SocketAddr,
) -> Result<Response<Incoming>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender.send_request(req).await?)
}
