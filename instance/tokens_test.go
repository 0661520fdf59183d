package instance_test

// End-to-end tests of tokens.create: lifetimes, claims, origin binding, and
// tokens that are tampered with or expired.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

func TestTokens(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	admin := srv.Admin()
	id := rpctest.CreateInstance(t, admin, "tokens")
	org := srv.AdminKeyRecord(t).OrgID

	tests := []struct {
		name   string
		in     map[string]any
		ttl    time.Duration
		origin string
	}{
		{"default lifetime is 24 h", map[string]any{}, 24 * time.Hour, ""},
		{"expiresIn 60 s", map[string]any{"expiresIn": 60}, time.Minute, ""},
		{"expiresIn 7 days", map[string]any{"expiresIn": 604800}, 7 * 24 * time.Hour, ""},
		{"bound to an origin", map[string]any{"origin": "https://app.example.com"}, 24 * time.Hour, "https://app.example.com"},
		{"with meta", map[string]any{"meta": map[string]any{"user": "u1"}}, 24 * time.Hour, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in["instanceId"] = id
			before := time.Now()
			v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, srv.AdminKey, methods.TokensCreate, tc.in))
			after := time.Now()
			rpctest.WantKeys(t, "tokens.create value", v, "token", "expiresAt")
			out := rpctest.Decode[methods.CreateInstanceTokenOutput](t, v)
			exp := rpctest.ParseTime(t, "expiresAt", out.ExpiresAt)
			rpctest.Within(t, "expiresAt", exp, before.Add(tc.ttl), after.Add(tc.ttl))

			h := rpctest.JWTPart(t, out.Token, 0)
			if h["alg"] != "HS256" {
				t.Errorf("token header = %v, want alg HS256", h)
			}
			c := rpctest.JWTPart(t, out.Token, 1)
			if c["sub"] != id || c["org"] != org || c["iss"] != "roost" || c["jti"] == nil || c["iat"] == nil {
				t.Errorf("token claims = %v; want sub %s, org %s, iss roost, jti and iat", c, id, org)
			}
			if e, ok := c["exp"].(float64); !ok || int64(e) != exp.Unix() {
				t.Errorf("token exp = %v, want expiresAt %d", c["exp"], exp.Unix())
			}
			if o, _ := c["origin"].(string); o != tc.origin {
				t.Errorf("token origin claim = %q, want %q", o, tc.origin)
			}
			if meta, ok := tc.in["meta"]; ok && fmt.Sprint(c["meta"]) != fmt.Sprint(meta) {
				t.Errorf("token meta claim = %v, want %v", c["meta"], meta)
			}
			// The token opens its instance, and no other.
			rpctest.WantOK(t, rpctest.CallInstance(t, srv, id, rpctest.Bearer(out.Token), methods.ListSessions, nil))
		})
	}

	t.Run("origin binding", func(t *testing.T) {
		tok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: id, Origin: "https://app.example.com"}).Token
		cases := []struct {
			origin string
			ok     bool
		}{
			{"https://app.example.com", true},
			{"", true}, // not a browser: nothing to compare
			{"https://evil.example.com", false},
			{"http://app.example.com", false},
			{"https://app.example.com:8443", false},
		}
		for _, c := range cases {
			h := rpctest.Bearer(tok)
			if c.origin != "" {
				h.Set("Origin", c.origin)
			}
			r := rpctest.CallInstance(t, srv, id, h, methods.ListSessions, nil)
			if c.ok {
				rpctest.WantOK(t, r)
			} else {
				rpctest.WantError(t, r, http.StatusUnauthorized, methods.Unauthorized)
			}
		}
	})

	t.Run("tampered signature", func(t *testing.T) {
		tok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: id}).Token
		rpctest.WantOK(t, rpctest.CallInstance(t, srv, id, rpctest.Bearer(tok), methods.ListSessions, nil))
		r := rpctest.CallInstance(t, srv, id, rpctest.Bearer(rpctest.Tamper(t, tok)), methods.ListSessions, nil)
		rpctest.WantError(t, r, http.StatusUnauthorized, methods.Unauthorized)
	})

	t.Run("expired", func(t *testing.T) {
		tok := srv.SignToken(t, org, id, "", -time.Minute)
		r := rpctest.CallInstance(t, srv, id, rpctest.Bearer(tok), methods.ListSessions, nil)
		rpctest.WantError(t, r, http.StatusUnauthorized, methods.Unauthorized)
		// A token of one second expires while we watch.
		short := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: id, ExpiresIn: rpctest.Ptr(1)}).Token
		testutil.Eventually(t, testutil.Short, "a 1 s token to expire", func() bool {
			return rpctest.CallInstance(t, srv, id, rpctest.Bearer(short), methods.ListSessions, nil).Status == http.StatusUnauthorized
		})
	})
}
