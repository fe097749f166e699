//! [`BuildError`]: why a build failed, and at which step.

use std::fmt;

use e2b_core::{Error, ErrorKind};

use crate::logs::LogEntry;

/// The step a build failed at, as the build service reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildStep {
    /// Preparing the base image or template.
    Base,
    /// One of the template's steps.
    Instruction {
        /// Its 0-based position among the template's steps.
        index: usize,
        /// What it was (`RUN apt-get install -y foo`).
        description: String,
    },
    /// Finishing: the start and ready commands, the snapshot.
    Finalize,
    /// A step name this SDK does not know.
    Other(String),
}

impl BuildStep {
    /// The step the service names `step` (`base`, `finalize`, or the 1-based number of a
    /// template step), described with the template's steps.
    pub(crate) fn from_service(step: &str, descriptions: &[String]) -> BuildStep {
        match step {
            "base" => BuildStep::Base,
            "finalize" => BuildStep::Finalize,
            other => match other.parse::<usize>() {
                Ok(n) if n >= 1 && n <= descriptions.len() => BuildStep::Instruction {
                    index: n - 1,
                    description: descriptions[n - 1].clone(),
                },
                _ => BuildStep::Other(other.to_owned()),
            },
        }
    }
}

impl fmt::Display for BuildStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildStep::Base => f.write_str("the base"),
            BuildStep::Instruction { index, description } => {
                write!(f, "step {} (`{description}`)", index + 1)
            }
            BuildStep::Finalize => f.write_str("finalizing"),
            BuildStep::Other(name) => write!(f, "step {name}"),
        }
    }
}

/// Why a template build failed: the service's reason, the failing step, the log entries
/// the service attached. The [`source`](std::error::Error::source) of the SDK's
/// [`Error`] (kind [`ErrorKind::Build`]) for a build that ran and failed; reach it with
/// [`BuildError::of`].
///
/// ```no_run
/// # async fn demo(client: &e2b_template::Client, t: &e2b_template::TemplateBuilder) {
/// use e2b_template::{BuildError, Template};
///
/// if let Err(e) = Template::build(client, t, "my-template").await {
///     if let Some(build) = BuildError::of(&e) {
///         eprintln!("failed at {:?}: {}", build.step, build.message);
///     }
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildError {
    /// The service's reason.
    pub message: String,
    /// The step that failed, when the service says.
    pub step: Option<BuildStep>,
    /// The template.
    pub template_id: String,
    /// The build.
    pub build_id: String,
    /// Log entries the service attached to the reason.
    pub log_entries: Vec<LogEntry>,
}

impl BuildError {
    /// The build failure behind `error`, if it is one.
    pub fn of(error: &Error) -> Option<&BuildError> {
        std::error::Error::source(error)?.downcast_ref::<BuildError>()
    }

    pub(crate) fn into_error(self) -> Error {
        let message = match &self.step {
            Some(step) => format!("at {step}: {}", self.message),
            None => self.message.clone(),
        };
        Error::with_source(ErrorKind::Build { message }, self)
    }
}

impl fmt::Display for BuildError {
    // The message is the `Error`'s; this names the build only, so reporters that walk
    // the sources do not print it twice.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "build {} of template {}",
            self.build_id, self.template_id
        )
    }
}

impl std::error::Error for BuildError {}

/// A build error that is not a failed build (a refused request, an upload).
pub(crate) fn build_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Build {
        message: message.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_name_the_instruction() {
        let d = vec!["RUN a".to_owned(), "RUN b".to_owned()];
        assert_eq!(BuildStep::from_service("base", &d), BuildStep::Base);
        assert_eq!(BuildStep::from_service("finalize", &d), BuildStep::Finalize);
        assert_eq!(
            BuildStep::from_service("2", &d),
            BuildStep::Instruction {
                index: 1,
                description: "RUN b".into()
            }
        );
        assert_eq!(
            BuildStep::from_service("3", &d),
            BuildStep::Other("3".into())
        );
        let e = BuildError {
            message: "exit status 1".into(),
            step: Some(BuildStep::from_service("2", &d)),
            template_id: "t".into(),
            build_id: "b".into(),
            log_entries: vec![],
        }
        .into_error();
        assert!(e.is_build());
        assert_eq!(
            e.to_string(),
            "template build failed: at step 2 (`RUN b`): exit status 1"
        );
        assert_eq!(BuildError::of(&e).unwrap().build_id, "b");
    }
}
