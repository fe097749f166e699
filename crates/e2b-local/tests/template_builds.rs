//! Template builds through the control plane, as the SDKs drive them:
//! request, file upload through the signed URL, start, status with log
//! offsets; steps that run commands, copy files, set the environment, the
//! working directory and the user; the layer cache; failures named by step;
//! bad input refused; templates listed, described, tagged and deleted.

use e2b_test_support as support;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::{Duration, Instant};

use e2b_local::Server;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// How long a build may take before the test gives up.
const BUILD_PATIENCE: Duration = Duration::from_secs(180);

async fn post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    let response = support::authed_http(server)
        .post(format!("{}{path}", server.api_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Request a build of `name`: `(template id, build id)`.
async fn request(server: &Server, name: &str) -> (String, String) {
    let (status, body) = post(
        server,
        "/v3/templates",
        json!({"name": name, "cpuCount": 2, "memoryMB": 1024}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["names"], json!([name.split(':').next().unwrap()]));
    (
        body["templateID"].as_str().unwrap().to_owned(),
        body["buildID"].as_str().unwrap().to_owned(),
    )
}

/// Follow a build to its end as the SDKs do (status with a growing log
/// offset): the final status and every log entry.
async fn wait(server: &Server, template: &str, build: &str) -> (Value, Vec<Value>) {
    let started = Instant::now();
    let mut logs = Vec::new();
    loop {
        let status = support::api_get(
            server,
            &format!(
                "/templates/{template}/builds/{build}/status?logsOffset={}",
                logs.len()
            ),
        )
        .await;
        let entries = status["logEntries"].as_array().cloned().unwrap_or_default();
        let drained = entries.is_empty();
        logs.extend(entries);
        let state = status["status"].as_str().unwrap_or_default().to_owned();
        if (state == "ready" || state == "error") && drained {
            return (status, logs);
        }
        assert!(
            started.elapsed() < BUILD_PATIENCE,
            "the build did not finish: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn messages(logs: &[Value]) -> Vec<String> {
    logs.iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The files hash of `COPY src dest` for `files` (paths relative to
/// `context`, in the order the archive holds them), computed as the SDKs
/// compute it.
fn files_hash(context: &Path, src: &str, dest: &str, files: &[&str]) -> String {
    let mut hash = Sha256::new();
    hash.update(format!("COPY {src} {dest}").as_bytes());
    for file in files {
        let meta = std::fs::symlink_metadata(context.join(file)).unwrap();
        hash.update(file.as_bytes());
        hash.update(meta.mode().to_string().as_bytes());
        if !meta.is_dir() {
            hash.update(meta.len().to_string().as_bytes());
        }
        if meta.is_file() {
            hash.update(std::fs::read(context.join(file)).unwrap());
        }
    }
    hex(&hash.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A build context with a directory `app` (a script and a nested file):
/// the context, its archive (tar.gz of `files`, in order) and the files.
fn context() -> (tempfile::TempDir, std::path::PathBuf, Vec<&'static str>) {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(app.join("data")).unwrap();
    std::fs::write(app.join("run.sh"), "#!/bin/sh\necho app-ran\n").unwrap();
    std::fs::set_permissions(app.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(app.join("data/notes.txt"), "copied notes\n").unwrap();
    let files = vec!["app", "app/data", "app/data/notes.txt", "app/run.sh"];
    let archive = dir.path().join("context.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg("--no-recursion")
        .args(&files)
        .status()
        .unwrap();
    assert!(status.success());
    (dir, archive, files)
}

/// Upload an archive for `hash` through the URL the server hands out.
async fn upload(server: &Server, template: &str, hash: &str, archive: &Path) {
    let link = support::api_get(server, &format!("/templates/{template}/files/{hash}")).await;
    assert_eq!(link["present"], false, "{link}");
    let url = link["url"].as_str().unwrap().to_owned();
    // The URL's token is its authorisation: a changed one is refused.
    let forged = format!("{}0", url.trim_end_matches(|c: char| c != '='));
    let refused = support::http()
        .put(&forged)
        .body(std::fs::read(archive).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let stored = support::http()
        .put(&url)
        .body(std::fs::read(archive).unwrap())
        .send()
        .await
        .unwrap();
    assert!(stored.status().is_success(), "{}", stored.status());
    let again = support::api_get(server, &format!("/templates/{template}/files/{hash}")).await;
    assert_eq!(again["present"], true, "{again}");
}

async fn sh(server: &Server, id: &str, cmd: &str) -> (i32, String, String) {
    support::exec(server, id, None, &["bash", "-c", cmd], None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_build_a_template_whose_sandboxes_have_their_results() {
    let server = support::server().await;
    if !is_root() {
        // Builds need writable roots, which need a root server.
        let (status, body) = post(&server, "/v3/templates", json!({"name": "app"})).await;
        assert_eq!(status, 400, "{body}");
        return;
    }
    let (template, build) = request(&server, "app").await;
    let (ctx, archive, files) = context();
    let hash = files_hash(ctx.path(), "app", "/home/user/app", &files);
    upload(&server, &template, &hash, &archive).await;
    let steps = json!([
        {"type": "RUN", "args": ["mkdir -p /opt/tool && echo v1 > /opt/tool/version && echo step-one-output", "root"]},
        {"type": "ENV", "args": ["GREETING", "hello", "COMBINED", "${GREETING}-world"]},
        {"type": "COPY", "args": ["app", "/home/user/app", "", ""], "filesHash": hash},
        {"type": "USER", "args": ["builder", "true"]},
        {"type": "WORKDIR", "args": ["/srv/work"]},
        {"type": "RUN", "args": ["echo $GREETING > greeting.txt && id -un > who.txt"]},
    ]);
    let (status, body) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{build}"),
        json!({"fromTemplate": "base", "steps": steps}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (done, logs) = wait(&server, &template, &build).await;
    assert_eq!(done["status"], "ready", "{done} {:?}", messages(&logs));
    let lines = messages(&logs);
    assert!(lines.iter().any(|l| l == "step-one-output"), "{lines:?}");
    assert!(
        logs.iter().any(|e| e["step"] == "1") && logs.iter().any(|e| e["step"] == "6"),
        "{lines:?}"
    );

    // Sandboxes of the template have what the steps made.
    let id =
        support::create(&server, json!({"templateID": "app", "timeout": 120})).await["sandboxID"]
            .as_str()
            .unwrap()
            .to_owned();
    let (code, out, err) = sh(
        &server,
        &id,
        "cat /opt/tool/version; echo $GREETING $COMBINED; id -un; pwd; cat greeting.txt who.txt; \
         /home/user/app/run.sh; cat /home/user/app/data/notes.txt; stat -c '%U %a' /home/user/app/run.sh",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "v1",
            "hello hello-world",
            "builder",
            "/srv/work",
            "hello",
            "builder",
            "app-ran",
            "copied notes",
            "user 755"
        ]
    );
    // What a sandbox writes stays in it: the template is unchanged.
    sh(&server, &id, "sudo rm /opt/tool/version").await;
    let other =
        support::create(&server, json!({"templateID": "app", "timeout": 60})).await["sandboxID"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(sh(&server, &other, "cat /opt/tool/version").await.1, "v1\n");
    // Build sandboxes are never listed.
    let listed = support::api_get(&server, "/sandboxes").await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    // An unchanged rebuild takes every layer from the cache.
    let (template_again, rebuild) = request(&server, "app").await;
    assert_eq!(
        template_again, template,
        "a rebuild keeps the template's id"
    );
    let (status, body) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{rebuild}"),
        json!({"fromTemplate": "base", "steps": steps}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (done, logs) = wait(&server, &template, &rebuild).await;
    assert_eq!(done["status"], "ready", "{done}");
    let cached = messages(&logs).iter().filter(|l| *l == "CACHED").count();
    assert_eq!(
        cached,
        5,
        "every step but ENV is a cached layer: {:?}",
        messages(&logs)
    );
    assert!(!messages(&logs).iter().any(|l| l == "step-one-output"));

    // The template is listed, described with its builds, tagged, deleted.
    let templates = support::api_get(&server, "/templates").await;
    assert!(
        templates
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["templateID"] == template.as_str() && t["names"] == json!(["app"])),
        "{templates}"
    );
    let described = support::api_get(&server, &format!("/templates/{template}")).await;
    assert_eq!(
        described["builds"].as_array().unwrap().len(),
        2,
        "{described}"
    );
    let (status, body) = post(
        &server,
        "/templates/tags",
        json!({"target": "app", "tags": ["stable"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let tags = support::api_get(&server, &format!("/templates/{template}/tags")).await;
    let tags: Vec<&str> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["default", "stable"]);
    let deleted = support::authed_http(&server)
        .delete(format!("{}/templates/{template}", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let gone = support::authed_http(&server)
        .get(format!("{}/templates/aliases/app", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_their_step_and_bad_builds_are_refused() {
    if !is_root() {
        return; // Builds need a root server; the refusal is tested above.
    }
    let server = support::server().await;
    let (template, build) = request(&server, "broken").await;
    let run_in = |steps: Value| json!({"fromTemplate": "base", "steps": steps});
    // Refused before anything runs: an unknown step, files never uploaded,
    // an unknown build.
    let (status, body) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{build}"),
        run_in(json!([{"type": "RUN", "args": ["true"]}, {"type": "FROB", "args": []}])),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("step 2"),
        "{body}"
    );
    let (status, body) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{build}"),
        run_in(json!([{"type": "COPY", "args": ["a", "/a"], "filesHash": "0".repeat(64)}])),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("never uploaded"),
        "{body}"
    );
    let (status, _) = post(
        &server,
        &format!("/v2/templates/{template}/builds/00000000-0000-4000-8000-000000000000"),
        run_in(json!([])),
    )
    .await;
    assert_eq!(status, 404);
    // Files whose bytes do not give their hash, and a source outside the context.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("one.txt"), "one\n").unwrap();
    let archive = ctx.path().join("one.tar");
    assert!(
        std::process::Command::new("tar")
            .arg("-cf")
            .arg(&archive)
            .arg("-C")
            .arg(ctx.path())
            .arg("one.txt")
            .status()
            .unwrap()
            .success()
    );
    let claimed = files_hash(ctx.path(), "other.txt", "/x", &["one.txt"]);
    upload(&server, &template, &claimed, &archive).await;
    let (status, body) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{build}"),
        run_in(json!([{"type": "COPY", "args": ["one.txt", "/x"], "filesHash": claimed}])),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("do not match"),
        "{body}"
    );
    let (status, body) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{build}"),
        run_in(json!([{"type": "COPY", "args": ["../etc", "/x"], "filesHash": claimed}])),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("outside the build context"),
        "{body}"
    );
    let bad_hash = support::authed_http(&server)
        .get(format!(
            "{}/templates/{template}/files/not-a-hash",
            server.api_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_hash.status().as_u16(), 400);

    // A failing command fails its step, named as the SDKs number steps.
    let (status, body) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{build}"),
        run_in(json!([
            {"type": "RUN", "args": ["echo fine"]},
            {"type": "RUN", "args": ["echo about-to-fail >&2; exit 3"]},
        ])),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (done, logs) = wait(&server, &template, &build).await;
    assert_eq!(done["status"], "error", "{done}");
    assert_eq!(done["reason"]["step"], "2", "{done}");
    assert!(
        done["reason"]["message"]
            .as_str()
            .unwrap()
            .contains("exit status 3"),
        "{done}"
    );
    assert!(messages(&logs).iter().any(|l| l == "about-to-fail"));
    // A failed build leaves no template behind.
    let missing = support::authed_http(&server)
        .get(format!("{}/templates/aliases/broken", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    // A started build cannot be started again.
    let (status, _) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{build}"),
        run_in(json!([])),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_builds_on_an_image_from_a_registry() {
    if !is_root() {
        return; // Builds need a root server; the refusal is tested above.
    }
    use e2b_test_support::oci::{runnable, runnable_image};
    let registry = e2b_test_support::registry::Registry::start();
    let _layout = registry.push_image(runnable_image(), "e2b/runnable", "v1");
    let image = format!("{}/e2b/runnable:v1", registry.host());
    let server = support::server().await;
    let (template, build) = request(&server, "on-image:v1").await;
    let (status, body) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{build}"),
        json!({
            "fromImage": image,
            "steps": [
                {"type": "RUN", "args": ["echo from-a-step > /opt/stuff/built && echo scratch > /tmp/scratch", "root"]},
                {"type": "RUN", "args": ["cat /tmp/scratch > /opt/stuff/seen", "root"]},
            ],
            "startCmd": "touch /tmp/start-ran",
            "readyCmd": "test -e /tmp/start-ran",
        }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (done, logs) = wait(&server, &template, &build).await;
    assert_eq!(done["status"], "ready", "{done} {:?}", messages(&logs));
    let tags = support::api_get(&server, &format!("/templates/{template}/tags")).await;
    assert_eq!(tags[0]["tag"], "v1", "{tags}");
    let id = support::create(&server, json!({"templateID": "on-image:v1", "timeout": 60})).await
        ["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = sh(
        &server,
        &id,
        "cat /opt/stuff/built /opt/stuff/seen; echo $IMAGE_VAR; test -e /tmp/start-ran && echo started",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["from-a-step", "scratch", runnable::IMAGE_VAR.1, "started"]
    );
    // The build's memoryMB is the sandboxes' memory limit.
    let limit = ["/sys/fs/cgroup/memory", "/sys/fs/cgroup"]
        .iter()
        .find_map(|root| {
            support::find_cgroup(
                Path::new(root),
                &|n| n == id,
                &["memory.max", "memory.limit_in_bytes"],
                7,
            )
        })
        .map(|cg| {
            std::fs::read_to_string(cg.join("memory.max"))
                .or_else(|_| std::fs::read_to_string(cg.join("memory.limit_in_bytes")))
                .unwrap()
        });
    let memory_controller = Path::new("/sys/fs/cgroup/memory").is_dir()
        || std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"));
    if memory_controller {
        let limit = limit.expect("the sandbox has a memory cgroup");
        assert_eq!(limit.trim(), (1024u64 << 20).to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_template_cancels_its_running_build() {
    if !is_root() {
        return; // Builds need a root server; the refusal is tested above.
    }
    let server = support::server().await;
    let (template, build) = request(&server, "slow").await;
    let (status, body) = post(
        &server,
        &format!("/v2/templates/{template}/builds/{build}"),
        json!({"fromTemplate": "base", "steps": [
            {"type": "RUN", "args": ["echo started-sleeping; sleep 600"]},
        ]}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    // Once the step runs, the template is deleted under it.
    let started = Instant::now();
    loop {
        let status = support::api_get(
            &server,
            &format!("/templates/{template}/builds/{build}/status"),
        )
        .await;
        if messages(status["logEntries"].as_array().unwrap())
            .iter()
            .any(|l| l == "started-sleeping")
        {
            break;
        }
        assert!(
            started.elapsed() < BUILD_PATIENCE,
            "the step never started: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancelled_at = Instant::now();
    let deleted = support::authed_http(&server)
        .delete(format!("{}/templates/{template}", server.api_url()))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success() || deleted.status().as_u16() == 404);
    let (done, _) = wait(&server, &template, &build).await;
    assert_eq!(done["status"], "error", "{done}");
    assert!(
        done["reason"]["message"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{done}"
    );
    // The step's sandbox went with it, well before its command would have ended.
    assert!(cancelled_at.elapsed() < Duration::from_secs(60));
    assert!(
        support::api_get(&server, "/sandboxes")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}
