#!/usr/bin/env bash
# Make this machine ready for an unprivileged e2b-local server with writable
# root filesystems (see crates/e2b-local/src/sandbox/rootless.rs), and give the
# tests an unprivileged account to run one as:
#   - /dev/fuse and /dev/net/tun usable by every user (mode 0666, as Debian's
#     own device rules make them; some VMs leave them 0600);
#   - the account `e2b-rootless` (no login, no home) with a subordinate uid and
#     gid range of 65536 ids, which newuidmap/newgidmap map into its servers'
#     user namespaces.
# Idempotent. Needs root; as another user it only says what is missing.
set -euo pipefail

user=e2b-rootless
range_start=1100000000
range_end=$((range_start + 65535))

if [ "$(id -u)" -ne 0 ]; then
  id "$user" >/dev/null 2>&1 || echo "note: no $user account (run make deps as root to create it); the unprivileged-server tests are skipped" >&2
  exit 0
fi

for dev in /dev/fuse /dev/net/tun; do
  if [ -c "$dev" ] && [ "$(stat -c %a "$dev")" != 666 ]; then
    chmod 0666 "$dev"
  fi
done

if ! id "$user" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
fi
if ! grep -q "^$user:" /etc/subuid 2>/dev/null; then
  usermod --add-subuids "$range_start-$range_end" "$user"
fi
if ! grep -q "^$user:" /etc/subgid 2>/dev/null; then
  usermod --add-subgids "$range_start-$range_end" "$user"
fi
