#!/usr/bin/env bash
# Installs what is missing on a Debian machine with Node 20 (as root), builds Tapline, then
#   start   runs Tapline on this machine
#   test    runs the whole test suite
#   bench   runs the benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-start}"; shift || true

# System packages: the capture library, and the real peers and oracles the tests use.
runtime_pkgs=(libpcap-dev python3 make g++)
test_pkgs=(tshark tcpdump nginx-light dnsmasq-base dnsutils iproute2 curl jq procps time libcap2-bin tcpreplay netsniff-ng redis-server redis-tools hping3 util-linux-extra)
case "$what" in
  start) want=("${runtime_pkgs[@]}") ;;
  test|bench) want=("${runtime_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 start|test|bench" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Native addons (better-sqlite3, our libpcap binding) are built here from source, never downloaded.
  npm_config_build_from_source=true npm ci --no-audit --no-fund >&2
fi
npm run build --silent >&2

case "$what" in
  start) exec node bin/tapline.js tap "$@" ;;
  test) exec node scripts/run-tests.js "$@" ;;
  bench) exec node dist/bench/run.js "$@" ;;
esac
