"""The official Python SDK drives e2b-local unchanged: the pinned release
(requirements.txt) and the newest one (requirements-latest.txt) both run this module."""

import time

import httpx

import pytest
from e2b import (
    CommandExitException,
    FileType,
    FilesystemEventType,
    NotFoundException,
    PtySize,
    Sandbox,
    SandboxQuery,
    TimeoutException,
)


@pytest.fixture
def sbx():
    sandbox = Sandbox.create(
        envs={"SANDBOX_LEVEL": "from-sandbox"},
        metadata={"suite": "compat", "odd": "a b&c=d/é 100%"},
    )
    yield sandbox
    sandbox.kill()


def wait_until(condition, timeout=10.0, what="condition"):
    """Poll a condition with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- commands -----------------------------------------------------------------


def test_foreground_output_and_exit_code(sbx):
    result = sbx.commands.run("echo hello; echo oops >&2")
    assert result.exit_code == 0
    assert result.stdout == "hello\n"
    assert result.stderr == "oops\n"

    with pytest.raises(CommandExitException) as exc:
        sbx.commands.run("echo before; exit 3")
    assert exc.value.exit_code == 3
    assert exc.value.stdout == "before\n"


def test_env_cwd_and_user(sbx):
    assert sbx.commands.run("echo $FOO", envs={"FOO": "bar"}).stdout == "bar\n"
    assert sbx.commands.run("echo $SANDBOX_LEVEL").stdout == "from-sandbox\n"
    assert (
        sbx.commands.run("echo $SANDBOX_LEVEL", envs={"SANDBOX_LEVEL": "override"}).stdout
        == "override\n"
    )
    assert sbx.commands.run("pwd", cwd="/tmp").stdout == "/tmp\n"
    assert sbx.commands.run("pwd").stdout == "/home/user\n"
    assert sbx.commands.run("id -u; whoami; echo $HOME").stdout == "1000\nuser\n/home/user\n"
    assert sbx.commands.run("id -u; whoami", user="root").stdout == "0\nroot\n"


def test_background_stdin_and_wait(sbx):
    handle = sbx.commands.run("cat", background=True, stdin=True)
    sbx.commands.send_stdin(handle.pid, "line one\n")
    sbx.commands.send_stdin(handle.pid, b"line two\n")
    sbx.commands.close_stdin(handle.pid)
    result = handle.wait()
    assert result.stdout == "line one\nline two\n"


def test_list_and_kill(sbx):
    handle = sbx.commands.run("sleep 300", background=True)
    pids = [p.pid for p in sbx.commands.list()]
    assert handle.pid in pids
    assert sbx.commands.kill(handle.pid) is True
    with pytest.raises(CommandExitException):
        handle.wait()
    assert sbx.commands.kill(handle.pid) is False
    assert handle.pid not in [p.pid for p in sbx.commands.list()]


def test_command_timeout(sbx):
    started = time.monotonic()
    with pytest.raises(TimeoutException):
        sbx.commands.run("sleep 30", timeout=1)
    assert time.monotonic() - started < 10


def test_connect_to_running_command(sbx):
    handle = sbx.commands.run("read x; echo got $x", background=True, stdin=True)
    other = sbx.commands.connect(handle.pid)
    sbx.commands.send_stdin(handle.pid, "value\n")
    assert other.wait().stdout == "got value\n"


# --- pty ----------------------------------------------------------------------


def pty_output(handle) -> str:
    chunks = []
    try:
        handle.wait(on_pty=lambda data: chunks.append(bytes(data)))
    except CommandExitException:
        pass
    return b"".join(chunks).decode(errors="replace")


def test_pty_input_and_size(sbx):
    handle = sbx.pty.create(PtySize(rows=24, cols=80))
    sbx.pty.send_stdin(handle.pid, b"stty size; echo term=$TERM; exit\n")
    out = pty_output(handle)
    assert "24 80" in out
    assert "term=xterm" in out


def test_pty_resize(sbx):
    handle = sbx.pty.create(PtySize(rows=24, cols=80))
    sbx.pty.resize(handle.pid, PtySize(rows=40, cols=120))
    sbx.pty.send_stdin(handle.pid, b"stty size; exit\n")
    assert "40 120" in pty_output(handle)


def test_pty_kill(sbx):
    handle = sbx.pty.create(PtySize(rows=24, cols=80))
    assert sbx.pty.kill(handle.pid) is True
    pty_output(handle)
    assert handle.pid not in [p.pid for p in sbx.commands.list()]


# --- files --------------------------------------------------------------------


def test_write_read_text_and_bytes(sbx):
    info = sbx.files.write("/home/user/notes/hello.txt", "héllo wörld\n")
    assert info.path == "/home/user/notes/hello.txt"
    assert sbx.files.read("/home/user/notes/hello.txt") == "héllo wörld\n"

    payload = bytes(range(256)) * 64
    sbx.files.write("bin.dat", payload)  # relative to the user's home
    assert bytes(sbx.files.read("/home/user/bin.dat", format="bytes")) == payload
    assert sbx.commands.run("stat -c %U /home/user/bin.dat").stdout == "user\n"


def test_signed_urls(sbx):
    # E2B_SANDBOX_URL gives URLs that name no sandbox: the signature does.
    sbx.files.write("/home/user/signed.txt", "signed")
    for url in (
        sbx.download_url("/home/user/signed.txt"),
        sbx.download_url("/home/user/signed.txt", use_signature_expiration=60),
    ):
        resp = httpx.get(url)
        assert resp.status_code == 200, resp.text
        assert resp.content == b"signed"
    upload = sbx.upload_url("/home/user/uploaded.txt")
    resp = httpx.post(upload, files={"file": ("uploaded.txt", b"up")})
    assert resp.status_code == 200, resp.text
    assert sbx.files.read("/home/user/uploaded.txt") == "up"
    # A URL for one path does not open another.
    other = sbx.download_url("/home/user/signed.txt").replace("signed.txt", "uploaded.txt")
    assert httpx.get(other).status_code != 200


def test_list_exists_info(sbx):
    sbx.files.write("/home/user/d/a.txt", "a")
    sbx.files.write("/home/user/d/sub/b.txt", "bb")
    names = sorted(e.name for e in sbx.files.list("/home/user/d"))
    assert names == ["a.txt", "sub"]
    deep = sorted(e.path for e in sbx.files.list("/home/user/d", depth=2))
    assert "/home/user/d/sub/b.txt" in deep

    assert sbx.files.exists("/home/user/d/a.txt")
    assert not sbx.files.exists("/home/user/d/nope")

    info = sbx.files.get_info("/home/user/d/sub/b.txt")
    assert info.type == FileType.FILE
    assert info.size == 2
    assert info.owner == "user"
    assert info.permissions.startswith("-rw")
    assert sbx.files.get_info("/home/user/d/sub").type == FileType.DIR

    with pytest.raises(NotFoundException):
        sbx.files.get_info("/home/user/d/nope")


def test_make_dir_rename_remove(sbx):
    assert sbx.files.make_dir("/home/user/x/y") is True
    assert sbx.files.make_dir("/home/user/x/y") is False
    sbx.files.write("/home/user/x/y/f.txt", "data")
    moved = sbx.files.rename("/home/user/x/y/f.txt", "/home/user/x/g.txt")
    assert moved.path == "/home/user/x/g.txt"
    assert sbx.files.read("/home/user/x/g.txt") == "data"
    sbx.files.remove("/home/user/x")
    assert not sbx.files.exists("/home/user/x")


def test_watch_dir(sbx):
    sbx.files.make_dir("/home/user/watched")
    handle = sbx.files.watch_dir("/home/user/watched")
    try:
        sbx.files.write("/home/user/watched/new.txt", "1")
        sbx.commands.run("mv /home/user/watched/new.txt /home/user/watched/moved.txt")
        sbx.files.remove("/home/user/watched/moved.txt")
        seen = []

        def all_kinds():
            seen.extend(handle.get_new_events())
            kinds = {e.type for e in seen}
            return {
                FilesystemEventType.CREATE,
                FilesystemEventType.WRITE,
                FilesystemEventType.RENAME,
                FilesystemEventType.REMOVE,
            } <= kinds

        wait_until(all_kinds, what="create/write/rename/remove events")
        assert any(e.name == "new.txt" for e in seen)
    finally:
        handle.stop()


# --- lifecycle ----------------------------------------------------------------


def test_lifecycle(sbx):
    listed = Sandbox.list(query=SandboxQuery(metadata={"suite": "compat"})).next_items()
    assert sbx.sandbox_id in [s.sandbox_id for s in listed]
    odd = Sandbox.list(query=SandboxQuery(metadata={"odd": "a b&c=d/é 100%"})).next_items()
    assert [s.sandbox_id for s in odd] == [sbx.sandbox_id]
    assert Sandbox.list(query=SandboxQuery(metadata={"odd": "a b"})).next_items() == []

    again = Sandbox.connect(sbx.sandbox_id)
    assert again.commands.run("echo via connect").stdout == "via connect\n"

    sbx.set_timeout(120)
    info = sbx.get_info()
    assert info.sandbox_id == sbx.sandbox_id
    assert info.metadata == {"suite": "compat", "odd": "a b&c=d/é 100%"}
    assert info.end_at > info.started_at

    assert sbx.is_running()
    metrics = wait_until(sbx.get_metrics, what="metrics")
    assert metrics[-1].mem_used > 0
    assert metrics[-1].cpu_count > 0

    other = Sandbox.create()
    assert other.kill() is True
    assert not other.is_running()
    assert Sandbox.kill(other.sandbox_id) is False


def test_pause_and_connect_resume_with_memory(sbx):
    sbx.commands.run("echo kept > /home/user/kept")
    sleeper = sbx.commands.run("sleep 1000", background=True)
    sbx.pause()
    assert not sbx.is_running()
    again = Sandbox.connect(sbx.sandbox_id)
    assert again.is_running()
    assert again.files.read("/home/user/kept") == "kept\n"
    pids = [p.pid for p in again.commands.list()]
    assert sleeper.pid in pids


def test_a_kill_mid_command_is_reported_as_a_kill():
    sandbox = Sandbox.create()
    handle = sandbox.commands.run("sleep 30", background=True)
    assert sandbox.kill() is True
    with pytest.raises(Exception) as info:
        handle.wait()
    assert "killed or reached its end of life" in str(info.value), repr(info.value)
