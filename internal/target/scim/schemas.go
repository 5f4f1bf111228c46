package scim

import (
	"context"
	"strings"

	"github.com/directory-sync/directory-sync-operator/internal/model"
	"github.com/directory-sync/directory-sync-operator/internal/target"
)

// fieldPaths are the attribute paths the named fields write (see model.Aliases); groups are
// memberships, not a User attribute.
var fieldPaths = func() map[string]string {
	m := map[string]string{model.FieldRole: "roles.value", model.FieldActive: "active",
		model.FieldManager: model.SchemaEnterpriseUser + ":manager.value"}
	for f, p := range model.Aliases {
		if _, ok := m[f]; !ok {
			m[f] = p
		}
	}
	return m
}()

// CheckFields looks the managed fields up in the target's /Schemas (fetched once per client, see
// Discover): a field whose schema or attribute the target does not define is Unknown, and one the
// schema marks caseExact is CaseExact. Without published schemas nothing is checked; a schema
// that is not published (the target may still accept its attributes) only makes its custom
// attributes unknown, never the core or enterprise ones.
func (t *Target) CheckFields(ctx context.Context, fields []string) (target.FieldCheck, error) {
	var out target.FieldCheck
	caps, err := t.c.Discover(ctx)
	if err != nil || len(caps.Schemas) == 0 {
		return out, err
	}
	for _, f := range fields {
		ps, ok := fieldPaths[f]
		if !ok {
			if model.IsField(f) {
				continue // groups
			}
			ps = f
		}
		p, err := model.ParsePath(ps)
		if err != nil {
			continue // reported by the mapping compiler
		}
		schemaID := p.Schema
		if schemaID == "" {
			schemaID = SchemaUser
		}
		s := caps.Schema(schemaID)
		if s == nil {
			if known, _ := p.Known(); !known && !publishedExtension(caps, schemaID) {
				out.Unknown = append(out.Unknown, target.UnknownField{Field: f, Schema: schemaID, Reason: "schema not published by the target"})
			}
			continue
		}
		a := findSchemaAttr(s.Attributes, p.Attr)
		if a != nil && p.Sub != "" {
			a = findSchemaAttr(a.SubAttributes, p.Sub)
		}
		if a == nil {
			name := p.Attr
			if p.Sub != "" {
				name += "." + p.Sub
			}
			out.Unknown = append(out.Unknown, target.UnknownField{Field: f, Schema: schemaID, Reason: "no attribute " + name})
			continue
		}
		if bool(a.CaseExact) && (a.Type == "" || a.Type == "string" || a.Type == "reference" || a.Type == "binary") {
			out.CaseExact = append(out.CaseExact, f)
		}
	}
	return out, nil
}

func publishedExtension(caps *Capabilities, urn string) bool {
	for _, rt := range caps.ResourceTypes {
		for _, e := range rt.SchemaExtensions {
			if strings.EqualFold(e.Schema, urn) {
				return true
			}
		}
	}
	return false
}

func findSchemaAttr(attrs []SchemaAttribute, name string) *SchemaAttribute {
	for i := range attrs {
		if strings.EqualFold(attrs[i].Name, name) {
			return &attrs[i]
		}
	}
	return nil
}
