#!/usr/bin/env bash
# Writable root filesystems on release builds: create → first command for `base` and for
# an image template, the image's pull + unpack, a snapshot of a 200 MiB change.
#
#   benches/rootfs.sh [CREATES]      (default 30)
#
# Needs root (writable roots), bubblewrap, docker-registry and skopeo (`make deps`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p e2b-local --bin e2b-local
cargo build --release --locked -q -p e2b-benches --bin rootfs
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
E2B_LOCAL_BIN="$PWD/target/release/e2b-local" target/release/rootfs "${1:-30}"
