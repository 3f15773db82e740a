#!/usr/bin/env bash
# Installs what skiff needs on a Debian machine, only when something is missing:
# OS packages (apt-get update first) and the npm dependencies (npm ci when node_modules is stale).
set -euo pipefail
cd "$(dirname "$0")/.."

# What must be on the machine -> the Debian package providing it. A path is checked as a file, a bare
# name as a command. Build tools for better-sqlite3 and the pause binary; the node agent's runtime
# (runc, conmon, CNI plugins, umoci, ip, iptables); what the tests build their images and registry with; and etcd,
# the HA datastore, which the store's tests, the etcd end-to-end tests and `npm run bench -- api --store etcd` start,
# with etcdctl, which `skiff etcd-snapshot restore` runs.
declare -A need=(
  [python3]=python3
  [make]=make
  [g++]=g++
  [gcc]=gcc
  [/usr/include/stdlib.h]=libc6-dev
  [curl]=curl
  [runc]=runc
  [conmon]=conmon
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [umoci]=umoci
  [ip]=iproute2
  [iptables]=iptables
  [nft]=nftables
  [conntrack]=conntrack
  [busybox]=busybox-static
  [nginx]=nginx-light
  [skopeo]=skopeo
  [docker-registry]=docker-registry
  [etcd]=etcd-server
  [etcdctl]=etcd-client
)
missing=()
for item in "${!need[@]}"; do
  if [[ "$item" == /* ]]; then [ -e "$item" ] && continue
  else command -v "$item" >/dev/null 2>&1 && continue
  fi
  missing+=("${need[$item]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "skiff: missing OS packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "skiff: installing OS packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "skiff: kubectl is not on PATH; the end-to-end tests drive the real kubectl" >&2
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "skiff: installing npm dependencies (better-sqlite3 may compile for about a minute)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
