package auth_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil/wait"
	"github.com/roosthq/roost/platform/auth"
	"github.com/roosthq/roost/storage"
)

// openDB opens a fresh SQLite database with the platform's migrations.
func openDB(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.OpenSQLite(wait.Context(t, wait.Short), filepath.Join(t.TempDir(), "roost.db"))
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newKey makes an org and a key in it, and returns the record and secret.
func newKey(t *testing.T, keys *auth.Keys, org, name string, admin bool) (auth.Key, string) {
	t.Helper()
	ctx := wait.Context(t, wait.Short)
	o, _, err := keys.EnsureOrg(ctx, org)
	if err != nil {
		t.Fatalf("ensure org: %v", err)
	}
	k, secret, err := keys.Create(ctx, o.ID, name, admin)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k, secret
}

func TestLooksLikeKey(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"rk_" + strings.Repeat("a", 43), true},
		{"rk_", true}, // the form only: Authenticate checks the rest
		{"", false},
		{"rk", false},
		{"RK_" + strings.Repeat("a", 43), false},
		{" rk_" + strings.Repeat("a", 43), false},
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", false}, // an instance token
		{"Bearer rk_x", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			if got := auth.LooksLikeKey(tc.in); got != tc.want {
				t.Errorf("LooksLikeKey(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestEnsureOrg(t *testing.T) {
	keys := auth.NewKeys(openDB(t))
	ctx := wait.Context(t, wait.Short)
	first, created, err := keys.EnsureOrg(ctx, "acme")
	if err != nil || !created || !strings.HasPrefix(first.ID, "org_") || first.Name != "acme" || first.CreatedAt == 0 {
		t.Fatalf("first EnsureOrg = %+v, created %v, %v; want a new org_ acme", first, created, err)
	}
	again, created, err := keys.EnsureOrg(ctx, "acme")
	if err != nil || created || again != first {
		t.Errorf("second EnsureOrg = %+v, created %v, %v; want the same org, not created", again, created, err)
	}
	other, created, err := keys.EnsureOrg(ctx, "other")
	if err != nil || !created || other.ID == first.ID {
		t.Errorf("EnsureOrg of another name = %+v, created %v, %v; want a second org", other, created, err)
	}
}

func TestKeyCreateAndAuthenticate(t *testing.T) {
	db := openDB(t)
	keys := auth.NewKeys(db)
	ctx := wait.Context(t, wait.Short)
	tests := []struct {
		org, name string
		admin     bool
	}{
		{"acme", "ci", false},
		{"acme", "root", true},
		{"globex", "ci", false}, // names are per org
	}
	for _, tc := range tests {
		t.Run(tc.org+"/"+tc.name, func(t *testing.T) {
			rec, secret := newKey(t, keys, tc.org, tc.name, tc.admin)
			if !regexp.MustCompile(`^rk_[A-Za-z0-9_-]{43}$`).MatchString(secret) || !auth.LooksLikeKey(secret) {
				t.Fatalf("secret %q is not rk_ and 43 base64url characters", secret)
			}
			if !strings.HasPrefix(rec.ID, "key_") || rec.Name != tc.name || rec.Admin != tc.admin ||
				rec.Prefix != secret[:len(auth.KeyPrefix)+6] || rec.RevokedAt.Valid || rec.CreatedAt == 0 {
				t.Errorf("record %+v; want key_ id, name %q, admin %v, the secret's first 9 characters as prefix", rec, tc.name, tc.admin)
			}
			got, err := keys.Authenticate(ctx, secret)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			want := rec
			want.OrgName = tc.org
			if got != want {
				t.Errorf("Authenticate = %+v, want %+v", got, want)
			}
			// A fresh Keys on the same database, without a cache, agrees.
			if got, err := auth.NewKeys(db).Authenticate(ctx, secret); err != nil || got != want {
				t.Errorf("Authenticate through another Keys = %+v, %v", got, err)
			}
		})
	}

	t.Run("the secret is stored nowhere", func(t *testing.T) {
		_, secret := newKey(t, keys, "acme", "hidden", false)
		rows, err := db.QueryxContext(ctx, `SELECT * FROM api_keys`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			row := map[string]any{}
			if err := rows.MapScan(row); err != nil {
				t.Fatal(err)
			}
			for col, v := range row {
				if s := fmt.Sprintf("%s", v); strings.Contains(s, secret) || strings.Contains(s, secret[len(auth.KeyPrefix):]) {
					t.Errorf("column %s of api_keys holds the secret", col)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("list", func(t *testing.T) {
		list, err := keys.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, k := range list {
			names = append(names, k.OrgName+"/"+k.Name)
		}
		if want := "acme/ci,acme/root,globex/ci,acme/hidden"; strings.Join(names, ",") != want {
			t.Errorf("List = %v, want oldest first %s", names, want)
		}
	})
}

func TestKeyAuthenticateRefusals(t *testing.T) {
	keys := auth.NewKeys(openDB(t))
	ctx := wait.Context(t, wait.Short)
	_, secret := newKey(t, keys, "acme", "ci", false)
	_, elsewhere := newKey(t, auth.NewKeys(openDB(t)), "acme", "ci", false)
	// Same length and form, one character changed.
	last := secret[len(secret)-1]
	flipped := secret[:len(secret)-1] + map[bool]string{true: "A", false: "B"}[last != 'A']

	tests := []struct {
		name   string
		secret string
		want   error
	}{
		{"empty", "", auth.ErrMalformedKey},
		{"not a key", "hello", auth.ErrMalformedKey},
		{"an instance token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", auth.ErrMalformedKey},
		{"too short", secret[:len(secret)-1], auth.ErrMalformedKey},
		{"too long", secret + "A", auth.ErrMalformedKey},
		{"prefix in capitals", "RK_" + secret[len(auth.KeyPrefix):], auth.ErrMalformedKey},
		{"one character changed", flipped, auth.ErrUnknownKey},
		{"a key of another database", elsewhere, auth.ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keys.Authenticate(ctx, tc.secret)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Authenticate = %v, want %v", err, tc.want)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the error %q holds the credential", err)
			}
		})
	}
	// The refusals are not cached as successes, nor the other way round.
	if _, err := keys.Authenticate(ctx, secret); err != nil {
		t.Errorf("the good key after the refusals: %v", err)
	}
}

func TestKeyRevoke(t *testing.T) {
	db := openDB(t)
	keys := auth.NewKeys(db)
	ctx := wait.Context(t, wait.Short)

	t.Run("through the same Keys: at once", func(t *testing.T) {
		rec, secret := newKey(t, keys, "acme", "doomed", false)
		if _, err := keys.Authenticate(ctx, secret); err != nil { // now cached
			t.Fatal(err)
		}
		if err := keys.Revoke(ctx, rec.ID); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if _, err := keys.Authenticate(ctx, secret); !errors.Is(err, auth.ErrRevokedKey) {
			t.Errorf("Authenticate after Revoke = %v, want %v", err, auth.ErrRevokedKey)
		}
		revokedAt := func() int64 {
			list, err := keys.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range list {
				if k.ID == rec.ID {
					return k.RevokedAt.Int64
				}
			}
			t.Fatalf("key %s not listed", rec.ID)
			return 0
		}
		at := revokedAt()
		if at == 0 {
			t.Fatal("the revoked key has no revocation time")
		}
		// Revoking again changes nothing.
		if err := keys.Revoke(ctx, rec.ID); err != nil {
			t.Errorf("Revoke again: %v", err)
		}
		if again := revokedAt(); again != at {
			t.Errorf("revoking again moved the revocation time from %d to %d", at, again)
		}
	})

	t.Run("through another Keys: within the cache's time", func(t *testing.T) {
		rec, secret := newKey(t, keys, "acme", "doomed-elsewhere", false)
		if _, err := keys.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if err := auth.NewKeys(db).Revoke(ctx, rec.ID); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		wait.Eventually(t, wait.Short, fmt.Sprintf("the key revoked elsewhere to be refused (cache %s)", auth.CacheTTL), func() bool {
			_, err := keys.Authenticate(ctx, secret)
			return errors.Is(err, auth.ErrRevokedKey)
		})
	})

	t.Run("an unknown key", func(t *testing.T) {
		if err := keys.Revoke(ctx, "key_nope"); !errors.Is(err, auth.ErrKeyNotFound) {
			t.Errorf("Revoke of an unknown id = %v, want %v", err, auth.ErrKeyNotFound)
		}
	})

	t.Run("other keys still work", func(t *testing.T) {
		_, secret := newKey(t, keys, "acme", "kept", false)
		if _, err := keys.Authenticate(ctx, secret); err != nil {
			t.Errorf("Authenticate: %v", err)
		}
	})
}
