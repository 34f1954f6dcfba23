#!/usr/bin/env bash
# Runs govulncheck (pinned in go.mod as a tool) against the Go vulnerability
# database: GOVULNDB if set, else the offline copy scripts/vulndb.sh builds
# from the pinned golang.org/x/vulndb module (.tools/vulndb). A reachable
# vulnerability fails the build. When no database can be had, it says so
# plainly instead of passing silently: the scan did not run.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${GOVULNDB:-}" ]; then
  if bash scripts/vulndb.sh; then
    db="file://$PWD/.tools/vulndb"
  else
    db="https://vuln.go.dev"
  fi
else
  db="$GOVULNDB"
fi
echo "    database $db ($(cat .tools/vulndb/.version 2>/dev/null || echo remote)), $(go version | cut -d' ' -f3)"
out=$(go tool govulncheck -db "$db" ./... 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "fetching vulnerabilities" <<<"$out"; then
  echo "govulncheck: NOT RUN — the vulnerability database at $db cannot be reached from this machine."
  echo "             Set GOVULNDB=file:///path/to/a/mirror to scan offline."
  exit 0
fi
echo "$out"
exit $rc
