package controllers_test

// The fixture of the end-to-end tests: a namespace with its own slapd and SCIM server, the three
// resources, and helpers that read the SCIM server and the API objects back.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/target/scim"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/scimserver"
	"github.com/directory-sync/directory-sync-operator/internal/testenv/slapd"
)

const (
	seedUsers = 30
	prefix    = "dirsync:"
	// waitSync bounds the wait for something a sync run (every 2s) or a probe should do.
	waitSync = 30 * time.Second
)

// departmentNames maps every departmentNumber of the seed (slapd.Departments) to a name.
var departmentNames = func() map[string]string {
	names := map[string]string{}
	for i, code := range slapd.Departments {
		names[code] = fmt.Sprintf("Dept-%c", 'A'+i)
	}
	return names
}()

// fixture is one test group: a namespace, a slapd and a SCIM server of its own.
type fixture struct {
	ns   string
	ldap *slapd.Server
	scim *scimserver.Server
	sc   *scim.Client
}

// startBackends starts a seeded slapd and a SCIMMY server for one test, with a SCIM client that reads
// the server back without retries; both stop when the test ends.
func startBackends(t *testing.T, users int) (*slapd.Server, *scimserver.Server, *scim.Client) {
	t.Helper()
	ls, err := slapd.Start(slapd.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ls.Stop() })
	ss, err := scimserver.Start(context.Background(), scimserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ss.Stop)
	sc, err := scim.New(ss.URL(), scim.Options{Token: ss.Token(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return ls, ss, sc
}

func newFixture(t *testing.T, name string) *fixture {
	t.Helper()
	return newFixtureOf(t, name, seedUsers)
}

// newFixtureOf is newFixture with a directory of users people.
func newFixtureOf(t *testing.T, name string, users int) *fixture {
	t.Helper()
	requireSuite(t)
	ls, ss, sc := startBackends(t, users)
	f := &fixture{ns: newNamespace(t, name), ldap: ls, scim: ss, sc: sc}
	f.create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "ldap-bind"},
		StringData: map[string]string{"username": slapd.ServiceDN, "password": slapd.ServicePassword},
	})
	f.create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "scim-token"},
		StringData: map[string]string{"token": ss.Token()},
	})
	return f
}

func (f *fixture) create(t *testing.T, obj client.Object) {
	t.Helper()
	obj.SetNamespace(f.ns)
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func (f *fixture) directorySource(name string) *v1.DirectorySource {
	return &v1.DirectorySource{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.DirectorySourceSpec{
			ProbeInterval: &metav1.Duration{Duration: 2 * time.Second},
			LDAP: &v1.LDAPSource{
				URL:           f.ldap.URL,
				Flavor:        v1.FlavorOpenLDAP,
				BindSecretRef: v1.BindSecretReference{Name: "ldap-bind"},
				BaseDN:        slapd.PeopleDN,
				UserFilter:    "(objectClass=inetOrgPerson)",
				Attributes:    []string{"uid", "mail", "givenName", "sn", "telephoneNumber", "title", "departmentNumber", slapd.DisabledAttribute},
				Timeout:       &metav1.Duration{Duration: 5 * time.Second},
				Groups:        &v1.LDAPGroups{Mode: "MemberOf"},
				Disabled:      &v1.LDAPDisabled{Mode: "Attribute", Attribute: slapd.DisabledAttribute, Value: slapd.DisabledValue},
			},
		},
	}
}

const groupsExpression = "['Department ' + lookups.departments[record.attrs.departmentNumber]]"

func mappingRule(name string) *v1.MappingRule {
	return &v1.MappingRule{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.MappingRuleSpec{
			Fields: []v1.FieldMapping{
				{Target: "userName", From: "uid", Required: true},
				{Target: "email", From: "mail", Required: true},
				{Target: "givenName", From: "givenName"},
				{Target: "familyName", From: "sn"},
				{Target: "phoneNumber", From: "telephoneNumber"},
				{Target: "title", From: "title"},
				{Target: "department", From: "departmentNumber", Lookup: "departments"},
				{Target: "role", Default: ptr.To("Member")},
				{Target: "groups", Expression: groupsExpression},
			},
			Lookups: []v1.LookupTable{{Name: "departments", Entries: departmentNames}},
		},
	}
}

func syncTarget(name string, f *fixture, mutate func(*v1.SyncTargetSpec)) *v1.SyncTarget {
	st := &v1.SyncTarget{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.SyncTargetSpec{
			SourceRef:   v1.LocalObjectReference{Name: "ldap"},
			MappingRefs: []v1.LocalObjectReference{{Name: "staff"}},
			SCIM: &v1.SCIMTarget{
				URL:            f.scim.URL(),
				TokenSecretRef: &v1.SecretKeySelector{Name: "scim-token", Key: "token"},
				Timeout:        &metav1.Duration{Duration: 10 * time.Second},
			},
			Interval:         &metav1.Duration{Duration: 2 * time.Second},
			ExternalIDPrefix: prefix,
			// Long enough that no other test's clock move can end it.
			Offboarding: v1.Offboarding{GracePeriod: &metav1.Duration{Duration: 1000 * time.Hour}, AfterGrace: "Delete"},
			Safety:      v1.Safety{MaxDeletions: ptr.To[int32](10), MaxDeletionPercent: ptr.To[int32](100), MinSourcePercent: ptr.To[int32](10)},
		},
	}
	if mutate != nil {
		mutate(&st.Spec)
	}
	return st
}

// applyAll creates the DirectorySource "ldap", the MappingRule "staff" and a SyncTarget.
func (f *fixture) applyAll(t *testing.T, st *v1.SyncTarget) {
	t.Helper()
	f.create(t, f.directorySource("ldap"))
	f.create(t, mappingRule("staff"))
	f.create(t, st)
}

// --- reading the SCIM server back -------------------------------------------------------------

// users returns every SCIM user by userName, as the operator's SCIM adapter reads them.
func (f *fixture) users(t *testing.T) map[string]model.User {
	t.Helper()
	list, err := scim.NewTarget(f.sc).ListUsers(context.Background())
	if err != nil {
		t.Fatalf("listing SCIM users: %v", err)
	}
	out := make(map[string]model.User, len(list))
	for _, u := range list {
		out[u.UserName] = u
	}
	return out
}

func (f *fixture) user(t *testing.T, userName string) (model.User, bool) {
	t.Helper()
	u, ok := f.users(t)[userName]
	return u, ok
}

func (f *fixture) writes(t *testing.T) int {
	t.Helper()
	counts, err := f.scim.RequestCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return scimserver.WriteCount(counts)
}

// --- reading the API objects --------------------------------------------------------------------

func (f *fixture) syncTarget(t *testing.T, name string) *v1.SyncTarget {
	t.Helper()
	var st v1.SyncTarget
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func (f *fixture) directorySourceStatus(t *testing.T, name string) *v1.DirectorySource {
	t.Helper()
	var ds v1.DirectorySource
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, &ds); err != nil {
		t.Fatal(err)
	}
	return &ds
}

func (f *fixture) mappingRuleStatus(t *testing.T, name string) *v1.MappingRule {
	t.Helper()
	var mr v1.MappingRule
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, &mr); err != nil {
		t.Fatal(err)
	}
	return &mr
}

// update re-reads obj, applies change and writes it, retrying on conflicts.
func update[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return k8s.Update(context.Background(), obj)
	})
}

// condition checks that condition typ has status and reason and, like `kubectl describe` shows it,
// a message; it returns the condition's message.
func condition(conds []metav1.Condition, typ string, status metav1.ConditionStatus, reason string) (string, error) {
	c := meta.FindStatusCondition(conds, typ)
	switch {
	case c == nil:
		return "", fmt.Errorf("no %s condition in %s", typ, describeConds(conds))
	case c.Status != status || c.Reason != reason:
		return "", fmt.Errorf("%s is %s/%s (%q), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	case c.LastTransitionTime.IsZero():
		return "", fmt.Errorf("%s has no lastTransitionTime", typ)
	}
	return c.Message, nil
}

func describeConds(conds []metav1.Condition) string {
	var parts []string
	for _, c := range conds {
		parts = append(parts, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// conditions checks several conditions at once; a non-empty message is required for each.
func conditions(conds []metav1.Condition, want ...string) error {
	for i := 0; i+2 < len(want); i += 3 {
		msg, err := condition(conds, want[i], metav1.ConditionStatus(want[i+1]), want[i+2])
		if err != nil {
			return err
		}
		if msg == "" && want[i] != v1.ConditionStalled && want[i] != v1.ConditionDegraded {
			return fmt.Errorf("%s has no message", want[i])
		}
	}
	return nil
}

// expectEvent waits for a Warning event with this reason about the SyncTarget name.
func (f *fixture) expectEvent(t *testing.T, name, reason string) {
	t.Helper()
	eventually(t, waitSync, func() error {
		var events eventsv1.EventList
		if err := k8s.List(context.Background(), &events, client.InNamespace(f.ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Reason == reason && e.Regarding.Name == name && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no %s event among %d events", reason, len(events.Items))
	})
}

// waitForRun waits until the SyncTarget has completed a run (lastSyncTime moved) after this call.
func (f *fixture) waitForRun(t *testing.T, name string) {
	t.Helper()
	before := f.syncTarget(t, name).Status.LastSyncTime
	eventually(t, waitSync, func() error {
		now := f.syncTarget(t, name).Status.LastSyncTime
		if now == nil || (before != nil && !now.After(before.Time)) {
			return fmt.Errorf("no run completed yet (lastSyncTime %v)", now)
		}
		return nil
	})
}

// expectedUsers lists the seeded users a sync creates: enabled and with a mail.
func expectedUsers(seed *slapd.Seed) []slapd.User {
	var out []slapd.User
	for _, u := range seed.Users {
		if u.Mail != "" && !u.Disabled {
			out = append(out, u)
		}
	}
	return out
}

// checkInitialSync compares the SCIM users with the seed.
func (f *fixture) checkInitialSync(t *testing.T) error {
	users := f.users(t)
	want := expectedUsers(f.ldap.Seed)
	var errs []error
	for _, su := range want {
		u, ok := users[su.UID]
		if !ok {
			errs = append(errs, fmt.Errorf("%s not in SCIM", su.UID))
			continue
		}
		dept := departmentNames[su.DepartmentNumber]
		switch {
		case !strings.HasPrefix(u.ExternalID, prefix):
			errs = append(errs, fmt.Errorf("%s: externalId %q lacks the prefix", su.UID, u.ExternalID))
		case u.Email != su.Mail, u.PhoneNumber != su.TelephoneNumber, u.Title != su.Title:
			errs = append(errs, fmt.Errorf("%s: email/phone/title %q/%q/%q, want %q/%q/%q", su.UID, u.Email, u.PhoneNumber, u.Title, su.Mail, su.TelephoneNumber, su.Title))
		case u.Department != dept || u.Role != "Member" || !u.Active:
			errs = append(errs, fmt.Errorf("%s: department/role/active %q/%q/%v, want %q/Member/true", su.UID, u.Department, u.Role, u.Active, dept))
		case u.GivenName != su.GivenName || u.FamilyName != su.SN:
			errs = append(errs, fmt.Errorf("%s: name %q %q, want %q %q", su.UID, u.GivenName, u.FamilyName, su.GivenName, su.SN))
		case !slices.Equal(u.Groups, []string{"Department " + dept}):
			errs = append(errs, fmt.Errorf("%s: groups %v, want [Department %s]", su.UID, u.Groups, dept))
		}
	}
	for _, su := range f.ldap.Seed.Users {
		if (su.Mail == "" || su.Disabled) && users[su.UID].UserName != "" {
			errs = append(errs, fmt.Errorf("%s (disabled or without mail) was created", su.UID))
		}
	}
	return errors.Join(errs...)
}

// createUnmanaged creates a SCIM user without externalId, as an administrator would by hand.
func (f *fixture) createUnmanaged(t *testing.T, userName string) model.User {
	t.Helper()
	_, err := f.sc.CreateUser(context.Background(), &scim.User{
		UserName: userName, DisplayName: "Hand Made", Title: "Contractor", Active: scim.BoolPtr(true),
		Emails: []scim.MultiValued{{Value: userName + "@contractor.example", Type: "work", Primary: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, ok := f.user(t, userName)
	if !ok {
		t.Fatalf("%s not found after creating it", userName)
	}
	return u
}
