#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs unit and end-to-end tests.
# Arguments filter test files by path substring (e.g. `npm test -- store e2e/bad-input`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run build --silent
exec node scripts/run-tests.mjs "$@"
