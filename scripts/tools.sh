#!/usr/bin/env bash
# Installs the project's pinned tools: a Python virtual environment (.venv)
# with the AWS emulator and the template checkers, and, with --browser,
# Debian's Chromium for the browser tests. Safe to run again: it only does
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements 2>/dev/null)" != "$want" ]; then
  echo "==> installing Python tools into .venv (ministack, cfn-lint, checkov)"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
  echo "$want" > .venv/.requirements
fi

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing Chromium from Debian's packages (browser tests)"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
