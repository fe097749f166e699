#!/usr/bin/env bash
# make demo: start a local E2B-compatible server, run the quickstart example
# against it with the SDK's ordinary environment variables, stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
step() { printf '\n==> %s\n' "$*"; }

step "checking prerequisites (bubblewrap, slirp4netns)"
scripts/install-isolation.sh

step "building e2b-local and the quickstart example"
$CARGO build --quiet -p e2b-local --bin e2b-local
$CARGO build --quiet -p e2b-examples --example quickstart

data_dir=$(mktemp -d)
log="$data_dir/server.log"
env_file="$data_dir/env"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data_dir"
}
trap cleanup EXIT

step "starting e2b-local (data in $data_dir)"
"$TARGET_DIR/debug/e2b-local" serve --listen 127.0.0.1:0 --data-dir "$data_dir/data" >"$env_file" 2>"$log" &
server_pid=$!

# The server prints its environment (E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY,
# E2B_DOMAIN, E2B_VOLUME_API_URL) once it is listening.
for _ in $(seq 1 300); do
  if [ "$(grep -c '^E2B_' "$env_file" 2>/dev/null)" -ge 5 ]; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "e2b-local exited early; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ "$(grep -c '^E2B_' "$env_file")" -lt 5 ]; then
  echo "e2b-local did not start within 30 s; its log:" >&2
  cat "$log" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
sed 's/^E2B_API_KEY=.*/E2B_API_KEY=e2b_… (hidden)/' "$env_file" | sed 's/^/    /'

step "running the quickstart against it"
"$TARGET_DIR/debug/examples/quickstart"

step "stopping e2b-local"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""

cat <<'TXT'

Done. What happened:
  1. bubblewrap and slirp4netns were checked (and installed if they were missing);
  2. e2b-local, an E2B-compatible server, ran on a loopback port;
  3. the quickstart created a sandbox through the E2B control-plane API, ran commands in it
     through envd (streaming their output) and killed it — the same calls it makes against
     the E2B cloud when E2B_API_KEY and no E2B_API_URL are set;
  4. the server was stopped and its data removed.

Next: `cargo run -p e2b-local -- serve` keeps a server running; export what it prints and use
any E2B SDK (this one, or the official Python and JavaScript SDKs) against it.
TXT
