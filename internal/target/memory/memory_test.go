package memory

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/syncer"
)

var _ syncer.Target = (*Target)(nil)

var ctx = context.Background()

func mustCreate(t *testing.T, tg *Target, u model.User) string {
	t.Helper()
	id, err := tg.CreateUser(ctx, u)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", u.UserName, err)
	}
	return id
}

func TestCreateUserIdempotentAndConflicts(t *testing.T) {
	tg := New()
	id := mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "Alice", Active: true})
	again, err := tg.CreateUser(ctx, model.User{ExternalID: "x:1", UserName: "other"})
	if err != nil || again != id {
		t.Fatalf("second create = %q, %v; want %q, nil", again, err, id)
	}
	if _, err := tg.CreateUser(ctx, model.User{ExternalID: "x:2", UserName: "alice"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("create with taken userName: err = %v, want ErrConflict", err)
	}
	if _, err := tg.CreateUser(ctx, model.User{ExternalID: "x:3"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("create without userName: err = %v, want ErrInvalid", err)
	}
	users := tg.Users()
	if len(users) != 1 || users[0].UserName != "Alice" || users[0].TargetID != id {
		t.Fatalf("users = %+v", users)
	}
	if got := tg.Calls()[MethodCreateUser]; got != 4 {
		t.Errorf("CreateUser calls = %d, want 4 (failed ones included)", got)
	}
}

func TestUpdateUserOnlyNamedFields(t *testing.T) {
	tg := New()
	id := mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "alice", Title: "Dev", Email: "a@x", Active: true})
	mustCreate(t, tg, model.User{ExternalID: "x:2", UserName: "bob", Active: true})

	err := tg.UpdateUser(ctx, id, model.User{UserName: "ignored", Title: "Lead", Email: "ignored"}, []string{model.FieldTitle, model.FieldActive})
	if err != nil {
		t.Fatal(err)
	}
	got := tg.Users()[0]
	want := model.User{ExternalID: "x:1", UserName: "alice", Title: "Lead", Email: "a@x", Active: false, TargetID: id}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if err := tg.UpdateUser(ctx, id, model.User{UserName: "BOB"}, []string{model.FieldUserName}); !errors.Is(err, ErrConflict) {
		t.Errorf("rename onto bob: err = %v, want ErrConflict", err)
	}
	if err := tg.UpdateUser(ctx, id, model.User{UserName: "ALICE"}, []string{model.FieldUserName}); err != nil {
		t.Errorf("case-only rename: %v", err)
	}
	if err := tg.UpdateUser(ctx, id, model.User{UserName: "carol"}, []string{model.FieldUserName}); err != nil {
		t.Fatal(err)
	}
	// the old name is free again, the new one taken
	mustCreate(t, tg, model.User{ExternalID: "x:3", UserName: "alice"})
	if _, err := tg.CreateUser(ctx, model.User{ExternalID: "x:4", UserName: "Carol"}); !errors.Is(err, ErrConflict) {
		t.Errorf("create carol: err = %v, want ErrConflict", err)
	}
	if err := tg.UpdateUser(ctx, id, model.User{}, []string{model.FieldGroups}); !errors.Is(err, ErrInvalid) {
		t.Errorf("update groups field: err = %v, want ErrInvalid", err)
	}
	if err := tg.UpdateUser(ctx, "nope", model.User{}, []string{model.FieldTitle}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update missing user: err = %v, want ErrNotFound", err)
	}
}

func TestGroupsAndDelete(t *testing.T) {
	tg := New()
	a := mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "alice"})
	b := mustCreate(t, tg, model.User{ExternalID: "x:2", UserName: "bob"})
	g, err := tg.CreateGroup(ctx, "Eng", "x:group:Eng")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.CreateGroup(ctx, "eng", ""); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate group: err = %v, want ErrConflict", err)
	}
	if err := tg.AddMembers(ctx, g, []string{a, "missing"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("add unknown member: err = %v, want ErrInvalid", err)
	}
	if err := tg.AddMembers(ctx, g, []string{a, b, a}); err != nil {
		t.Fatal(err)
	}
	if err := tg.AddMembers(ctx, "nope", []string{a}); !errors.Is(err, ErrNotFound) {
		t.Errorf("add to missing group: err = %v, want ErrNotFound", err)
	}
	if got := tg.Users()[0].Groups; !reflect.DeepEqual(got, []string{"Eng"}) {
		t.Errorf("alice's groups = %v", got)
	}
	if err := tg.RemoveMembers(ctx, g, []string{b, "not-a-member"}); err != nil {
		t.Fatal(err)
	}
	if err := tg.DeleteUser(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := tg.DeleteUser(ctx, a); err != nil {
		t.Errorf("deleting a missing user: %v", err)
	}
	groups := tg.Groups()
	if len(groups) != 1 || len(groups[0].Members) != 0 {
		t.Errorf("groups after delete = %+v", groups)
	}
	// the deleted user's externalId and userName are free again
	if id := mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "alice"}); id == a {
		t.Errorf("recreated user got the deleted id %s", id)
	}
	if got, want := tg.WriteCalls(), 11; got != want {
		t.Errorf("WriteCalls = %d, want %d (%v)", got, want, tg.Calls())
	}
	tg.ResetCalls()
	if tg.WriteCalls() != 0 || len(tg.Calls()) != 0 {
		t.Errorf("after ResetCalls: %v", tg.Calls())
	}
}

func TestFailNextAndContext(t *testing.T) {
	tg := New()
	boom := errors.New("boom")
	tg.FailNext(MethodCreateUser, 2, boom)
	for i := range 2 {
		if _, err := tg.CreateUser(ctx, model.User{ExternalID: "x:1", UserName: "alice"}); !errors.Is(err, boom) {
			t.Fatalf("call %d: err = %v, want boom", i, err)
		}
	}
	mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "alice"})
	tg.FailNext(MethodListUsers, 1, nil)
	if _, err := tg.ListUsers(ctx); !errors.Is(err, ErrInjected) {
		t.Errorf("ListUsers: err = %v, want ErrInjected", err)
	}
	tg.FailNext(MethodDeleteUser, 5, nil)
	tg.FailNext(MethodDeleteUser, 0, nil)
	if err := tg.DeleteUser(ctx, "x"); err != nil {
		t.Errorf("cancelled injection still fired: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tg.CreateUser(cancelled, model.User{ExternalID: "x:2", UserName: "bob"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled create: err = %v", err)
	}
	if n := len(tg.Users()); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
}

func TestSeed(t *testing.T) {
	tg := New()
	tg.Seed([]model.User{
		{TargetID: "u0000001", ExternalID: "x:1", UserName: "alice", Active: true},
		{ExternalID: "x:1", UserName: "ALICE"}, // a broken target: shared externalId and userName
	}, []model.Group{{DisplayName: "Eng", Members: []string{"u0000001"}}})
	users := tg.Users()
	if len(users) != 2 || users[0].TargetID != "u0000001" || users[1].TargetID == "" || users[1].TargetID == "u0000001" {
		t.Fatalf("users = %+v", users)
	}
	if !reflect.DeepEqual(users[0].Groups, []string{"Eng"}) {
		t.Errorf("groups of alice = %v", users[0].Groups)
	}
	if err := tg.DeleteUser(ctx, "u0000001"); err != nil {
		t.Fatal(err)
	}
	// the other holder of x:1 is found by CreateUser now
	if id := mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "zed"}); id != users[1].TargetID {
		t.Errorf("CreateUser = %s, want the remaining holder %s", id, users[1].TargetID)
	}
	if len(tg.Calls()) != 2 {
		t.Errorf("Seed, Users or Groups were counted: %v", tg.Calls())
	}
	defer func() {
		if recover() == nil {
			t.Error("Seed with an unknown member did not panic")
		}
	}()
	tg.Seed(nil, []model.Group{{DisplayName: "x", Members: []string{"ghost"}}})
}

func TestConcurrentUse(t *testing.T) {
	tg := New()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				ext := fmt.Sprintf("x:%d", i) // every worker creates the same users
				id, err := tg.CreateUser(ctx, model.User{ExternalID: ext, UserName: fmt.Sprintf("user%d", i)})
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				if err := tg.UpdateUser(ctx, id, model.User{Title: "t"}, []string{model.FieldTitle}); err != nil {
					t.Error(err)
				}
				if _, err := tg.ListGroups(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(tg.Users()); n != 200 {
		t.Errorf("%d users, want 200 (no duplicates)", n)
	}
}

// TestListUsersOrderAndMemberships: the listing is sorted by id however users were added (created,
// seeded out of order, deleted and seeded again under the same id), lists each user once with the
// sorted names of its groups, and keeps every field of a stored user.
func TestListUsersOrderAndMemberships(t *testing.T) {
	tg := New()
	full := model.User{ExternalID: "x:1", UserName: "u1", DisplayName: "D", GivenName: "G", FamilyName: "F",
		Email: "e@x", PhoneNumber: "+1", Title: "T", Department: "Dep", EmployeeNumber: "7", Manager: "x:2", Role: "r", Active: true}
	a := mustCreate(t, tg, full)
	b := mustCreate(t, tg, model.User{ExternalID: "x:2", UserName: "u2"})
	tg.Seed([]model.User{{TargetID: "a-first", UserName: "seeded"}}, nil)
	ga, err := tg.CreateGroup(ctx, "zeta", "")
	if err != nil {
		t.Fatal(err)
	}
	gb, err := tg.CreateGroup(ctx, "alpha", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{ga, gb, ga} { // the second add to zeta changes nothing
		if err := tg.AddMembers(ctx, g, []string{a}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tg.DeleteUser(ctx, b); err != nil {
		t.Fatal(err)
	}
	tg.Seed([]model.User{{TargetID: b, UserName: "again"}}, nil)
	users, err := tg.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range users {
		ids = append(ids, u.TargetID)
	}
	if want := []string{"a-first", a, b}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("listed ids %v, want %v", ids, want)
	}
	want := full
	want.TargetID, want.Groups = a, []string{"alpha", "zeta"}
	if !reflect.DeepEqual(users[1], want) {
		t.Errorf("listed %+v, want %+v", users[1], want)
	}
	if users[2].UserName != "again" || users[2].Groups != nil {
		t.Errorf("re-seeded user listed as %+v", users[2])
	}
	if err := tg.RemoveMembers(ctx, ga, []string{a, a}); err != nil {
		t.Fatal(err)
	}
	if users, _ := tg.ListUsers(ctx); !reflect.DeepEqual(users[1].Groups, []string{"alpha"}) {
		t.Errorf("after removal from zeta: groups %v", users[1].Groups)
	}
}
