package ldap

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// An incremental read asks for the entries whose Incremental.Attribute is at or after the mark of
// the previous read. It turns itself into a full read (a Complete snapshot) when the mark cannot
// be trusted or the delta would miss something:
//
//   - uSNChanged counts per domain controller: the mark records the DC (its invocationId) and the
//     read is full when another DC answers, or when the DC's highestCommittedUSN is below the mark
//     (a restore or a rebuilt DC);
//   - a membership change changes the group, not the member (AD keeps memberOf as a back link):
//     ReadDelta reads again the people of the changed groups (changedgroups.go); Read, which has
//     no snapshot to say who was in them, reads everything when a group changed.
//
// Deleted entries are never in a delta; the next full read (every FullEvery) notices them.

// mark is a parsed high-water mark: the attribute value and, for uSNChanged, the DC that counted it.
type mark struct {
	value string
	dc    string
}

// parseMark splits "12345@<invocationId>" (uSNChanged) or returns a plain value as is.
func parseMark(s string) mark {
	if v, dc, ok := strings.Cut(s, "@"); ok {
		return mark{value: v, dc: dc}
	}
	return mark{value: s}
}

func (m mark) String() string {
	if m.dc == "" {
		return m.value
	}
	return m.value + "@" + m.dc
}

func isUSN(attr string) bool { return strings.EqualFold(attr, "uSNChanged") }

// dcIdentity returns the answering DC's invocationId (which changes when a DC is restored), or its
// dsServiceName when the invocationId cannot be read; "" for servers that are not AD.
func (s *Source) dcIdentity(c *conn) string {
	if c.root.dsServiceName == "" {
		return ""
	}
	req := ldap.NewSearchRequest(c.root.dsServiceName, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, s.timeLimit(), false,
		"(objectClass=*)", []string{"invocationId"}, nil)
	if res, err := c.Search(req); err == nil && len(res.Entries) == 1 {
		if id, err := DecodeGUID(res.Entries[0].GetEqualFoldRawAttributeValue("invocationId")); err == nil {
			return id
		}
	}
	return c.root.dsServiceName
}

// startMark is the mark a read starting now reaches: for uSNChanged one past the DC's
// highestCommittedUSN before the search, so the next read's (uSNChanged>=mark) sees only later
// changes (entries changed during this read are read again next time, never missed).
func (s *Source) startMark(c *conn, dc string) (mark, bool) {
	h, ok := new(big.Int).SetString(c.root.highestUSN, 10)
	if !isUSN(s.cfg.Incremental.Attribute) || !ok {
		return mark{}, false
	}
	return mark{value: h.Add(h, big.NewInt(1)).String(), dc: dc}, true
}

// fullReadReason says why an incremental read since m must read everything ("" when it need not).
func (s *Source) fullReadReason(c *conn, m mark, dc string) string {
	if isUSN(s.cfg.Incremental.Attribute) {
		if m.dc == "" || m.dc != dc {
			return fmt.Sprintf("the mark was counted by another domain controller (%q, now %q)", m.dc, dc)
		}
		if h, ok := new(big.Int).SetString(c.root.highestUSN, 10); ok {
			if v, ok := new(big.Int).SetString(m.value, 10); ok && h.Cmp(v.Sub(v, big.NewInt(1))) < 0 {
				return "the domain controller's highestCommittedUSN went back below the mark"
			}
		}
	}
	return ""
}
