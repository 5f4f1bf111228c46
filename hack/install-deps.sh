#!/usr/bin/env bash
# Installs what the tests and the demo need besides Go: OpenLDAP's slapd and a Samba AD domain
# controller (Debian packages), the SCIMMY test server's npm packages, and helm and promtool built
# from the Go module proxy at pinned versions into bin/ (the chart and alert-rule tests shell out to
# them). Safe to run again: it skips
# what is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the tests need: slapd (OpenLDAP tests) and the Samba AD DC (Active Directory tests,
# internal/testenv/samba; samba-ad-provision must be named with --no-install-recommends).
packages=()
[[ -x /usr/sbin/slapd && -x /usr/bin/ldapsearch ]] || packages+=(slapd ldap-utils)
[[ -x /usr/sbin/samba && -x /usr/bin/samba-tool && -x /usr/bin/ldbadd && -d /usr/share/samba/setup ]] ||
  packages+=(samba samba-ad-dc samba-ad-provision ldb-tools)
if (( ${#packages[@]} > 0 )); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "install-deps: installing ${packages[*]}" >&2
    # Debian's own slapd and samba services are not used; keep them from starting (unless a
    # policy-rc.d is already in place, which is then left as it is).
    own_policy=false
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      own_policy=true
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    if [[ ${own_policy} == true ]]; then rm -f /usr/sbin/policy-rc.d; fi
  else
    echo "install-deps: missing packages; run: sudo apt-get install --no-install-recommends ${packages[*]}" >&2
    exit 1
  fi
fi

SCIM_DIR="${ROOT}/test/scim-server"
if [[ ! -d "${SCIM_DIR}/node_modules" ]]; then
  command -v npm >/dev/null || { echo "install-deps: node and npm are needed for the SCIM test server" >&2; exit 1; }
  echo "install-deps: npm ci in test/scim-server" >&2
  npm ci --prefix "${SCIM_DIR}" --no-audit --no-fund --loglevel=error >/dev/null
fi

# Go tools, pinned, built once per machine into a cache keyed by version and copied into bin/.
# HELM_VERSION and PROMETHEUS_VERSION must match hack/tools.env (read by the Makefile and the tests).
# shellcheck source=tools.env
source "${ROOT}/hack/tools.env"
TOOLS_CACHE="${DIRSYNC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/directory-sync/tools}"

# go_tool NAME PACKAGE VERSION [BUILD_TAGS]: bin/NAME built from PACKAGE@VERSION.
go_tool() {
  local name=$1 pkg=$2 version=$3 tags=${4:-}
  local cached="${TOOLS_CACHE}/${name}-${version}/${name}"
  if [[ -x "${ROOT}/bin/${name}" && -f "${ROOT}/bin/.${name}-version" && $(<"${ROOT}/bin/.${name}-version") == "${version}" ]]; then
    return 0
  fi
  if [[ ! -x "${cached}" ]]; then
    echo "install-deps: building ${name} ${version} from the Go module proxy (minutes on 2 cores)" >&2
    local tmp; tmp="$(mktemp -d "${TMPDIR:-/tmp}/dirsync-tool.XXXXXX")"
    (cd "${tmp}" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="${tmp}/bin" \
      go install -trimpath -ldflags "-s -w" ${tags:+-tags "${tags}"} "${pkg}@${version}")
    mkdir -p "$(dirname "${cached}")"
    mv "${tmp}/bin/${name}" "${cached}"
    rm -rf "${tmp}"
  fi
  mkdir -p "${ROOT}/bin"
  cp "${cached}" "${ROOT}/bin/${name}"
  echo "${version}" > "${ROOT}/bin/.${name}-version"
}

go_tool helm helm.sh/helm/v3/cmd/helm "${HELM_VERSION}"
# remove_all_sd leaves out the service-discovery plugins promtool does not need for rule tests.
go_tool promtool github.com/prometheus/prometheus/cmd/promtool "${PROMETHEUS_VERSION}" remove_all_sd
