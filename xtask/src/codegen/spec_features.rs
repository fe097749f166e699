//! What the SDK crates need from the pinned spec, and which optional parts it has.
//!
//! * [`REQUIREMENTS`]: operations, schemas, fields and enum values the facades use
//!   unconditionally. Every tag from [`MINIMUM_TAG`] on has them all; `codegen` stops on a spec
//!   that lacks any, naming the tag, what is missing and the minimum.
//! * [`FEATURES`]: parts of the spec newer than the minimum. `codegen` writes which ones the
//!   pinned spec has into `e2b_api::spec_features` (`crates/e2b-api/src/generated/
//!   spec_features.rs`); `e2b-api`'s build script hands them to its dependents, whose build
//!   scripts turn them into `cfg(e2b_spec = "<name>")`. A facade method needing a feature the
//!   pinned spec lacks returns `ErrorKind::NotInSpec` instead of breaking the build.
//!
//! `cargo xtask check-tags` proves both lists right: every tag from the minimum on compiles.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use serde_yaml::Value;

/// The oldest upstream tag the SDK crates compile against.
pub(crate) const MINIMUM_TAG: &str = "e2b@2.36.0";

/// Something the spec must have.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need {
    /// An operation, `(file, method, path)`.
    Operation(&'static str, &'static str, &'static str),
    /// A component schema, `(file, name)`.
    Schema(&'static str, &'static str),
    /// A property of a component schema, `(file, schema, property)`.
    Property(&'static str, &'static str, &'static str),
    /// A parameter of an operation, `(file, method, path, parameter)`.
    Parameter(&'static str, &'static str, &'static str, &'static str),
    /// A value of a protobuf enum of the envd protos, `(enum, value)`.
    ProtoEnumValue(&'static str, &'static str),
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Operation(file, method, path) => {
                write!(f, "operation {} {path} ({file})", method.to_uppercase())
            }
            Need::Schema(file, name) => write!(f, "schema {name} ({file})"),
            Need::Property(file, schema, property) => {
                write!(f, "property {schema}.{property} ({file})")
            }
            Need::Parameter(file, method, path, name) => write!(
                f,
                "parameter `{name}` of {} {path} ({file})",
                method.to_uppercase()
            ),
            Need::ProtoEnumValue(name, value) => {
                write!(f, "enum value {name}.{value} (envd protos)")
            }
        }
    }
}

const API: &str = "openapi.yml";

/// What the facades use unconditionally, as far as older specs lack it (the newest first).
pub(crate) const REQUIREMENTS: &[Need] = &[
    // e2b@2.36.0
    Need::Schema(API, "SandboxTimeoutRequest"),
    Need::Schema(API, "SandboxSnapshotRequest"),
    Need::Schema(API, "SandboxEgressProxyConfig"),
    Need::Property(API, "SandboxNetworkConfig", "egressProxy"),
    Need::Property(API, "SandboxNetworkUpdateConfig", "egressProxy"),
    Need::Schema(API, "SandboxIam"),
    Need::Schema(API, "SandboxIamTokens"),
    Need::Property(API, "NewSandbox", "iam"),
    Need::ProtoEnumValue("filesystem.FileType", "FILE_TYPE_SYMLINK"),
    // e2b@2.35.0
    Need::Operation(API, "post", "/sandboxes/{sandboxID}/fork"),
    Need::Schema(API, "SandboxForkRequest"),
    // e2b@2.31.0
    Need::Schema(API, "SandboxPauseRequest"),
    // e2b@2.25.0
    Need::Operation(API, "put", "/sandboxes/{sandboxID}/network"),
    Need::Schema(API, "SandboxNetworkUpdateConfig"),
];

/// A part of the spec newer than [`MINIMUM_TAG`] that facade code is gated on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Feature {
    /// The `cfg(e2b_spec = "…")` value.
    pub(crate) name: &'static str,
    /// What it enables, for the generated docs and error messages.
    pub(crate) summary: &'static str,
    /// The first upstream tag that has it.
    pub(crate) since: &'static str,
    /// What the spec must have.
    pub(crate) needs: &'static [Need],
}

/// Every optional feature.
pub(crate) const FEATURES: &[Feature] = &[
    Feature {
        name: "sandbox_list_filters",
        summary: "ordering a sandbox listing and filtering it by template or start time",
        since: "e2b@2.43.0",
        needs: &[
            Need::Parameter(API, "get", "/v2/sandboxes", "order"),
            Need::Parameter(API, "get", "/v2/sandboxes", "startedAfter"),
            Need::Parameter(API, "get", "/v2/sandboxes", "template"),
            Need::Schema(API, "OrderDirection"),
        ],
    },
    Feature {
        name: "secrets",
        summary: "the project's secrets (`Secret`: create, update, get_info, list, exists, destroy)",
        since: "e2b@2.43.0",
        needs: &[
            Need::Operation(API, "get", "/secrets"),
            Need::Operation(API, "post", "/secrets"),
            Need::Operation(API, "get", "/secrets/{secretID}"),
            Need::Operation(API, "post", "/secrets/{secretID}"),
            Need::Operation(API, "delete", "/secrets/{secretID}"),
            Need::Schema(API, "NewSecret"),
            Need::Schema(API, "SecretUpdate"),
            Need::Schema(API, "SecretMetadata"),
        ],
    },
];

/// The spec documents, parsed once.
pub(crate) struct Documents {
    openapi: Vec<(&'static str, Value)>,
    proto_enum_values: BTreeSet<(String, String)>,
}

impl Documents {
    /// Reads the pinned spec of the workspace at `root`.
    pub(crate) fn read(root: &Path) -> anyhow::Result<Self> {
        let mut openapi = Vec::new();
        for file in ["openapi.yml", "openapi-volumecontent.yml", "envd/envd.yaml"] {
            let path = root.join("spec").join(file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let value: Value =
                serde_yaml::from_str(&text).with_context(|| format!("parsing spec/{file}"))?;
            openapi.push((file, value));
        }
        let include = root.join("spec/envd");
        let fds = protox::compile(
            ["process/process.proto", "filesystem/filesystem.proto"],
            [&include],
        )
        .context("compiling envd protos with protox")?;
        let mut proto_enum_values = BTreeSet::new();
        for file in &fds.file {
            for e in &file.enum_type {
                for v in &e.value {
                    proto_enum_values.insert((
                        format!("{}.{}", file.package(), e.name()),
                        v.name().to_owned(),
                    ));
                }
            }
        }
        Ok(Documents {
            openapi,
            proto_enum_values,
        })
    }

    fn openapi(&self, file: &str) -> Option<&Value> {
        self.openapi
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, v)| v)
    }

    /// Whether the spec has `need`.
    pub(crate) fn has(&self, need: &Need) -> bool {
        let operation = |file: &str, method: &str, path: &str| {
            self.openapi(file)
                .and_then(|d| d.get("paths"))
                .and_then(|p| p.get(path))
                .and_then(|i| i.get(method))
        };
        let schema = |file: &str, name: &str| {
            self.openapi(file)
                .and_then(|d| d.get("components"))
                .and_then(|c| c.get("schemas"))
                .and_then(|s| s.get(name))
        };
        match *need {
            Need::Operation(file, method, path) => operation(file, method, path).is_some(),
            Need::Schema(file, name) => schema(file, name).is_some(),
            Need::Property(file, name, property) => schema(file, name)
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.get(property))
                .is_some(),
            Need::Parameter(file, method, path, name) => {
                let parameters = operation(file, method, path)
                    .and_then(|op| op.get("parameters"))
                    .and_then(Value::as_sequence);
                let shared = self
                    .openapi(file)
                    .and_then(|d| d.get("components"))
                    .and_then(|c| c.get("parameters"));
                parameters.into_iter().flatten().any(|p| {
                    let p = match p.get("$ref").and_then(Value::as_str) {
                        Some(r) => shared
                            .and_then(|s| s.get(r.rsplit('/').next().unwrap_or_default()))
                            .unwrap_or(&Value::Null),
                        None => p,
                    };
                    p.get("name").and_then(Value::as_str) == Some(name)
                })
            }
            Need::ProtoEnumValue(name, value) => self
                .proto_enum_values
                .contains(&(name.to_owned(), value.to_owned())),
        }
    }
}

/// A spec older than the SDK crates support: what it lacks.
#[derive(Debug)]
pub(crate) struct BelowMinimum {
    pub(crate) tag: String,
    pub(crate) missing: Vec<String>,
}

impl std::fmt::Display for BelowMinimum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the pinned spec ({}) is older than the SDK crates support: it lacks\n  {}\n\
             The oldest supported tag is {MINIMUM_TAG}; pin it or a newer one with\n    \
             cargo xtask sync-spec --tag {MINIMUM_TAG}",
            self.tag,
            self.missing.join("\n  ")
        )
    }
}

impl std::error::Error for BelowMinimum {}

/// Fails with [`BelowMinimum`] when the spec of `tag` lacks a requirement.
pub(crate) fn check_requirements(docs: &Documents, tag: &str) -> anyhow::Result<()> {
    let missing: Vec<String> = REQUIREMENTS
        .iter()
        .filter(|n| !docs.has(n))
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(BelowMinimum {
        tag: tag.to_owned(),
        missing,
    }
    .into())
}

/// The features the spec has, in [`FEATURES`] order.
pub(crate) fn enabled(docs: &Documents) -> Vec<&'static Feature> {
    FEATURES
        .iter()
        .filter(|f| f.needs.iter().all(|n| docs.has(n)))
        .collect()
}

/// The generated `e2b_api::spec_features` module.
pub(crate) fn render(tag: &str, enabled: &[&Feature]) -> proc_macro2::TokenStream {
    let all = FEATURES.iter().map(|f| {
        let (name, summary, since) = (f.name, f.summary, f.since);
        quote::quote! { Feature { name: #name, summary: #summary, since: #since } }
    });
    let on = enabled.iter().map(|f| f.name);
    let names = FEATURES.iter().map(|f| f.name);
    let doc_on = if enabled.is_empty() {
        "none".to_owned()
    } else {
        enabled
            .iter()
            .map(|f| format!("`{}`", f.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let doc_on = format!(" The features of the pinned spec: {doc_on}.");
    quote::quote! {
        //! Which optional parts of upstream's spec the pinned tag has.
        //!
        //! Facade code using a feature is compiled under `cfg(e2b_spec = "<name>")` (this
        //! crate's build script hands [`ENABLED`] to the crates built on it); without it, the
        //! facade method returns an `ErrorKind::NotInSpec` error.

        /// The upstream tag of the pinned spec.
        pub const TAG: &str = #tag;

        /// The oldest upstream tag the SDK crates compile against.
        pub const MINIMUM_TAG: &str = #MINIMUM_TAG;

        /// An optional part of the spec.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct Feature {
            /// The `cfg(e2b_spec = "…")` value.
            pub name: &'static str,
            /// What it enables.
            pub summary: &'static str,
            /// The first upstream tag that has it.
            pub since: &'static str,
        }

        /// Every optional feature, whether the pinned spec has it or not.
        pub const ALL: &[Feature] = &[#(#all),*];

        /// The names of [`ALL`].
        pub const NAMES: &[&str] = &[#(#names),*];

        #[doc = #doc_on]
        pub const ENABLED: &[&str] = &[#(#on),*];

        /// The feature named `name`, if there is one.
        pub fn feature(name: &str) -> Option<&'static Feature> {
            ALL.iter().find(|f| f.name == name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_spec_meets_the_requirements() {
        let root = crate::workspace_root();
        let docs = Documents::read(&root).unwrap();
        let tag = crate::git::read_pin(&root).unwrap().tag;
        check_requirements(&docs, &tag).unwrap();
        // Every requirement and feature names something the checker can find.
        for need in REQUIREMENTS
            .iter()
            .chain(FEATURES.iter().flat_map(|f| f.needs))
        {
            assert!(docs.has(need), "{need} not found in the pinned spec");
        }
        assert!(!docs.has(&Need::Schema(API, "NoSuchSchema")));
        assert!(!docs.has(&Need::Parameter(API, "get", "/v2/sandboxes", "nope")));
        assert!(!docs.has(&Need::ProtoEnumValue(
            "filesystem.FileType",
            "FILE_TYPE_NOPE"
        )));
    }

    #[test]
    fn below_the_minimum_codegen_names_what_is_missing() {
        let Some(bundle) = crate::git::test_bundle() else {
            return;
        };
        let snapshot = crate::git::read_spec_at(bundle.to_str().unwrap(), "e2b@2.35.3").unwrap();
        let dir = std::env::temp_dir().join(format!("e2b-xtask-features-{}", std::process::id()));
        for (file, bytes) in &snapshot.files {
            let path = dir.join("spec").join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let docs = Documents::read(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let docs = docs.unwrap();
        let err = check_requirements(&docs, "e2b@2.35.3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("(e2b@2.35.3)"), "{err}");
        assert!(err.contains("schema SandboxIam (openapi.yml)"), "{err}");
        assert!(err.contains("FILE_TYPE_SYMLINK"), "{err}");
        assert!(!err.contains("fork"), "{err}");
        assert!(
            err.contains(&format!("oldest supported tag is {MINIMUM_TAG}")),
            "{err}"
        );
        assert!(enabled(&docs).is_empty());
    }
}
