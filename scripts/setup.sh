#!/usr/bin/env bash
# Installs everything lpm needs on a fresh Debian/Ubuntu machine: the system tools it runs
# (ping, iperf3, ip, ethtool, Prometheus, Chromium for the browser test) and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# etcd-server: etcd for `lab up --kube` and the tests against a real kube-apiserver (kube-apiserver
# itself comes from the official kubernetes-server tarball: --kube-bin DIR or $LPM_KUBE_BIN);
# openssl makes the lab cluster's certificates and service-account keys.
PACKAGES=(iputils-ping iperf3 iproute2 ethtool prometheus procps chromium etcd-server openssl)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
