package ldap

import (
	"slices"
	"testing"
)

func TestDecodeGUID(t *testing.T) {
	// {01020304-0506-0708-090a-0b0c0d0e0f10} as AD stores it: first three fields little-endian.
	raw := []byte{0x04, 0x03, 0x02, 0x01, 0x06, 0x05, 0x08, 0x07, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}
	got, err := DecodeGUID(raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := "01020304-0506-0708-090a-0b0c0d0e0f10"; got != want {
		t.Errorf("DecodeGUID = %s, want %s", got, want)
	}
	back, err := EncodeGUID(got)
	if err != nil || !slices.Equal(back, raw) {
		t.Errorf("EncodeGUID(%s) = %x, %v; want %x", got, back, err, raw)
	}
	for _, bad := range [][]byte{nil, raw[:15], append(slices.Clone(raw), 0)} {
		if _, err := DecodeGUID(bad); err == nil {
			t.Errorf("DecodeGUID(%x) succeeded, want error", bad)
		}
	}
	if _, err := EncodeGUID("not-a-guid"); err == nil {
		t.Error("EncodeGUID accepted garbage")
	}
}

func TestDecodeSID(t *testing.T) {
	b := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0x01, 0x02, 0, 0}
	if got, err := DecodeSID(b); err != nil || got != "S-1-5-21-1-2-3-513" {
		t.Errorf("DecodeSID = %q, %v", got, err)
	}
	if _, err := DecodeSID(b[:10]); err == nil {
		t.Error("a truncated SID decoded")
	}
}
