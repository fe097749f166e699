#!/usr/bin/env bash
# `make bench`: this SDK, the official Python and JS SDKs and the floor (a minimal hyper
# client; curl for file transfers), one after the other per scenario, against one release
# e2b-local server. Prints the table of medians and ratios and writes target/bench/
# bench.json, bench.md and bench.png (benches/report.py).
#
#   benches/bench.sh
#
# Needs what `make test` installs: bubblewrap, the SDK venvs (.venv/compat-latest,
# .venv/compat-ci-latest), the npm packages (tests/compat/js/node_modules) and the kernel
# environment (.venv/kernel, which also draws the chart). Environment:
#   BENCH_MIB (1024)         size of the transferred file
#   BENCH_STDOUT_MIB (256)   size of the stdout stream
#   BENCH_ITERATIONS (100), BENCH_WARMUP (10)   calls of the latency scenarios
#   BENCH_REPEATS (3)        runs of the transfer, stdout and create scenarios (the
#                            clients take turns, one run each)
#   BENCH_SDK_REPEATS (1)    the same for the official SDKs' downloads and stdout, which
#                            take 30 s and more per GiB (they upload BENCH_REPEATS times)
#   BENCH_CONCURRENT_REPEATS (1)   runs of the 1000 concurrent commands (each client)
#   BENCH_CI_CREATES (15)    code-interpreter creates of create_ci_first, each once the
#                            server's warm pool is full again (create_ci_cold: the same
#                            against a second server without a pool); a refill takes seconds
#   BENCH_SDK_CI_CREATES (5) the same for the official SDKs
#   BENCH_CLIENTS ("ours python js floor")   which clients run
#   E2B_BENCH_PORT (3996)    the server's port
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO="${CARGO:-cargo}"
TARGET="${CARGO_TARGET_DIR:-target}"
OUT="${TARGET}/bench"
MIB="${BENCH_MIB:-1024}"
STDOUT_MIB="${BENCH_STDOUT_MIB:-256}"
CLIENTS="${BENCH_CLIENTS:-ours python js floor}"
PORT="${E2B_BENCH_PORT:-3996}"
PYTHON="${BENCH_PYTHON:-.venv/compat-latest/bin/python}"
PYTHON_CI="${BENCH_PYTHON_CI:-.venv/compat-ci-latest/bin/python}"
REPORT_PYTHON="${BENCH_REPORT_PYTHON:-.venv/kernel/bin/python}"
KEY="e2b_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export E2B_LOCAL_KERNEL_ENV="${E2B_LOCAL_KERNEL_ENV:-$PWD/.venv/kernel}"

"${CARGO}" build --release --locked -q -p e2b-local --bin e2b-local -p e2b-benches --bin suite

mkdir -p "${OUT}"
DATA="$(mktemp -d)"
FILE="${DATA}.bin"
SAMPLES="${OUT}/samples.jsonl"
: >"${SAMPLES}"
"${TARGET}/release/e2b-local" serve --listen "127.0.0.1:${PORT}" --api-key "${KEY}" \
    --data-dir "${DATA}" >"${OUT}/server.log" 2>&1 &
SERVER=$!
COLD_SERVER=""
trap 'kill "${SERVER}" ${COLD_SERVER} 2>/dev/null; wait "${SERVER}" ${COLD_SERVER} 2>/dev/null; rm -rf "${DATA}" "${FILE}" "${FILE}.down"' EXIT
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

load() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_BEFORE="$(load)"
STARTED="$(date +%s)"
FAILED=""

# One client's run of one scenario; its JSON lines go to the samples. A failing run is
# reported at the end and leaves its cell empty.
measure() {
    local client="$1" scenario="$2" arg="${3:-}"
    local cmd
    case "${client}" in
        ours) cmd=("${TARGET}/release/suite" ours) ;;
        floor) cmd=("${TARGET}/release/suite" floor) ;;
        python) case "${scenario}" in
                    run_code | create_ci_first) cmd=("${PYTHON_CI}" benches/python/suite.py) ;;
                    *) cmd=("${PYTHON}" benches/python/suite.py) ;;
                esac ;;
        js) cmd=(node benches/js/suite.mjs) ;;
    esac
    local repeats="${BENCH_REPEATS:-3}"
    if [ -n "${ONE:-}" ]; then
        repeats=1
    elif [ "${scenario}" = concurrent ]; then
        repeats="${BENCH_CONCURRENT_REPEATS:-1}"
    fi
    local creates="${BENCH_CI_CREATES:-15}"
    case "${client}" in
        python | js) creates="${BENCH_SDK_CI_CREATES:-5}" ;;
    esac
    local started=$SECONDS
    if BENCH_CI_CREATES="${creates}" BENCH_REPEATS="${repeats}" "${cmd[@]}" "${scenario}" ${arg:+"${arg}"} >>"${SAMPLES}"; then
        printf '  %-7s %-13s %3ss\n' "${client}" "${scenario}" "$((SECONDS - started))" >&2
    else
        FAILED="${FAILED} ${client}:${scenario}"
        printf '  %-7s %-13s FAILED\n' "${client}" "${scenario}" >&2
    fi
}

echo "bench: ${MIB} MiB file, ${STDOUT_MIB} MiB stdout, clients: ${CLIENTS}; load ${LOAD_BEFORE}" >&2
# The latency scenarios take many samples in one run per client. The long ones run one
# repeat at a time, the clients taking turns, so that the load of a shared machine
# drifting during the run weighs on every client alike. The 1000 concurrent commands come
# last: they leave the machine loaded for a while.
for scenario in run_true read_small run_code create_first; do
    for client in ${CLIENTS}; do
        measure "${client}" "${scenario}"
    done
done
# create → run_code of the code interpreter: against this server's warm pool (serve keeps
# one code-interpreter-v1 sandbox warm), then against a second server without one.
for client in ${CLIENTS}; do
    [ "${client}" = floor ] || measure "${client}" create_ci_first
done
COLD_PORT=$((PORT + 1))
COLD_DATA="$(mktemp -d)"
"${TARGET}/release/e2b-local" serve --listen "127.0.0.1:${COLD_PORT}" --api-key "${KEY}" \
    --data-dir "${COLD_DATA}" --warm code-interpreter-v1=0 >"${OUT}/server-cold.log" 2>&1 &
COLD_SERVER=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:${COLD_PORT}/health" >/dev/null 2>&1 && break
    sleep 0.1
done
for client in ${CLIENTS}; do
    [ "${client}" = floor ] && continue
    E2B_API_URL="http://127.0.0.1:${COLD_PORT}" E2B_SANDBOX_URL="http://127.0.0.1:${COLD_PORT}" \
        E2B_DOMAIN="localhost:${COLD_PORT}" measure "${client}" create_ci_first cold
done
kill "${COLD_SERVER}" 2>/dev/null || true
wait "${COLD_SERVER}" 2>/dev/null || true
COLD_SERVER=""
rm -rf "${COLD_DATA}"
has() { [[ " ${CLIENTS} " == *" $1 "* ]]; }
for round in $(seq "${BENCH_REPEATS:-3}"); do
    for client in ${CLIENTS}; do
        # The official SDKs upload in every round; they download (half a minute and
        # more per GiB) in the first BENCH_SDK_REPEATS only.
        upload_only=""
        case "${client}" in
            python | js) [ "${round}" -le "${BENCH_SDK_REPEATS:-1}" ] || upload_only=1 ;;
        esac
        BENCH_UPLOAD_ONLY="${upload_only}" ONE=1 measure "${client}" transfer "${FILE}"
        if [ "${client}" = ours ]; then ONE=1 measure ours transfer_ci "${FILE}"; fi
    done
done
for round in $(seq "${BENCH_REPEATS:-3}"); do
    for client in ${CLIENTS}; do
        case "${client}" in
            python | js) [ "${round}" -le "${BENCH_SDK_REPEATS:-1}" ] || continue ;;
        esac
        ONE=1 measure "${client}" stdout "${STDOUT_MIB}"
    done
done
for client in ${CLIENTS}; do
    measure "${client}" concurrent
done
LOAD_AFTER="$(load)"

cat >"${OUT}/meta.json" <<EOF
{"command": "make bench", "load_before": "${LOAD_BEFORE}", "load_after": "${LOAD_AFTER}",
 "cpus": $(nproc), "seconds": $(($(date +%s) - STARTED)), "file_mib": ${MIB},
 "stdout_mib": ${STDOUT_MIB}, "kernel": "$(uname -r)", "date": "$(date -u +%FT%TZ)"}
EOF
echo >&2
"${REPORT_PYTHON}" benches/report.py "${SAMPLES}" "${OUT}/meta.json" "${OUT}"
echo "uptime: $(uptime)"
if [ -n "${FAILED}" ]; then
    echo "runs that failed:${FAILED} (see ${OUT}/server.log)" >&2
    exit 1
fi
