#!/usr/bin/env bash
# Latency of commands.run("true"): this SDK and the official Python SDK, one after the
# other, against one e2b-local server (release builds).
#
#   benches/run.sh [ITERATIONS] [WARMUP] [CREATES]
#
# CREATES > 0 also times create → envd's first answer (is_running()) and
# create → first commands.run("true"), each over that many sandboxes (this SDK only).
#
# Needs bubblewrap and the Python venv with e2b==2.45.1 (`make venvs`); PYTHON overrides
# the interpreter (default .venv/compat/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

ITERATIONS="${1:-300}"
WARMUP="${2:-20}"
CREATES="${3:-0}"
PYTHON="${PYTHON:-.venv/compat/bin/python}"
PORT="${E2B_BENCH_PORT:-3999}"
KEY="e2b_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

cargo build --release --locked -q -p e2b-local --bin e2b-local
cargo build --release --locked -q -p e2b-benches --bin commands-run

DATA="$(mktemp -d)"
target/release/e2b-local serve --listen "127.0.0.1:${PORT}" --api-key "${KEY}" \
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

target/release/commands-run "${ITERATIONS}" "${WARMUP}" "${CREATES}"
"${PYTHON}" benches/python/commands_run.py "${ITERATIONS}" "${WARMUP}"
