#!/usr/bin/env bash
# Installs what the tests and the demo need besides Go: OpenLDAP's slapd and a Samba AD domain
# controller (Debian packages) and the SCIMMY test server's npm packages. Safe to run again: it skips
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
