// Package controllers holds thin reconcilers: they read the objects, call the internal packages that
// do the work, and publish the outcome as status, conditions and events.
package controllers

import (
	"context"
	"errors"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/connect"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/textutil"
)

// Field indexes used to find the objects affected by a change.
const (
	indexSourceSecrets    = "spec.secrets"    // DirectorySource → Secret names it reads
	indexSourceConfigMaps = "spec.configMaps" // DirectorySource → ConfigMap names it reads
	indexTargetSecrets    = "spec.secrets"    // SyncTarget → Secret names it reads
	indexTargetConfigMaps = "spec.configMaps" // SyncTarget → ConfigMap names it reads
	indexTargetSource     = "spec.sourceRef"
	indexTargetMappings   = "spec.mappingRefs"
)

// namespacedResolver reads Secret and ConfigMap keys of one namespace, uncached so that the manager
// does not hold every Secret of the cluster in memory.
type namespacedResolver struct {
	reader    client.Reader
	namespace string
}

func (r namespacedResolver) SecretKey(ctx context.Context, name, key string) ([]byte, error) {
	var s corev1.Secret
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: r.namespace, Name: name}, &s); err != nil {
		return nil, notFoundMessage(err)
	}
	v, ok := s.Data[key]
	if !ok {
		return nil, connect.ErrKeyNotFound
	}
	return v, nil
}

func (r namespacedResolver) ConfigMapKey(ctx context.Context, name, key string) ([]byte, error) {
	var cm corev1.ConfigMap
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: r.namespace, Name: name}, &cm); err != nil {
		return nil, notFoundMessage(err)
	}
	if v, ok := cm.Data[key]; ok {
		return []byte(v), nil
	}
	if v, ok := cm.BinaryData[key]; ok {
		return v, nil
	}
	return nil, connect.ErrKeyNotFound
}

func notFoundMessage(err error) error {
	if apierrors.IsNotFound(err) {
		return connect.ErrObjectNotFound
	}
	return err
}

// refErrorReason tells a missing Secret, a missing ConfigMap and a missing key apart.
func refErrorReason(err error) string {
	var re *connect.RefError
	switch {
	case !errors.As(err, &re):
		return v1.ReasonInvalidConfig
	case re.KeyMissing():
		return v1.ReasonKeyNotFound
	case re.Kind == "ConfigMap":
		return v1.ReasonConfigMapNotFound
	}
	return v1.ReasonSecretNotFound
}

// setCondition sets a condition with the object's generation.
func setCondition(conds *[]metav1.Condition, gen int64, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: truncate(oneLine(msg), 1024), ObservedGeneration: gen,
	})
}

// truncate shortens text for status and events; oneLine keeps it on one line.
var truncate, oneLine = textutil.Truncate, textutil.OneLine

// problemsForStatus converts the first max problems for a status report.
func problemsForStatus(problems []model.Problem, max int) []v1.UserProblem {
	if len(problems) > max {
		problems = problems[:max]
	}
	out := make([]v1.UserProblem, 0, len(problems))
	for _, p := range problems {
		out = append(out, v1.UserProblem{Subject: truncate(p.Subject, 256), Reason: string(p.Reason), Message: truncate(p.Message, 512)})
	}
	return out
}

// sameCondition reports whether condition typ has the same status and reason in both lists.
func sameCondition(a, b []metav1.Condition, typ string) bool {
	ca, cb := meta.FindStatusCondition(a, typ), meta.FindStatusCondition(b, typ)
	if ca == nil || cb == nil {
		return ca == cb
	}
	return ca.Status == cb.Status && ca.Reason == cb.Reason
}

func sortSuspended(list []v1.SuspendedUser) {
	sort.Slice(list, func(i, j int) bool { return list[i].ExternalID < list[j].ExternalID })
}
