// Package sessiontest holds what the end-to-end tests of sessions, service
// URLs and publishing share, and the proxy benchmarks built on them: a
// platform with real sandboxes, the test agent published as the bundle
// "echo" and a second organization (Start), instances with a token and what
// instances.create answered, sessions and their statuses, and the browser
// websocket of a session (dial, echo, refusals before the upgrade). It builds
// on package sandboxtest.
package sessiontest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/platform/auth"
)

// Env is a platform with its embedded node, the test agent published as
// the bundle "echo" (serving a page on port 3000), and a key of a second
// organization.
type Env struct {
	*sandboxtest.Env
	OrgID    string         // the organization of the admin key
	OtherKey string         // an API key of a second organization
	Other    *client.Client // a client with OtherKey
}

// Start starts a platform for the session tests.
func Start(t testing.TB, cfg platform.Config) *Env {
	t.Helper()
	e := sandboxtest.Start(t, cfg)
	e.Publish("echo", "-page", "3000")
	_, otherKey := e.Srv.OrgKey(t, "other-org", "other", false)
	return &Env{Env: e, OrgID: e.Srv.AdminKeyRecord(t).OrgID, OtherKey: otherKey, Other: e.Srv.Client(otherKey)}
}

// PublishManifest publishes the test agent under slug with a manifest.
func (e *Env) PublishManifest(t testing.TB, slug string, m methods.BundleManifest) {
	t.Helper()
	testutil.PublishTestAgent(t, e.Admin, slug, m)
}

// Inst is an instance, an instance token and a client of its RPC.
type Inst struct {
	*sandboxtest.Inst
	Token   string                       // an instance token of a day
	Created methods.CreateInstanceOutput // what instances.create answered
}

// ServiceURL calls getServiceUrl and returns the URL, which must be set.
func (i *Inst) ServiceURL(t testing.TB, sessionID, serviceType string) string {
	t.Helper()
	out := sandboxtest.Must[methods.GetServiceURLOutput](t, i.Inst, methods.GetServiceURL, map[string]any{"sessionId": sessionID, "serviceType": serviceType})
	if out.URL == nil {
		t.Fatalf("getServiceUrl %s gave no URL", serviceType)
	}
	return *out.URL
}

// Create creates an instance that must be accepted.
func (e *Env) Create(t testing.TB, in methods.CreateInstanceInput) *Inst {
	t.Helper()
	if in.TemplateSlug == "" {
		in.TemplateSlug = "default"
	}
	if in.Name == "" {
		in.Name = "session-test"
	}
	out, err := e.Admin.CreateInstance(e.Ctx, in)
	if err != nil {
		t.Fatalf("instances.create %+v: %v", in, err)
	}
	tok := e.InstanceToken(t, out.InstanceID)
	return &Inst{
		Inst:    &sandboxtest.Inst{Env: e.Env, ID: out.InstanceID, Status: out.Status, Client: client.NewInstance(e.Srv.URL, out.InstanceID, tok, nil)},
		Token:   tok,
		Created: *out,
	}
}

// WithSession creates an instance of the bundle with a session on preset
// "chat" started at once (blocking).
func (e *Env) WithSession(t testing.TB, bundle, vcs string) *Inst {
	t.Helper()
	i := e.Create(t, methods.CreateInstanceInput{BundleSlug: bundle, VCSType: vcs,
		AutoCreateSession: &methods.AutoCreateSession{PresetID: "chat", Blocking: true}})
	if i.Created.SessionID == "" || i.Created.WSToken == "" || i.Created.Status != methods.InstanceReady {
		t.Fatalf("instances.create with a blocking autoCreateSession answered %+v", i.Created)
	}
	return i
}

// InstanceToken issues an instance token for a day.
func (e *Env) InstanceToken(t testing.TB, id string) string {
	t.Helper()
	ttl := 24 * 3600
	tok, err := e.Admin.CreateToken(e.Ctx, methods.CreateInstanceTokenInput{InstanceID: id, ExpiresIn: &ttl})
	if err != nil {
		t.Fatalf("tokens.create: %v", err)
	}
	return tok.Token
}

// Session starts a session with sessions.create and returns its reply.
func (e *Env) Session(t testing.TB, in methods.CreateSessionInput) methods.CreateSessionOutput {
	t.Helper()
	var out methods.CreateSessionOutput
	if err := e.Admin.Call(e.Ctx, methods.SessionsCreate, in, &out); err != nil {
		t.Fatalf("sessions.create %+v: %v", in, err)
	}
	return out
}

// SessionStatus is a session's status as sessions.list shows it ("" when
// it is not listed).
func (e *Env) SessionStatus(t testing.TB, instanceID, sessionID string) string {
	t.Helper()
	l, err := e.Admin.ListSessions(e.Ctx, instanceID)
	if err != nil {
		t.Fatalf("sessions.list: %v", err)
	}
	for _, s := range l.Sessions {
		if s.ID == sessionID {
			return s.Status
		}
	}
	return ""
}

// WaitSession waits until sessions.list shows the session in status.
func (e *Env) WaitSession(t testing.TB, instanceID, sessionID, status string) {
	t.Helper()
	testutil.Eventually(t, testutil.Medium, "session "+sessionID+" "+status, func() bool {
		return e.SessionStatus(t, instanceID, sessionID) == status
	})
}

// Signer is the token signer of the server's data dir.
func (e *Env) Signer(t testing.TB) *auth.Signer {
	t.Helper()
	s, err := auth.LoadSigner(platform.TokenKeyPath(e.Srv.DataDir))
	if err != nil {
		t.Fatalf("load token signer: %v", err)
	}
	return s
}

// SandboxID is the instance's live sandbox.
func (e *Env) SandboxID(t testing.TB, instanceID string) string {
	t.Helper()
	st, err := e.Admin.InstanceStatus(e.Ctx, instanceID)
	if err != nil || st.Sandbox == nil || st.Sandbox.E2BID == "" {
		t.Fatalf("instances.status of %s gives no sandbox: %+v %v", instanceID, st, err)
	}
	return st.Sandbox.E2BID
}

// WSBase is the websocket form of an http(s) URL.
func WSBase(u string) string { return "ws" + strings.TrimPrefix(u, "http") }

// SessionWS is the browser websocket URL of a session; token may be "".
func (e *Env) SessionWS(instanceID, sessionID, token string) string {
	u := WSBase(e.Srv.URL) + "/api/v1/instances/" + instanceID + "/sessions/" + sessionID + "/ws"
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	return u
}

// Dial opens a websocket that must open; it is closed when the test ends.
func Dial(t testing.TB, ctx context.Context, u string, h http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		status := 0
		var body []byte
		if resp != nil {
			status = resp.StatusCode
			body, _ = io.ReadAll(resp.Body)
		}
		t.Fatalf("websocket %s: %v (HTTP %d %s)", u, err, status, body)
	}
	c.SetReadLimit(8 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// Refused checks that a websocket to u is refused before the upgrade: a
// plain HTTP reply with the status and an RPC error of the type.
func Refused(t testing.TB, ctx context.Context, u string, h http.Header, status int, typ methods.ErrorType) {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		c.CloseNow()
		t.Fatalf("websocket %s opened, want HTTP %d before the upgrade", u, status)
	}
	if resp == nil {
		t.Fatalf("websocket %s: no HTTP reply: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("websocket %s: HTTP %d %s, want %d", u, resp.StatusCode, body, status)
	}
	if resp.Header.Get("Upgrade") != "" || resp.Header.Get("Sec-WebSocket-Accept") != "" {
		t.Errorf("the refusal carries upgrade headers: %v", resp.Header)
	}
	var env struct {
		OK    *bool              `json:"ok"`
		Error *rpctest.WireError `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.OK == nil || *env.OK || env.Error == nil {
		t.Fatalf("the refusal is not an RPC error reply: %s", body)
	}
	if env.Error.Type != typ {
		t.Errorf("refusal type %s (%q), want %s", env.Error.Type, env.Error.Message, typ)
	}
	if !strings.HasSuffix(env.Error.Message, ".") || !strings.Contains(env.Error.Message, " ") {
		t.Errorf("refusal message %q is not a sentence", env.Error.Message)
	}
}

// Echo sends one message and checks the answer.
func Echo(t testing.TB, ctx context.Context, c *websocket.Conn, typ websocket.MessageType, msg []byte, prefix string) {
	t.Helper()
	if err := c.Write(ctx, typ, msg); err != nil {
		t.Fatalf("websocket write: %v", err)
	}
	gt, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	want := append([]byte(prefix), msg...)
	if gt != typ || !bytes.Equal(got, want) {
		t.Fatalf("websocket answered %v %.80q (%d bytes), want %v %.80q (%d bytes)", gt, got, len(got), typ, want, len(want))
	}
}
