//! Accounts and groups of the sandbox, read from its own `/etc/passwd` and
//! `/etc/group` (packages and `useradd` add to them).

use std::fs;

/// One line of `/etc/passwd`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) name: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) home: String,
    pub(crate) shell: String,
}

/// The account named `spec` (a name, or `#uid`), from `passwd` text.
pub(crate) fn find_user(passwd: &str, spec: &str) -> Option<Account> {
    let by_id = spec.strip_prefix('#').and_then(|n| n.parse::<u32>().ok());
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        let account = Account {
            name: f[0].to_owned(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5].to_owned(),
            shell: f[6].to_owned(),
        };
        let matches = match by_id {
            Some(uid) => account.uid == uid,
            None => account.name == spec,
        };
        matches.then_some(account)
    })
}

/// The id of the group named `spec` (a name, or `#gid`), from `group` text.
pub(crate) fn find_group(group: &str, spec: &str) -> Option<u32> {
    if let Some(id) = spec.strip_prefix('#') {
        return id.parse().ok();
    }
    group.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[0] == spec)
            .then(|| f[2].parse().ok())
            .flatten()
    })
}

/// Whether `name` (primary group `gid`) is in group `group` in `group_text`.
pub(crate) fn in_group(group_text: &str, group: &str, name: &str, gid: u32) -> bool {
    group_text.lines().any(|line| {
        let f: Vec<&str> = line.split(':').collect();
        f.len() >= 4
            && f[0] == group
            && (f[2].parse() == Ok(gid) || f[3].split(',').any(|m| m == name))
    })
}

/// The sandbox's `/etc/passwd` and `/etc/group`.
pub(crate) fn read() -> (String, String) {
    (
        fs::read_to_string("/etc/passwd").unwrap_or_default(),
        fs::read_to_string("/etc/group").unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\nbroken\n";
    const GROUP: &str = "root:x:0:\nsudo:x:27:user,ops\nuser:x:1000:\n";

    #[test]
    fn users_by_name_and_id() {
        assert_eq!(find_user(PASSWD, "user").unwrap().home, "/home/user");
        assert_eq!(find_user(PASSWD, "#0").unwrap().name, "root");
        assert!(find_user(PASSWD, "nobody").is_none());
        assert!(find_user(PASSWD, "broken").is_none());
    }

    #[test]
    fn groups_and_membership() {
        assert_eq!(find_group(GROUP, "sudo"), Some(27));
        assert_eq!(find_group(GROUP, "#5"), Some(5));
        assert!(in_group(GROUP, "sudo", "ops", 100));
        assert!(in_group(GROUP, "sudo", "x", 27));
        assert!(!in_group(GROUP, "sudo", "root", 0));
    }
}
