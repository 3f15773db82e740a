#!/usr/bin/env bash
# Builds the small native pieces the node agent runs: the pod sandbox's `pause` process (static, so it
# needs nothing from the image it runs in). Skipped when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/native
mkdir -p "$out"
if [ ! -x "$out/pause" ] || [ native/pause.c -nt "$out/pause" ]; then
  if ! command -v gcc >/dev/null 2>&1; then
    echo "skiff: gcc is missing: cannot build the pod sandbox's pause binary (apt-get install gcc libc6-dev)" >&2
    exit 1
  fi
  gcc -Os -static -Wall -Werror -o "$out/pause.tmp" native/pause.c
  strip "$out/pause.tmp"
  mv "$out/pause.tmp" "$out/pause"
fi
