#!/usr/bin/env bash
# Browser tests drive Debian's Chromium. Install it when missing and we are root (CI is);
# never download a browser build of Playwright's own.
set -uo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  [ -x /usr/bin/chromium ] && exit 0
fi
if [ -n "${CI:-}" ]; then echo "Chromium is required on CI and could not be installed" >&2; exit 1; fi
echo "Chromium not found: browser tests will be skipped (apt-get install chromium to run them)."
