#!/usr/bin/env bash
# Install what e2b-local isolates sandboxes with, when it is missing:
#   bubblewrap   namespaces, mounts and seccomp for every sandbox
#   slirp4netns  a sandbox's own network stack with internet access (no host loopback)
#   uidmap       newuidmap/newgidmap, for user namespaces when the server is not root
#   e2fsprogs    mkfs.ext4, for every sandbox's own disk when the server is root
#   fuse-overlayfs  the writable root filesystems of an unprivileged server's sandboxes
# what the tests use as real peers:
#   dante-server a SOCKS5 proxy (the SDK's socks5:// support is tested through it)
#   docker-registry  the reference OCI registry (distribution v2), served on loopback
#                    by the image tests
#   skopeo       pushes the OCI layouts the image tests write into that registry
# and the language runtimes of the code interpreter's Java and R kernels (the
# Python, JavaScript and TypeScript kernels come with `make kernel-env`):
#   default-jre-headless   Java, for the jjava kernel
#   r-cran-irkernel        R with IRkernel
# Idempotent; as root it uses apt-get, otherwise sudo if it needs no password.
set -euo pipefail

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v slirp4netns >/dev/null 2>&1 || missing+=(slirp4netns)
command -v newuidmap >/dev/null 2>&1 || missing+=(uidmap)
required=${#missing[@]}
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.ext4 ] || [ -x /sbin/mkfs.ext4 ] || missing+=(e2fsprogs)
command -v fuse-overlayfs >/dev/null 2>&1 || missing+=(fuse-overlayfs)
command -v danted >/dev/null 2>&1 || [ -x /usr/sbin/danted ] || missing+=(dante-server)
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
[ -d /usr/lib/R/site-library/IRkernel ] || [ -d /usr/local/lib/R/site-library/IRkernel ] \
  || missing+=(r-cran-irkernel)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  run() { "$@"; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run() { sudo "$@"; }
elif [ "$required" -eq 0 ]; then
  # Only extras are missing: what a root server uses, and the Java and R kernels.
  echo "note: ${missing[*]} not installed (a root server's disks, an unprivileged server's writable roots, the SOCKS5 and image tests, the Java and R kernels)" >&2
  exit 0
else
  echo "missing: ${missing[*]}; this user cannot install packages." >&2
  echo "Install them with: sudo apt-get install ${missing[*]}   (or your distribution's equivalent)" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]}; apt-get is not available, install these packages by hand." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
run apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { run apt-get update >/dev/null && run apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
echo "installed: ${missing[*]}"
