//! What a build is asked to do: the `TemplateBuildStartV2` body, checked.

use serde::Deserialize;

/// The registry credentials of `fromImage`.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Registry {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) password: Option<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("kind", &self.kind)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One step as the wire has it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireStep {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) args: Vec<String>,
    #[serde(default)]
    pub(crate) files_hash: Option<String>,
    #[serde(default)]
    pub(crate) force: bool,
}

/// The body of `POST /v2/templates/{id}/builds/{buildID}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartRequest {
    #[serde(default)]
    pub(crate) from_image: Option<String>,
    #[serde(default)]
    pub(crate) from_template: Option<String>,
    #[serde(default)]
    pub(crate) from_image_registry: Option<Registry>,
    #[serde(default)]
    pub(crate) force: bool,
    #[serde(default)]
    pub(crate) steps: Vec<WireStep>,
    #[serde(default)]
    pub(crate) start_cmd: Option<String>,
    #[serde(default)]
    pub(crate) ready_cmd: Option<String>,
}

/// A step the builder runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// `RUN [command, user?]`.
    Run { cmd: String, user: Option<String> },
    /// `COPY [src, dest, owner?, mode?]` of the uploaded files `hash`.
    Copy {
        src: String,
        dest: String,
        owner: Option<String>,
        mode: Option<String>,
        hash: String,
    },
    /// `ENV [k1, v1, k2, v2, …]`.
    Env(Vec<(String, String)>),
    /// `WORKDIR [path]`.
    Workdir(String),
    /// `USER [name, sudo?]`.
    User { name: String, sudo: bool },
}

/// A checked step and what its cache key covers.
#[derive(Clone, Debug)]
pub(crate) struct PlannedStep {
    pub(crate) step: Step,
    /// The wire's type, arguments and files hash (the cache key's input).
    pub(crate) kind: String,
    pub(crate) args: Vec<String>,
    pub(crate) files_hash: Option<String>,
    /// Rebuild this step (and every later one) even when cached.
    pub(crate) force: bool,
}

/// Check every step; the error names the step (1-based, as the SDKs count
/// them after the base).
pub(crate) fn plan(steps: &[WireStep]) -> Result<Vec<PlannedStep>, String> {
    steps
        .iter()
        .enumerate()
        .map(|(i, wire)| {
            let step = parse(wire).map_err(|why| format!("step {}: {why}", i + 1))?;
            Ok(PlannedStep {
                step,
                kind: wire.kind.to_ascii_uppercase(),
                args: wire.args.clone(),
                files_hash: wire.files_hash.clone(),
                force: wire.force,
            })
        })
        .collect()
}

fn parse(wire: &WireStep) -> Result<Step, String> {
    let args = &wire.args;
    let arg = |i: usize| args.get(i).filter(|a| !a.is_empty()).cloned();
    match wire.kind.to_ascii_uppercase().as_str() {
        "RUN" => {
            let cmd = arg(0).ok_or("RUN requires a command")?;
            Ok(Step::Run { cmd, user: arg(1) })
        }
        "COPY" | "ADD" => {
            let (Some(src), Some(dest)) = (arg(0), arg(1)) else {
                return Err("COPY requires a source and a destination".to_owned());
            };
            let escapes = src.starts_with('/')
                || std::path::Path::new(&src)
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir));
            if escapes {
                return Err(format!(
                    "COPY source {src:?} is outside the build context: use a path relative to it"
                ));
            }
            let hash = wire
                .files_hash
                .clone()
                .filter(|h| is_files_hash(h))
                .ok_or("COPY requires the files' hash (64 hex digits)")?;
            let mode = arg(3);
            if mode
                .as_deref()
                .is_some_and(|m| u32::from_str_radix(m, 8).is_err())
            {
                return Err(format!("COPY mode {:?} is not octal", args[3]));
            }
            Ok(Step::Copy {
                src,
                dest,
                owner: arg(2),
                mode,
                hash,
            })
        }
        "ENV" | "ARG" => {
            if args.is_empty() || !args.len().is_multiple_of(2) {
                return Err("ENV requires key and value pairs".to_owned());
            }
            let pairs: Vec<(String, String)> = args
                .chunks(2)
                .map(|kv| (kv[0].clone(), kv[1].clone()))
                .collect();
            if let Some((key, _)) = pairs.iter().find(|(k, _)| !is_env_name(k)) {
                return Err(format!("{key:?} is not a valid environment variable name"));
            }
            Ok(Step::Env(pairs))
        }
        "WORKDIR" => Ok(Step::Workdir(arg(0).ok_or("WORKDIR requires a path")?)),
        "USER" => {
            let name = arg(0).ok_or("USER requires a user name")?;
            if !is_user_name(&name) {
                return Err(format!("{name:?} is not a valid user name"));
            }
            Ok(Step::User {
                name,
                sudo: arg(1).as_deref() == Some("true"),
            })
        }
        other => Err(format!("unknown step type {other:?}")),
    }
}

/// A files hash: 64 lowercase hex digits.
pub(crate) fn is_files_hash(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A POSIX-portable account name (what `useradd` accepts).
pub(crate) fn is_user_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 32
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Quote `s` for a POSIX shell.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(kind: &str, args: &[&str]) -> WireStep {
        WireStep {
            kind: kind.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            files_hash: None,
            force: false,
        }
    }

    #[test]
    fn steps_are_checked_and_named_by_position() {
        let planned = plan(&[
            wire("RUN", &["echo hi", "root"]),
            wire("ENV", &["A", "1", "B", "two"]),
            wire("WORKDIR", &["/app"]),
            wire("USER", &["bob", "true"]),
        ])
        .unwrap();
        assert_eq!(
            planned[0].step,
            Step::Run {
                cmd: "echo hi".into(),
                user: Some("root".into())
            }
        );
        assert_eq!(
            planned[1].step,
            Step::Env(vec![("A".into(), "1".into()), ("B".into(), "two".into())])
        );
        assert_eq!(
            planned[3].step,
            Step::User {
                name: "bob".into(),
                sudo: true
            }
        );
        let err = plan(&[wire("RUN", &["true"]), wire("FROB", &[])]).unwrap_err();
        assert_eq!(err, "step 2: unknown step type \"FROB\"");
        assert!(
            plan(&[wire("COPY", &["a", "/b"])])
                .unwrap_err()
                .contains("hash")
        );
        for outside in ["../secret", "/etc/passwd", "a/../../b"] {
            let mut copy = wire("COPY", &[outside, "/b"]);
            copy.files_hash = Some("a".repeat(64));
            assert!(
                plan(&[copy])
                    .unwrap_err()
                    .contains("outside the build context")
            );
        }
        assert!(plan(&[wire("ENV", &["A"])]).is_err());
        assert!(plan(&[wire("ENV", &["1A", "x"])]).is_err());
        assert!(plan(&[wire("USER", &["Bad;name"])]).is_err());
        let mut copy = wire("COPY", &["a", "/b", "", "9z"]);
        copy.files_hash = Some("a".repeat(64));
        assert!(plan(&[copy]).unwrap_err().contains("octal"));
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
