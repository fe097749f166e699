#!/usr/bin/env bash
# Latency of run_code("1+1"): this SDK and the official Python code-interpreter package,
# one after the other, against one e2b-local server (release builds) with its kernel
# environment.
#
#   benches/run_code.sh [ITERATIONS] [WARMUP]
#
# Needs bubblewrap, the kernel environment (`make kernel-env`; E2B_LOCAL_KERNEL_ENV
# overrides it) and the Python venv with e2b-code-interpreter==2.9.1 (`make venvs`);
# PYTHON overrides the interpreter (default .venv/compat-ci/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

ITERATIONS="${1:-300}"
WARMUP="${2:-20}"
PYTHON="${PYTHON:-.venv/compat-ci/bin/python}"
PORT="${E2B_BENCH_PORT:-3997}"
KEY="e2b_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
TARGET="${CARGO_TARGET_DIR:-target}"
export E2B_LOCAL_KERNEL_ENV="${E2B_LOCAL_KERNEL_ENV:-$PWD/.venv/kernel}"

cargo build --release --locked -q -p e2b-local --bin e2b-local
cargo build --release --locked -q -p e2b-benches --bin run-code

DATA="$(mktemp -d)"
"${TARGET}/release/e2b-local" serve --listen "127.0.0.1:${PORT}" --api-key "${KEY}" \
    --data-dir "${DATA}" >"${DATA}.log" 2>&1 &
SERVER=$!
trap 'kill "${SERVER}" 2>/dev/null; wait "${SERVER}" 2>/dev/null; rm -rf "${DATA}" "${DATA}.log"' EXIT
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:${PORT}/health" >/dev/null 2>&1 && break
    sleep 0.1
done

export E2B_API_KEY="${KEY}"
export E2B_API_URL="http://127.0.0.1:${PORT}"
export E2B_SANDBOX_URL="http://127.0.0.1:${PORT}"
export E2B_DOMAIN="localhost:${PORT}"

"${TARGET}/release/run-code" "${ITERATIONS}" "${WARMUP}"
"${PYTHON}" benches/python/run_code.py "${ITERATIONS}" "${WARMUP}"
