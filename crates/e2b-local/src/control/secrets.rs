//! Secrets (`/secrets`, `/secrets/{secretID}`): create, update, get, list, delete.
//!
//! No response carries a value: the handlers only ever see [`SecretView`]s. Lists are
//! in name order with an opaque cursor in `x-next-token`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use e2b_api::control::types;

use super::AppState;
use super::errors::{ApiError, JsonBody, PathParam};
use super::listing::DEFAULT_LIMIT;
use super::query::Query;
use crate::secrets::{SecretError, SecretStore, SecretView};

const TOKEN: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> Self {
        let status = match &e {
            SecretError::NotFound(_) => StatusCode::NOT_FOUND,
            SecretError::Conflict(_) => StatusCode::CONFLICT,
            SecretError::Invalid(_) => StatusCode::BAD_REQUEST,
            SecretError::Store(_) | SecretError::Cipher(_) => {
                tracing::error!(error = %e, "secret operation failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, e.to_string())
    }
}

fn wire(view: SecretView) -> types::Secret {
    types::Secret {
        created_at: view.created_at,
        current_version: view.current_version,
        metadata: types::SecretMetadata(
            view.metadata
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.try_into().ok()?)))
                .collect(),
        ),
        name: view.name,
        secret_id: view.secret_id,
        updated_at: view.updated_at,
    }
}

fn metadata(m: Option<types::SecretMetadata>) -> Option<BTreeMap<String, String>> {
    m.map(|m| m.0.into_iter().map(|(k, v)| (k, v.into())).collect())
}

/// Run a store operation off the async threads (it writes and syncs files).
async fn blocking<T: Send + 'static>(
    app: &AppState,
    op: impl FnOnce(&SecretStore) -> Result<T, SecretError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = app.secrets.clone();
    tokio::task::spawn_blocking(move || op(&store))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("secret operation failed: {e}"),
            )
        })?
        .map_err(ApiError::from)
}

/// `POST /secrets` → 201 `Secret`; 409 when the name is taken.
#[tracing::instrument(name = "secrets.create", skip_all)]
pub(crate) async fn create(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<types::NewSecret>,
) -> Result<(StatusCode, Json<types::Secret>), ApiError> {
    let types::NewSecret {
        name,
        value,
        metadata: meta,
    } = body;
    let view = blocking(&app, move |s| {
        s.create(&name, &value, metadata(meta).unwrap_or_default())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(wire(view))))
}

/// `POST /secrets/{secretID}` → 200 `Secret` with the next version; 404 when unknown.
#[tracing::instrument(name = "secrets.update", skip_all, fields(secret = %reference))]
pub(crate) async fn update(
    State(app): State<AppState>,
    PathParam(reference): PathParam,
    JsonBody(body): JsonBody<types::SecretUpdate>,
) -> Result<Json<types::Secret>, ApiError> {
    let types::SecretUpdate {
        value,
        metadata: meta,
    } = body;
    let view = blocking(&app, move |s| s.update(&reference, &value, metadata(meta))).await?;
    Ok(Json(wire(view)))
}

/// `GET /secrets/{secretID}` → 200 `Secret`; 404 when unknown.
pub(crate) async fn get(
    State(app): State<AppState>,
    PathParam(reference): PathParam,
) -> Result<Json<types::Secret>, ApiError> {
    let view = blocking(&app, move |s| s.get(&reference)).await?;
    Ok(Json(wire(view)))
}

/// `DELETE /secrets/{secretID}` → 204; 404 when unknown.
#[tracing::instrument(name = "secrets.delete", skip_all, fields(secret = %reference))]
pub(crate) async fn delete(
    State(app): State<AppState>,
    PathParam(reference): PathParam,
) -> Result<StatusCode, ApiError> {
    blocking(&app, move |s| s.delete(&reference)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /secrets?limit=&nextToken=` → 200 `[Secret]` in name order; `x-next-token` when
/// more follow.
pub(crate) async fn list(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(raw.as_deref());
    let limit = usize::try_from(q.int("limit", DEFAULT_LIMIT, 1, 100)?).unwrap_or(100);
    let after = match q.get("nextToken").filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(
            TOKEN
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::bad_request("Invalid next token"))?,
        ),
    };
    let (page, next) = app.secrets.list(after.as_deref(), limit);
    let page: Vec<types::Secret> = page.into_iter().map(wire).collect();
    let mut response = Json(page).into_response();
    if let Some(next) = next
        && let Ok(value) = HeaderValue::from_str(&TOKEN.encode(next))
    {
        response.headers_mut().insert("x-next-token", value);
    }
    Ok(response)
}
