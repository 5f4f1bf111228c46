package connect

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/directory"
	"github.com/directory-sync/directory-sync-operator/internal/directory/ldap"
	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// mapResolver serves Secret and ConfigMap keys from maps ("name/key" → value).
type mapResolver struct{ secrets, configMaps map[string]string }

func (m mapResolver) SecretKey(_ context.Context, name, key string) ([]byte, error) {
	if v, ok := m.secrets[name+"/"+key]; ok {
		return []byte(v), nil
	}
	return nil, errors.New("not found")
}

func (m mapResolver) ConfigMapKey(_ context.Context, name, key string) ([]byte, error) {
	if v, ok := m.configMaps[name+"/"+key]; ok {
		return []byte(v), nil
	}
	return nil, errors.New("not found")
}

var bind = mapResolver{secrets: map[string]string{"bind/username": "cn=svc,dc=corp\n", "bind/password": "s3cret"}}

func TestLDAPConfigFlavorDefaults(t *testing.T) {
	spec := &v1.LDAPSource{URL: "ldaps://dc1:636", Flavor: v1.FlavorActiveDirectory, BaseDN: "dc=corp",
		BindSecretRef: v1.BindSecretReference{Name: "bind"}, PageSize: 1000, Timeout: &metav1.Duration{Duration: 7e9}}
	cfg, err := LDAPConfig(context.Background(), spec, bind)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IDAttribute != "objectGUID" || cfg.Groups.Mode != ldap.GroupsInChain || cfg.Disabled.Mode != ldap.DisabledActiveDirectory {
		t.Errorf("Active Directory defaults not applied: %+v", cfg)
	}
	if cfg.UserFilter != ldap.ADUserFilter || cfg.Groups.GroupFilter != ldap.ADGroupFilter || !cfg.Groups.PrimaryGroup {
		t.Errorf("Active Directory filters (people only, no built-in groups) or primary group not applied: %+v", cfg)
	}
	if cfg.BindDN != "cn=svc,dc=corp" || cfg.BindPassword != "s3cret" || cfg.PageSize != 1000 || cfg.Timeout.Seconds() != 7 {
		t.Errorf("spec not carried over: %+v", cfg)
	}
	if strings.Contains(cfg.String(), "s3cret") {
		t.Error("the config's string form shows the password")
	}

	spec.Flavor = v1.FlavorOpenLDAP
	spec.Groups = &v1.LDAPGroups{Mode: "Recursive", BaseDN: "ou=groups,dc=corp"}
	spec.Disabled = &v1.LDAPDisabled{Mode: "Attribute", Attribute: "employeeType", Value: "disabled"}
	spec.Scope = "OneLevel"
	cfg, err = LDAPConfig(context.Background(), spec, bind)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UserFilter != OpenLDAPUserFilter || cfg.Groups.PrimaryGroup {
		t.Errorf("OpenLDAP defaults: filter %q, primary group %v", cfg.UserFilter, cfg.Groups.PrimaryGroup)
	}
	if cfg.IDAttribute != "" || cfg.Groups.Mode != ldap.GroupsRecursive ||
		cfg.Groups.GroupBaseDN != "ou=groups,dc=corp" || cfg.Disabled.Mode != ldap.DisabledAttribute || cfg.Scope != ldap.ScopeOne {
		t.Errorf("explicit settings not applied (OpenLDAP leaves the ID attribute to the source default): %+v", cfg)
	}
}

func TestMissingReferencesAreRefErrors(t *testing.T) {
	spec := v1.DirectorySourceSpec{LDAP: &v1.LDAPSource{URL: "ldap://127.0.0.1:1", BaseDN: "dc=x",
		BindSecretRef: v1.BindSecretReference{Name: "absent"}}}
	_, err := Source(context.Background(), spec, bind, logr.Discard())
	if !IsRefError(err) || !strings.Contains(err.Error(), `Secret "absent" key "username"`) {
		t.Fatalf("want a RefError naming the Secret and key, got %v", err)
	}
	_, _, err = SCIMTarget(context.Background(), v1.SCIMTarget{URL: "http://127.0.0.1:1/scim/v2",
		TokenSecretRef: &v1.SecretKeySelector{Name: "bind", Key: "token"}}, bind, logr.Discard())
	if !IsRefError(err) || !strings.Contains(err.Error(), `key "token"`) {
		t.Fatalf("want a RefError for the token key, got %v", err)
	}
}

func TestHRSourceFromConfigMap(t *testing.T) {
	r := mapResolver{configMaps: map[string]string{"hr/staff.csv": "id;mail;groups\n7;ann@x;a|b\n8;bob@x;\n"}}
	spec := v1.DirectorySourceSpec{HR: &v1.HRSource{Format: "CSV", Delimiter: ";", IDColumn: "id",
		GroupsColumn: "groups", GroupsSeparator: "|", ConfigMapRef: &v1.ConfigMapKeySelector{Name: "hr", Key: "staff.csv"}}}
	src, err := Source(context.Background(), spec, r, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != 2 || snap.Records[0].First("mail") != "ann@x" || strings.Join(snap.Records[0].Groups, ",") != "a,b" {
		t.Fatalf("records = %+v", snap.Records)
	}
	// A run reads it batch by batch: the source streams through its wrapper.
	var streamed []model.Record
	rest, err := src.(directory.Streamer).ReadStream(context.Background(), func(b []model.Record) error {
		streamed = append(streamed, b...)
		return nil
	})
	if err != nil || !reflect.DeepEqual(streamed, snap.Records) || rest.Records != nil || !rest.Complete {
		t.Errorf("streamed %+v (%v), snapshot %+v", streamed, err, rest)
	}
}

func TestSCIMTargetRejectsCABundleWithoutCertificates(t *testing.T) {
	r := mapResolver{secrets: map[string]string{"scim/token": "t", "ca/ca.crt": "not a certificate"}}
	_, _, err := SCIMTarget(context.Background(), v1.SCIMTarget{URL: "https://127.0.0.1:1/scim/v2",
		TokenSecretRef: &v1.SecretKeySelector{Name: "scim", Key: "token"},
		TLS:            &v1.TLSConfig{CA: &v1.CABundleSource{SecretRef: &v1.SecretKeySelector{Name: "ca", Key: "ca.crt"}}},
	}, r, logr.Discard())
	if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("want a CA bundle error, got %v", err)
	}
}

func TestHTTPFingerprintFollowsTokenAndCA(t *testing.T) {
	spec := &v1.HTTPRecordSource{URL: "https://127.0.0.1/staff.csv", BearerTokenSecretRef: &v1.SecretKeySelector{Name: "hr", Key: "token"},
		TLS: &v1.TLSConfig{CA: &v1.CABundleSource{ConfigMapRef: &v1.ConfigMapKeySelector{Name: "ca", Key: "ca.crt"}}}}
	r := mapResolver{secrets: map[string]string{"hr/token": "one"}, configMaps: map[string]string{"ca/ca.crt": "pem-1"}}
	fp := func() string {
		t.Helper()
		s, err := HTTPFingerprint(context.Background(), spec, r)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := fp()
	if again := fp(); again != first {
		t.Fatalf("fingerprint not stable: %s vs %s", first, again)
	}
	if strings.Contains(first, "one") || strings.Contains(first, "pem") {
		t.Fatalf("fingerprint %q shows secret data", first)
	}
	r.secrets["hr/token"] = "two"
	second := fp()
	if second == first {
		t.Fatal("a rotated token must change the fingerprint")
	}
	r.configMaps["ca/ca.crt"] = "pem-2"
	if fp() == second {
		t.Fatal("a new CA bundle must change the fingerprint")
	}
	delete(r.secrets, "hr/token")
	if _, err := HTTPFingerprint(context.Background(), spec, r); !IsRefError(err) {
		t.Fatalf("want a RefError for a missing token, got %v", err)
	}
}

// An object stored before the CRD had its maxima keeps its timeout; the runtime still caps it.
func TestTimeoutsAreCapped(t *testing.T) {
	spec := &v1.LDAPSource{URL: "ldap://dc1", BaseDN: "dc=corp", BindSecretRef: v1.BindSecretReference{Name: "bind"},
		Timeout: &metav1.Duration{Duration: 24 * time.Hour}}
	cfg, err := LDAPConfig(context.Background(), spec, bind)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != MaxRequestTimeout {
		t.Errorf("LDAP timeout = %s, want %s", cfg.Timeout, MaxRequestTimeout)
	}
	for _, tc := range []struct {
		in   *metav1.Duration
		want time.Duration
	}{
		{nil, 30 * time.Second}, {&metav1.Duration{}, 30 * time.Second}, {&metav1.Duration{Duration: time.Minute}, time.Minute},
		{&metav1.Duration{Duration: time.Hour}, MaxRequestTimeout},
	} {
		if got := requestTimeout((&v1.HTTPRecordSource{Timeout: tc.in}).GetTimeout()); got != tc.want {
			t.Errorf("requestTimeout(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
