"""Latency of `commands.run("true")` with the official Python SDK (e2b==2.45.1).

    python commands_run.py [ITERATIONS] [WARMUP]    (defaults: 300, 20)

Reads the server from the environment like the SDK does (E2B_API_KEY, E2B_API_URL,
E2B_SANDBOX_URL, E2B_DOMAIN). One sandbox; WARMUP untimed runs, then ITERATIONS timed
runs one after another. Prints one JSON line with the percentiles in milliseconds, then
one for `is_running()` (the floor of an envd call), the same shape as the Rust
`commands-run` binary.
"""

import json
import math
import sys
import time
from importlib.metadata import version

from e2b import Sandbox


def percentile(sorted_samples, p):
    rank = math.ceil(p / 100.0 * len(sorted_samples))
    index = min(max(rank, 1), len(sorted_samples)) - 1
    return sorted_samples[index] * 1000.0


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    if iterations < 1:
        raise SystemExit("ITERATIONS must be at least 1")

    sandbox = Sandbox.create(timeout=600)
    try:
        for _ in range(warmup):
            sandbox.commands.run("true")
        run = []
        for _ in range(iterations):
            started = time.perf_counter()
            sandbox.commands.run("true")
            run.append(time.perf_counter() - started)
        health = []
        for _ in range(iterations):
            started = time.perf_counter()
            if not sandbox.is_running():
                raise SystemExit("the sandbox stopped")
            health.append(time.perf_counter() - started)
    finally:
        sandbox.kill()

    report('commands.run("true")', run)
    report("is_running()", health)


def report(op, samples):
    samples = sorted(samples)
    print(
        json.dumps(
            {
                "sdk": f"e2b-python {version('e2b')}",
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
