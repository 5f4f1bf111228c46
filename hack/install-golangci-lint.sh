#!/usr/bin/env bash
# Builds golangci-lint VERSION from the Go module proxy into DEST (bin/golangci-lint-VERSION). The build
# takes minutes on 2 cores, so a machine-wide copy lets fresh clones (CI) on the same machine skip it.
set -euo pipefail
VERSION="${1:?usage: install-golangci-lint.sh VERSION DEST}"
DEST="${2:?usage: install-golangci-lint.sh VERSION DEST}"
SHARED="${DIRSYNC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/directory-sync/tools}/golangci-lint-${VERSION}"

log() { echo "install-golangci-lint: $*" >&2; }

[[ -x "${DEST}" ]] && exit 0
mkdir -p "$(dirname "${DEST}")"
if [[ -x "${SHARED}" ]]; then
  cp "${SHARED}" "${DEST}"
  log "copied ${SHARED}"
  exit 0
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dirsync-golangci.XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT
log "building golangci-lint ${VERSION} from the Go module proxy (a few minutes on 2 cores)"
(cd "${WORK}" && GOBIN="${WORK}" GOFLAGS=-mod=mod go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${VERSION}")
mkdir -p "$(dirname "${SHARED}")"
cp "${WORK}/golangci-lint" "${SHARED}.tmp" && mv "${SHARED}.tmp" "${SHARED}"
cp "${WORK}/golangci-lint" "${DEST}"
