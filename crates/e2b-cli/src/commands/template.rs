//! `e2b template …`: build from a Dockerfile with live logs, list, delete, tags, init.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use e2b_sandbox::Client;
use e2b_template::{
    BuildError, BuildInfo, BuildOptions, BuildStatus, LogEntry, LogEntryKind, LogLevel, Template,
    TemplateInfo, default_build_logger, wait_for_timeout,
};
use serde_json::{Value, json};

use crate::cli::{TagsCommand, TemplateBuildArgs, TemplateCommand};
use crate::error::{CliError, code};
use crate::output::{self, Out};

/// What `init` writes: E2B's base image and a step to edit.
const INIT_DOCKERFILE: &str = "\
# The template's image: E2B's base (Debian, Python, Node.js, user `user`).
FROM e2bdev/base

# Install what sandboxes of this template need, e.g.:
# RUN apt-get update && apt-get install -y --no-install-recommends ripgrep
";

pub(crate) async fn run(
    command: TemplateCommand,
    client: &Client,
    out: &Out,
) -> Result<u8, CliError> {
    match command {
        TemplateCommand::Build(args) => build(client, out, args).await,
        TemplateCommand::List => list(client, out).await,
        TemplateCommand::Delete { templates } => delete(client, out, templates).await,
        TemplateCommand::Tags(args) => match (args.command, args.template) {
            (Some(TagsCommand::Add { target, tags }), _) => {
                let info = Template::assign_tags(client, &target, tags).await?;
                if out.json() {
                    out.print_json(&json!({ "buildId": info.build_id, "tags": info.tags }))?;
                } else {
                    out.line(&format!(
                        "Tagged build {} {}",
                        out.bold(&info.build_id),
                        info.tags.join(", ")
                    ))?;
                }
                Ok(0)
            }
            (Some(TagsCommand::Rm { name, tags }), _) => {
                Template::remove_tags(client, &name, tags.clone()).await?;
                if out.json() {
                    out.print_json(&json!({ "template": name, "removed": tags }))?;
                } else {
                    out.line(&format!(
                        "Removed {} from {}",
                        tags.join(", "),
                        out.bold(&name)
                    ))?;
                }
                Ok(0)
            }
            (None, Some(template)) => tags(client, out, &template).await,
            (None, None) => Err(CliError::with_code(
                2,
                "name a template, or `add` or `rm` tags: see `e2b template tags --help`",
            )),
        },
        TemplateCommand::Init { dir } => init(out, &dir),
    }
}

async fn build(client: &Client, out: &Out, args: TemplateBuildArgs) -> Result<u8, CliError> {
    let dockerfile = match &args.dockerfile {
        Some(path) => path.clone(),
        None => default_dockerfile(&args.path)?,
    };
    let content = std::fs::read_to_string(&dockerfile).map_err(|e| {
        let message = format!("cannot read {}: {e}", dockerfile.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::not_found(message)
        } else {
            CliError::failed(message)
        }
    })?;
    if !args.path.is_dir() {
        return Err(CliError::not_found(format!(
            "the context directory {} does not exist",
            args.path.display()
        )));
    }
    let builder = Template::with_context(&args.path)
        .from_dockerfile(&content)
        .map_err(|e| CliError::from(e).prefixed(&dockerfile.display().to_string()))?;

    let mut options = BuildOptions::new().skip_cache(args.skip_cache);
    if let Some(cpus) = args.cpu_count {
        options = options.cpu_count(cpus);
    }
    if let Some(mb) = args.memory_mb {
        options = options.memory_mb(mb);
    }
    if let Some(secs) = args.timeout {
        options = options.timeout(Duration::from_secs(secs));
    }
    options = if std::io::stderr().is_terminal() {
        options.on_build_logs(default_build_logger(LogLevel::Info))
    } else {
        options.on_build_logs(plain_logger)
    };

    let result = match (args.start_cmd, args.ready_cmd) {
        (Some(start), ready) => {
            let ready = match ready {
                Some(ready) => ready.into(),
                None => wait_for_timeout(e2b_template::DOCKERFILE_READY_DELAY),
            };
            let template = builder.set_start_cmd(start, ready);
            Template::build_with(client, &template, &args.name, options).await
        }
        (None, Some(ready)) => {
            let template = builder.set_ready_cmd(ready);
            Template::build_with(client, &template, &args.name, options).await
        }
        (None, None) => Template::build_with(client, &builder, &args.name, options).await,
    };
    let info = result.map_err(|e| {
        let failed = BuildError::of(&e).map(|b| b.build_id.clone());
        let e = CliError::from(e);
        match failed {
            Some(_) => e.prefixed(&format!("building {}", args.name)),
            None => e,
        }
    })?;
    if out.json() {
        out.print_json(&build_json(&info))?;
    } else {
        out.line(&format!(
            "Built {} (template {}, build {})",
            out.bold(&info.name),
            info.template_id,
            info.build_id
        ))?;
    }
    Ok(0)
}

/// `e2b.Dockerfile` in the context directory, else its `Dockerfile`.
fn default_dockerfile(context: &Path) -> Result<PathBuf, CliError> {
    ["e2b.Dockerfile", "Dockerfile"]
        .iter()
        .map(|name| context.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            CliError::not_found(format!(
                "no e2b.Dockerfile or Dockerfile in {}: pass --dockerfile, or create one with \
                 `e2b template init`",
                context.display()
            ))
        })
}

/// Build logs without a terminal: one message a line on standard error, warnings and
/// errors labelled `WARN` and `ERROR`.
fn plain_logger(entry: &LogEntry) {
    if entry.kind != LogEntryKind::Line || entry.level < LogLevel::Info {
        return;
    }
    match entry.level {
        LogLevel::Info => eprintln!("{}", entry.message),
        // Upper case: `error:` is e2b's own failure, the last line.
        level => eprintln!("{} {}", level.as_str().to_uppercase(), entry.message),
    }
}

fn build_json(info: &BuildInfo) -> Value {
    json!({
        "templateId": info.template_id,
        "buildId": info.build_id,
        "name": info.name,
        "tags": info.tags,
    })
}

fn status(status: &BuildStatus) -> String {
    match status {
        BuildStatus::Building => "building".to_owned(),
        BuildStatus::Waiting => "waiting".to_owned(),
        BuildStatus::Ready => "ready".to_owned(),
        BuildStatus::Error => "error".to_owned(),
        BuildStatus::Unknown(other) => other.clone(),
        _ => "unknown".to_owned(),
    }
}

fn template_json(t: &TemplateInfo) -> Value {
    json!({
        "templateId": t.template_id,
        "buildId": t.build_id,
        "names": t.names,
        "aliases": t.aliases,
        "public": t.public,
        "buildStatus": status(&t.build_status),
        "buildCount": t.build_count,
        "cpuCount": t.cpu_count,
        "memoryMB": t.memory_mb,
        "diskSizeMB": t.disk_size_mb,
        "envdVersion": t.envd_version,
        "spawnCount": t.spawn_count,
        "createdAt": output::time_json(t.created_at),
        "updatedAt": output::time_json(t.updated_at),
        "lastSpawnedAt": t.last_spawned_at.map(output::time_json),
    })
}

async fn list(client: &Client, out: &Out) -> Result<u8, CliError> {
    let mut templates = Template::list(client).await?;
    templates.sort_by_key(|t| t.created_at);
    if out.json() {
        out.print_json(&Value::Array(templates.iter().map(template_json).collect()))?;
        return Ok(0);
    }
    if templates.is_empty() {
        out.note("No templates found");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = templates
        .iter()
        .map(|t| {
            vec![
                t.template_id.clone(),
                t.names.join(", "),
                status(&t.build_status),
                t.cpu_count.to_string(),
                t.memory_mb.to_string(),
                t.build_count.to_string(),
                output::time(t.created_at),
                if t.public { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    out.table(
        &[
            "TEMPLATE ID",
            "NAMES",
            "STATUS",
            "VCPUS",
            "MIB",
            "BUILDS",
            "CREATED",
            "PUBLIC",
        ],
        &rows,
        |column, text| match (column, text) {
            (2, "ready") => out.green(text),
            (2, "error") => out.red(text),
            (2, _) => out.yellow(text),
            _ => text.to_owned(),
        },
    )?;
    Ok(0)
}

async fn delete(client: &Client, out: &Out, templates: Vec<String>) -> Result<u8, CliError> {
    let (mut deleted, mut missing) = (Vec::new(), Vec::new());
    for template in templates {
        match Template::delete(client, &template).await {
            Ok(true) => deleted.push(template),
            Ok(false) => missing.push(template),
            Err(e) if e.is_not_found() => missing.push(template),
            Err(e) => return Err(e.into()),
        }
    }
    if out.json() {
        out.print_json(&json!({ "deleted": deleted, "notFound": missing }))?;
    } else {
        for template in &deleted {
            out.line(&format!("Template {} deleted", out.bold(template)))?;
        }
        for template in &missing {
            out.note(&format!("Template {template} not found"));
        }
    }
    Ok(if missing.is_empty() {
        0
    } else {
        code::NOT_FOUND
    })
}

async fn tags(client: &Client, out: &Out, template: &str) -> Result<u8, CliError> {
    let mut tags = Template::get_tags(client, template).await?;
    tags.sort_by(|a, b| a.tag.cmp(&b.tag));
    if out.json() {
        let list = tags
            .iter()
            .map(|t| {
                json!({
                    "tag": t.tag,
                    "buildId": t.build_id,
                    "createdAt": output::time_json(t.created_at),
                })
            })
            .collect();
        out.print_json(&Value::Array(list))?;
        return Ok(0);
    }
    if tags.is_empty() {
        out.note(&format!("{template} has no tags"));
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = tags
        .iter()
        .map(|t| {
            vec![
                t.tag.clone(),
                t.build_id.clone(),
                output::time(t.created_at),
            ]
        })
        .collect();
    out.table(&["TAG", "BUILD ID", "ASSIGNED"], &rows, |_, text| {
        text.to_owned()
    })?;
    Ok(0)
}

fn init(out: &Out, dir: &Path) -> Result<u8, CliError> {
    let dockerfile = dir.join("e2b.Dockerfile");
    let readme = dir.join("README.md");
    for path in [&dockerfile, &readme] {
        if path.exists() {
            return Err(CliError::failed(format!(
                "{} exists: init writes only into a directory without one",
                path.display()
            )));
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::io(format!("cannot create {}", dir.display()), e))?;
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "my-template".to_owned());
    let readme_text = format!(
        "# {name}\n\nAn E2B template: edit `e2b.Dockerfile`, then build it with \
         `e2b template build --name {name}` in this directory.\n"
    );
    std::fs::write(&dockerfile, INIT_DOCKERFILE)
        .map_err(|e| CliError::io(format!("cannot write {}", dockerfile.display()), e))?;
    std::fs::write(&readme, readme_text)
        .map_err(|e| CliError::io(format!("cannot write {}", readme.display()), e))?;
    if out.json() {
        out.print_json(&json!({
            "dockerfile": dockerfile.display().to_string(),
            "readme": readme.display().to_string(),
        }))?;
    } else {
        let path = if dir == Path::new(".") {
            String::new()
        } else {
            format!(" --path {}", dir.display())
        };
        out.line(&format!(
            "Created {} and {}; build with `e2b template build --name {name}{path}`",
            dockerfile.display(),
            readme.display(),
        ))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e2b_dockerfile_is_preferred_to_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let err = default_dockerfile(dir.path()).unwrap_err();
        assert_eq!(err.code(), code::NOT_FOUND);
        assert!(err.to_string().contains("e2b template init"), "{err}");
        std::fs::write(dir.path().join("Dockerfile"), "FROM e2bdev/base\n").unwrap();
        assert_eq!(
            default_dockerfile(dir.path()).unwrap(),
            dir.path().join("Dockerfile")
        );
        std::fs::write(dir.path().join("e2b.Dockerfile"), "FROM e2bdev/base\n").unwrap();
        assert_eq!(
            default_dockerfile(dir.path()).unwrap(),
            dir.path().join("e2b.Dockerfile")
        );
    }
}
