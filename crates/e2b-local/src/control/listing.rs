//! `GET /v2/sandboxes` (filters, order, pagination) and the legacy `GET /sandboxes`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use e2b_api::control::types::ListedSandbox;

use super::AppState;
use super::errors::ApiError;
use super::query::Query;
use super::views;
use crate::sandbox::record::{SandboxRecord, State as SandboxState};

/// Page size limits (`paginationLimit` in the spec).
pub(crate) const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 100;

/// The filters of a listing.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Filter {
    /// All pairs must match (AND).
    pub(crate) metadata: Vec<(String, String)>,
    /// Accepted states (empty = running and paused).
    pub(crate) states: Vec<SandboxState>,
    /// Only sandboxes started at or after.
    pub(crate) started_after: Option<DateTime<Utc>>,
    /// Template id or alias.
    pub(crate) template: Option<String>,
}

impl Filter {
    fn matches(&self, r: &SandboxRecord) -> bool {
        (self.states.is_empty() || self.states.contains(&r.state))
            && self
                .metadata
                .iter()
                .all(|(k, v)| r.metadata.get(k) == Some(v))
            && self.started_after.is_none_or(|t| r.started_at >= t)
            && self
                .template
                .as_ref()
                .is_none_or(|t| &r.template_id == t || r.alias.as_ref() == Some(t))
    }
}

/// Parse the `metadata` filter: `k=v&k2=v2` with each key and value percent-encoded.
pub(crate) fn parse_metadata_filter(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    // The official SDKs percent-encode every key and value, join them as a form
    // (`urlencode`, which encodes the `%` signs again), then send that string as
    // one query value. After the query value itself is decoded, each pair is
    // form-decoded and then percent-decoded once more.
    let decode = |s: String| {
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            if !part.contains('=') {
                return Err(ApiError::bad_request(format!(
                    "Invalid metadata filter '{part}': expected key=value"
                )));
            }
            form_urlencoded::parse(part.as_bytes())
                .into_owned()
                .next()
                .map(|(k, v)| (decode(k), decode(v)))
                .ok_or_else(|| ApiError::bad_request(format!("Invalid metadata filter '{part}'")))
        })
        .collect()
}

/// Parse `state=running,paused`.
pub(crate) fn parse_states(raw: &str) -> Result<Vec<SandboxState>, ApiError> {
    raw.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| match s.trim() {
            "running" => Ok(SandboxState::Running),
            "paused" => Ok(SandboxState::Paused),
            other => Err(ApiError::bad_request(format!(
                "Invalid state '{other}': expected running or paused"
            ))),
        })
        .collect()
}

/// The opaque page cursor: the sort key of the last returned item.
pub(crate) fn encode_token(started_at: DateTime<Utc>, id: &str) -> String {
    let nanos = started_at.timestamp_nanos_opt().unwrap_or(0);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{nanos}:{id}"))
}

pub(crate) fn decode_token(token: &str) -> Result<(i64, String), ApiError> {
    let invalid = || ApiError::bad_request("Invalid next token");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (nanos, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok((nanos.parse().map_err(|_| invalid())?, id.to_owned()))
}

/// One page of `records`: filtered, ordered by start time (`desc` by default),
/// starting after `next_token`. Returns the page, the next token and the number
/// of running sandboxes matching the filter.
pub(crate) fn page(
    mut records: Vec<SandboxRecord>,
    filter: &Filter,
    ascending: bool,
    limit: usize,
    next_token: Option<&str>,
) -> Result<(Vec<SandboxRecord>, Option<String>, usize), ApiError> {
    records.retain(|r| filter.matches(r));
    let running = records
        .iter()
        .filter(|r| r.state == SandboxState::Running)
        .count();
    let key = |r: &SandboxRecord| {
        (
            r.started_at.timestamp_nanos_opt().unwrap_or(0),
            r.id.clone(),
        )
    };
    records.sort_by_key(key);
    if !ascending {
        records.reverse();
    }
    if let Some(token) = next_token.filter(|t| !t.is_empty()) {
        let cursor = decode_token(token)?;
        records.retain(|r| {
            if ascending {
                key(r) > cursor
            } else {
                key(r) < cursor
            }
        });
    }
    let more = records.len() > limit;
    records.truncate(limit);
    let next = if more {
        records.last().map(|r| encode_token(r.started_at, &r.id))
    } else {
        None
    };
    Ok((records, next, running))
}

/// `GET /v2/sandboxes`.
pub(crate) async fn list_v2(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(raw.as_deref());
    let filter = Filter {
        metadata: q
            .get("metadata")
            .map(parse_metadata_filter)
            .transpose()?
            .unwrap_or_default(),
        states: q
            .get("state")
            .map(parse_states)
            .transpose()?
            .unwrap_or_default(),
        started_after: q
            .get("startedAfter")
            .filter(|s| !s.is_empty())
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| ApiError::bad_request(format!("Invalid startedAfter '{s}': {e}")))
            })
            .transpose()?,
        template: q
            .get("template")
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    };
    let ascending = match q.get("order") {
        None | Some("" | "desc") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid order '{other}': expected asc or desc"
            )));
        }
    };
    let limit = usize::try_from(q.int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?).unwrap_or(100);
    let (items, next, running) = page(
        app.manager.list(),
        &filter,
        ascending,
        limit,
        q.get("nextToken"),
    )?;
    let body: Vec<ListedSandbox> = items
        .iter()
        .map(|r| views::listed(r, app.manager.envd_version(), &app.sizes))
        .collect();
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        headers.insert("x-next-token", next);
    }
    if filter.states.is_empty() || filter.states.contains(&SandboxState::Running) {
        headers.insert("x-total-running", HeaderValue::from(running));
    }
    Ok(response)
}

/// `GET /sandboxes` (deprecated): running sandboxes, metadata filter, no pagination.
pub(crate) async fn list_v1(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<ListedSandbox>>, ApiError> {
    let q = Query::parse(raw.as_deref());
    let filter = Filter {
        metadata: q
            .get("metadata")
            .map(parse_metadata_filter)
            .transpose()?
            .unwrap_or_default(),
        states: vec![SandboxState::Running],
        ..Filter::default()
    };
    let (items, _, _) = page(app.manager.list(), &filter, false, usize::MAX, None)?;
    Ok(Json(
        items
            .iter()
            .map(|r| views::listed(r, app.manager.envd_version(), &app.sizes))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::record::{Lifecycle, OnTimeout};
    use std::collections::BTreeMap;

    fn rec(id: &str, started: i64, state: SandboxState, meta: &[(&str, &str)]) -> SandboxRecord {
        let t = DateTime::from_timestamp(started, 0).unwrap();
        SandboxRecord {
            id: id.into(),
            template_id: "base".into(),
            alias: Some("base".into()),
            started_at: t,
            end_at: t,
            timeout_secs: 1,
            metadata: meta
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            env_vars: BTreeMap::new(),
            envd_access_token: None,
            traffic_access_token: None,
            allow_internet_access: None,
            isolated_network: false,
            network: None,
            lifecycle: Lifecycle {
                on_timeout: OnTimeout::Kill,
                auto_resume: false,
                pause_keeps_memory: true,
            },
            volume_mounts: vec![],
            mcp: None,
            state,
            paused_with_memory: false,
            code_interpreter: false,
            image_template: None,
            internal: false,
        }
    }

    #[test]
    fn metadata_filter_decodes_keys_and_values() {
        assert_eq!(
            parse_metadata_filter("user=abc&app%20name=pro%26d").unwrap(),
            vec![
                ("user".to_owned(), "abc".to_owned()),
                ("app name".to_owned(), "pro&d".to_owned())
            ]
        );
        // Exactly what `e2b==2.45.1` sends for {"extra": "a b&c=d/é", "pct": "100%"},
        // once the query value is decoded.
        assert_eq!(
            parse_metadata_filter("extra=a%2520b%2526c%253Dd%2F%25C3%25A9&pct=100%2525").unwrap(),
            vec![
                ("extra".to_owned(), "a b&c=d/é".to_owned()),
                ("pct".to_owned(), "100%".to_owned())
            ]
        );
        assert!(parse_metadata_filter("novalue").is_err());
        assert!(parse_metadata_filter("").unwrap().is_empty());
    }

    #[test]
    fn states_parse() {
        assert_eq!(
            parse_states("running,paused").unwrap(),
            vec![SandboxState::Running, SandboxState::Paused]
        );
        assert!(parse_states("dead").is_err());
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let all: Vec<SandboxRecord> = (0..7)
            .map(|i| rec(&format!("i{i}"), 100 + i / 2, SandboxState::Running, &[]))
            .collect();
        let filter = Filter::default();
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (items, next, running) =
                page(all.clone(), &filter, false, 3, token.as_deref()).unwrap();
            assert_eq!(running, 7);
            seen.extend(items.into_iter().map(|r| r.id));
            match next {
                Some(n) => token = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, vec!["i6", "i5", "i4", "i3", "i2", "i1", "i0"]);
        let (asc, _, _) = page(all, &filter, true, 2, None).unwrap();
        assert_eq!(
            asc.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["i0", "i1"]
        );
    }

    #[test]
    fn filters_combine() {
        let all = vec![
            rec(
                "a",
                1,
                SandboxState::Running,
                &[("user", "x"), ("app", "p")],
            ),
            rec("b", 2, SandboxState::Paused, &[("user", "x")]),
            rec("c", 3, SandboxState::Running, &[("user", "y")]),
        ];
        let filter = Filter {
            metadata: vec![("user".into(), "x".into())],
            states: vec![SandboxState::Running],
            ..Filter::default()
        };
        let (items, next, running) = page(all.clone(), &filter, false, 10, None).unwrap();
        assert_eq!(
            items.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!((next, running), (None, 1));
        let filter = Filter {
            started_after: DateTime::from_timestamp(2, 0),
            ..Filter::default()
        };
        let (items, _, _) = page(all, &filter, true, 10, None).unwrap();
        assert_eq!(
            items.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert!(page(vec![], &Filter::default(), false, 1, Some("!!")).is_err());
    }
}
