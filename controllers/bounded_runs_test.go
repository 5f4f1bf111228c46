package controllers_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// hangingServer accepts connections and never answers: a hostile or wedged HTTP endpoint. Its
// connections are closed when the test ends.
func hangingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// Spec timeouts have maxima, so a spec cannot ask the operator to wait on one server for hours.
func TestE2ETimeoutsHaveMaxima(t *testing.T) {
	requireSuite(t)
	ns := newNamespace(t, "maxima")
	long := &metav1.Duration{Duration: time.Hour}
	for name, obj := range map[string]client.Object{
		"hr-timeout": &v1.DirectorySource{ObjectMeta: metav1.ObjectMeta{Name: "hr"}, Spec: v1.DirectorySourceSpec{HR: &v1.HRSource{
			Format: "CSV", IDColumn: "id", HTTP: &v1.HTTPRecordSource{URL: "http://127.0.0.1:1/x", Timeout: long}}}},
		"hr-max-bytes": &v1.DirectorySource{ObjectMeta: metav1.ObjectMeta{Name: "hr"}, Spec: v1.DirectorySourceSpec{HR: &v1.HRSource{
			Format: "CSV", IDColumn: "id", HTTP: &v1.HTTPRecordSource{URL: "http://127.0.0.1:1/x", MaxBytes: 1 << 30}}}},
		"ldap-timeout": &v1.DirectorySource{ObjectMeta: metav1.ObjectMeta{Name: "ldap"}, Spec: v1.DirectorySourceSpec{LDAP: &v1.LDAPSource{
			URL: "ldap://127.0.0.1:1", BindSecretRef: v1.BindSecretReference{Name: "b"}, BaseDN: "dc=x", Timeout: long}}},
		"scim-timeout": &v1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: v1.SyncTargetSpec{
			SourceRef: v1.LocalObjectReference{Name: "s"}, MappingRefs: []v1.LocalObjectReference{{Name: "m"}},
			SCIM: &v1.SCIMTarget{URL: "http://127.0.0.1:1/scim", TokenSecretRef: &v1.SecretKeySelector{Name: "t", Key: "t"}, Timeout: long}}},
	} {
		obj.SetNamespace(ns)
		err := k8s.Create(context.Background(), obj)
		if err == nil || !(strings.Contains(err.Error(), "at most") || strings.Contains(err.Error(), "less than or equal")) {
			t.Errorf("%s: creating with a maximum exceeded: err = %v", name, err)
		}
	}
}

// Hanging SyncTargets, as many as the manager has workers, cannot starve a healthy one: each run
// is cut at its deadline, and the healthy SyncTarget still offboards a real leaver within bounds.
func TestE2EHangingTargetsDoNotStarveOthers(t *testing.T) {
	f := newFixture(t, "fair")
	hang := hangingServer(t)
	const hostile = 4 // the manager's default number of workers
	f.create(t, &v1.DirectorySource{
		ObjectMeta: metav1.ObjectMeta{Name: "hanging"},
		Spec: v1.DirectorySourceSpec{
			ProbeInterval: &metav1.Duration{Duration: time.Hour},
			HR: &v1.HRSource{Format: "CSV", IDColumn: "employeeId", HTTP: &v1.HTTPRecordSource{
				URL: hang + "/staff.csv", Timeout: &metav1.Duration{Duration: 5 * time.Minute}}},
		},
	})
	f.create(t, mappingRule("staff"))
	for i := range hostile {
		f.create(t, syncTarget(fmt.Sprintf("hanging-%d", i), f, func(s *v1.SyncTargetSpec) {
			s.SourceRef.Name = "hanging"
			s.SCIM.URL = fmt.Sprintf("%s/scim/%d", hang, i)
			s.SCIM.Timeout = &metav1.Duration{Duration: 5 * time.Minute}
			s.ExternalIDPrefix = fmt.Sprintf("hanging%d:", i)
		}))
	}
	// Let the hanging runs take every worker before the healthy SyncTarget appears.
	time.Sleep(2 * time.Second)
	f.create(t, f.directorySource("ldap"))
	start := time.Now()
	f.create(t, syncTarget("app", f, nil))

	// The suite caps a run's deadline at 30s: the healthy target gets a worker within one deadline.
	const bound = 30*time.Second + waitSync
	eventually(t, bound, func() error { return f.checkInitialSync(t) })
	t.Logf("initial sync of the healthy SyncTarget done after %s", time.Since(start).Round(time.Second))

	leaver := expectedUsers(f.ldap.Seed)[3].UID
	if err := f.ldap.DeleteUser(context.Background(), leaver); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	eventually(t, bound, func() error {
		if u, ok := f.user(t, leaver); !ok || u.Active {
			return fmt.Errorf("leaver %s not suspended: %+v (found %v)", leaver, u, ok)
		}
		return nil
	})
	t.Logf("leaver suspended after %s", time.Since(start).Round(time.Second))

	// The hanging runs were cut at their deadline and say so.
	for i := range hostile {
		eventually(t, bound, func() error {
			st := f.syncTarget(t, fmt.Sprintf("hanging-%d", i))
			c := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionSourceReachable)
			if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "deadline of 30s") {
				return fmt.Errorf("hanging-%d: %s", i, describeConds(st.Status.Conditions))
			}
			return nil
		})
	}
}
