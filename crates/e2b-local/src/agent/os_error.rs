//! How a failed file-system call is answered: one table from the OS error to
//! the HTTP status of `/files` and the Connect code of the RPCs. Errors not
//! in the table are internal.

use std::io;

use e2b_envd::connect::Code;
use http::StatusCode;

/// OS errors with an answer of their own.
const TABLE: [(i32, StatusCode, Code); 16] = [
    (libc::EACCES, StatusCode::FORBIDDEN, Code::PermissionDenied),
    (libc::EPERM, StatusCode::FORBIDDEN, Code::PermissionDenied),
    (libc::ENOENT, StatusCode::NOT_FOUND, Code::NotFound),
    (
        libc::ENOTDIR,
        StatusCode::BAD_REQUEST,
        Code::InvalidArgument,
    ),
    (libc::EISDIR, StatusCode::BAD_REQUEST, Code::InvalidArgument),
    (libc::EINVAL, StatusCode::BAD_REQUEST, Code::InvalidArgument),
    (
        libc::ENOSPC,
        StatusCode::INSUFFICIENT_STORAGE,
        Code::ResourceExhausted,
    ),
    (
        libc::EDQUOT,
        StatusCode::INSUFFICIENT_STORAGE,
        Code::ResourceExhausted,
    ),
    (libc::EEXIST, StatusCode::CONFLICT, Code::AlreadyExists),
    (libc::EROFS, StatusCode::FORBIDDEN, Code::PermissionDenied),
    (
        libc::ENAMETOOLONG,
        StatusCode::BAD_REQUEST,
        Code::InvalidArgument,
    ),
    (libc::ELOOP, StatusCode::BAD_REQUEST, Code::InvalidArgument),
    (libc::EXDEV, StatusCode::BAD_REQUEST, Code::InvalidArgument),
    (libc::EBUSY, StatusCode::CONFLICT, Code::FailedPrecondition),
    (
        libc::ENOTEMPTY,
        StatusCode::CONFLICT,
        Code::FailedPrecondition,
    ),
    (
        libc::ETXTBSY,
        StatusCode::CONFLICT,
        Code::FailedPrecondition,
    ),
];

fn lookup(e: &io::Error) -> Option<(StatusCode, Code)> {
    match e.raw_os_error() {
        Some(errno) => TABLE
            .iter()
            .find(|(known, _, _)| *known == errno)
            .map(|&(_, status, code)| (status, code)),
        // A path the OS could not even be asked about (a NUL byte in it).
        None if e.kind() == io::ErrorKind::InvalidInput => {
            Some((StatusCode::BAD_REQUEST, Code::InvalidArgument))
        }
        None => None,
    }
}

/// The HTTP status answering `e`.
pub(crate) fn http_status(e: &io::Error) -> StatusCode {
    lookup(e).map_or(StatusCode::INTERNAL_SERVER_ERROR, |(s, _)| s)
}

/// The Connect code answering `e`.
pub(crate) fn rpc_code(e: &io::Error) -> Code {
    lookup(e).map_or(Code::Internal, |(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn answers() {
        assert_eq!(http_status(&os(libc::EACCES)), StatusCode::FORBIDDEN);
        assert_eq!(rpc_code(&os(libc::EPERM)), Code::PermissionDenied);
        assert_eq!(http_status(&os(libc::ENOENT)), StatusCode::NOT_FOUND);
        assert_eq!(rpc_code(&os(libc::ENOTDIR)), Code::InvalidArgument);
        assert_eq!(
            http_status(&os(libc::ENOSPC)),
            StatusCode::INSUFFICIENT_STORAGE
        );
        assert_eq!(rpc_code(&os(libc::EDQUOT)), Code::ResourceExhausted);
        assert_eq!(rpc_code(&os(libc::EEXIST)), Code::AlreadyExists);
        assert_eq!(
            http_status(&os(libc::EIO)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(rpc_code(&io::Error::other("no errno")), Code::Internal);
        assert_eq!(
            http_status(&os(libc::ENAMETOOLONG)),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(rpc_code(&os(libc::EXDEV)), Code::InvalidArgument);
        assert_eq!(http_status(&os(libc::EBUSY)), StatusCode::CONFLICT);
        let nul = io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in the path");
        assert_eq!(http_status(&nul), StatusCode::BAD_REQUEST);
    }
}
