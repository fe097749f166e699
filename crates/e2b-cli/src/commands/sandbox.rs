//! `e2b sandbox …`: lifecycle, terminals, commands, listings, metrics, logs, snapshots.

use std::io::IsTerminal as _;
use std::time::{Duration, SystemTime};

use e2b_sandbox::{
    Client, CommandHandle, CommandOptions, CommandOutput, ConnectOptions, ListOptions, LogLevel,
    LogsOptions, MetricsOptions, Sandbox, SandboxInfo, SandboxMetrics, SandboxState, SnapshotInfo,
    SnapshotListOptions,
};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::cli::{SandboxCommand, SnapshotCommand, TerminalArgs};
use crate::error::{CliError, code};
use crate::output::{self, Out};
use crate::{shell, terminal};

/// Largest page asked of the control plane.
const PAGE: usize = 100;
/// How often `--follow` asks for new samples or entries.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// While a terminal opened by `create` is open, the sandbox's timeout is renewed this often.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(10);
/// … to this.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) async fn run(
    command: SandboxCommand,
    client: &Client,
    out: &Out,
) -> Result<u8, CliError> {
    match command {
        SandboxCommand::Create {
            template,
            timeout,
            metadata,
            envs,
            detach,
            user,
            cwd,
        } => {
            let terminal = TerminalArgs {
                user,
                cwd,
                envs: Vec::new(),
            };
            create(
                client, out, &template, timeout, metadata, envs, detach, &terminal,
            )
            .await
        }
        SandboxCommand::Connect {
            sandbox_id,
            terminal,
        } => {
            let sandbox = Sandbox::connect(client, &sandbox_id)
                .await
                .map_err(|e| CliError::from(e).recode(code::REMOTE_PROXY_FAILURE))?;
            terminal::session(&sandbox, &terminal).await
        }
        SandboxCommand::Exec {
            sandbox_id,
            command,
            background,
            cwd,
            user,
            envs,
        } => {
            let exec = Exec {
                command: shell::command_line(&command),
                background,
                cwd,
                user,
                envs,
            };
            exec.run(client, &sandbox_id, out)
                .await
                .map_err(|e| e.recode(code::REMOTE_PROXY_FAILURE))
        }
        SandboxCommand::List {
            state,
            metadata,
            limit,
            next_token,
        } => list(client, out, state, metadata, limit, next_token).await,
        SandboxCommand::Info { sandbox_id } => {
            let info = client.sandbox_info(&sandbox_id).await?;
            if out.json() {
                out.print_json(&info_json(&info))?;
            } else {
                out.fields(&info_fields(&info, out))?;
            }
            Ok(0)
        }
        SandboxCommand::Kill {
            sandbox_ids,
            all,
            state,
            metadata,
        } => kill(client, out, sandbox_ids, all, state, metadata).await,
        SandboxCommand::Pause { sandbox_id } => {
            let paused = client.pause_sandbox(&sandbox_id).await?;
            report(
                out,
                &sandbox_id,
                if paused { "paused" } else { "already paused" },
            )
        }
        SandboxCommand::Resume {
            sandbox_id,
            timeout,
        } => {
            let mut options = ConnectOptions::new();
            if let Some(secs) = timeout {
                options = options.timeout(Duration::from_secs(secs));
            }
            Sandbox::connect_with(client, &sandbox_id, options).await?;
            report(out, &sandbox_id, "resumed")
        }
        SandboxCommand::SetTimeout {
            sandbox_id,
            seconds,
        } => {
            client
                .set_sandbox_timeout(&sandbox_id, Duration::from_secs(seconds))
                .await?;
            report(out, &sandbox_id, &format!("times out in {seconds} s"))
        }
        SandboxCommand::Metrics { sandbox_id, follow } => {
            metrics(client, out, &sandbox_id, follow).await
        }
        SandboxCommand::Logs {
            sandbox_id,
            follow,
            level,
        } => logs(client, out, &sandbox_id, follow, level).await,
        SandboxCommand::Snapshot(command) => snapshot(client, out, command).await,
    }
}

/// `{"sandboxId": …, "status": …}`, or `Sandbox ID status`.
fn report(out: &Out, sandbox_id: &str, status: &str) -> Result<u8, CliError> {
    if out.json() {
        out.print_json(&json!({ "sandboxId": sandbox_id, "status": status }))?;
    } else {
        out.line(&format!("Sandbox {} {status}", out.bold(sandbox_id)))?;
    }
    Ok(0)
}

#[allow(clippy::too_many_arguments)] // one per flag of the command
async fn create(
    client: &Client,
    out: &Out,
    template: &str,
    timeout: Option<u64>,
    metadata: Vec<(String, String)>,
    envs: Vec<(String, String)>,
    detach: bool,
    terminal: &TerminalArgs,
) -> Result<u8, CliError> {
    let mut builder = Sandbox::builder()
        .template(template)
        .metadata(metadata)
        .envs(envs);
    if let Some(secs) = timeout {
        builder = builder.timeout(Duration::from_secs(secs));
    } else if !detach {
        builder = builder.timeout(KEEPALIVE_TIMEOUT);
    }
    let fail = |e: e2b_sandbox::Error| {
        let e = CliError::from(e);
        if detach {
            e
        } else {
            e.recode(code::REMOTE_PROXY_FAILURE)
        }
    };
    let sandbox = builder.create(client).await.map_err(fail)?;
    if detach {
        if out.json() {
            out.print_json(&info_json(&sandbox.info().await?))?;
        } else {
            out.line(sandbox.id())?;
        }
        return Ok(0);
    }
    if std::io::stderr().is_terminal() {
        out.note(&out.dim(&format!(
            "sandbox {} from {template}; leave the shell to end it",
            sandbox.id()
        )));
    }
    // Keep the sandbox alive while the terminal is open (never for less than --timeout).
    let keep = timeout
        .map(Duration::from_secs)
        .map_or(KEEPALIVE_TIMEOUT, |t| t.max(KEEPALIVE_TIMEOUT));
    let keepalive = {
        let sandbox = sandbox.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEEPALIVE_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let _ = sandbox.set_timeout(keep).await;
            }
        })
    };
    let result = terminal::session(&sandbox, terminal).await;
    keepalive.abort();
    // Without --timeout the sandbox ends with its terminal; with it, it lives on that long.
    let ended = match timeout {
        Some(secs) => sandbox
            .set_timeout(Duration::from_secs(secs))
            .await
            .map(drop),
        None => sandbox.kill().await.map(drop),
    };
    let code = result?;
    ended.map_err(fail)?;
    Ok(code)
}

/// `exec`'s settings.
struct Exec {
    command: String,
    background: bool,
    cwd: Option<String>,
    user: Option<String>,
    envs: Vec<(String, String)>,
}

impl Exec {
    async fn run(self, client: &Client, sandbox_id: &str, out: &Out) -> Result<u8, CliError> {
        let sandbox = Sandbox::connect(client, sandbox_id).await?;
        let sandbox = match &self.user {
            Some(user) => sandbox.with_user(user.clone()),
            None => sandbox,
        };
        let piped = stdin_is_piped();
        let mut options = CommandOptions::new()
            .no_timeout()
            .stdin(piped)
            .envs(self.envs.iter().cloned());
        if let Some(cwd) = &self.cwd {
            options = options.cwd(cwd.clone());
        }
        // Ctrl-C from here on kills the remote command rather than e2b alone.
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|e| CliError::io("cannot handle Ctrl-C", e))?;
        let handle = sandbox.commands().spawn_with(self.command, options).await?;
        if self.background {
            if piped {
                tokio::select! {
                    sent = send_stdin(&handle) => sent?,
                    Some(()) = interrupt.recv() => {
                        let _ = handle.kill().await;
                        return Ok(code::INTERRUPTED);
                    }
                }
            }
            if out.json() {
                out.print_json(&json!({ "sandboxId": sandbox.id(), "pid": handle.pid() }))?;
            } else {
                out.line(&handle.pid().to_string())?;
            }
            handle.disconnect();
            return Ok(0);
        }

        let mut output = handle.output();
        let printer = tokio::spawn(async move {
            let mut stdout = tokio::io::stdout();
            let mut stderr = tokio::io::stderr();
            while let Some(chunk) = output.next().await {
                let written = match chunk {
                    CommandOutput::Stdout(text) => write(&mut stdout, text.as_bytes()).await,
                    CommandOutput::Stderr(text) => write(&mut stderr, text.as_bytes()).await,
                    _ => Ok(()),
                };
                if written.is_err() {
                    break;
                }
            }
        });
        let feeder = piped.then(|| {
            let handle = handle.clone();
            tokio::spawn(async move { send_stdin(&handle).await })
        });

        let mut interrupted = false;
        let result = tokio::select! {
            result = handle.wait() => result,
            Some(()) = interrupt.recv() => {
                interrupted = true;
                let _ = handle.kill().await;
                handle.wait().await
            }
        };
        if let Some(feeder) = feeder {
            feeder.abort();
        }
        // Everything the command wrote, before its exit code. A closed pipe on our side
        // stops the printing, not the command, whose code still stands.
        let _ = printer.await;
        if interrupted {
            return Ok(code::INTERRUPTED);
        }
        match result {
            Ok(_) => Ok(0),
            Err(e) => match e.command_exit_result() {
                Some(exit) => Ok(shell::exit_code(exit.exit_code, exit.error.as_deref())),
                None => Err(e.into()),
            },
        }
    }
}

async fn write<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

/// Standard input is a pipe, a file or a socket (not a terminal, not `/dev/null`): what
/// `exec` passes on to the command.
fn stdin_is_piped() -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    std::fs::metadata("/dev/stdin").is_ok_and(|m| {
        let t = m.file_type();
        t.is_fifo() || t.is_file() || t.is_socket()
    })
}

/// Pass standard input on to the command, then close its stdin (end of file).
async fn send_stdin(handle: &CommandHandle) -> Result<(), CliError> {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stdin
            .read(&mut buf)
            .await
            .map_err(|e| CliError::io("cannot read standard input", e))?;
        if n == 0 {
            break;
        }
        match handle.send_stdin(&buf[..n]).await {
            Ok(()) => {}
            // The command exited without reading everything.
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    match handle.close_stdin().await {
        Err(e) if !e.is_not_found() => Err(e.into()),
        _ => Ok(()),
    }
}

async fn list(
    client: &Client,
    out: &Out,
    state: Vec<SandboxState>,
    metadata: Vec<(String, String)>,
    limit: usize,
    next_token: Option<String>,
) -> Result<u8, CliError> {
    let state = if state.is_empty() {
        vec![SandboxState::Running]
    } else {
        state
    };
    let page = if limit == 0 { PAGE } else { limit.min(PAGE) };
    let mut options = ListOptions::new()
        .state(state)
        .metadata(metadata)
        .page_size(u32::try_from(page).unwrap_or(100));
    if let Some(token) = next_token {
        options = options.next_token(token);
    }
    let mut pager = client.list_sandboxes_with(options);
    let mut sandboxes = Vec::new();
    while limit == 0 || sandboxes.len() < limit {
        match pager.next_page().await? {
            Some(items) => sandboxes.extend(items),
            None => break,
        }
    }
    let cut = limit != 0 && sandboxes.len() > limit;
    sandboxes.truncate(if limit == 0 { usize::MAX } else { limit });
    let more = cut || pager.has_next();
    if out.json() {
        out.print_json(&Value::Array(sandboxes.iter().map(info_json).collect()))?;
    } else if sandboxes.is_empty() {
        out.note("No sandboxes found");
    } else {
        let rows: Vec<Vec<String>> = sandboxes
            .iter()
            .map(|s| {
                vec![
                    s.sandbox_id.clone(),
                    s.name.clone().unwrap_or_else(|| s.template_id.clone()),
                    s.state.to_string(),
                    output::time(s.started_at),
                    output::time(s.end_at),
                    s.cpu_count.to_string(),
                    s.memory_mb.to_string(),
                    output::pairs(&s.metadata),
                ]
            })
            .collect();
        out.table(
            &[
                "SANDBOX ID",
                "TEMPLATE",
                "STATE",
                "STARTED",
                "ENDS",
                "VCPUS",
                "MIB",
                "METADATA",
            ],
            &rows,
            |column, text| match (column, text.trim()) {
                (2, "running") => out.green(text),
                (2, "paused") => out.yellow(text),
                _ => text.to_owned(),
            },
        )?;
    }
    if more {
        match pager.next_token().filter(|_| !cut) {
            Some(token) => out.note(&format!(
                "more sandboxes: --next-token {token} continues, --limit 0 lists all"
            )),
            None => out.note("more sandboxes: --limit 0 lists all"),
        }
    }
    Ok(0)
}

async fn kill(
    client: &Client,
    out: &Out,
    sandbox_ids: Vec<String>,
    all: bool,
    state: Vec<SandboxState>,
    metadata: Vec<(String, String)>,
) -> Result<u8, CliError> {
    let ids = if all {
        let state = if state.is_empty() {
            vec![SandboxState::Running]
        } else {
            state
        };
        let mut pager =
            client.list_sandboxes_with(ListOptions::new().state(state).metadata(metadata));
        let mut ids = Vec::new();
        while let Some(page) = pager.next_page().await? {
            ids.extend(page.into_iter().map(|s| s.sandbox_id));
        }
        ids
    } else {
        sandbox_ids
    };
    let results =
        futures_util::future::join_all(ids.iter().map(|id| client.kill_sandbox(id))).await;
    let (mut killed, mut missing) = (Vec::new(), Vec::new());
    for (id, result) in ids.iter().zip(results) {
        match result {
            Ok(true) => killed.push(id.clone()),
            Ok(false) => missing.push(id.clone()),
            Err(e) if e.is_not_found() => missing.push(id.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    if out.json() {
        out.print_json(&json!({ "killed": killed, "notFound": missing }))?;
    } else {
        for id in &killed {
            out.line(&format!("Sandbox {} killed", out.bold(id)))?;
        }
        for id in &missing {
            out.note(&format!("Sandbox {id} not found"));
        }
        if all && ids.is_empty() {
            out.note("No sandboxes to kill");
        }
    }
    // Naming a sandbox that does not exist is an error; --all found what it found.
    if !all && !missing.is_empty() {
        return Ok(code::NOT_FOUND);
    }
    Ok(0)
}

async fn metrics(
    client: &Client,
    out: &Out,
    sandbox_id: &str,
    follow: bool,
) -> Result<u8, CliError> {
    let mut last: Option<SystemTime> = None;
    let mut header = false;
    let mut following = false;
    loop {
        let mut options = MetricsOptions::new();
        if let Some(t) = last {
            options = options.start(t);
        }
        let samples = match client.sandbox_metrics_with(sandbox_id, options).await {
            // Following, the sandbox went away between two requests: the end.
            Err(e) if e.is_not_found() && following => return Ok(0),
            result => result?,
        };
        following = follow;
        let since = last;
        for m in samples
            .into_iter()
            .filter(|m| since.is_none_or(|t| m.timestamp > t))
        {
            last = Some(m.timestamp);
            if out.json() {
                out.print_json_line(&metrics_json(&m))?;
            } else {
                if !header {
                    out.line(&out.bold(&format!(
                        "{:<20}  {:>6}  {:>5}  {:>19}  {:>19}",
                        "TIME", "CPU %", "VCPUS", "MEMORY", "DISK"
                    )))?;
                    header = true;
                }
                out.line(&format!(
                    "{:<20}  {:>6.1}  {:>5}  {:>19}  {:>19}",
                    output::time(m.timestamp),
                    m.cpu_used_pct,
                    m.cpu_count,
                    format!(
                        "{} / {}",
                        output::size(m.mem_used),
                        output::size(m.mem_total)
                    ),
                    format!(
                        "{} / {}",
                        output::size(m.disk_used),
                        output::size(m.disk_total)
                    ),
                ))?;
            }
        }
        if !follow || !still_running(client, sandbox_id).await? {
            return Ok(0);
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

async fn logs(
    client: &Client,
    out: &Out,
    sandbox_id: &str,
    follow: bool,
    level: Option<LogLevel>,
) -> Result<u8, CliError> {
    let mut start: Option<SystemTime> = None;
    let mut seen_at_start = 0usize;
    let mut following = false;
    loop {
        let mut options = LogsOptions::new();
        if let Some(t) = start {
            options = options.start(t);
        }
        if let Some(level) = &level {
            options = options.level(level.clone());
        }
        let entries = match client.sandbox_logs_with(sandbox_id, options).await {
            // Following, the sandbox went away between two requests: the end.
            Err(e) if e.is_not_found() && following => return Ok(0),
            result => result?,
        };
        following = follow;
        // The cursor is inclusive: skip what was printed at that very instant.
        let mut skip = if start.is_some() { seen_at_start } else { 0 };
        for entry in entries {
            if Some(entry.timestamp) == start && skip > 0 {
                skip -= 1;
                continue;
            }
            if Some(entry.timestamp) == start {
                seen_at_start += 1;
            } else {
                start = Some(entry.timestamp);
                seen_at_start = 1;
            }
            if out.json() {
                out.print_json_line(&json!({
                    "timestamp": output::time_json(entry.timestamp),
                    "level": entry.level.as_str(),
                    "message": entry.message,
                    "fields": entry.fields,
                }))?;
            } else {
                let level = match entry.level {
                    LogLevel::Error => out.red("ERROR"),
                    LogLevel::Warn => out.yellow("WARN "),
                    LogLevel::Info => out.green("INFO "),
                    ref other => format!("{:<5}", other.as_str().to_uppercase()),
                };
                let fields = if entry.fields.is_empty() {
                    String::new()
                } else {
                    format!(" {}", out.dim(&output::pairs(&entry.fields)))
                };
                out.line(&format!(
                    "{} {level} {}{fields}",
                    out.dim(&output::time(entry.timestamp)),
                    entry.message
                ))?;
            }
        }
        if !follow || !still_running(client, sandbox_id).await? {
            return Ok(0);
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// Whether `--follow` goes on: the sandbox exists and runs.
async fn still_running(client: &Client, sandbox_id: &str) -> Result<bool, CliError> {
    match client.sandbox_info(sandbox_id).await {
        Ok(info) => Ok(info.state == SandboxState::Running),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn snapshot(client: &Client, out: &Out, command: SnapshotCommand) -> Result<u8, CliError> {
    match command {
        SnapshotCommand::Create { sandbox_id, name } => {
            let mut options = e2b_sandbox::SnapshotOptions::new();
            if let Some(name) = name {
                options = options.name(name);
            }
            let snapshot = client.create_snapshot_with(&sandbox_id, options).await?;
            if out.json() {
                out.print_json(&snapshot_json(&snapshot))?;
            } else {
                out.line(&snapshot.snapshot_id)?;
            }
            Ok(0)
        }
        SnapshotCommand::List {
            sandbox_id,
            name,
            limit,
        } => {
            let page = if limit == 0 { PAGE } else { limit.min(PAGE) };
            let mut options =
                SnapshotListOptions::new().page_size(u32::try_from(page).unwrap_or(100));
            if let Some(id) = sandbox_id {
                options = options.sandbox_id(id);
            }
            if let Some(name) = name {
                options = options.name(name);
            }
            let mut pager = client.list_snapshots_with(options);
            let mut snapshots = Vec::new();
            while limit == 0 || snapshots.len() < limit {
                match pager.next_page().await? {
                    Some(items) => snapshots.extend(items),
                    None => break,
                }
            }
            if limit != 0 {
                snapshots.truncate(limit);
            }
            if out.json() {
                out.print_json(&Value::Array(snapshots.iter().map(snapshot_json).collect()))?;
            } else if snapshots.is_empty() {
                out.note("No snapshots found");
            } else {
                let rows: Vec<Vec<String>> = snapshots
                    .iter()
                    .map(|s| vec![s.snapshot_id.clone(), s.names.join(", ")])
                    .collect();
                out.table(&["SNAPSHOT ID", "NAMES"], &rows, |_, t| t.to_owned())?;
            }
            Ok(0)
        }
        SnapshotCommand::Delete { snapshot_ids } => {
            let (mut deleted, mut missing) = (Vec::new(), Vec::new());
            for id in snapshot_ids {
                if client.delete_snapshot(&id).await? {
                    deleted.push(id);
                } else {
                    missing.push(id);
                }
            }
            if out.json() {
                out.print_json(&json!({ "deleted": deleted, "notFound": missing }))?;
            } else {
                for id in &deleted {
                    out.line(&format!("Snapshot {} deleted", out.bold(id)))?;
                }
                for id in &missing {
                    out.note(&format!("Snapshot {id} not found"));
                }
            }
            Ok(if missing.is_empty() {
                0
            } else {
                code::NOT_FOUND
            })
        }
    }
}

/// A sandbox as JSON, with the field names of the official SDKs' `SandboxInfo`.
fn info_json(s: &SandboxInfo) -> Value {
    let mut value = json!({
        "sandboxId": s.sandbox_id,
        "templateId": s.template_id,
        "name": s.name,
        "metadata": s.metadata,
        "startedAt": output::time_json(s.started_at),
        "endAt": output::time_json(s.end_at),
        "state": s.state.as_str(),
        "cpuCount": s.cpu_count,
        "memoryMB": s.memory_mb,
        "diskSizeMB": s.disk_size_mb,
        "envdVersion": s.envd_version,
        "volumeMounts": s.volume_mounts.iter()
            .map(|m| json!({ "name": m.name, "path": m.path }))
            .collect::<Vec<_>>(),
    });
    if let Some(allow) = s.allow_internet_access {
        value["allowInternetAccess"] = json!(allow);
    }
    if let Some(lifecycle) = &s.lifecycle {
        value["lifecycle"] = json!({
            "onTimeout": lifecycle.on_timeout.as_str(),
            "autoResume": lifecycle.auto_resume,
        });
    }
    if let Some(domain) = &s.sandbox_domain {
        value["sandboxDomain"] = json!(domain);
    }
    value
}

fn info_fields(s: &SandboxInfo, out: &Out) -> Vec<(&'static str, String)> {
    let state = match &s.state {
        SandboxState::Running => out.green("running"),
        SandboxState::Paused => out.yellow("paused"),
        other => other.to_string(),
    };
    let mut fields = vec![
        ("Sandbox ID", s.sandbox_id.clone()),
        ("Template ID", s.template_id.clone()),
    ];
    if let Some(name) = &s.name {
        fields.push(("Template", name.clone()));
    }
    fields.extend([
        ("State", state),
        ("Started", output::time(s.started_at)),
        ("Ends", output::time(s.end_at)),
        ("vCPUs", s.cpu_count.to_string()),
        ("Memory", format!("{} MiB", s.memory_mb)),
        ("Disk", format!("{} MiB", s.disk_size_mb)),
        ("envd", s.envd_version.clone()),
    ]);
    if let Some(allow) = s.allow_internet_access {
        fields.push((
            "Internet",
            if allow { "allowed" } else { "denied" }.to_owned(),
        ));
    }
    if let Some(lifecycle) = &s.lifecycle {
        fields.push((
            "On timeout",
            format!(
                "{}{}",
                lifecycle.on_timeout,
                if lifecycle.auto_resume {
                    " (auto-resume)"
                } else {
                    ""
                }
            ),
        ));
    }
    if !s.metadata.is_empty() {
        fields.push(("Metadata", output::pairs(&s.metadata)));
    }
    fields
}

fn metrics_json(m: &SandboxMetrics) -> Value {
    json!({
        "timestamp": output::time_json(m.timestamp),
        "cpuUsedPct": m.cpu_used_pct,
        "cpuCount": m.cpu_count,
        "memUsed": m.mem_used,
        "memTotal": m.mem_total,
        "memCache": m.mem_cache,
        "diskUsed": m.disk_used,
        "diskTotal": m.disk_total,
    })
}

fn snapshot_json(s: &SnapshotInfo) -> Value {
    json!({ "snapshotId": s.snapshot_id, "names": s.names })
}
