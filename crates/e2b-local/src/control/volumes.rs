//! Volumes (`/volumes`, `/volumes/{volumeID}`): create, get (with the content
//! token), list, delete.
//!
//! As upstream: a taken or malformed name is a 400, a malformed id a 400, an
//! unknown one a 404. Deleting a volume that sandboxes have mounted is not
//! refused (E2B answers 204 and deletes the data): the record and its token go
//! at once, the content after, and the sandboxes see an empty directory.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use e2b_api::control::types;

use super::AppState;
use super::errors::{ApiError, JsonBody, PathParam};
use crate::sandbox::record::VolumeMount;
use crate::volumes::{VolumeError, VolumeStore, VolumeView};

/// Where no volume may be mounted: the system the sandbox runs on, the
/// kernel's interfaces and the agent's own directory.
const RESERVED_MOUNT_PATHS: [&str; 12] = [
    "/proc", "/dev", "/sys", "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
    "/libx32", "/run/e2b",
];

/// Why a mount path is refused (upstream's rules: absolute and clean; ours:
/// not `/` nor a reserved directory).
fn mount_path_problem(path: &str) -> Option<String> {
    if path.is_empty() {
        return Some("path cannot be empty".to_owned());
    }
    if !path.starts_with('/') {
        return Some("path must be absolute".to_owned());
    }
    let clean = path.len() == 1
        || (!path.ends_with('/')
            && !path.contains("//")
            && path.split('/').skip(1).all(|p| p != "." && p != ".."));
    if !clean {
        return Some("path must not contain any '.' or '..' components".to_owned());
    }
    if path.contains('\0') {
        return Some("path must not contain NUL".to_owned());
    }
    if path == "/" {
        return Some("path cannot be '/'".to_owned());
    }
    let reserved = RESERVED_MOUNT_PATHS.iter().find(|r| {
        path == **r
            || path
                .strip_prefix(**r)
                .is_some_and(|rest| rest.starts_with('/'))
    });
    reserved.map(|r| format!("path '{path}' is inside '{r}', where nothing may be mounted"))
}

/// Resolve a create request's `volumeMounts` to volumes; every problem is
/// listed in one 400 as upstream does.
pub(crate) fn resolve_mounts(
    store: &VolumeStore,
    mounts: Vec<types::SandboxVolumeMount>,
) -> Result<Vec<VolumeMount>, ApiError> {
    let mut problems = Vec::new();
    let mut used = std::collections::HashSet::new();
    let mut resolved = Vec::with_capacity(mounts.len());
    for (index, mount) in mounts.into_iter().enumerate() {
        let Some(volume) = store.by_name(&mount.name) else {
            problems.push(format!(
                "\t- volume mount #{index}: volume '{}' not found",
                mount.name
            ));
            continue;
        };
        if let Some(problem) = mount_path_problem(&mount.path) {
            problems.push(format!("\t- volume mount #{index}: {problem}"));
            continue;
        }
        if !used.insert(mount.path.clone()) {
            problems.push(format!(
                "\t- volume mount #{index}: path '{}' is already used",
                mount.path
            ));
            continue;
        }
        resolved.push(VolumeMount {
            name: mount.name,
            path: mount.path,
            volume_id: Some(volume.volume_id),
        });
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(ApiError::bad_request(format!(
            "invalid mounts:\n{}",
            problems.join("\n")
        )))
    }
}

impl From<VolumeError> for ApiError {
    fn from(e: VolumeError) -> Self {
        let status = match &e {
            VolumeError::NotFound => StatusCode::NOT_FOUND,
            VolumeError::Invalid(_) => StatusCode::BAD_REQUEST,
            VolumeError::Store(_) => {
                tracing::error!(error = %e, "volume operation failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, e.to_string())
    }
}

/// `POST /volumes` body (the name is checked by the store, for upstream's message).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct NewVolume {
    name: String,
}

fn with_token(view: VolumeView) -> types::VolumeAndToken {
    types::VolumeAndToken {
        domain: None,
        name: view.name,
        token: view.token,
        volume_id: view.volume_id,
    }
}

/// Run a store operation off the async threads (it writes and syncs files).
async fn blocking<T: Send + 'static>(
    app: &AppState,
    op: impl FnOnce(&VolumeStore) -> Result<T, VolumeError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = app.volumes.clone();
    tokio::task::spawn_blocking(move || op(&store))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("volume operation failed: {e}"),
            )
        })?
        .map_err(ApiError::from)
}

/// A volume id must be a UUID (upstream: 400 "Invalid volume ID").
fn check_id(id: &str) -> Result<(), ApiError> {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = id.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    if parts.len() == 5
        && parts
            .iter()
            .zip(lengths)
            .all(|(p, n)| p.len() == n && hex(p))
    {
        Ok(())
    } else {
        Err(ApiError::bad_request("Invalid volume ID"))
    }
}

/// `POST /volumes` → 201 `VolumeAndToken`.
#[tracing::instrument(name = "volumes.create", skip_all)]
pub(crate) async fn create(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<NewVolume>,
) -> Result<(StatusCode, Json<types::VolumeAndToken>), ApiError> {
    let view = blocking(&app, move |s| s.create(&body.name)).await?;
    tracing::info!(volume = %view.volume_id, name = %view.name, "volume created");
    Ok((StatusCode::CREATED, Json(with_token(view))))
}

/// `GET /volumes` → 200 `[Volume]`.
pub(crate) async fn list(State(app): State<AppState>) -> Json<Vec<types::Volume>> {
    Json(
        app.volumes
            .list()
            .into_iter()
            .map(|v| types::Volume {
                name: v.name,
                volume_id: v.volume_id,
            })
            .collect(),
    )
}

/// `GET /volumes/{volumeID}` → 200 `VolumeAndToken`.
pub(crate) async fn get(
    State(app): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Json<types::VolumeAndToken>, ApiError> {
    check_id(&id)?;
    Ok(Json(with_token(app.volumes.get(&id)?)))
}

/// `DELETE /volumes/{volumeID}` → 204.
#[tracing::instrument(name = "volumes.delete", skip_all, fields(volume = %id))]
pub(crate) async fn delete(
    State(app): State<AppState>,
    PathParam(id): PathParam,
) -> Result<StatusCode, ApiError> {
    check_id(&id)?;
    blocking(&app, move |s| s.delete(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_follow_upstream_and_spare_the_system() {
        assert_eq!(mount_path_problem("/mnt/data"), None);
        assert_eq!(mount_path_problem("/home/user/data"), None);
        for bad in [
            "",
            "data",
            "/mnt/../etc",
            "/mnt/./x",
            "/mnt//x",
            "/mnt/",
            "/",
            "/proc",
            "/proc/x",
            "/usr/local",
            "/etc",
            "/run/e2b/bin",
            "/dev/shm",
        ] {
            assert!(mount_path_problem(bad).is_some(), "{bad:?}");
        }
        assert_eq!(mount_path_problem("/procfs"), None);
    }

    #[test]
    fn ids_must_be_uuids() {
        assert!(check_id("0b7d9c5e-3f7a-4c1e-9d2a-5e6f7a8b9c0d").is_ok());
        for bad in [
            "",
            "x",
            "../etc",
            "0b7d9c5e-3f7a-4c1e-9d2a-5e6f7a8b9c0",
            "0b7d9c5e3f7a4c1e9d2a5e6f7a8b9c0d0000",
        ] {
            assert_eq!(
                check_id(bad).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }
}
