#!/usr/bin/env bash
# The README's one command: set this machine up (apt packages and npm ci + build, via
# scripts/setup.sh; it asks for sudo when not root) and run the demo (`lpm demo`).
# Lab mode needs root for network namespaces; as a normal user the demo runs in sim mode.
# Extra arguments go to `lpm demo`, e.g.: bash scripts/demo.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npm run --silent demo -- "$@"
