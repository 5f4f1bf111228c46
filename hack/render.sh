#!/usr/bin/env bash
# render.sh OVERLAY IMAGE: prints the manifests of a kustomize overlay (config/default,
# config/with-webhook, config/namespaced) with the manager image set to IMAGE. The image is set in a
# generated overlay in a temporary directory, so no tracked file is edited. Uses `kubectl kustomize`
# (KUSTOMIZE may name another kustomize build command). Fails loudly when it cannot render.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
overlay=${1:?usage: render.sh OVERLAY IMAGE}
image=${2:?usage: render.sh OVERLAY IMAGE}
KUSTOMIZE=${KUSTOMIZE:-kubectl kustomize}
read -r -a kustomize_cmd <<<"${KUSTOMIZE}"
command -v "${kustomize_cmd[0]}" >/dev/null || { echo "render: ${kustomize_cmd[0]} not found (KUSTOMIZE=${KUSTOMIZE}); install kubectl" >&2; exit 1; }
[[ -f "${ROOT}/${overlay}/kustomization.yaml" ]] || { echo "render: ${overlay} is not a kustomize overlay" >&2; exit 1; }

# Split IMAGE into name and tag or digest (a registry port is not a tag: only a ':' after the last '/').
name=${image} tag="" digest=""
if [[ ${image} == *@* ]]; then
  name=${image%%@*} digest=${image#*@}
elif [[ ${image##*/} == *:* ]]; then
  name=${image%:*} tag=${image##*:}
fi
[[ -n ${name} ]] || { echo "render: bad image ${image}" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/dirsync-render.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
{
  echo "resources:"
  echo "- $(realpath --relative-to="${tmp}" "${ROOT}/${overlay}")" # kustomize refuses absolute paths
  echo "images:"
  echo "- name: directory-sync-operator" # the name config/manager gives the image
  echo "  newName: ${name}"
  if [[ -z ${digest} ]]; then echo "  newTag: \"${tag:-latest}\""; fi
  [[ -z ${digest} ]] || echo "  digest: ${digest}"
} > "${tmp}/kustomization.yaml"
"${kustomize_cmd[@]}" "${tmp}"
