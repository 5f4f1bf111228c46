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
  # Go's fuzzer sometimes ends a clean run with "context deadline exceeded" and no crasher (its
  # coordinator timing out at shutdown); such a run is tried once more. A written crasher always fails.
  for try in 1 2; do
    out="$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="${FUZZTIME}" "${pkg}" 2>&1)" && { echo "${out}" | tail -n 3; break; }
    echo "${out}"
    if [[ ${try} == 1 ]] && grep -q 'context deadline exceeded' <<<"${out}" && ! grep -q 'Failing input written' <<<"${out}"; then
      echo "fuzz: ${name} stopped on the fuzzer's own deadline without a crasher; trying once more"
      continue
    fi
    status=1
    break
  done
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . | sed -E 's/func //' | sort)
exit "${status}"
