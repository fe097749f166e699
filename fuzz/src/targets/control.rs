//! Control-plane query strings (`GET /v2/sandboxes` and friends).

use chrono::{DateTime, Utc};
use e2b_local::fuzzing as local;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::input::{all_fields, fields, join, text};

pub(crate) const DICTIONARY: &[&[u8]] = &[
    b"limit=",
    b"&metadata=",
    b"&state=",
    b"&nextToken=",
    b"running",
    b"paused",
    b",",
    b"%3D",
    b"%26",
    b"%25",
    b"%2B",
    b"+",
    b"=",
    b"&",
];

/// A raw query `SEP` a start time (8 bytes) `SEP` a sandbox id `SEP`
/// metadata key `SEP` value `SEP` key …
pub(crate) fn query(data: &[u8]) {
    let [raw, started, id, pairs] = fields::<4>(data);
    let raw = text(raw);
    let raw = Some(raw.as_str());
    if let Ok(limit) = local::query_int(raw, "limit", 100, 1, 100) {
        assert!((1..=100).contains(&limit));
    }
    if let Some(metadata) = local::query_get(raw, "metadata") {
        let _ = local::metadata_filter(&metadata);
    }
    if let Some(states) = local::query_get(raw, "state") {
        let _ = local::state_filter(&states);
    }
    if let Some(token) = local::query_get(raw, "nextToken")
        && let Ok((nanos, id)) = local::decode_page_token(&token)
    {
        let at = DateTime::<Utc>::from_timestamp_nanos(nanos);
        assert_eq!(
            local::decode_page_token(&local::encode_page_token(at, &id)),
            Ok((nanos, id))
        );
    }

    // Page tokens round trip.
    let nanos = started
        .iter()
        .take(8)
        .fold(0i64, |n, b| n << 8 | i64::from(*b));
    let at = DateTime::<Utc>::from_timestamp_nanos(nanos);
    let id = text(id);
    assert_eq!(
        local::decode_page_token(&local::encode_page_token(at, &id)),
        Ok((nanos, id))
    );

    // The metadata filter as the official SDKs encode it decodes to the pairs.
    let pairs: Vec<(String, String)> = all_fields(pairs)
        .chunks(2)
        .filter(|pair| pair.len() == 2)
        .map(|pair| (text(pair[0]), text(pair[1])))
        .collect();
    let mut filter = form_urlencoded::Serializer::new(String::new());
    for (key, value) in &pairs {
        filter.append_pair(
            &utf8_percent_encode(key, NON_ALPHANUMERIC).to_string(),
            &utf8_percent_encode(value, NON_ALPHANUMERIC).to_string(),
        );
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("metadata", &filter.finish())
        .finish();
    let filter = local::query_get(Some(&query), "metadata").expect("the metadata parameter");
    assert_eq!(
        local::metadata_filter(&filter),
        Ok(pairs),
        "metadata filter round trip through {query:?}"
    );
}

pub(crate) fn seeds() -> Vec<Vec<u8>> {
    let token = local::encode_page_token(
        DateTime::<Utc>::from_timestamp_nanos(1_735_689_600_123_456_789),
        "iabc123",
    );
    let queries = [
        "limit=5&metadata=user%3Dabc%26app%3Dprod&state=running,paused".to_owned(),
        format!("nextToken={token}&limit=100"),
        "metadata=a%253Db%3Dc%2520d&state=paused".to_owned(),
        "limit=0&state=stopped&nextToken=!!".to_owned(),
        "metadata=novalue&limit=-1".to_owned(),
    ];
    queries
        .iter()
        .map(|q| {
            join([
                q.as_bytes(),
                &[0x18, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70][..],
                b"iabc123",
                b"user",
                b"alice",
                b"app name",
                "pr\u{f6}d=1&x".as_bytes(),
            ])
        })
        .collect()
}
