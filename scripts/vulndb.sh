#!/usr/bin/env bash
# Builds the Go vulnerability database govulncheck reads offline
# (.tools/vulndb, the v1 layout vuln.go.dev serves), from the OSV files of
# the golang.org/x/vulndb module at a pinned version, with that module's own
# indexdb command. The module comes from the Go module proxy, so this works
# where vuln.go.dev cannot be reached.
#
#   scripts/vulndb.sh           build it if missing or of another version
#   scripts/vulndb.sh update    pin the newest version of the database, then build
set -euo pipefail
cd "$(dirname "$0")/.."
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

if [ "${1:-}" = "update" ]; then
  latest=$(go list -m -json golang.org/x/vulndb@latest | sed -n 's/.*"Version": "\(.*\)".*/\1/p')
  sed -i "s/^VULNDB_VERSION=.*/VULNDB_VERSION=$latest/" "$0"
  echo "==> pinned golang.org/x/vulndb@$latest (commit scripts/vulndb.sh)"
  VULNDB_VERSION=$latest
fi

out=.tools/vulndb
if [ -f "$out/index/db.json" ] && [ "$(cat "$out/.version" 2>/dev/null)" = "$VULNDB_VERSION" ]; then
  exit 0
fi
echo "==> building the Go vulnerability database (golang.org/x/vulndb@$VULNDB_VERSION) into $out"
dir=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$dir/data/osv" ] || { echo "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv"; exit 1; }
rm -rf "$out.tmp" && mkdir -p .tools
GOFLAGS=-mod=mod go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$dir/data/osv" -out "$out.tmp"
echo "$VULNDB_VERSION" > "$out.tmp/.version"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "    $(ls "$out/ID" | grep -c '\.json$') advisories"
