//! `/files` requests at the edge and in the agent: the query, the signed-URL
//! check, path resolution, routing, and the headers of transfers.

use std::path::{Component, Path};

use base64::Engine as _;
use e2b_local::agent::UserAccount;
use e2b_local::fuzzing::{self as local, ByteRange};
use e2b_sandbox::{FileOperation, file_signature};
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::input::{fields, join, param, text};

const TOKEN: &str = "9f2c7a1e5b3d4c6a8e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";
const NOW: i64 = 1_750_000_000;

pub(crate) const QUERY_DICTIONARY: &[&[u8]] = &[
    b"path=",
    b"&username=",
    b"&signature=",
    b"&signature_expiration=",
    b"v1_",
    b"%2F",
    b"%00",
    b"%7E",
    b"~",
    b"~root/",
    b"../",
    b"/./",
    b"//",
    b"root",
    b"user",
    b"49983-",
    b".e2b.local",
    b":3000",
    b"Basic ",
    b"dXNlcjo=",
];

pub(crate) const HEADER_DICTIONARY: &[&[u8]] = &[
    b"bytes=",
    b"bytes=0-",
    b"bytes=-",
    b",",
    b"gzip",
    b"identity",
    b"*",
    b";q=0",
    b";q=0.5",
    b";Q=1",
    b"br",
    b"x-metadata-",
    b": ",
    b"\n",
];

fn accounts() -> [UserAccount; 2] {
    [
        UserAccount {
            name: "user".into(),
            uid: 1000,
            gid: 1000,
            home: "/home/user".into(),
        },
        UserAccount {
            name: "root".into(),
            uid: 0,
            gid: 0,
            home: "/root".into(),
        },
    ]
}

fn header(headers: &mut HeaderMap, name: &'static str, value: &[u8]) {
    if !value.is_empty()
        && let Ok(value) = HeaderValue::from_bytes(value)
    {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// `params` (method, expiration) `SEP` query `SEP` access-token header `SEP`
/// Host `SEP` E2b-Sandbox-Id `SEP` E2b-Sandbox-Port `SEP` Authorization.
pub(crate) fn query(data: &[u8]) {
    let [
        params,
        raw_query,
        token_header,
        host,
        id,
        port,
        authorization,
    ] = fields::<7>(data);
    let raw_query = text(raw_query);
    let method = if param(params, 0) & 1 == 0 {
        Method::GET
    } else {
        Method::POST
    };
    let header_token = (!token_header.is_empty()).then(|| text(token_header));

    // The edge: routing.
    let mut headers = HeaderMap::new();
    header(&mut headers, "e2b-sandbox-id", id);
    header(&mut headers, "e2b-sandbox-port", port);
    let host = (!host.is_empty()).then(|| text(host));
    if let Ok(Some((id, port))) = local::route(&headers, host.as_deref()) {
        assert!(port > 0);
        assert!(
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{id:?}"
        );
        let expected = Ok(Some((id.clone(), port)));
        let by_host = format!("{port}-{id}.e2b.local:3000");
        assert_eq!(local::route(&HeaderMap::new(), Some(&by_host)), expected);
        let mut by_headers = HeaderMap::new();
        by_headers.insert("e2b-sandbox-id", id.parse().unwrap());
        by_headers.insert("e2b-sandbox-port", port.into());
        assert_eq!(local::route(&by_headers, Some("localhost:3000")), expected);
    }

    // The edge: access token or signed URL.
    let auth = local::envd_auth(
        &method,
        "/files",
        Some(&raw_query),
        header_token.as_deref(),
        Some(TOKEN),
        NOW,
    );
    if let Err((status, _)) = &auth {
        assert!(matches!(status, 400 | 401), "{auth:?}");
    }
    if auth.is_ok() && header_token.as_deref() != Some(TOKEN) {
        // Admitted by signature: the signed path and user are the ones the agent acts on.
        // (A query that is no valid URI never reaches the agent.)
        if let Ok(uri) = format!("/files?{raw_query}").parse::<Uri>()
            && let Ok((path, username)) = local::files_query(&uri)
        {
            let operation = if method == Method::GET {
                FileOperation::Read
            } else {
                FileOperation::Write
            };
            let mut signed_for_agent = false;
            for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
                if k != "signature" {
                    continue;
                }
                for expiration in expirations(&raw_query) {
                    let expected = file_signature(
                        path.as_deref().unwrap_or_default(),
                        operation,
                        username.as_deref().unwrap_or_default(),
                        TOKEN,
                        expiration,
                    );
                    signed_for_agent |= expected == v;
                }
            }
            assert!(
                signed_for_agent,
                "admitted {raw_query:?}, but the agent acts on path {path:?}, user {username:?}"
            );
        }
    }

    // The agent: the query and the path it names.
    let uri = format!("/files?{raw_query}").parse::<Uri>();
    if let Ok(uri) = &uri
        && let Ok((path, username)) = local::files_query(uri)
    {
        let path = path.unwrap_or_default();
        for user in accounts() {
            for workdir in ["", "/home/user/work"] {
                check_resolution(&path, &user, workdir);
            }
        }
        signed_round_trip(&path, username.as_deref(), param(params, 1));
    }

    // The agent: the user a Connect request names.
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(authorization) {
        headers.insert(AUTHORIZATION, value);
    }
    if let Some(user) = local::basic_auth_user(&headers) {
        assert!(!user.contains(':'));
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:secret"));
        let mut again = HeaderMap::new();
        again.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(local::basic_auth_user(&again), Some(user));
    }
}

/// The `signature_expiration` values of a query (and none).
fn expirations(raw_query: &str) -> Vec<Option<i64>> {
    let mut out = vec![None];
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        if k == "signature_expiration"
            && let Ok(n) = v.parse()
        {
            out.push(Some(n));
        }
    }
    out
}

fn check_resolution(path: &str, user: &UserAccount, workdir: &str) {
    let Ok(resolved) = local::resolve_path(path, user, workdir) else {
        assert!(path.starts_with('~'), "{path:?} refused");
        return;
    };
    assert!(resolved.is_absolute(), "{path:?} → {}", resolved.display());
    let given = if path.is_empty() { workdir } else { path };
    if given.starts_with('/') {
        assert_eq!(resolved, Path::new(given), "absolute paths are kept");
    } else {
        assert!(
            resolved
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_))),
            "{path:?} → {} is not clean",
            resolved.display()
        );
    }
}

/// What the SDK signs, the edge admits: before its expiration, and not after.
fn signed_round_trip(path: &str, username: Option<&str>, expiry: u8) {
    let expiration = match expiry % 3 {
        0 => None,
        1 => Some(NOW + i64::from(expiry)),
        _ => Some(NOW - 1 - i64::from(expiry)),
    };
    for (method, operation) in [
        (Method::GET, FileOperation::Read),
        (Method::POST, FileOperation::Write),
    ] {
        let signature = file_signature(
            path,
            operation,
            username.unwrap_or_default(),
            TOKEN,
            expiration,
        );
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("path", path);
        if let Some(user) = username {
            query.append_pair("username", user);
        }
        query.append_pair("signature", &signature);
        if let Some(exp) = expiration {
            query.append_pair("signature_expiration", &exp.to_string());
        }
        let query = query.finish();
        let verdict = local::envd_auth(&method, "/files", Some(&query), None, Some(TOKEN), NOW);
        match expiration {
            Some(exp) if exp < NOW => assert_eq!(
                verdict,
                Err((401, "signature is already expired".to_owned())),
                "{query}"
            ),
            _ => assert_eq!(verdict, Ok(()), "{query}"),
        }
        let uri: Uri = format!("/files?{query}")
            .parse()
            .expect("a serialized query");
        assert_eq!(
            local::files_query(&uri),
            Ok((Some(path.to_owned()), username.map(str::to_owned))),
            "{query}"
        );
    }
}

/// File size (8 bytes) `SEP` Range `SEP` Accept-Encoding `SEP`
/// Content-Encoding `SEP` `name: value` lines of `X-Metadata-*` headers.
pub(crate) fn headers(data: &[u8]) {
    let [size, range, accept, content, metadata] = fields::<5>(data);
    let size = size
        .iter()
        .take(8)
        .fold(0u64, |size, b| size << 8 | u64::from(*b));
    let range = text(range);
    match local::byte_range(&range, size) {
        ByteRange::Part(first, last) => {
            assert!(
                first <= last && last < size,
                "{range:?} of {size} → {first}-{last}"
            );
            assert_eq!(
                local::byte_range(&format!("bytes={first}-{last}"), size),
                ByteRange::Part(first, last)
            );
        }
        ByteRange::Whole | ByteRange::Unsatisfiable => {}
    }

    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(accept) {
        headers.insert(ACCEPT_ENCODING, value);
    }
    if let Ok(value) = HeaderValue::from_bytes(content) {
        headers.insert(CONTENT_ENCODING, value);
    }
    let identity = local::identity_acceptable(&headers);
    match local::response_is_gzip(&headers) {
        Ok(false) => assert!(identity, "identity answered although refused: {headers:?}"),
        Ok(true) => {}
        Err(_) => assert!(!identity, "refused although identity is acceptable"),
    }
    let _ = local::request_is_gzip(&headers);

    let mut headers = HeaderMap::new();
    for line in metadata.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    if let Ok(metadata) = local::file_metadata(&headers) {
        let mut total = 0;
        for (key, value) in &metadata {
            assert!(!key.is_empty());
            for b in key.bytes().chain(value.bytes()) {
                assert!((0x20..=0x7e).contains(&b), "{key:?}: {value:?}");
            }
            total += key.len() + value.len();
        }
        assert!(total <= 4096, "{total} bytes of metadata accepted");
    }
}

pub(crate) fn query_seeds() -> Vec<Vec<u8>> {
    let signed = |path: &str, user: Option<&str>, exp: Option<i64>, op| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("path", path);
        if let Some(user) = user {
            q.append_pair("username", user);
        }
        q.append_pair(
            "signature",
            &file_signature(path, op, user.unwrap_or_default(), TOKEN, exp),
        );
        if let Some(exp) = exp {
            q.append_pair("signature_expiration", &exp.to_string());
        }
        q.finish()
    };
    let queries = [
        signed("/home/user/a b.txt", None, None, FileOperation::Read),
        signed(
            "~/data/é.csv",
            Some("root"),
            Some(NOW + 60),
            FileOperation::Read,
        ),
        signed(
            "relative/../x",
            Some("user"),
            Some(NOW - 60),
            FileOperation::Write,
        ),
        "path=%2Fhome%2Fuser%2Fa.txt&username=user".to_owned(),
        "path=~root/x".to_owned(),
        "path=&signature=v1_&signature_expiration=soon".to_owned(),
    ];
    let mut seeds = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let method = [(i % 2) as u8, i as u8];
        seeds.push(join([
            &method[..],
            q.as_bytes(),
            b"",
            b"49983-iabc123.e2b.local:3000",
            b"",
            b"",
            b"Basic dXNlcjpwYXNz",
        ]));
    }
    seeds.push(join([
        &[0, 1][..],
        b"path=/x",
        TOKEN.as_bytes(),
        b"localhost:3000",
        b"iabc123",
        b"49983",
        b"basic cm9vdDo=",
    ]));
    seeds.push(join([
        &[1, 2][..],
        b"path=/x",
        b"wrong",
        b"sandbox.e2b.app",
        b"../etc",
        b"70000",
        b"Bearer x",
    ]));
    seeds
}

pub(crate) fn header_seeds() -> Vec<Vec<u8>> {
    let size = 1000u16.to_be_bytes();
    let cases: [(&str, &str, &str, &str); 6] = [
        (
            "bytes=0-99",
            "gzip",
            "",
            "x-metadata-owner: alice\nx-metadata-k: v",
        ),
        ("bytes=-10", "identity;q=1, gzip;q=0.5", "gzip", ""),
        ("bytes=500-", "*;q=0", "GZIP", "x-metadata-: empty"),
        (
            "bytes=0-1,5-6",
            "identity;q=0, *",
            "br",
            "x-metadata-a: \u{e9}",
        ),
        (
            "bytes=2000-3000",
            "gzip;q=0",
            "identity",
            "x-metadata-long: 0123456789",
        ),
        (
            "items=0-1",
            "",
            "",
            "x-metadata-K: upper\nx-metadata-k: second",
        ),
    ];
    cases
        .iter()
        .map(|(range, accept, content, metadata)| {
            join([
                &size[..],
                range.as_bytes(),
                accept.as_bytes(),
                content.as_bytes(),
                metadata.as_bytes(),
            ])
        })
        .collect()
}
