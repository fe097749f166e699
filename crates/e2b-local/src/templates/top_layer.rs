//! A template's own layer above its image: the accounts E2B's sandboxes
//! have, `/home/user` and the agent's `sudo`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::sandbox::layout::{self, HOME_IN_SANDBOX, USER_ID};

/// The image's `/etc/passwd` and `/etc/group` (empty when it has none).
#[derive(Debug, Default)]
pub(crate) struct Accounts {
    passwd: String,
    group: String,
}

impl Accounts {
    /// Read the files from the topmost layer that has them (a whiteout
    /// means the image removed them). `layers` is topmost first.
    pub(crate) fn of_layers(layers: &[PathBuf]) -> Self {
        let read = |rel: &str| -> String {
            for layer in layers {
                let path = layer.join(rel);
                match fs::symlink_metadata(&path) {
                    Ok(m) if m.file_type().is_char_device() => return String::new(),
                    Ok(m) if m.is_file() => return fs::read_to_string(&path).unwrap_or_default(),
                    _ => {}
                }
            }
            String::new()
        };
        Self {
            passwd: read("etc/passwd"),
            group: read("etc/group"),
        }
    }

    /// The default user for the image's `User` (`name`, `uid` or
    /// `name:group`): `root`, `user`, or another account of the image with
    /// its `(uid, gid, home)`. Unknown accounts fall back to `user`.
    pub(crate) fn default_user(
        &self,
        image_user: Option<&str>,
    ) -> (String, Option<(u32, u32, String)>) {
        let spec = image_user.unwrap_or("").split(':').next().unwrap_or("");
        match spec {
            "" | "root" | "0" => return ("root".to_owned(), None),
            "user" => return ("user".to_owned(), None),
            _ => {}
        }
        let by_id = spec.parse::<u32>().ok();
        for line in self.passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 {
                continue;
            }
            let (Ok(uid), Ok(gid)) = (f[2].parse::<u32>(), f[3].parse::<u32>()) else {
                continue;
            };
            if f[0] == spec || by_id == Some(uid) {
                return match uid {
                    0 => ("root".to_owned(), None),
                    USER_ID => ("user".to_owned(), None),
                    _ => (f[0].to_owned(), Some((uid, gid, f[5].to_owned()))),
                };
            }
        }
        ("user".to_owned(), None)
    }

    /// `passwd` with `root` and `user` (uid 1000) present.
    fn passwd_with_user(&self) -> String {
        let mut out = String::new();
        let has = |name: &str| {
            self.passwd
                .lines()
                .any(|l| l.split(':').next() == Some(name))
        };
        if !has("root") {
            out.push_str("root:x:0:0:root:/root:/bin/sh\n");
        }
        for line in self.passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            // Another account holding uid 1000 gives it up to `user`.
            if f.get(2) == Some(&"1000") && f[0] != "user" {
                continue;
            }
            writeln!(out, "{line}").ok();
        }
        if !has("user") {
            writeln!(
                out,
                "user:x:{USER_ID}:{USER_ID}::{HOME_IN_SANDBOX}:/bin/bash"
            )
            .ok();
        }
        out
    }

    /// `group` with `root`, `user` and `sudo` (with `user` in it).
    fn group_with_user(&self) -> String {
        let mut out = String::new();
        let mut has_sudo = false;
        let has = |name: &str| {
            self.group
                .lines()
                .any(|l| l.split(':').next() == Some(name))
        };
        if !has("root") {
            out.push_str("root:x:0:\n");
        }
        for line in self.group.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.first() == Some(&"sudo") && f.len() >= 4 {
                has_sudo = true;
                let members = if f[3].is_empty() {
                    "user".to_owned()
                } else if f[3].split(',').any(|m| m == "user") {
                    f[3].to_owned()
                } else {
                    format!("{},user", f[3])
                };
                writeln!(out, "sudo:{}:{}:{members}", f[1], f[2]).ok();
            } else {
                writeln!(out, "{line}").ok();
            }
        }
        if !has_sudo {
            out.push_str("sudo:x:27:user\n");
        }
        if !has("user") {
            writeln!(out, "user:x:{USER_ID}:").ok();
        }
        out
    }
}

/// Make the layer at `dir` (as root: owners are the sandbox's ids, the
/// layer is idmapped like the image's).
pub(crate) fn build(dir: &Path, accounts: &Accounts) -> io::Result<()> {
    let can_chown = rustix::process::geteuid().is_root();
    // Owners an unprivileged server cannot set now (see
    // `crate::image::OWNERS_FILE`), beside the layer.
    let unset = std::cell::RefCell::new(Vec::new());
    let make_dir = |rel: &str, mode: u32, owner: u32| -> io::Result<()> {
        let path = dir.join(rel);
        fs::create_dir_all(&path)?;
        if can_chown {
            std::os::unix::fs::chown(&path, Some(owner), Some(owner))?;
        } else if owner != 0 {
            unset
                .borrow_mut()
                .push((owner, owner, std::path::PathBuf::from(rel)));
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
    };
    make_dir("", 0o755, 0)?;
    for (rel, mode) in [
        ("etc", 0o755),
        ("home", 0o755),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("run", 0o755),
        ("tmp", 0o1777),
    ] {
        make_dir(rel, mode, 0)?;
    }
    make_dir("home/user", 0o755, USER_ID)?;
    if !can_chown && let Some(parent) = dir.parent() {
        fs::write(
            parent.join(crate::image::OWNERS_FILE),
            crate::image::owners_list(&unset.borrow()),
        )?;
    }
    let write = |rel: &str, content: &str| -> io::Result<()> {
        let path = dir.join(rel);
        fs::write(&path, content)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))
    };
    write("etc/passwd", &accounts.passwd_with_user())?;
    write("etc/group", &accounts.group_with_user())?;
    write("etc/hosts", &layout::etc_file("hosts"))?;
    write("etc/hostname", &layout::etc_file("hostname"))?;
    std::os::unix::fs::symlink(layout::AGENT_IN_SANDBOX, dir.join("usr/bin/sudo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(passwd: &str, group: &str) -> Accounts {
        Accounts {
            passwd: passwd.to_owned(),
            group: group.to_owned(),
        }
    }

    #[test]
    fn user_is_added_and_made_a_sudoer() {
        let a = accounts(
            "root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/sh\n",
            "root:x:0:\nsudo:x:27:\nnode:x:1000:\n",
        );
        let passwd = a.passwd_with_user();
        assert!(!passwd.contains("node:x:1000"), "{passwd}");
        assert!(
            passwd.ends_with("user:x:1000:1000::/home/user:/bin/bash\n"),
            "{passwd}"
        );
        assert!(a.group_with_user().contains("sudo:x:27:user\n"));
    }

    #[test]
    fn the_images_user_becomes_the_default() {
        let a = accounts(
            "root:x:0:0:root:/root:/bin/bash\napp:x:1500:1600::/srv/app:/bin/sh\n",
            "",
        );
        assert_eq!(a.default_user(None).0, "root");
        assert_eq!(a.default_user(Some("user")).0, "user");
        assert_eq!(
            a.default_user(Some("1500:1600")),
            ("app".to_owned(), Some((1500, 1600, "/srv/app".to_owned())))
        );
        assert_eq!(a.default_user(Some("ghost")).0, "user");
    }
}
