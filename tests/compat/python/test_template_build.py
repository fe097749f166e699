"""The official SDK's `Template` builder against e2b-local: a template from the
builder (a local context copied in, commands, a local wheel installed with pip,
environment, working directory, start and ready commands) and one from a
Dockerfile; sandboxes start from both; a rebuild comes from the cache; tags,
exists and delete."""

import os
import pathlib
import zipfile

import pytest
from e2b import Sandbox, Template, wait_for_file

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="template builds need a root server (writable roots)"
)


def _wheel(directory: pathlib.Path) -> pathlib.Path:
    """A pure-Python wheel with one module, made by hand (no build tools)."""
    name = "e2b_local_probe-0.1-py3-none-any.whl"
    path = directory / name
    files = {
        "e2b_local_probe.py": "ANSWER = 42\n",
        "e2b_local_probe-0.1.dist-info/METADATA": (
            "Metadata-Version: 2.1\nName: e2b-local-probe\nVersion: 0.1\n"
        ),
        "e2b_local_probe-0.1.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{f},,\n" for f in files) + "e2b_local_probe-0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as wheel:
        for f, content in files.items():
            wheel.writestr(f, content)
        wheel.writestr("e2b_local_probe-0.1.dist-info/RECORD", record)
    return path


@pytest.fixture()
def context(tmp_path):
    app = tmp_path / "app"
    (app / "conf").mkdir(parents=True)
    (app / "serve.sh").write_text("#!/bin/sh\necho started > /tmp/started\n")
    (app / "serve.sh").chmod(0o755)
    (app / "conf" / "settings.ini").write_text("mode=local\n")
    (app / "conf" / "ignored.tmp").write_text("must not be copied\n")
    _wheel(tmp_path)
    return tmp_path


def test_builder_template_builds_and_runs(context):
    logs = []
    template = (
        Template(file_context_path=str(context), file_ignore_patterns=["**/*.tmp"])
        .from_base_image()
        .copy("app", "/home/user/app")
        .copy("e2b_local_probe-0.1-py3-none-any.whl", "/tmp/wheels/")
        .pip_install("/tmp/wheels/e2b_local_probe-0.1-py3-none-any.whl")
        .set_envs({"APP_MODE": "compat"})
        .run_cmd("mkdir -p /home/user/work && echo built > /home/user/work/marker")
        .set_workdir("/home/user/work")
        .set_start_cmd("/home/user/app/serve.sh", wait_for_file("/tmp/started"))
    )
    info = Template.build(template, "compat-builder", on_build_logs=logs.append)
    assert info.template_id
    assert any("[" in entry.message for entry in logs), [e.message for e in logs]
    assert Template.exists("compat-builder")

    sandbox = Sandbox.create("compat-builder", timeout=120)
    try:
        result = sandbox.commands.run(
            "pwd; cat marker; echo $APP_MODE; cat /tmp/started; "
            "cat /home/user/app/conf/settings.ini; ls /home/user/app/conf; "
            "python3 -c 'import e2b_local_probe; print(e2b_local_probe.ANSWER)'"
        )
        assert result.stdout.split("\n")[:7] == [
            "/home/user/work",
            "built",
            "compat",
            "started",
            "mode=local",
            "settings.ini",
            "42",
        ], result.stdout
    finally:
        sandbox.kill()

    # The same template again: every step comes from the cache.
    again = []
    Template.build(template, "compat-builder", on_build_logs=again.append)
    messages = [e.message for e in again]
    assert sum(m == "CACHED" for m in messages) >= 5, messages
    assert not any(m.startswith("Processing ") for m in messages), messages

    Template.assign_tags("compat-builder", ["stable"])
    tags = {t.tag for t in Template.get_tags(info.template_id)}
    assert {"default", "stable"} <= tags, tags


def test_dockerfile_template_builds_and_runs(context):
    (context / "Dockerfile").write_text(
        "FROM e2bdev/base:latest\n"
        "ARG CHANNEL=stable\n"
        "ENV GREETING=hello\n"
        "RUN mkdir -p /srv/site && echo \"$GREETING $CHANNEL\" > /srv/site/index.txt\n"
        "WORKDIR /srv/site\n"
        "COPY app/conf/settings.ini ./\n"
    )
    template = Template(file_context_path=str(context)).from_dockerfile(
        str(context / "Dockerfile")
    )
    Template.build(template, "compat-dockerfile")
    sandbox = Sandbox.create("compat-dockerfile", timeout=120)
    try:
        result = sandbox.commands.run("cat /srv/site/index.txt /srv/site/settings.ini")
        assert result.stdout == "hello stable\nmode=local\n", result.stdout
    finally:
        sandbox.kill()
    Template.remove_tags("compat-dockerfile", ["default"])
    assert Template.exists("compat-dockerfile")


def test_apt_install_in_a_build():
    """A Debian package installed by a build (from Debian's archive, which
    this project's machines reach) is in the template's sandboxes."""
    template = Template().from_base_image().apt_install(["sl"], no_install_recommends=True)
    Template.build(template, "compat-apt")
    sandbox = Sandbox.create("compat-apt", timeout=60)
    try:
        result = sandbox.commands.run("dpkg -s sl | grep '^Status'; test -x /usr/games/sl && echo ok")
        assert result.stdout == "Status: install ok installed\nok\n", result.stdout
    finally:
        sandbox.kill()
