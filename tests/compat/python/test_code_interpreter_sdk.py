"""The official code-interpreter package against e2b-local, unchanged: the pinned release
(e2b-code-interpreter==2.9.1, requirements-code-interpreter.txt) and the newest one (2.11.5,
requirements-code-interpreter-latest.txt) both run this module. It covers run_code in every
language (state, output, errors), contexts, charts, images, DataFrames and env vars, with the
expectations of upstream's own tests (e2b-dev/code-interpreter python/tests).

The server needs its kernel environment (E2B_LOCAL_KERNEL_ENV, set by the Makefile)."""

import re
import time

import pytest
from e2b import InvalidArgumentException, TimeoutException
from e2b_code_interpreter import Sandbox
from e2b_code_interpreter.charts import BarChart, ChartType, LineChart

PIL_IMAGE = """
import numpy
from PIL import Image

imarray = numpy.random.rand(16,16,3) * 255
image = Image.fromarray(imarray.astype('uint8')).convert('RGBA')
"""


@pytest.fixture(scope="module")
def sbx():
    sandbox = Sandbox.create(timeout=600, envs={"TEST_ENV_VAR": "supertest"})
    try:
        yield sandbox
    finally:
        sandbox.kill()


@pytest.fixture(scope="module")
def open_sbx():
    """A sandbox without secure access: the SDK's context calls carry no access token."""
    sandbox = Sandbox.create(timeout=300, secure=False)
    try:
        yield sandbox
    finally:
        sandbox.kill()


@pytest.fixture
def fresh():
    """A sandbox of its own, for tests that need one nothing else has run code in."""
    sandbox = Sandbox.create(timeout=300)
    try:
        yield sandbox
    finally:
        sandbox.kill()


def wait_until(condition, timeout=20.0, what="condition"):
    """Poll a condition with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def assert_png(b64, what):
    assert isinstance(b64, str) and b64.startswith("iVBORw0KGgo"), f"{what}: no PNG ({b64!r:.40})"


# --- python -------------------------------------------------------------------


def test_state_persists_and_stdout(sbx):
    sbx.run_code("x = 40")
    seen = []
    execution = sbx.run_code("print('hello')\nx + 2", on_stdout=lambda m: seen.append(m.line))
    assert execution.text == "42"
    assert execution.logs.stdout == ["hello\n"]
    assert seen == ["hello\n"]
    assert execution.execution_count is not None


def test_error_has_name_value_traceback(sbx):
    errors = []
    execution = sbx.run_code("1 / 0", on_error=errors.append)
    assert execution.error is not None
    assert execution.error.name == "ZeroDivisionError"
    assert "division by zero" in execution.error.value
    assert "ZeroDivisionError" in execution.error.traceback
    assert [e.name for e in errors] == ["ZeroDivisionError"]


def test_stderr(sbx):
    execution = sbx.run_code("import sys\nprint('oops', file=sys.stderr)")
    assert "".join(execution.logs.stderr) == "oops\n"


def test_python_cwd_and_shell_escape(sbx):
    result = sbx.run_code("from pathlib import Path; print(Path.cwd())", language="python")
    assert "".join(result.logs.stdout).strip() == "/home/user"
    assert "".join(sbx.run_code("!pwd").logs.stdout).strip() == "/home/user"


def test_dataframe_data(sbx):
    execution = sbx.run_code("import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    main = next(r for r in execution.results if r.is_main_result)
    assert main.data == {"a": [1, 2]}
    assert "<table" in main.html


def test_execution_timeout_then_the_context_runs_again(sbx):
    started = time.monotonic()
    with pytest.raises(TimeoutException):
        sbx.run_code("import time; time.sleep(300)", timeout=2)
    assert time.monotonic() - started < 15
    assert sbx.run_code("1 + 1", timeout=30).text == "2"


# --- javascript and typescript ----------------------------------------------------


def test_js_console_log_is_stdout(sbx):
    execution = sbx.run_code("console.log('Hello, World!')", language="js")
    assert execution.logs.stdout == ["Hello, World!\n"]
    assert execution.error is None


def test_js_esm_imports(sbx):
    execution = sbx.run_code(
        "import { readFileSync } from 'fs'\nconsole.log(typeof readFileSync)", language="js"
    )
    assert execution.logs.stdout == ["function\n"]


def test_js_state_persists(sbx):
    sbx.run_code("const kept = 20", language="javascript")
    assert sbx.run_code("console.log(kept + 1)", language="javascript").logs.stdout == ["21\n"]


def test_js_last_expression_is_the_text_result(sbx):
    execution = sbx.run_code("1 + 1", language="js")
    assert execution.text == "2"
    assert execution.logs.stdout == []


def test_js_top_level_await(sbx):
    execution = sbx.run_code("await Promise.resolve('Hello World!')", language="js")
    assert execution.text == "Hello World!"


def test_js_cwd(sbx):
    assert sbx.run_code("process.cwd()", language="js").text == "/home/user"


def test_js_thrown_error_is_the_execution_error(sbx):
    # A context of its own, so that no earlier failure is in the way.
    context = sbx.create_code_context(language="js")
    try:
        errors = []
        execution = sbx.run_code("throw new Error('boom')", context=context, on_error=errors.append)
        assert execution.error is not None, execution.to_json()
        assert (execution.error.name, execution.error.value) == ("Error", "boom")
        assert len(errors) == 1
    finally:
        sbx.remove_code_context(context)


def test_js_context_runs_the_next_execution_right_after_a_failed_one(sbx):
    context = sbx.create_code_context(language="js")
    try:
        failed = sbx.run_code("const n = 1; n.missing.boom", context=context)
        assert failed.error is not None, failed.to_json()
        after = sbx.run_code("console.log('after the failure')", context=context)
        assert after.logs.stdout == ["after the failure\n"], after.to_json()
    finally:
        sbx.remove_code_context(context)


def test_ts_kernel(sbx):
    execution = sbx.run_code(
        "const message: string = 'Hello, World!'; console.log(message)", language="ts"
    )
    assert execution.logs.stdout == ["Hello, World!\n"]


def test_ts_cwd(sbx):
    assert sbx.run_code("process.cwd()", language="ts").text == "/home/user"


# --- r, java, bash --------------------------------------------------------------------


def test_r_kernel(sbx):
    execution = sbx.run_code('print("Hello, World!")', language="r")
    assert execution.logs.stdout == ['[1] "Hello, World!"\n']


def test_r_cwd(sbx):
    result = sbx.run_code("getwd()", language="r")
    assert result.results[0].text.strip() == '[1] "/home/user"'


def test_java_println_is_stdout(sbx):
    execution = sbx.run_code('System.out.println("Hello, World!")', language="java")
    # Upstream's Java kernel sends the line and its newline as two chunks
    # (its test reads stdout[0] == "Hello, World!"); jjava sends one. The text
    # is the same.
    assert "".join(execution.logs.stdout) == "Hello, World!\n"


def test_java_cwd_and_state(sbx):
    result = sbx.run_code('System.getProperty("user.dir")', language="java")
    assert result.results[0].text.strip() == "/home/user"
    sbx.run_code("int kept = 41;", language="java")
    assert sbx.run_code("kept + 1", language="java").text == "42"


def test_java_exception_is_the_execution_error(sbx):
    execution = sbx.run_code("int[] a = new int[1]; a[3] = 1;", language="java")
    assert execution.error is not None, execution.to_json()
    assert "ArrayIndexOutOfBoundsException" in execution.error.value


def test_bash_cwd(sbx):
    result = sbx.run_code("pwd", language="bash")
    assert "".join(result.logs.stdout).strip() == "/home/user"


# --- env vars ---------------------------------------------------------------------------


def test_env_vars_per_execution(sbx):
    code = "import os\nos.environ.get('COMPAT_VAR', 'unset')"
    assert sbx.run_code(code, envs={"COMPAT_VAR": "set"}).text == "set"
    assert sbx.run_code(code).text == "unset"


def _text(execution):
    return execution.results[0].text.strip() if execution.results else None


def _stdout(execution):
    return execution.logs.stdout[0].strip() if execution.logs.stdout else None


# Upstream's env_vars tests, one language each: a variable set at sandbox creation, one set
# for a single execution, and one execution's override of the sandbox's.
ENV_CASES = {
    "python": (
        'import os; os.getenv("TEST_ENV_VAR")',
        'import os; os.getenv("FOO")',
        "import os; os.getenv('FOO', 'default')",
        _text,
        str,
    ),
    "javascript": (
        "process.env.TEST_ENV_VAR",
        "process.env.FOO",
        "process.env.FOO || 'default'",
        _text,
        str,
    ),
    "bash": ("echo $TEST_ENV_VAR", "echo $FOO", "echo ${FOO:-default}", _stdout, str),
    "java": (
        'System.getProperty("TEST_ENV_VAR")',
        'System.getProperty("FOO")',
        'System.getProperty("FOO", "default")',
        _text,
        str,
    ),
    "r": (
        'Sys.getenv("TEST_ENV_VAR")',
        'Sys.getenv("FOO")',
        'Sys.getenv("FOO", unset = "default")',
        _text,
        lambda v: f'[1] "{v}"',
    ),
}


@pytest.mark.parametrize("language", list(ENV_CASES))
def test_env_vars(sbx, language):
    sandbox_var, foo, foo_or_default, read, shown = ENV_CASES[language]

    def value(code, **envs):
        return read(sbx.run_code(code, language=language, envs=envs or None))

    assert value(sandbox_var) == shown("supertest"), "set at sandbox creation"
    assert value(foo, FOO="bar") == shown("bar"), "set for one execution"
    assert value(foo_or_default) == shown("default"), "gone after that execution"
    assert value(sandbox_var, TEST_ENV_VAR="overwrite") == shown("overwrite"), "overridden"
    assert value(sandbox_var) == shown("supertest"), "back after the override"


# --- contexts ---------------------------------------------------------------------------


def test_default_contexts_exist_from_the_start(fresh):
    languages = [c.language for c in fresh.list_code_contexts()]
    assert "python" in languages, languages
    assert "javascript" in languages, languages


def test_contexts_are_listed_in_creation_order(sbx):
    created = [sbx.create_code_context().id for _ in range(5)]
    try:
        listed = [c.id for c in sbx.list_code_contexts()]
        assert [i for i in listed if i in created] == created
        assert listed[-1] == created[-1]
    finally:
        for context_id in created:
            sbx.remove_code_context(context_id)


def test_create_context_with_a_language_and_a_cwd(sbx):
    py = sbx.create_code_context(language="python", cwd="/root")
    js = sbx.create_code_context(language="js", cwd="/tmp")
    sh = sbx.create_code_context(language="bash", cwd="/tmp")
    try:
        assert (py.language, py.cwd) == ("python", "/root")
        assert sbx.run_code("import os; os.getcwd()", context=py).text == "/root"
        assert (js.language, js.cwd) == ("javascript", "/tmp")
        out = sbx.run_code("console.log(process.cwd() + ' ' + typeof require)", context=js)
        assert out.logs.stdout == ["/tmp function\n"]
        assert sh.language == "bash"
        assert sbx.run_code("pwd", context=sh).logs.stdout == ["/tmp\n"]
        listed = {c.id: (c.language, c.cwd) for c in sbx.list_code_contexts()}
        assert listed[py.id] == ("python", "/root")
        assert listed[js.id] == ("javascript", "/tmp")
    finally:
        for context in (py, js, sh):
            sbx.remove_code_context(context)


def test_contexts_are_independent(sbx):
    sbx.run_code("only_in_default = 1")
    context = sbx.create_code_context()
    try:
        execution = sbx.run_code("only_in_default", context=context)
        assert execution.error is not None
        assert execution.error.value == "name 'only_in_default' is not defined"
    finally:
        sbx.remove_code_context(context)


def test_contexts_in_a_secure_sandbox(sbx):
    # The SDK sends the access token on /execute only, as upstream's server expects.
    check_contexts(sbx)


def test_contexts_in_an_open_sandbox(open_sbx):
    check_contexts(open_sbx)


def test_contexts_in_a_sandbox_closed_to_public_traffic():
    sandbox = Sandbox.create(timeout=300, secure=True, network={"allow_public_traffic": False})
    try:
        assert sandbox.traffic_access_token
        check_contexts(sandbox)
        assert sandbox.run_code("x = 1; x").text == "1"
    finally:
        sandbox.kill()


def check_contexts(sbx):
    context = sbx.create_code_context(cwd="/tmp")
    assert context.language == "python"
    assert context.cwd == "/tmp"
    assert sbx.run_code("import os\nos.getcwd()", context=context).text == "/tmp"
    assert sbx.list_code_contexts()[-1].id == context.id

    sbx.run_code("kept = 1", context=context)
    assert sbx.run_code("'kept' in globals()", context=context).text == "True"
    assert sbx.run_code("'kept' in globals()").text == "False"
    sbx.restart_code_context(context)
    execution = sbx.run_code("kept", context=context)
    assert execution.error is not None
    assert execution.error.name == "NameError"
    assert execution.error.value == "name 'kept' is not defined"

    sbx.remove_code_context(context.id)
    assert context.id not in [c.id for c in sbx.list_code_contexts()]


def test_language_and_context_are_exclusive(open_sbx):
    sbx = open_sbx
    context = sbx.create_code_context()
    try:
        with pytest.raises(InvalidArgumentException):
            sbx.run_code("1", language="python", context=context)
    finally:
        sbx.remove_code_context(context)


# --- charts and images --------------------------------------------------------------------


def test_line_chart(sbx):
    execution = sbx.run_code(
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9], label='squares')\n"
        "plt.xlabel('x (s)')\n"
        "plt.ylabel('y (m)')\n"
        "plt.title('Squares')\n"
        "plt.show()"
    )
    assert execution.error is None, execution.error
    result = next(r for r in execution.results if r.chart is not None)
    assert_png(result.png, "line chart")
    chart = result.chart
    assert isinstance(chart, LineChart)
    assert chart.type == ChartType.LINE
    assert chart.title == "Squares"
    assert chart.x_label == "x (s)"
    assert chart.y_unit == "m"
    assert chart.elements[0].label == "squares"
    assert [tuple(p) for p in chart.elements[0].points] == [(1, 1), (2, 4), (3, 9)]
    assert "chart" in result.formats()


def test_bar_chart(sbx):
    execution = sbx.run_code(
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\n"
        "ax.bar(['A', 'B', 'C'], [3, 5, 2], label='counts')\n"
        "ax.set_title('Bars')\n"
        "plt.show()"
    )
    chart = execution.results[0].chart
    assert isinstance(chart, BarChart)
    assert chart.title == "Bars"
    assert [(e.label, e.value) for e in chart.elements] == [("A", 3), ("B", 5), ("C", 2)]


def test_pil_image_shown_is_a_png_result(sbx):
    execution = sbx.run_code(PIL_IMAGE + "\nimage.show()\nprint('Image shown.')")
    assert_png(execution.results[0].png, "image.show()")
    assert execution.logs.stdout == ["Image shown.\n"]


def test_pil_image_as_last_expression_is_a_png_result(sbx):
    execution = sbx.run_code(PIL_IMAGE + "\nimage")
    assert_png(execution.results[0].png, "image")


def test_pil_image_saved_is_a_png_result(sbx):
    execution = sbx.run_code(PIL_IMAGE + "\nimage.save('test.png')\nprint('Image saved.')")
    assert execution.results, execution.to_json()
    assert_png(execution.results[0].png, "image.save()")
    assert sbx.files.exists("/home/user/test.png")


# --- the interpreter's life ------------------------------------------------------------------


def test_a_kill_during_run_code_is_reported_as_a_kill():
    sandbox = Sandbox.create(timeout=300)
    killed = []

    def kill_once(_message):
        # Killed once the code is known to run, so the request is in flight.
        if not killed:
            killed.append(sandbox.kill())

    with pytest.raises(TimeoutException) as info:
        sandbox.run_code(
            "import time\nprint('started', flush=True)\ntime.sleep(300)",
            timeout=300,
            on_stdout=kill_once,
        )
    assert "sandbox was killed while the request was in progress" in str(info.value)
    assert killed == [True]


def health(sandbox) -> str:
    """`curl` from inside the sandbox to the interpreter's health endpoint."""
    return sandbox.commands.run(
        'curl -s -o /dev/null -w "%{http_code}" http://0.0.0.0:49999/health || true'
    ).stdout.strip()


def test_port_49999_answers_from_inside_the_sandbox(sbx):
    assert health(sbx) == "200"


def test_a_killed_kernel_is_restarted(fresh):
    pid = fresh.run_code("import os; os.getpid()").text
    assert re.fullmatch(r"\d+", pid)
    fresh.commands.run(f"kill -9 {pid}", user="root")

    def runs_again():
        try:
            return fresh.run_code("x = 1; x", timeout=10).text == "1"
        except Exception:
            return False

    wait_until(runs_again, what="the python context to run code after its kernel was killed")
    assert fresh.run_code("import os; os.getpid()").text != pid
    assert health(fresh) == "200"


def test_a_killed_interpreter_service_is_restarted(fresh):
    assert health(fresh) == "200"
    # Whatever serves port 49999 inside the sandbox (upstream: uvicorn, which systemd
    # restarts; upstream's test kills it with `kill -9` as root).
    owner = fresh.commands.run(
        "ss -Htlnp 'sport = :49999' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2", user="root"
    )
    pid = owner.stdout.strip()
    assert re.fullmatch(r"\d+", pid), f"no process listens on 49999 inside the sandbox: {owner}"
    try:
        fresh.commands.run(f"kill -9 {pid}", user="root")
    except Exception:
        pass  # the kill may take the command's own connection with it

    def answers_again():
        assert fresh.is_running(), f"the sandbox died with pid {pid}, the server of port 49999"
        try:
            return health(fresh) == "200"
        except Exception:
            return False

    wait_until(answers_again, what="port 49999 to answer again")
    assert fresh.run_code("x = 1; x").text == "1"
