//! The agent's side of `sudo`: authorise the caller, start its command.

#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::process::Command;

use super::accounts::{self, Account};
use super::{Forward, Invocation, MAX_REQUEST, REQUEST, Reply, Request};

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// `PATH` of commands run through `sudo` (Debian's `secure_path`).
const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Caller variables kept when the environment is reset (as sudo's `env_keep`).
const KEPT: [&str; 9] = [
    "TERM",
    "COLORTERM",
    "DISPLAY",
    "XAUTHORITY",
    "LANG",
    "LANGUAGE",
    "TZ",
    "LS_COLORS",
    "E2B_SANDBOX",
];

/// Serve `sudo` on a socket at `path` (replacing a stale one) until the
/// agent exits.
pub(crate) fn start(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(path)?;
    // Anyone may ask; the agent decides who is allowed by the kernel's
    // word on who is asking.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(async move {
                        if let Err(e) = serve(stream).await {
                            tracing::debug!(error = %e, "sudo request failed");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sudo: accepting a connection failed");
                    return;
                }
            }
        }
    });
    Ok(())
}

/// One client, from its request to the command's end.
async fn serve(stream: UnixStream) -> io::Result<()> {
    let caller = rustix::net::sockopt::socket_peercred(&stream)?;
    let (caller_uid, caller_gid) = (caller.uid.as_raw(), caller.gid.as_raw());
    let received = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let fds = receive_fds(&stream).await?;
        let (read, write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut line = Vec::new();
        (&mut reader)
            .take(MAX_REQUEST as u64)
            .read_until(b'\n', &mut line)
            .await?;
        let request: Request = serde_json::from_slice(&line)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok::<_, io::Error>((fds, request, reader, write))
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request"))??;
    let (fds, request, mut reader, mut write) = received;
    let reply = |reply: Reply| {
        let mut line = serde_json::to_vec(&reply).unwrap_or_default();
        line.push(b'\n');
        line
    };
    let (passwd, group) = accounts::read();
    let prepared = prepare(&request, caller_uid, caller_gid, &passwd, &group);
    let (mut command, background) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => {
            write.write_all(&reply(Reply::Error(message))).await?;
            return Ok(());
        }
    };
    let [stdin, stdout, stderr]: [OwnedFd; 3] = fds;
    command
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    let name = request
        .invocation
        .command
        .first()
        .cloned()
        .unwrap_or_default();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let message = if e.kind() == io::ErrorKind::NotFound {
                format!("{name}: command not found")
            } else {
                format!("unable to execute {name}: {e}")
            };
            write.write_all(&reply(Reply::Error(message))).await?;
            return Ok(());
        }
    };
    drop(command);
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    if background {
        write.write_all(&reply(Reply::Exit(0))).await?;
        let _ = child.wait().await;
        return Ok(());
    }
    let mut line = String::new();
    let mut client_gone = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            read = reader.read_line(&mut line), if !client_gone => {
                match read {
                    Ok(0) | Err(_) => {
                        client_gone = true;
                        signal(pid, libc::SIGHUP);
                    }
                    Ok(_) => {
                        if let Ok(forward) = serde_json::from_str::<Forward>(line.trim()) {
                            signal(pid, forward.signal);
                        }
                        line.clear();
                    }
                }
            }
        }
    };
    let code = {
        use std::os::unix::process::ExitStatusExt as _;
        status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(1)
    };
    if !client_gone {
        let _ = write.write_all(&reply(Reply::Exit(code))).await;
    }
    Ok(())
}

/// Deliver a forwarded signal to the command's process group; only the
/// ordinary signals a terminal or supervisor sends are passed on.
fn signal(pid: Option<i32>, signal: i32) {
    let allowed = [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGKILL,
    ];
    let (Some(pid), true) = (pid, allowed.contains(&signal)) else {
        return;
    };
    let (Some(group), Some(sig)) = (
        rustix::process::Pid::from_raw(pid),
        rustix::process::Signal::from_named_raw(signal),
    ) else {
        return;
    };
    let _ = rustix::process::kill_process_group(group, sig);
}

/// The caller's three standard descriptors.
async fn receive_fds(stream: &UnixStream) -> io::Result<[OwnedFd; 3]> {
    loop {
        stream.readable().await?;
        match stream.try_io(tokio::io::Interest::READABLE, || {
            crate::agent::fd_passing::receive(stream)
        }) {
            Ok(Some((REQUEST, fds))) => {
                return fds.try_into().map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidData, "expected three descriptors")
                });
            }
            Ok(_) => return Err(io::Error::new(io::ErrorKind::InvalidData, "no request")),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The command to start for `request` from the caller, and whether to leave
/// it running in the background; or the message refusing it.
fn prepare(
    request: &Request,
    caller_uid: u32,
    caller_gid: u32,
    passwd: &str,
    group: &str,
) -> Result<(Command, bool), String> {
    let inv = &request.invocation;
    let caller = accounts::find_user(passwd, &format!("#{caller_uid}"));
    let caller_name = caller
        .as_ref()
        .map_or_else(|| caller_uid.to_string(), |a| a.name.clone());
    let allowed = caller_uid == 0
        || caller_uid == crate::sandbox::layout::USER_ID
        || accounts::in_group(group, "sudo", &caller_name, caller_gid);
    if !allowed {
        return Err(format!("{caller_name} is not in the sudoers file."));
    }
    let target_spec = inv.user.clone().unwrap_or_else(|| "root".to_owned());
    let target = accounts::find_user(passwd, &target_spec)
        .or_else(|| numeric_account(&target_spec))
        .ok_or_else(|| format!("unknown user {target_spec}"))?;
    let gid = match &inv.group {
        Some(spec) => {
            accounts::find_group(group, spec).ok_or_else(|| format!("unknown group {spec}"))?
        }
        None => target.gid,
    };
    let env = environment(request, &target, &caller_name, caller_uid, caller_gid);
    let argv = command_line(inv, &target, &env);
    let cwd = match (&inv.chdir, inv.login) {
        (Some(dir), _) => dir.clone(),
        (None, true) => target.home.clone(),
        (None, false) => request.cwd.clone(),
    };
    // The directory is entered as the target user, after the switch: one it
    // may not enter is replaced by its home, then by `/`.
    let dirs: Vec<std::ffi::CString> = [cwd, target.home.clone(), "/".to_owned()]
        .into_iter()
        .filter_map(|d| std::ffi::CString::new(d).ok())
        .collect();
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env_clear()
        .envs(&env)
        .uid(target.uid)
        .gid(gid)
        .process_group(0)
        .kill_on_drop(false);
    // SAFETY: chdir is async-signal-safe; the strings were made before the fork.
    unsafe {
        command.pre_exec(move || {
            for dir in &dirs {
                if libc::chdir(dir.as_ptr()) == 0 {
                    return Ok(());
                }
            }
            Err(io::Error::last_os_error())
        });
    }
    Ok((command, inv.background))
}

/// An account for `#uid` that `/etc/passwd` does not list.
fn numeric_account(spec: &str) -> Option<Account> {
    let uid: u32 = spec.strip_prefix('#')?.parse().ok()?;
    Some(Account {
        name: uid.to_string(),
        uid,
        gid: uid,
        home: "/".to_owned(),
        shell: "/bin/sh".to_owned(),
    })
}

/// The command's environment: sudo's reset one (or the caller's with
/// `-E`), then the target's identity, then `VAR=value` arguments.
fn environment(
    request: &Request,
    target: &Account,
    caller_name: &str,
    caller_uid: u32,
    caller_gid: u32,
) -> BTreeMap<String, String> {
    let inv = &request.invocation;
    let mut env: BTreeMap<String, String> = request
        .env
        .iter()
        .filter(|(k, _)| inv.preserve_env || KEPT.contains(&k.as_str()) || k.starts_with("LC_"))
        .cloned()
        .collect();
    env.insert("PATH".to_owned(), SECURE_PATH.to_owned());
    if !inv.preserve_env || inv.set_home || inv.login {
        env.insert("HOME".to_owned(), target.home.clone());
    }
    env.insert("USER".to_owned(), target.name.clone());
    env.insert("LOGNAME".to_owned(), target.name.clone());
    env.insert("SHELL".to_owned(), target.shell.clone());
    env.insert("MAIL".to_owned(), format!("/var/mail/{}", target.name));
    env.insert("SUDO_USER".to_owned(), caller_name.to_owned());
    env.insert("SUDO_UID".to_owned(), caller_uid.to_string());
    env.insert("SUDO_GID".to_owned(), caller_gid.to_string());
    env.insert("SUDO_COMMAND".to_owned(), inv.command.join(" "));
    for (k, v) in &inv.assignments {
        env.insert(k.clone(), v.clone());
    }
    env
}

/// The program and arguments: the command itself, or a shell running it
/// (`-s`: `$SHELL`; `-i`: the target's login shell).
fn command_line(inv: &Invocation, target: &Account, env: &BTreeMap<String, String>) -> Vec<String> {
    if !inv.login && !inv.shell {
        return inv.command.clone();
    }
    let shell = if inv.login {
        target.shell.clone()
    } else {
        env.get("SHELL")
            .cloned()
            .unwrap_or_else(|| target.shell.clone())
    };
    let mut argv = vec![shell];
    if inv.login {
        argv.push("-l".to_owned());
    }
    if !inv.command.is_empty() {
        argv.push("-c".to_owned());
        argv.push(
            inv.command
                .iter()
                .map(|a| shell_escape(a))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    argv
}

/// `arg` with every character but letters, digits, `_`, `-`, `.`, `/` and
/// `=` escaped by a backslash (as sudo quotes a command for a shell).
fn shell_escape(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len());
    for c in arg.chars() {
        if !(c.is_ascii_alphanumeric() || "_-./=".contains(c)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\nguest:x:1001:1001::/home/guest:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nsudo:x:27:user\nuser:x:1000:\n";

    fn request(args: &[&str]) -> Request {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let super::super::args::Action::Run(invocation) = super::super::args::parse(&args).unwrap()
        else {
            panic!("not a command")
        };
        Request {
            invocation,
            env: vec![
                ("PATH".into(), "/evil".into()),
                ("TERM".into(), "xterm".into()),
                ("SECRET".into(), "1".into()),
                ("HOME".into(), "/home/user".into()),
            ],
            cwd: "/home/user".into(),
        }
    }

    #[test]
    fn only_root_user_and_sudoers_may_ask() {
        let r = request(&["true"]);
        assert!(prepare(&r, 0, 0, PASSWD, GROUP).is_ok());
        assert!(prepare(&r, 1000, 1000, PASSWD, GROUP).is_ok());
        let refused = prepare(&r, 1001, 1001, PASSWD, GROUP).unwrap_err();
        assert_eq!(refused, "guest is not in the sudoers file.");
        assert!(prepare(&request(&["-u", "ghost", "true"]), 0, 0, PASSWD, GROUP).is_err());
    }

    #[test]
    fn environment_is_reset_unless_preserved() {
        let target = accounts::find_user(PASSWD, "root").unwrap();
        let env = environment(&request(&["X=1", "env"]), &target, "user", 1000, 1000);
        assert_eq!(env["PATH"], SECURE_PATH);
        assert_eq!(env["HOME"], "/root");
        assert_eq!(env["TERM"], "xterm");
        assert_eq!(env["SUDO_USER"], "user");
        assert_eq!(env["X"], "1");
        assert!(!env.contains_key("SECRET"));
        let env = environment(&request(&["-E", "env"]), &target, "user", 1000, 1000);
        assert_eq!(env["SECRET"], "1");
        assert_eq!(env["HOME"], "/home/user");
        assert_eq!(env["PATH"], SECURE_PATH);
    }

    #[test]
    fn shells_run_the_command_quoted() {
        let target = accounts::find_user(PASSWD, "root").unwrap();
        let r = request(&["-i", "echo", "a b;c"]);
        let argv = command_line(&r.invocation, &target, &BTreeMap::new());
        assert_eq!(argv, ["/bin/bash", "-l", "-c", "echo a\\ b\\;c"]);
        let r = request(&["ls", "-l"]);
        assert_eq!(
            command_line(&r.invocation, &target, &BTreeMap::new()),
            ["ls", "-l"]
        );
    }
}
