//! REST clients generated with progenitor: the control plane and volume
//! content API (`e2b-api`) and envd's HTTP API (`e2b-envd`).

use anyhow::Context;
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypeImpl};

use super::open_enums;
use super::openapi_patch::{self, Keep};

/// One progenitor run: a spec file, what to keep of it, and where the output
/// lives inside its crate (used to spell absolute type paths).
#[derive(Debug)]
pub(crate) struct RestJob {
    pub(crate) spec: &'static str,
    pub(crate) keep: Keep,
    /// Module path of the generated file inside its crate, e.g. `crate::control`.
    pub(crate) module: &'static str,
    /// `Expected` when the crate implements `ClientHooks` itself.
    pub(crate) hooks: HooksMode,
    /// Whether the client carries a `crate::Transport` (the hand-written seam every
    /// request of the crate's clients is sent through).
    pub(crate) transport: bool,
}

/// The tags of `openapi.yml` the official SDKs wrap.
pub(crate) const CONTROL_PLANE_TAGS: &[&str] = &[
    "sandboxes",
    "snapshots",
    "templates",
    "tags",
    "volumes",
    "secrets",
];

/// The envd HTTP paths an SDK calls (the rest is orchestrator-internal).
pub(crate) const ENVD_HTTP_PATHS: &[&str] = &["/files", "/health", "/metrics", "/envs"];

pub(crate) fn generate(job: &RestJob, source: &str) -> anyhow::Result<proc_macro2::TokenStream> {
    let patched = openapi_patch::patch(source, &job.keep)
        .with_context(|| format!("patching {}", job.spec))?;
    let spec: openapiv3::OpenAPI = serde_yaml::from_value(patched.spec)
        .with_context(|| format!("reading patched {} as OpenAPI 3", job.spec))?;

    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_hooks(job.hooks)
        .with_derive("PartialEq");
    if job.transport {
        settings.with_inner_type(quote::quote!(crate::Transport));
    }
    for (schema, item) in &patched.comma_lists {
        let item = if item == "String" {
            "::std::string::String".to_owned()
        } else {
            format!("{}::types::{item}", job.module)
        };
        settings.with_replacement(
            schema,
            format!("crate::CommaSeparated<{item}>"),
            [TypeImpl::Default].into_iter(),
        );
    }
    // Enums a response can carry are defined by `open_enums`, not progenitor.
    for e in &patched.open_enums {
        settings.with_replacement(
            &e.name,
            format!("{}::types::{}", job.module, e.name),
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        );
    }
    let mut generator = Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .map_err(|e| anyhow::anyhow!("progenitor failed on {}: {e}", job.spec))?;
    open_enums::insert(tokens, &patched.open_enums)
        .with_context(|| format!("adding the open enums of {}", job.spec))
}
