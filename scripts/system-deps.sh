#!/usr/bin/env bash
# Debian packages the test suite starts for real: bubblewrap (grading sandbox), chromium
# (the real-browser test), postgresql (the shared gateway database), nodejs/npm for
# JupyterHub's proxy (configurable-http-proxy, from npm; the real-hub test). Installed with
# apt-get / npm when missing and we can.
set -euo pipefail
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
proxy=0
command -v configurable-http-proxy >/dev/null 2>&1 || proxy=1
[ ${#need[@]} -eq 0 ] && [ "$proxy" -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "system-deps: please install these Debian packages: ${need[*]} (and: npm install -g configurable-http-proxy)" >&2
  exit 1
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "system-deps: installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$proxy" -eq 1 ]; then
  echo "system-deps: installing configurable-http-proxy (npm)"
  $sudo npm install -g --silent configurable-http-proxy >/dev/null
fi
