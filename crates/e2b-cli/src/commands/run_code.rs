//! `e2b run-code`: run a file (or standard input) in a code-interpreter sandbox, printing
//! its output as it comes, summarising rich results and saving images and charts as files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2b_code_interpreter::{CodeInterpreter, ExecutionResult, OutputEvent, RunCodeOptions};
use e2b_sandbox::Client;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::cli::RunCodeArgs;
use crate::error::{CliError, code};
use crate::output::Out;

pub(crate) async fn run(args: RunCodeArgs, client: &Client, out: &Out) -> Result<u8, CliError> {
    let (sandbox_id, file) = match (&args.template, args.args.as_slice()) {
        (Some(_), [file]) => (None, file.clone()),
        (None, [id, file]) => (Some(id.clone()), file.clone()),
        (Some(_), _) => {
            return Err(CliError::with_code(
                2,
                "with --template, give only the file: run-code --template T FILE",
            ));
        }
        (None, _) => {
            return Err(CliError::with_code(
                2,
                "give the sandbox and the file (run-code ID FILE), or --template T FILE",
            ));
        }
    };
    let code = read_code(&file).await?;
    let (interpreter, owned) = match (&sandbox_id, &args.template) {
        (Some(id), _) => (CodeInterpreter::connect(client, id).await?, false),
        (None, Some(template)) => (
            CodeInterpreter::builder()
                .template(template.clone())
                .create(client)
                .await?,
            true,
        ),
        (None, None) => unreachable!("checked above"),
    };
    let result = execute(&interpreter, &code, &args, out).await;
    if owned {
        // A sandbox made for this run ends with it.
        let _ = interpreter.sandbox().kill().await;
    }
    result
}

async fn read_code(file: &str) -> Result<String, CliError> {
    if file == "-" {
        let mut code = String::new();
        tokio::io::stdin()
            .read_to_string(&mut code)
            .await
            .map_err(|e| CliError::io("cannot read the code from standard input", e))?;
        return Ok(code);
    }
    tokio::fs::read_to_string(file).await.map_err(|e| {
        let message = format!("cannot read {file}: {e}");
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::not_found(message)
        } else {
            CliError::failed(message)
        }
    })
}

async fn execute(
    interpreter: &CodeInterpreter,
    code: &str,
    args: &RunCodeArgs,
    out: &Out,
) -> Result<u8, CliError> {
    let mut options = RunCodeOptions::new();
    if let Some(language) = &args.language {
        options = options.language(language.clone());
    }
    if let Some(secs) = args.timeout {
        options = options.timeout(Duration::from_secs(secs));
    }
    let mut stream = interpreter.run_code_stream_with(code, options).await?;
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let (mut logs_out, mut logs_err, mut results, mut saved) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut error = None;
    let mut count = None;
    while let Some(event) = stream.next().await {
        match event? {
            OutputEvent::ExecutionCount(n) => count = Some(n),
            OutputEvent::Stdout(m) => {
                if out.json() {
                    logs_out.push(m.line);
                } else {
                    write(&mut stdout, &m.line).await?;
                }
            }
            OutputEvent::Stderr(m) => {
                if out.json() {
                    logs_err.push(m.line);
                } else {
                    write(&mut stderr, &m.line).await?;
                }
            }
            OutputEvent::Result(result) => {
                let index = results.len() + 1;
                let files = save(&result, &args.output_dir, count, index).await?;
                if !out.json() {
                    summarise(out, &result, index, &files)?;
                }
                saved.extend(files.iter().map(|p| p.display().to_string()));
                results.push(result);
            }
            OutputEvent::Error(e) => {
                if !out.json() {
                    let trace = if e.traceback.is_empty() {
                        format!("{}: {}\n", e.name, e.value)
                    } else {
                        format!("{}\n", e.traceback.trim_end())
                    };
                    write(&mut stderr, &trace).await?;
                }
                error = Some(e);
            }
            _ => {}
        }
    }
    if out.json() {
        let results: Vec<Value> = results
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect();
        out.print_json(&json!({
            "results": results,
            "logs": { "stdout": logs_out, "stderr": logs_err },
            "error": error.as_ref().map(|e| json!({
                "name": e.name, "value": e.value, "traceback": e.traceback,
            })),
            "executionCount": count,
            "files": saved,
        }))?;
    }
    Ok(if error.is_some() { code::FAILURE } else { 0 })
}

async fn write<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, text: &str) -> Result<(), CliError> {
    let written = async {
        w.write_all(text.as_bytes()).await?;
        w.flush().await
    };
    match written.await {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::io("cannot write the output", e))
        }
        _ => Ok(()),
    }
}

/// Save a result's images (PNG, JPEG, SVG, PDF) and chart (JSON) in `dir`, named after
/// the cell's execution count and the result's position.
async fn save(
    result: &ExecutionResult,
    dir: &Path,
    count: Option<u32>,
    index: usize,
) -> Result<Vec<PathBuf>, CliError> {
    let stem = format!("result-{}-{index}", count.unwrap_or(0));
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(png) = result.png_bytes()? {
        files.push(("png".into(), png));
    }
    if let Some(jpeg) = result.jpeg_bytes()? {
        files.push(("jpg".into(), jpeg));
    }
    if let Some(svg) = &result.svg {
        files.push(("svg".into(), svg.clone().into_bytes()));
    }
    if let Some(pdf) = &result.pdf {
        let compact: String = pdf.split_ascii_whitespace().collect();
        if let Ok(bytes) =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, compact)
        {
            files.push(("pdf".into(), bytes));
        }
    }
    if let Some(chart) = result.chart_json() {
        let text = serde_json::to_vec_pretty(chart).unwrap_or_default();
        files.push(("chart.json".into(), text));
    }
    if files.is_empty() {
        return Ok(Vec::new());
    }
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| CliError::io(format!("cannot create {}", dir.display()), e))?;
    let mut paths = Vec::new();
    for (extension, bytes) in files {
        let path = dir.join(format!("{stem}.{extension}"));
        tokio::fs::write(&path, bytes)
            .await
            .map_err(|e| CliError::io(format!("cannot write {}", path.display()), e))?;
        paths.push(path);
    }
    Ok(paths)
}

/// The main result's text on standard output; what else a result holds, and where its
/// files went, on standard error.
fn summarise(
    out: &Out,
    result: &ExecutionResult,
    index: usize,
    files: &[PathBuf],
) -> Result<(), CliError> {
    let formats = result.formats();
    if result.is_main_result
        && let Some(text) = &result.text
    {
        out.line(text)?;
        if formats == ["text"] {
            // Printed in full: nothing more to say.
            return Ok(());
        }
    }
    let formats = formats.join(", ");
    let mut note = format!("result {index}: {formats}");
    if let Some(chart) = result.chart_json() {
        let kind = chart.get("type").and_then(Value::as_str).unwrap_or("chart");
        match chart.get("title").and_then(Value::as_str) {
            Some(title) if !title.is_empty() => {
                note.push_str(&format!(" ({kind} chart \"{title}\")"))
            }
            _ => note.push_str(&format!(" ({kind} chart)")),
        }
    }
    if !files.is_empty() {
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        note.push_str(&format!("; saved {}", names.join(", ")));
    }
    out.note(&out.dim(&note));
    Ok(())
}
