package controllers_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

// hostileServer answers HR and SCIM requests in every bad way it can, echoing what it was sent:
// the Authorization header and the canary. Its Authorization headers are recorded.
type hostileServer struct {
	canary string
	other  string // another origin (another port) redirects go to
	mu     sync.Mutex
	auths  []string
}

func (h *hostileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	h.mu.Lock()
	h.auths = append(h.auths, auth)
	h.mu.Unlock()
	echo := fmt.Sprintf("%s: you sent %q", h.canary, auth)
	raw := func(answer string) { // a malformed or hand-written answer, straight on the wire
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString(answer)
		_ = buf.Flush()
	}
	path := r.URL.Path
	switch {
	case strings.HasSuffix(path, "/token-as-header.csv"): // the example: a token where the header should be
		_, _ = w.Write([]byte("Authorization: " + auth + " " + h.canary + "\n1,2\n"))
	case strings.Contains(path, "/reason-phrase"):
		raw("HTTP/1.1 401 " + echo + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	case strings.Contains(path, "/malformed"):
		raw("HTTP/1.1 " + h.canary + " " + echo + "\r\n\r\n") // net/http quotes the bad status code
	case strings.HasSuffix(path, "/bad.json"):
		_, _ = w.Write([]byte(`[{"employeeId": "1", "notes": ` + h.canary + `}]`))
	case strings.HasSuffix(path, "/cut.csv"):
		_, _ = w.Write([]byte("employeeId,uid,notes\n1,a,x\n2,\"" + h.canary + " " + auth))
	case strings.HasSuffix(path, "/duplicate-columns.csv"):
		_, _ = w.Write([]byte("employeeId," + h.canary + "," + h.canary + "\n1,2,3\n"))
	case strings.Contains(path, "/redirect") && h.other != "":
		http.Redirect(w, r, h.other+path, http.StatusFound)
	case strings.Contains(path, "/scim400/"):
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":%q,"detail":%q}`, h.canary, echo)
	case strings.Contains(path, "/scim401/"):
		http.Error(w, echo, http.StatusUnauthorized)
	default: // 500 with the echo in the body
		http.Error(w, echo, http.StatusInternalServerError)
	}
}

func (h *hostileServer) authorizations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.auths...)
}

// TestE2ECanaryNeverLeaks puts one canary in every Secret and every fetched body, drives every
// misconfiguration and hostile answer it can, and then looks for the canary in the status of
// every object, in every event, in everything the manager logged (at every verbosity) and in the
// metrics: it must appear nowhere.
func TestE2ECanaryNeverLeaks(t *testing.T) {
	f := newFixture(t, "canary")
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	canary := "CNRY" + hex.EncodeToString(rnd[:])

	// A SCIM server whose token holds the canary: the healthy path must not leak it either.
	canaryScim, err := scimserver.Start(context.Background(), scimserver.Options{Token: "tok-" + canary})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(canaryScim.Stop)

	other := &hostileServer{canary: canary}
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)
	hostile := &hostileServer{canary: canary, other: otherSrv.URL}
	srv := httptest.NewServer(hostile)
	t.Cleanup(srv.Close)
	tlsSrv := httptest.NewTLSServer(hostile) // its certificate is trusted by nobody
	t.Cleanup(tlsSrv.Close)

	code := slapd.Departments[0]
	good := "employeeId,uid,mail,givenName,sn,telephoneNumber,title,departmentNumber,notes\n"
	for _, p := range []string{"ann", "bob", "cyd"} {
		good += fmt.Sprintf("E-%s,%s,%s@example.com,%s,Tester,+1 555 0100,Buyer,%s,%s\n", p, p, p, p, code, canary)
	}
	// A person whose department is not in the lookup table: a problem about their data, in status.
	good += fmt.Sprintf("E-dan,dan,dan@example.com,dan,Tester,+1 555 0100,Buyer,%s,x\n", canary)
	goodHR := &hrServer{body: good, token: "hr-" + canary}
	goodSrv := httptest.NewServer(goodHR)
	t.Cleanup(goodSrv.Close)

	secret := func(name string, data map[string]string) {
		f.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: data})
	}
	secret("ldap-bad-password", map[string]string{"username": slapd.ServiceDN, "password": "pw-" + canary})
	secret("ldap-bad-dn", map[string]string{"username": "cn=" + canary + "," + slapd.BaseDN, "password": "pw-" + canary})
	secret("hr-token", map[string]string{"token": "hr-" + canary})
	secret("hr-record", map[string]string{"record": "Bearer " + canary + "\n"}) // a token read as an HR record
	secret("scim-canary", map[string]string{"token": "tok-" + canary})
	secret("scim-wrong", map[string]string{"token": "wrong-" + canary})
	secret("bad-ca", map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----\n" + canary + "\n-----END CERTIFICATE-----\n"})
	badCA := &v1.TLSConfig{CA: &v1.CABundleSource{SecretRef: &v1.SecretKeySelector{Name: "bad-ca", Key: "ca.crt"}}}

	ldapSource := func(name, bind string) {
		ds := f.directorySource(name)
		ds.Spec.LDAP.BindSecretRef.Name = bind
		f.create(t, ds)
	}
	ldapSource("ldap", "ldap-bind")
	ldapSource("ldap-bad-password", "ldap-bad-password")
	ldapSource("ldap-bad-dn", "ldap-bad-dn")
	withBadCA := f.directorySource("ldap-bad-ca")
	withBadCA.Spec.LDAP.StartTLS, withBadCA.Spec.LDAP.TLS = true, badCA
	f.create(t, withBadCA)
	httpSource := func(name, url string) {
		f.create(t, &v1.DirectorySource{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.DirectorySourceSpec{
			ProbeInterval: &metav1.Duration{Duration: 5 * time.Second},
			HR: &v1.HRSource{Format: "CSV", IDColumn: "employeeId", HTTP: &v1.HTTPRecordSource{
				URL: url, BearerTokenSecretRef: &v1.SecretKeySelector{Name: "hr-token", Key: "token"},
				Timeout: &metav1.Duration{Duration: 10 * time.Second}}},
		}})
	}
	httpSource("hr-good", goodSrv.URL+"/staff.csv")
	httpSource("hr-token-as-header", srv.URL+"/hr/token-as-header.csv")
	httpSource("hr-reason-phrase", srv.URL+"/hr/reason-phrase")
	httpSource("hr-malformed", srv.URL+"/hr/malformed")
	httpSource("hr-cut", srv.URL+"/hr/cut.csv")
	httpSource("hr-duplicate-columns", srv.URL+"/hr/duplicate-columns.csv")
	httpSource("hr-500", srv.URL+"/hr/500")
	httpSource("hr-redirect", srv.URL+"/hr/redirect/500")
	httpSource("hr-tls", tlsSrv.URL+"/hr/good.csv")
	f.create(t, &v1.DirectorySource{ObjectMeta: metav1.ObjectMeta{Name: "hr-bad-ca"}, Spec: v1.DirectorySourceSpec{
		ProbeInterval: &metav1.Duration{Duration: 5 * time.Second},
		HR: &v1.HRSource{Format: "CSV", IDColumn: "employeeId", HTTP: &v1.HTTPRecordSource{
			URL: tlsSrv.URL + "/hr/good.csv", BearerTokenSecretRef: &v1.SecretKeySelector{Name: "hr-token", Key: "token"}, TLS: badCA}},
	}})
	f.create(t, &v1.DirectorySource{ObjectMeta: metav1.ObjectMeta{Name: "hr-json"}, Spec: v1.DirectorySourceSpec{
		ProbeInterval: &metav1.Duration{Duration: 5 * time.Second},
		HR: &v1.HRSource{Format: "JSON", IDColumn: "employeeId", HTTP: &v1.HTTPRecordSource{
			URL: srv.URL + "/hr/bad.json", BearerTokenSecretRef: &v1.SecretKeySelector{Name: "hr-token", Key: "token"}}},
	}})
	f.create(t, &v1.DirectorySource{ObjectMeta: metav1.ObjectMeta{Name: "hr-secret"}, Spec: v1.DirectorySourceSpec{
		ProbeInterval: &metav1.Duration{Duration: 5 * time.Second},
		HR:            &v1.HRSource{Format: "CSV", IDColumn: "employeeId", SecretRef: &v1.SecretKeySelector{Name: "hr-record", Key: "record"}},
	}})
	f.create(t, mappingRule("staff"))

	// One SyncTarget per bad source, all writing to the canary SCIM server; then the bad targets,
	// all reading the healthy LDAP source.
	n := 0
	target := func(name, source, url, token string) {
		n++
		f.create(t, syncTarget(name, f, func(s *v1.SyncTargetSpec) {
			s.SourceRef.Name = source
			s.SCIM.URL, s.SCIM.TokenSecretRef.Name = url, token
			s.ExternalIDPrefix = fmt.Sprintf("canary%d:", n)
			s.Interval = &metav1.Duration{Duration: 5 * time.Second}
		}))
	}
	for _, source := range []string{"hr-good", "ldap-bad-password", "ldap-bad-dn", "ldap-bad-ca", "hr-token-as-header", "hr-reason-phrase",
		"hr-malformed", "hr-cut", "hr-duplicate-columns", "hr-500", "hr-redirect", "hr-tls", "hr-bad-ca", "hr-json", "hr-secret"} {
		target("from-"+source, source, canaryScim.URL(), "scim-canary")
	}
	for name, url := range map[string]string{
		"scim-500":         srv.URL + "/scim500/v2",
		"scim-400":         srv.URL + "/scim400/v2",
		"scim-401":         srv.URL + "/scim401/v2",
		"scim-redirect":    srv.URL + "/redirect/scim500/v2",
		"scim-reason":      srv.URL + "/scim/reason-phrase",
		"scim-malformed":   srv.URL + "/scim/malformed",
		"scim-tls":         tlsSrv.URL + "/scim/v2",
		"scim-wrong-token": f.scim.URL(),
		"scim-bad-ca":      tlsSrv.URL + "/scim/v2",
	} {
		token := "scim-canary"
		if name == "scim-wrong-token" {
			token = "scim-wrong"
		}
		target(name, "ldap", url, token)
	}
	update(t, &v1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "scim-bad-ca"}}, func(st *v1.SyncTarget) {
		st.Spec.SCIM.TLS = badCA
	})

	// Every object has been through at least one run or read that failed (or, for the healthy
	// target, succeeded).
	eventually(t, 2*waitSync, func() error {
		var sts v1.SyncTargetList
		if err := k8s.List(context.Background(), &sts, client.InNamespace(f.ns)); err != nil {
			return err
		}
		for _, st := range sts.Items {
			ready := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionReady)
			switch {
			case ready == nil:
				return fmt.Errorf("SyncTarget %s has no Ready condition yet", st.Name)
			case st.Name == "from-hr-good" && (st.Status.LastSyncTime == nil || len(st.Status.Problems) == 0):
				return fmt.Errorf("the healthy SyncTarget has not run, or reports no problem for dan: %s %+v",
					describeConds(st.Status.Conditions), st.Status.Problems)
			case st.Name != "from-hr-good" && ready.Status == metav1.ConditionTrue:
				return fmt.Errorf("SyncTarget %s is ready against a hostile or misconfigured peer", st.Name)
			}
		}
		var dss v1.DirectorySourceList
		if err := k8s.List(context.Background(), &dss, client.InNamespace(f.ns)); err != nil {
			return err
		}
		for _, ds := range dss.Items {
			if meta.FindStatusCondition(ds.Status.Conditions, v1.ConditionSourceReachable) == nil {
				return fmt.Errorf("DirectorySource %s not probed yet", ds.Name)
			}
		}
		return nil
	})
	// A few more runs, so that retries and repeated failures are logged too.
	time.Sleep(6 * time.Second)

	for _, auth := range other.authorizations() {
		if strings.Contains(auth, canary) {
			t.Errorf("a token was sent to another origin after a redirect: %q", auth)
		}
	}

	var leaks []string
	look := func(where, text string) {
		if i := strings.Index(text, canary); i >= 0 {
			leaks = append(leaks, fmt.Sprintf("%s: …%s…", where, text[max(0, i-300):min(len(text), i+len(canary)+60)]))
		}
	}
	ctx := context.Background()
	lists := map[string]client.ObjectList{
		"DirectorySource": &v1.DirectorySourceList{}, "SyncTarget": &v1.SyncTargetList{}, "MappingRule": &v1.MappingRuleList{},
	}
	for kind, list := range lists {
		if err := k8s.List(ctx, list, client.InNamespace(f.ns)); err != nil {
			t.Fatal(err)
		}
		items, _ := meta.ExtractList(list)
		for _, item := range items {
			obj := item.(client.Object)
			if st, ok := obj.(*v1.SyncTarget); ok {
				if c := meta.FindStatusCondition(st.Status.Conditions, v1.ConditionReady); c != nil {
					t.Logf("SyncTarget %s: Ready=%s %s: %s", st.Name, c.Status, c.Reason, c.Message)
				}
			}
			obj.SetManagedFields(nil)
			b, _ := json.Marshal(obj)
			look(kind+" "+obj.GetName(), string(b))
		}
	}
	// Run reports (ConfigMaps the operator writes) are read like status.
	var configMaps corev1.ConfigMapList
	if err := k8s.List(ctx, &configMaps, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	for _, cm := range configMaps.Items {
		cm.ManagedFields = nil
		b, _ := json.Marshal(cm)
		look("ConfigMap "+cm.Name, string(b))
	}
	var events eventsv1.EventList
	if err := k8s.List(ctx, &events, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	var coreEvents corev1.EventList
	if err := k8s.List(ctx, &coreEvents, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	if len(events.Items)+len(coreEvents.Items) == 0 {
		t.Error("no events at all: the scan would prove nothing")
	}
	for _, e := range events.Items {
		b, _ := json.Marshal(e)
		look("event "+e.Reason, string(b))
	}
	for _, e := range coreEvents.Items {
		b, _ := json.Marshal(e)
		look("core event "+e.Reason, string(b))
	}
	logs := managerLogs.text()
	if !strings.Contains(logs, f.ns) {
		t.Error("the recorded manager logs do not mention the test's namespace: the scan would prove nothing")
	}
	look("manager logs", logs)
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var m strings.Builder
	for _, mf := range families {
		m.WriteString(mf.String())
	}
	look("metrics", m.String())

	for _, l := range leaks {
		t.Errorf("the canary leaked into %s", l)
	}
}
