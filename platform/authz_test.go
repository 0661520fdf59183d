package platform_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/platform/auth"
	"github.com/roosthq/roost/rpc"
)

// expect is what a caller must get from every method of an endpoint.
type expect int

const (
	// expectOK: the credential is accepted (the positive control of the
	// matrix). A method with a known-valid input must answer ok; any other
	// may refuse a guessed input, or a non-admin (forbidden), but never
	// answer unauthorized.
	expectOK expect = iota
	// expectUnauthorized: 401 unauthorized, whatever the method and input.
	expectUnauthorized
	// expectNotFound: 404 not_found, whatever the method and input.
	expectNotFound
	// expectForeign: a valid caller of another organization. A method that
	// names an instance of the first org answers not_found, as for an id that
	// does not exist; any other method succeeds and shows none of the first
	// org's objects.
	expectForeign
)

func (e expect) String() string {
	return [...]string{"ok", "unauthorized", "not_found", "foreign"}[e]
}

// caller is one row of the matrix: the credential it sends and what each
// endpoint must answer it.
type caller struct {
	name   string
	header http.Header
	secret string // must never appear in a reply
	// platform and instance are the expectations on the two endpoints.
	platform, instance expect
	// path is the instance in the instance RPC's URL; default the target.
	path string
}

// instanceOnly is the input of methods that take just the instance.
func instanceOnly(id string) any { return map[string]any{"instanceId": id} }

func empty(string) any { return map[string]any{} }

// platformInputs are known-valid inputs of the platform methods this suite
// owns: a valid caller must get ok from each. Methods registered later get
// an input generated from their type (required fields filled, instanceId
// naming the target); a valid caller must not be refused for its credential
// then, but may be refused for a guessed value.
var platformInputs = map[string]func(instanceID string) any{
	methods.InstancesCreate: func(string) any {
		return methods.CreateInstanceInput{TemplateSlug: "default", Name: "authz"}
	},
	methods.InstancesGet:     instanceOnly,
	methods.InstancesList:    empty,
	methods.InstancesStatus:  instanceOnly,
	methods.InstancesArchive: instanceOnly,
	methods.SessionsList:     instanceOnly,
	methods.TokensCreate:     instanceOnly,
	methods.TemplatesList:    empty,
}

// instanceInputs is the same for the instance RPC.
var instanceInputs = map[string]func(instanceID string) any{
	methods.ListSessions: empty,
}

// generatedInput builds an input of type t with its required fields filled
// by type, and instanceId set to the target.
func generatedInput(t reflect.Type, instanceID string) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	in := map[string]any{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || f.Tag.Get("required") != "true" {
			continue
		}
		if name == "instanceId" {
			in[name] = instanceID
			continue
		}
		in[name] = placeholder(f.Type, instanceID)
	}
	return in
}

func placeholder(t reflect.Type, instanceID string) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "x"
	case reflect.Bool:
		return false
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return 1
	case reflect.Struct:
		return generatedInput(t, instanceID)
	case reflect.Slice:
		return []any{}
	}
	return map[string]any{}
}

// namesInstance reports whether an input type has an instanceId field.
func namesInstance(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == "instanceId" {
			return true
		}
	}
	return false
}

// inputFor returns an input of m naming instanceID, and whether it is known
// to be valid.
func inputFor(m rpc.Method, known map[string]func(string) any, instanceID string) (in any, exact bool) {
	if f, ok := known[m.Name]; ok {
		return f(instanceID), true
	}
	return generatedInput(m.Input, instanceID), false
}

// TestAuthorizationMatrix calls every registered method of both endpoints
// as every kind of caller, and checks that only the right ones get through.
func TestAuthorizationMatrix(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	admin := srv.Admin()
	org := srv.AdminKeyRecord(t).OrgID

	// The first org's instances: the target, a second one, an archived one.
	target := rpctest.CreateInstance(t, admin, "target")
	second := rpctest.CreateInstance(t, admin, "second")
	archived := rpctest.CreateInstance(t, admin, "archived")
	firstOrgIDs := []string{target, second, archived}

	targetTok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: target}).Token
	secondTok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: second}).Token
	archivedTok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: archived}).Token
	originTok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: target, Origin: "https://app.example.com"}).Token
	if _, err := admin.ArchiveInstance(ctx(t), archived); err != nil {
		t.Fatal(err)
	}
	expiredTok := srv.SignToken(t, org, target, "", -time.Hour)

	// Another org, with its own instance and token, a normal key and an
	// admin key: being an admin does not open another org's objects.
	_, otherKey := srv.OrgKey(t, "other", "other", false)
	_, otherAdminKey := srv.OrgKey(t, "other", "other-admin", true)
	// A key of the first org that is not an admin.
	_, plainKey := srv.OrgKey(t, "default", "plain", false)
	otherInst := rpctest.CreateInstance(t, srv.Client(otherKey), "theirs")
	otherTok := rpctest.CreateToken(t, srv.Client(otherKey), methods.CreateInstanceTokenInput{InstanceID: otherInst}).Token

	// A key that worked, then was revoked: the server's cache must drop it.
	revokedRec, revokedKey := srv.OrgKey(t, "default", "revoked", false)
	rpctest.WantOK(t, rpctest.CallPlatform(t, srv, revokedKey, methods.InstancesList, nil))
	if err := srv.Keys().Revoke(ctx(t), revokedRec.ID); err != nil {
		t.Fatal(err)
	}

	// A token signed with some other key, and one not signed at all.
	foreignSigner, err := auth.LoadSigner(filepath.Join(t.TempDir(), "token.key"))
	if err != nil {
		t.Fatal(err)
	}
	forgedTok, _, err := foreignSigner.Issue(org, target, "", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	unsignedTok := rpctest.Unsigned(t, targetTok)

	var raw [32]byte
	_, _ = rand.Read(raw[:])
	unknownKey := auth.KeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])

	withOrigin := func(h http.Header, origin string) http.Header { h.Set("Origin", origin); return h }
	cookie := func(tok string) http.Header { return rpctest.Header("Cookie", "roost_instance="+tok) }
	U, NF, OK := expectUnauthorized, expectNotFound, expectOK
	callers := []caller{
		{name: "no credential", header: http.Header{}, platform: U, instance: U},
		{name: "Basic scheme", header: rpctest.Header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:p"))), platform: U, instance: U},
		{name: "empty Bearer", header: rpctest.Header("Authorization", "Bearer "), platform: U, instance: U},
		{name: "malformed key", header: rpctest.Bearer("not-a-key"), platform: U, instance: U},
		{name: "truncated key", header: rpctest.Bearer(srv.AdminKey[:20]), secret: srv.AdminKey[:20], platform: U, instance: U},
		{name: "unknown key", header: rpctest.Bearer(unknownKey), secret: unknownKey, platform: U, instance: U},
		{name: "revoked key", header: rpctest.Bearer(revokedKey), secret: revokedKey, platform: U, instance: U},
		{name: "other org's key", header: rpctest.Bearer(otherKey), secret: otherKey, platform: expectForeign, instance: U},
		{name: "other org's admin key", header: rpctest.Bearer(otherAdminKey), secret: otherAdminKey, platform: expectForeign, instance: U},
		{name: "API key", header: rpctest.Bearer(srv.AdminKey), secret: srv.AdminKey, platform: OK, instance: U},
		{name: "non-admin API key", header: rpctest.Bearer(plainKey), secret: plainKey, platform: OK, instance: U},
		{name: "API key in the cookie", header: cookie(srv.AdminKey), secret: srv.AdminKey, platform: U, instance: U},
		{name: "instance token", header: rpctest.Bearer(targetTok), secret: targetTok, platform: U, instance: OK},
		{name: "instance cookie", header: cookie(targetTok), secret: targetTok, platform: U, instance: OK},
		{name: "token with its origin", header: withOrigin(rpctest.Bearer(originTok), "https://app.example.com"), secret: originTok, platform: U, instance: OK},
		{name: "token of another instance", header: rpctest.Bearer(secondTok), secret: secondTok, platform: U, instance: NF},
		{name: "cookie of another instance", header: cookie(secondTok), secret: secondTok, platform: U, instance: NF},
		{name: "token of another org's instance", header: rpctest.Bearer(otherTok), secret: otherTok, platform: U, instance: NF},
		{name: "token of an archived instance", header: rpctest.Bearer(archivedTok), secret: archivedTok, platform: U, instance: U, path: archived},
		{name: "expired token", header: rpctest.Bearer(expiredTok), secret: expiredTok, platform: U, instance: U},
		{name: "expired token in the cookie", header: cookie(expiredTok), secret: expiredTok, platform: U, instance: U},
		{name: "wrong origin", header: withOrigin(rpctest.Bearer(originTok), "https://evil.example.com"), secret: originTok, platform: U, instance: U},
		{name: "tampered token", header: rpctest.Bearer(rpctest.Tamper(t, targetTok)), platform: U, instance: U},
		{name: "token signed with another key", header: rpctest.Bearer(forgedTok), secret: forgedTok, platform: U, instance: U},
		{name: "unsigned token", header: rpctest.Bearer(unsignedTok), secret: unsignedTok, platform: U, instance: U},
	}

	platformMethods := srv.PlatformMethods()
	instanceMethods := srv.InstanceMethods()
	t.Run("the methods of issue 2 are registered", func(t *testing.T) {
		has := func(ms []rpc.Method, name string) bool {
			for _, m := range ms {
				if m.Name == name {
					return true
				}
			}
			return false
		}
		for _, name := range []string{methods.InstancesCreate, methods.InstancesGet, methods.InstancesList,
			methods.InstancesStatus, methods.InstancesArchive, methods.SessionsList, methods.TokensCreate, methods.TemplatesList} {
			if !has(platformMethods, name) {
				t.Errorf("platform RPC has no method %s", name)
			}
		}
		if !has(instanceMethods, methods.ListSessions) {
			t.Errorf("instance RPC has no method %s", methods.ListSessions)
		}
	})

	// check holds the expectations that do not depend on the endpoint.
	// An exact input must succeed for a valid caller; a guessed one may be
	// refused, but never for the credential.
	check := func(t *testing.T, c caller, m rpc.Method, exp expect, exact bool, r rpctest.Reply) {
		t.Helper()
		if c.secret != "" && bytes.Contains(r.Body, []byte(c.secret)) {
			t.Errorf("the reply shows the caller's credential: %s", r.Body)
		}
		switch exp {
		case expectUnauthorized:
			rpctest.WantError(t, r, http.StatusUnauthorized, methods.Unauthorized)
		case expectNotFound:
			rpctest.WantError(t, r, http.StatusNotFound, methods.NotFound)
		case expectOK:
			if exact {
				rpctest.WantOK(t, r)
			} else if r.Status == http.StatusUnauthorized || r.Error != nil && r.Error.Type == methods.Unauthorized {
				t.Errorf("a valid caller was refused: %s", r)
			}
		case expectForeign:
			if namesInstance(m.Input) {
				rpctest.WantError(t, r, http.StatusNotFound, methods.NotFound)
				return
			}
			if exact {
				rpctest.WantOK(t, r)
			} else if r.Status == http.StatusUnauthorized {
				t.Errorf("a valid caller was refused: %s", r)
			}
			for _, id := range firstOrgIDs {
				if bytes.Contains(r.Value, []byte(id)) {
					t.Errorf("another org sees instance %s: %s", id, r.Value)
				}
			}
		}
	}

	t.Run("platform RPC", func(t *testing.T) {
		for _, c := range callers {
			t.Run(c.name, func(t *testing.T) {
				for _, m := range platformMethods {
					t.Run(m.Name, func(t *testing.T) {
						instanceID := target
						if c.platform == expectOK {
							// A valid caller acts for real (archive, say): on an instance of its own.
							instanceID = rpctest.CreateInstance(t, admin, "matrix "+m.Name)
						}
						in, exact := inputFor(m, platformInputs, instanceID)
						r := rpctest.Post(t, rpctest.PlatformURL(srv), c.header.Clone(), rpctest.Envelope(t, m.Name, in))
						check(t, c, m, c.platform, exact, r)
					})
				}
			})
		}
	})

	t.Run("instance RPC", func(t *testing.T) {
		for _, c := range callers {
			t.Run(c.name, func(t *testing.T) {
				path := c.path
				if path == "" {
					path = target
				}
				for _, m := range instanceMethods {
					t.Run(m.Name, func(t *testing.T) {
						in, exact := inputFor(m, instanceInputs, path)
						r := rpctest.Post(t, rpctest.InstanceURL(srv, path), c.header.Clone(), rpctest.Envelope(t, m.Name, in))
						check(t, c, m, c.instance, exact, r)
					})
				}
			})
		}
	})

	t.Run("other org's lists hold only its own", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, otherKey, methods.InstancesList, map[string]any{"limit": 200}))
		out := rpctest.Decode[methods.ListInstancesOutput](t, v)
		ids := map[string]bool{}
		for _, inst := range out.Instances {
			ids[inst.InstanceID] = true
		}
		if !ids[otherInst] || out.Total != len(out.Instances) {
			t.Errorf("other org lists %v (total %d); want its own instances, %s among them", ids, out.Total, otherInst)
		}
		for _, id := range firstOrgIDs {
			if ids[id] {
				t.Errorf("other org lists the first org's instance %s", id)
			}
		}
		mine, err := admin.ListInstances(ctx(t), methods.ListInstancesInput{Limit: rpctest.Ptr(200)})
		if err != nil {
			t.Fatal(err)
		}
		for _, inst := range mine.Instances {
			if inst.InstanceID == otherInst {
				t.Errorf("the first org lists the other org's instance %s", otherInst)
			}
		}
	})

	t.Run("refused callers changed nothing", func(t *testing.T) {
		got, err := admin.GetInstance(ctx(t), target)
		if err != nil || got.Status != "created" || got.Name != "target" {
			t.Fatalf("target after the matrix = %+v, %v; want it untouched", got, err)
		}
		st, err := admin.InstanceStatus(ctx(t), target)
		// With no node, the instance holds its creation and why no sandbox
		// was scheduled, nothing more.
		if err != nil || len(st.LifecycleEvents) != 2 || st.LifecycleEvents[1].Event != "sandbox_not_scheduled" {
			t.Errorf("target's lifecycle after the matrix = %+v, %v; want only created and sandbox_not_scheduled", st, err)
		}
		rpctest.WantOK(t, rpctest.CallInstance(t, srv, target, rpctest.Bearer(targetTok), methods.ListSessions, nil))
	})
}

// TestRevokedKeyStopsAtOnce: a key revoked through the server's own store is
// refused by the very next call, although the server had it cached.
func TestRevokedKeyStopsAtOnce(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	rec, key := srv.OrgKey(t, "default", "short-lived", false)
	for _, m := range srv.PlatformMethods() {
		in, _ := inputFor(m, platformInputs, "ins_none")
		r := rpctest.CallPlatform(t, srv, key, m.Name, in)
		if r.Status == http.StatusUnauthorized {
			t.Fatalf("%s refused a live key: %s", m.Name, r)
		}
	}
	if err := srv.Keys().Revoke(ctx(t), rec.ID); err != nil {
		t.Fatal(err)
	}
	for _, m := range srv.PlatformMethods() {
		t.Run(m.Name, func(t *testing.T) {
			in, _ := inputFor(m, platformInputs, "ins_none")
			rpctest.WantError(t, rpctest.CallPlatform(t, srv, key, m.Name, in), http.StatusUnauthorized, methods.Unauthorized)
		})
	}
}
