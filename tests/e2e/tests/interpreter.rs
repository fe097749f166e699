//! End to end against an in-process e2b-local with real kernels: state, output order,
//! errors, every chart type, DataFrames, contexts, env vars, timeouts, a killed sandbox.

use std::time::{Duration, Instant};

use e2b_code_interpreter::{
    Chart, ChartType, ChartValue, ContextOptions, OutputEvent, RunCodeOptions, ScaleType,
    TimeoutKind,
};
use e2b_test_support::sdk::Local;
use futures_util::StreamExt as _;

/// Upper bound of one call in these tests.
const PATIENCE: Duration = Duration::from_secs(60);

fn options() -> RunCodeOptions {
    RunCodeOptions::new().timeout(PATIENCE)
}

#[tokio::test]
async fn state_output_order_and_errors() {
    let local = Local::with_kernels().await;
    let ci = local.interpreter().await;

    // State persists; the main result is the last expression.
    let first = ci.run_code_with("x = 21", options()).await.unwrap();
    assert!(first.results.is_empty() && first.error.is_none());
    let second = ci.run_code_with("x * 2", options()).await.unwrap();
    assert_eq!(second.text(), Some("42"));
    assert!(second.execution_count > first.execution_count);

    // stdout and stderr arrive in the order they were flushed, on the stream and in logs.
    let code = "import sys\n\
                print('a', flush=True)\n\
                print('b', file=sys.stderr, flush=True)\n\
                print('c', flush=True)";
    let mut stream = ci.run_code_stream_with(code, options()).await.unwrap();
    let mut order = Vec::new();
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            OutputEvent::Stdout(m) => order.push(format!("out:{}", m.line.trim())),
            OutputEvent::Stderr(m) => order.push(format!("err:{}", m.line.trim())),
            _ => {}
        }
    }
    assert_eq!(order, ["out:a", "err:b", "out:c"]);
    let execution = ci.run_code_with(code, options()).await.unwrap();
    assert_eq!(execution.logs.stdout.concat(), "a\nc\n");
    assert_eq!(execution.logs.stderr.concat(), "b\n");

    // The code's error is data: name, value, traceback; callbacks see it.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let sink = seen.clone();
    let execution = ci
        .run_code_with(
            "def f():\n    return undefined_name\nf()",
            options().on_error(move |e| *sink.lock().unwrap() = Some(e.name.clone())),
        )
        .await
        .unwrap();
    let error = execution.error.expect("an error");
    assert_eq!(error.name, "NameError");
    assert!(error.value.contains("undefined_name"), "{}", error.value);
    assert!(error.traceback.contains("f()"), "{}", error.traceback);
    assert_eq!(seen.lock().unwrap().as_deref(), Some("NameError"));

    // The sandbox is still a sandbox: files written with envd are visible to the kernel.
    ci.sandbox()
        .files()
        .write("/home/user/hello.txt", "from envd")
        .await
        .unwrap();
    let read = ci
        .run_code_with("open('/home/user/hello.txt').read()", options())
        .await
        .unwrap();
    assert_eq!(read.text(), Some("from envd"));
    ci.sandbox().kill().await.unwrap();
    local.stop().await;
}

fn chart(code: &str, execution: &e2b_code_interpreter::Execution) -> Chart {
    assert!(execution.error.is_none(), "{code}: {:?}", execution.error);
    let result = execution
        .results
        .iter()
        .find(|r| r.chart.is_some())
        .unwrap_or_else(|| {
            let formats: Vec<_> = execution.results.iter().map(|r| r.formats()).collect();
            panic!("{code}: no chart among the results, whose formats are {formats:?}")
        });
    assert!(result.png.is_some(), "a figure also comes as a PNG");
    let png = result.png_bytes().unwrap().unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    assert!(result.formats().contains(&"chart"));
    result.chart.clone().unwrap()
}

#[tokio::test]
async fn every_chart_type_round_trips() {
    let local = Local::with_kernels().await;
    let ci = local.interpreter().await;
    ci.run_code_with("import matplotlib.pyplot as plt", options())
        .await
        .unwrap();

    let code = "plt.figure(); plt.plot([1, 2, 3], [1, 4, 9], label='squares'); \
                plt.title('Line'); plt.xlabel('time (s)'); plt.ylabel('value'); plt.show()";
    let Chart::Line(line) = chart(code, &ci.run_code_with(code, options()).await.unwrap()) else {
        panic!("not a line chart")
    };
    assert_eq!(line.title.as_deref(), Some("Line"));
    assert_eq!(line.x_label.as_deref(), Some("time (s)"));
    assert_eq!(line.x_unit.as_deref(), Some("s"));
    assert_eq!(line.x_scale, ScaleType::Linear);
    assert_eq!(line.elements[0].label, "squares");
    let ys: Vec<_> = line.elements[0]
        .points
        .iter()
        .map(|(_, y)| y.as_f64())
        .collect();
    assert_eq!(ys, [Some(1.0), Some(4.0), Some(9.0)]);

    let code = "plt.figure(); plt.scatter([1, 2, 3], [3, 1, 2], label='dots'); \
                plt.title('Scatter'); plt.show()";
    let Chart::Scatter(scatter) = chart(code, &ci.run_code_with(code, options()).await.unwrap())
    else {
        panic!("not a scatter chart")
    };
    assert_eq!(scatter.title.as_deref(), Some("Scatter"));
    assert_eq!(scatter.elements[0].points.len(), 3);

    let code = "plt.figure(); plt.bar(['a', 'b', 'c'], [3, 5, 2], label='g'); \
                plt.title('Bar'); plt.show()";
    let Chart::Bar(bar) = chart(code, &ci.run_code_with(code, options()).await.unwrap()) else {
        panic!("not a bar chart")
    };
    assert_eq!(bar.title.as_deref(), Some("Bar"));
    let bars: Vec<_> = bar
        .elements
        .iter()
        .map(|b| (b.label.as_str(), b.value.clone()))
        .collect();
    assert_eq!(
        bars,
        [
            ("a", ChartValue::Number(3.0)),
            ("b", ChartValue::Number(5.0)),
            ("c", ChartValue::Number(2.0))
        ]
    );

    let code = "plt.figure(); plt.pie([25, 75], labels=['x', 'y']); plt.title('Pie'); plt.show()";
    let Chart::Pie(pie) = chart(code, &ci.run_code_with(code, options()).await.unwrap()) else {
        panic!("not a pie chart")
    };
    assert_eq!(pie.title.as_deref(), Some("Pie"));
    let labels: Vec<_> = pie.elements.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["x", "y"]);
    assert!((pie.elements[0].angle - 90.0).abs() < 1e-6, "{pie:?}");

    // Box-and-whisker: e2b-charts recognises boxes drawn as patches.
    let code = "plt.figure(); plt.boxplot([[1, 2, 3, 4, 5], [1, 3, 5, 7, 9, 30]], \
                tick_labels=['A', 'B'], patch_artist=True); plt.title('Box'); \
                plt.ylabel('value (ms)'); plt.show()";
    let Chart::BoxAndWhisker(boxes) =
        chart(code, &ci.run_code_with(code, options()).await.unwrap())
    else {
        panic!("not a box-and-whisker chart")
    };
    assert_eq!(boxes.title.as_deref(), Some("Box"));
    assert_eq!(boxes.y_unit.as_deref(), Some("ms"));
    let labels: Vec<_> = boxes.elements.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, ["A", "B"]);
    let a = &boxes.elements[0];
    assert_eq!(
        (a.min, a.first_quartile, a.median, a.third_quartile, a.max),
        (1.0, 2.0, 3.0, 4.0, 5.0)
    );
    assert!(a.outliers.is_empty(), "{a:?}");
    let b = &boxes.elements[1];
    assert_eq!((b.median, b.max), (6.0, 9.0));
    assert_eq!(b.outliers, [30.0]);

    let code = "fig, (left, right) = plt.subplots(1, 2); left.plot([1, 2], [3, 4]); \
                right.bar(['p', 'q'], [1, 2]); fig.suptitle('Both'); plt.show()";
    let Chart::SuperChart(superchart) =
        chart(code, &ci.run_code_with(code, options()).await.unwrap())
    else {
        panic!("not a superchart")
    };
    assert_eq!(superchart.title.as_deref(), Some("Both"));
    let kinds: Vec<_> = superchart.elements.iter().map(Chart::chart_type).collect();
    assert_eq!(kinds, [ChartType::Line, ChartType::Bar]);

    // DataFrames carry their data.
    let code = "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})";
    let execution = ci.run_code_with(code, options()).await.unwrap();
    let main = execution
        .results
        .iter()
        .find(|r| r.is_main_result)
        .expect("a main result");
    assert_eq!(
        main.data,
        Some(serde_json::json!({"a": [1, 2], "b": ["x", "y"]}))
    );
    assert!(main.html.as_deref().is_some_and(|h| h.contains("<table")));
    assert!(main.formats().contains(&"data"));
    ci.sandbox().kill().await.unwrap();
    local.stop().await;
}

#[tokio::test]
async fn contexts_isolate_state_and_honour_cwd() {
    let local = Local::with_kernels().await;
    let ci = local.interpreter().await;
    ci.run_code_with("shared = 'default'", options())
        .await
        .unwrap();

    let context = ci
        .create_code_context_with(ContextOptions::new().cwd("/tmp"))
        .await
        .unwrap();
    assert_eq!(context.language, "python");
    assert_eq!(context.cwd, "/tmp");
    let cwd = ci
        .run_code_with("import os\nos.getcwd()", options().context(&context))
        .await
        .unwrap();
    assert_eq!(cwd.text(), Some("/tmp"));
    let isolated = ci
        .run_code_with("'shared' in globals()", options().context(&context))
        .await
        .unwrap();
    assert_eq!(isolated.text(), Some("False"));
    let default = ci.run_code_with("shared", options()).await.unwrap();
    assert_eq!(default.text(), Some("default"));

    let listed = ci.list_code_contexts().await.unwrap();
    assert!(listed.iter().any(|c| c.id == context.id), "{listed:?}");

    // Restart loses the state, keeps the cwd.
    ci.run_code_with("kept = 1", options().context(&context))
        .await
        .unwrap();
    ci.restart_code_context(&context).await.unwrap();
    let after = ci
        .run_code_with("'kept' in globals()", options().context(&context))
        .await
        .unwrap();
    assert_eq!(after.text(), Some("False"));
    let cwd = ci
        .run_code_with("import os\nos.getcwd()", options().context(&context.id))
        .await
        .unwrap();
    assert_eq!(cwd.text(), Some("/tmp"));

    ci.remove_code_context(&context).await.unwrap();
    let listed = ci.list_code_contexts().await.unwrap();
    assert!(!listed.iter().any(|c| c.id == context.id), "{listed:?}");
    let err = ci
        .run_code_with("1", options().context(&context))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    ci.sandbox().kill().await.unwrap();
    local.stop().await;
}

#[tokio::test]
async fn env_vars_apply_per_execution_and_timeouts_interrupt() {
    let local = Local::with_kernels().await;
    let ci = local.interpreter().await;
    let code = "import os\nos.environ.get('E2B_TEST_VAR', 'unset')";
    let with = ci
        .run_code_with(code, options().envs([("E2B_TEST_VAR", "per-run")]))
        .await
        .unwrap();
    assert_eq!(with.text(), Some("per-run"));
    let without = ci.run_code_with(code, options()).await.unwrap();
    assert_eq!(without.text(), Some("unset"));

    // A timeout interrupts the loop; the kernel, and its state, survive.
    ci.run_code_with("survivor = 7", options()).await.unwrap();
    let started = Instant::now();
    let err = ci
        .run_code_with(
            "while True: pass",
            RunCodeOptions::new().timeout(Duration::from_secs(2)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Execution), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let after = ci.run_code_with("survivor + 1", options()).await.unwrap();
    assert_eq!(after.text(), Some("8"), "{after:?}");
    ci.sandbox().kill().await.unwrap();
    local.stop().await;
}

#[tokio::test]
async fn a_killed_sandbox_ends_run_code_with_a_clear_error() {
    let local = Local::with_kernels().await;
    let ci = local.interpreter().await;
    ci.run_code_with("1", options()).await.unwrap();
    let killer = ci.clone();
    let kill = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let started = Instant::now();
        killer.sandbox().kill().await.unwrap();
        started
    });
    let outcome = ci
        .run_code_with("import time\ntime.sleep(30)", options())
        .await;
    let reported = Instant::now();
    let err = outcome.expect_err("the execution cannot complete in a killed sandbox");
    assert!(err.is_sandbox_gone(), "{err}");
    let since_kill = reported.saturating_duration_since(kill.await.unwrap());
    assert!(since_kill < Duration::from_secs(3), "{since_kill:?}");
    eprintln!("run_code reported the killed sandbox {since_kill:?} after kill() began");
    // Later calls say the same.
    let err = ci.run_code_with("1", options()).await.unwrap_err();
    assert!(err.is_sandbox_gone(), "{err}");
    local.stop().await;
}

#[tokio::test]
async fn bash_runs_in_its_own_default_context() {
    let local = Local::with_kernels().await;
    let ci = local.interpreter().await;
    let execution = ci
        .run_code_with(
            "GREETING=hi; echo \"$GREETING $((6 * 7))\"",
            options().language(e2b_code_interpreter::language::BASH),
        )
        .await
        .unwrap();
    assert!(execution.error.is_none(), "{:?}", execution.error);
    assert_eq!(execution.logs.stdout.concat(), "hi 42\n");
    // The bash context keeps its state; Python's default context is another kernel.
    let again = ci
        .run_code_with("echo $GREETING", options().language("bash"))
        .await
        .unwrap();
    assert_eq!(again.logs.stdout.concat(), "hi\n");
    let python = ci
        .run_code_with("'GREETING' in globals()", options())
        .await
        .unwrap();
    assert_eq!(python.text(), Some("False"));
    ci.sandbox().kill().await.unwrap();
    local.stop().await;
}

#[tokio::test]
async fn private_traffic_sandboxes_get_the_traffic_token() {
    let local = Local::with_kernels().await;
    let ci = e2b_code_interpreter::CodeInterpreter::builder()
        .timeout(Duration::from_secs(120))
        .configure(|b| b.network(e2b_sandbox::NetworkConfig::new().allow_public_traffic(false)))
        .create(&local.client)
        .await
        .unwrap();
    assert!(ci.sandbox().traffic_access_token().is_some());
    assert_eq!(
        ci.run_code_with("6 * 7", options()).await.unwrap().text(),
        Some("42")
    );
    let context = ci.create_code_context().await.unwrap();
    ci.remove_code_context(&context).await.unwrap();
    ci.sandbox().kill().await.unwrap();
    local.stop().await;
}
