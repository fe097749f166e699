//! The steps of a template and their wire form (`TemplateBuildStartV2`), as the official
//! Python SDK serializes them.

use std::fmt;

use serde::Serialize;

/// The kind of a build step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum InstructionType {
    /// Copy files from the local context.
    Copy,
    /// Set environment variables.
    Env,
    /// Run a shell command.
    Run,
    /// Set the working directory.
    Workdir,
    /// Set the user.
    User,
}

impl InstructionType {
    /// The name on the wire and in a Dockerfile (`COPY`, `RUN`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            InstructionType::Copy => "COPY",
            InstructionType::Env => "ENV",
            InstructionType::Run => "RUN",
            InstructionType::Workdir => "WORKDIR",
            InstructionType::User => "USER",
        }
    }
}

impl fmt::Display for InstructionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One build step as the builder recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Instruction {
    /// What the step does.
    pub kind: InstructionType,
    /// Its arguments: `[src, dest, user, mode]` for `COPY`, `[command, user?]` for `RUN`,
    /// `[k1, v1, k2, v2, …]` for `ENV`, `[path]` / `[user]` for `WORKDIR` / `USER`.
    pub args: Vec<String>,
    /// Rebuild this layer even if it is cached.
    pub force: bool,
    /// `COPY`: upload the files even if the server has them.
    pub force_upload: Option<bool>,
    /// `COPY`: archive the targets of symbolic links instead of the links.
    pub resolve_symlinks: Option<bool>,
    /// `COPY`: gzip the upload (default: yes).
    pub gzip: Option<bool>,
}

impl Instruction {
    pub(crate) fn new(kind: InstructionType, args: Vec<String>, force: bool) -> Self {
        Instruction {
            kind,
            args,
            force,
            force_upload: None,
            resolve_symlinks: None,
            gzip: None,
        }
    }

    /// A one-line description, for logs and errors (`RUN apt-get update`).
    pub fn describe(&self) -> String {
        match self.kind {
            InstructionType::Copy => format!(
                "COPY {} {}",
                self.args.first().map_or("", String::as_str),
                self.args.get(1).map_or("", String::as_str)
            ),
            _ => format!("{} {}", self.kind, self.args.join(" ")),
        }
    }
}

/// Credentials for the registry the base image is pulled from.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum RegistryConfig {
    /// A registry with a user name and password.
    #[serde(rename = "registry")]
    Registry {
        /// The user name.
        username: String,
        /// The password (never printed).
        password: String,
    },
    /// AWS Elastic Container Registry.
    #[serde(rename = "aws")]
    Aws {
        /// The access key id.
        #[serde(rename = "awsAccessKeyId")]
        access_key_id: String,
        /// The secret access key (never printed).
        #[serde(rename = "awsSecretAccessKey")]
        secret_access_key: String,
        /// The region.
        #[serde(rename = "awsRegion")]
        region: String,
    },
    /// Google Artifact Registry or Container Registry.
    #[serde(rename = "gcp")]
    Gcp {
        /// The service account's JSON key (never printed).
        #[serde(rename = "serviceAccountJson")]
        service_account_json: String,
    },
}

impl fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryConfig::Registry { username, .. } => f
                .debug_struct("Registry")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            RegistryConfig::Aws {
                access_key_id,
                region,
                ..
            } => f
                .debug_struct("Aws")
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"<redacted>")
                .field("region", region)
                .finish(),
            RegistryConfig::Gcp { .. } => f
                .debug_struct("Gcp")
                .field("service_account_json", &"<redacted>")
                .finish(),
        }
    }
}

/// One step of the build request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct WireStep {
    #[serde(rename = "type")]
    pub(crate) kind: InstructionType,
    pub(crate) args: Vec<String>,
    pub(crate) force: bool,
    #[serde(rename = "filesHash", skip_serializing_if = "Option::is_none")]
    pub(crate) files_hash: Option<String>,
    #[serde(rename = "forceUpload", skip_serializing_if = "Option::is_none")]
    pub(crate) force_upload: Option<bool>,
}

/// The body of `POST /v2/templates/{templateID}/builds/{buildID}`, in the key order the
/// official Python SDK writes.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub(crate) struct WireTemplate {
    pub(crate) steps: Vec<WireStep>,
    pub(crate) force: bool,
    #[serde(rename = "fromImage", skip_serializing_if = "Option::is_none")]
    pub(crate) from_image: Option<String>,
    #[serde(rename = "fromTemplate", skip_serializing_if = "Option::is_none")]
    pub(crate) from_template: Option<String>,
    #[serde(rename = "fromImageRegistry", skip_serializing_if = "Option::is_none")]
    pub(crate) from_image_registry: Option<RegistryConfig>,
    #[serde(rename = "startCmd", skip_serializing_if = "Option::is_none")]
    pub(crate) start_cmd: Option<String>,
    #[serde(rename = "readyCmd", skip_serializing_if = "Option::is_none")]
    pub(crate) ready_cmd: Option<String>,
}

impl fmt::Debug for WireTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireTemplate")
            .field("steps", &self.steps)
            .field("force", &self.force)
            .field("from_image", &self.from_image)
            .field("from_template", &self.from_template)
            .field("from_image_registry", &self.from_image_registry)
            .field("start_cmd", &self.start_cmd)
            .field("ready_cmd", &self.ready_cmd)
            .finish()
    }
}
