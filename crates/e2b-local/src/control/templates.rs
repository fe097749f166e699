//! Templates: the built-in `base` (the host's own system) and those made
//! from images (`e2b-local template create`).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use e2b_api::control::types;

use super::AppState;
use super::errors::{ApiError, PathParam};
use crate::sandbox::manager::BASE_TEMPLATE;

/// The `Template` entry of `base`.
fn base(app: &AppState) -> types::Template {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    types::Template {
        aliases: vec![BASE_TEMPLATE.to_owned()],
        build_count: 1,
        build_id: "00000000-0000-0000-0000-000000000000".to_owned(),
        build_status: types::TemplateBuildStatus::Ready,
        cpu_count: app.sizes.cpu_count(),
        created_at: epoch,
        created_by: None,
        disk_size_mb: app.sizes.disk_size_mb(),
        envd_version: types::EnvdVersion(app.manager.envd_version().to_owned()),
        last_spawned_at: None,
        memory_mb: app.sizes.memory_mb(),
        names: vec![BASE_TEMPLATE.to_owned()],
        public: true,
        spawn_count: 0,
        template_id: BASE_TEMPLATE.to_owned(),
        updated_at: epoch,
    }
}

/// The `Template` entry of a template made from an image.
fn from_image(app: &AppState, record: crate::templates::TemplateRecord) -> types::Template {
    let mut entry = base(app);
    entry.aliases = vec![record.name.clone()];
    entry.names = vec![record.name];
    entry.template_id = record.template_id;
    entry.created_at = record.created_at;
    entry.updated_at = record.created_at;
    entry.public = false;
    entry
}

/// `GET /templates` → 200 `[Template]`.
pub(crate) async fn list(State(app): State<AppState>) -> Json<Vec<types::Template>> {
    let mut templates = vec![base(&app)];
    for record in app.manager.image_templates() {
        templates.push(from_image(&app, record));
    }
    Json(templates)
}

/// `GET /templates/aliases/{alias}` → 200 `TemplateAliasResponse` for templates this server has.
pub(crate) async fn alias(
    State(app): State<AppState>,
    PathParam(alias): PathParam,
) -> Result<Json<types::TemplateAliasResponse>, ApiError> {
    if alias == BASE_TEMPLATE {
        return Ok(Json(types::TemplateAliasResponse {
            public: true,
            template_id: BASE_TEMPLATE.to_owned(),
        }));
    }
    if let Some(record) = app
        .manager
        .image_templates()
        .into_iter()
        .find(|t| t.name == alias)
    {
        return Ok(Json(types::TemplateAliasResponse {
            public: false,
            template_id: record.template_id,
        }));
    }
    app.manager
        .snapshots()
        .into_iter()
        .find(|s| s.name.as_deref() == Some(alias.as_str()))
        .map(|s| {
            Json(types::TemplateAliasResponse {
                public: false,
                template_id: s.template_id,
            })
        })
        .ok_or_else(|| ApiError::not_found(format!("template '{alias}' not found")))
}
