#!/usr/bin/env bash
# Fails when the repository tracks a build output: a file over 1 MB or an
# executable binary (ELF, Mach-O, PE). The repository holds source only.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  size=$(stat -c %s "$f")
  if [ "$size" -gt 1048576 ]; then
    echo "tracked file over 1 MB: $f ($size bytes)"; bad=1
  fi
  magic=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
  case "$magic" in
    7f454c46|cffaedfe|cefaedfe|feedfacf|feedface|4d5a*)
      echo "tracked executable binary: $f"; bad=1 ;;
  esac
done < <(git ls-files -z)
if [ "$bad" -ne 0 ]; then
  echo "the repository holds source only: git rm --cached these and build into bin/"
  exit 1
fi
echo "    no build outputs or files over 1 MB tracked"
