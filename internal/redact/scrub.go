package redact

import (
	"encoding/base64"
	"strings"
)

// minSecretLen is the shortest secret value that is scrubbed: shorter ones (an empty key, "a")
// would match everywhere and say more by their absence than by their presence.
const minSecretLen = 4

// Scrub replaces every occurrence of a secret value, or of its base64 encoding, in s. It is the
// last line of defence for text a server may have built from what it was sent (an LDAP
// diagnostic message, a SCIM error detail echoing the request): messages should not quote server
// data in the first place.
func Scrub(s string, secrets ...string) string {
	for _, secret := range secrets {
		for _, v := range variants(secret) {
			if len(v) >= minSecretLen {
				s = strings.ReplaceAll(s, v, "[redacted]")
			}
		}
	}
	return s
}

func variants(secret string) []string {
	trimmed := strings.TrimSpace(secret)
	return []string{
		secret, trimmed,
		base64.StdEncoding.EncodeToString([]byte(trimmed)),
		base64.RawStdEncoding.EncodeToString([]byte(trimmed)),
		base64.URLEncoding.EncodeToString([]byte(trimmed)),
	}
}
