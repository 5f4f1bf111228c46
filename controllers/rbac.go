package controllers

// The manager's permissions, least privilege: it reads Secrets and ConfigMaps it is pointed at,
// owns the three kinds and their status, writes Events, and uses a Lease for leader election.

// +kubebuilder:rbac:groups=sync.directorysync.io,resources=directorysources;mappingrules;synctargets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=sync.directorysync.io,resources=directorysources/status;mappingrules/status;synctargets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sync.directorysync.io,resources=synctargets/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
