package connect

import (
	"net"
	"net/url"
	"strings"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	"github.com/directory-sync/directory-sync-operator/internal/plan"
)

// DefaultMarker is the ownership marker of a SyncTarget that sets no spec.externalIDPrefix.
const DefaultMarker = "dirsync:"

// Marker returns the ownership marker a SyncTarget writes with.
func Marker(st *v1.SyncTarget) string {
	if st.Spec.ExternalIDPrefix == "" {
		return DefaultMarker
	}
	return st.Spec.ExternalIDPrefix
}

// AppKey identifies the app behind a SCIM base URL: scheme and host lower-case, the scheme's
// default port dropped, trailing slashes dropped. A URL that does not parse is its own key.
func AppKey(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.TrimSpace(raw), "/")
	}
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	key := scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		key += "?" + u.RawQuery
	}
	return key
}

// Overlapping returns the SyncTargets of others, other than st itself and those being deleted,
// that write to the same app as st with a marker overlapping st's (equal, or one a prefix of the
// other): they could claim each other's users. A SyncTarget without a single target type writes
// nowhere and overlaps none.
func Overlapping(st *v1.SyncTarget, others []v1.SyncTarget) []*v1.SyncTarget {
	key, marker := TargetAppKey(&st.Spec), Marker(st)
	if key == "" {
		return nil
	}
	var out []*v1.SyncTarget
	for i := range others {
		o := &others[i]
		if (o.Namespace == st.Namespace && o.Name == st.Name) || !o.DeletionTimestamp.IsZero() {
			continue
		}
		if TargetAppKey(&o.Spec) == key && plan.MarkersOverlap(Marker(o), marker) {
			out = append(out, o)
		}
	}
	return out
}

// OwnershipConflict returns the SyncTarget that claims st's users first: the earliest of the
// overlapping SyncTargets (see Overlapping) that were created before st (creationTimestamp, then
// namespace/name). st must write nothing while it is not nil. A SyncTarget not created yet (no
// creationTimestamp) is later than every existing one.
func OwnershipConflict(st *v1.SyncTarget, others []v1.SyncTarget) *v1.SyncTarget {
	var first *v1.SyncTarget
	for _, o := range Overlapping(st, others) {
		if earlier(o, st) && (first == nil || earlier(o, first)) {
			first = o
		}
	}
	return first
}

func earlier(a, b *v1.SyncTarget) bool {
	at, bt := a.CreationTimestamp, b.CreationTimestamp
	switch {
	case at.IsZero() != bt.IsZero():
		return bt.IsZero()
	case !at.Equal(&bt):
		return at.Before(&bt)
	case a.Namespace != b.Namespace:
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}
