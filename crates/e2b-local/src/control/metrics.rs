//! `GET /sandboxes/{id}/metrics` and `GET /sandboxes/metrics?sandbox_ids=…`.
//!
//! Metrics are measured when asked (no history is kept): the answer is one
//! sample taken now, included when `now` lies in the requested `start..end`
//! window. CPU is the share of all CPUs used since the previous sample (or
//! since the sandbox started).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::Utc;
use e2b_api::control::types;

use super::AppState;
use super::errors::{ApiError, PathParam};
use super::query::Query;
use crate::sandbox::metrics::Usage;

fn sample(u: Usage) -> types::SandboxMetric {
    let now = Utc::now();
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    types::SandboxMetric {
        cpu_count: i32::try_from(u.cpu_count).unwrap_or(i32::MAX),
        cpu_used_pct: u.cpu_used_pct,
        disk_total: int(u.disk_total),
        disk_used: int(u.disk_used),
        mem_cache: int(u.mem_cache),
        mem_total: int(u.mem_total),
        mem_used: int(u.mem_used),
        timestamp: now,
        timestamp_unix: now.timestamp(),
    }
}

/// `GET /sandboxes/{id}/metrics?start=&end=` → 200 `[SandboxMetric]`.
pub(crate) async fn one(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<types::SandboxMetric>>, ApiError> {
    let q = Query::parse(raw.as_deref());
    let now = Utc::now().timestamp();
    let start = q.int("start", 0, 0, i64::MAX)?;
    let end = q.int("end", i64::MAX, 0, i64::MAX)?;
    if start > end {
        return Err(ApiError::bad_request("start must not be after end"));
    }
    let usage = app.manager.metrics(&id).await?;
    // A window that ends before now (minus a second of slack) holds no sample.
    let in_window = start <= now + 1 && end >= now - 1;
    Ok(Json(if in_window {
        vec![sample(usage)]
    } else {
        Vec::new()
    }))
}

/// `GET /sandboxes/metrics?sandbox_ids=a,b` → 200 `SandboxesWithMetrics` (unknown ids are omitted).
pub(crate) async fn many(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<types::SandboxesWithMetrics>, ApiError> {
    let q = Query::parse(raw.as_deref());
    let ids: Vec<&str> = q
        .get("sandbox_ids")
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::bad_request(
            "sandbox_ids must list 1 to 100 sandbox ids",
        ));
    }
    let mut out = HashMap::new();
    for id in ids {
        if let Ok(usage) = app.manager.metrics(id).await {
            out.insert(id.to_owned(), sample(usage));
        }
    }
    Ok(Json(types::SandboxesWithMetrics { sandboxes: out }))
}
