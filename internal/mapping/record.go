package mapping

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// recordTypeName is the CEL type of the record variable.
const recordTypeName = "directory_sync.Record"

var (
	recordType    = types.NewObjectType(recordTypeName)
	attrsType     = types.NewMapType(types.StringType, types.StringType)
	valuesType    = types.NewMapType(types.StringType, types.NewListType(types.StringType))
	recordPtrType = reflect.TypeFor[*model.Record]()
)

// recordField describes one field of the CEL record type and reads it from a model.Record.
type recordField struct {
	celType *types.Type
	get     func(r *model.Record) ref.Val
	isSet   func(r *model.Record) bool
}

var recordFields = map[string]recordField{
	"id": {types.StringType,
		func(r *model.Record) ref.Val { return types.String(r.ID) },
		func(r *model.Record) bool { return r.ID != "" }},
	"dn": {types.StringType,
		func(r *model.Record) ref.Val { return types.String(r.DN) },
		func(r *model.Record) bool { return r.DN != "" }},
	"attrs": {attrsType,
		func(r *model.Record) ref.Val { return attrsVal{r.Attributes} },
		func(r *model.Record) bool { return len(r.Attributes) > 0 }},
	"values": {valuesType,
		func(r *model.Record) ref.Val { return valuesVal{r.Attributes} },
		func(r *model.Record) bool { return len(r.Attributes) > 0 }},
	"groups": {types.NewListType(types.StringType),
		func(r *model.Record) ref.Val { return types.NewStringList(types.DefaultTypeAdapter, r.Groups) },
		func(r *model.Record) bool { return len(r.Groups) > 0 }},
	"disabled": {types.BoolType,
		func(r *model.Record) ref.Val { return types.Bool(r.Disabled) },
		func(r *model.Record) bool { return r.Disabled }},
	"managerId": {types.StringType,
		func(r *model.Record) ref.Val { return types.String(r.ManagerID) },
		func(r *model.Record) bool { return r.ManagerID != "" }},
}

// recordTypes registers the record type with the environment's type provider.
func recordTypes() cel.EnvOption {
	return func(env *cel.Env) (*cel.Env, error) {
		return cel.CustomTypeProvider(&recordProvider{Provider: env.CELTypeProvider()})(env)
	}
}

// recordProvider serves the record type and delegates every other type to the base provider.
type recordProvider struct {
	types.Provider
}

func (p *recordProvider) FindStructType(name string) (*types.Type, bool) {
	if name == recordTypeName {
		return types.NewTypeTypeWithParam(recordType), true
	}
	return p.Provider.FindStructType(name)
}

func (p *recordProvider) FindStructFieldNames(name string) ([]string, bool) {
	if name == recordTypeName {
		return []string{"id", "dn", "attrs", "values", "groups", "disabled", "managerId"}, true
	}
	return p.Provider.FindStructFieldNames(name)
}

func (p *recordProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if name != recordTypeName {
		return p.Provider.FindStructFieldType(name, field)
	}
	f, ok := recordFields[field]
	if !ok {
		return nil, false
	}
	return &types.FieldType{
		Type: f.celType,
		IsSet: func(obj any) bool {
			r, ok := obj.(*model.Record)
			return ok && f.isSet(r)
		},
		GetFrom: func(obj any) (any, error) {
			r, ok := obj.(*model.Record)
			if !ok {
				return nil, fmt.Errorf("unexpected record value %T", obj)
			}
			return f.get(r), nil
		},
	}, true
}

func (p *recordProvider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if name == recordTypeName {
		return types.NewErr("records cannot be constructed in expressions")
	}
	return p.Provider.NewValue(name, fields)
}

// recordVal is the CEL value of the record variable.
type recordVal struct{ r *model.Record }

func (v recordVal) ConvertToNative(t reflect.Type) (any, error) {
	if t == recordPtrType {
		return v.r, nil
	}
	return nil, fmt.Errorf("type conversion error from record to %v", t)
}

func (v recordVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return recordType
	}
	return types.NewErr("type conversion error from record to %v", t)
}

func (v recordVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(recordVal)
	return types.Bool(ok && o.r == v.r)
}

func (v recordVal) Type() ref.Type { return recordType }
func (v recordVal) Value() any     { return v.r }

// Get and IsSet serve field access when the record is used as a dyn value.
func (v recordVal) Get(field ref.Val) ref.Val {
	if f, ok := lookupRecordField(field); ok {
		return f.get(v.r)
	}
	return types.NewErr("no such field: %v", field)
}

func (v recordVal) IsSet(field ref.Val) ref.Val {
	if f, ok := lookupRecordField(field); ok {
		return types.Bool(f.isSet(v.r))
	}
	return types.NewErr("no such field: %v", field)
}

func lookupRecordField(field ref.Val) (recordField, bool) {
	name, ok := field.(types.String)
	if !ok {
		return recordField{}, false
	}
	f, ok := recordFields[string(name)]
	return f, ok
}

// findAttr returns the values of an attribute, matching its name case-insensitively (LDAP attribute
// names are case-insensitive) after trying the exact name. Attributes without values count as absent.
// When several names match only without case, the first of them in byte order that has values
// counts, whatever the map's order.
func findAttr(attrs map[string][]string, name string) ([]string, bool) {
	if v, ok := attrs[name]; ok {
		return v, len(v) > 0
	}
	var (
		found []string
		key   string
	)
	for k, v := range attrs {
		if len(v) > 0 && strings.EqualFold(k, name) && (found == nil || k < key) {
			found, key = v, k
		}
	}
	return found, found != nil
}

// attrsVal is record.attrs: attribute name to first value, read straight from the record so that
// evaluating an expression does not copy the attributes.
type attrsVal struct{ attrs map[string][]string }

func (v attrsVal) materialize() traits.Mapper {
	m := make(map[string]string, len(v.attrs))
	for k, vals := range v.attrs {
		if len(vals) > 0 {
			m[k] = vals[0]
		}
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, m)
}

func (v attrsVal) Find(key ref.Val) (ref.Val, bool) {
	name, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	vals, ok := findAttr(v.attrs, string(name))
	if !ok {
		return nil, false
	}
	return types.String(vals[0]), true
}

func (v attrsVal) Get(key ref.Val) ref.Val      { return getOrMissing(v, key) }
func (v attrsVal) Contains(key ref.Val) ref.Val { return containsKey(v, key) }
func (v attrsVal) Size() ref.Val                { return v.materialize().Size() }
func (v attrsVal) Iterator() traits.Iterator    { return v.materialize().Iterator() }
func (v attrsVal) Equal(o ref.Val) ref.Val      { return v.materialize().Equal(o) }
func (v attrsVal) Type() ref.Type               { return types.MapType }
func (v attrsVal) Value() any                   { return v.materialize().Value() }
func (v attrsVal) ConvertToNative(t reflect.Type) (any, error) {
	return v.materialize().ConvertToNative(t)
}
func (v attrsVal) ConvertToType(t ref.Type) ref.Val { return v.materialize().ConvertToType(t) }

// valuesVal is record.values: attribute name to all its values.
type valuesVal struct{ attrs map[string][]string }

func (v valuesVal) materialize() traits.Mapper {
	return types.NewDynamicMap(types.DefaultTypeAdapter, v.attrs)
}

func (v valuesVal) Find(key ref.Val) (ref.Val, bool) {
	name, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	vals, ok := findAttr(v.attrs, string(name))
	if !ok {
		return nil, false
	}
	return types.NewStringList(types.DefaultTypeAdapter, vals), true
}

func (v valuesVal) Get(key ref.Val) ref.Val      { return getOrMissing(v, key) }
func (v valuesVal) Contains(key ref.Val) ref.Val { return containsKey(v, key) }
func (v valuesVal) Size() ref.Val                { return v.materialize().Size() }
func (v valuesVal) Iterator() traits.Iterator    { return v.materialize().Iterator() }
func (v valuesVal) Equal(o ref.Val) ref.Val      { return v.materialize().Equal(o) }
func (v valuesVal) Type() ref.Type               { return types.MapType }
func (v valuesVal) Value() any                   { return v.attrs }
func (v valuesVal) ConvertToNative(t reflect.Type) (any, error) {
	return v.materialize().ConvertToNative(t)
}
func (v valuesVal) ConvertToType(t ref.Type) ref.Val { return v.materialize().ConvertToType(t) }

type finder interface {
	Find(key ref.Val) (ref.Val, bool)
}

func getOrMissing(m finder, key ref.Val) ref.Val {
	val, found := m.Find(key)
	if found {
		return val
	}
	if val != nil { // an error for a non-string key
		return val
	}
	return types.NewErr("no such key: %v", key)
}

func containsKey(m finder, key ref.Val) ref.Val {
	val, found := m.Find(key)
	if !found && val != nil {
		return val
	}
	return types.Bool(found)
}
