//! The code interpreter of `code-interpreter-v1` sandboxes, over the wire as
//! the official SDKs use it: `/execute` NDJSON, `/contexts`, `/health` on
//! port 49999 through the server's routing headers, real kernels inside.

use e2b_test_support as support;

use std::time::{Duration, Instant};

use e2b_local::Server;
use e2b_local::kernel_env::Language;
use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};

const PORT: u16 = 49999;
/// Upper bound of one execution in these tests; reaching it fails the test.
const PATIENCE: Duration = Duration::from_secs(60);

async fn server() -> Server {
    let env = support::kernel_env();
    Server::start(support::options().with_kernel_env(Some(env.root().to_path_buf())))
        .await
        .expect("server starts")
}

async fn create(server: &Server, extra: Value) -> Value {
    let mut body = json!({"templateID": "code-interpreter-v1", "timeout": 300});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    support::create(server, body).await
}

async fn sandbox(server: &Server) -> String {
    create(server, json!({})).await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn request(server: &Server, method: Method, id: &str, path: &str) -> reqwest::RequestBuilder {
    support::to_sandbox(server, method, id, PORT, path)
}

/// Run code; returns every line of the stream (the stream must end).
async fn execute(server: &Server, id: &str, body: Value) -> Vec<Value> {
    let resp = tokio::time::timeout(
        PATIENCE,
        request(server, Method::POST, id, "/execute")
            .json(&body)
            .send(),
    )
    .await
    .expect("the execution answers in time")
    .expect("the request succeeds");
    let status = resp.status();
    let text = tokio::time::timeout(PATIENCE, resp.text())
        .await
        .expect("the execution ends in time")
        .unwrap();
    assert_eq!(status, 200, "{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect();
    assert_eq!(
        lines.last(),
        Some(&json!({"type": "end_of_execution"})),
        "{lines:?}"
    );
    lines
}

/// Start an execution and read its stream until `marker` has been seen;
/// returns the rest of the stream.
async fn start_until(
    server: &Server,
    id: &str,
    body: Value,
    marker: &str,
) -> impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin + use<> {
    let resp = request(server, Method::POST, id, "/execute")
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains(marker) {
        let chunk = tokio::time::timeout(PATIENCE, stream.next())
            .await
            .expect("output in time")
            .expect("the stream stays open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    stream
}

async fn run(server: &Server, id: &str, code: &str) -> Vec<Value> {
    execute(server, id, json!({"code": code})).await
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

fn main_text(lines: &[Value]) -> Option<String> {
    of_type(lines, "result")
        .into_iter()
        .find(|r| r["is_main_result"] == true)
        .and_then(|r| r["text"].as_str().map(str::to_owned))
}

fn stdout(lines: &[Value]) -> String {
    of_type(lines, "stdout")
        .iter()
        .filter_map(|l| l["text"].as_str())
        .collect()
}

#[tokio::test]
async fn executions_stream_output_keep_state_and_report_errors() {
    let server = server().await;
    let id = sandbox(&server).await;

    let resp = request(&server, Method::GET, &id, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!("OK"));

    run(&server, &id, "x = 20").await;
    let lines = run(
        &server,
        &id,
        "import sys\nprint('out')\nprint('err', file=sys.stderr)\nx * 2 + 2",
    )
    .await;
    assert_eq!(lines[0]["type"], "number_of_executions", "{lines:?}");
    assert!(lines[0]["execution_count"].as_u64().unwrap() >= 2);
    assert_eq!(stdout(&lines), "out\n");
    let stderr = of_type(&lines, "stderr");
    assert_eq!(stderr[0]["text"], "err\n");
    assert!(stderr[0]["timestamp"].as_str().unwrap().starts_with("20"));
    assert_eq!(main_text(&lines).as_deref(), Some("42"));
    let result = of_type(&lines, "result")[0];
    assert_eq!(result["extra"], json!({}));
    // Strings come back without their repr quotes.
    let lines = run(&server, &id, "'hi'").await;
    assert_eq!(main_text(&lines).as_deref(), Some("hi"));

    let lines = run(&server, &id, "print('before')\n1/0").await;
    assert_eq!(stdout(&lines), "before\n");
    let errors = of_type(&lines, "error");
    assert_eq!(errors.len(), 1, "{lines:?}");
    assert_eq!(errors[0]["name"], "ZeroDivisionError");
    assert_eq!(errors[0]["value"], "division by zero");
    let traceback = errors[0]["traceback"].as_str().unwrap();
    assert!(traceback.contains("ZeroDivisionError"), "{traceback}");
    assert!(
        !traceback.contains('\u{1b}'),
        "colored traceback: {traceback:?}"
    );

    // Rich results: a DataFrame carries `data`, a figure `chart` and `png`.
    let lines = run(
        &server,
        &id,
        "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})",
    )
    .await;
    let result = of_type(&lines, "result")[0];
    assert_eq!(result["data"], json!({"a": [1, 2], "b": ["x", "y"]}));
    assert!(result["html"].as_str().unwrap().contains("<table"));
    let lines = run(
        &server,
        &id,
        "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [3, 5])\nplt.title('Bars')\nplt.show()",
    )
    .await;
    let display = of_type(&lines, "result")
        .into_iter()
        .find(|r| r.get("chart").is_some())
        .unwrap_or_else(|| panic!("no chart in {lines:?}"));
    assert_eq!(display["is_main_result"], false);
    assert_eq!(display["chart"]["type"], "bar");
    assert_eq!(display["chart"]["title"], "Bars");
    assert!(display["png"].as_str().unwrap().starts_with("iVBOR"));
    server.shutdown().await;
}

#[tokio::test]
async fn env_vars_apply_to_one_execution_and_requests_are_checked() {
    let server = server().await;
    let id = create(&server, json!({"envVars": {"FROM_SANDBOX": "sbx"}})).await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let code =
        "import os\n(os.environ.get('FROM_SANDBOX'), os.environ.get('ONLY_NOW'), os.getcwd())";
    let lines = execute(
        &server,
        &id,
        json!({"code": code, "env_vars": {"ONLY_NOW": "it's \"here\""}, "context_id": null, "language": null}),
    )
    .await;
    assert_eq!(
        main_text(&lines).as_deref(),
        Some(r#"('sbx', 'it\'s "here"', '/home/user')"#)
    );
    let lines = run(&server, &id, code).await;
    assert_eq!(
        main_text(&lines).as_deref(),
        Some("('sbx', None, '/home/user')")
    );

    let resp = request(&server, Method::POST, &id, "/execute")
        .json(&json!({"code": "1", "context_id": "x", "language": "python"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = request(&server, Method::POST, &id, "/execute")
        .json(&json!({"code": "1", "context_id": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.unwrap(), "Context nope not found");
    let resp = request(&server, Method::POST, &id, "/execute")
        .json(&json!({"code": "1", "language": "cobol"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("cobol"));
    let resp = request(&server, Method::POST, &id, "/execute")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    server.shutdown().await;
}

#[tokio::test]
async fn contexts_isolate_state_honour_cwd_restart_and_remove() {
    let server = server().await;
    let id = sandbox(&server).await;
    let resp = request(&server, Method::POST, &id, "/contexts")
        .json(&json!({"cwd": "/tmp", "language": "python"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let context: Value = resp.json().await.unwrap();
    assert_eq!(context["language"], "python");
    assert_eq!(context["cwd"], "/tmp");
    let ctx = context["id"].as_str().unwrap().to_owned();

    let in_ctx = |code: &str| json!({"code": code, "context_id": ctx});
    let lines = execute(&server, &id, in_ctx("import os\ny = 7\nos.getcwd()")).await;
    assert_eq!(main_text(&lines).as_deref(), Some("/tmp"));
    let lines = run(&server, &id, "y").await;
    assert_eq!(of_type(&lines, "error")[0]["name"], "NameError");
    let lines = execute(&server, &id, in_ctx("y")).await;
    assert_eq!(main_text(&lines).as_deref(), Some("7"));

    let listed: Value = request(&server, Method::GET, &id, "/contexts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert!(listed.contains(&context), "{listed:?}");
    assert!(
        listed
            .iter()
            .any(|c| c["id"] != ctx && c["language"] == "python"),
        "the default context is listed: {listed:?}"
    );

    let resp = request(
        &server,
        Method::POST,
        &id,
        &format!("/contexts/{ctx}/restart"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), Value::Null);
    let lines = execute(
        &server,
        &id,
        in_ctx("import os\n(os.getcwd(), 'y' in globals())"),
    )
    .await;
    assert_eq!(main_text(&lines).as_deref(), Some("('/tmp', False)"));

    let resp = request(&server, Method::DELETE, &id, &format!("/contexts/{ctx}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = request(&server, Method::POST, &id, "/execute")
        .json(&in_ctx("1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = request(&server, Method::DELETE, &id, &format!("/contexts/{ctx}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = request(&server, Method::POST, &id, "/contexts")
        .json(&json!({"cwd": "/does/not/exist"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    server.shutdown().await;
}

#[tokio::test]
async fn python_and_javascript_contexts_start_with_the_sandbox_and_list_in_order() {
    let server = server().await;
    let id = sandbox(&server).await;
    let list = || async {
        let listed: Value = request(&server, Method::GET, &id, "/contexts")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed.as_array().unwrap().clone()
    };
    // Both are listed as soon as the sandbox is (upstream's server starts
    // both before it serves; here the JavaScript kernel starts behind it).
    let defaults = list().await;
    let languages: Vec<&str> = defaults
        .iter()
        .map(|c| c["language"].as_str().unwrap())
        .collect();
    assert_eq!(languages, ["python", "javascript"], "{defaults:?}");
    let mut created = Vec::new();
    for language in ["bash", "python", "javascript"] {
        let context: Value = request(&server, Method::POST, &id, "/contexts")
            .json(&json!({"language": language}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        created.push(context["id"].as_str().unwrap().to_owned());
    }
    let ids: Vec<String> = list()
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids[..2],
        [
            defaults[0]["id"].as_str().unwrap(),
            defaults[1]["id"].as_str().unwrap()
        ]
    );
    assert_eq!(ids[2..], created[..]);
    server.shutdown().await;
}

#[tokio::test]
async fn bash_contexts_run_shell_code_with_env_vars() {
    let server = server().await;
    let id = sandbox(&server).await;
    let lines = execute(
        &server,
        &id,
        json!({"code": "echo \"hi $GREETING\"; pwd", "language": "bash", "env_vars": {"GREETING": "there"}}),
    )
    .await;
    assert_eq!(stdout(&lines), "hi there\n/home/user\n", "{lines:?}");
    let lines = execute(
        &server,
        &id,
        json!({"code": "echo \"[${GREETING-unset}]\"", "language": "bash"}),
    )
    .await;
    assert_eq!(stdout(&lines), "[unset]\n", "{lines:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_leaving_interrupts_the_kernel_which_stays_usable() {
    let server = server().await;
    let id = sandbox(&server).await;
    run(&server, &id, "kept = 'state'").await;
    let body = start_until(
        &server,
        &id,
        json!({"code": "print('looping', flush=True)\nwhile True:\n    pass"}),
        "looping",
    )
    .await;
    drop(body);
    // The next execution waits for the interrupted one; it must not wait long.
    let started = Instant::now();
    let lines = run(&server, &id, "kept").await;
    assert_eq!(main_text(&lines).as_deref(), Some("state"), "{lines:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the loop was not interrupted promptly: {:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn silence_is_filled_with_keepalives_and_a_dead_kernel_is_replaced() {
    let server = server().await;
    let id = sandbox(&server).await;
    let lines = run(&server, &id, "import time\ntime.sleep(6)\n'awake'").await;
    assert!(
        !of_type(&lines, "keepalive").is_empty(),
        "no keepalive during 6 s of silence: {lines:?}"
    );
    assert_eq!(main_text(&lines).as_deref(), Some("awake"));

    run(&server, &id, "lost = 1").await;
    let lines = run(&server, &id, "import os\nos._exit(3)").await;
    let errors = of_type(&lines, "error");
    assert_eq!(errors[0]["name"], "UnexpectedEndOfExecution", "{lines:?}");
    let lines = run(&server, &id, "'lost' in globals()").await;
    assert_eq!(main_text(&lines).as_deref(), Some("False"), "{lines:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn secure_sandboxes_need_the_access_token() {
    let server = server().await;
    let sandbox = create(&server, json!({"secure": true})).await;
    let id = sandbox["sandboxID"].as_str().unwrap();
    let token = sandbox["envdAccessToken"].as_str().unwrap();
    let resp = request(&server, Method::POST, id, "/execute")
        .json(&json!({"code": "1+1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = request(&server, Method::GET, id, "/contexts")
        .header("X-Access-Token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The official SDKs send no token on the context routes.
    let resp = request(&server, Method::GET, id, "/contexts")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = request(&server, Method::POST, id, "/execute")
        .header("X-Access-Token", token)
        .json(&json!({"code": "1+1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains(r#""text":"2""#));
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_kernel_environment_the_template_is_refused_clearly() {
    let server = support::server().await;
    let resp = support::authed_http(&server)
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "code-interpreter-v1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("code-interpreter-v1"), "{message}");
    assert!(message.contains("make kernel-env"), "{message}");
    assert!(
        message.contains("e2b-local kernel-env install"),
        "{message}"
    );
    // Base sandboxes on the same server have no interpreter on 49999.
    let id = support::create_base(&server, 60).await;
    let resp = request(&server, Method::GET, &id, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    server.shutdown().await;
}

/// JavaScript and TypeScript run on tslab: the value of the last expression
/// is the execution's result (as with E2B's JavaScript kernel), failures are
/// reported on stderr (the error line says only that the execution failed).
#[tokio::test]
async fn javascript_and_typescript_contexts_keep_state_and_take_env_vars() {
    let server = server().await;
    let id = sandbox(&server).await;
    for language in ["js", "typescript"] {
        let declare = if language == "js" {
            "let n = 41;"
        } else {
            "let n: number = 41;"
        };
        let lines = run_in(&server, &id, language, declare, &json!({})).await;
        // Keepalives may come first while a loaded machine starts the kernel.
        let first = lines.iter().find(|l| l["type"] != "keepalive");
        assert_eq!(
            first.map(|l| &l["type"]),
            Some(&json!("number_of_executions")),
            "{lines:?}"
        );
        let lines = run_in(
            &server,
            &id,
            language,
            "console.log('out', process.env.ONLY_NOW, process.cwd());\nn + 1",
            &json!({"ONLY_NOW": "now"}),
        )
        .await;
        // The last expression's value is the execution's result, not output.
        assert_eq!(
            stdout(&lines),
            "out now /home/user\n",
            "{language}: {lines:?}"
        );
        assert_eq!(
            main_text(&lines).as_deref(),
            Some("42"),
            "{language}: {lines:?}"
        );
        let lines = run_in(
            &server,
            &id,
            language,
            "await Promise.resolve('awaited')",
            &json!({}),
        )
        .await;
        assert_eq!(
            main_text(&lines).as_deref(),
            Some("awaited"),
            "{language}: {lines:?}"
        );
        let lines = run_in(
            &server,
            &id,
            language,
            "console.log(String(process.env.ONLY_NOW))",
            &json!({}),
        )
        .await;
        assert_eq!(stdout(&lines), "undefined\n", "{language}: {lines:?}");
        let lines = run_in(
            &server,
            &id,
            language,
            "throw new Error('boom')",
            &json!({"AFTER_ERROR": "x"}),
        )
        .await;
        // What the code threw is the execution's error, with its name,
        // message and stack, and not stderr.
        let errors = of_type(&lines, "error");
        assert_eq!(errors.len(), 1, "{language}: {lines:?}");
        assert_eq!(errors[0]["name"], "Error", "{language}: {lines:?}");
        assert_eq!(errors[0]["value"], "boom", "{language}: {lines:?}");
        assert!(
            errors[0]["traceback"]
                .as_str()
                .is_some_and(|t| t.contains("Error: boom")),
            "{language}: {lines:?}"
        );
        assert!(
            of_type(&lines, "stderr").is_empty(),
            "{language}: {lines:?}"
        );
        // An execution right after a failed one runs (tslab refuses what
        // arrives just after a failure; the agent offers it again).
        let failed = run_in(&server, &id, language, "null.boom", &json!({})).await;
        assert_eq!(of_type(&failed, "error").len(), 1, "{language}: {failed:?}");
        let after = run_in(&server, &id, language, "console.log('after')", &json!({})).await;
        assert_eq!(stdout(&after), "after\n", "{language}: {after:?}");
        // The variables of the failed execution were restored all the same.
        let lines = run_in(
            &server,
            &id,
            language,
            "console.log(String(process.env.AFTER_ERROR))",
            &json!({}),
        )
        .await;
        assert_eq!(stdout(&lines), "undefined\n", "{language}: {lines:?}");
    }
    server.shutdown().await;
}

async fn run_in(server: &Server, id: &str, language: &str, code: &str, env: &Value) -> Vec<Value> {
    execute(
        server,
        id,
        json!({"code": code, "language": language, "env_vars": env}),
    )
    .await
}

/// Java runs on jjava where a Java runtime is installed; elsewhere the
/// language is refused by name.
#[tokio::test]
async fn java_contexts_run_where_a_java_runtime_is_installed() {
    let server = server().await;
    let created = create(
        &server,
        json!({"envVars": {"FROM_SANDBOX": "sandbox value"}}),
    )
    .await;
    let id = created["sandboxID"].as_str().unwrap().to_owned();
    if e2b_local::kernel_env::on_path("java").is_none() {
        assert_unavailable(&server, &id, Language::Java).await;
        return;
    }
    // Java reads variables as system properties, those of the sandbox included.
    let property = |env: Value| {
        let (server, id) = (&server, &id);
        async move {
            let code = "System.getProperty(\"FROM_SANDBOX\")";
            main_text(&run_in(server, id, "java", code, &env).await)
        }
    };
    assert_eq!(property(json!({})).await.as_deref(), Some("sandbox value"));
    let one = json!({"FROM_SANDBOX": "for one execution"});
    assert_eq!(property(one).await.as_deref(), Some("for one execution"));
    assert_eq!(property(json!({})).await.as_deref(), Some("sandbox value"));
    run_in(&server, &id, "java", "int n = 41;", &json!({})).await;
    let lines = run_in(
        &server,
        &id,
        "java",
        "System.out.println(\"out \" + System.getProperty(\"ONLY_NOW\"));\nn + 1",
        &json!({"ONLY_NOW": "now"}),
    )
    .await;
    assert_eq!(stdout(&lines), "out now\n", "{lines:?}");
    assert_eq!(main_text(&lines).as_deref(), Some("42"), "{lines:?}");
    let lines = run_in(
        &server,
        &id,
        "java",
        "System.getProperty(\"ONLY_NOW\") == null",
        &json!({}),
    )
    .await;
    assert_eq!(main_text(&lines).as_deref(), Some("true"), "{lines:?}");
    // Leaving interrupts the cell through the control channel.
    let body = start_until(
        &server,
        &id,
        json!({"code": "System.out.println(\"looping\");\nwhile (true) {}", "language": "java"}),
        "looping",
    )
    .await;
    drop(body);
    // The interrupt usually stops the loop with the state intact; a JVM too
    // slow to stop (a loaded machine) is replaced after a grace period.
    // Either way the context answers again.
    let lines = run_in(&server, &id, "java", "1 + 1", &json!({})).await;
    assert_eq!(main_text(&lines).as_deref(), Some("2"), "{lines:?}");
    let lines = run_in(
        &server,
        &id,
        "java",
        "throw new IllegalStateException(\"boom\");",
        &json!({}),
    )
    .await;
    let errors = of_type(&lines, "error");
    assert_eq!(errors.len(), 1, "{lines:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn queued_executions_hear_keepalives_and_never_run_once_their_client_left() {
    let server = server().await;
    let id = sandbox(&server).await;
    let mut first = start_until(
        &server,
        &id,
        json!({"code": "import time\nprint('started', flush=True)\ntime.sleep(8)"}),
        "started",
    )
    .await;
    // Queued behind the first: its answer has started, its code has not.
    let queued = request(&server, Method::POST, &id, "/execute")
        .json(&json!({"code": "ran = True"}))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 200);
    drop(queued);
    // Queued too, and kept: it hears keepalives while it waits.
    let waiting = tokio::spawn({
        let request =
            request(&server, Method::POST, &id, "/execute").json(&json!({"code": "'waited'"}));
        async move { request.send().await.unwrap().text().await.unwrap() }
    });
    while let Some(chunk) = tokio::time::timeout(PATIENCE, first.next())
        .await
        .expect("the first execution ends in time")
    {
        chunk.unwrap();
    }
    let waited = tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("the queued execution ends in time")
        .unwrap();
    let lines: Vec<Value> = waited
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "keepalive", "{lines:?}");
    assert_eq!(main_text(&lines).as_deref(), Some("waited"), "{lines:?}");
    let lines = run(&server, &id, "'ran' in globals()").await;
    assert_eq!(main_text(&lines).as_deref(), Some("False"), "{lines:?}");
    server.shutdown().await;
}

/// R runs on the host's IRkernel where one is installed; elsewhere the
/// language is refused by name.
#[tokio::test]
async fn r_contexts_run_where_irkernel_is_installed() {
    let server = server().await;
    let id = sandbox(&server).await;
    if !e2b_local::kernel_env::r_kernel_installed() {
        assert_unavailable(&server, &id, Language::R).await;
        return;
    }
    run_in(&server, &id, "R", "n <- 41", &json!({})).await;
    let lines = run_in(
        &server,
        &id,
        "r",
        "cat('out', Sys.getenv('ONLY_NOW'), getwd(), '\\n')\nn + 1",
        &json!({"ONLY_NOW": "it's now"}),
    )
    .await;
    assert_eq!(stdout(&lines), "out it's now /home/user \n", "{lines:?}");
    // IRkernel shows values as display data, with plain, HTML, Markdown and LaTeX forms.
    let result = of_type(&lines, "result")[0];
    assert_eq!(result["text"], "[1] 42", "{lines:?}");
    assert_eq!(result["markdown"], "42", "{lines:?}");
    let lines = run_in(
        &server,
        &id,
        "r",
        "Sys.getenv('ONLY_NOW', unset = 'unset')",
        &json!({}),
    )
    .await;
    assert_eq!(
        of_type(&lines, "result")[0]["text"],
        "[1] \"unset\"",
        "{lines:?}"
    );
    let lines = run_in(&server, &id, "r", "stop('boom')", &json!({})).await;
    let errors = of_type(&lines, "error");
    assert_eq!(errors.len(), 1, "{lines:?}");
    assert!(
        errors[0]["value"].as_str().unwrap().contains("boom"),
        "{lines:?}"
    );
    server.shutdown().await;
}

/// A language whose runtime the host lacks is not offered, and asking for it
/// is a `400` that names it.
async fn assert_unavailable(server: &Server, id: &str, language: Language) {
    assert!(!support::kernel_env().languages().contains(&language));
    let resp = request(server, Method::POST, id, "/execute")
        .json(&json!({"code": "1 + 1", "language": language.name()}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(&format!("no {} kernel", language.name())),
        "{text}"
    );
}

#[tokio::test]
async fn undecodable_output_and_failed_env_vars_keep_the_kernel() {
    let server = server().await;
    let id = sandbox(&server).await;
    run(&server, &id, "kept = 'state'").await;
    // A lone surrogate goes out as a raw Latin-1 byte (jupyter_client's surrogateescape).
    let lines = run(&server, &id, "print('caf\\udce9')").await;
    assert_eq!(stdout(&lines), "caf\u{fffd}\n", "{lines:?}");
    assert!(of_type(&lines, "error").is_empty(), "{lines:?}");

    let lines = execute(
        &server,
        &id,
        json!({"code": "ran = True", "env_vars": {"BAD": "nul\u{0}byte"}}),
    )
    .await;
    let errors = of_type(&lines, "error");
    assert_eq!(errors[0]["name"], "EnvVarsError", "{lines:?}");
    let lines = run(&server, &id, "('ran' in globals(), kept)").await;
    assert_eq!(
        main_text(&lines).as_deref(),
        Some("(False, 'state')"),
        "{lines:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn pillow_images_shown_or_saved_are_png_results() {
    let server = server().await;
    let id = sandbox(&server).await;
    let image = "from PIL import Image\nimage = Image.new('RGB', (4, 4), 'red')\n";
    let pngs = |lines: &[Value]| -> usize {
        of_type(lines, "result")
            .iter()
            .filter(|r| {
                r["png"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("iVBORw0KGgo"))
            })
            .count()
    };
    let lines = run(
        &server,
        &id,
        &format!("{image}image.show()\nprint('shown')"),
    )
    .await;
    assert_eq!(pngs(&lines), 1, "{lines:?}");
    assert_eq!(stdout(&lines), "shown\n", "{lines:?}");
    let lines = run(&server, &id, &format!("{image}image.save('red.png')")).await;
    assert_eq!(pngs(&lines), 1, "{lines:?}");
    // Only a save to a path is shown; one to a buffer is not.
    let lines = run(
        &server,
        &id,
        &format!("{image}import io\nimage.save(io.BytesIO(), 'PNG')\nimport os\nos.path.getsize('red.png') > 0"),
    )
    .await;
    assert_eq!(pngs(&lines), 0, "{lines:?}");
    assert_eq!(main_text(&lines).as_deref(), Some("True"), "{lines:?}");
    server.shutdown().await;
}

/// `GET /health` on port 49999 from inside the sandbox, as `curl` sees it.
async fn health_inside(server: &Server, id: &str) -> String {
    let (_, out, _) = support::exec(
        server,
        id,
        None,
        &[
            "sh",
            "-c",
            "curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:49999/health || true",
        ],
        Some("user"),
    )
    .await;
    out
}

#[tokio::test]
async fn the_port_inside_the_sandbox_comes_back_after_its_process_is_killed() {
    let server = server().await;
    let id = sandbox(&server).await;
    assert_eq!(health_inside(&server, &id).await, "200");
    run(&server, &id, "kept = 41").await;
    // The listener is a process of its own, not the agent.
    let (code, pid, err) = support::exec(
        &server,
        &id,
        None,
        &[
            "sh",
            "-c",
            "ss -Htlnp 'sport = :49999' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2",
        ],
        Some("root"),
    )
    .await;
    let pid = pid.trim().to_owned();
    assert!(
        code == 0 && pid.parse::<u32>().is_ok(),
        "no listener: {pid:?} {err}"
    );
    // A user may not kill it; root may.
    let (code, _, _) = support::exec(&server, &id, None, &["kill", "-9", &pid], Some("user")).await;
    assert_ne!(code, 0, "user killed the listener");
    let (code, _, err) =
        support::exec(&server, &id, None, &["kill", "-9", &pid], Some("root")).await;
    assert_eq!(code, 0, "{err}");
    support::eventually(
        Duration::from_secs(20),
        "port 49999 to answer again",
        || async { health_inside(&server, &id).await == "200" },
    )
    .await;
    // The interpreter's state outlived its port's process.
    let lines = run(&server, &id, "kept + 1").await;
    assert_eq!(main_text(&lines).as_deref(), Some("42"), "{lines:?}");
    let (_, new_pid, _) = support::exec(
        &server,
        &id,
        None,
        &[
            "sh",
            "-c",
            "ss -Htlnp 'sport = :49999' | grep -o 'pid=[0-9]*' | cut -d= -f2",
        ],
        Some("root"),
    )
    .await;
    assert_ne!(new_pid.trim(), pid, "the same process still listens");
    server.shutdown().await;
}
