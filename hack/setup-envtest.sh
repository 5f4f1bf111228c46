#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy into bin/k8s/<version>/ for envtest.
# The usual setup-envtest download is not reachable here, so both are compiled from source.
# Skipped when the binaries are already present. Prints the assets directory on the last line.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ASSETS="${ROOT}/bin/k8s/${K8S_VERSION}"
# A machine-wide copy lets fresh clones (CI) on the same machine skip the build.
SHARED_CACHE="${DIRSYNC_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/directory-sync/k8s/${K8S_VERSION}}"

log() { echo "setup-envtest: $*" >&2; }

have_all() { [[ -x "$1/kube-apiserver" && -x "$1/etcd" ]]; }

if have_all "${ASSETS}"; then echo "${ASSETS}"; exit 0; fi
mkdir -p "${ASSETS}"
if have_all "${SHARED_CACHE}"; then
  cp "${SHARED_CACHE}/kube-apiserver" "${SHARED_CACHE}/etcd" "${ASSETS}/"
  log "copied binaries from ${SHARED_CACHE}"
  echo "${ASSETS}"; exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dirsync-envtest.XXXXXX")"
trap 'chmod -R u+w "${WORK}" 2>/dev/null; rm -rf "${WORK}"' EXIT

# copy_module MODULE VERSION DEST: copies a module's source out of the read-only module cache.
copy_module() {
  local dir
  dir="$(cd "${WORK}" && GOFLAGS=-mod=mod go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "${dir}" ]] || { log "could not download $1@$2"; exit 1; }
  cp -r "${dir}" "$3"
  chmod -R u+w "$3"
}

build_apiserver() {
  local src="${WORK}/kubernetes"
  log "building kube-apiserver v${K8S_VERSION} (several minutes on 2 cores)"
  copy_module k8s.io/kubernetes "v${K8S_VERSION}" "${src}"
  rm -rf "${src}/vendor" "${src}"/go.work*
  # Staging repos are published as k8s.io/X v0.<minor>.<patch>; use those instead of the local copies.
  local staging="0.${K8S_VERSION#*.}"
  sed -i -E "s#^([[:space:]]*k8s.io/[A-Za-z0-9._-]+) => \./staging/src/k8s.io/[A-Za-z0-9._-]+#\1 => \1 v${staging}#" "${src}/go.mod"
  sed -i -E "s#^(replace[[:space:]]+k8s.io/[A-Za-z0-9._-]+) => \./staging/src/(k8s.io/[A-Za-z0-9._-]+)#\1 => \2 v${staging}#" "${src}/go.mod"
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X ${pkg}.gitVersion=v${K8S_VERSION} -X ${pkg}.gitMajor=${K8S_VERSION%%.*}"
  ldflags+=" -X ${pkg}.gitMinor=$(echo "${K8S_VERSION}" | cut -d. -f2) -X ${pkg}.gitTreeState=clean"
  (cd "${src}" && GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 go build -ldflags "${ldflags}" -o "${ASSETS}/kube-apiserver" ./cmd/kube-apiserver)
}

build_etcd() {
  local src="${WORK}/etcd-server"
  log "building etcd v${ETCD_VERSION}"
  copy_module go.etcd.io/etcd/server/v3 "v${ETCD_VERSION}" "${src}"
  # The published module points its siblings at ../; use the released versions instead.
  sed -i -E '/=>[[:space:]]*\.\.\//d' "${src}/go.mod"
  (cd "${src}" && GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 go build -ldflags "-s -w" -o "${ASSETS}/etcd" .)
}

[[ -x "${ASSETS}/etcd" ]] || build_etcd
[[ -x "${ASSETS}/kube-apiserver" ]] || build_apiserver
"${ASSETS}/kube-apiserver" --version >&2
"${ASSETS}/etcd" --version | head -1 >&2
mkdir -p "${SHARED_CACHE}" && cp "${ASSETS}/kube-apiserver" "${ASSETS}/etcd" "${SHARED_CACHE}/" || true
echo "${ASSETS}"
