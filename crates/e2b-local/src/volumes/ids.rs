//! Owners of volume files as sandboxes see them, and as the host stores them.
//!
//! The content API speaks in the ids a sandbox sees (`user` is 1000, root 0),
//! and a volume is the same directory inside every sandbox that mounts it, so
//! files are stored with the host ids those map to:
//!
//! * root server: sandbox ids `0..65536` are host ids
//!   [`HOST_ID_BASE`](crate::sandbox::userns::HOST_ID_BASE)` + id` (the
//!   sandboxes' user namespace); larger ids are refused.
//! * unprivileged server: every file belongs to the server's user, which is
//!   `user` (1000) inside; requested owners cannot be given and are left as
//!   they are, and anything else shows as `nobody`.

use crate::sandbox::layout::{Ownership, USER_ID};
use crate::sandbox::userns::{ID_COUNT, UserNamespace};

use super::content::ContentError;

/// What an id outside the mapped range shows as inside.
const NOBODY: u32 = 65_534;

/// How ids of the content API map to host ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdMap {
    /// Root server: the sandboxes' user namespace.
    Mapped,
    /// Unprivileged server: the server's user is `user`.
    ServerUser {
        /// The server's uid.
        uid: u32,
        /// The server's gid.
        gid: u32,
    },
}

impl IdMap {
    /// The mapping of a server with this ownership.
    pub(crate) fn of(ownership: Ownership) -> Self {
        match ownership {
            Ownership::Root => Self::Mapped,
            Ownership::ServerUser => Self::ServerUser {
                uid: rustix::process::geteuid().as_raw(),
                gid: rustix::process::getegid().as_raw(),
            },
        }
    }

    /// The host ids to give a file for sandbox ids (`None`: leave as is).
    pub(crate) fn to_host(
        self,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<(Option<u32>, Option<u32>), ContentError> {
        match self {
            Self::Mapped => {
                let map = |id: Option<u32>, what: &str| match id {
                    Some(id) if id >= ID_COUNT => Err(ContentError::Invalid(format!(
                        "{what} {id} is outside the ids sandboxes have (0 to {})",
                        ID_COUNT - 1
                    ))),
                    Some(id) => Ok(Some(UserNamespace::host_id(id))),
                    None => Ok(None),
                };
                Ok((map(uid, "uid")?, map(gid, "gid")?))
            }
            Self::ServerUser { .. } => Ok((None, None)),
        }
    }

    /// The uid a sandbox sees for a host uid.
    pub(crate) fn uid_inside(self, host: u32) -> u32 {
        match self {
            Self::Mapped => inside(host),
            Self::ServerUser { uid, .. } => {
                if host == uid {
                    USER_ID
                } else {
                    NOBODY
                }
            }
        }
    }

    /// The gid a sandbox sees for a host gid.
    pub(crate) fn gid_inside(self, host: u32) -> u32 {
        match self {
            Self::Mapped => inside(host),
            Self::ServerUser { gid, .. } => {
                if host == gid {
                    USER_ID
                } else {
                    NOBODY
                }
            }
        }
    }
}

fn inside(host: u32) -> u32 {
    let base = UserNamespace::host_id(0);
    match host.checked_sub(base) {
        Some(id) if id < ID_COUNT => id,
        _ => NOBODY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_ids_round_trip_and_large_ids_are_refused() {
        let map = IdMap::Mapped;
        let (uid, gid) = map.to_host(Some(1000), Some(0)).unwrap();
        assert_eq!(uid, Some(UserNamespace::host_id(1000)));
        assert_eq!(gid, Some(UserNamespace::host_id(0)));
        assert_eq!(map.uid_inside(uid.unwrap()), 1000);
        assert_eq!(map.gid_inside(gid.unwrap()), 0);
        assert_eq!(map.uid_inside(0), NOBODY, "host root is nobody inside");
        assert!(map.to_host(Some(ID_COUNT), None).is_err());
        assert_eq!(map.to_host(None, None).unwrap(), (None, None));
    }

    #[test]
    fn an_unprivileged_server_is_user_inside() {
        let map = IdMap::ServerUser { uid: 500, gid: 600 };
        assert_eq!(map.uid_inside(500), USER_ID);
        assert_eq!(map.gid_inside(600), USER_ID);
        assert_eq!(map.uid_inside(0), NOBODY);
        assert_eq!(map.to_host(Some(0), Some(0)).unwrap(), (None, None));
    }
}
