#!/usr/bin/env bash
# Known-vulnerability audit of the pinned dependencies (constraints.txt) with pip-audit.
# Fails on any known vulnerability. Where the vulnerability service cannot be reached (a
# registry mirror without PyPI's JSON API, no route to osv.dev), says so loudly: then
# nothing was audited, and that is not reported as a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(.venv/bin/pip-audit --progress-spinner off -r constraints.txt 2>&1)
rc=$?
echo "$out" | grep -v "could not be audited" | tail -n 30
skipped=$(echo "$out" | grep -c "could not be audited")
pinned=$(grep -c "==" constraints.txt)
if [ "$rc" -ne 0 ]; then  # pip-audit exits 1 when it finds a known vulnerability
  echo "audit: FAILED (exit $rc): see above"; exit 1
fi
if [ "$skipped" -gt 0 ]; then
  echo "audit: NOT AUDITED: $skipped of $pinned pinned packages could not be looked up" \
       "(the vulnerability service is unreachable from this machine)"
else
  echo "audit: $pinned pinned packages, no known vulnerabilities"
fi
