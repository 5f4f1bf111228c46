#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time each (default 10s). Crashers that Go finds
# are written to the package's testdata/fuzz and then replay as regression tests in `go test`.
set -euo pipefail
FUZZTIME="${1:-10s}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
while IFS=: read -r file name; do
  pkg="./$(dirname "${file}")"
  echo "fuzz: ${pkg} ${name} for ${FUZZTIME}"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="${FUZZTIME}" "${pkg}" || status=1
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . | sed -E 's/func //' | sort)
exit "${status}"
