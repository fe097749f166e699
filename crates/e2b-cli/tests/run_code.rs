//! `e2b run-code` against a code-interpreter sandbox of an in-process e2b-local (the
//! kernel environment: `make kernel-env`, or E2B_LOCAL_KERNEL_ENV).

use crate::support::{Cli, assert_success, code, stderr, stdout};

const CODE: &str = "\
import matplotlib.pyplot as plt
print('hello from the kernel')
plt.plot([1, 2, 3], [1, 4, 9])
plt.title('squares')
plt.show()
6 * 7
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_streams_output_summarises_results_and_saves_charts() {
    let cli = Cli::with_kernels().await;
    let created = cli
        .json(&[
            "sandbox",
            "create",
            "code-interpreter-v1",
            "--detach",
            "--timeout",
            "180",
        ])
        .await;
    let id = created["sandboxId"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plot.py");
    std::fs::write(&file, CODE).unwrap();
    let out_dir = dir.path().join("out");
    let out_arg = out_dir.to_str().unwrap().to_owned();

    // For people: printed output and the main result on stdout, the rest summarised.
    let out = cli
        .run(&[
            "run-code",
            &id,
            file.to_str().unwrap(),
            "--output-dir",
            &out_arg,
        ])
        .await;
    assert_success(&out, &["run-code"]);
    assert_eq!(stdout(&out), "hello from the kernel\n42\n");
    let notes = stderr(&out);
    assert!(notes.contains("line chart \"squares\""), "{notes}");
    let mut saved: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    saved.sort();
    assert!(saved.iter().any(|n| n.ends_with(".png")), "{saved:?}");
    assert!(
        saved.iter().any(|n| n.ends_with(".chart.json")),
        "{saved:?}"
    );
    let png = saved.iter().find(|n| n.ends_with(".png")).unwrap();
    let bytes = std::fs::read(out_dir.join(png)).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");

    // For scripts, from standard input: the whole execution as JSON; an error is data and
    // exit code 1.
    let out = cli
        .run_with_input(
            &[
                "run-code",
                &id,
                "-",
                "--language",
                "python",
                "--format",
                "json",
                "--output-dir",
                &out_arg,
            ],
            b"print('before')\n1 / 0\n",
        )
        .await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let execution: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(execution["logs"]["stdout"], serde_json::json!(["before\n"]));
    assert_eq!(execution["error"]["name"], "ZeroDivisionError");

    // --template: a sandbox of its own, killed afterwards.
    let out = cli
        .run_with_input(
            &["run-code", "--template", "code-interpreter-v1", "-"],
            b"sum(range(10))\n",
        )
        .await;
    assert_success(&out, &["run-code", "--template"]);
    assert_eq!(stdout(&out), "45\n");
    let running = cli.json(&["sandbox", "list"]).await;
    let ids: Vec<&str> = running
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sandboxId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()], "only the first sandbox is left");
    cli.stop().await;
}
