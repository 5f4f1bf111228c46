package install_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/controllers"
)

// hack/deploy.sh (make deploy) applies the overlay with the requested image and leaves the tree
// clean; hack/undeploy.sh (make undeploy) removes everything without leaving a SyncTarget
// Terminating: the custom resources go first while the manager still runs.
func TestDeployAndUndeploy(t *testing.T) {
	c := startCluster(t)
	before := gitStatus(t)
	c.mustRun(t, "", filepath.Join(repoRoot, "hack", "deploy.sh"), "config/default", testImage)
	if after := gitStatus(t); after != before {
		t.Errorf("deploy changed tracked files:\n%s", after)
	}
	ctx := context.Background()
	var deploy appsv1.Deployment
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: operatorSA}, &deploy); err != nil {
		t.Fatal(err)
	}
	if img := deploy.Spec.Template.Spec.Containers[0].Image; img != testImage {
		t.Errorf("deployed image %s, want %s", img, testImage)
	}

	// A SyncTarget carrying the operator's finalizer (its run fails: nothing it refers to exists).
	c.createNamespace(t, "team-d")
	startManager(t, c.serviceAccountConfig(t, operatorNamespace, operatorSA), controllers.ManagerConfig{})
	st := &v1.SyncTarget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-d", Name: "app"},
		Spec: v1.SyncTargetSpec{
			SourceRef:   v1.LocalObjectReference{Name: "missing"},
			MappingRefs: []v1.LocalObjectReference{{Name: "missing"}},
			SCIM:        &v1.SCIMTarget{URL: "https://127.0.0.1:1/scim/v2", TokenSecretRef: &v1.SecretKeySelector{Name: "missing", Key: "token"}},
		},
	}
	if err := c.client.Create(ctx, st); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(st), st); err != nil {
			return err
		}
		if !controllerutil.ContainsFinalizer(st, "sync.directorysync.io/finalizer") {
			return fmt.Errorf("no finalizer yet: %v", st.Finalizers)
		}
		return nil
	})

	c.mustRun(t, "", filepath.Join(repoRoot, "hack", "undeploy.sh"), "config/default")
	if err := c.client.Get(ctx, client.ObjectKeyFromObject(st), st); !apierrors.IsNotFound(err) {
		t.Errorf("SyncTarget after undeploy: err %v, finalizers %v, deletion %v", err, st.Finalizers, st.DeletionTimestamp)
	}
	eventually(t, 60*time.Second, func() error {
		for _, name := range []string{"synctargets", "mappingrules", "directorysources"} {
			var crd apiextensionsv1.CustomResourceDefinition
			err := c.client.Get(ctx, client.ObjectKey{Name: name + ".sync.directorysync.io"}, &crd)
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("CRD %s still there (err %v, conditions %+v)", name, err, crd.Status.Conditions)
			}
		}
		return nil
	})
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: operatorSA}, &deploy); !apierrors.IsNotFound(err) {
		t.Errorf("manager Deployment after undeploy: %v", err)
	}
}
