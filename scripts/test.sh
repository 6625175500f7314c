#!/usr/bin/env bash
# Sets up a fresh machine and runs every test (unit and integration). Integration tests that need
# root and network namespaces run when they are available and skip, saying why, when not.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Kubernetes binaries for the `lab up --kube` tests: the shared folder next to the repository,
# unless LPM_KUBE_BIN names another (with CI=true, tests fail instead of skipping without them).
if [ -z "${LPM_KUBE_BIN:-}" ] && [ -x ../shared/k8s/bin/kube-apiserver ]; then
  LPM_KUBE_BIN="$(cd ../shared/k8s/bin && pwd)"
  export LPM_KUBE_BIN
fi
npm test
