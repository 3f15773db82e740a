#!/usr/bin/env bash
# Builds the small native pieces the node agent runs: the pod sandbox's `pause` process (static, so it
# needs nothing from the image it runs in) and `skiff-stream`, the helper for terminals, attach and
# port-forward (native/stream-helper.c says why Node cannot do those itself). Skipped when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/native
mkdir -p "$out"
build() { # build SOURCE OUTPUT
  if [ -x "$out/$2" ] && [ ! "native/$1" -nt "$out/$2" ]; then return; fi
  if ! command -v gcc >/dev/null 2>&1; then
    echo "skiff: gcc is missing: cannot build $2 (apt-get install gcc libc6-dev)" >&2
    exit 1
  fi
  gcc -Os -static -Wall -Wextra -Werror -o "$out/$2.tmp" "native/$1"
  strip "$out/$2.tmp"
  mv "$out/$2.tmp" "$out/$2"
}
build pause.c pause
build stream-helper.c skiff-stream
