package connect

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

// Every source type's references, as the controllers' indexes see them: a change to any of these
// Secrets or ConfigMaps must start a probe and a run.
func TestSourceRefs(t *testing.T) {
	caSecret := &v1.TLSConfig{CA: &v1.CABundleSource{SecretRef: &v1.SecretKeySelector{Name: "ca", Key: "ca.crt"}}}
	caConfigMap := &v1.TLSConfig{CA: &v1.CABundleSource{ConfigMapRef: &v1.ConfigMapKeySelector{Name: "ca-bundle", Key: "ca.crt"}}}
	ldap := func(tls *v1.TLSConfig) *v1.LDAPSource {
		return &v1.LDAPSource{URL: "ldaps://127.0.0.1:636", BindSecretRef: v1.BindSecretReference{Name: "bind"}, BaseDN: "dc=x", TLS: tls}
	}
	for _, tc := range []struct {
		name string
		spec v1.DirectorySourceSpec
		want Refs
	}{
		{"no source type", v1.DirectorySourceSpec{}, Refs{}},
		{"ldap", v1.DirectorySourceSpec{LDAP: ldap(nil)}, Refs{Secrets: []string{"bind"}}},
		{"ldap CA in a Secret", v1.DirectorySourceSpec{LDAP: ldap(caSecret)}, Refs{Secrets: []string{"bind", "ca"}}},
		{"ldap CA in a ConfigMap", v1.DirectorySourceSpec{LDAP: ldap(caConfigMap)}, Refs{Secrets: []string{"bind"}, ConfigMaps: []string{"ca-bundle"}}},
		{"hr ConfigMap", v1.DirectorySourceSpec{HR: &v1.HRSource{Format: "CSV", IDColumn: "id",
			ConfigMapRef: &v1.ConfigMapKeySelector{Name: "record", Key: "staff.csv"}}}, Refs{ConfigMaps: []string{"record"}}},
		{"hr Secret", v1.DirectorySourceSpec{HR: &v1.HRSource{Format: "CSV", IDColumn: "id",
			SecretRef: &v1.SecretKeySelector{Name: "record", Key: "staff.csv"}}}, Refs{Secrets: []string{"record"}}},
		{"hr http with token and CA", v1.DirectorySourceSpec{HR: &v1.HRSource{Format: "JSON", IDColumn: "id",
			HTTP: &v1.HTTPRecordSource{URL: "https://127.0.0.1/staff.json", BearerTokenSecretRef: &v1.SecretKeySelector{Name: "hr-token", Key: "t"}, TLS: caConfigMap}}},
			Refs{Secrets: []string{"hr-token"}, ConfigMaps: []string{"ca-bundle"}}},
		{"hr http without token", v1.DirectorySourceSpec{HR: &v1.HRSource{Format: "JSON", IDColumn: "id",
			HTTP: &v1.HTTPRecordSource{URL: "https://127.0.0.1/staff.json"}}}, Refs{}},
		// Both set (the CRD forbids it): everything referenced is watched, so that fixing it is noticed.
		{"both types", v1.DirectorySourceSpec{LDAP: ldap(nil), HR: &v1.HRSource{Format: "CSV", IDColumn: "id",
			ConfigMapRef: &v1.ConfigMapKeySelector{Name: "record", Key: "staff.csv"}}}, Refs{Secrets: []string{"bind"}, ConfigMaps: []string{"record"}}},
	} {
		got := SourceRefs(&tc.spec)
		slices.Sort(got.Secrets)
		if !slices.Equal(got.Secrets, tc.want.Secrets) || !slices.Equal(got.ConfigMaps, tc.want.ConfigMaps) {
			t.Errorf("%s: refs %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A DirectorySource with no source type or two (stored where the CRD's rule did not run) is an
// InvalidConfig error naming the members, from every entry point.
func TestSourceTypeOfWithoutOrWithTwoTypes(t *testing.T) {
	hrSpec := &v1.HRSource{Format: "CSV", IDColumn: "id", ConfigMapRef: &v1.ConfigMapKeySelector{Name: "r", Key: "k"}}
	ldapSpec := &v1.LDAPSource{URL: "ldap://127.0.0.1:1", BindSecretRef: v1.BindSecretReference{Name: "bind"}, BaseDN: "dc=x"}
	for _, tc := range []struct {
		name string
		spec v1.DirectorySourceSpec
		want string
	}{
		{"none", v1.DirectorySourceSpec{}, "sets no source type: set exactly one of spec.ldap, spec.hr"},
		{"two", v1.DirectorySourceSpec{LDAP: ldapSpec, HR: hrSpec}, "sets 2 source types (spec.ldap, spec.hr)"},
	} {
		_, err := SourceTypeOf(&tc.spec)
		var de *directory.Error
		if !errors.As(err, &de) || de.Kind != directory.KindInvalidConfig || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: SourceTypeOf = %v, want InvalidConfig %q", tc.name, err, tc.want)
		}
		if _, err := Source(context.Background(), tc.spec, mapResolver{}, logr.Discard()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Source = %v", tc.name, err)
		}
		if _, build, err := KeptSource(context.Background(), &tc.spec, mapResolver{}, Env{}); err == nil || build != nil {
			t.Errorf("%s: KeptSource = %v", tc.name, err)
		}
	}
}

// Which sources are kept between runs, and what their cache key follows.
func TestKeptSource(t *testing.T) {
	ctx := context.Background()
	r := mapResolver{secrets: map[string]string{"bind/username": "cn=svc", "bind/password": "pw", "hr/token": "one"},
		configMaps: map[string]string{"record/staff.csv": "id\n1\n"}}
	ldapSpec := func(inc *v1.LDAPIncremental) *v1.DirectorySourceSpec {
		return &v1.DirectorySourceSpec{LDAP: &v1.LDAPSource{URL: "ldap://127.0.0.1:1", BindSecretRef: v1.BindSecretReference{Name: "bind"},
			BaseDN: "dc=x", Incremental: inc}}
	}
	httpSpec := &v1.DirectorySourceSpec{HR: &v1.HRSource{Format: "CSV", IDColumn: "id",
		HTTP: &v1.HTTPRecordSource{URL: "https://127.0.0.1/staff.csv", BearerTokenSecretRef: &v1.SecretKeySelector{Name: "hr", Key: "token"}}}}

	// Not kept: a plain LDAP source and an HR record from a ConfigMap are built for each run.
	for name, spec := range map[string]*v1.DirectorySourceSpec{
		"ldap":         ldapSpec(nil),
		"hr configMap": {HR: &v1.HRSource{Format: "CSV", IDColumn: "id", ConfigMapRef: &v1.ConfigMapKeySelector{Name: "record", Key: "staff.csv"}}},
	} {
		if _, build, err := KeptSource(ctx, spec, r, Env{}); err != nil || build != nil {
			t.Errorf("%s: kept (err %v)", name, err)
		}
	}

	// Incremental LDAP: kept, as an incremental source on the caller's clock; its Secrets are
	// checked now.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, build, err := KeptSource(ctx, ldapSpec(&v1.LDAPIncremental{Attribute: "modifyTimestamp"}), r, Env{Log: logr.Discard(), Now: func() time.Time { return now }})
	if err != nil || build == nil {
		t.Fatalf("incremental LDAP not kept: %v", err)
	}
	src, err := build()
	if inc, ok := src.(*directory.Incremental); err != nil || !ok || inc.Now() != now || inc.FullEvery != time.Hour {
		t.Errorf("incremental LDAP built %T (err %v)", src, err)
	}
	if _, _, err := KeptSource(ctx, ldapSpec(&v1.LDAPIncremental{Attribute: "modifyTimestamp"}), mapResolver{}, Env{}); !IsRefError(err) {
		t.Errorf("incremental LDAP without its bind Secret: %v", err)
	}

	// HR over HTTP: kept; the key follows the token, so a rotated one makes a new source.
	key1, build, err := KeptSource(ctx, httpSpec, r, Env{})
	if err != nil || build == nil || key1 == "" {
		t.Fatalf("HTTP HR not kept: key %q, err %v", key1, err)
	}
	r.secrets["hr/token"] = "two"
	if key2, _, _ := KeptSource(ctx, httpSpec, r, Env{}); key2 == key1 {
		t.Error("a rotated token kept the cache key")
	}
}

// Each descriptor's member is a distinct optional spec field, unset in an empty spec, and the
// descriptor is complete.
func TestSourceTypesNameSpecMembers(t *testing.T) {
	seen := map[string]bool{}
	for _, st := range sourceTypes {
		if seen[st.Member] {
			t.Errorf("member %q twice", st.Member)
		}
		seen[st.Member] = true
		if st.Selected(&v1.DirectorySourceSpec{}) {
			t.Errorf("%s is selected by an empty spec", st.Member)
		}
		if st.Refs == nil || st.Build == nil {
			t.Errorf("%s: descriptor incomplete", st.Member)
		}
		if !hasPointerMember(v1.DirectorySourceSpec{}, st.Member) {
			t.Errorf("DirectorySourceSpec has no optional member %q", st.Member)
		}
	}
}
