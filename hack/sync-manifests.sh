#!/usr/bin/env bash
# sync-manifests.sh: copies what controller-gen generates into the places that must not drift from
# it (run by `make manifests`, checked by `make verify-generated`):
#   config/rbac/role.yaml       -> config/namespaced/watch-namespace/role.yaml (the same rules as a Role)
#                               -> the Helm chart's templates/_rules.tpl
#   config/crd/bases/*.yaml     -> the Helm chart's crds/
#   config/prometheus/rules.yaml -> config/prometheus/prometheus_rule.yaml (a PrometheusRule)
#                               -> the Helm chart's files/prometheus-rules.yaml
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="${ROOT}/config/helm/directory-sync-operator"
cd "${ROOT}"

# The rules block of the generated ClusterRole (everything from "rules:" on).
rules="$(sed -n '/^rules:/,$p' config/rbac/role.yaml)"

{
  echo "# Generated from config/rbac/role.yaml by 'make manifests'; do not edit."
  echo "apiVersion: rbac.authorization.k8s.io/v1"
  echo "kind: Role"
  echo "metadata:"
  echo "  name: manager-role"
  echo "${rules}"
  cat <<'YAML'
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: manager-rolebinding
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: manager-role
subjects:
- kind: ServiceAccount
  name: controller-manager
  namespace: directory-sync-system
YAML
} > config/namespaced/watch-namespace/role.yaml

# The rule file's groups, without its leading comment, for the PrometheusRule spec.
groups=""
[[ ! -f config/prometheus/rules.yaml ]] || groups="$(sed -n '/^groups:/,$p' config/prometheus/rules.yaml)"
[[ -z "${groups}" ]] || {
  echo "# Generated from rules.yaml by 'make manifests'; do not edit."
  echo "apiVersion: monitoring.coreos.com/v1"
  echo "kind: PrometheusRule"
  echo "metadata:"
  echo "  name: alerts"
  echo "  namespace: system"
  echo "spec:"
  echo "${groups}" | sed 's/^/  /'
} > config/prometheus/prometheus_rule.yaml

if [[ -d "${CHART}" ]]; then
  mkdir -p "${CHART}/files"
  [[ -z "${groups}" ]] || echo "${groups}" > "${CHART}/files/prometheus-rules.yaml"
  mkdir -p "${CHART}/crds"
  rm -f "${CHART}"/crds/*.yaml
  cp config/crd/bases/*.yaml "${CHART}/crds/"
  {
    echo "{{/* Generated from config/rbac/role.yaml by 'make manifests'; do not edit. */}}"
    echo '{{- define "directory-sync-operator.managerRules" -}}'
    echo "${rules}"
    echo '{{- end }}'
  } > "${CHART}/templates/_rules.tpl"
fi
