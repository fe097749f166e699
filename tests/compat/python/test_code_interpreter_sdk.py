"""The official code-interpreter package (e2b-code-interpreter==2.9.1, unchanged) against
e2b-local: run_code (state, output, errors), charts, DataFrames, env vars and contexts.

The server needs its kernel environment (E2B_LOCAL_KERNEL_ENV, set by the Makefile)."""

import pytest
from e2b import InvalidArgumentException
from e2b_code_interpreter import Sandbox
from e2b_code_interpreter.charts import ChartType, LineChart


@pytest.fixture(scope="module")
def sbx():
    sandbox = Sandbox.create(timeout=300)
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


def test_state_persists_and_stdout(sbx):
    sbx.run_code("x = 40")
    seen = []
    execution = sbx.run_code("print('hello')\nx + 2", on_stdout=lambda m: seen.append(m.line))
    assert execution.text == "42"
    assert execution.logs.stdout == ["hello\n"]
    assert seen == ["hello\n"]
    assert execution.execution_count is not None


def test_error_has_name_value_traceback(sbx):
    execution = sbx.run_code("1 / 0")
    assert execution.error is not None
    assert execution.error.name == "ZeroDivisionError"
    assert "division by zero" in execution.error.value
    assert "ZeroDivisionError" in execution.error.traceback


def test_stderr(sbx):
    execution = sbx.run_code("import sys\nprint('oops', file=sys.stderr)")
    assert "".join(execution.logs.stderr) == "oops\n"


def test_line_chart(sbx):
    execution = sbx.run_code(
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9], label='squares')\n"
        "plt.title('Squares')\n"
        "plt.show()"
    )
    assert execution.error is None, execution.error
    result = next(r for r in execution.results if r.chart is not None)
    assert result.png
    chart = result.chart
    assert isinstance(chart, LineChart)
    assert chart.type == ChartType.LINE
    assert chart.title == "Squares"
    assert [y for _, y in chart.elements[0].points] == [1, 4, 9]
    assert "chart" in result.formats()


def test_dataframe_data(sbx):
    execution = sbx.run_code("import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    main = next(r for r in execution.results if r.is_main_result)
    assert main.data == {"a": [1, 2]}
    assert "<table" in main.html


def test_env_vars_per_execution(sbx):
    code = "import os\nos.environ.get('COMPAT_VAR', 'unset')"
    assert sbx.run_code(code, envs={"COMPAT_VAR": "set"}).text == "set"
    assert sbx.run_code(code).text == "unset"


def test_contexts_in_a_secure_sandbox(sbx):
    # The SDK sends the access token on /execute only, as upstream's server expects.
    check_contexts(sbx)


def test_contexts_in_an_open_sandbox(open_sbx):
    check_contexts(open_sbx)


def check_contexts(sbx):
    context = sbx.create_code_context(cwd="/tmp")
    assert context.language == "python"
    assert context.cwd == "/tmp"
    assert sbx.run_code("import os\nos.getcwd()", context=context).text == "/tmp"
    assert context.id in [c.id for c in sbx.list_code_contexts()]

    sbx.run_code("kept = 1", context=context)
    assert sbx.run_code("'kept' in globals()", context=context).text == "True"
    assert sbx.run_code("'kept' in globals()").text == "False"
    sbx.restart_code_context(context)
    assert sbx.run_code("'kept' in globals()", context=context).text == "False"

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
