"""The official Python SDKs' side of `make bench` (benches/bench.sh): the scenarios of the
Rust `suite` binary, timed the same way, against the server named by the environment
(E2B_API_KEY, E2B_API_URL, E2B_SANDBOX_URL, E2B_DOMAIN).

    python suite.py SCENARIO [ARG]

Scenarios: run_true, read_small, run_code (needs e2b-code-interpreter), transfer FILE
(1 upload and 1 download of FILE per repeat; uploads only with BENCH_UPLOAD_ONLY set),
stdout MIB, concurrent, create_first,
create_ci_first [cold] (needs e2b-code-interpreter: create, then run_code("1+1"), each
create once the server's warm pools are full; `cold` names the samples create_ci_cold).
Prints one JSON line per measured operation: {"client", "scenario", "unit", "samples",
...}, the shape benches/report.py reads. BENCH_ITERATIONS, BENCH_WARMUP and
BENCH_REPEATS change the sample counts.
"""

import asyncio
import json
import os
import resource
import sys
import time
from importlib.metadata import version

CLIENT = "python"
ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "100"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "10"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
UPLOAD_ONLY = bool(os.environ.get("BENCH_UPLOAD_ONLY"))
SANDBOXES = 10
COMMANDS = 1000


def emit(scenario, unit, samples, **extra):
    line = {"client": CLIENT, "version": version("e2b"), "scenario": scenario,
            "unit": unit, "samples": samples}
    line.update(extra)
    print(json.dumps(line), flush=True)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed_ms(call, iterations=ITERATIONS, warmup=WARMUP):
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def run_true():
    from e2b import Sandbox

    sandbox = Sandbox.create(timeout=600)
    try:
        emit("run_true", "ms", timed_ms(lambda: sandbox.commands.run("true")))
    finally:
        sandbox.kill()


def read_small():
    from e2b import Sandbox

    sandbox = Sandbox.create(timeout=600)
    try:
        sandbox.files.write("/tmp/small.txt", "x" * 1024)
        emit("read_small", "ms", timed_ms(lambda: sandbox.files.read("/tmp/small.txt")))
    finally:
        sandbox.kill()


def run_code():
    from e2b_code_interpreter import Sandbox

    sandbox = Sandbox.create(timeout=600)
    try:
        def once():
            execution = sandbox.run_code("1+1")
            if execution.text != "2":
                raise SystemExit(f"run_code('1+1') gave {execution.text!r}")
        samples = timed_ms(once)
        line = {"client": CLIENT, "version": version("e2b-code-interpreter"),
                "scenario": "run_code", "unit": "ms", "samples": samples}
        print(json.dumps(line), flush=True)
    finally:
        sandbox.kill()


def transfer(path):
    from e2b import Sandbox

    size = os.path.getsize(path)
    sandbox = Sandbox.create(timeout=600)
    up, down = [], []
    try:
        for _ in range(REPEATS):
            os.sync()  # no transfer is timed while another's pages are written back
            started = time.perf_counter()
            with open(path, "rb") as f:
                sandbox.files.write("/tmp/bench.bin", f)
            up.append(time.perf_counter() - started)

            if UPLOAD_ONLY:
                continue
            os.sync()
            started = time.perf_counter()
            copied = 0
            with open(path + ".down", "wb") as out:
                for chunk in sandbox.files.read("/tmp/bench.bin", format="stream"):
                    out.write(chunk)
                    copied += len(chunk)
            down.append(time.perf_counter() - started)
            os.remove(path + ".down")
            if copied != size:
                raise SystemExit(f"downloaded {copied} of {size} bytes")
    finally:
        sandbox.kill()
    rss = peak_rss_mib()
    emit("upload", "s", up, bytes=size, peak_rss_mib=rss)
    if down:
        emit("download", "s", down, bytes=size, peak_rss_mib=rss)


def stdout(mib):
    from e2b import Sandbox

    size = mib * 1024 * 1024
    command = f"head -c {size} /dev/zero | tr '\\0' x"
    sandbox = Sandbox.create(timeout=600)
    samples = []
    try:
        for _ in range(REPEATS):
            started = time.perf_counter()
            result = sandbox.commands.run(command, timeout=0)
            samples.append(time.perf_counter() - started)
            if len(result.stdout) != size:
                raise SystemExit(f"stdout had {len(result.stdout)} of {size} bytes")
    finally:
        sandbox.kill()
    emit("stdout", "s", samples, bytes=size)


async def concurrent_async():
    from e2b import AsyncSandbox

    sandboxes = await asyncio.gather(*(AsyncSandbox.create(timeout=600) for _ in range(SANDBOXES)))
    samples = []
    try:
        # Warm each sandbox's connections once, untimed.
        await asyncio.gather(*(s.commands.run("true") for s in sandboxes))
        for _ in range(REPEATS):
            started = time.perf_counter()
            await asyncio.gather(*(sandboxes[i % SANDBOXES].commands.run("true")
                                   for i in range(COMMANDS)))
            samples.append(time.perf_counter() - started)
    finally:
        await asyncio.gather(*(s.kill() for s in sandboxes))
    emit("concurrent", "s", samples, commands=COMMANDS, sandboxes=SANDBOXES)


def create_first():
    from e2b import Sandbox

    samples = []
    for _ in range(REPEATS * 3):
        started = time.perf_counter()
        sandbox = Sandbox.create(timeout=600)
        sandbox.commands.run("true")
        samples.append((time.perf_counter() - started) * 1000.0)
        sandbox.kill()
    emit("create_first", "ms", samples)


def warm_pools():
    """The server's warm pools (e2b-local's GET /local/warm-pools)."""
    import urllib.request

    request = urllib.request.Request(os.environ["E2B_API_URL"] + "/local/warm-pools",
                                     headers={"X-API-Key": os.environ["E2B_API_KEY"]})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wait_warm_pools_full(patience=120.0):
    deadline = time.monotonic() + patience
    while True:
        pools = warm_pools()
        if all(p["ready"] == p["size"] for p in pools):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the warm pools did not refill within {patience} s: {pools}")
        time.sleep(0.02)


def create_ci_first(arg):
    from e2b_code_interpreter import Sandbox

    creates = int(os.environ.get("BENCH_CI_CREATES", "15"))
    samples, warm = [], 0
    for _ in range(creates):
        wait_warm_pools_full()
        before = sum(p["handedOut"] for p in warm_pools())
        started = time.perf_counter()
        sandbox = Sandbox.create(timeout=600)
        execution = sandbox.run_code("1+1")
        samples.append((time.perf_counter() - started) * 1000.0)
        if execution.text != "2":
            raise SystemExit(f"run_code('1+1') gave {execution.text!r}")
        if sum(p["handedOut"] for p in warm_pools()) > before:
            warm += 1
        sandbox.kill()
    line = {"client": CLIENT, "version": version("e2b-code-interpreter"),
            "scenario": "create_ci_cold" if arg == "cold" else "create_ci_first",
            "unit": "ms", "samples": samples, "served_warm": warm}
    print(json.dumps(line), flush=True)


def main():
    scenario = sys.argv[1]
    arg = sys.argv[2] if len(sys.argv) > 2 else None
    if scenario == "run_true":
        run_true()
    elif scenario == "read_small":
        read_small()
    elif scenario == "run_code":
        run_code()
    elif scenario == "transfer":
        transfer(arg)
    elif scenario == "stdout":
        stdout(int(arg))
    elif scenario == "concurrent":
        asyncio.run(concurrent_async())
    elif scenario == "create_first":
        create_first()
    elif scenario == "create_ci_first":
        create_ci_first(arg)
    else:
        raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    main()
