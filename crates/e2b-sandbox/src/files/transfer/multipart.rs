//! `multipart/form-data` bodies, for envd older than 0.5.7 (and several files at once):
//! one `file` part per file, named by its destination path.

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};

use super::WriteEntry;

fn boundary() -> String {
    format!("e2b-{}", uuid::Uuid::new_v4().simple())
}

fn content_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// The headers of one `file` part, named by its destination path.
fn part_head(boundary: &str, path: &str) -> String {
    let name = path.replace(['"', '\r', '\n'], "_");
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
}

/// The delimiter that ends the body, after the last part's `\r\n`.
fn close_delimiter(boundary: &str) -> String {
    format!("--{boundary}--\r\n")
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
    body.extend_from_slice(close_delimiter(&boundary).as_bytes());
    (content_type(&boundary), body)
}

/// A one-part multipart body streaming `content` as the file at `path`, in constant
/// memory, and its content type.
pub(super) fn multipart_stream<S>(
    path: &str,
    content: S,
) -> (
    String,
    impl Stream<Item = std::io::Result<Bytes>> + Send + use<S>,
)
where
    S: Stream<Item = std::io::Result<Bytes>> + Send,
{
    let boundary = boundary();
    let head = Bytes::from(part_head(&boundary, path));
    let tail = Bytes::from(format!("\r\n{}", close_delimiter(&boundary)));
    let body = futures_util::stream::once(async move { Ok(head) })
        .chain(content)
        .chain(futures_util::stream::once(async move { Ok(tail) }));
    (content_type(&boundary), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(body: impl Stream<Item = std::io::Result<Bytes>>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    /// The boundary named by a content type.
    fn boundary_of(content_type: &str) -> &str {
        content_type.split_once("boundary=").unwrap().1
    }

    #[tokio::test]
    async fn a_streamed_part_is_framed_like_a_buffered_one() {
        let (ct, buffered) = multipart_body(&[WriteEntry::new("/a \"b\".txt", "hello")]);
        let b = boundary_of(&ct).to_owned();
        let expected = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/a _b_.txt\"\r\n\
             Content-Type: application/octet-stream\r\n\r\nhello\r\n--{b}--\r\n"
        );
        assert_eq!(String::from_utf8(buffered).unwrap(), expected);

        let chunks = futures_util::stream::iter([Ok(Bytes::from("hel")), Ok(Bytes::from("lo"))]);
        let (ct, streamed) = multipart_stream("/a \"b\".txt", chunks);
        let b2 = boundary_of(&ct).to_owned();
        let streamed = String::from_utf8(collect(streamed).await).unwrap();
        assert_eq!(streamed, expected.replace(&b, &b2));
    }

    #[test]
    fn parts_are_separated_and_closed() {
        let (ct, body) = multipart_body(&[WriteEntry::new("/1", "x"), WriteEntry::new("/2", "")]);
        let b = boundary_of(&ct);
        let body = String::from_utf8(body).unwrap();
        assert_eq!(body.matches(&format!("--{b}\r\n")).count(), 2);
        assert!(body.contains(&format!("x\r\n--{b}\r\n")), "{body}");
        assert!(
            body.ends_with(&format!("\r\n\r\n\r\n--{b}--\r\n")),
            "{body:?}"
        );
    }
}
