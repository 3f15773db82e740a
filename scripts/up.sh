#!/usr/bin/env bash
# One command to a running cluster: installs what is missing, builds, starts `skiff server`.
# Extra arguments go to `skiff server` (e.g. --https-listen-port 7443 --data-dir /tmp/skiff).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run build --silent
exec node dist/src/cli/main.js server "$@"
