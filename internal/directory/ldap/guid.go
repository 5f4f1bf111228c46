package ldap

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// DecodeSID renders a binary security identifier (objectSid) as S-1-5-21-...: revision, 6-byte
// big-endian authority, then little-endian 32-bit sub-authorities.
func DecodeSID(b []byte) (string, error) {
	if len(b) < 8 || len(b) != 8+4*int(b[1]) {
		return "", fmt.Errorf("objectSid of %d bytes is not a SID", len(b))
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	var sb strings.Builder
	sb.WriteString("S-" + strconv.Itoa(int(b[0])) + "-" + strconv.FormatUint(auth, 10))
	for i := range int(b[1]) {
		sb.WriteString("-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), nil
}

// DecodeGUID converts a 16-byte AD objectGUID into its canonical string form. AD stores the first
// three fields little-endian ("mixed-endian"), so bytes 04 03 02 01 06 05 08 07 09 0a ... 10 read as
// 01020304-0506-0708-090a-0b0c0d0e0f10.
func DecodeGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID must be 16 bytes, got %d", len(b))
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%x-%x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8:10], b[10:16]), nil
}

// EncodeGUID is the inverse of DecodeGUID: it returns the AD byte layout of a canonical GUID string.
func EncodeGUID(s string) ([]byte, error) {
	var f [16]byte
	n, err := fmt.Sscanf(s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		&f[3], &f[2], &f[1], &f[0], &f[5], &f[4], &f[7], &f[6],
		&f[8], &f[9], &f[10], &f[11], &f[12], &f[13], &f[14], &f[15])
	if err != nil || n != 16 || len(s) != 36 {
		return nil, fmt.Errorf("%q is not a GUID", s)
	}
	return f[:], nil
}
