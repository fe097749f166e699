//! The blocking facade against an in-process e2b-local: the server runs on a runtime of
//! its own; the test thread calls the blocking API as a program without a runtime would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2b::blocking::{Client, CodeInterpreter, Sandbox};
use e2b::{CommandOptions, ConnectionConfig, ListDirOptions, RunCodeOptions, SandboxState};
use e2b_local::{Server, ServerOptions};
use e2b_test_support::{agent_binary, kernel_env, sdk};

/// An e2b-local server on a runtime of its own, and a blocking client for it.
struct Local {
    runtime: tokio::runtime::Runtime,
    server: Option<Server>,
    client: Client,
}

impl Local {
    fn start(kernels: bool) -> Local {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        let mut options = ServerOptions::default().with_agent_binary(agent_binary());
        if kernels {
            options = options.with_kernel_env(Some(kernel_env().root().to_path_buf()));
        }
        let server = runtime
            .block_on(Server::start(options))
            .expect("e2b-local starts");
        let config = sdk::config(&server).build().expect("config");
        let client = Client::new(config).expect("blocking client");
        Local {
            runtime,
            server: Some(server),
            client,
        }
    }

    fn sandbox(&self) -> Sandbox {
        Sandbox::create_with(
            &self.client,
            e2b::Sandbox::builder().timeout(Duration::from_secs(120)),
        )
        .expect("sandbox created")
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_are_send_and_sync() {
    assert_send_sync::<Client>();
    assert_send_sync::<Sandbox>();
    assert_send_sync::<e2b::blocking::CommandHandle>();
    assert_send_sync::<CodeInterpreter>();
}

#[test]
fn lifecycle() {
    let local = Local::start(false);
    let sandbox = local.sandbox();
    assert!(sandbox.is_running().unwrap());
    let info = sandbox.info().unwrap();
    assert_eq!(info.sandbox_id, sandbox.id());
    assert_eq!(info.state, SandboxState::Running);
    sandbox.set_timeout(Duration::from_secs(300)).unwrap();

    let listed = local
        .client
        .list_sandboxes()
        .collect::<e2b::Result<Vec<_>>>()
        .unwrap();
    assert!(listed.iter().any(|s| s.sandbox_id == sandbox.id()));

    let again = Sandbox::connect(&local.client, sandbox.id()).unwrap();
    assert_eq!(again.id(), sandbox.id());
    assert!(sandbox.kill().unwrap());
    assert!(!sandbox.kill().unwrap());
    let err = local.client.sandbox_info(sandbox.id()).unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn commands_run_stream_and_background() {
    let local = Local::start(false);
    let sandbox = local.sandbox();
    let commands = sandbox.commands();

    let result = commands.run("echo hello").unwrap();
    assert_eq!(result.stdout, "hello\n");
    let err = commands.run("exit 3").unwrap_err();
    assert_eq!(err.command_exit_result().unwrap().exit_code, 3);

    // Callbacks run while the call blocks.
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&seen);
    commands
        .run_with(
            "for i in 1 2 3; do echo $i; done",
            CommandOptions::new()
                .cwd("/tmp")
                .on_stdout(move |s| sink.lock().unwrap().push_str(s)),
        )
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), "1\n2\n3\n");

    // As root, through the handle.
    let whoami = sandbox.with_user("root").commands().run("whoami").unwrap();
    assert_eq!(whoami.stdout.trim(), "root");

    // In the background: waited for from another thread, killed.
    let handle = commands.spawn("sleep 0.3; echo done").unwrap();
    let waiter = {
        let handle = handle.clone();
        std::thread::spawn(move || handle.wait())
    };
    assert_eq!(waiter.join().unwrap().unwrap().stdout, "done\n");
    let sleeper = commands.spawn("sleep 60").unwrap();
    assert!(
        commands
            .list()
            .unwrap()
            .iter()
            .any(|p| p.pid == sleeper.pid())
    );
    assert!(sleeper.kill().unwrap());
    assert!(sleeper.wait().is_err());

    // The output as a blocking iterator.
    let counter = commands
        .spawn("for i in 1 2 3; do echo $i; sleep 0.1; done")
        .unwrap();
    let text: String = counter.stdout().collect();
    assert_eq!(text, "1\n2\n3\n");
    sandbox.kill().unwrap();
}

#[test]
fn files() {
    let local = Local::start(false);
    let sandbox = local.sandbox();
    let files = sandbox.files();
    assert!(files.make_dir("/tmp/data/sub").unwrap());
    files.write("/tmp/data/a.txt", "alpha").unwrap();
    files.write("/tmp/data/sub/b.bin", vec![0u8, 1, 2]).unwrap();
    assert_eq!(files.read_text("/tmp/data/a.txt").unwrap(), "alpha");
    assert_eq!(files.read_bytes("/tmp/data/sub/b.bin").unwrap(), [0, 1, 2]);
    assert!(files.exists("/tmp/data/a.txt").unwrap());

    let mut top: Vec<_> = files
        .list("/tmp/data")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    top.sort();
    assert_eq!(top, ["a.txt", "sub"]);
    let deep = files
        .list_with("/tmp/data", ListDirOptions::new().depth(2))
        .unwrap();
    assert_eq!(deep.len(), 3);

    files.remove("/tmp/data").unwrap();
    assert!(!files.exists("/tmp/data/a.txt").unwrap());
    let err = files.read_text("/tmp/data/a.txt").unwrap_err();
    assert!(err.is_not_found(), "{err}");
    sandbox.kill().unwrap();
}

#[test]
fn code_interpreter_run_code_and_contexts() {
    let local = Local::start(true);
    let interpreter = CodeInterpreter::create_with(
        &local.client,
        e2b::CodeInterpreter::builder().timeout(Duration::from_secs(180)),
    )
    .unwrap();
    interpreter.run_code("x = 21").unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let execution = interpreter
        .run_code_with(
            "print('computing')\nx * 2",
            RunCodeOptions::new().on_stdout(move |m| sink.lock().unwrap().push(m.line.clone())),
        )
        .unwrap();
    assert_eq!(execution.text(), Some("42"));
    assert_eq!(*lines.lock().unwrap(), ["computing\n"]);

    let context = interpreter.create_code_context().unwrap();
    assert!(
        interpreter
            .list_code_contexts()
            .unwrap()
            .iter()
            .any(|c| c.id == context.id)
    );
    interpreter
        .run_code_with("y = 5", RunCodeOptions::new().context(&context))
        .unwrap();
    let y = interpreter
        .run_code_with("y", RunCodeOptions::new().context(&context))
        .unwrap();
    assert_eq!(y.text(), Some("5"));
    interpreter.restart_code_context(&context).unwrap();
    let gone = interpreter
        .run_code_with("y", RunCodeOptions::new().context(&context))
        .unwrap();
    assert!(gone.error.is_some());
    interpreter.remove_code_context(&context).unwrap();

    // The sandbox underneath.
    interpreter
        .sandbox()
        .files()
        .write("/tmp/n.txt", "7")
        .unwrap();
    let n = interpreter
        .run_code("int(open('/tmp/n.txt').read())")
        .unwrap();
    assert_eq!(n.text(), Some("7"));
    interpreter.sandbox().kill().unwrap();
}

#[test]
fn calling_from_inside_a_runtime_panics_clearly() {
    let config = ConnectionConfig::builder()
        .api_key("e2b_0000000000000000000000000000000000000000")
        .api_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let client = Client::new(config).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let panic = runtime.block_on(async {
        let client = client.clone();
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.kill_sandbox("x")));
        // Dropping handles inside the runtime does not panic.
        drop(client);
        caught.expect_err("blocking inside a runtime panics")
    });
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(message.contains("inside an async runtime"), "{message}");
    assert!(message.contains("spawn_blocking"), "{message}");
    drop(runtime);
    // Outside a runtime the same client works (here: fails to connect, as an error).
    assert!(client.kill_sandbox("x").is_err());
}

#[test]
fn debug_hides_the_api_key_and_access_token() {
    let key = "e2b_5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
    let token = "s3ntinel-secret-value";
    let config = ConnectionConfig::builder()
        .api_key(key)
        .access_token(token)
        .build()
        .unwrap();
    let client = Client::new(config).unwrap();
    let printed = format!("{client:?}");
    assert!(
        !printed.contains(&key[4..]) && !printed.contains(token),
        "{printed}"
    );
}
