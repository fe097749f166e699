//! What the server prepares once to isolate every sandbox.

use std::path::PathBuf;
use std::sync::Arc;

use super::bwrap::Privilege;
use super::seccomp::{self, SeccompPrograms};
use super::userns::UserNamespace;
use crate::error::Error;

/// The server-wide parts of sandbox isolation.
#[derive(Debug)]
pub(crate) struct Isolation {
    /// The user namespace sandboxes join (root servers).
    pub(crate) userns: Option<Arc<UserNamespace>>,
    /// The seccomp filter.
    pub(crate) seccomp: SeccompPrograms,
    /// The user-mode network helper, or why there is none.
    pub(crate) slirp4netns: Result<PathBuf, String>,
}

impl Isolation {
    /// Prepare isolation for a server running with `privilege`.
    pub(crate) fn prepare(privilege: Privilege) -> Result<Self, Error> {
        let userns = match privilege {
            Privilege::Root => {
                super::stage::prepare_dir(std::path::Path::new(super::stage::STAGE_DIR)).map_err(
                    |e| Error::Isolation(format!("cannot create {}: {e}", super::stage::STAGE_DIR)),
                )?;
                Some(Arc::new(UserNamespace::create().map_err(|e| {
                    Error::Isolation(format!("cannot create the sandboxes' user namespace: {e}"))
                })?))
            }
            Privilege::UserNamespace => None,
        };
        let seccomp = seccomp::programs().map_err(|e| Error::Isolation(e.to_string()))?;
        let slirp4netns = super::network::find_slirp4netns();
        if let Err(why) = &slirp4netns {
            tracing::warn!("{why}: only sandboxes without internet access can be created");
        }
        Ok(Self {
            userns,
            seccomp,
            slirp4netns,
        })
    }
}
