//! A template as JSON (the build request) and as a Dockerfile, as the official SDKs write
//! them.

use e2b_core::{Error, Result};

use crate::context::{FileContext, read_dockerignore};
use crate::instruction::{InstructionType, WireStep, WireTemplate};
use crate::template::{State, TemplateDefinition};

/// The ignore patterns of the template's `copy` steps: the context's `.dockerignore`
/// lines, then the template's own.
pub(crate) fn ignore_patterns(state: &State) -> Result<Vec<String>> {
    let mut patterns = read_dockerignore(&state.context)?;
    patterns.extend(state.ignore_patterns.iter().cloned());
    Ok(patterns)
}

/// The build request of `template`, with the hash of every `copy` step's files.
pub(crate) fn wire_template(state: &State) -> Result<WireTemplate> {
    state.check()?;
    let needs_context = state
        .instructions
        .iter()
        .any(|i| i.kind == InstructionType::Copy);
    let context = if needs_context {
        Some(FileContext::new(&state.context, &ignore_patterns(state)?)?)
    } else {
        None
    };
    let mut steps = Vec::with_capacity(state.instructions.len());
    for instruction in &state.instructions {
        let files_hash = match (&context, instruction.kind) {
            (Some(context), InstructionType::Copy) => {
                let (Some(src), Some(dest)) = (instruction.args.first(), instruction.args.get(1))
                else {
                    return Err(Error::invalid_argument(
                        "a copy step needs a source and a destination",
                    ));
                };
                Some(context.hash(src, dest, instruction.resolve_symlinks.unwrap_or(false))?)
            }
            _ => None,
        };
        steps.push(WireStep {
            kind: instruction.kind,
            args: instruction.args.clone(),
            force: instruction.force,
            files_hash,
            force_upload: instruction.force_upload,
        });
    }
    Ok(WireTemplate {
        steps,
        force: state.force,
        from_image: state.base_image.clone(),
        from_template: state.base_template.clone(),
        from_image_registry: state.registry.clone(),
        start_cmd: state.start_cmd.clone(),
        ready_cmd: state.ready_cmd.clone(),
    })
}

/// The template as the JSON body of its build request (`TemplateBuildStartV2`, indented
/// by two spaces), with the hash of every `copy` step's files. The same document as the
/// official Python SDK's `Template.to_json`.
///
/// The JSON holds registry credentials if the template has them: treat it as a secret then.
///
/// # Errors
///
/// The first invalid builder call; invalid argument when a `copy` source selects no
/// file, a file cannot be read, or an ignore pattern is malformed.
pub fn to_json(template: &impl TemplateDefinition) -> Result<String> {
    let wire = wire_template(template.state())?;
    serde_json::to_string_pretty(&wire)
        .map_err(|e| Error::protocol(format!("cannot serialize the template: {e}")))
}

/// The template as a Dockerfile: `FROM`, one line per step (`RUN`, `COPY src dest`,
/// `ENV k=v …`, `WORKDIR`, `USER`) and `ENTRYPOINT` with the start command. The same
/// text as the official SDKs' `to_dockerfile`; like theirs it leaves out what a
/// Dockerfile cannot say (the user of a `RUN`, a copy's owner and mode, the ready command).
///
/// # Errors
///
/// The first invalid builder call; invalid argument for a template based on another
/// template (only E2B can build those).
pub fn to_dockerfile(template: &impl TemplateDefinition) -> Result<String> {
    let state = template.state();
    state.check()?;
    if state.base_template.is_some() {
        return Err(Error::invalid_argument(
            "cannot convert a template built from another template to a Dockerfile; \
             templates based on other templates can only be built by E2B",
        ));
    }
    let Some(base) = &state.base_image else {
        return Err(Error::invalid_argument("the template has no base image"));
    };
    let mut out = format!("FROM {base}\n");
    for instruction in &state.instructions {
        let args = &instruction.args;
        match instruction.kind {
            InstructionType::Run => {
                out.push_str(&format!(
                    "RUN {}\n",
                    args.first().map_or("", String::as_str)
                ));
            }
            InstructionType::Copy => out.push_str(&format!(
                "COPY {} {}\n",
                args.first().map_or("", String::as_str),
                args.get(1).map_or("", String::as_str)
            )),
            InstructionType::Env => {
                let pairs: Vec<String> = args
                    .chunks(2)
                    .map(|kv| format!("{}={}", kv[0], kv.get(1).map_or("", String::as_str)))
                    .collect();
                out.push_str(&format!("ENV {}\n", pairs.join(" ")));
            }
            kind => out.push_str(&format!("{kind} {}\n", args.join(" "))),
        }
    }
    if let Some(start) = state.start_cmd.as_deref().filter(|s| !s.is_empty()) {
        out.push_str(&format!("ENTRYPOINT {start}\n"));
    }
    Ok(out)
}
