#!/usr/bin/env bash
# Sets up a fresh machine and runs every test (unit and integration). Integration tests that need
# root and network namespaces run when they are available and skip, saying why, when not.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
