//! `e2b template …` against an in-process e2b-local: a directory scaffolded by `init`,
//! built from its `e2b.Dockerfile` with the logs streamed, a sandbox of it, a failing
//! build named by its step, list, tags and delete with their JSON parsed.

use crate::support::{Cli, assert_success, code, output, stderr, stdout};
use serde_json::Value;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_build_run_tag_list_and_delete() {
    let cli = Cli::start().await;
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("site");

    // init: an e2b.Dockerfile from E2B's base image and a README, nothing else.
    let init = cli
        .json(&["template", "init", project.to_str().unwrap()])
        .await;
    assert!(
        init["dockerfile"]
            .as_str()
            .unwrap()
            .ends_with("e2b.Dockerfile")
    );
    let mut names: Vec<String> = std::fs::read_dir(&project)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["README.md", "e2b.Dockerfile"]);
    let scaffold = std::fs::read_to_string(project.join("e2b.Dockerfile")).unwrap();
    assert!(scaffold.contains("FROM e2bdev/base\n"), "{scaffold}");
    // A second init refuses to overwrite.
    let again = cli
        .run(&["template", "init", project.to_str().unwrap()])
        .await;
    assert_eq!(code(&again), 1, "{}", stderr(&again));

    // The template: the scaffold plus RUN, ENV, WORKDIR and a COPY of a file.
    std::fs::write(project.join("greeting.txt"), "hello from the context\n").unwrap();
    std::fs::write(
        project.join("e2b.Dockerfile"),
        format!(
            "{scaffold}RUN echo building-now && mkdir -p /opt/app && echo 1.0 > /opt/app/VERSION\n\
             ENV APP_ENV=cli\n\
             WORKDIR /opt/app\n\
             COPY greeting.txt /opt/app/greeting.txt\n"
        ),
    )
    .unwrap();

    // Built from the working directory: its e2b.Dockerfile is found, the logs stream on
    // standard error, the BuildInfo is the JSON on standard output.
    let args = [
        "template",
        "build",
        "--name",
        "cli-site:v1",
        "--format",
        "json",
    ];
    let mut command = cli.command(&args);
    command.current_dir(&project);
    let built = output(&mut command, None).await;
    if !is_root() {
        // Builds need writable roots (a root server): a typed failure, non-zero.
        assert_ne!(code(&built), 0);
        assert!(stderr(&built).starts_with("error: "), "{}", stderr(&built));
        cli.stop().await;
        return;
    }
    assert_success(&built, &args);
    assert!(
        stderr(&built).lines().any(|l| l == "building-now"),
        "{}",
        stderr(&built)
    );
    let info: Value = serde_json::from_slice(&built.stdout).unwrap();
    assert_eq!(info["name"], "cli-site:v1");
    let template_id = info["templateId"].as_str().unwrap().to_owned();
    assert!(!info["buildId"].as_str().unwrap().is_empty());

    // A sandbox of it, checked through `sandbox exec`.
    let out = cli
        .run(&[
            "sandbox",
            "create",
            "cli-site",
            "--detach",
            "--timeout",
            "60",
        ])
        .await;
    assert_success(&out, &["sandbox", "create", "cli-site"]);
    let id = stdout(&out).trim().to_owned();
    let out = cli
        .run(&[
            "sandbox",
            "exec",
            &id,
            "--",
            "pwd; echo $APP_ENV; cat VERSION greeting.txt",
        ])
        .await;
    assert_success(&out, &["sandbox", "exec"]);
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        ["/opt/app", "cli", "1.0", "hello from the context"]
    );
    let out = cli.run(&["sandbox", "kill", &id]).await;
    assert_success(&out, &["sandbox", "kill"]);

    // A failing step: exit code non-zero, the step named in one line.
    let broken = dir.path().join("broken.Dockerfile");
    std::fs::write(
        &broken,
        "FROM e2bdev/base\nRUN true\nRUN echo nope >&2; exit 7\n",
    )
    .unwrap();
    let out = cli
        .run(&[
            "template",
            "build",
            "--name",
            "cli-broken",
            "--dockerfile",
            broken.to_str().unwrap(),
            "--path",
            dir.path().to_str().unwrap(),
        ])
        .await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).lines().any(|l| l == "nope"),
        "{}",
        stderr(&out)
    );
    let error = stderr(&out)
        .lines()
        .last()
        .filter(|l| l.starts_with("error: "))
        .unwrap_or_default()
        .to_owned();
    // The failing step, by its number and its instruction.
    assert!(error.contains("step "), "{}", stderr(&out));
    assert!(error.contains("exit 7`"), "{}", stderr(&out));
    assert!(error.contains("exit status 7"), "{}", stderr(&out));

    // list: the built template, by name, ready; the failed one is not there.
    let listed = cli.json(&["template", "list"]).await;
    let site = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["templateId"] == template_id.as_str())
        .expect("the built template is listed");
    assert!(
        site["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "cli-site"),
        "{site}"
    );
    assert_eq!(site["buildStatus"], "ready");
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["names"].to_string().contains("cli-broken"))
    );

    // tags: add, list, remove.
    let added = cli
        .json(&["template", "tags", "add", "cli-site:v1", "stable", "prod"])
        .await;
    assert_eq!(added["buildId"], info["buildId"]);
    let tags = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tag"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = cli.json(&["template", "tags", "cli-site"]).await;
    assert_eq!(tags(&listed), ["prod", "stable", "v1"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["buildId"] == info["buildId"])
    );
    cli.json(&["template", "tags", "rm", "cli-site", "prod"])
        .await;
    let listed = cli.json(&["template", "tags", &template_id]).await;
    assert_eq!(tags(&listed), ["stable", "v1"]);

    // delete: the template, then a name that does not exist (exit code 4).
    let deleted = cli.json(&["template", "delete", "cli-site"]).await;
    assert_eq!(deleted["deleted"], serde_json::json!(["cli-site"]));
    let out = cli.run(&["template", "delete", "cli-site"]).await;
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cli-site not found"),
        "{}",
        stderr(&out)
    );
    cli.stop().await;
}
