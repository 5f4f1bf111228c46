package connect

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// Every target type's references, as the controllers' indexes see them: a change to any of these
// Secrets or ConfigMaps must start a run.
func TestTargetRefs(t *testing.T) {
	token := &v1.SecretKeySelector{Name: "scim-token", Key: "token"}
	for _, tc := range []struct {
		name string
		spec v1.SyncTargetSpec
		want Refs
	}{
		{"no target type", v1.SyncTargetSpec{}, Refs{}},
		{"scim token", v1.SyncTargetSpec{SCIM: &v1.SCIMTarget{URL: "https://a/scim", TokenSecretRef: token}},
			Refs{Secrets: []string{"scim-token"}}},
		{"scim oauth2", v1.SyncTargetSpec{SCIM: &v1.SCIMTarget{URL: "https://a/scim",
			OAuth2: &v1.OAuth2ClientCredentials{TokenURL: "https://idp/token", ClientSecretRef: v1.OAuth2ClientSecretRef{Name: "oauth-client"}}}},
			Refs{Secrets: []string{"oauth-client"}}},
		{"scim CA in a Secret", v1.SyncTargetSpec{SCIM: &v1.SCIMTarget{URL: "https://a/scim", TokenSecretRef: token,
			TLS: &v1.TLSConfig{CA: &v1.CABundleSource{SecretRef: &v1.SecretKeySelector{Name: "ca", Key: "ca.crt"}}}}},
			Refs{Secrets: []string{"ca", "scim-token"}}},
		{"scim CA in a ConfigMap", v1.SyncTargetSpec{SCIM: &v1.SCIMTarget{URL: "https://a/scim", TokenSecretRef: token,
			TLS: &v1.TLSConfig{CA: &v1.CABundleSource{ConfigMapRef: &v1.ConfigMapKeySelector{Name: "ca-bundle", Key: "ca.crt"}}}}},
			Refs{Secrets: []string{"scim-token"}, ConfigMaps: []string{"ca-bundle"}}},
	} {
		got := TargetRefs(&tc.spec)
		slices.Sort(got.Secrets)
		if !slices.Equal(got.Secrets, tc.want.Secrets) || !slices.Equal(got.ConfigMaps, tc.want.ConfigMaps) {
			t.Errorf("%s: refs %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A SyncTarget stored without the CRD's validation may set no target type: every entry point
// reports it clearly instead of dereferencing a nil member.
func TestTargetTypeOfWithoutTargetType(t *testing.T) {
	spec := &v1.SyncTargetSpec{}
	_, err := TargetTypeOf(spec)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "sets no target type") || !strings.Contains(err.Error(), "spec.scim") {
		t.Fatalf("TargetTypeOf(empty) = %v, want a ConfigError naming spec.scim", err)
	}
	if k := TargetAppKey(spec); k != "" {
		t.Errorf("TargetAppKey(empty) = %q", k)
	}
	// Two SyncTargets without a target type write nowhere and do not conflict with each other or
	// with a SCIM one.
	st := func(name string, scim *v1.SCIMTarget) v1.SyncTarget {
		s := v1.SyncTarget{Spec: v1.SyncTargetSpec{SCIM: scim}}
		s.Name, s.Namespace = name, "ns"
		return s
	}
	all := []v1.SyncTarget{st("a", nil), st("b", nil), st("c", &v1.SCIMTarget{URL: "https://a/scim"})}
	for i := range all {
		if o := Overlapping(&all[i], all); len(o) != 0 {
			t.Errorf("%s overlaps %s", all[i].Name, o[0].Name)
		}
	}
}

func TestTargetTypeOfSCIM(t *testing.T) {
	spec := &v1.SyncTargetSpec{SCIM: &v1.SCIMTarget{URL: "HTTPS://App.example.com:443/scim/v2/", MaxConcurrency: 7,
		TokenSecretRef: &v1.SecretKeySelector{Name: "tok", Key: "token"}}}
	tt, err := TargetTypeOf(spec)
	if err != nil {
		t.Fatal(err)
	}
	if tt.Member != "scim" || tt.AppKey(spec) != "https://app.example.com/scim/v2" || tt.Concurrency(spec) != 7 {
		t.Errorf("scim descriptor: member %q, app key %q, concurrency %d", tt.Member, tt.AppKey(spec), tt.Concurrency(spec))
	}
	// Build reads the token through the resolver; a missing Secret is a RefError naming it.
	_, _, err = tt.Build(context.Background(), spec, mapResolver{}, logr.Discard())
	var re *RefError
	if !errors.As(err, &re) || re.Name != "tok" || !strings.HasPrefix(err.Error(), "SCIM target: ") {
		t.Errorf("Build without the Secret: %v", err)
	}
}

// Each descriptor's member is a distinct optional spec field (the JSON name the CRD's rule checks),
// unset in an empty spec, and the descriptor is complete.
func TestTargetTypesNameSpecMembers(t *testing.T) {
	seen := map[string]bool{}
	for _, tt := range targetTypes {
		if seen[tt.Member] {
			t.Errorf("member %q twice", tt.Member)
		}
		seen[tt.Member] = true
		if tt.Selected(&v1.SyncTargetSpec{}) {
			t.Errorf("%s is selected by an empty spec", tt.Member)
		}
		if tt.Refs == nil || tt.AppKey == nil || tt.Concurrency == nil || tt.Build == nil {
			t.Errorf("%s: descriptor incomplete", tt.Member)
		}
		if !hasPointerMember(v1.SyncTargetSpec{}, tt.Member) {
			t.Errorf("SyncTargetSpec has no optional member %q", tt.Member)
		}
	}
}

// hasPointerMember reports whether the struct spec has a pointer field with JSON name member.
func hasPointerMember(spec any, member string) bool {
	typ := reflect.TypeOf(spec)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == member {
			return f.Type.Kind() == reflect.Pointer
		}
	}
	return false
}
