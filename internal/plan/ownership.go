package plan

import "strings"

// Ownership markers. A SyncTarget's marker (Policy.ExternalIDPrefix) ends with ':'. The externalId of
// a user is the marker followed by the directory id with ':' and '%' percent-encoded, so the part
// after the marker never holds a ':'; the externalId of a group is the marker, "group:" and the
// group's name. Ownership is exact on that shape, never a mere string prefix: "hr:" does not own
// "hr:eu:42" nor "hr:eu:group:x".

const groupMarker = "group:"

// idEscaper encodes the characters that would make a directory id look like a longer marker.
var idEscaper = strings.NewReplacer("%", "%25", ":", "%3A")

// UserExternalID is the externalId of the user of directory id under marker.
func UserExternalID(marker, id string) string {
	if strings.ContainsAny(id, "%:") {
		id = idEscaper.Replace(id)
	}
	return marker + id
}

// GroupExternalID is the externalId of a group the operator creates; it makes the group managed.
func GroupExternalID(marker, displayName string) string {
	return marker + groupMarker + displayName
}

// OwnsUser reports whether a target user with this externalId belongs to marker.
func OwnsUser(marker, externalID string) bool {
	id, ok := strings.CutPrefix(externalID, marker)
	return ok && id != "" && !strings.Contains(id, ":")
}

// OwnsGroup reports whether a target group with this externalId belongs to marker.
func OwnsGroup(marker, externalID string) bool {
	name, ok := strings.CutPrefix(externalID, marker+groupMarker)
	return ok && name != ""
}

// MarkersOverlap reports whether two markers could claim the same externalIds: they are equal or
// one is a prefix of the other (e.g. "hr:" and "hr:group:"). Two SyncTargets writing to one app
// must use markers that do not overlap.
func MarkersOverlap(a, b string) bool {
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}
