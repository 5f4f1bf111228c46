package plan

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/directory-sync/directory-sync-operator/internal/model"
)

// AnonymizedUserName is the placeholder userName of an anonymized user: "deleted-" and the first
// 16 hex digits of the SHA-256 of its externalId (unique in practice, stable across runs).
func AnonymizedUserName(externalID string) string {
	sum := sha256.Sum256([]byte(externalID))
	return "deleted-" + hex.EncodeToString(sum[:8])
}

// AnonymizedUser is what an Anonymize action turns u into: every personal string field cleared,
// userName replaced by AnonymizedUserName, inactive, no groups. ExternalID and TargetID are kept so
// that the operator keeps owning the account and recognises it as anonymized on later runs (then
// it is left alone). Should the same directory record come back, the account is repopulated by
// ordinary updates.
func AnonymizedUser(u model.User) model.User {
	return model.User{
		ExternalID: u.ExternalID,
		TargetID:   u.TargetID,
		UserName:   AnonymizedUserName(u.ExternalID),
	}
}

// IsAnonymized reports whether u looks like the result of AnonymizedUser.
func IsAnonymized(u model.User) bool {
	return !u.Active && u.UserName == AnonymizedUserName(u.ExternalID)
}
