//! A real OCI registry on loopback (Debian's `docker-registry`, distribution
//! v2) and pushing OCI layouts into it with `skopeo`.
//!
//! `make deps` (scripts/install-isolation.sh) installs both.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `docker-registry` serving on `127.0.0.1:<random port>` from a temporary
/// storage directory; killed on drop.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    credentials: Option<(String, String)>,
}

impl Registry {
    /// An anonymous registry.
    pub fn start() -> Self {
        Self::spawn(None)
    }

    /// A registry that requires HTTP basic authentication (htpasswd, bcrypt).
    pub fn start_with_auth(username: &str, password: &str) -> Self {
        Self::spawn(Some((username.to_owned(), password.to_owned())))
    }

    fn spawn(credentials: Option<(String, String)>) -> Self {
        let binary = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect(
                "docker-registry is not installed: run `make deps` (scripts/install-isolation.sh)",
            );
        let dir = tempfile::Builder::new()
            .prefix("e2b-registry-")
            .tempdir()
            .expect("registry temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let auth = match &credentials {
            Some((user, password)) => {
                let hash = bcrypt::hash(password, 4).expect("bcrypt");
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: e2b-test\n    path: {}\n",
                    htpasswd.display()
                )
            }
            None => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: e2b-test-secret\n{auth}",
            storage = dir.path().join("storage").display(),
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut registry = Self {
            child,
            dir,
            addr,
            credentials,
        };
        registry.wait_ready(Duration::from_secs(20));
        registry
    }

    /// Poll `GET /v2/` until it answers (200, or 401 with auth).
    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll docker-registry") {
                panic!("docker-registry exited ({status}): {}", self.log());
            }
            if let Some(code) = http_status(self.addr, "/v2/")
                && (code == 200 || code == 401)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer /v2/ within {timeout:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The registry's log (its access log included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// How many blob downloads (`GET …/blobs/sha256:…`) the registry has served.
    pub fn blob_gets(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains("/blobs/sha256:"))
            .count()
    }

    /// Where the registry stores the blob `digest` (`sha256:<hex>`), to
    /// corrupt it in tests.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Write `image` as an OCI layout and push it as `<this registry>/<name>:<tag>`;
    /// the layout's directory lives as long as the result.
    pub fn push_image(&self, image: crate::oci::Image, name: &str, tag: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut layout = crate::oci::Layout::new(dir.path());
        let (manifest, _) = layout.image(image);
        layout.tag(&manifest, tag);
        self.push(dir.path(), tag, name);
        dir
    }

    /// Push the image (or index) tagged `tag` in the OCI layout `layout` to
    /// `<this registry>/<name>:<tag>` with skopeo (every platform of an index).
    pub fn push(&self, layout: &Path, tag: &str, name: &str) {
        let mut command = Command::new("skopeo");
        command
            .args([
                "--insecure-policy",
                "copy",
                "--all",
                "--dest-tls-verify=false",
            ])
            .arg("--quiet");
        if let Some((user, password)) = &self.credentials {
            command.arg(format!("--dest-creds={user}:{password}"));
        }
        let output = command
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{name}:{tag}", self.host()))
            .output()
            .expect("run skopeo (install it with `make deps`)");
        assert!(
            output.status.success(),
            "skopeo copy failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of `GET path` on `addr`, or `None` when it does not answer.
fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
