//! `e2b local …`: e2b-local's server and doctor from the same binary, whose sandboxes run
//! this very executable as their agent.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use crate::support::{E2B, PATIENCE, assert_success, bare, output, stderr, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_serve_runs_sandboxes_with_this_binary_as_their_agent() {
    let mut server = Command::new(E2B);
    server
        .args(["local", "serve", "--listen", "127.0.0.1:0", "--ephemeral"])
        .env_remove("E2B_LOCAL_BIN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut server = server.spawn().expect("start e2b local serve");
    let stdout_pipe = server.stdout.take().unwrap();
    // The environment, one KEY=value per line, once the server accepts requests.
    let env = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout_pipe).lines();
        let mut env = Vec::new();
        while env.len() < 4 {
            let line = lines.next().expect("the environment").unwrap();
            let (key, value) = line.split_once('=').expect("KEY=value");
            env.push((key.to_owned(), value.to_owned()));
        }
        env
    });
    let env = tokio::time::timeout(PATIENCE * 4, env)
        .await
        .expect("serve printed its environment")
        .unwrap();
    let configured = |args: &[&str]| {
        let mut command = bare(args);
        command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    };

    let out = output(&mut configured(&["sandbox", "create", "--detach"]), None).await;
    assert_success(&out, &["sandbox", "create"]);
    let id = stdout(&out).trim().to_owned();
    let out = output(
        &mut configured(&[
            "sandbox",
            "exec",
            &id,
            "--",
            "echo agent-$((40+2)); sudo whoami",
        ]),
        None,
    )
    .await;
    assert_success(&out, &["sandbox", "exec"]);
    assert_eq!(stdout(&out), "agent-42\nroot\n", "{}", stderr(&out));

    // SIGTERM: the server kills its sandboxes and exits cleanly.
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn local_doctor_reports_this_binary_as_the_agent() {
    let out = output(&mut bare(&["local", "doctor"]), None).await;
    let report = stdout(&out);
    assert!(report.contains("agent binary"), "{report}");
    assert!(report.contains(E2B), "{report}");
    // Exit 0 when everything required is present, 1 (with a one-line error) otherwise.
    match out.status.code() {
        Some(0) => {}
        Some(1) => assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out)),
        other => panic!("exit {other:?}: {}", stderr(&out)),
    }
}

#[tokio::test]
async fn local_options_are_e2b_locals_own() {
    // `image ls --format json` is e2b-local's flag, not the global one.
    let data = tempfile::tempdir().unwrap();
    let out = output(
        &mut bare(&[
            "local",
            "image",
            "ls",
            "--format",
            "json",
            "--data-dir",
            data.path().to_str().unwrap(),
        ]),
        None,
    )
    .await;
    assert_success(&out, &["local", "image", "ls"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
    // Global options before `local` would not apply: a usage error.
    let out = output(&mut bare(&["--format", "json", "local", "doctor"]), None).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("e2b local"), "{}", stderr(&out));
}
