package platform_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/rpc"
)

// ---------------------------------------------------------------------------
// Helpers. The raw HTTP ones, which let the tests see the wire as a client
// written against the contract sees it, are in package rpctest.
//
// The tests of instances, their tokens and templates are beside their
// packages (instance, sandbox); the RPC envelope, the HTTP edge and the CLI
// are tested here.
// ---------------------------------------------------------------------------

// ctx bounds one call of the Go client.
func ctx(t testing.TB) context.Context { return testutil.Context(t, testutil.Short) }

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

func TestRPCErrors(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	admin := srv.Admin()
	id := rpctest.CreateInstance(t, admin, "errors")
	tok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: id}).Token

	padTo := func(prefix, suffix string, size int) string {
		return prefix + strings.Repeat("a", size-len(prefix)-len(suffix)) + suffix
	}
	type errCase struct {
		name     string
		instance bool   // the instance RPC with a token, else the platform RPC with the admin key
		body     string // $ID is replaced by a live instance's id
		status   int
		typ      methods.ErrorType
		field    string // details.field for invalid_input
		reason   string
	}
	tests := []errCase{
		// The envelope.
		{name: "unknown method", body: `{"method":"instances.nope","input":{}}`, status: 404, typ: methods.MethodNotFound},
		{name: "unknown instance method", instance: true, body: `{"method":"nope","input":{}}`, status: 404, typ: methods.MethodNotFound},
		{name: "platform method on the instance RPC", instance: true, body: `{"method":"instances.list","input":{}}`, status: 404, typ: methods.MethodNotFound},
		{name: "instance method on the platform RPC", body: `{"method":"listSessions","input":{}}`, status: 404, typ: methods.MethodNotFound},
		{name: "method names are case-sensitive", body: `{"method":"Instances.List"}`, status: 404, typ: methods.MethodNotFound},
		{name: "not JSON", body: `not json`, status: 400, typ: methods.InvalidInput},
		{name: "truncated JSON", body: `{"method":"instances.list"`, status: 400, typ: methods.InvalidInput},
		{name: "empty body", body: ``, status: 400, typ: methods.InvalidInput},
		{name: "trailing garbage", body: `{"method":"instances.list"} x`, status: 400, typ: methods.InvalidInput},
		{name: "not JSON on the instance RPC", instance: true, body: `<xml/>`, status: 400, typ: methods.InvalidInput},
		{name: "envelope is an array", body: `[]`, status: 400, typ: methods.InvalidInput, field: "", reason: "type"},
		{name: "envelope is a string", body: `"instances.list"`, status: 400, typ: methods.InvalidInput, field: "", reason: "type"},
		{name: "envelope is a number", body: `42`, status: 400, typ: methods.InvalidInput, field: "", reason: "type"},
		{name: "envelope is null", body: `null`, status: 400, typ: methods.InvalidInput, field: "", reason: "type"},
		{name: "envelope has an unknown field", body: `{"method":"instances.list","input":{},"id":1}`, status: 400, typ: methods.InvalidInput, field: "id", reason: "unknown"},
		{name: "no method", body: `{"input":{}}`, status: 400, typ: methods.InvalidInput, field: "method", reason: "required"},
		{name: "null method", body: `{"method":null}`, status: 400, typ: methods.InvalidInput, field: "method", reason: "required"},
		{name: "method not a string", body: `{"method":5}`, status: 400, typ: methods.InvalidInput, field: "method", reason: "type"},
		{name: "input is an array", body: `{"method":"instances.list","input":[]}`, status: 400, typ: methods.InvalidInput, field: "input", reason: "type"},
		{name: "input is a string", body: `{"method":"instances.list","input":"x"}`, status: 400, typ: methods.InvalidInput, field: "input", reason: "type"},
		{name: "instance input is not an object", instance: true, body: `{"method":"listSessions","input":7}`, status: 400, typ: methods.InvalidInput, field: "input", reason: "type"},

		// Fields: unknown, wrong type, missing, with their paths.
		{name: "unknown field", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bogus":1}}`, status: 400, typ: methods.InvalidInput, field: "bogus", reason: "unknown"},
		{name: "unknown field on the instance RPC", instance: true, body: `{"method":"listSessions","input":{"instanceId":"$ID"}}`, status: 400, typ: methods.InvalidInput, field: "instanceId", reason: "unknown"},
		{name: "field names are case-sensitive", body: `{"method":"instances.get","input":{"instanceID":"$ID"}}`, status: 400, typ: methods.InvalidInput, field: "instanceID", reason: "unknown"},
		{name: "nested unknown field", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleSlug":"b","autoCreateSession":{"presetId":"p","bogus":true}}}`, status: 400, typ: methods.InvalidInput, field: "autoCreateSession.bogus", reason: "unknown"},
		{name: "nested missing required field", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleSlug":"b","autoCreateSession":{}}}`, status: 400, typ: methods.InvalidInput, field: "autoCreateSession.presetId", reason: "required"},
		{name: "nested null required field", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleSlug":"b","autoCreateSession":{"presetId":null}}}`, status: 400, typ: methods.InvalidInput, field: "autoCreateSession.presetId", reason: "required"},
		{name: "nested wrong type", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleSlug":"b","autoCreateSession":{"presetId":5}}}`, status: 400, typ: methods.InvalidInput, field: "autoCreateSession.presetId", reason: "type"},
		{name: "nested array wrong type", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleSlug":"b","autoCreateSession":{"presetId":"p","resourceIds":"r"}}}`, status: 400, typ: methods.InvalidInput, field: "autoCreateSession.resourceIds", reason: "type"},
		{name: "nested object is a string", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","autoCreateSession":"p"}}`, status: 400, typ: methods.InvalidInput, field: "autoCreateSession", reason: "type"},
		{name: "name is a number", body: `{"method":"instances.create","input":{"templateSlug":"default","name":5}}`, status: 400, typ: methods.InvalidInput, field: "name", reason: "type"},
		{name: "templateSlug is a boolean", body: `{"method":"instances.create","input":{"templateSlug":true,"name":"x"}}`, status: 400, typ: methods.InvalidInput, field: "templateSlug", reason: "type"},
		{name: "metadata is an array", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","metadata":[1]}}`, status: 400, typ: methods.InvalidInput, field: "metadata", reason: "type"},
		{name: "metadata is a string", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","metadata":"m"}}`, status: 400, typ: methods.InvalidInput, field: "metadata", reason: "type"},
		{name: "instanceId is a number", body: `{"method":"instances.get","input":{"instanceId":5}}`, status: 400, typ: methods.InvalidInput, field: "instanceId", reason: "type"},
		{name: "limit is a string", body: `{"method":"instances.list","input":{"limit":"10"}}`, status: 400, typ: methods.InvalidInput, field: "limit", reason: "type"},
		{name: "limit is fractional", body: `{"method":"instances.list","input":{"limit":1.5}}`, status: 400, typ: methods.InvalidInput, field: "limit", reason: "type"},
		{name: "expiresIn is a string", body: `{"method":"tokens.create","input":{"instanceId":"$ID","expiresIn":"60"}}`, status: 400, typ: methods.InvalidInput, field: "expiresIn", reason: "type"},
		{name: "missing input means empty input", body: `{"method":"instances.create"}`, status: 400, typ: methods.InvalidInput, field: "name", reason: "required"},
		{name: "missing name", body: `{"method":"instances.create","input":{"templateSlug":"default"}}`, status: 400, typ: methods.InvalidInput, field: "name", reason: "required"},
		{name: "null name", body: `{"method":"instances.create","input":{"templateSlug":"default","name":null}}`, status: 400, typ: methods.InvalidInput, field: "name", reason: "required"},
		{name: "missing templateSlug", body: `{"method":"instances.create","input":{"name":"x"}}`, status: 400, typ: methods.InvalidInput, field: "templateSlug", reason: "required"},
		{name: "instances.get without instanceId", body: `{"method":"instances.get","input":{}}`, status: 400, typ: methods.InvalidInput, field: "instanceId", reason: "required"},
		{name: "instances.status without instanceId", body: `{"method":"instances.status","input":{}}`, status: 400, typ: methods.InvalidInput, field: "instanceId", reason: "required"},
		{name: "instances.archive without instanceId", body: `{"method":"instances.archive"}`, status: 400, typ: methods.InvalidInput, field: "instanceId", reason: "required"},
		{name: "sessions.list without instanceId", body: `{"method":"sessions.list","input":{}}`, status: 400, typ: methods.InvalidInput, field: "instanceId", reason: "required"},
		{name: "tokens.create without instanceId", body: `{"method":"tokens.create","input":{"expiresIn":60}}`, status: 400, typ: methods.InvalidInput, field: "instanceId", reason: "required"},

		// Rules of instances.create.
		{name: "empty name", body: `{"method":"instances.create","input":{"templateSlug":"default","name":""}}`, status: 400, typ: methods.InvalidInput, field: "name", reason: "range"},
		{name: "blank name", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"   "}}`, status: 400, typ: methods.InvalidInput, field: "name", reason: "range"},
		{name: "name of 201 characters", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"` + strings.Repeat("n", 201) + `"}}`, status: 400, typ: methods.InvalidInput, field: "name", reason: "range"},
		{name: "name of 201 multibyte characters", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"` + strings.Repeat("é", 201) + `"}}`, status: 400, typ: methods.InvalidInput, field: "name", reason: "range"},
		{name: "metadata over 16 KiB", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","metadata":` + padTo(`{"pad":"`, `"}`, 16<<10+1) + `}}`, status: 400, typ: methods.InvalidInput, field: "metadata", reason: "size"},
		{name: "unknown templateSlug", body: `{"method":"instances.create","input":{"templateSlug":"huge","name":"x"}}`, status: 400, typ: methods.InvalidInput, field: "templateSlug"},
		{name: "unknown bundleSlug", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleSlug":"nope"}}`, status: 404, typ: methods.NotFound},
		{name: "unknown bundleRevisionId", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleRevisionId":"rev_nope"}}`, status: 404, typ: methods.NotFound},
		{name: "bundleSlug and bundleRevisionId", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleSlug":"b","bundleRevisionId":"r"}}`, status: 400, typ: methods.InvalidInput, field: "bundleRevisionId"},
		{name: "autoCreateSession without a bundle", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","autoCreateSession":{"presetId":"p"}}}`, status: 400, typ: methods.InvalidInput, field: "autoCreateSession"},
		{name: "autoCreateSession with an unknown bundle", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleSlug":"nope","autoCreateSession":{"presetId":"p"}}}`, status: 404, typ: methods.NotFound},
		{name: "vcsType not in the set", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","vcsType":"svn"}}`, status: 400, typ: methods.InvalidInput, field: "vcsType"},
		{name: "vcsType is case-sensitive", body: `{"method":"instances.create","input":{"templateSlug":"default","name":"x","vcsType":"GitHub"}}`, status: 400, typ: methods.InvalidInput, field: "vcsType"},

		// Paging.
		{name: "limit 0", body: `{"method":"instances.list","input":{"limit":0}}`, status: 400, typ: methods.InvalidInput, field: "limit", reason: "range"},
		{name: "limit 201", body: `{"method":"instances.list","input":{"limit":201}}`, status: 400, typ: methods.InvalidInput, field: "limit", reason: "range"},
		{name: "negative limit", body: `{"method":"instances.list","input":{"limit":-1}}`, status: 400, typ: methods.InvalidInput, field: "limit", reason: "range"},
		{name: "negative offset", body: `{"method":"instances.list","input":{"offset":-1}}`, status: 400, typ: methods.InvalidInput, field: "offset", reason: "range"},

		// Unknown instances.
		{name: "get an unknown instance", body: `{"method":"instances.get","input":{"instanceId":"ins_nope"}}`, status: 404, typ: methods.NotFound},
		{name: "status of an unknown instance", body: `{"method":"instances.status","input":{"instanceId":"ins_nope"}}`, status: 404, typ: methods.NotFound},
		{name: "archive an unknown instance", body: `{"method":"instances.archive","input":{"instanceId":"ins_nope"}}`, status: 404, typ: methods.NotFound},
		{name: "sessions of an unknown instance", body: `{"method":"sessions.list","input":{"instanceId":"ins_nope"}}`, status: 404, typ: methods.NotFound},
		{name: "token for an unknown instance", body: `{"method":"tokens.create","input":{"instanceId":"ins_nope"}}`, status: 404, typ: methods.NotFound},

		// Rules of tokens.create.
		{name: "expiresIn over 7 days", body: `{"method":"tokens.create","input":{"instanceId":"$ID","expiresIn":604801}}`, status: 400, typ: methods.InvalidInput, field: "expiresIn", reason: "range"},
		{name: "expiresIn 0", body: `{"method":"tokens.create","input":{"instanceId":"$ID","expiresIn":0}}`, status: 400, typ: methods.InvalidInput, field: "expiresIn", reason: "range"},
		{name: "negative expiresIn", body: `{"method":"tokens.create","input":{"instanceId":"$ID","expiresIn":-60}}`, status: 400, typ: methods.InvalidInput, field: "expiresIn", reason: "range"},
		{name: "meta over 4 KiB", body: `{"method":"tokens.create","input":{"instanceId":"$ID","meta":` + padTo(`{"pad":"`, `"}`, instance.MaxTokenMetaSize+1) + `}}`, status: 400, typ: methods.InvalidInput, field: "meta"},
	}
	for _, origin := range []string{"app.example.com", "https://app.example.com/", "https://app.example.com/path",
		"ftp://app.example.com", "https://user@app.example.com", "https://app.example.com?x=1", "https://", "*", "null"} {
		tests = append(tests, errCase{name: "origin " + origin, body: `{"method":"tokens.create","input":{"instanceId":"$ID","origin":` + strconv.Quote(origin) + `}}`,
			status: 400, typ: methods.InvalidInput, field: "origin", reason: "format"})
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(strings.ReplaceAll(tc.body, "$ID", id))
			var r rpctest.Reply
			if tc.instance {
				r = rpctest.Post(t, rpctest.InstanceURL(srv, id), rpctest.Bearer(tok), body)
			} else {
				r = rpctest.Post(t, rpctest.PlatformURL(srv), rpctest.Bearer(srv.AdminKey), body)
			}
			if tc.typ == methods.InvalidInput && (tc.field != "" || tc.reason != "") {
				rpctest.WantFieldError(t, r, tc.field, tc.reason)
				return
			}
			rpctest.WantError(t, r, tc.status, tc.typ)
			if tc.typ == methods.MethodNotFound {
				var d struct{ Method string }
				if err := json.Unmarshal(r.Error.Details, &d); err != nil || d.Method == "" {
					t.Errorf("method_not_found details = %s, want the method named", r.Error.Details)
				}
			}
		})
	}

	// With several faults the reply names one of them; it must be the same
	// one every time, or a client cannot rely on details.field.
	t.Run("one request, one answer", func(t *testing.T) {
		bodies := []string{
			`{"method":"instances.create","input":{"templateSlug":"default","name":"x","zeta":1,"alpha":2,"mid":3,"beta":4}}`,
			`{"method":"instances.create","input":{"templateSlug":"default","name":"x","bundleSlug":"b","autoCreateSession":{"presetId":"p","zeta":1,"alpha":2,"mid":3}}}`,
			`{"method":"instances.create","input":{"zeta":1,"templateSlug":5,"name":true}}`,
		}
		for _, b := range bodies {
			first := rpctest.Post(t, rpctest.PlatformURL(srv), rpctest.Bearer(srv.AdminKey), []byte(b))
			rpctest.WantError(t, first, http.StatusBadRequest, methods.InvalidInput)
			for range 20 {
				if r := rpctest.Post(t, rpctest.PlatformURL(srv), rpctest.Bearer(srv.AdminKey), []byte(b)); !bytes.Equal(r.Body, first.Body) {
					t.Fatalf("the same request got two answers:\n%s\n%s", first.Body, r.Body)
				}
			}
		}
	})

	// The limits themselves are allowed.
	okTests := []struct {
		name   string
		method string
		input  string
	}{
		{"name of 200 characters", methods.InstancesCreate, `{"templateSlug":"default","name":"` + strings.Repeat("n", 200) + `"}`},
		{"name of 200 multibyte characters", methods.InstancesCreate, `{"templateSlug":"default","name":"` + strings.Repeat("é", 200) + `"}`},
		{"metadata of exactly 16 KiB", methods.InstancesCreate, `{"templateSlug":"default","name":"x","metadata":` + padTo(`{"pad":"`, `"}`, 16<<10) + `}`},
		{"null metadata", methods.InstancesCreate, `{"templateSlug":"default","name":"x","metadata":null}`},
		{"vcsType github", methods.InstancesCreate, `{"templateSlug":"default","name":"x","vcsType":"github"}`},
		{"vcsType none", methods.InstancesCreate, `{"templateSlug":"default","name":"x","vcsType":"none"}`},
		{"limit 200", methods.InstancesList, `{"limit":200}`},
		{"offset 0", methods.InstancesList, `{"offset":0}`},
		{"expiresIn of 7 days", methods.TokensCreate, `{"instanceId":"$ID","expiresIn":604800}`},
		{"expiresIn 1", methods.TokensCreate, `{"instanceId":"$ID","expiresIn":1}`},
		{"origin with a port", methods.TokensCreate, `{"instanceId":"$ID","origin":"http://localhost:5173"}`},
		{"meta", methods.TokensCreate, `{"instanceId":"$ID","meta":{"user":"u1","roles":["a"]}}`},
	}
	for _, tc := range okTests {
		t.Run(tc.name, func(t *testing.T) {
			in := json.RawMessage(strings.ReplaceAll(tc.input, "$ID", id))
			rpctest.WantOK(t, rpctest.CallPlatform(t, srv, srv.AdminKey, tc.method, in))
		})
	}
}

func TestBodyLimit(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	const prefix = `{"method":"instances.create","input":{"templateSlug":"default","name":"x","metadata":{"pad":"`
	const suffix = `"}}}`
	body := func(size int) []byte {
		return []byte(prefix + strings.Repeat("a", size-len(prefix)-len(suffix)) + suffix)
	}
	// hideLength makes the client send the body chunked, so that the server
	// cannot refuse it from its Content-Length and must count.
	type hideLength struct{ io.Reader }

	tests := []struct {
		name    string
		size    int
		chunked bool
		status  int
		typ     methods.ErrorType
	}{
		// Exactly 1 MiB is read; it then fails on the metadata rule.
		{"1 MiB", rpc.MaxBody, false, 400, methods.InvalidInput},
		{"1 MiB chunked", rpc.MaxBody, true, 400, methods.InvalidInput},
		{"1 MiB + 1", rpc.MaxBody + 1, false, 413, methods.PayloadTooLarge},
		{"1 MiB + 1 chunked", rpc.MaxBody + 1, true, 413, methods.PayloadTooLarge},
		{"2 MiB", 2 * rpc.MaxBody, false, 413, methods.PayloadTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader = bytes.NewReader(body(tc.size))
			if tc.chunked {
				rd = hideLength{rd}
			}
			r := rpctest.Do(t, rpctest.NewRequest(t, http.MethodPost, rpctest.PlatformURL(srv), rd, rpctest.Bearer(srv.AdminKey)))
			rpctest.WantError(t, r, tc.status, tc.typ)
			if tc.typ == methods.InvalidInput {
				rpctest.WantFieldError(t, r, "metadata", "size")
			}
		})
	}
	t.Run("instance RPC", func(t *testing.T) {
		id := rpctest.CreateInstance(t, srv.Admin(), "big")
		tok := rpctest.CreateToken(t, srv.Admin(), methods.CreateInstanceTokenInput{InstanceID: id}).Token
		r := rpctest.Post(t, rpctest.InstanceURL(srv, id), rpctest.Bearer(tok), body(rpc.MaxBody+1))
		rpctest.WantError(t, r, http.StatusRequestEntityTooLarge, methods.PayloadTooLarge)
	})
}

func TestHTTPErrors(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	tests := []struct {
		name, method, path string
		status             int
		typ                methods.ErrorType
	}{
		{"no such path", http.MethodGet, "/api/v1/nothing", 404, methods.NotFound},
		{"no such path under instances", http.MethodPost, "/api/v1/instances/x/nothing", 404, methods.NotFound},
		{"GET on the platform RPC", http.MethodGet, "/api/v1/rpc", 400, methods.InvalidInput},
		{"PUT on the instance RPC", http.MethodPut, "/api/v1/instances/x/rpc", 400, methods.InvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rpctest.Do(t, rpctest.NewRequest(t, tc.method, srv.URL+tc.path, nil, rpctest.Bearer(srv.AdminKey)))
			rpctest.WantError(t, r, tc.status, tc.typ)
		})
	}
}

// ---------------------------------------------------------------------------
// The session cookie and CORS
// ---------------------------------------------------------------------------

func TestSessionCookie(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	admin := srv.Admin()
	id := rpctest.CreateInstance(t, admin, "cookie")
	other := rpctest.CreateInstance(t, admin, "other")
	tokOut := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: id, ExpiresIn: rpctest.Ptr(3600)})
	tok := tokOut.Token

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: testutil.Medium}

	t.Run("exchange", func(t *testing.T) {
		req := rpctest.NewRequest(t, http.MethodPost, rpctest.CookieURL(srv, id), nil, rpctest.Bearer(tok))
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("session-cookie = %d %s", resp.StatusCode, body)
		}
		v := rpctest.Decode[struct {
			OK    bool `json:"ok"`
			Value struct {
				ExpiresAt string `json:"expiresAt"`
			} `json:"value"`
		}](t, body)
		if !v.OK || v.Value.ExpiresAt != tokOut.ExpiresAt {
			t.Errorf("session-cookie reply = %s, want ok with the token's expiresAt %s", body, tokOut.ExpiresAt)
		}
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "roost_instance" {
				ck = c
			}
		}
		if ck == nil {
			t.Fatalf("no roost_instance cookie set: %v", resp.Header["Set-Cookie"])
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/api/v1/instances/"+id {
			t.Errorf("cookie = %s; want HttpOnly, SameSite=Strict, Path=/api/v1/instances/%s", ck, id)
		}
		if ck.Secure {
			t.Errorf("cookie over plain HTTP is Secure, so a browser would drop it: %s", ck)
		}
		if ck.Value != tok {
			t.Errorf("cookie holds %q, want the token", ck.Value)
		}
		if ck.MaxAge <= 0 || ck.MaxAge > 3600 {
			t.Errorf("cookie Max-Age = %d, want the token's remaining life (≤ 3600 s)", ck.MaxAge)
		}
		rpctest.Within(t, "cookie Expires", ck.Expires, rpctest.ParseTime(t, "", tokOut.ExpiresAt), rpctest.ParseTime(t, "", tokOut.ExpiresAt))
	})

	t.Run("the cookie alone opens the instance RPC", func(t *testing.T) {
		ic := client.NewInstance(srv.URL, id, "", &client.Options{HTTPClient: browser})
		out, err := ic.ListSessions(ctx(t))
		if err != nil || out.Sessions == nil {
			t.Fatalf("listSessions with the cookie = %+v, %v", out, err)
		}
		// Without the jar, the same call has no credential.
		_, err = client.NewInstance(srv.URL, id, "", nil).ListSessions(ctx(t))
		if client.TypeOf(err) != methods.Unauthorized {
			t.Errorf("listSessions without cookie or token: %v, want unauthorized", err)
		}
	})

	t.Run("the cookie is scoped to its instance", func(t *testing.T) {
		u, _ := url.Parse(rpctest.InstanceURL(srv, other))
		if cs := jar.Cookies(u); len(cs) != 0 {
			t.Errorf("a browser would send %v to another instance", cs)
		}
		// Sent there anyway, it names the wrong instance.
		r := rpctest.CallInstance(t, srv, other, rpctest.Header("Cookie", "roost_instance="+tok), methods.ListSessions, nil)
		rpctest.WantError(t, r, http.StatusNotFound, methods.NotFound)
	})

	t.Run("refusals", func(t *testing.T) {
		otherTok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: other}).Token
		cases := []struct {
			name   string
			h      http.Header
			status int
			typ    methods.ErrorType
		}{
			{"no token", http.Header{}, 401, methods.Unauthorized},
			{"only a cookie", rpctest.Header("Cookie", "roost_instance="+tok), 401, methods.Unauthorized},
			{"an API key", rpctest.Bearer(srv.AdminKey), 401, methods.Unauthorized},
			{"a garbage token", rpctest.Bearer("a.b.c"), 401, methods.Unauthorized},
			{"a tampered token", rpctest.Bearer(rpctest.Tamper(t, tok)), 401, methods.Unauthorized},
			{"another instance's token", rpctest.Bearer(otherTok), 404, methods.NotFound},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := rpctest.Post(t, rpctest.CookieURL(srv, id), c.h, nil)
				rpctest.WantError(t, r, c.status, c.typ)
				if len(r.Header["Set-Cookie"]) != 0 {
					t.Errorf("a refusal set a cookie: %v", r.Header["Set-Cookie"])
				}
			})
		}
	})

	t.Run("clear", func(t *testing.T) {
		req := rpctest.NewRequest(t, http.MethodDelete, rpctest.CookieURL(srv, id), nil, nil)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE session-cookie = %d", resp.StatusCode)
		}
		_, err = client.NewInstance(srv.URL, id, "", &client.Options{HTTPClient: browser}).ListSessions(ctx(t))
		if client.TypeOf(err) != methods.Unauthorized {
			t.Errorf("listSessions after clearing the cookie: %v, want unauthorized", err)
		}
	})
}

func TestAllowedOriginsRefused(t *testing.T) {
	for _, bad := range []string{"app.example.com", "ftp://x.example.com", "https://x.example.com/path", "https://u@x.example.com", "https://"} {
		_, err := platform.New(ctx(t), platform.Config{DataDir: t.TempDir(), AllowedOrigins: []string{bad}, NoLocalNode: true})
		if err == nil || !strings.Contains(err.Error(), "not an origin") {
			t.Errorf("--allowed-origins %q: %v, want a refusal saying it is not an origin", bad, err)
		}
	}
}

func TestCORS(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{AllowedOrigins: []string{"https://App.example.com"}})
	id := rpctest.CreateInstance(t, srv.Admin(), "cors")
	tok := rpctest.CreateToken(t, srv.Admin(), methods.CreateInstanceTokenInput{InstanceID: id}).Token
	const origin = "https://app.example.com"

	for _, path := range []string{rpctest.InstanceURL(srv, id), rpctest.CookieURL(srv, id)} {
		t.Run("preflight "+strings.TrimPrefix(path, srv.URL), func(t *testing.T) {
			r := rpctest.Do(t, rpctest.NewRequest(t, http.MethodOptions, path, nil, rpctest.Header("Origin", origin,
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")))
			if r.Status != http.StatusNoContent {
				t.Fatalf("preflight = %s, want 204", r)
			}
			h := r.Header
			if h.Get("Access-Control-Allow-Origin") != origin || h.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("preflight allows origin %q credentials %q; want %q and true",
					h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), origin)
			}
			if m := h.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") {
				t.Errorf("Access-Control-Allow-Methods = %q, want POST in it", m)
			}
			allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
			for _, want := range []string{"authorization", "content-type"} {
				if !strings.Contains(allowed, want) {
					t.Errorf("Access-Control-Allow-Headers = %q, want %s in it", allowed, want)
				}
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary = %v, want Origin", h.Values("Vary"))
			}
		})
	}

	t.Run("other origins: tokens yes, credentials no", func(t *testing.T) {
		for _, o := range []string{"https://evil.example.com", "http://app.example.com", "http://127.0.0.1:1"} {
			h := rpctest.Bearer(tok)
			h.Set("Origin", o)
			r := rpctest.CallInstance(t, srv, id, h, methods.ListSessions, nil)
			if r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != o || r.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("origin %s: HTTP %d, allow-origin %q, credentials %q; want 200, the origin, and no credentials",
					o, r.Status, r.Header.Get("Access-Control-Allow-Origin"), r.Header.Get("Access-Control-Allow-Credentials"))
			}
		}
		h := rpctest.Bearer(tok)
		h.Set("Origin", "null")
		if r := rpctest.CallInstance(t, srv, id, h, methods.ListSessions, nil); r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("the opaque origin null is allowed: %q", r.Header.Get("Access-Control-Allow-Origin"))
		}
	})

	t.Run("the cookie counts only on the platform's own requests", func(t *testing.T) {
		own := srv.URL
		ck := "roost_instance=" + tok
		for _, tc := range []struct {
			name string
			h    http.Header
			ok   bool
		}{
			{"no browser headers (curl, a backend)", rpctest.Header("Cookie", ck), true},
			{"same-origin", rpctest.Header("Cookie", ck, "Sec-Fetch-Site", "same-origin", "Origin", own), true},
			{"same-origin without Origin", rpctest.Header("Cookie", ck, "Sec-Fetch-Site", "same-origin"), true},
			{"Origin of the platform, no Sec-Fetch-Site", rpctest.Header("Cookie", ck, "Origin", own), true},
			{"an allowed origin, cross-site", rpctest.Header("Cookie", ck, "Sec-Fetch-Site", "cross-site", "Origin", origin), true},
			{"same-site (a service domain)", rpctest.Header("Cookie", ck, "Sec-Fetch-Site", "same-site", "Origin", "http://abc.svc.example.com"), false},
			{"cross-site", rpctest.Header("Cookie", ck, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example.com"), false},
			{"another Origin, no Sec-Fetch-Site", rpctest.Header("Cookie", ck, "Origin", "https://evil.example.com"), false},
			{"the opaque origin", rpctest.Header("Cookie", ck, "Sec-Fetch-Site", "cross-site", "Origin", "null"), false},
		} {
			r := rpctest.CallInstance(t, srv, id, tc.h, methods.ListSessions, nil)
			if tc.ok && r.Status != http.StatusOK {
				t.Errorf("%s: %s, want ok", tc.name, r)
			}
			if !tc.ok {
				rpctest.WantError(t, r, http.StatusUnauthorized, methods.Unauthorized)
				if r.Error != nil && !strings.Contains(r.Error.Message, "Bearer") {
					t.Errorf("%s: the refusal does not say what to do: %s", tc.name, r.Error.Message)
				}
			}
		}
	})

	t.Run("preflight without Origin", func(t *testing.T) {
		r := rpctest.Do(t, rpctest.NewRequest(t, http.MethodOptions, rpctest.InstanceURL(srv, id), nil, nil))
		if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight without Origin = %d, allow-origin %q; want 204 and no allow-origin",
				r.Status, r.Header.Get("Access-Control-Allow-Origin"))
		}
	})

	t.Run("replies carry CORS headers", func(t *testing.T) {
		for _, h := range []http.Header{rpctest.Bearer(tok), {}} { // a success and a refusal
			h.Set("Origin", origin)
			r := rpctest.CallInstance(t, srv, id, h, methods.ListSessions, nil)
			if r.Header.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("reply %d has Access-Control-Allow-Origin %q, want %q", r.Status, r.Header.Get("Access-Control-Allow-Origin"), origin)
			}
			if !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
				t.Errorf("reply does not expose X-Request-Id to the page")
			}
			if r.Header.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("an origin of --allowed-origins is not allowed credentials")
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Audit log, metrics, health, request ids
// ---------------------------------------------------------------------------

type auditRow struct {
	At         int64  `db:"at"`
	Endpoint   string `db:"endpoint"`
	OrgID      string `db:"org_id"`
	CallerKind string `db:"caller_kind"`
	CallerID   string `db:"caller_id"`
	Method     string `db:"method"`
	InstanceID string `db:"instance_id"`
	Outcome    string `db:"outcome"`
	DurationUS int64  `db:"duration_us"`
	RequestID  string `db:"request_id"`
}

func TestAuditLog(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	key, secret := srv.OrgKey(t, "audited", "auditor", false)
	c := srv.Client(secret)
	id := rpctest.CreateInstance(t, c, "audited")
	tok := rpctest.CreateToken(t, c, methods.CreateInstanceTokenInput{InstanceID: id}).Token
	jti, _ := rpctest.JWTPart(t, tok, 1)["jti"].(string)

	withID := func(h http.Header, reqID string) http.Header {
		h.Set("X-Request-Id", reqID)
		return h
	}
	start := time.Now()
	calls := []struct {
		reqID string
		send  func(t *testing.T, reqID string) rpctest.Reply
		want  auditRow
	}{
		{"audit-create", func(t *testing.T, rid string) rpctest.Reply {
			return rpctest.Post(t, rpctest.PlatformURL(srv), withID(rpctest.Bearer(secret), rid),
				rpctest.Envelope(t, methods.InstancesCreate, map[string]any{"templateSlug": "default", "name": "a"}))
		}, auditRow{Endpoint: "platform", OrgID: key.OrgID, CallerKind: "key", CallerID: key.ID, Method: methods.InstancesCreate, InstanceID: "$NEW", Outcome: "ok"}},
		{"audit-get", func(t *testing.T, rid string) rpctest.Reply {
			return rpctest.Post(t, rpctest.PlatformURL(srv), withID(rpctest.Bearer(secret), rid), rpctest.Envelope(t, methods.InstancesGet, map[string]any{"instanceId": id}))
		}, auditRow{Endpoint: "platform", OrgID: key.OrgID, CallerKind: "key", CallerID: key.ID, Method: methods.InstancesGet, InstanceID: id, Outcome: "ok"}},
		{"audit-get-missing", func(t *testing.T, rid string) rpctest.Reply {
			return rpctest.Post(t, rpctest.PlatformURL(srv), withID(rpctest.Bearer(secret), rid), rpctest.Envelope(t, methods.InstancesGet, map[string]any{"instanceId": "ins_missing"}))
		}, auditRow{Endpoint: "platform", OrgID: key.OrgID, CallerKind: "key", CallerID: key.ID, Method: methods.InstancesGet, InstanceID: "ins_missing", Outcome: "not_found"}},
		{"audit-token", func(t *testing.T, rid string) rpctest.Reply {
			return rpctest.Post(t, rpctest.PlatformURL(srv), withID(rpctest.Bearer(secret), rid), rpctest.Envelope(t, methods.TokensCreate, map[string]any{"instanceId": id}))
		}, auditRow{Endpoint: "platform", OrgID: key.OrgID, CallerKind: "key", CallerID: key.ID, Method: methods.TokensCreate, InstanceID: id, Outcome: "ok"}},
		{"audit-invalid", func(t *testing.T, rid string) rpctest.Reply {
			return rpctest.Post(t, rpctest.PlatformURL(srv), withID(rpctest.Bearer(secret), rid), rpctest.Envelope(t, methods.InstancesCreate, map[string]any{"name": "a"}))
		}, auditRow{Endpoint: "platform", OrgID: key.OrgID, CallerKind: "key", CallerID: key.ID, Method: methods.InstancesCreate, Outcome: "invalid_input"}},
		{"audit-no-method", func(t *testing.T, rid string) rpctest.Reply {
			return rpctest.Post(t, rpctest.PlatformURL(srv), withID(rpctest.Bearer(secret), rid), rpctest.Envelope(t, "instances.nope", nil))
		}, auditRow{Endpoint: "platform", OrgID: key.OrgID, CallerKind: "key", CallerID: key.ID, Outcome: "method_not_found"}},
		{"audit-no-key", func(t *testing.T, rid string) rpctest.Reply {
			return rpctest.Post(t, rpctest.PlatformURL(srv), withID(http.Header{}, rid), rpctest.Envelope(t, methods.InstancesList, nil))
		}, auditRow{Endpoint: "platform", Outcome: "unauthorized"}},
		{"audit-instance", func(t *testing.T, rid string) rpctest.Reply {
			return rpctest.Post(t, rpctest.InstanceURL(srv, id), withID(rpctest.Bearer(tok), rid), rpctest.Envelope(t, methods.ListSessions, nil))
		}, auditRow{Endpoint: "instance", OrgID: key.OrgID, CallerKind: "token", CallerID: jti, Method: methods.ListSessions, InstanceID: id, Outcome: "ok"}},
		{"audit-instance-refused", func(t *testing.T, rid string) rpctest.Reply {
			return rpctest.Post(t, rpctest.InstanceURL(srv, id), withID(rpctest.Bearer(secret), rid), rpctest.Envelope(t, methods.ListSessions, nil))
		}, auditRow{Endpoint: "instance", Outcome: "unauthorized"}},
	}
	var newID string
	for _, c := range calls {
		r := c.send(t, c.reqID)
		if got := r.Header.Get("X-Request-Id"); got != c.reqID {
			t.Errorf("%s: reply X-Request-Id = %q, want the one sent", c.reqID, got)
		}
		if c.want.InstanceID == "$NEW" {
			newID = rpctest.Decode[methods.CreateInstanceOutput](t, rpctest.WantOK(t, r)).InstanceID
		}
	}
	end := time.Now()

	rowOf := func(t *testing.T, reqID string) (auditRow, bool) {
		var rows []auditRow
		err := srv.AuditDB().SelectContext(ctx(t), &rows, `SELECT at, endpoint, org_id, caller_kind, caller_id, method, instance_id,
			outcome, duration_us, request_id FROM audit_log WHERE request_id = ?`, reqID)
		if err != nil {
			t.Fatalf("query audit_log: %v", err)
		}
		if len(rows) > 1 {
			t.Fatalf("%d audit rows for request %s, want one", len(rows), reqID)
		}
		if len(rows) == 0 {
			return auditRow{}, false
		}
		return rows[0], true
	}
	for _, c := range calls {
		t.Run(c.reqID, func(t *testing.T) {
			var got auditRow
			testutil.Eventually(t, testutil.Short, "the audit row of "+c.reqID, func() bool {
				var ok bool
				got, ok = rowOf(t, c.reqID)
				return ok
			})
			want := c.want
			if want.InstanceID == "$NEW" {
				want.InstanceID = newID
			}
			want.RequestID = c.reqID
			at := time.UnixMilli(got.At)
			if at.Before(start.Truncate(time.Millisecond)) || at.After(end) || got.DurationUS < 0 {
				t.Errorf("audit at %s, duration %d µs; want a time within the test and a duration ≥ 0", at, got.DurationUS)
			}
			got.At, got.DurationUS = 0, 0
			if got != want {
				t.Errorf("audit row = %+v\n want %+v", got, want)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	admin := srv.Admin()
	id := rpctest.CreateInstance(t, admin, "m1")
	rpctest.CreateInstance(t, admin, "m2")
	tok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: id}).Token
	rpctest.CallPlatform(t, srv, srv.AdminKey, methods.InstancesCreate, map[string]any{"name": "x"})
	rpctest.CallPlatform(t, srv, srv.AdminKey, "instances.nope", nil)
	rpctest.CallPlatform(t, srv, "", methods.InstancesList, nil)
	for range 3 {
		rpctest.CallInstance(t, srv, id, rpctest.Bearer(tok), methods.ListSessions, nil)
	}

	want := map[string]int{
		`roost_rpc_requests_total{endpoint="platform",method="instances.create",outcome="ok"}`:            2,
		`roost_rpc_requests_total{endpoint="platform",method="instances.create",outcome="invalid_input"}`: 1,
		`roost_rpc_requests_total{endpoint="platform",method="tokens.create",outcome="ok"}`:               1,
		`roost_rpc_requests_total{endpoint="platform",method="unknown",outcome="method_not_found"}`:       1,
		`roost_rpc_requests_total{endpoint="platform",method="unknown",outcome="unauthorized"}`:           1,
		`roost_rpc_requests_total{endpoint="instance",method="listSessions",outcome="ok"}`:                3,
		`roost_rpc_duration_seconds_count{endpoint="instance",method="listSessions",outcome="ok"}`:        3,
	}
	scrape := func() (map[string]int, rpctest.Reply) {
		r := rpctest.Do(t, rpctest.NewRequest(t, http.MethodGet, srv.URL+"/metrics", nil, nil))
		got := map[string]int{}
		sc := bufio.NewScanner(bytes.NewReader(r.Body))
		for sc.Scan() {
			series, val, ok := strings.Cut(sc.Text(), " ")
			if _, wanted := want[series]; ok && wanted {
				n, _ := strconv.ParseFloat(val, 64)
				got[series] = int(n)
			}
		}
		return got, r
	}
	var got map[string]int
	var last rpctest.Reply
	testutil.Eventually(t, testutil.Short, "the metrics of the calls", func() bool {
		got, last = scrape()
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	if last.Status != http.StatusOK || !strings.HasPrefix(last.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /metrics = %d %s", last.Status, last.Header.Get("Content-Type"))
	}
	if got := fmt.Sprint(got); got != fmt.Sprint(want) {
		t.Errorf("metrics = %s, want %v", got, want)
	}
}

func TestHealthAndRequestIDs(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})

	t.Run("healthz", func(t *testing.T) {
		r := rpctest.Do(t, rpctest.NewRequest(t, http.MethodGet, srv.URL+"/healthz", nil, nil))
		if r.Status != http.StatusOK || !r.OK {
			t.Errorf("GET /healthz = %s, want 200 {\"ok\":true}", r)
		}
	})

	hex24 := regexp.MustCompile(`^[0-9a-f]{24}$`)
	tests := []struct {
		name string
		sent string
		want string // "" for a fresh id
	}{
		{"a sane id is kept", "req-123_abc.DEF", "req-123_abc.DEF"},
		{"none makes one", "", ""},
		{"an id with spaces is replaced", "a b", ""},
		{"an id with markup is replaced", "<script>", ""},
		{"an id over 64 characters is replaced", strings.Repeat("x", 65), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := rpctest.Bearer(srv.AdminKey)
			if tc.sent != "" {
				h.Set("X-Request-Id", tc.sent)
			}
			r := rpctest.Post(t, rpctest.PlatformURL(srv), h, rpctest.Envelope(t, methods.InstancesList, nil))
			got := r.Header.Get("X-Request-Id")
			if tc.want != "" && got != tc.want || tc.want == "" && !hex24.MatchString(got) {
				t.Errorf("X-Request-Id = %q, want %q (or a fresh id)", got, tc.want)
			}
		})
	}

	t.Run("ids differ between requests", func(t *testing.T) {
		a := rpctest.Do(t, rpctest.NewRequest(t, http.MethodGet, srv.URL+"/healthz", nil, nil)).Header.Get("X-Request-Id")
		b := rpctest.Do(t, rpctest.NewRequest(t, http.MethodGet, srv.URL+"/healthz", nil, nil)).Header.Get("X-Request-Id")
		if a == b {
			t.Errorf("two requests got the same id %q", a)
		}
	})
	// Every other reply (errors, preflight, 413, metrics) is checked by do.
}

// ---------------------------------------------------------------------------
// The CLI
// ---------------------------------------------------------------------------

type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the binary with args and extra environment, and waits for it.
func runCLI(t *testing.T, bin string, env []string, stdin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.CommandContext(testutil.Context(t, testutil.Medium), bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errOut.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("roost %v: %v", args, err)
		}
		res.code = ee.ExitCode()
	}
	return res
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestCLI(t *testing.T) {
	bin := testutil.RoostBinary(t)
	dir := t.TempDir()
	srv := testutil.StartServer(t, platform.Config{DataDir: dir})

	var keyID, secret string
	t.Run("keys create", func(t *testing.T) {
		res := runCLI(t, bin, nil, "", "keys", "create", "--data", dir, "--org", "acme", "--name", "x")
		if res.code != 0 {
			t.Fatalf("keys create exited %d: %s", res.code, res.stderr)
		}
		secret = lastLine(res.stdout)
		if !regexp.MustCompile(`^rk_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
			t.Fatalf("last line of stdout = %q, want the key alone", secret)
		}
		m := regexp.MustCompile(`created key (key_\S+)`).FindStringSubmatch(res.stdout)
		if m == nil {
			t.Fatalf("keys create output names no key id: %s", res.stdout)
		}
		keyID = m[1]
		if strings.Contains(res.stderr, secret) {
			t.Errorf("the key was written to stderr too")
		}
		// It works against the running server on the same data dir, in its org.
		c := srv.Client(secret)
		id := rpctest.CreateInstance(t, c, "acme's")
		list, err := c.ListInstances(ctx(t), methods.ListInstancesInput{})
		if err != nil || list.Total != 1 || list.Instances[0].InstanceID != id {
			t.Errorf("instances.list with the new key = %+v, %v; want only acme's instance", list, err)
		}
		if rec := srv.KeyRecord(t, keyID); rec.Admin || rec.OrgName != "acme" || rec.Name != "x" {
			t.Errorf("stored key = %+v; want a non-admin key x of org acme", rec)
		}
	})
	if secret == "" {
		t.FailNow()
	}

	t.Run("keys list", func(t *testing.T) {
		res := runCLI(t, bin, nil, "", "keys", "list", "--data", dir)
		if res.code != 0 {
			t.Fatalf("keys list exited %d: %s", res.code, res.stderr)
		}
		var line string
		for _, l := range strings.Split(res.stdout, "\n") {
			if strings.HasPrefix(l, keyID+" ") {
				line = l
			}
		}
		f := strings.Fields(line)
		if len(f) != 8 || f[1] != "acme" || f[2] != "x" || f[4] != "false" || f[5] != "false" || f[7] != "-" {
			t.Errorf("keys list line of %s = %q; want org acme, name x, not admin, not operator, not revoked\n%s", keyID, line, res.stdout)
		}
		if !strings.Contains(res.stderr, "keys of the platform in "+dir) {
			t.Errorf("keys list does not say which data dir it read: %q", res.stderr)
		}
		if strings.Contains(res.stdout, secret) {
			t.Errorf("keys list shows a secret")
		}
	})

	u := srv.URL
	t.Run("rpc", func(t *testing.T) {
		res := runCLI(t, bin, nil, "", "rpc", "--url", u, "--key", secret, "instances.list", "{}")
		if res.code != 0 {
			t.Fatalf("rpc instances.list exited %d: %s %s", res.code, res.stdout, res.stderr)
		}
		out := rpctest.Decode[methods.ListInstancesOutput](t, json.RawMessage(res.stdout))
		if out.Total != 1 || len(out.Instances) != 1 || out.Instances[0].Name != "acme's" {
			t.Errorf("rpc instances.list printed %s; want the value with acme's one instance", res.stdout)
		}

		cases := []struct {
			name  string
			env   []string
			stdin string
			args  []string
			code  int
			typ   methods.ErrorType // of the printed error, when the server refused
			check func(t *testing.T, v json.RawMessage)
		}{
			{name: "create", args: []string{"rpc", "--url", u, "--key", secret, "instances.create", `{"templateSlug":"default","name":"from-cli"}`},
				check: func(t *testing.T, v json.RawMessage) {
					if o := rpctest.Decode[methods.CreateInstanceOutput](t, v); o.Status != "created" || o.InstanceID == "" {
						t.Errorf("printed %s", v)
					}
				}},
			{name: "no input is {}", args: []string{"rpc", "--url", u, "--api-key", secret, "templates.list"},
				check: func(t *testing.T, v json.RawMessage) { rpctest.WantKeys(t, "templates.list", v, "templates") }},
			{name: "input from stdin", stdin: `{"limit":1}`, args: []string{"rpc", "--url", u, "--key", secret, "instances.list", "-"},
				check: func(t *testing.T, v json.RawMessage) {
					if o := rpctest.Decode[methods.ListInstancesOutput](t, v); len(o.Instances) != 1 || o.Total != 2 {
						t.Errorf("printed %s; want one of two instances", v)
					}
				}},
			{name: "flags from the environment", env: []string{"ROOST_URL=" + u, "ROOST_KEY=" + secret}, args: []string{"rpc", "instances.list"},
				check: func(t *testing.T, v json.RawMessage) { rpctest.WantKeys(t, "instances.list", v, "instances", "total") }},
			{name: "not found", args: []string{"rpc", "--url", u, "--key", secret, "instances.get", `{"instanceId":"ins_nope"}`}, code: 1, typ: methods.NotFound},
			{name: "invalid input", args: []string{"rpc", "--url", u, "--key", secret, "instances.create", `{"name":""}`}, code: 1, typ: methods.InvalidInput},
			{name: "unknown method", args: []string{"rpc", "--url", u, "--key", secret, "instances.nope"}, code: 1, typ: methods.MethodNotFound},
			{name: "no key", args: []string{"rpc", "--url", u, "instances.list"}, code: 1, typ: methods.Unauthorized},
			{name: "input not JSON", args: []string{"rpc", "--url", u, "--key", secret, "instances.list", "{"}, code: 1},
			{name: "no method", args: []string{"rpc", "--url", u, "--key", secret}, code: 1},
			{name: "server not reachable", args: []string{"rpc", "--url", "http://127.0.0.1:1", "--key", secret, "instances.list"}, code: 1},
			{name: "unknown flag", args: []string{"rpc", "--nope", "instances.list"}, code: 2},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := runCLI(t, bin, tc.env, tc.stdin, tc.args...)
				if res.code != tc.code {
					t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", res.code, tc.code, res.stdout, res.stderr)
				}
				if tc.check != nil {
					tc.check(t, json.RawMessage(res.stdout))
				}
				if tc.typ != "" {
					e := rpctest.Decode[struct {
						OK    bool              `json:"ok"`
						Error rpctest.WireError `json:"error"`
					}](t, json.RawMessage(res.stdout))
					if e.OK || e.Error.Type != tc.typ || e.Error.Message == "" {
						t.Errorf("printed %s; want an error of type %s", res.stdout, tc.typ)
					}
				}
			})
		}
	})

	t.Run("keys revoke", func(t *testing.T) {
		res := runCLI(t, bin, nil, "", "keys", "revoke", "--data", dir, keyID)
		if res.code != 0 {
			t.Fatalf("keys revoke exited %d: %s", res.code, res.stderr)
		}
		// The server trusts a key it has seen for up to a second.
		c := srv.Client(secret)
		testutil.Eventually(t, testutil.Short, "the revoked key to be refused", func() bool {
			_, err := c.ListInstances(ctx(t), methods.ListInstancesInput{})
			return client.TypeOf(err) == methods.Unauthorized
		})
		res = runCLI(t, bin, nil, "", "rpc", "--url", u, "--key", secret, "instances.list")
		if res.code == 0 || !strings.Contains(res.stdout, string(methods.Unauthorized)) {
			t.Errorf("rpc with a revoked key exited %d: %s", res.code, res.stdout)
		}
		list := runCLI(t, bin, nil, "", "keys", "list", "--data", dir)
		for _, l := range strings.Split(list.stdout, "\n") {
			if f := strings.Fields(l); len(f) == 7 && f[0] == keyID {
				rpctest.ParseTime(t, "revoked at", f[6])
			}
		}
		// Revoking again is fine; an unknown id is an error.
		if res := runCLI(t, bin, nil, "", "keys", "revoke", "--data", dir, keyID); res.code != 0 {
			t.Errorf("revoking again exited %d: %s", res.code, res.stderr)
		}
		if res := runCLI(t, bin, nil, "", "keys", "revoke", "--data", dir, "key_nope"); res.code == 0 {
			t.Errorf("revoking an unknown key succeeded")
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		cases := []struct {
			name string
			args []string
			code int
		}{
			{"no command", nil, 2},
			{"unknown command", []string{"frobnicate"}, 2},
			{"keys without subcommand", []string{"keys"}, 1},
			{"keys create without org", []string{"keys", "create", "--data", dir}, 1},
			{"keys on a missing data dir", []string{"keys", "list", "--data", filepath.Join(dir, "missing")}, 1},
			{"unknown keys subcommand", []string{"keys", "rotate", "--data", dir}, 1},
			{"version", []string{"version"}, 0},
			{"help", []string{"help"}, 0},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if res := runCLI(t, bin, nil, "", tc.args...); res.code != tc.code {
					t.Errorf("roost %v exited %d, want %d: %s", tc.args, res.code, tc.code, res.stderr)
				}
			})
		}
	})

	t.Run("serve", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "fresh")
		p := testutil.StartRoost(t, bin, nil, true, "--listen", "127.0.0.1:0", "--data", data, "--log-level", "error")
		if !strings.HasPrefix(p.URL, "http://127.0.0.1:") || strings.HasSuffix(p.URL, ":0") {
			t.Fatalf("roost serve printed URL %q, want the bound loopback address", p.URL)
		}
		out, err := client.New(p.URL, p.Key, nil).ListInstances(ctx(t), methods.ListInstancesInput{})
		if err != nil || out.Total != 0 {
			t.Fatalf("instances.list with the printed key = %+v, %v", out, err)
		}
		if fi, err := os.Stat(platform.TokenKeyPath(data)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("token signing key: %v, mode %v; want mode 0600", err, fi.Mode().Perm())
		}
		p.Stop(t)
	})
}
