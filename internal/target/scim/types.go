package scim

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Schema and message URNs (RFC 7643 §8.7, RFC 7644 §3).
const (
	SchemaUser           = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	MessagePatchOp       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	MessageListResponse  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// Bool decodes JSON true/false and, tolerantly, the strings "true"/"false" (any case) that some
// targets send; anything else decodes as false.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (b *Bool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(data)), `"`)
	v, err := strconv.ParseBool(strings.ToLower(s))
	*b = Bool(err == nil && v)
	return nil
}

// BoolPtr returns a pointer to a Bool.
func BoolPtr(v bool) *Bool { b := Bool(v); return &b }

// User is a SCIM User resource with the EnterpriseUser extension. Unknown attributes are ignored on
// decoding; zero values are omitted on encoding.
type User struct {
	Schemas      []string        `json:"schemas,omitempty"`
	ID           string          `json:"id,omitempty"`
	ExternalID   string          `json:"externalId,omitempty"`
	UserName     string          `json:"userName,omitempty"`
	Name         *Name           `json:"name,omitempty"`
	DisplayName  string          `json:"displayName,omitempty"`
	Title        string          `json:"title,omitempty"`
	Active       *Bool           `json:"active,omitempty"`
	Emails       []MultiValued   `json:"emails,omitempty"`
	PhoneNumbers []MultiValued   `json:"phoneNumbers,omitempty"`
	Roles        []MultiValued   `json:"roles,omitempty"`
	Groups       []MultiValued   `json:"groups,omitempty"` // read-only: the groups the user is in
	Enterprise   *EnterpriseUser `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
	Meta         *Meta           `json:"meta,omitempty"`
	// Extra holds further attributes to send (attribute paths of mapping rules), merged into the
	// encoding: objects merge, lists append. Not decoded.
	Extra map[string]any `json:"-"`
}

// MarshalJSON encodes u with Extra merged in.
func (u User) MarshalJSON() ([]byte, error) {
	type plainUser User
	b, err := json.Marshal(plainUser(u))
	if err != nil || len(u.Extra) == 0 {
		return b, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	extra, _ := plain(u.Extra).(map[string]any)
	mergeJSON(m, extra)
	return json.Marshal(m)
}

func mergeJSON(dst, src map[string]any) {
	for k, v := range src {
		key, ok := lookupKey(dst, k)
		if !ok {
			dst[k] = v
			continue
		}
		switch cur := dst[key].(type) {
		case map[string]any:
			if sv, ok := v.(map[string]any); ok {
				mergeJSON(cur, sv)
				continue
			}
		case []any:
			if sv, ok := v.([]any); ok {
				dst[key] = append(cur, sv...)
				continue
			}
		}
		dst[key] = v
	}
}

// IsActive returns the active flag; a user without one counts as active.
func (u *User) IsActive() bool { return u.Active == nil || bool(*u.Active) }

// PrimaryValue returns the value of the primary entry of a multi-valued attribute, else of the
// first entry whose type is typ (when typ is not empty), else of the first entry.
func PrimaryValue(values []MultiValued, typ string) string {
	for _, v := range values {
		if v.Primary {
			return v.Value
		}
	}
	for _, v := range values {
		if typ != "" && strings.EqualFold(v.Type, typ) {
			return v.Value
		}
	}
	if len(values) > 0 {
		return values[0].Value
	}
	return ""
}

// Name is the User "name" complex attribute.
type Name struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// MultiValued is an entry of emails, phoneNumbers, roles or groups.
type MultiValued struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary Bool   `json:"primary,omitempty"`
}

// EnterpriseUser is the urn:ietf:params:scim:schemas:extension:enterprise:2.0:User extension.
type EnterpriseUser struct {
	EmployeeNumber string   `json:"employeeNumber,omitempty"`
	Department     string   `json:"department,omitempty"`
	Manager        *Manager `json:"manager,omitempty"`
}

// Manager references the manager's User by target id.
type Manager struct {
	Value       string `json:"value,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// Meta is the resource metadata.
type Meta struct {
	ResourceType string `json:"resourceType,omitempty"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
	Version      string `json:"version,omitempty"`
}

// Group is a SCIM Group resource.
type Group struct {
	Schemas     []string `json:"schemas,omitempty"`
	ID          string   `json:"id,omitempty"`
	ExternalID  string   `json:"externalId,omitempty"`
	DisplayName string   `json:"displayName,omitempty"`
	Members     []Member `json:"members,omitempty"`
	Meta        *Meta    `json:"meta,omitempty"`
}

// Member is an entry of Group "members".
type Member struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref,omitempty"`
	Type    string `json:"type,omitempty"`
}

// ListResponse is a page of a query (RFC 7644 §3.4.2).
type ListResponse[T any] struct {
	Schemas      []string `json:"schemas,omitempty"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []T      `json:"Resources"`
}

// PatchOp is one operation of a PATCH request (RFC 7644 §3.5.2).
type PatchOp struct {
	Op    string `json:"op"` // "add", "remove" or "replace"
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []PatchOp `json:"Operations"`
}

// ServiceProviderConfig is the subset of /ServiceProviderConfig (RFC 7643 §5) the client uses.
type ServiceProviderConfig struct {
	Patch Supported `json:"patch"`
	Bulk  struct {
		Supported      Bool `json:"supported"`
		MaxOperations  int  `json:"maxOperations"`
		MaxPayloadSize int  `json:"maxPayloadSize"`
	} `json:"bulk"`
	Filter struct {
		Supported  Bool `json:"supported"`
		MaxResults int  `json:"maxResults"`
	} `json:"filter"`
	ETag Supported `json:"etag"`
	Sort Supported `json:"sort"`
}

// Supported is a {"supported": bool} capability.
type Supported struct {
	Supported Bool `json:"supported"`
}

// errorBody is a SCIM error message; status is a string per RFC 7644 but some targets send a number.
type errorBody struct {
	Status   json.RawMessage `json:"status"`
	ScimType string          `json:"scimType"`
	Detail   string          `json:"detail"`
}
