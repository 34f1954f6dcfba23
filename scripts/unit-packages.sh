#!/usr/bin/env bash
# Lists the packages whose tests run without a local stack: every package
# with tests, except those whose tests import localstack/stack or
# localstack/stacktest (they start the emulator). make unit runs these.
set -euo pipefail
cd "$(dirname "$0")/.."
go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
  awk '{ emu = 0; for (i = 2; i <= NF; i++) if ($i ~ /\/localstack\/(stack|stacktest)$/) emu = 1; if (!emu && NF > 1) print $1 }'
