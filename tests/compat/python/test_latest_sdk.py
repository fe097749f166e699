"""Smoke test for the newest official Python SDK (requirements-latest.txt), which
uses the v2 control-plane paths; test_official_sdk.py runs against it too."""

from e2b import Sandbox


def test_create_and_run():
    sbx = Sandbox.create()
    try:
        assert sbx.commands.run("echo latest").stdout == "latest\n"
    finally:
        sbx.kill()

