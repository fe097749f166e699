"""Latency of `run_code("1+1")` with the official code-interpreter package
(e2b-code-interpreter==2.9.1).

    python run_code.py [ITERATIONS] [WARMUP]    (defaults: 300, 20)

Reads the server from the environment like the SDK does (E2B_API_KEY, E2B_API_URL,
E2B_SANDBOX_URL, E2B_DOMAIN). One sandbox; the same JSON lines as the Rust `run-code`
binary: creation of a `base` and of the code-interpreter sandbox, first run_code (kernel warm-up), the percentiles of ITERATIONS timed
runs after WARMUP untimed ones, then `is_running()` (the floor of a sandbox call).
"""

import json
import math
import sys
import time
from importlib.metadata import version

from e2b_code_interpreter import Sandbox


def percentile(sorted_samples, p):
    rank = math.ceil(p / 100.0 * len(sorted_samples))
    index = min(max(rank, 1), len(sorted_samples)) - 1
    return sorted_samples[index] * 1000.0


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    if iterations < 1:
        raise SystemExit("ITERATIONS must be at least 1")

    started = time.perf_counter()
    base = Sandbox.create(template="base", timeout=60)
    created_base = time.perf_counter() - started
    base.kill()
    started = time.perf_counter()
    sandbox = Sandbox.create(timeout=600)
    created = time.perf_counter() - started
    try:
        started = time.perf_counter()
        first = sandbox.run_code("1+1")
        first_run = time.perf_counter() - started
        if first.text != "2":
            raise SystemExit(f"unexpected result {first}")
        for _ in range(warmup):
            sandbox.run_code("1+1")
        run = []
        for _ in range(iterations):
            started = time.perf_counter()
            execution = sandbox.run_code("1+1")
            run.append(time.perf_counter() - started)
            if execution.text != "2":
                raise SystemExit("unexpected result")
        health = []
        for _ in range(iterations):
            started = time.perf_counter()
            if not sandbox.is_running():
                raise SystemExit("the sandbox stopped")
            health.append(time.perf_counter() - started)
    finally:
        sandbox.kill()

    report("create(base)", [created_base])
    report("create(code-interpreter-v1)", [created])
    report("first run_code (kernel warm-up)", [first_run])
    report('run_code("1+1")', run)
    report("is_running()", health)


def report(op, samples):
    samples = sorted(samples)
    print(
        json.dumps(
            {
                "sdk": f"e2b-code-interpreter-python {version('e2b-code-interpreter')}",
                "op": op,
                "iterations": len(samples),
                "p50_ms": round(percentile(samples, 50), 3),
                "p90_ms": round(percentile(samples, 90), 3),
                "p99_ms": round(percentile(samples, 99), 3),
                "mean_ms": round(sum(samples) / len(samples) * 1000.0, 3),
                "min_ms": round(samples[0] * 1000.0, 3),
                "max_ms": round(samples[-1] * 1000.0, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
