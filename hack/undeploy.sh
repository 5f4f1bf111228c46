#!/usr/bin/env bash
# undeploy.sh OVERLAY: removes the operator installed from OVERLAY in a safe order. First the
# SyncTargets, MappingRules and DirectorySources of every namespace are deleted while the manager
# still runs, so that it releases their finalizers (deleting a SyncTarget never touches target
# users); only then the manager, RBAC and CRDs. Deleting everything at once would leave SyncTargets
# Terminating with their finalizer and the CRD stuck.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
overlay=${1:?usage: undeploy.sh OVERLAY}
KUBECTL=${KUBECTL:-kubectl}
TIMEOUT=${UNDEPLOY_TIMEOUT:-120s}
command -v "${KUBECTL}" >/dev/null || { echo "undeploy: ${KUBECTL} not found" >&2; exit 1; }

manifests="$(mktemp "${TMPDIR:-/tmp}/dirsync-undeploy.XXXXXX")"
trap 'rm -f "${manifests}"' EXIT
KUSTOMIZE="${KUSTOMIZE:-${KUBECTL} kustomize}" "${ROOT}/hack/render.sh" "${overlay}" undeploy > "${manifests}"

for kind in synctargets mappingrules directorysources; do
  crd="${kind}.sync.directorysync.io"
  if "${KUBECTL}" get crd "${crd}" >/dev/null 2>&1; then
    echo "undeploy: deleting all ${kind} (the manager releases their finalizers)" >&2
    if ! "${KUBECTL}" delete "${crd}" --all --all-namespaces --wait --timeout="${TIMEOUT}"; then
      echo "undeploy: ${kind} not gone within ${TIMEOUT}; is the manager running? Nothing else was deleted." >&2
      echo "undeploy: see: ${KUBECTL} get ${crd} -A -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name,FINALIZERS:.metadata.finalizers" >&2
      exit 1
    fi
  fi
done
# Not waiting: the Namespace finishes terminating on its own.
"${KUBECTL}" delete -f "${manifests}" --ignore-not-found --wait=false
