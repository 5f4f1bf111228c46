package scim

import (
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// decodeList decodes a list page. It is encoding/json's Unmarshal with the same semantics (case-
// insensitive names, tolerated duplicates and invalid UTF-8) on the encoding/json/v2 engine, which
// decodes a page of users in about half the time: a listing of 2,000 users spent most of a run's
// client CPU in encoding/json. With Go 1.27 the standard library's encoding/json is this engine.
func decodeList(data []byte, v any) error { return jsonv1.Unmarshal(data, v) }
