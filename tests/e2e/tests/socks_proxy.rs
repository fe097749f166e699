//! A `socks5://` proxy is really spoken to as SOCKS5: every request of a
//! sandbox's life goes through Debian's dante server on loopback.

use std::process::Stdio;
use std::time::{Duration, Instant};

use e2b_sandbox::{Client, Sandbox};
use e2b_test_support::sdk::Local;

/// A dante SOCKS5 server on a free loopback port, logging every connection.
struct Dante {
    child: tokio::process::Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Dante {
    async fn start() -> Dante {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("danted.log");
        let config = dir.path().join("danted.conf");
        std::fs::write(
            &config,
            format!(
                "logoutput: {log}\n\
                 internal: 127.0.0.1 port = {port}\n\
                 external: 127.0.0.1\n\
                 clientmethod: none\n\
                 socksmethod: none\n\
                 user.privileged: root\n\
                 user.unprivileged: nobody\n\
                 client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 log: connect }}\n\
                 socks pass {{ from: 127.0.0.0/8 to: 127.0.0.0/8 log: connect }}\n",
                log = log.display()
            ),
        )
        .unwrap();
        let child = tokio::process::Command::new("danted")
            .arg("-f")
            .arg(&config)
            .arg("-p")
            .arg(dir.path().join("danted.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("danted is installed (make deps)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "danted did not start listening");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Dante {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    /// How many SOCKS connections it has passed on.
    fn passed(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("socks pass") || l.contains("pass(1): tcp/connect"))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socks5_proxy_carries_every_request() {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !is_root {
        // dante's configuration here switches to `nobody`, which needs root.
        return;
    }
    let local = Local::start().await;
    let mut dante = Dante::start().await;
    for scheme in ["socks5", "socks5h"] {
        let before = dante.passed();
        let client = Client::new(
            e2b_test_support::sdk::config(&local.server)
                .proxy(format!("{scheme}://127.0.0.1:{}", dante.port))
                .build()
                .unwrap(),
        )
        .unwrap();
        let sbx = Sandbox::builder()
            .timeout(Duration::from_secs(60))
            .create(&client)
            .await
            .unwrap_or_else(|e| panic!("create through {scheme}: {e}"));
        let out = sbx.commands().run("echo through-socks").await.unwrap();
        assert_eq!(out.stdout, "through-socks\n");
        sbx.kill().await.unwrap();
        assert!(
            dante.passed() > before,
            "{scheme}: the proxy saw no connection"
        );
    }
    let _ = dante.child.kill().await;
    local.stop().await;
}
