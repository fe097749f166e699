//! An E2B-compatible sandbox server for one Linux machine.
//!
//! It serves, on one listener, what the E2B cloud serves: the control plane
//! (`/sandboxes`, `/v2/sandboxes`, `/snapshots`, `/templates`), envd for every
//! sandbox (Connect `process.Process` and `filesystem.Filesystem`, `/files`,
//! `/health`, `/metrics`, `/envs`) reached through the `E2b-Sandbox-Id` and
//! `E2b-Sandbox-Port` headers or the `<port>-<id>.<domain>` host, and any other
//! port inside a sandbox by proxy.
//!
//! ```no_run
//! # async fn demo() -> Result<(), e2b_local::Error> {
//! let server = e2b_local::Server::start(e2b_local::ServerOptions::default()).await?;
//! println!("E2B_API_URL={}", server.api_url());
//! println!("E2B_SANDBOX_URL={}", server.sandbox_url());
//! println!("E2B_API_KEY={}", server.api_key());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Code interpreter
//!
//! With a kernel environment ([`ServerOptions::kernel_env`], built by
//! `e2b-local kernel-env install`, or `make kernel-env` in a checkout), sandboxes of the built-in template `code-interpreter-v1` also
//! serve E2B's code-interpreter API on port 49999: `POST /execute` streaming
//! NDJSON, `/contexts`, `/health`. The agent runs the Jupyter kernels inside
//! the sandbox and drives them over ZMQ: Python with rich results (`e2b/data`
//! for DataFrames, `e2b/chart` for matplotlib figures), bash, JavaScript and
//! TypeScript (tslab, with Node.js), Java (jjava, with a Java runtime) and R
//! (the host's IRkernel). A warm Python kernel is running when create returns.
//! Without a kernel environment that template is refused with the fix.
//!
//! # Warm pools
//!
//! [`ServerOptions::warm_pools`] keeps started sandboxes of chosen templates
//! ready (`e2b-local serve --warm TEMPLATE=N`; `serve` keeps one
//! `code-interpreter-v1` sandbox warm by default, the library none). Create
//! hands one out when the request asks for nothing a started sandbox
//! cannot take — volume mounts, network settings, `allow_internet_access:
//! false`, `mcp` take a cold start, as do environment variables for a
//! template with a start or ready command — after giving it the caller's
//! metadata, environment variables (seen by commands and, from their next
//! execution, by the running kernels), timeout, lifecycle and a new envd
//! access token. Until then no id finds it and no listing, metric or
//! traffic reaches it; each is handed out once, and the pool refills in the
//! background. [`Server::warm_pools`] and `GET /local/warm-pools` report the
//! pools.
//!
//! # Isolation
//!
//! Each sandbox is a bubblewrap-isolated process tree in its own user, pid,
//! ipc, uts, mount, cgroup and network namespaces, with a `user` account
//! (uid 1000) whose home is `/home/user`, its own `/tmp`, the host's `/usr`
//! and `/etc` (with per-sandbox `passwd`, `group`, `shadow`, `hosts` and
//! every host file not every host user may read hidden), a seccomp filter
//! and a hardened `/proc`. On a root server the root filesystem is
//! writable: overlays of the host's system with each sandbox's changes on
//! its own disk, and `sudo` for `user`, served by the agent
//! ([`ServerOptions::writable_root`]); elsewhere the system is read-only. Inside runs an agent — this same binary in `envd` mode — that
//! owns processes, PTYs, files and watches and talks to the server over an
//! inherited socket.
//!
//! When the server runs as root, sandbox ids are mapped to an unprivileged
//! host range: the agent is root inside with a reduced capability set that
//! is valid only in the sandbox's namespaces, and acts as `user` or `root`
//! per request. Where the host has loop devices and `mkfs.ext4`, every new
//! sandbox keeps everything it writes on an ext4 disk image of its own
//! ([`ServerOptions::sandbox_disk_limit`], 10 GiB by default, sparse), which
//! caps its disk use; its mount table names no host path. Unprivileged, a
//! user namespace maps the server's user to uid 1000 inside and every
//! process runs as `user` (requests as `root` cannot switch users), files
//! live in the data directory without a cap, and the mount table shows
//! where.
//!
//! This is a development and test backend, not a security boundary equal to
//! E2B's Firecracker microVMs: sandboxes share the host kernel.
//!
//! # Network
//!
//! Every sandbox has its own network stack. With internet access (the
//! default), its only way out is `slirp4netns`: the host's loopback, the
//! server and other sandboxes are unreachable. `allow_internet_access:
//! false`, or a `denyOut` covering all addresses with an empty `allowOut`,
//! leaves only loopback. Finer egress rules (`allowOut`/`denyOut` lists,
//! `rules`, `egressProxy`, network updates) are recorded and reported but
//! **not enforced**. Traffic into the sandbox always goes through the server
//! (the agent forwards to `127.0.0.1:<port>` inside), so
//! `allowPublicTraffic: false` is enforced with the traffic access token.
//!
//! # Lifecycle and durability
//!
//! Timeouts kill or pause on time. Pause freezes the processes (cgroup freezer
//! when the server is root and the host has one, else `SIGSTOP`), keeping
//! memory; `memory: false` stops them and keeps only files. Snapshots are
//! copies of a sandbox's files (home and `/tmp`, or its disk image, copied
//! with the filesystem frozen) usable as templates; forks copy the files of
//! a running sandbox into new sandboxes.
//!
//! Metadata is written atomically (temporary file, `fsync`, rename) under the
//! data directory. Running sandboxes end with the server: after a restart
//! with the same data directory they are gone (their files are deleted).
//! Paused sandboxes and snapshots survive: a paused sandbox comes back as a
//! files-only pause and resumes with fresh processes.

//! # Volumes
//!
//! `POST /volumes` makes a directory under the data directory with a random
//! bearer token of its own (returned by `GET /volumes/{id}`, never logged).
//! The volume content API (`/volumecontent/{id}/path|dir|file`) is served on
//! the same listener; point the SDKs at it with `E2B_VOLUME_API_URL` set to
//! the server's URL. Every path is resolved by the kernel beneath the
//! volume's root (`openat2` with `RESOLVE_IN_ROOT`), so neither `..` nor a
//! symlink a sandbox planted reaches a host path; owners are stored as the
//! host ids sandbox ids map to, so `user` (1000) and root inside see what
//! the API set. `volumeMounts` at create bind a volume's directory read-write
//! into the sandbox, live: every sandbox mounting it and the content API see
//! the same files.
//!
//! # Images
//!
//! [`image::ImageStore`] pulls OCI images from registries (anonymously or
//! with a username and password; multi-platform indexes resolved for this
//! host; a Docker Hub mirror) into content-addressed layer directories under
//! the data directory, each usable as an overlayfs `lowerdir`, and keeps each
//! image's configuration (env, working directory, user, entrypoint, command).
//! `e2b-local image pull|ls|rm` drive it from the command line.
//!
//! # Differences from E2B
//!
//! * Templates: the built-in `base` (the host's system) and snapshots; template
//!   builds are not supported.
//! * Snapshots and forks copy files only (home and `/tmp`); processes and
//!   memory are not captured. Pause with `memory: true` keeps processes
//!   frozen, but only while this server runs.
//! * Metrics are measured on request (one sample per call), not kept as a
//!   history; `GET /sandboxes/{id}/logs` is always empty (logs go to the
//!   server's stderr).
//! * `mcp` and egress `rules` are recorded and reported, not acted on; `iam`
//!   is ignored.
//! * Volume content tokens are random strings, not JWTs; deleting a volume
//!   that sandboxes mount is not refused (as at E2B) and empties their mounts.
//! * `domain` is omitted in responses, so the SDKs use `E2B_SANDBOX_URL` and
//!   `E2B_DOMAIN` (which defaults to `localhost:<port>`).
//! * `envdVersion` is `0.6.13+local` (semver and PEP 440, ≥ 0.6.13).

pub mod agent;
mod builds;
pub mod cli;
mod control;
pub mod doctor;
mod edge;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod host;
mod ids;
pub mod image;
mod interpreter;
pub mod logging;
mod options;
mod sandbox;
mod secrets;
mod store;
mod tail;
pub mod templates;
mod volumes;

pub use edge::envd_auth::ENVD_PORT;
pub use edge::server::{ENVD_VERSION, Server};
pub use edge::signature;
pub use error::Error;
pub use ids::is_valid_api_key;
pub use interpreter::{jupyter, kernel_env, kernel_env_install};
pub use options::{
    DEFAULT_CPU_COUNT, DEFAULT_DISK_MB, DEFAULT_MEMORY_MB, ServerOptions, default_cache_dir,
};
pub use sandbox::WarmPoolStatus;
