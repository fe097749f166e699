//! E2B persistent volumes from Rust: directories that outlive sandboxes, mounted into any
//! number of them and read and written from anywhere through the volume content API.
//!
//! ```no_run
//! use e2b_sandbox::{Client, Sandbox};
//! use e2b_volume::{ListDirOptions, Volume, WriteOptions};
//!
//! #[tokio::main]
//! async fn main() -> e2b_volume::Result<()> {
//!     let client = Client::from_env()?;
//!     let volume = Volume::create(&client, "datasets").await?;
//!
//!     // Files from the host, through the content API.
//!     volume
//!         .write_with("/raw/input.csv", "a,b\n1,2\n", WriteOptions::new().force(true))
//!         .await?;
//!     for entry in volume.list_dir_with("/", ListDirOptions::new().depth(2)).await? {
//!         println!("{} {:?} {} bytes", entry.path, entry.file_type, entry.size);
//!     }
//!
//!     // The same files inside a sandbox, live.
//!     let sandbox = Sandbox::builder()
//!         .volume_mount("/mnt/datasets", &volume)
//!         .create(&client)
//!         .await?;
//!     sandbox
//!         .commands()
//!         .run("sort /mnt/datasets/raw/input.csv > /mnt/datasets/sorted.csv")
//!         .await?;
//!     println!("{}", volume.read_text("/sorted.csv").await?);
//!
//!     sandbox.kill().await?;
//!     Volume::destroy(&client, volume.id()).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Operations
//!
//! | Upstream (JS / Python) | Here |
//! |---|---|
//! | `Volume.create(name)` | [`Volume::create`] |
//! | `Volume.connect(id)` | [`Volume::connect`] |
//! | `Volume.getInfo(id)` / `get_info` | [`Volume::get_info`] |
//! | `Volume.list()` | [`Volume::list`] |
//! | `Volume.destroy(id)` | [`Volume::destroy`] |
//! | `vol.list(path, {depth})` | [`Volume::list_dir`], [`Volume::list_dir_with`] |
//! | `vol.makeDir(path, {uid, gid, mode, force})` | [`Volume::make_dir`], [`Volume::make_dir_with`] |
//! | `vol.getInfo(path)` | [`Volume::info`] |
//! | `vol.exists(path)` | [`Volume::exists`] |
//! | `vol.updateMetadata(path, {uid, gid, mode})` | [`Volume::update_metadata`] |
//! | `vol.readFile(path, {format})` | [`Volume::read_bytes`], [`Volume::read_text`], [`Volume::read_stream`] |
//! | `vol.writeFile(path, data, opts)` | [`Volume::write`], [`Volume::write_stream`], [`Volume::write_reader`] |
//! | `vol.remove(path)` | [`Volume::remove`] |
//!
//! Streams go both ways in constant memory: a download is an [`e2b_sandbox::ByteStream`]
//! (a `Stream` of chunks and an `AsyncRead`) whose chunks must each arrive within an idle
//! timeout; an upload takes any `Stream` of chunks or `AsyncRead`.
//!
//! Owners (`uid`, `gid`) are the ids sandboxes see: `user` is 1000, `root` 0. Modes are
//! permission bits (`0o640`). Without them the server picks its defaults (E2B: owner
//! 9090, directories `0o777`, files `0o666`).
//!
//! # Errors
//!
//! [`Error`] is `e2b_core`'s, with predicates: [`Error::is_volume_not_found`],
//! [`Error::is_volume_path_not_found`], [`Error::is_authentication`] (a refused token),
//! [`Error::is_conflict`] (an existing path), [`Error::is_invalid_argument`],
//! [`Error::is_timeout`].

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

// The crate README's Rust code, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod content;
mod types;
mod volume;

pub use e2b_core::{Error, ErrorKind, NotFoundKind, Result, SecretString, TimeoutKind};
pub use e2b_sandbox::{ByteStream, Client};
pub use types::{
    DEFAULT_FILE_TIMEOUT, DEFAULT_STREAM_IDLE_TIMEOUT, ListDirOptions, MakeDirOptions, Metadata,
    ReadOptions, VolumeAndToken, VolumeEntry, VolumeFileType, VolumeInfo, WriteOptions,
};
pub use volume::Volume;
