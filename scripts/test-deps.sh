#!/usr/bin/env bash
# Installs, or names, the outside programs `make test` drives: network
# namespaces and packet drops (iproute2, iptables) for the partition tests,
# a headless browser (chromium) for the Playground, and the real peers of
# the ingest protocols (prometheus, mosquitto). As root with apt it installs
# what is missing; otherwise it stops with one line saying what to install,
# or which DAKKIO_SKIP_* to set for the tests that have one.
set -euo pipefail

missing=()   # Debian packages
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

if [ "${DAKKIO_SKIP_NETNS:-}" != 1 ]; then
  have ip || missing+=(iproute2)
  have iptables || missing+=(iptables)
fi
if [ "${DAKKIO_SKIP_BROWSER:-}" != 1 ]; then
  have chromium || missing+=(chromium)
fi
have gcc || missing+=(gcc)   # the race detector needs cgo
# Extra programs a test package needs are listed in scripts/test-deps.list
# (command and Debian package, one pair a line).
list="$(dirname "$0")/test-deps.list"
if [ -f "$list" ]; then
  while read -r cmd pkg _; do
    case "$cmd" in ''|'#'*) continue ;; esac
    have "$cmd" || missing+=("$pkg")
  done < "$list"
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "make test: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "make test needs: ${missing[*]} (install them, run as root with apt-get to have them installed, or set DAKKIO_SKIP_BROWSER=1 / DAKKIO_SKIP_NETNS=1 for those tests)" >&2
exit 1
