#!/usr/bin/env bash
# Makes sure Debian's chromium is installed (apt-get, when missing and root) for the browser
# tests (tests/browser/), and prints its path on stdout. Prints nothing where that is
# impossible (not root, no apt-get): the browser tests then skip, saying why.
# Playwright drives this browser; it never downloads one of its own.
set -uo pipefail
log() { echo "chromium.sh: $*" >&2; }

find_chromium() {
  for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

if path=$(find_chromium); then echo "$path"; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing chromium with apt-get"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 \
    || { log "install failed; the browser tests will skip"; exit 0; }
  find_chromium || log "chromium installed but not found; the browser tests will skip"
else
  log "chromium is not installed and cannot be installed here (not root); the browser tests will skip"
fi
exit 0
