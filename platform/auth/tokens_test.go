package auth_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roosthq/roost/internal/validate"

	"github.com/golang-jwt/jwt/v5"

	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/internal/testutil/wait"
	"github.com/roosthq/roost/platform/auth"
)

// keyPath is where a test keeps its token signing key: a directory that
// does not exist yet, as on a first start.
func keyPath(t *testing.T) string { return filepath.Join(t.TempDir(), "keys", "token.key") }

func loadSigner(t *testing.T, path string) *auth.Signer {
	t.Helper()
	s, err := auth.LoadSigner(path)
	if err != nil {
		t.Fatalf("LoadSigner: %v", err)
	}
	return s
}

func TestLoadSigner(t *testing.T) {
	t.Run("made on first use, mode 0600, kept after", func(t *testing.T) {
		path := keyPath(t)
		first := loadSigner(t, path)
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 || st.Size() != 32 {
			t.Fatalf("signing key %s: %v, mode %v, %d bytes; want 32 bytes of mode 0600", path, err, st.Mode().Perm(), st.Size())
		}
		tok, _, err := first.Issue("org_a", "ins_a", "", nil, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		// The next start reads the same key: its tokens stay valid.
		if _, err := loadSigner(t, path).Verify(tok); err != nil {
			t.Errorf("a signer loaded again refuses a token of the first: %v", err)
		}
	})

	t.Run("an open key file is closed again", func(t *testing.T) {
		path := keyPath(t)
		loadSigner(t, path)
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		loadSigner(t, path)
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("signing key mode after a load: %v, %v; want 0600", st.Mode().Perm(), err)
		}
	})

	t.Run("a short key is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "token.key")
		if err := os.WriteFile(path, []byte("too short"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := auth.LoadSigner(path); err == nil {
			t.Error("LoadSigner accepted a key of 9 bytes")
		}
	})
}

func TestTokenIssueVerify(t *testing.T) {
	s := loadSigner(t, keyPath(t))
	tests := []struct {
		name   string
		origin string
		meta   map[string]any
		ttl    time.Duration
	}{
		{"plain", "", nil, validate.DefaultTokenTTL},
		{"bound to an origin", "https://app.example.com", nil, time.Hour},
		{"with meta", "", map[string]any{"user": "u1", "roles": []any{"a"}}, time.Minute},
		{"the longest lifetime", "", nil, validate.MaxTokenTTL},
		{"one second", "", nil, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			tok, issued, err := s.Issue("org_a", "ins_a", tc.origin, tc.meta, tc.ttl)
			after := time.Now()
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if h := rpctest.JWTPart(t, tok, 0); h["alg"] != "HS256" {
				t.Errorf("token header %v, want alg HS256", h)
			}
			c, err := s.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.InstanceID() != "ins_a" || c.OrgID != "org_a" || c.Origin != tc.origin || c.Issuer != "roost" ||
				!strings.HasPrefix(c.ID, "tok_") || c.ID != issued.ID || c.SessionID != "" {
				t.Errorf("claims %+v; want instance ins_a of org_a, origin %q, issuer roost, the issued tok_ id", c, tc.origin)
			}
			if fmt.Sprint(c.Meta) != fmt.Sprint(tc.meta) && !(len(c.Meta) == 0 && len(tc.meta) == 0) {
				t.Errorf("meta %v, want %v", c.Meta, tc.meta)
			}
			rpctest.Within(t, "expiry", c.ExpiresAt.Time, before.Add(tc.ttl), after.Add(tc.ttl))
			rpctest.Within(t, "issued at", c.IssuedAt.Time, before, after)
		})
	}
	t.Run("ids differ", func(t *testing.T) {
		a, _, _ := s.Issue("org_a", "ins_a", "", nil, time.Minute)
		b, _, _ := s.Issue("org_a", "ins_a", "", nil, time.Minute)
		ca, _ := s.Verify(a)
		cb, _ := s.Verify(b)
		if ca == nil || cb == nil || ca.ID == cb.ID {
			t.Errorf("two tokens share an id: %+v, %+v", ca, cb)
		}
	})
}

func TestSessionTokens(t *testing.T) {
	s := loadSigner(t, keyPath(t))
	before := time.Now()
	tok, exp, err := s.IssueSession("org_a", "ins_a", "ses_a", "https://app.example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rpctest.Within(t, "session token expiry", exp, before.Add(time.Hour), time.Now().Add(time.Hour))
	c, err := s.VerifySession(tok)
	if err != nil {
		t.Fatalf("VerifySession: %v", err)
	}
	if c.SessionID != "ses_a" || c.InstanceID() != "ins_a" || c.OrgID != "org_a" || c.Origin != "https://app.example.com" {
		t.Errorf("session claims %+v", c)
	}
	// Neither kind of token opens what the other does.
	if _, err := s.Verify(tok); !errors.Is(err, auth.ErrBadToken) {
		t.Errorf("Verify of a session token = %v, want %v", err, auth.ErrBadToken)
	}
	inst, _, _ := s.Issue("org_a", "ins_a", "", nil, time.Hour)
	if _, err := s.VerifySession(inst); !errors.Is(err, auth.ErrBadToken) {
		t.Errorf("VerifySession of an instance token = %v, want %v", err, auth.ErrBadToken)
	}
	expired, _, _ := s.IssueSession("org_a", "ins_a", "ses_a", "", -time.Minute)
	if _, err := s.VerifySession(expired); !errors.Is(err, auth.ErrExpiredToken) {
		t.Errorf("VerifySession of an expired session token = %v, want %v", err, auth.ErrExpiredToken)
	}
}

func TestTokenRefusals(t *testing.T) {
	path := keyPath(t)
	s := loadSigner(t, path)
	key, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := loadSigner(t, keyPath(t))
	issue := func(s *auth.Signer, org, id string, ttl time.Duration) string {
		tok, _, err := s.Issue(org, id, "", nil, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// sign makes a token by hand, to say what Issue never would.
	sign := func(method jwt.SigningMethod, claims jwt.Claims, key any) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	valid := func(edit func(c *auth.Claims)) auth.Claims {
		c := auth.Claims{RegisteredClaims: jwt.RegisteredClaims{ID: "tok_x", Issuer: "roost", Subject: "ins_a",
			Audience: jwt.ClaimStrings{"instance"}, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
			OrgID: "org_a"}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	good := issue(s, "org_a", "ins_a", time.Hour)

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", auth.ErrBadToken},
		{"garbage", "a.b.c", auth.ErrBadToken},
		{"an API key", "rk_" + strings.Repeat("a", 43), auth.ErrBadToken},
		{"tampered signature", rpctest.Tamper(t, good), auth.ErrBadToken},
		{"no signature", good[:strings.LastIndex(good, ".")+1], auth.ErrBadToken},
		{"signed with another key", issue(other, "org_a", "ins_a", time.Hour), auth.ErrBadToken},
		{"expired", issue(s, "org_a", "ins_a", -time.Minute), auth.ErrExpiredToken},
		{"no org", issue(s, "", "ins_a", time.Hour), auth.ErrBadToken},
		{"no instance", issue(s, "org_a", "", time.Hour), auth.ErrBadToken},
		{"made by hand with the right key", sign(jwt.SigningMethodHS256, valid(nil), key), nil},
		{"HS512", sign(jwt.SigningMethodHS512, valid(nil), key), auth.ErrBadToken},
		{"alg none", sign(jwt.SigningMethodNone, valid(nil), jwt.UnsafeAllowNoneSignatureType), auth.ErrBadToken},
		{"another issuer", sign(jwt.SigningMethodHS256, valid(func(c *auth.Claims) { c.Issuer = "evil" }), key), auth.ErrBadToken},
		{"another audience", sign(jwt.SigningMethodHS256, valid(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"admin"} }), key), auth.ErrBadToken},
		{"no expiry", sign(jwt.SigningMethodHS256, valid(func(c *auth.Claims) { c.ExpiresAt = nil }), key), auth.ErrBadToken},
		{"issued in the future", sign(jwt.SigningMethodHS256, valid(func(c *auth.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) }), key), auth.ErrBadToken},
		{"no id", sign(jwt.SigningMethodHS256, valid(func(c *auth.Claims) { c.ID = "" }), key), auth.ErrBadToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.Verify(tc.token)
			if tc.want == nil {
				if err != nil || c == nil {
					t.Fatalf("Verify = %+v, %v; want the claims", c, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || c != nil {
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tc.want)
			}
			// A refusal says why without being mistaken for another one.
			for _, e := range []error{auth.ErrBadToken, auth.ErrExpiredToken} {
				if e != tc.want && errors.Is(err, e) {
					t.Errorf("Verify = %v, which is also %v", err, e)
				}
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the error %q holds the token", err)
			}
		})
	}
}

// TestVerifiedTokensStillExpire: a token verified once is remembered, but
// only until it expires, and only as the kind of token it is.
func TestVerifiedTokensStillExpire(t *testing.T) {
	s := loadSigner(t, keyPath(t))
	tok, _, err := s.Issue("org_a", "ins_a", "", nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if c, err := s.Verify(tok); err != nil || c.InstanceID() != "ins_a" {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
	}
	if _, err := s.VerifySession(tok); !errors.Is(err, auth.ErrBadToken) {
		t.Errorf("VerifySession of a remembered instance token = %v, want %v", err, auth.ErrBadToken)
	}
	if _, err := s.Verify(rpctest.Tamper(t, tok)); err == nil {
		t.Error("a tampered copy of a remembered token was accepted")
	}
	wait.Eventually(t, 5*time.Second, "the remembered token to expire", func() bool {
		_, err := s.Verify(tok)
		return errors.Is(err, auth.ErrExpiredToken)
	})
}
