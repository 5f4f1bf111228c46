package controllers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// hrServer serves an HR record over HTTP with an ETag and a required bearer token, and records
// what its clients asked for.
type hrServer struct {
	mu           sync.Mutex
	body, token  string
	conditional  int // requests carrying If-None-Match
	notModified  int // answered 304
	unauthorized int
	lastAuth     string
}

func (h *hrServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastAuth = r.Header.Get("Authorization")
	if h.lastAuth != "Bearer "+h.token {
		h.unauthorized++
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	sum := sha256.Sum256([]byte(h.body))
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		h.conditional++
		if inm == etag {
			h.notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("ETag", etag)
	_, _ = w.Write([]byte(h.body))
}

func (h *hrServer) set(change func(*hrServer)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	change(h)
}

func (h *hrServer) stats() (conditional, notModified int, lastAuth string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conditional, h.notModified, h.lastAuth
}

// hrRecord writes a CSV with the LDAP attribute names the fixture's MappingRule reads; each
// person's employee ID derives from the login, so it stays put when others leave.
func hrRecord(people ...[3]string) string {
	var b strings.Builder
	b.WriteString("employeeId,uid,mail,givenName,sn,telephoneNumber,title,departmentNumber\n")
	for _, p := range people {
		fmt.Fprintf(&b, "%s,%s,%s@example.com,%s,Tester,+1 555 0100,%s,%s\n", employeeID(p[0]), p[0], p[0], p[0], p[1], p[2])
	}
	return b.String()
}

func employeeID(login string) string { return "E-" + login }

// applyHR serves people as an HR record over loopback HTTP (bearer token "token-1" in the Secret
// "hr-token") and creates the DirectorySource "hr", the MappingRule "staff" and the SyncTarget "app"
// reading it.
func (f *fixture) applyHR(t *testing.T, people ...[3]string) *hrServer {
	t.Helper()
	hr := &hrServer{body: hrRecord(people...), token: "token-1"}
	srv := httptest.NewServer(hr) // loopback only
	t.Cleanup(srv.Close)
	f.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hr-token"}, StringData: map[string]string{"token": "token-1"}})
	f.create(t, &v1.DirectorySource{
		ObjectMeta: metav1.ObjectMeta{Name: "hr"},
		Spec: v1.DirectorySourceSpec{
			ProbeInterval: &metav1.Duration{Duration: time.Minute},
			HR: &v1.HRSource{Format: "CSV", IDColumn: "employeeId", HTTP: &v1.HTTPRecordSource{
				URL: srv.URL + "/staff.csv", BearerTokenSecretRef: &v1.SecretKeySelector{Name: "hr-token", Key: "token"},
			}},
		},
	})
	f.create(t, mappingRule("staff"))
	f.create(t, syncTarget("app", f, func(s *v1.SyncTargetSpec) { s.SourceRef.Name = "hr" }))
	return hr
}

func TestE2EHRRecordOverHTTP(t *testing.T) {
	f := newFixture(t, "hr-http")
	code := slapd.Departments[0]
	people := [][3]string{{"ann", "Buyer", code}, {"bob", "Driver", code}, {"cyd", "Planner", code}}
	hr := f.applyHR(t, people...)

	eventually(t, waitSync, func() error {
		users := f.users(t)
		for _, p := range people {
			u, ok := users[p[0]]
			if !ok || !u.Active || u.Title != p[1] || u.Department != departmentNames[code] || u.ExternalID != prefix+employeeID(p[0]) {
				return fmt.Errorf("user %s = %+v (ok %v)", p[0], u, ok)
			}
		}
		return nil
	})

	// Later runs of the same SyncTarget ask with If-None-Match and get 304, and write nothing.
	if err := f.scim.ResetRequestCounts(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitSync, func() error {
		if _, notModified, _ := hr.stats(); notModified < 2 {
			return fmt.Errorf("%d runs answered 304 Not Modified so far", notModified)
		}
		return nil
	})
	if n := f.writes(t); n != 0 {
		t.Fatalf("%d SCIM writes while the HR record did not change", n)
	}

	// A changed record is fetched in full: bob left, so he is suspended.
	hr.set(func(h *hrServer) { h.body = hrRecord(people[0], people[2]) })
	eventually(t, waitSync, func() error {
		if u, _ := f.user(t, "bob"); u.Active {
			st := f.syncTarget(t, "app")
			return fmt.Errorf("bob is still active; status: %s lastRun %+v plan %+v problems %+v", describeConds(st.Status.Conditions), st.Status.LastRun, st.Status.Plan, st.Status.Problems)
		}
		return nil
	})

	// A rotated token is used from the next run on: the kept source is rebuilt.
	hr.set(func(h *hrServer) { h.token = "token-2" })
	var secret corev1.Secret
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "hr-token"}, &secret); err != nil {
		t.Fatal(err)
	}
	update(t, &secret, func(s *corev1.Secret) { s.Data = map[string][]byte{"token": []byte("token-2")} })
	eventually(t, waitSync, func() error {
		st := f.syncTarget(t, "app")
		if _, _, auth := hr.stats(); auth != "Bearer token-2" {
			return fmt.Errorf("last request authorised with %q", auth)
		}
		return conditions(st.Status.Conditions, v1.ConditionReady, "True", v1.ReasonSucceeded, v1.ConditionSourceReachable, "True", v1.ReasonSucceeded)
	})
}
