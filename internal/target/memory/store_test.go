package memory

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

const costCenter = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"

// TestListedValuesAreTheCallersOwn: listed users and groups share backing arrays and strings, so
// what a caller does to one listing must not reach another user, group or the store.
func TestListedValuesAreTheCallersOwn(t *testing.T) {
	tg := New()
	a := mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "a",
		Attributes: map[string]model.Value{costCenter: {Kind: model.KindString, Str: "cc"}}})
	b := mustCreate(t, tg, model.User{ExternalID: "x:2", UserName: "b"})
	g1, _ := tg.CreateGroup(ctx, "one", "")
	g2, _ := tg.CreateGroup(ctx, "two", "")
	for _, g := range []string{g1, g2} {
		if err := tg.AddMembers(ctx, g, []string{a, b}); err != nil {
			t.Fatal(err)
		}
	}
	users, groups := tg.Users(), tg.Groups()
	_ = append(users[0].Groups, "spilled")
	users[0].Groups[0] = "renamed"
	users[0].Attributes[costCenter] = model.Value{Kind: model.KindString, Str: "changed"}
	_ = append(groups[0].Members, "spilled")
	if !reflect.DeepEqual(users[1].Groups, []string{"one", "two"}) || !reflect.DeepEqual(groups[1].Members, []string{a, b}) {
		t.Errorf("a change to one listed entry reached another: %v %v", users[1].Groups, groups[1].Members)
	}
	again := tg.Users()
	if !reflect.DeepEqual(again[0].Groups, []string{"one", "two"}) || again[0].Attr(costCenter).Str != "cc" {
		t.Errorf("a change to a listing reached the store: %+v", again[0])
	}
	if again[1].Attributes != nil {
		t.Errorf("a user without attributes is listed with %v", again[1].Attributes)
	}
}

// TestNormalisedUserNamesStayUniqueAndFree: the userName index follows what the normaliser stored,
// so renames and deletes free exactly the names they should.
func TestNormalisedUserNamesStayUniqueAndFree(t *testing.T) {
	tg := New()
	tg.SetNormalizer(func(u *model.User) { u.UserName = strings.ToLower(u.UserName) })
	id := mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "Alice"})
	if u := tg.Users()[0]; u.UserName != "alice" {
		t.Fatalf("stored userName %q", u.UserName)
	}
	if _, err := tg.CreateUser(ctx, model.User{ExternalID: "x:2", UserName: "ALICE"}); !errors.Is(err, ErrConflict) {
		t.Errorf("create ALICE: %v, want ErrConflict", err)
	}
	if err := tg.UpdateUser(ctx, id, model.User{UserName: "Bob"}, []string{model.FieldUserName}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, tg, model.User{ExternalID: "x:2", UserName: "ALICE"}) // freed by the rename
	if err := tg.DeleteUser(ctx, id); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, tg, model.User{ExternalID: "x:3", UserName: "bob"}) // freed by the delete
	if got := len(tg.Users()); got != 2 {
		t.Errorf("%d users, want 2", got)
	}
}

// TestCreateUserAnswersWithTheFirstHolder: when several users hold one externalId (Seed, or an
// update onto a held one), CreateUser names the one that took it first, then the next.
func TestCreateUserAnswersWithTheFirstHolder(t *testing.T) {
	tg := New()
	tg.Seed([]model.User{{TargetID: "u9", ExternalID: "x:1", UserName: "a"}, {TargetID: "u1", ExternalID: "x:1", UserName: "b"}}, nil)
	c := mustCreate(t, tg, model.User{ExternalID: "x:2", UserName: "c"})
	if err := tg.UpdateUser(ctx, c, model.User{ExternalID: "x:1"}, []string{model.FieldExternalID}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"u9", "u1", c} {
		if got := mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "new"}); got != want {
			t.Fatalf("CreateUser = %s, want %s", got, want)
		}
		if err := tg.DeleteUser(ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustCreate(t, tg, model.User{ExternalID: "x:1", UserName: "new"}); slices.Contains([]string{"u9", "u1", c}, got) {
		t.Errorf("CreateUser returned the deleted %s", got)
	}
}

// TestGroupMembersListedInIDOrder: members are listed sorted by id whatever the order of seeding,
// adding and id width (u10000000 sorts before u9999999), and freed memberships are reused.
func TestGroupMembersListedInIDOrder(t *testing.T) {
	tg := New()
	tg.Seed([]model.User{{TargetID: "u9999999", UserName: "a"}, {TargetID: "u10000000", UserName: "b"}, {TargetID: "m", UserName: "c"}}, nil)
	d := mustCreate(t, tg, model.User{UserName: "d"})
	g, _ := tg.CreateGroup(ctx, "g", "")
	empty, _ := tg.CreateGroup(ctx, "empty", "")
	if err := tg.AddMembers(ctx, g, []string{"u9999999", d, "m", "u10000000"}); err != nil {
		t.Fatal(err)
	}
	if err := tg.DeleteUser(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	e := mustCreate(t, tg, model.User{UserName: "e"})
	if err := tg.AddMembers(ctx, g, []string{e}); err != nil {
		t.Fatal(err)
	}
	groups := tg.Groups()
	want := []model.Group{{TargetID: g, DisplayName: "g", Members: slices.Sorted(slices.Values([]string{d, e, "u10000000", "u9999999"}))},
		{TargetID: empty, DisplayName: "empty"}}
	slices.SortFunc(want, func(a, b model.Group) int { return strings.Compare(a.TargetID, b.TargetID) })
	if !reflect.DeepEqual(groups, want) {
		t.Errorf("groups %+v\nwant %+v", groups, want)
	}
	var ids []string
	for _, u := range tg.Users() {
		ids = append(ids, u.TargetID)
	}
	if !slices.IsSorted(ids) || len(ids) != 4 {
		t.Errorf("users listed as %v", ids)
	}
}

func BenchmarkListUsersAndGroups(b *testing.B) {
	const users, groups = 200_000, 400
	tg := New()
	gids := make([]string, groups)
	for g := range gids {
		gids[g], _ = tg.CreateGroup(ctx, "grp-"+strconv.Itoa(g), "")
	}
	members := make([][]string, groups)
	for i := range users {
		n := strconv.Itoa(i)
		id, err := tg.CreateUser(ctx, model.User{ExternalID: "bench:00000000-0000-4000-8000-" + n, UserName: "user" + n,
			DisplayName: "Given" + n + " Family", GivenName: "Given" + n, FamilyName: "Family", Email: "user" + n + "@example.com",
			PhoneNumber: "+1 555 " + n, Title: "Title", Department: "Department", EmployeeNumber: n, Active: true})
		if err != nil {
			b.Fatal(err)
		}
		members[i%groups] = append(members[i%groups], id)
		members[(i*7919+13)%groups] = append(members[(i*7919+13)%groups], id)
	}
	for g, m := range members {
		if err := tg.AddMembers(ctx, gids[g], m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		us, _ := tg.ListUsers(ctx)
		gs, _ := tg.ListGroups(ctx)
		if len(us) != users || len(gs) != groups {
			b.Fatal(len(us), len(gs))
		}
	}
}

// TestLongFieldsRoundTrip: a user over 64 KiB is packed behind a header of uvarint lengths, long
// ones taking several bytes.
func TestLongFieldsRoundTrip(t *testing.T) {
	tg := New()
	u := model.User{ExternalID: "x:1", UserName: "a", Title: strings.Repeat("t", 300), DisplayName: strings.Repeat("é", 70_000),
		Role: strings.Repeat("r", 127), Manager: strings.Repeat("m", 128), Active: true}
	u.TargetID = mustCreate(t, tg, u)
	if got := tg.Users(); len(got) != 1 || !reflect.DeepEqual(got[0], u) {
		t.Fatalf("listed %d users; first differs from what was stored", len(got))
	}
	if err := tg.UpdateUser(ctx, u.TargetID, model.User{Title: "short"}, []string{model.FieldTitle}); err != nil {
		t.Fatal(err)
	}
	u.Title = "short"
	if got := tg.Users()[0]; !reflect.DeepEqual(got, u) {
		t.Error("after update: differs")
	}
	// back under 64 KiB: packed without a header again
	if err := tg.UpdateUser(ctx, u.TargetID, model.User{DisplayName: "Ann"}, []string{model.FieldDisplayName}); err != nil {
		t.Fatal(err)
	}
	u.DisplayName = "Ann"
	if got := tg.Users()[0]; !reflect.DeepEqual(got, u) || tg.recs[0].ends[0] == bigRec {
		t.Errorf("after shortening: %+v", got)
	}
}

// TestUserInManyGroups: a user's first two memberships are kept inline, the rest linked; adding,
// removing and deleting across both keep the listings exact.
func TestUserInManyGroups(t *testing.T) {
	tg := New()
	a := mustCreate(t, tg, model.User{UserName: "a"})
	b := mustCreate(t, tg, model.User{UserName: "b"})
	var gids, names []string
	for _, name := range []string{"e", "d", "c", "b", "a"} {
		g, err := tg.CreateGroup(ctx, name, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.AddMembers(ctx, g, []string{a, b, a}); err != nil {
			t.Fatal(err)
		}
		gids, names = append(gids, g), append([]string{name}, names...)
	}
	check := func(step string, wantA []string, members map[string][]string) {
		t.Helper()
		users := tg.Users()
		if !reflect.DeepEqual(users[0].Groups, wantA) {
			t.Errorf("%s: a's groups %v, want %v", step, users[0].Groups, wantA)
		}
		for _, g := range tg.Groups() {
			if !reflect.DeepEqual(g.Members, members[g.TargetID]) {
				t.Errorf("%s: group %s members %v, want %v", step, g.DisplayName, g.Members, members[g.TargetID])
			}
		}
	}
	both := map[string][]string{}
	for _, g := range gids {
		both[g] = []string{a, b}
	}
	check("all", names, both)
	// leave e (inline) and b (linked), then join e again: it reuses a free slot
	if err := tg.RemoveMembers(ctx, gids[0], []string{a}); err != nil {
		t.Fatal(err)
	}
	if err := tg.RemoveMembers(ctx, gids[3], []string{a}); err != nil {
		t.Fatal(err)
	}
	both[gids[0]], both[gids[3]] = []string{b}, []string{b}
	check("removed", []string{"a", "c", "d"}, both)
	if err := tg.AddMembers(ctx, gids[0], []string{a}); err != nil {
		t.Fatal(err)
	}
	both[gids[0]] = []string{a, b}
	check("re-added", []string{"a", "c", "d", "e"}, both)
	if err := tg.DeleteUser(ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, g := range gids {
		both[g] = []string{b}
	}
	users := tg.Users()
	if len(users) != 1 || !reflect.DeepEqual(users[0].Groups, names) {
		t.Errorf("after deleting a: %+v", users)
	}
	for _, g := range tg.Groups() {
		if !reflect.DeepEqual(g.Members, both[g.TargetID]) {
			t.Errorf("after deleting a: group %s members %v", g.DisplayName, g.Members)
		}
	}
}

// TestChunksAreCompacted: rewritten and deleted users leave garbage in the chunks; once it is most
// of them, the live users are repacked. Listings taken before keep their values.
func TestChunksAreCompacted(t *testing.T) {
	tg := New()
	const n = 3000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = mustCreate(t, tg, model.User{UserName: "u" + strconv.Itoa(i), Title: strings.Repeat("a", 1000)})
	}
	before := tg.Users()
	for i, id := range ids {
		if err := tg.UpdateUser(ctx, id, model.User{Title: strings.Repeat("b", 1000+i%3)}, []string{model.FieldTitle}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids[:n/2] {
		if err := tg.DeleteUser(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// 6 MB were written; without compaction all of them would still be packed
	if 2*tg.garbage >= tg.packed || tg.packed >= 2*n*1000 {
		t.Errorf("not compacted: %d of %d packed bytes are garbage", tg.garbage, tg.packed)
	}
	after := tg.Users()
	if len(after) != n/2 {
		t.Fatalf("%d users listed, want %d", len(after), n/2)
	}
	for k, u := range after {
		i := n/2 + k
		if u.TargetID != ids[i] || u.UserName != "u"+strconv.Itoa(i) || u.Title != strings.Repeat("b", 1000+i%3) {
			t.Fatalf("user %d listed as %s %s %d", i, u.TargetID, u.UserName, len(u.Title))
		}
	}
	for i, u := range before {
		if u.TargetID != ids[i] || u.UserName != "u"+strconv.Itoa(i) || u.Title != strings.Repeat("a", 1000) {
			t.Fatalf("an earlier listing changed: user %d now %s %s %q...", i, u.TargetID, u.UserName, u.Title[:3])
		}
	}
	mustCreate(t, tg, model.User{UserName: "u0"}) // the deleted name is free, the index intact
	if _, err := tg.CreateUser(ctx, model.User{UserName: "U2999"}); !errors.Is(err, ErrConflict) {
		t.Errorf("create U2999 after compaction: %v, want ErrConflict", err)
	}
}
