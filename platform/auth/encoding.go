package auth

import "encoding/base64"

func base64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
