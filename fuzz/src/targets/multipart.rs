//! `POST /files` bodies as the agent decodes them.

use std::path::PathBuf;

use bytes::Bytes;
use e2b_local::agent::UserAccount;
use e2b_local::fuzzing::{UploadedPart, multipart_upload};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use tokio::io::AsyncReadExt as _;

use crate::input::{all_fields, block_on, chunks, fields, join, param, text};

const BOUNDARY: &str = "e2bFuzzBoundary7MA4YWxkTrZu0gW";

pub(crate) const DICTIONARY: &[&[u8]] = &[
    b"\r\n",
    b"--",
    b"\r\n--e2bFuzzBoundary7MA4YWxkTrZu0gW",
    b"\r\n--e2bFuzzBoundary7MA4YWxkTrZu0gW--",
    b"Content-Disposition: form-data; ",
    b"name=\"file\"",
    b"filename=\"",
    b"filename*=utf-8''",
    b"Content-Type: application/octet-stream",
    b"multipart/form-data; boundary=",
    b"multipart/mixed; boundary=\"",
    b"~/",
    b"../",
    b"\x1f\x8b\x08\x00",
];

fn user() -> UserAccount {
    UserAccount {
        name: "user".into(),
        uid: 1000,
        gid: 1000,
        home: "/home/user".into(),
    }
}

async fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    async_compression::tokio::bufread::GzipEncoder::new(data)
        .read_to_end(&mut out)
        .await
        .expect("gzip into memory");
    out
}

/// A form with one `file` part per `(file name, content)`, as the SDKs send it.
fn form(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn headers(content_type: &[u8], gzip: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers
}

fn decode(
    headers: &HeaderMap,
    body: Vec<Bytes>,
    path: Option<&str>,
) -> Result<Vec<UploadedPart>, String> {
    block_on(multipart_upload(headers, body, path, &user(), ""))
}

/// `params` (chunking, mode) `SEP` content type `SEP` path `SEP` body.
///
/// Modes: 0 the body as is; 1 the body gzip-compressed; 2 the body sent as
/// gzip as it is; 3 the body's fields are `(file name, content)` pairs put
/// into a well-formed form, which must decode to exactly those files.
pub(crate) fn upload(data: &[u8]) {
    let [params, content_type, path, body] = fields::<4>(data);
    let split = param(params, 0);
    let path = (!path.is_empty()).then(|| text(path));
    let mode = param(params, 1) % 4;
    if mode == 3 {
        round_trip(split, body);
        return;
    }
    let (body, gzipped) = match mode {
        0 => (body.to_vec(), false),
        1 => (block_on(gzip(body)), true),
        _ => (body.to_vec(), true),
    };
    let headers = headers(content_type, gzipped);
    let Ok(parts) = decode(&headers, chunks(&body, split), path.as_deref()) else {
        return;
    };
    for (i, part) in parts.iter().enumerate() {
        assert!(part.path.is_absolute(), "{part:?}");
        assert!(
            parts[..i].iter().all(|p| p.path != part.path),
            "two parts written to {}",
            part.path.display()
        );
        assert!(
            path.is_none() || parts.len() == 1,
            "one part per given path"
        );
    }
}

fn round_trip(split: u8, body: &[u8]) {
    let pieces = all_fields(body);
    let files: Vec<(String, Vec<u8>)> = pieces
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            // File names as SDKs write them: no quotes, no line breaks.
            let name: String = text(pair[0])
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect();
            (
                format!("{i}-{name}"),
                pair.get(1).unwrap_or(&&[][..]).to_vec(),
            )
        })
        .collect();
    let delimiter = format!("\r\n--{BOUNDARY}");
    if files.iter().any(|(_, content)| {
        content
            .windows(delimiter.len())
            .any(|w| w == delimiter.as_bytes())
            || content.starts_with(&delimiter.as_bytes()[2..])
    }) {
        return;
    }
    let body = form(&files);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let parts = decode(
        &headers(content_type.as_bytes(), false),
        chunks(&body, split),
        None,
    )
    .unwrap_or_else(|e| panic!("a well-formed form was refused: {e}"));
    let expected: Vec<UploadedPart> = files
        .into_iter()
        .map(|(name, content)| UploadedPart {
            path: PathBuf::from("/home/user").join(&name),
            file_name: Some(name),
            content,
        })
        .collect();
    assert_eq!(parts, expected, "the files changed on the way");
}

pub(crate) fn seeds() -> Vec<Vec<u8>> {
    let files = vec![
        ("a.txt".to_owned(), b"hello\n".to_vec()),
        (
            "/home/user/dir/b.bin".to_owned(),
            vec![0, 1, 2, 0xfe, b'\r', b'\n', b'-', b'-'],
        ),
    ];
    let multipart = format!("multipart/form-data; boundary={BOUNDARY}");
    let body = form(&files);
    let one = form(&files[..1]);
    let mut seeds = vec![
        join([&[0, 0][..], multipart.as_bytes(), b"", &body]),
        join([&[5, 0][..], multipart.as_bytes(), b"", &body]),
        join([&[0, 1][..], multipart.as_bytes(), b"", &body]),
        join([&[3, 0][..], multipart.as_bytes(), b"~/x/y.txt", &one]),
        join([&[0, 2][..], multipart.as_bytes(), b"", &body]),
        join([
            &[0, 0][..],
            b"application/octet-stream",
            b"/tmp/raw",
            b"raw bytes",
        ]),
        join([
            &[0, 0][..],
            b"multipart/form-data; boundary=\"quoted boundary\"",
            b"",
            b"--quoted boundary\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n\
              --quoted boundary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\
              no file name\r\n--quoted boundary--\r\n",
        ]),
    ];
    let round: Vec<u8> = join([&b"a.txt"[..], b"content", b"b", b"\x00\x01"]);
    seeds.push(join([&[0, 3][..], b"", b"", &round]));
    seeds.push(join([&[4, 3][..], b"", b"", b"one-file.csv"]));
    seeds
}
