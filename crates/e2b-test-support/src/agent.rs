//! The sandbox agent alone, served in-process on `127.0.0.1:0`, with a sandbox made of
//! temp directories: `user` (uid 1000, the default) and `root` (uid 0).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use e2b_envd::connect::{CallOptions, Client, Error};
use e2b_envd::filesystem::filesystem_client::FilesystemClient;
use e2b_envd::process::process_client::ProcessClient;
use e2b_envd::process::process_event::{EndEvent, Event, data_event};
use e2b_envd::process::{ProcessEvent, ProcessSelector, process_selector};
use e2b_local::agent::{AgentConfig, UserAccount};
use futures_util::{Stream, StreamExt};
use http::{HeaderName, HeaderValue};
use tokio::task::JoinHandle;

/// Upper bound for any single wait in a test; reaching it fails the test.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A running agent; dropping it stops it and removes its sandbox.
pub struct TestAgent {
    pub base: String,
    pub addr: std::net::SocketAddr,
    /// Home of `user`.
    pub home: PathBuf,
    /// Home of `root`.
    pub root_home: PathBuf,
    pub config: AgentConfig,
    server: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A sandbox layout in a fresh temp dir, and its configuration.
pub fn sandbox() -> (tempfile::TempDir, AgentConfig, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    // uid 1000 must be able to reach its home below the temp dir.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = dir.path().join("home").join("user");
    let root_home = dir.path().join("root");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&root_home).unwrap();
    std::os::unix::fs::chown(&home, Some(1000), Some(1000)).unwrap();
    let config = AgentConfig {
        sandbox_id: "testsandbox".into(),
        env_vars: BTreeMap::from([
            ("E2B_SANDBOX".into(), "true".into()),
            ("SANDBOX_VAR".into(), "from-sandbox".into()),
        ]),
        default_user: "user".into(),
        default_workdir: String::new(),
        users: vec![
            UserAccount {
                name: "root".into(),
                uid: 0,
                gid: 0,
                home: root_home.to_string_lossy().into_owned(),
            },
            UserAccount {
                name: "user".into(),
                uid: 1000,
                gid: 1000,
                home: home.to_string_lossy().into_owned(),
            },
        ],
        envd_version: "0.6.13".into(),
        interpreter: None,
        sudo_socket: None,
        start_cmd: None,
        ready_cmd: None,
        local_fuse: false,
    };
    (dir, config, home, root_home)
}

impl TestAgent {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(edit: impl FnOnce(&mut AgentConfig)) -> Self {
        let (dir, mut config, home, root_home) = sandbox();
        edit(&mut config);
        let app = e2b_local::agent::router(config.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestAgent {
            base: format!("http://{addr}"),
            addr,
            home,
            root_home,
            config,
            server,
            _dir: dir,
        }
    }

    fn connect(&self) -> Client {
        Client::new(reqwest::Client::new(), self.base.clone())
    }

    pub fn process(&self) -> ProcessClient {
        ProcessClient::new(self.connect())
    }

    pub fn filesystem(&self) -> e2b_envd::filesystem::filesystem_client::FilesystemClient {
        FilesystemClient::new(self.connect())
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }
}

/// Call options acting as `user` (Basic auth with an empty password).
pub fn as_user(user: &str) -> CallOptions {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:"));
    CallOptions::new().header(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
    )
}

pub fn with_header(options: CallOptions, name: &'static str, value: &str) -> CallOptions {
    options.header(
        HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap(),
    )
}

pub fn pid(pid: u32) -> Option<ProcessSelector> {
    Some(ProcessSelector {
        selector: Some(process_selector::Selector::Pid(pid)),
    })
}

pub fn tag(tag: &str) -> Option<ProcessSelector> {
    Some(ProcessSelector {
        selector: Some(process_selector::Selector::Tag(tag.into())),
    })
}

/// Everything a process stream delivered.
#[derive(Debug, Default)]
pub struct Collected {
    pub pid: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub pty: Vec<u8>,
    /// Sizes of the data chunks, in order.
    pub chunks: Vec<usize>,
    pub end: Option<EndEvent>,
    /// The error that ended the stream, if any.
    pub error: Option<Error>,
}

impl Collected {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn pty_text(&self) -> String {
        String::from_utf8_lossy(&self.pty).into_owned()
    }
}

/// Take one event into `c`; the first event must be `start`.
pub fn absorb(c: &mut Collected, event: Option<ProcessEvent>) {
    let event = event.and_then(|e| e.event).expect("an event");
    match event {
        Event::Start(s) => {
            assert!(c.pid.is_none(), "a second start event");
            c.pid = Some(s.pid);
        }
        other => {
            assert!(
                c.pid.is_some(),
                "the first event must be start, got {other:?}"
            );
            match other {
                Event::Data(d) => match d.output.expect("data") {
                    data_event::Output::Stdout(b) => {
                        c.chunks.push(b.len());
                        c.stdout.extend(b)
                    }
                    data_event::Output::Stderr(b) => {
                        c.chunks.push(b.len());
                        c.stderr.extend(b)
                    }
                    data_event::Output::Pty(b) => {
                        c.chunks.push(b.len());
                        c.pty.extend(b)
                    }
                },
                Event::End(end) => {
                    assert!(c.end.is_none(), "a second end event");
                    c.end = Some(end);
                }
                Event::Keepalive(_) => {}
                Event::Start(_) => unreachable!(),
            }
        }
    }
}

/// Read a process stream to its end (bounded by [`PATIENCE`]).
pub async fn collect<S, M>(stream: S, event_of: impl Fn(M) -> Option<ProcessEvent>) -> Collected
where
    S: Stream<Item = Result<M, Error>> + Unpin,
{
    finish(stream, Collected::default(), event_of).await
}

/// Read the rest of a process stream into `c`.
pub async fn finish<S, M>(
    stream: S,
    mut c: Collected,
    event_of: impl Fn(M) -> Option<ProcessEvent>,
) -> Collected
where
    S: Stream<Item = Result<M, Error>> + Unpin,
{
    let mut stream = stream;
    let work = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(m) => {
                    absorb(&mut c, event_of(m));
                    if c.end.is_some() {
                        // After the end event the stream must end cleanly.
                        match stream.next().await {
                            None => {}
                            Some(Ok(_)) => panic!("a message after the end event"),
                            Some(Err(e)) => panic!("an error after the end event: {e}"),
                        }
                        return;
                    }
                }
                Err(e) => {
                    c.error = Some(e);
                    return;
                }
            }
        }
    };
    tokio::time::timeout(PATIENCE, work)
        .await
        .expect("the process stream did not finish in time");
    c
}

/// Read a process stream until `done(&collected)` holds.
pub async fn read_until<S, M>(
    stream: &mut S,
    c: &mut Collected,
    event_of: impl Fn(M) -> Option<ProcessEvent>,
    done: impl Fn(&Collected) -> bool,
) where
    S: Stream<Item = Result<M, Error>> + Unpin,
{
    let work = async {
        while !done(c) {
            let item = stream.next().await.expect("the stream ended early");
            absorb(c, event_of(item.expect("a stream error")));
        }
    };
    tokio::time::timeout(PATIENCE, work)
        .await
        .expect("the expected output did not arrive in time");
}

/// Whether `path` belongs to `uid`.
pub fn owned_by(path: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).unwrap().uid() == uid
}
