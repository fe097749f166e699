//! The sandbox's accounts: who a request acts as, and whether the agent can
//! act as them.
//!
//! Connect requests name their user with `Authorization: Basic
//! base64("<user>:")` (the password is ignored); `/files` requests with the
//! `username` query parameter. A request naming no user acts as the default
//! user.

use base64::Engine;
use e2b_envd::connect::Code;
use http::HeaderMap;

use super::UserAccount;
use crate::agent::rpc_error::RpcError;

/// The account table of one sandbox.
#[derive(Debug)]
pub(crate) struct Users {
    accounts: Vec<UserAccount>,
    /// Index of the default user in `accounts` (checked at construction).
    default_index: usize,
    /// The effective uid of the agent itself.
    agent_uid: u32,
}

/// The accounts in the configuration do not make a usable table.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The default user is not one of the accounts.
    #[error("the default user `{0}` is not among the configured users")]
    UnknownDefaultUser(String),
    /// An account's home directory is not an absolute path.
    #[error("the home directory `{home}` of user `{user}` is not absolute")]
    RelativeHome {
        /// The account.
        user: String,
        /// Its home directory.
        home: String,
    },
}

/// Why the agent cannot start a process as a user.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CannotSwitchUser {
    pub(crate) user: String,
    pub(crate) uid: u32,
    pub(crate) agent_uid: u32,
}

impl std::fmt::Display for CannotSwitchUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot act as user '{}' (uid {}): the agent runs unprivileged as uid {}",
            self.user, self.uid, self.agent_uid
        )
    }
}

impl Users {
    /// A table over `accounts`, checked for consistency.
    pub(crate) fn new(
        accounts: Vec<UserAccount>,
        default_user: String,
        agent_uid: u32,
    ) -> Result<Self, ConfigError> {
        if let Some(a) = accounts.iter().find(|a| !a.home.starts_with('/')) {
            return Err(ConfigError::RelativeHome {
                user: a.name.clone(),
                home: a.home.clone(),
            });
        }
        let Some(default_index) = accounts.iter().position(|a| a.name == default_user) else {
            return Err(ConfigError::UnknownDefaultUser(default_user));
        };
        Ok(Users {
            accounts,
            default_index,
            agent_uid,
        })
    }

    /// The account called `name`.
    pub(crate) fn by_name(&self, name: &str) -> Option<&UserAccount> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The account requests act as when they name none.
    pub(crate) fn default_account(&self) -> &UserAccount {
        &self.accounts[self.default_index]
    }

    /// The account a Connect request acts as: the Basic-auth user, or the
    /// default user when the request names none.
    pub(crate) fn requester(&self, headers: &HeaderMap) -> Result<&UserAccount, RpcError> {
        match basic_auth_user(headers) {
            None => Ok(self.default_account()),
            Some(name) => self.by_name(&name).ok_or_else(|| {
                RpcError::new(Code::Unauthenticated, format!("invalid username: '{name}'"))
            }),
        }
    }

    /// The name shown as a file's owner: the account with that uid, else the
    /// number.
    pub(crate) fn owner_name(&self, uid: u32) -> String {
        self.accounts
            .iter()
            .find(|a| a.uid == uid)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| uid.to_string())
    }

    /// The name shown as a file's group: the account whose primary group it
    /// is (every account has a same-named group), else the number.
    pub(crate) fn group_name(&self, gid: u32) -> String {
        self.accounts
            .iter()
            .find(|a| a.gid == gid)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| gid.to_string())
    }

    /// Whether the agent runs as root and so switches users and chowns files.
    pub(crate) fn agent_is_root(&self) -> bool {
        self.agent_uid == 0
    }

    /// The credentials a child process must switch to in order to run as
    /// `account`: `Some((uid, gid))` when the agent is root, `None` when the
    /// agent already is that user, an error otherwise.
    pub(crate) fn credentials_for(
        &self,
        account: &UserAccount,
    ) -> Result<Option<(u32, u32)>, CannotSwitchUser> {
        if self.agent_is_root() {
            Ok(Some((account.uid, account.gid)))
        } else if account.uid == self.agent_uid {
            Ok(None)
        } else {
            Err(CannotSwitchUser {
                user: account.name.clone(),
                uid: account.uid,
                agent_uid: self.agent_uid,
            })
        }
    }
}

/// The user named by `Authorization: Basic …`, if the header is present and
/// well formed. A malformed header counts as absent, as in envd.
pub(crate) fn basic_auth_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, _password) = decoded.split_once(':')?;
    Some(user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str, uid: u32) -> UserAccount {
        UserAccount {
            name: name.into(),
            uid,
            gid: uid,
            home: format!("/home/{name}"),
        }
    }

    fn table(agent_uid: u32) -> Users {
        Users::new(
            vec![account("root", 0), account("user", 1000)],
            "user".into(),
            agent_uid,
        )
        .unwrap()
    }

    fn auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn basic_auth_selects_the_user() {
        let users = table(0);
        // base64("root:")
        assert_eq!(users.requester(&auth("Basic cm9vdDo=")).unwrap().uid, 0);
        assert_eq!(users.requester(&HeaderMap::new()).unwrap().name, "user");
        // A malformed header is ignored.
        assert_eq!(users.requester(&auth("Bearer x")).unwrap().name, "user");
        assert_eq!(users.requester(&auth("Basic !!!")).unwrap().name, "user");
    }

    #[test]
    fn unknown_user_is_unauthenticated() {
        // base64("nobody:")
        let err = table(0).requester(&auth("Basic bm9ib2R5Og==")).unwrap_err();
        assert_eq!(err.code, Code::Unauthenticated);
        assert_eq!(err.message, "invalid username: 'nobody'");
    }

    #[test]
    fn config_is_checked() {
        let err = Users::new(vec![account("user", 1000)], "root".into(), 0).unwrap_err();
        assert!(matches!(err, ConfigError::UnknownDefaultUser(u) if u == "root"));
        let mut relative = account("user", 1000);
        relative.home = "home/user".into();
        assert!(Users::new(vec![relative], "user".into(), 0).is_err());
    }

    #[test]
    fn unprivileged_agent_only_acts_as_itself() {
        let users = table(1000);
        assert_eq!(users.credentials_for(&account("user", 1000)), Ok(None));
        let err = users.credentials_for(&account("root", 0)).unwrap_err();
        assert_eq!(err.agent_uid, 1000);
        assert_eq!(
            table(0).credentials_for(&account("user", 1000)),
            Ok(Some((1000, 1000)))
        );
    }

    #[test]
    fn ownership_names() {
        let users = table(0);
        assert_eq!(users.owner_name(1000), "user");
        assert_eq!(users.group_name(0), "root");
        assert_eq!(users.owner_name(4242), "4242");
    }
}
