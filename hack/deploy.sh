#!/usr/bin/env bash
# deploy.sh OVERLAY IMAGE: renders OVERLAY with the manager image IMAGE (hack/render.sh, no tracked
# file is edited) and applies it; nothing is applied when rendering fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KUBECTL=${KUBECTL:-kubectl}
command -v "${KUBECTL}" >/dev/null || { echo "deploy: ${KUBECTL} not found" >&2; exit 1; }
manifests="$(mktemp "${TMPDIR:-/tmp}/dirsync-deploy.XXXXXX")"
trap 'rm -f "${manifests}"' EXIT
KUSTOMIZE="${KUSTOMIZE:-${KUBECTL} kustomize}" "${ROOT}/hack/render.sh" "${1:?usage: deploy.sh OVERLAY IMAGE}" "${2:?usage: deploy.sh OVERLAY IMAGE}" > "${manifests}"
# Server-side apply: the CRDs are too large for the last-applied-configuration annotation over time.
"${KUBECTL}" apply --server-side --force-conflicts --field-manager=directory-sync-deploy -f "${manifests}"
