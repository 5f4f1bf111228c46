package connect

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

func TestAppKeyNormalisesTheURL(t *testing.T) {
	same := []string{"https://App.Example.com/scim/v2", "HTTPS://app.example.COM:443/scim/v2/", "https://app.example.com/scim/v2//"}
	for _, u := range same {
		if got := AppKey(u); got != "https://app.example.com/scim/v2" {
			t.Errorf("AppKey(%q) = %q", u, got)
		}
	}
	different := []string{"http://app.example.com/scim/v2", "https://app.example.com:8443/scim/v2", "https://app.example.com/scim/V2",
		"https://other.example.com/scim/v2"}
	for _, u := range different {
		if AppKey(u) == "https://app.example.com/scim/v2" {
			t.Errorf("AppKey(%q) names the same app", u)
		}
	}
	if AppKey("http://127.0.0.1:80/x/") != "http://127.0.0.1/x" || AppKey("http://[::1]:80/") != "http://[::1]" {
		t.Errorf("default ports: %q %q", AppKey("http://127.0.0.1:80/x/"), AppKey("http://[::1]:80/"))
	}
}

func TestOwnershipConflictNamesTheEarlierOverlappingTarget(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	st := func(ns, name, url, marker string, created metav1.Time) v1.SyncTarget {
		return v1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: created},
			Spec: v1.SyncTargetSpec{SCIM: &v1.SCIMTarget{URL: url}, ExternalIDPrefix: marker}}
	}
	const app = "https://app.example.com/scim/v2"
	employees := st("hr", "employees", app, "", t0) // default dirsync:
	all := []v1.SyncTarget{
		employees,
		st("hr", "contractors", app+"/", "dirsync:", t1),             // same app, same marker, later
		st("eu", "eu", "HTTPS://APP.example.com", "dirsync:eu:", t1), // another app (path differs)
		st("eu", "eu2", app, "dirsync:eu:", t1),                      // overlapping prefix, later
		st("x", "other", app, "other:", t0),                          // disjoint marker
		st("x", "elsewhere", "https://b.example.com", "dirsync:", t0),
	}
	want := map[string]string{"employees": "", "contractors": "employees", "eu": "", "eu2": "employees", "other": "", "elsewhere": ""}
	for i := range all {
		got := OwnershipConflict(&all[i], all)
		name := ""
		if got != nil {
			name = got.Name
		}
		if name != want[all[i].Name] {
			t.Errorf("%s: conflict %q, want %q", all[i].Name, name, want[all[i].Name])
		}
	}
	// Same creation time: namespace/name decides; a new object (no timestamp) is always later.
	a, b := st("a", "x", app, "p:", t0), st("b", "x", app, "p:", t0)
	if c := OwnershipConflict(&b, []v1.SyncTarget{a, b}); c == nil || c.Namespace != "a" {
		t.Errorf("tie: %v", c)
	}
	if c := OwnershipConflict(&a, []v1.SyncTarget{a, b}); c != nil {
		t.Errorf("tie, earlier one: %v", c)
	}
	fresh := st("z", "new", app, "dirsync:", metav1.Time{})
	if c := OwnershipConflict(&fresh, all); c == nil || c.Name != "employees" {
		t.Errorf("new object: %v", c)
	}
}
