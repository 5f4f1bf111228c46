package ldap

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// Find reads the people in scope whose ID is key or whose attribute (one of attrs) equals key, with
// one targeted search instead of a full read: (&<userFilter>(|(<id>=key)(<attr>=key)...)). Groups and
// managers are resolved as in Read. It implements directory.Finder for provision-on-demand.
func (s *Source) Find(ctx context.Context, key string, attrs []string) ([]model.Record, error) {
	base, err := s.userFilter("")
	if err != nil {
		return nil, err
	}
	var or strings.Builder
	or.WriteString("(|")
	if id := idFilterValue(s.cfg.IDAttribute, key); id != "" {
		fmt.Fprintf(&or, "(%s=%s)", s.cfg.IDAttribute, id)
	}
	for _, a := range attrs {
		if validAttributeName(a) {
			fmt.Fprintf(&or, "(%s=%s)", a, ldap.EscapeFilter(key))
		}
	}
	if or.Len() == 2 {
		return nil, nil // nothing key could match
	}
	or.WriteString(")")
	filter := "(&" + base + or.String() + ")"
	if _, err := ldap.CompileFilter(filter); err != nil {
		return nil, fmt.Errorf("targeted search filter does not compile: %w", err)
	}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var recs []model.Record
	var extras []entryExtra
	err = s.pagedUserSearch(ctx, c, s.cfg.BaseDN, scopes[s.cfg.Scope], filter, s.userAttributes(), func(e *entry) {
		if rec, problem := toRecord(s.cfg, e); problem == nil {
			recs = append(recs, rec)
			extras = append(extras, s.extraOf(e))
		}
	})
	if err != nil {
		return nil, err
	}
	if err := s.resolveGroups(ctx, c, recs, extras); err != nil {
		return nil, err
	}
	if err := s.resolveManagers(ctx, c, recs, extras); err != nil {
		return nil, err
	}
	return recs, nil
}

// idFilterValue is key as an escaped filter value of the ID attribute: objectGUID is compared in its
// binary form, so a key that is not a GUID cannot match it ("").
func idFilterValue(idAttr, key string) string {
	if !strings.EqualFold(idAttr, "objectGUID") {
		return ldap.EscapeFilter(key)
	}
	b, err := EncodeGUID(key)
	if err != nil {
		return ""
	}
	var out strings.Builder
	for _, c := range b {
		fmt.Fprintf(&out, "\\%02x", c)
	}
	return out.String()
}
