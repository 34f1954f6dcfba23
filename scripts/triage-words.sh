#!/usr/bin/env bash
# Adds to shared/triage/distinct_words.txt the frequent real words that the
# triage rules would take for a typo of one of their words. Run it after
# adding words to shared/triage/rules.yaml; review the diff (a word you want
# to match as a typo must not be listed). Uses wordfreq (PyPI, pinned) for
# the 40,000 most frequent English and Spanish words, in a venv of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/wordfreq
if [ ! -x "$venv/bin/python" ]; then
  echo "==> installing wordfreq 3.1.1 into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check wordfreq==3.1.1
fi
list=$(mktemp)
trap 'rm -f "$list"' EXIT
"$venv/bin/python" -c "
from wordfreq import top_n_list
print('\n'.join(sorted(set(top_n_list('en', 40000)) | set(top_n_list('es', 40000)))))" > "$list"
file=shared/triage/distinct_words.txt
for round in 1 2 3; do
  new=$(go run ./scripts/triagewords < "$list")
  if [ -z "$new" ]; then
    echo "==> $file is complete ($(grep -vc '^#' "$file") words)"
    exit 0
  fi
  echo "==> adding $(echo "$new" | wc -l) words to $file"
  { grep '^#' "$file"; { grep -v '^#' "$file"; echo "$new"; } | sort -u; } > "$file.new"
  mv "$file.new" "$file"
done
