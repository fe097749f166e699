//! The kernel environment `make kernel-env` builds: its interpreter runs, its
//! kernels are found, and its startup scripts give DataFrames `e2b/data` and
//! matplotlib figures `e2b/chart`; `code-interpreter-v1` sandboxes see it,
//! read-only, at `/run/e2b-kernel` and can run its interpreter as `user`.

use e2b_test_support as support;

use std::path::PathBuf;
use std::process::Command;

use e2b_local::Server;
use e2b_local::jupyter::client::KernelClient;
use e2b_local::jupyter::connection::ConnectionInfo;
use e2b_local::jupyter::message::{Codec, Message};
use e2b_local::kernel_env::{KernelEnv, Language};

/// Runs `code` under IPython with the environment's startup scripts; returns stdout.
fn ipython(env: &KernelEnv, code: &str) -> String {
    let out = Command::new(env.python())
        .args([
            "-m",
            "IPython",
            "--no-banner",
            "--colors=NoColor",
            "-c",
            code,
        ])
        .env("IPYTHONDIR", env.ipython_dir())
        .env("MPLBACKEND", "Agg")
        .output()
        .expect("run the kernel environment's python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn python_kernel_is_installed_and_its_interpreter_is_located() {
    let env = support::kernel_env();
    assert_eq!(env.languages().first(), Some(&Language::Python));
    let base = env.base_interpreter_dir().expect("pyvenv.cfg has a home");
    assert!(
        base.is_dir(),
        "base interpreter dir {} is missing",
        base.display()
    );
    let out = Command::new(env.python())
        .args(["-c", "import ipykernel, zmq, sys; print(sys.prefix)"])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(
        prefix.canonicalize().unwrap(),
        env.root().canonicalize().unwrap(),
        "python does not run inside the kernel environment"
    );
}

#[test]
fn dataframes_display_as_e2b_data() {
    let env = support::kernel_env();
    let out = ipython(
        &env,
        r#"
import json, pandas as pd
fmt, _ = get_ipython().display_formatter.format(pd.DataFrame({"a": [1, 2], "b": ["x", None]}))
print(json.dumps(fmt["e2b/data"], sort_keys=True))
print("text/plain" in fmt)
"#,
    );
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(r#"{"a": [1, 2], "b": ["x", null]}"#),
        "{out}"
    );
    assert_eq!(lines.next(), Some("True"), "{out}");
}

#[test]
fn figures_display_as_e2b_chart_and_other_objects_do_not() {
    let env = support::kernel_env();
    let out = ipython(
        &env,
        r#"
import json
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [2, 4, 8], label="growth")
ax.set_title("Growth")
ax.set_xlabel("time (s)")
fmt, _ = get_ipython().display_formatter.format(fig)
chart = fmt["e2b/chart"]
print(chart["type"], chart["title"], chart["x_unit"])
print(json.dumps(chart["elements"][0]["points"]))
fmt, _ = get_ipython().display_formatter.format(42)
print(sorted(fmt))
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"line Growth s"), "{out}");
    assert_eq!(
        lines.get(1),
        Some(&"[[1.0, 2.0], [2.0, 4.0], [3.0, 8.0]]"),
        "{out}"
    );
    assert_eq!(lines.get(2), Some(&"['text/plain']"), "{out}");
}

#[tokio::test]
async fn sandboxes_run_the_kernel_interpreter_as_user_read_only() {
    let env = support::kernel_env();
    let server = Server::start(support::options().with_kernel_env(Some(env.root().to_path_buf())))
        .await
        .expect("server starts");
    let id = support::create(
        &server,
        serde_json::json!({"templateID": "code-interpreter-v1", "timeout": 120}),
    )
    .await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = support::exec(
        &server,
        &id,
        None,
        &[
            "/run/e2b-kernel/bin/python",
            "-c",
            "import sys, os, ipykernel, pandas, e2b_charts; print(sys.prefix, os.getuid())",
        ],
        Some("user"),
    )
    .await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert_eq!(out.trim(), "/run/e2b-kernel 1000", "stderr: {err}");

    let (code, _, err) = support::exec(
        &server,
        &id,
        None,
        &["/bin/sh", "-c", "touch /run/e2b-kernel/x"],
        Some("root"),
    )
    .await;
    assert_ne!(code, 0, "the kernel environment is writable from inside");
    assert!(err.contains("Read-only"), "{err}");
    server.shutdown().await;
}

/// A Rust-signed request is accepted by `jupyter_client` (the kernel side's
/// library), and its signed reply decodes here with the right parent.
#[test]
fn messages_interoperate_with_jupyter_client() {
    let env = support::kernel_env();
    let codec = Codec::new(b"k3y");
    let request = Message::new(
        "client",
        "execute_request",
        serde_json::json!({"code": "1+1", "silent": false}),
    );
    let frames = codec.encode(&[b"router-id".to_vec()], &request);
    let hex: Vec<String> = frames
        .iter()
        .map(|f| f.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let script = r#"
import json, sys
from jupyter_client.session import Session
s = Session(key=b"k3y", signature_scheme="hmac-sha256")
idents, rest = s.feed_identities([bytes.fromhex(h) for h in json.loads(sys.argv[1])])
msg = s.deserialize(rest)
reply = s.msg("execute_reply", content={"status": "ok", "echo": msg["content"]["code"]}, parent=msg)
print(json.dumps([f.hex() for f in s.serialize(reply, ident=idents)]))
"#;
    let out = Command::new(env.python())
        .args(["-c", script, &serde_json::to_string(&hex).unwrap()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "jupyter_client rejected the message: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply_hex: Vec<String> = serde_json::from_slice(&out.stdout).expect("hex frames");
    let reply_frames: Vec<Vec<u8>> = reply_hex
        .iter()
        .map(|h| {
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect();
    let (ids, reply) = codec.decode(&reply_frames).expect("a valid signed reply");
    assert_eq!(ids, vec![b"router-id".to_vec()]);
    assert_eq!(reply.header.msg_type, "execute_reply");
    assert_eq!(reply.parent_id(), Some(request.header.msg_id.as_str()));
    assert_eq!(reply.content["echo"], "1+1");
    assert!(Codec::new(b"wrong").decode(&reply_frames).is_err());
}

/// Starts the environment's ipykernel and talks to it over ZMQ (the latency of
/// `run_code` is measured by `benches/run_code.sh`).
#[tokio::test]
async fn python_kernel_executes_over_zmq_and_keeps_state() {
    let env = support::kernel_env();
    let dir = std::env::temp_dir().join(format!("e2b-local-kernel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Unix sockets: no TCP port to race other processes for.
    let info = ConnectionInfo::ipc(&dir.join("kernel")).expect("a key");
    let file = dir.join("kernel.json");
    info.write(&file).unwrap();
    let mut kernel = tokio::process::Command::new(env.python())
        .args(["-m", "ipykernel_launcher", "-f"])
        .arg(&file)
        .env("IPYTHONDIR", env.ipython_dir())
        .env("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        .kill_on_drop(true)
        .spawn()
        .expect("start ipykernel");
    let mut client = KernelClient::connect(&info, std::time::Duration::from_secs(30))
        .await
        .expect("the kernel answers");

    let result = |outputs: &[Message]| {
        outputs
            .iter()
            .find(|m| m.header.msg_type == "execute_result")
            .map(|m| m.content["data"]["text/plain"].clone())
    };
    let out = client.execute("1+1").await.expect("execute");
    assert_eq!(result(&out), Some(serde_json::json!("2")));

    client.execute("x = 20").await.unwrap();
    let out = client.execute("print('out'); x * 2 + 2").await.unwrap();
    assert_eq!(result(&out), Some(serde_json::json!("42")));
    let stream = out
        .iter()
        .find(|m| m.header.msg_type == "stream")
        .expect("stdout");
    assert_eq!(stream.content["name"], "stdout");
    assert_eq!(stream.content["text"], "out\n");

    let out = client.execute("1/0").await.unwrap();
    let error = out
        .iter()
        .find(|m| m.header.msg_type == "error")
        .expect("an error");
    assert_eq!(error.content["ename"], "ZeroDivisionError");

    let out = client
        .execute("import pandas as pd; pd.DataFrame({'a': [1, 2]})")
        .await
        .unwrap();
    let data = out
        .iter()
        .find(|m| m.header.msg_type == "execute_result")
        .expect("a result");
    assert_eq!(
        data.content["data"]["e2b/data"],
        serde_json::json!({"a": [1, 2]})
    );
    assert!(data.content["data"]["text/html"].is_string());

    kernel.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
