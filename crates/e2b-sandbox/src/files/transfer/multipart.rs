//! `multipart/form-data` bodies, for envd older than 0.5.7 (and several files at once):
//! one `file` part per file, named by its destination path.

use super::WriteEntry;

pub(super) fn boundary() -> String {
    format!("e2b-{}", uuid::Uuid::new_v4().simple())
}

pub(super) fn multipart_content_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// The headers of one `file` part, named by its destination path.
pub(super) fn part_head(boundary: &str, path: &str) -> String {
    let name = path.replace(['"', '\r', '\n'], "_");
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
}

/// A multipart body with one `file` part per entry, and its content type.
pub(super) fn multipart_body(entries: &[WriteEntry]) -> (String, Vec<u8>) {
    let boundary = boundary();
    let mut body = Vec::new();
    for e in entries {
        body.extend_from_slice(part_head(&boundary, &e.path).as_bytes());
        body.extend_from_slice(&e.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (multipart_content_type(&boundary), body)
}
