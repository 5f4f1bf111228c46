{{/* Generated from config/rbac/role.yaml by 'make manifests'; do not edit. */}}
{{- define "directory-sync-operator.managerRules" -}}
rules:
- apiGroups:
  - ""
  resources:
  - configmaps
  verbs:
  - create
  - delete
  - get
  - list
  - watch
- apiGroups:
  - ""
  resources:
  - secrets
  verbs:
  - get
  - list
  - watch
- apiGroups:
  - ""
  - events.k8s.io
  resources:
  - events
  verbs:
  - create
  - patch
- apiGroups:
  - sync.directorysync.io
  resources:
  - directorysources
  - mappingrules
  - synctargets
  verbs:
  - get
  - list
  - patch
  - update
  - watch
- apiGroups:
  - sync.directorysync.io
  resources:
  - directorysources/status
  - mappingrules/status
  - synctargets/status
  verbs:
  - get
  - patch
  - update
- apiGroups:
  - sync.directorysync.io
  resources:
  - synctargets/finalizers
  verbs:
  - update
{{- end }}
