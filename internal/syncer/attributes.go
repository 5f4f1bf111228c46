package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
	"github.com/directory-sync/directory-sync-operator/internal/target"
	"github.com/directory-sync/directory-sync-operator/internal/textutil"
)

// checkFields checks the managed fields against the target's schemas (targets that publish them):
// caseExact attributes compare case-sensitively, and an attribute path the target does not define
// is reported and not written in this run (a named field is only reported: the operator has always
// written those). A target that cannot be asked is left to fail the listing that follows.
func checkFields(ctx context.Context, o *Options) []model.Problem {
	fc, ok := o.Target.(target.FieldChecker)
	if !ok {
		return nil
	}
	check, err := fc.CheckFields(ctx, o.Policy.ManagedFields)
	if err != nil {
		return nil
	}
	if len(check.CaseExact) > 0 {
		o.Policy.CaseExactFields = append(slices.Clip(o.Policy.CaseExactFields), check.CaseExact...)
	}
	var problems []model.Problem
	for _, u := range check.Unknown {
		rules := "rules"
		if o.Mapper != nil {
			rules = fmt.Sprintf("rule %s", strings.Join(o.Mapper.RulesFor(u.Field), ", "))
		}
		action := "not written in this run"
		if model.IsField(u.Field) {
			action = "written anyway"
		} else {
			o.Policy.ManagedFields = slices.DeleteFunc(slices.Clone(o.Policy.ManagedFields), func(f string) bool { return f == u.Field })
		}
		problems = append(problems, model.Problem{Subject: fmt.Sprintf("%s field %s", rules, u.Field),
			Reason:  model.ReasonUnknownAttribute,
			Message: fmt.Sprintf("the target's schema %s has %s; %s", u.Schema, strings.TrimPrefix(u.Reason, "schema "), action)})
	}
	return problems
}

// dropUnmanagedAttributes removes attribute values the run does not write (checkFields dropped
// them) from the desired users, so that no target creates users with them.
func dropUnmanagedAttributes(users []model.User, managed []string) {
	for i := range users {
		for path := range users[i].Attributes {
			if !slices.Contains(managed, path) {
				delete(users[i].Attributes, path)
			}
		}
	}
}

// prepareFields completes the policy from the mapper (fields written only on create) and tells the
// target which fields, attribute paths included, it reads and writes.
func prepareFields(o *Options) {
	if o.Mapper != nil && o.Policy.CreateOnlyFields == nil {
		o.Policy.CreateOnlyFields = o.Mapper.CreateOnlyFields()
	}
	if ft, ok := o.Target.(target.FieldsUser); ok {
		ft.UseFields(o.Policy.ManagedFields)
	}
}

// managerIndex finds a record's id by id or DN; built before the records are released.
type managerIndex struct {
	ids  map[string]struct{}
	byDN map[string]string // normalized DN → id
}

// indexManagers indexes records for resolveManagers; nil when no user names a manager.
func indexManagers(records []model.Record, users []model.User) *managerIndex {
	if !namesManager(users) {
		return nil
	}
	idx := newManagerIndex(len(records))
	idx.add(records)
	return idx
}

func newManagerIndex(size int) *managerIndex {
	return &managerIndex{ids: make(map[string]struct{}, size), byDN: make(map[string]string, size)}
}

// add indexes records by id and DN.
func (idx *managerIndex) add(records []model.Record) {
	for i := range records {
		idx.ids[records[i].ID] = struct{}{}
		if records[i].DN != "" {
			idx.byDN[normalizeDN(records[i].DN)] = records[i].ID
		}
	}
}

// resolveManagers turns each desired user's manager reference — the manager's directory id or DN,
// as a rule maps it (AD's manager attribute is a DN) — into the manager's externalId with the
// ownership prefix, which is what targets list and resolve. A reference that matches no record,
// or a manager who is not synced to the target, is reported and the manager is left as the target
// has it, so that the rest of the user's update still applies. users carry prefixed externalIds.
func resolveManagers(idx *managerIndex, users, actual []model.User, prefix string) []model.Problem {
	if idx == nil {
		return nil
	}
	ids, byDN := idx.ids, idx.byDN
	synced := make(map[string]struct{}, len(users)+len(actual))
	for i := range users {
		synced[users[i].ExternalID] = struct{}{}
	}
	actualManager := make(map[string]string, len(actual))
	for i := range actual {
		synced[actual[i].ExternalID] = struct{}{}
		actualManager[actual[i].ExternalID] = actual[i].Manager
	}
	var problems []model.Problem
	for i := range users {
		u := &users[i]
		ref := u.Manager
		if ref == "" {
			continue
		}
		id := ""
		if _, ok := ids[ref]; ok {
			id = ref
		} else if dnID, ok := byDN[normalizeDN(ref)]; ok {
			id = dnID
		}
		var why string
		switch {
		case id == "":
			why = "matches no directory record (by id or DN)"
		case !has(synced, plan.UserExternalID(prefix, id)):
			why = "is a directory record that is not synced to the target (out of scope or skipped)"
		default:
			u.Manager = plan.UserExternalID(prefix, id)
			continue
		}
		u.Manager = actualManager[u.ExternalID]
		subject := u.UserName
		if subject == "" {
			subject = u.ExternalID
		}
		problems = append(problems, model.Problem{Subject: subject, Reason: model.ReasonUnresolvedManager,
			Message: fmt.Sprintf("manager reference %s %s; the manager is left as it is and the rest is synced", quoteShort(ref), why)})
	}
	return problems
}

func has(m map[string]struct{}, k string) bool { _, ok := m[k]; return ok }

// normalizeDN makes DNs that differ only in case or in spaces around separators equal.
func normalizeDN(dn string) string {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			parts[i] = strings.ToLower(strings.TrimSpace(p))
			continue
		}
		parts[i] = strings.ToLower(strings.TrimSpace(k)) + "=" + strings.ToLower(strings.TrimSpace(v))
	}
	return strings.Join(parts, ",")
}

func quoteShort(s string) string {
	if len(s) > 120 {
		s = strings.ToValidUTF8(s[:120], "") + "…"
	}
	return fmt.Sprintf("%q", s)
}

// partialUpdate reports an update a target applied except for some fields, as a problem.
func partialUpdate(act plan.Action, err error) (model.Problem, bool) {
	var pe *target.PartialUpdateError
	if !errors.As(err, &pe) {
		return model.Problem{}, false
	}
	reason := model.ReasonTargetError
	if slices.Contains(pe.Fields, model.FieldManager) {
		reason = model.ReasonUnresolvedManager
	}
	subject := act.UserName
	if subject == "" {
		subject = act.ExternalID
	}
	return model.Problem{Subject: subject, Reason: reason,
		Message: fmt.Sprintf("updated except %s: %s", strings.Join(pe.Fields, ", "), textutil.Truncate(pe.Err.Error(), 300))}, true
}
