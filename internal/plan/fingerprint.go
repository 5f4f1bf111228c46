package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// Fingerprint identifies what a plan that exceeds a limit would do: a hash of the kind, externalId
// and group of each action of the given kinds (those whose limit is exceeded), in sorted order. An
// approval names it (Policy.ApprovedFingerprint), so that it lifts the block of exactly that plan
// and of no later, different one. Empty when no action is of those kinds.
func Fingerprint(actions []Action, kinds []Kind) string {
	var keys []string
	for _, a := range actions {
		if slices.Contains(kinds, a.Kind) {
			keys = append(keys, string(a.Kind)+"\x00"+a.ExternalID+"\x00"+a.Group)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// OffboardingFingerprint is the Fingerprint of a plan blocked by the deletion threshold.
func OffboardingFingerprint(actions []Action) string {
	return Fingerprint(actions, limitedKinds([]string{ReasonDeletionThresholdExceeded}))
}

// limitedKinds are the action kinds the exceeded limits (block reasons) count.
func limitedKinds(reasons []string) []Kind {
	var kinds []Kind
	for _, r := range reasons {
		switch r {
		case ReasonDeletionThresholdExceeded:
			kinds = append(kinds, KindSuspend, KindDelete, KindAnonymize)
		case ReasonCreateThresholdExceeded:
			kinds = append(kinds, KindCreate)
		case ReasonAdoptionThresholdExceeded:
			kinds = append(kinds, KindAdopt, KindAdoptGroup)
		case ReasonMembershipRemovalThresholdExceeded:
			kinds = append(kinds, KindRemoveMember)
		}
	}
	return kinds
}
