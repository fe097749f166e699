//! Building OCI images in tests: layers assembled entry by entry (tar +
//! gzip), written as an OCI image layout for `skopeo` to push
//! ([`Registry::push`](crate::registry::Registry::push)).
//!
//! [`runnable_image`] is a ready-made image that runs: the host's bash,
//! coreutils and their shared libraries, in two layers (the second with a
//! whiteout and an opaque directory), with `Env`, `WorkingDir` and `User`
//! set.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const MTIME: u64 = 1_700_000_000;

/// One layer, entry by entry, in archive order.
pub struct Layer {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer {
    /// An empty layer.
    pub fn new() -> Self {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Complete);
        Self { builder }
    }

    fn header(kind: tar::EntryType, mode: u32, uid: u64, gid: u64, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_mtime(MTIME);
        header.set_size(size);
        header
    }

    /// A directory owned by root.
    pub fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        self.dir_owned(path, mode, 0, 0)
    }

    /// A directory with an owner.
    pub fn dir_owned(&mut self, path: &str, mode: u32, uid: u64, gid: u64) -> &mut Self {
        let mut header = Self::header(tar::EntryType::Directory, mode, uid, gid, 0);
        self.builder
            .append_data(&mut header, path, std::io::empty())
            .expect("append dir");
        self
    }

    /// A regular file owned by root.
    pub fn file(&mut self, path: &str, mode: u32, content: &[u8]) -> &mut Self {
        self.file_owned(path, mode, 0, 0, content)
    }

    /// A regular file with an owner.
    pub fn file_owned(
        &mut self,
        path: &str,
        mode: u32,
        uid: u64,
        gid: u64,
        content: &[u8],
    ) -> &mut Self {
        let mut header = Self::header(
            tar::EntryType::Regular,
            mode,
            uid,
            gid,
            content.len() as u64,
        );
        self.builder
            .append_data(&mut header, path, content)
            .expect("append file");
        self
    }

    /// A symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut header = Self::header(tar::EntryType::Symlink, 0o777, 0, 0, 0);
        self.builder
            .append_link(&mut header, path, target)
            .expect("append symlink");
        self
    }

    /// A hard link to `target` (a path in the archive).
    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut header = Self::header(tar::EntryType::Link, 0o644, 0, 0, 0);
        self.builder
            .append_link(&mut header, path, target)
            .expect("append hard link");
        self
    }

    /// An OCI whiteout hiding `path` of lower layers.
    pub fn whiteout(&mut self, path: &str) -> &mut Self {
        let path = Path::new(path);
        let name = path
            .file_name()
            .expect("whiteout name")
            .to_str()
            .expect("utf-8");
        let wh = path.with_file_name(format!(".wh.{name}"));
        self.file(wh.to_str().expect("utf-8"), 0o644, b"")
    }

    /// Mark `dir` opaque: lower layers' contents of it are hidden.
    pub fn opaque(&mut self, dir: &str) -> &mut Self {
        self.file(
            &format!("{}/.wh..wh..opq", dir.trim_end_matches('/')),
            0o644,
            b"",
        )
    }

    /// A character device, block device or FIFO.
    pub fn special(&mut self, path: &str, kind: tar::EntryType) -> &mut Self {
        let mut header = Self::header(kind, 0o666, 0, 0, 0);
        header.set_device_major(1).expect("major");
        header.set_device_minor(3).expect("minor");
        self.builder
            .append_data(&mut header, path, std::io::empty())
            .expect("append special");
        self
    }

    /// An entry whose name is written as given, unchecked (`../x`,
    /// `/abs`): what a hostile archive holds.
    pub fn raw(
        &mut self,
        name: &str,
        kind: tar::EntryType,
        link: Option<&str>,
        content: &[u8],
    ) -> &mut Self {
        let mut header = Self::header(kind, 0o644, 0, 0, content.len() as u64);
        {
            let old = header.as_old_mut();
            old.name.fill(0);
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(link) = link {
                old.linkname.fill(0);
                old.linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
        }
        header.set_cksum();
        self.builder.append(&header, content).expect("append raw");
        self
    }

    /// Copy a host file (content and mode) to `path`.
    pub fn host_file(&mut self, path: &str, host: &Path) -> &mut Self {
        use std::os::unix::fs::PermissionsExt as _;
        let content =
            std::fs::read(host).unwrap_or_else(|e| panic!("read {}: {e}", host.display()));
        let mode = std::fs::metadata(host).expect("stat").permissions().mode() & 0o7777;
        self.file(path, mode, &content)
    }

    /// The uncompressed archive.
    pub fn tar(self) -> Vec<u8> {
        self.builder.into_inner().expect("finish tar")
    }
}

/// An image: layers (lowest first) and a configuration.
pub struct Image {
    /// The layers, lowest first.
    pub layers: Vec<Layer>,
    /// The `config` object of the image configuration (`Env`, `WorkingDir`, …).
    pub config: Value,
    /// OCI architecture (`amd64`, `arm64`).
    pub architecture: String,
}

impl Image {
    /// An image for this host's architecture.
    pub fn new(layers: Vec<Layer>, config: Value) -> Self {
        Self {
            layers,
            config,
            architecture: host_arch().to_owned(),
        }
    }
}

/// This host's architecture as OCI names it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A descriptor of a blob written to a layout.
#[derive(Clone, Debug)]
pub struct Descriptor {
    /// Media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

impl Descriptor {
    fn json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// An OCI image layout directory being written.
pub struct Layout {
    dir: PathBuf,
    refs: Vec<Value>,
}

impl Layout {
    /// Start a layout in `dir` (created).
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("oci-layout");
        Self {
            dir: dir.to_owned(),
            refs: Vec::new(),
        }
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Store `bytes` as a blob.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Descriptor {
        let hex = hex(&Sha256::digest(bytes));
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), bytes).expect("write blob");
        Descriptor {
            media_type: media_type.to_owned(),
            digest: format!("sha256:{hex}"),
            size: bytes.len() as u64,
        }
    }

    /// Write `image` (gzip layers, config, manifest); returns the manifest's
    /// descriptor and the layers' descriptors.
    pub fn image(&self, image: Image) -> (Descriptor, Vec<Descriptor>) {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in image.layers {
            let tar = layer.tar();
            diff_ids.push(format!("sha256:{}", hex(&Sha256::digest(&tar))));
            let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
            gz.write_all(&tar).expect("gzip");
            layers.push(self.blob(
                "application/vnd.oci.image.layer.v1.tar+gzip",
                &gz.finish().expect("gzip"),
            ));
        }
        let config = json!({
            "architecture": image.architecture,
            "os": "linux",
            "config": image.config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = self.blob(
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&config).expect("config json"),
        );
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.json(),
            "layers": layers.iter().map(Descriptor::json).collect::<Vec<_>>(),
        });
        let manifest = self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            &serde_json::to_vec(&manifest).expect("manifest json"),
        );
        (manifest, layers)
    }

    /// Write an image index of `manifests` with their platforms (`(os, arch)`).
    pub fn index(&self, manifests: &[(Descriptor, &str)]) -> Descriptor {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests.iter().map(|(d, arch)| {
                let mut entry = d.json();
                entry["platform"] = json!({"os": "linux", "architecture": arch});
                entry
            }).collect::<Vec<_>>(),
        });
        self.blob(
            "application/vnd.oci.image.index.v1+json",
            &serde_json::to_vec(&index).expect("index json"),
        )
    }

    /// Name `descriptor` (a manifest or an index) `tag` in `index.json`.
    pub fn tag(&mut self, descriptor: &Descriptor, tag: &str) -> &mut Self {
        let mut entry = descriptor.json();
        entry["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.refs.push(entry);
        let index = json!({"schemaVersion": 2, "manifests": self.refs});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).expect("json"),
        )
        .expect("index.json");
        self
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`runnable_image`] puts where, for tests to check.
pub mod runnable {
    /// Set by the image's `Env`.
    pub const IMAGE_VAR: (&str, &str) = ("IMAGE_VAR", "from-image");
    /// The image's `PATH`.
    pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin";
    /// The image's `WorkingDir` (created in the first layer, owned by `user`).
    pub const WORKDIR: &str = "/app";
    /// The image's `User`.
    pub const USER: &str = "user";
    /// A file of the first layer that the second one whites out.
    pub const WHITED_OUT: &str = "/etc/removed-by-layer2";
    /// A directory the second layer makes opaque: only [`OPAQUE_KEPT`] is left in it.
    pub const OPAQUE_DIR: &str = "/opt/stuff";
    /// The one file of [`OPAQUE_DIR`] in the merged view.
    pub const OPAQUE_KEPT: &str = "c";
    /// A file of the first layer, and a hard link to it.
    pub const HARDLINKED: (&str, &str) = ("/app/data.txt", "/app/data-link.txt");
    /// The commands the image has.
    pub const COMMANDS: [&str; 13] = [
        "bash", "sh", "ls", "cat", "id", "env", "pwd", "echo", "touch", "mkdir", "rm", "sleep",
        "true",
    ];
}

/// The runnable test image: the host's bash and coreutils ([`runnable::COMMANDS`])
/// with their shared libraries (and those of the sandbox agent) and the dynamic loader at the host's paths
/// (symbolic links such as `/bin -> usr/bin` reproduced), `/etc/passwd` and
/// `/etc/group` with `root` and `user` (1000); the second layer whites out
/// [`runnable::WHITED_OUT`] and makes [`runnable::OPAQUE_DIR`] opaque.
pub fn runnable_image() -> Image {
    let mut paths = Vec::new();
    for command in runnable::COMMANDS {
        let host = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(command))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("the host has no `{command}`"));
        paths.extend(shared_libraries(&host));
        paths.push(host);
    }
    // What the sandbox agent (the server's executable) needs to run, as a
    // glibc image has it.
    paths.extend(shared_libraries(&crate::agent_binary()));
    // Merged-/usr hosts: `/bin -> usr/bin` and friends, so `/bin/bash` works too.
    for top in ["/bin", "/sbin", "/lib", "/lib64"] {
        if std::fs::symlink_metadata(top).is_ok_and(|m| m.file_type().is_symlink()) {
            paths.push(PathBuf::from(top));
        }
    }
    let mut nodes = BTreeMap::new();
    for path in &paths {
        host_closure(path, &mut nodes, 0);
    }

    let mut base = Layer::new();
    for (path, node) in &nodes {
        let name = path
            .strip_prefix("/")
            .expect("absolute")
            .to_str()
            .expect("utf-8");
        match node {
            Node::Dir => {
                base.dir(name, 0o755);
            }
            Node::Symlink(target) => {
                base.symlink(name, target.to_str().expect("utf-8"));
            }
            Node::File => {
                base.host_file(name, path);
            }
        }
    }
    base.dir("etc", 0o755)
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000:user:/home/user:/bin/bash\n",
        )
        .file("etc/group", 0o644, b"root:x:0:\nuser:x:1000:\n")
        .file("etc/removed-by-layer2", 0o644, b"layer 1\n")
        .dir("tmp", 0o1777)
        .dir("root", 0o700)
        .dir("home", 0o755)
        .dir_owned("home/user", 0o755, 1000, 1000)
        .dir_owned("app", 0o755, 1000, 1000)
        .file_owned("app/data.txt", 0o644, 1000, 1000, b"data\n")
        .hardlink("app/data-link.txt", "app/data.txt")
        .dir("opt", 0o755)
        .dir("opt/stuff", 0o755)
        .file("opt/stuff/a", 0o644, b"a\n")
        .file("opt/stuff/b", 0o644, b"b\n");

    let mut top = Layer::new();
    top.dir("etc", 0o755)
        .whiteout("etc/removed-by-layer2")
        .dir("opt", 0o755)
        .dir("opt/stuff", 0o755)
        .opaque("opt/stuff")
        .file("opt/stuff/c", 0o644, b"c\n")
        .file_owned("app/hello.txt", 0o644, 1000, 1000, b"hello from layer 2\n");

    Image::new(
        vec![base, top],
        json!({
            "Env": [format!("PATH={}", runnable::PATH), format!("{}={}", runnable::IMAGE_VAR.0, runnable::IMAGE_VAR.1)],
            "WorkingDir": runnable::WORKDIR,
            "User": runnable::USER,
            "Cmd": ["/bin/bash"],
        }),
    )
}

/// The libraries and loader `ldd` names for `binary`.
fn shared_libraries(binary: &Path) -> Vec<PathBuf> {
    let output = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .expect("run ldd");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

enum Node {
    Dir,
    Symlink(PathBuf),
    File,
}

/// Record `path` and every directory and symbolic link on the way to it
/// (following links, as the host resolves them).
fn host_closure(path: &Path, nodes: &mut BTreeMap<PathBuf, Node>, depth: usize) {
    assert!(
        depth < 40,
        "too many symbolic links resolving {}",
        path.display()
    );
    let parts: Vec<_> = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let mut current = PathBuf::from("/");
    for (i, part) in parts.iter().enumerate() {
        let next = current.join(part);
        let meta =
            std::fs::symlink_metadata(&next).unwrap_or_else(|e| panic!("{}: {e}", next.display()));
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&next).expect("read_link");
            nodes.insert(next.clone(), Node::Symlink(target.clone()));
            let mut resolved = if target.is_absolute() {
                target
            } else {
                current.join(target)
            };
            for rest in &parts[i + 1..] {
                resolved.push(rest);
            }
            host_closure(&lexical(&resolved), nodes, depth + 1);
            return;
        }
        nodes
            .entry(next.clone())
            .or_insert(if meta.is_dir() { Node::Dir } else { Node::File });
        current = next;
    }
}

/// `path` with `.` and `..` removed lexically.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            _ => {}
        }
    }
    out
}
