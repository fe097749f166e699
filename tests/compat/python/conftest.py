"""Starts one e2b-local server for the session and points the official SDK at it."""

import os
import pathlib
import queue
import re
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
# E2B_VOLUME_API_URL: the volume content API is on the same listener; the SDK would
# otherwise look for it at https://api.<E2B_DOMAIN>.
ENV_KEYS = ("E2B_API_URL", "E2B_SANDBOX_URL", "E2B_API_KEY", "E2B_VOLUME_API_URL")


def _binary() -> str:
    explicit = os.environ.get("E2B_LOCAL_BIN")
    if explicit:
        return explicit
    path = ROOT / "target" / "debug" / "e2b-local"
    if not path.exists():
        pytest.exit(f"{path} is missing: run `cargo build -p e2b-local` first", returncode=2)
    return str(path)


def _read_environment(proc: subprocess.Popen, deadline: float) -> dict:
    """Collect KEY=VALUE lines the server prints at start, until all are known.

    Lines are read on a helper thread: a buffered pipe can hold several lines
    at once, which a readiness check on the descriptor would not see."""
    lines: "queue.Queue[str]" = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    found: dict = {}
    seen = []
    while not all(k in found for k in ENV_KEYS):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(
                "e2b-local did not print its environment in time:\n" + "".join(seen)
            )
        try:
            line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"e2b-local exited with {proc.returncode} before it was ready:\n"
                    + "".join(seen)
                )
            continue
        seen.append(line)
        m = re.search(r"\b(E2B_[A-Z_]+)=(\S+)", line)
        if m:
            found[m.group(1)] = m.group(2).strip("'\"")
    return found


@pytest.fixture(scope="session", autouse=True)
def e2b_local(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("e2b-local-data")
    proc = subprocess.Popen(
        [_binary(), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=open(data_dir / "server.log", "w"),
        text=True,
    )
    try:
        env = _read_environment(proc, time.monotonic() + 30)
        saved = {k: os.environ.get(k) for k in ENV_KEYS}
        os.environ.update(env)
        yield env
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
