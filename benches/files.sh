#!/usr/bin/env bash
# Upload and download throughput and peak memory: this SDK and the official Python SDK,
# the same file, one after the other, against one e2b-local server (release builds),
# each under /usr/bin/time -v.
#
#   benches/files.sh [MIB]    (default 1024)
#
# Needs bubblewrap and the Python venv with e2b==2.45.1 (`make venvs`); PYTHON overrides
# the interpreter (default .venv/compat/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

MIB="${1:-1024}"
PYTHON="${PYTHON:-.venv/compat/bin/python}"
PORT="${E2B_BENCH_PORT:-3998}"
KEY="e2b_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

cargo build --release --locked -q -p e2b-local --bin e2b-local
cargo build --release --locked -q -p e2b-benches --bin files-transfer

DATA="$(mktemp -d)"
FILE="$(mktemp)"
target/release/e2b-local serve --listen "127.0.0.1:${PORT}" --api-key "${KEY}" \
    --data-dir "${DATA}" >"${DATA}.log" 2>&1 &
SERVER=$!
trap 'kill "${SERVER}" 2>/dev/null; wait "${SERVER}" 2>/dev/null; rm -rf "${DATA}" "${DATA}.log" "${FILE}" "${FILE}.down"' EXIT
head -c "$((MIB * 1024 * 1024))" /dev/urandom >"${FILE}"
sync
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:${PORT}/health" >/dev/null 2>&1 && break
    sleep 0.1
done

export E2B_API_KEY="${KEY}"
export E2B_API_URL="http://127.0.0.1:${PORT}"
export E2B_SANDBOX_URL="http://127.0.0.1:${PORT}"
export E2B_DOMAIN="localhost:${PORT}"

peak() { grep -E "Maximum resident set size" "$1" | awk '{print "peak RSS: " $NF/1024 " MiB"}'; }
/usr/bin/time -v target/release/files-transfer "${FILE}" 2>"${DATA}.rs.time"
peak "${DATA}.rs.time"
/usr/bin/time -v "${PYTHON}" benches/python/files_transfer.py "${FILE}" 2>"${DATA}.py.time"
peak "${DATA}.py.time"
rm -f "${DATA}.rs.time" "${DATA}.py.time"
