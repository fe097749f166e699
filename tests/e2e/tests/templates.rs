//! Templates through the SDK against e2b-local: a template built with the
//! typed builder (a copy of a local context, commands, environment, working
//! directory, start and ready commands), sandboxes of it, a rebuild served
//! from the cache, a failing build named by its step, tags, list, exists and
//! delete. (The protocol's framing and error paths are also tested on the
//! wire in crates/e2b-template/tests/build_api.rs.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2b::Sandbox;
use e2b::template::{BuildOptions, BuildStatus, LogEntry, Template, wait_for_file};
use e2b_test_support::sdk::Local;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// Build options that collect the log messages.
fn collecting() -> (BuildOptions, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let options = BuildOptions::new()
        .timeout(Duration::from_secs(180))
        .on_build_logs(move |entry: &LogEntry| sink.lock().unwrap().push(entry.message.clone()));
    (options, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_build_run_and_are_managed_through_the_sdk() {
    let local = Local::start().await;
    let client = &local.client;

    let templates = Template::list(client).await.unwrap();
    let base = templates
        .iter()
        .find(|t| t.template_id == "base")
        .expect("the built-in base template");
    assert_eq!(base.build_status, BuildStatus::Ready);
    assert!(Template::exists(client, "base").await.unwrap());
    assert!(!Template::exists(client, "no-such-template").await.unwrap());
    assert!(!Template::delete(client, "no-such-template").await.unwrap());
    if !is_root() {
        // Builds need writable roots (a root server); the refusal is a build error.
        let template = Template::new().from_base_image().run_cmd("true");
        let err = Template::build(client, &template, "refused")
            .await
            .unwrap_err();
        assert!(err.is_build(), "{err}");
        local.stop().await;
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("site/static")).unwrap();
    std::fs::write(dir.path().join("site/static/index.html"), "<h1>hi</h1>\n").unwrap();
    std::fs::write(dir.path().join("site/notes.tmp"), "left out\n").unwrap();
    let template = Template::with_context(dir.path())
        .file_ignore_patterns(["**/*.tmp"])
        .from_base_image()
        .copy("site", "/home/user/site")
        .run_cmd_with_user(
            "echo building-now && mkdir -p /opt/app && echo 1.0 > /opt/app/VERSION",
            "root",
        )
        .set_envs([("APP_ENV", "e2e")])
        .set_workdir("/home/user/site")
        .set_start_cmd("touch /tmp/app-started", wait_for_file("/tmp/app-started"));
    let (options, lines) = collecting();
    let info = Template::build_with(client, &template, "e2e-site:v1", options)
        .await
        .unwrap();
    assert_eq!(info.name, "e2e-site:v1");
    assert!(
        lines.lock().unwrap().iter().any(|l| l == "building-now"),
        "{:?}",
        lines.lock().unwrap()
    );
    assert!(Template::exists(client, "e2e-site").await.unwrap());

    let sbx = Sandbox::builder()
        .template("e2e-site")
        .timeout(Duration::from_secs(60))
        .create(client)
        .await
        .unwrap();
    let out = sbx
        .commands()
        .run("pwd; echo $APP_ENV; cat /opt/app/VERSION static/index.html; ls; test -e /tmp/app-started && echo started")
        .await
        .unwrap();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        [
            "/home/user/site",
            "e2e",
            "1.0",
            "<h1>hi</h1>",
            "static",
            "started"
        ]
    );
    sbx.kill().await.unwrap();

    // The same template again: every layer from the cache, no step runs.
    let (options, lines) = collecting();
    Template::build_with(client, &template, "e2e-site:v1", options)
        .await
        .unwrap();
    let lines = lines.lock().unwrap().clone();
    assert!(!lines.iter().any(|l| l == "building-now"), "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| *l == "CACHED").count(),
        3,
        "{lines:?}"
    );

    // Tags point at the build; a failing step is named.
    Template::assign_tags(client, "e2e-site:v1", ["stable"])
        .await
        .unwrap();
    let tags: Vec<String> = Template::get_tags(client, &info.template_id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.tag)
        .collect();
    assert_eq!(tags, ["stable", "v1"]);
    let broken = Template::new()
        .from_base_image()
        .run_cmd("true")
        .run_cmd("echo nope >&2; exit 7");
    let err = Template::build(client, &broken, "e2e-broken")
        .await
        .unwrap_err();
    assert!(err.is_build(), "{err}");
    assert!(err.to_string().contains("exit status 7"), "{err}");
    assert!(!Template::exists(client, "e2e-broken").await.unwrap());

    // A Dockerfile, built in the background and followed by its status.
    std::fs::write(dir.path().join("greeting.txt"), "from the context\n").unwrap();
    let dockerfile = "FROM e2bdev/base\nARG FLAVOR=plain\nENV GREETING=hello\n\
                      RUN mkdir -p /home/user/out && echo \"$GREETING $FLAVOR\" > /home/user/out/msg\n\
                      WORKDIR /home/user/out\nCOPY greeting.txt ./\n";
    let imported = Template::with_context(dir.path())
        .from_dockerfile(dockerfile)
        .unwrap();
    let background =
        Template::build_in_background(client, &imported, "e2e-docker", BuildOptions::new())
            .await
            .unwrap();
    let mut offset = 0;
    let status = loop {
        let status = Template::get_build_status(client, &background, offset)
            .await
            .unwrap();
        offset += u32::try_from(status.log_entries.len()).unwrap();
        if matches!(status.status, BuildStatus::Ready | BuildStatus::Error)
            && status.log_entries.is_empty()
        {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.status, BuildStatus::Ready, "{status:?}");
    assert!(offset > 0, "the build logged nothing");
    let sbx = Sandbox::builder()
        .template("e2e-docker")
        .timeout(Duration::from_secs(60))
        .create(client)
        .await
        .unwrap();
    let out = sbx
        .commands()
        .run("pwd; cat msg greeting.txt")
        .await
        .unwrap();
    assert_eq!(
        out.stdout,
        "/home/user/out\nhello plain\nfrom the context\n"
    );
    sbx.kill().await.unwrap();

    assert!(Template::delete(client, "e2e-site").await.unwrap());
    assert!(!Template::exists(client, "e2e-site").await.unwrap());
    local.stop().await;
}
