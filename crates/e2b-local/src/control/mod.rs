//! The control plane: the REST API of `spec/openapi.yml` that the SDKs call
//! with `X-API-Key` (sandboxes, snapshots, templates, metrics, secrets,
//! volumes), and the volume content API, authenticated by volume tokens.
//!
//! Request and response bodies are the generated types of
//! [`e2b_api::control::types`], so shapes follow the spec exactly; every error
//! is `{"code": <status>, "message": …}`.

pub(crate) mod auth;
pub(crate) mod builds;
pub(crate) mod errors;
pub(crate) mod listing;
pub(crate) mod metrics;
pub(crate) mod query;
pub(crate) mod sandboxes;
pub(crate) mod secrets;
pub(crate) mod snapshots;
pub(crate) mod templates;
pub(crate) mod v2;
pub(crate) mod views;
pub(crate) mod volume_content;
pub(crate) mod volumes;
pub(crate) mod wire;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use std::time::Duration;

use crate::sandbox::Manager;
use errors::ApiError;

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The sandboxes.
    pub(crate) manager: Manager,
    /// The API key clients must send.
    pub(crate) api_key: Arc<str>,
    /// Resources reported for sandboxes.
    pub(crate) sizes: Arc<views::Sizes>,
    /// The project's secrets.
    pub(crate) secrets: Arc<crate::secrets::SecretStore>,
    /// Template builds.
    pub(crate) builds: crate::builds::Builds,
    /// The volumes.
    pub(crate) volumes: Arc<crate::volumes::VolumeStore>,
    /// How long an upload to a volume may stall.
    pub(crate) body_idle_timeout: Duration,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key stays out of logs.
        f.debug_struct("AppState")
            .field("manager", &self.manager)
            .field("api_key", &crate::ids::redacted(Some(&self.api_key)))
            .field("sizes", &self.sizes)
            .field("secrets", &self.secrets)
            .field("volumes", &self.volumes)
            .finish_non_exhaustive()
    }
}

/// `GET /health` → 204 (no key needed).
async fn health() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// `GET /local/warm-pools` → 200, the state of each warm pool (see
/// [`crate::WarmPoolStatus`]); not part of E2B's API.
async fn warm_pools(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> axum::Json<Vec<crate::WarmPoolStatus>> {
    axum::Json(app.manager.warm_pools())
}

async fn not_found() -> ApiError {
    ApiError::not_found("Not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
}

/// Routes under `/sandboxes/{sandboxID}` (also served under `/v2/sandboxes/{sandboxID}`).
fn per_sandbox(router: Router<AppState>, prefix: &str) -> Router<AppState> {
    let p = |suffix: &str| format!("{prefix}/{{sandboxID}}{suffix}");
    router
        .route(&p(""), get(sandboxes::get).delete(sandboxes::kill))
        .route(&p("/metrics"), get(metrics::one))
        .route(&p("/pause"), post(sandboxes::pause))
        .route(&p("/resume"), post(sandboxes::resume))
        .route(&p("/timeout"), post(sandboxes::set_timeout))
        .route(&p("/refreshes"), post(sandboxes::refresh))
        .route(&p("/network"), put(sandboxes::update_network))
        .route(&p("/snapshots"), post(snapshots::create))
        .route(&p("/fork"), post(snapshots::fork))
}

/// The control-plane router.
pub(crate) fn router(state: AppState) -> Router {
    let mut authed = Router::new()
        .route("/sandboxes", post(sandboxes::create).get(listing::list_v1))
        .route("/v2/sandboxes", post(v2::create).get(listing::list_v2))
        .route("/sandboxes/metrics", get(metrics::many))
        .route("/sandboxes/{sandboxID}/logs", get(sandboxes::logs))
        .route("/v2/sandboxes/{sandboxID}/logs", get(sandboxes::logs_v2))
        .route("/snapshots", get(snapshots::list))
        .route("/secrets", get(secrets::list).post(secrets::create))
        .route(
            "/secrets/{secretID}",
            get(secrets::get)
                .post(secrets::update)
                .delete(secrets::delete),
        )
        .route("/volumes", get(volumes::list).post(volumes::create))
        .route(
            "/volumes/{volumeID}",
            get(volumes::get).delete(volumes::delete),
        )
        .route("/templates", get(templates::list))
        .route("/templates/aliases/{alias}", get(templates::alias))
        .route(
            "/templates/{templateID}",
            get(builds::get)
                .delete(builds::delete)
                .patch(builds::update),
        )
        .route("/v2/templates/{templateID}", patch(builds::update))
        .route("/v3/templates", post(builds::request))
        .route(
            "/templates/{templateID}/files/{hash}",
            get(builds::file_upload_link),
        )
        .route(
            "/v2/templates/{templateID}/builds/{buildID}",
            post(builds::start),
        )
        .route(
            "/templates/{templateID}/builds/{buildID}/status",
            get(builds::status),
        )
        .route(
            "/templates/{templateID}/builds/{buildID}/logs",
            get(builds::logs),
        )
        .route(
            "/templates/tags",
            post(builds::assign_tags).delete(builds::remove_tags),
        )
        .route("/templates/{templateID}/tags", get(builds::tags))
        // e2b-local's own: the warm pools' state.
        .route("/local/warm-pools", get(warm_pools));
    authed = per_sandbox(authed, "/sandboxes");
    authed = per_sandbox(authed, "/v2/sandboxes");
    authed = authed
        .route("/sandboxes/{sandboxID}/connect", post(sandboxes::connect))
        .route("/v2/sandboxes/{sandboxID}/connect", post(v2::connect));
    // Authenticated by each volume's token, not the API key.
    let content = Router::new()
        .route(
            "/volumecontent/{volumeID}/path",
            get(volume_content::stat)
                .patch(volume_content::update)
                .delete(volume_content::remove),
        )
        .route(
            "/volumecontent/{volumeID}/dir",
            get(volume_content::list).post(volume_content::make_dir),
        )
        .route(
            "/volumecontent/{volumeID}/file",
            get(volume_content::read).put(volume_content::write),
        );
    Router::new()
        .route("/health", get(health))
        // The upload URLs handed out for build files: the URL's token is
        // their authorisation (as a presigned storage URL's is).
        .route("/build-files/{hash}", put(builds::upload))
        .merge(content)
        .merge(authed.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        )))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}
