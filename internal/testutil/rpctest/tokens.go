package rpctest

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// JWTPart decodes one part (0 the header, 1 the claims) of a JWT.
func JWTPart(t testing.TB, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT of three parts", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("token part %d is not base64url: %v", i, err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token part %d is not JSON: %v", i, err)
	}
	return m
}

// Tamper flips one bit of a JWT's signature.
func Tamper(t testing.TB, tok string) string {
	t.Helper()
	i := strings.LastIndex(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatalf("token signature: %v", err)
	}
	sig[len(sig)/2] ^= 0x01
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// Unsigned rewrites a token's header to alg "none" and drops its signature.
func Unsigned(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	h, err := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + "."
}
