//! Templates after their build: existence, tags, list, get, delete.

use std::time::SystemTime;

use e2b_api::control::types;
use e2b_core::{Error, NotFoundKind, Result};
use e2b_sandbox::Client;
use e2b_sandbox::raw;
use tracing::Instrument as _;

use crate::build::BuildStatus;

fn template_not_found(e: Error) -> Error {
    e.with_not_found_kind(NotFoundKind::Template)
}

/// Tags assigned to a build ([`Template::assign_tags`](crate::Template::assign_tags)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateTagInfo {
    /// The build the tags point to.
    pub build_id: String,
    /// The tags assigned.
    pub tags: Vec<String>,
}

/// One tag of a template ([`Template::get_tags`](crate::Template::get_tags)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateTag {
    /// The tag.
    pub tag: String,
    /// The build it points to.
    pub build_id: String,
    /// When it was assigned.
    pub created_at: SystemTime,
}

/// A template of the team ([`Template::list`](crate::Template::list)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateInfo {
    /// Its id.
    pub template_id: String,
    /// Its latest build.
    pub build_id: String,
    /// Its names (`namespace/name` for other teams' public templates).
    pub names: Vec<String>,
    /// Its aliases (deprecated upstream in favour of names).
    pub aliases: Vec<String>,
    /// Whether other teams may use it.
    pub public: bool,
    /// The status of its latest build.
    pub build_status: BuildStatus,
    /// How many builds it has.
    pub build_count: i32,
    /// vCPUs of its sandboxes.
    pub cpu_count: u32,
    /// Memory of its sandboxes, in MiB.
    pub memory_mb: i32,
    /// Disk of its sandboxes, in MiB.
    pub disk_size_mb: i32,
    /// The envd version of its latest build.
    pub envd_version: String,
    /// How many sandboxes were started from it.
    pub spawn_count: i64,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last updated.
    pub updated_at: SystemTime,
    /// When a sandbox was last started from it.
    pub last_spawned_at: Option<SystemTime>,
}

impl From<types::Template> for TemplateInfo {
    fn from(t: types::Template) -> Self {
        TemplateInfo {
            template_id: t.template_id,
            build_id: t.build_id,
            names: t.names,
            aliases: t.aliases,
            public: t.public,
            build_status: t.build_status.into(),
            build_count: t.build_count,
            cpu_count: t.cpu_count.0.get(),
            memory_mb: t.memory_mb.0,
            disk_size_mb: t.disk_size_mb.0,
            envd_version: t.envd_version.0,
            spawn_count: t.spawn_count,
            created_at: t.created_at.into(),
            updated_at: t.updated_at.into(),
            last_spawned_at: t.last_spawned_at.map(Into::into),
        }
    }
}

/// One build of a template ([`TemplateDetails::builds`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateBuildSummary {
    /// The build's id.
    pub build_id: String,
    /// Where it is.
    pub status: BuildStatus,
    /// vCPUs.
    pub cpu_count: u32,
    /// Memory, in MiB.
    pub memory_mb: i32,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last updated.
    pub updated_at: SystemTime,
    /// When it finished.
    pub finished_at: Option<SystemTime>,
}

/// A template and its builds ([`Template::get`](crate::Template::get)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateDetails {
    /// Its id.
    pub template_id: String,
    /// Its names.
    pub names: Vec<String>,
    /// Its aliases.
    pub aliases: Vec<String>,
    /// Whether other teams may use it.
    pub public: bool,
    /// Its builds.
    pub builds: Vec<TemplateBuildSummary>,
    /// How many sandboxes were started from it.
    pub spawn_count: i64,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last updated.
    pub updated_at: SystemTime,
    /// When a sandbox was last started from it.
    pub last_spawned_at: Option<SystemTime>,
}

impl From<types::TemplateWithBuilds> for TemplateDetails {
    fn from(t: types::TemplateWithBuilds) -> Self {
        TemplateDetails {
            template_id: t.template_id,
            names: t.names,
            aliases: t.aliases,
            public: t.public,
            builds: t
                .builds
                .into_iter()
                .map(|b| TemplateBuildSummary {
                    build_id: b.build_id.to_string(),
                    status: b.status.into(),
                    cpu_count: b.cpu_count.0.get(),
                    memory_mb: b.memory_mb.0,
                    created_at: b.created_at.into(),
                    updated_at: b.updated_at.into(),
                    finished_at: b.finished_at.map(Into::into),
                })
                .collect(),
            spawn_count: t.spawn_count,
            created_at: t.created_at.into(),
            updated_at: t.updated_at.into(),
            last_spawned_at: t.last_spawned_at.map(Into::into),
        }
    }
}

pub(crate) async fn exists(client: &Client, name: &str) -> Result<bool> {
    let span = tracing::info_span!("e2b.template.exists", name);
    let api = raw::control(client);
    let call = api.get_templates_aliases_alias().alias(name).send();
    match raw::http(client)
        .call(
            "get_templates_aliases_alias",
            client.request_timeout(),
            call,
        )
        .instrument(span)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        // The name exists, owned by another team.
        Err(e) if e.status() == Some(403) => Ok(true),
        Err(e) => Err(e),
    }
}

pub(crate) async fn assign_tags(
    client: &Client,
    target: &str,
    tags: Vec<String>,
) -> Result<TemplateTagInfo> {
    let span = tracing::info_span!("e2b.template.assign_tags", target);
    let api = raw::control(client);
    let body = types::AssignTemplateTagsRequest {
        tags,
        target: target.to_owned(),
    };
    let call = api.post_templates_tags().body(body).send();
    let tags = raw::http(client)
        .call("post_templates_tags", client.request_timeout(), call)
        .instrument(span)
        .await
        .map_err(template_not_found)?
        .into_inner();
    Ok(TemplateTagInfo {
        build_id: tags.build_id.to_string(),
        tags: tags.tags,
    })
}

pub(crate) async fn remove_tags(client: &Client, name: &str, tags: Vec<String>) -> Result<()> {
    let span = tracing::info_span!("e2b.template.remove_tags", name);
    let api = raw::control(client);
    let body = types::DeleteTemplateTagsRequest {
        name: name.to_owned(),
        tags,
    };
    let call = api.delete_templates_tags().body(body).send();
    raw::http(client)
        .call("delete_templates_tags", client.request_timeout(), call)
        .instrument(span)
        .await
        .map_err(template_not_found)?;
    Ok(())
}

pub(crate) async fn get_tags(client: &Client, template: &str) -> Result<Vec<TemplateTag>> {
    let span = tracing::info_span!("e2b.template.get_tags", template);
    let api = raw::control(client);
    let call = api
        .get_templates_template_id_tags()
        .template_id(template)
        .send();
    let tags = raw::http(client)
        .call(
            "get_templates_template_id_tags",
            client.request_timeout(),
            call,
        )
        .instrument(span)
        .await
        .map_err(template_not_found)?
        .into_inner();
    Ok(tags
        .into_iter()
        .map(|t| TemplateTag {
            tag: t.tag,
            build_id: t.build_id.to_string(),
            created_at: t.created_at.into(),
        })
        .collect())
}

pub(crate) async fn list(client: &Client) -> Result<Vec<TemplateInfo>> {
    let span = tracing::info_span!("e2b.template.list");
    let api = raw::control(client);
    let templates = raw::http(client)
        .call(
            "get_templates",
            client.request_timeout(),
            api.get_templates().send(),
        )
        .instrument(span)
        .await?
        .into_inner();
    Ok(templates.into_iter().map(TemplateInfo::from).collect())
}

pub(crate) async fn get(client: &Client, template: &str) -> Result<TemplateDetails> {
    let span = tracing::info_span!("e2b.template.get", template);
    let api = raw::control(client);
    let call = api.get_templates_template_id().template_id(template).send();
    let details = raw::http(client)
        .call("get_templates_template_id", client.request_timeout(), call)
        .instrument(span)
        .await
        .map_err(template_not_found)?
        .into_inner();
    Ok(details.into())
}

pub(crate) async fn delete(client: &Client, template: &str) -> Result<bool> {
    let span = tracing::info_span!("e2b.template.delete", template);
    let api = raw::control(client);
    let call = api
        .delete_templates_template_id()
        .template_id(template)
        .send();
    match raw::http(client)
        .call(
            "delete_templates_template_id",
            client.request_timeout(),
            call,
        )
        .instrument(span)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}
