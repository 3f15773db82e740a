#!/usr/bin/env bash
# Installs what skiff needs on a Debian machine, only when something is missing:
# OS packages (apt-get update first) and the npm dependencies (npm ci when node_modules is stale).
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package providing it
declare -A need=(
  [python3]=python3
  [make]=make
  [g++]=g++
  [curl]=curl
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
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
