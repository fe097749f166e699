#!/usr/bin/env bash
# Install bubblewrap (the sandbox isolation e2b-local uses) when it is missing.
# Idempotent; as root it uses apt-get, otherwise sudo if it needs no password.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  run() { "$@"; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run() { sudo "$@"; }
else
  echo "bubblewrap is missing and this user cannot install packages." >&2
  echo "Install it with: sudo apt-get install bubblewrap   (or your distribution's equivalent)" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "bubblewrap is missing and apt-get is not available; install the 'bubblewrap' package." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
run apt-get install -y --no-install-recommends bubblewrap >/dev/null 2>&1 \
  || { run apt-get update >/dev/null && run apt-get install -y --no-install-recommends bubblewrap >/dev/null; }
bwrap --version
