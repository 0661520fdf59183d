package testutil

import (
	"testing"
	"time"

	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/platform/auth"
)

// OrgKey makes an API key in the org (created if missing) through the
// server's own key store, and returns its record and secret. Tests use it for
// callers of a second organization and for keys they revoke: a revocation
// through the same store drops the key from the server's cache at once.
func (s *Server) OrgKey(t testing.TB, org, name string, admin bool) (auth.Key, string) {
	t.Helper()
	ctx := Context(t, Short)
	o, _, err := s.Keys().EnsureOrg(ctx, org)
	if err != nil {
		t.Fatalf("ensure org %q: %v", org, err)
	}
	k, secret, err := s.Keys().Create(ctx, o.ID, name, admin)
	if err != nil {
		t.Fatalf("create key in org %q: %v", org, err)
	}
	return k, secret
}

// KeyRecord returns the stored record of the key with the id.
func (s *Server) KeyRecord(t testing.TB, id string) auth.Key {
	t.Helper()
	keys, err := s.Keys().List(Context(t, Short))
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	for _, k := range keys {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("no key with id %s", id)
	return auth.Key{}
}

// AdminKeyRecord returns the record of the admin key made on first start.
func (s *Server) AdminKeyRecord(t testing.TB) auth.Key {
	t.Helper()
	keys, err := s.Keys().List(Context(t, Short))
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	for _, k := range keys {
		if k.Admin && k.Name == "admin" {
			return k
		}
	}
	t.Fatal("the server made no admin key on first start")
	return auth.Key{}
}

// SignToken signs an instance token with the signing key of the server's
// data dir, as tokens.create would, but with any ttl: a negative ttl makes a
// token that is already expired, without waiting.
func (s *Server) SignToken(t testing.TB, orgID, instanceID, origin string, ttl time.Duration) string {
	t.Helper()
	signer, err := auth.LoadSigner(platform.TokenKeyPath(s.DataDir))
	if err != nil {
		t.Fatalf("load token signer: %v", err)
	}
	tok, _, err := signer.Issue(orgID, instanceID, origin, nil, ttl)
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return tok
}
