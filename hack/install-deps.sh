#!/usr/bin/env bash
# Installs what the tests and the demo need besides Go: OpenLDAP's slapd (Debian packages) and the
# SCIMMY test server's npm packages. Safe to run again: it skips what is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ ! -x /usr/sbin/slapd || ! -x /usr/bin/ldapsearch ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "install-deps: installing slapd and ldap-utils" >&2
    # Debian's own slapd instance is not used; keep its service from starting (unless a
    # policy-rc.d is already in place, which is then left as it is).
    own_policy=false
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      own_policy=true
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null
    if [[ ${own_policy} == true ]]; then rm -f /usr/sbin/policy-rc.d; fi
  else
    echo "install-deps: slapd is missing; run: sudo apt-get install slapd ldap-utils" >&2
    exit 1
  fi
fi

SCIM_DIR="${ROOT}/test/scim-server"
if [[ ! -d "${SCIM_DIR}/node_modules" ]]; then
  command -v npm >/dev/null || { echo "install-deps: node and npm are needed for the SCIM test server" >&2; exit 1; }
  echo "install-deps: npm ci in test/scim-server" >&2
  npm ci --prefix "${SCIM_DIR}" --no-audit --no-fund --loglevel=error >/dev/null
fi
