"""Smoke test for the newest official Python SDK (requirements-latest.txt), which
uses the v2 control-plane paths."""

import pytest
from e2b import Sandbox


def test_create_and_run():
    sbx = Sandbox.create()
    try:
        assert sbx.commands.run("echo latest").stdout == "latest\n"
    finally:
        sbx.kill()


def test_a_kill_mid_command_is_reported_as_a_kill():
    sandbox = Sandbox.create()
    handle = sandbox.commands.run("sleep 30", background=True)
    assert sandbox.kill() is True
    with pytest.raises(Exception) as info:
        handle.wait()
    assert "killed or reached its end of life" in str(info.value), repr(info.value)
