//! The error type of the agent's RPC internals.

use e2b_envd::connect::{Code, ConnectError};

use super::fs_user::FsUserError;
use super::os_error;

/// A Connect error code and message, without response metadata. Internal
/// functions return it (it is a fraction of a [`ConnectError`]'s size); the
/// service methods turn it into a [`ConnectError`] with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RpcError {
    pub(crate) code: Code,
    pub(crate) message: String,
}

impl RpcError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// A failed file-system call, answered as [`os_error`] says.
    pub(crate) fn io(e: &std::io::Error, message: impl Into<String>) -> Self {
        Self::new(os_error::rpc_code(e), message)
    }
}

impl From<FsUserError> for RpcError {
    fn from(e: FsUserError) -> Self {
        Self::new(Code::Internal, e.to_string())
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<RpcError> for ConnectError {
    fn from(e: RpcError) -> Self {
        ConnectError::new(e.code, e.message)
    }
}
