package sessions_test

// End-to-end tests of agent sessions with real bubblewrap sandboxes on the
// embedded node: instances.create with autoCreateSession and its inputs,
// sessions.create/list and createSession/listSessions, the statuses a
// session goes through, the wsToken and the browser websocket proxied to
// the agent, and every bad input of the session and service methods. The
// helpers shared by the session, service and publish tests are in
// internal/testutil/sessiontest.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/internal/testutil/sessiontest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// seRawSessions returns the raw sessions array of a list reply.
func seRawSessions(t testing.TB, value json.RawMessage) []map[string]json.RawMessage {
	t.Helper()
	var out struct {
		Sessions []map[string]json.RawMessage `json:"sessions"`
	}
	if err := json.Unmarshal(value, &out); err != nil {
		t.Fatalf("not a sessions list: %v: %s", err, value)
	}
	return out.Sessions
}

// ---------------------------------------------------------------------------
// instances.create with autoCreateSession
// ---------------------------------------------------------------------------

// TestSessionsAutoCreate: an instance created with a blocking
// autoCreateSession is ready when the reply comes, with its session active
// on the agent, the latest revision of each resource and each file placed in
// /workspace/.roost/inputs/, and a wsToken that opens the session.
func TestSessionsAutoCreate(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})
	ctx := e.Ctx
	up := func(name, body string) *methods.UploadFileOutput {
		t.Helper()
		f, err := e.Admin.UploadFile(ctx, name, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
		return f
	}
	rev1, rev2 := up("notes.txt", "first revision\n"), up("notes.txt", "second revision\n")
	data := up("data.csv", "a,b\n1,2\n")
	res, err := e.Admin.CreateResource(ctx, methods.CreateResourceInput{Slug: "notes", FileID: rev1.FileID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.AddResourceRevision(ctx, methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: rev2.FileID}); err != nil {
		t.Fatal(err)
	}

	t.Run("blocking with inputs", func(t *testing.T) {
		r := rpctest.CallPlatform(t, e.Srv, e.Key, methods.InstancesCreate, map[string]any{
			"templateSlug": "default", "name": "auto", "bundleSlug": "echo",
			"autoCreateSession": map[string]any{"presetId": "chat", "blocking": true, "initialPrompt": "Fix the failing test",
				"resourceIds": []string{res.ResourceID}, "fileIds": []string{data.FileID}},
		})
		v := rpctest.WantOK(t, r)
		rpctest.WantKeys(t, "instances.create value", v, "instanceId", "status", "sessionId", "wsToken")
		out := rpctest.Decode[methods.CreateInstanceOutput](t, v)
		if out.Status != methods.InstanceReady || !strings.HasPrefix(out.SessionID, "ses_") || out.WSToken == "" {
			t.Fatalf("instances.create = %+v, want status ready with a session and a wsToken", out)
		}
		claims := rpctest.JWTPart(t, out.WSToken, 1)
		if claims["sid"] != out.SessionID || claims["sub"] != out.InstanceID {
			t.Errorf("wsToken claims %v do not name session %s of %s", claims, out.SessionID, out.InstanceID)
		}
		tok := e.InstanceToken(t, out.InstanceID)
		i := &sandboxtest.Inst{Env: e.Env, ID: out.InstanceID, Client: client.NewInstance(e.Srv.URL, out.InstanceID, tok, nil)}

		if got := i.Sh(t, "ls -1 /workspace/.roost/inputs"); got != "data.csv\nnotes.txt" {
			t.Errorf("inputs = %q, want data.csv and notes.txt", got)
		}
		if got := i.Sh(t, "cat /workspace/.roost/inputs/notes.txt"); got != "second revision" {
			t.Errorf("the resource's input holds %q, want its latest revision", got)
		}
		if got := i.Sh(t, "cat /workspace/.roost/inputs/data.csv"); got != "a,b\n1,2" {
			t.Errorf("the file's input holds %q", got)
		}
		if got := e.SessionStatus(t, out.InstanceID, out.SessionID); got != "active" {
			t.Errorf("sessions.list shows the session %q, want active", got)
		}
		sb := e.SandboxID(t, out.InstanceID)
		logs := sandboxtest.Must[methods.GetAgentLogsOutput](t, i, methods.GetAgentLogs, map[string]any{"sandboxId": sb, "lines": 1000})
		if !strings.Contains(logs.Logs, "session "+out.SessionID+" opened with preset chat") {
			t.Errorf("the agent's log does not show the session opened:\n%s", logs.Logs)
		}
		ws := sessiontest.Dial(t, ctx, e.SessionWS(out.InstanceID, out.SessionID, out.WSToken), nil)
		sessiontest.Echo(t, ctx, ws, websocket.MessageText, []byte("hello"), "echo: ")
		ws.Close(websocket.StatusNormalClosure, "")
	})

	t.Run("not blocking", func(t *testing.T) {
		i := e.Create(t, methods.CreateInstanceInput{BundleSlug: "echo",
			AutoCreateSession: &methods.AutoCreateSession{PresetID: "page", FileIDs: []string{data.FileID}}})
		if i.Created.Status != methods.InstanceInitializing || i.Created.SessionID == "" || i.Created.WSToken == "" {
			t.Fatalf("instances.create = %+v, want initializing with a session and a wsToken", i.Created)
		}
		e.WaitSession(t, i.ID, i.Created.SessionID, "active")
		if got := i.Sh(t, "cat /workspace/.roost/inputs/data.csv"); got != "a,b\n1,2" {
			t.Errorf("the file's input holds %q", got)
		}
	})

	// Inputs are the org's own: another org's file or resource, or an id
	// that names nothing, is not found.
	otherFile, err := e.Other.UploadFile(ctx, "theirs.txt", "text/plain", strings.NewReader("not yours"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		auto   map[string]any
		status int
		typ    methods.ErrorType
	}{
		{"unknown resource", map[string]any{"presetId": "chat", "resourceIds": []string{"res_nothing"}}, 404, methods.NotFound},
		{"unknown file", map[string]any{"presetId": "chat", "fileIds": []string{"fil_nothing"}}, 404, methods.NotFound},
		{"another org's file", map[string]any{"presetId": "chat", "fileIds": []string{otherFile.FileID}}, 404, methods.NotFound},
		{"preset not in the bundle", map[string]any{"presetId": "debug"}, 400, methods.InvalidInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rpctest.CallPlatform(t, e.Srv, e.Key, methods.InstancesCreate, map[string]any{
				"templateSlug": "default", "name": "auto-bad", "bundleSlug": "echo", "autoCreateSession": c.auto})
			rpctest.WantError(t, r, c.status, c.typ)
		})
	}
}

// ---------------------------------------------------------------------------
// sessions.create, sessions.list, createSession, listSessions
// ---------------------------------------------------------------------------

// TestSessionsCreate: sessions on the platform RPC and the instance RPC,
// blocking or not; the presets the bundle offers; the wsToken's lifetime;
// the lists and their time formats; other organizations see nothing.
func TestSessionsCreate(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})
	ctx := e.Ctx
	a := e.Create(t, methods.CreateInstanceInput{BundleSlug: "echo"})
	bare := e.Create(t, methods.CreateInstanceInput{Name: "no-bundle"})

	var blockingID, createdID, instanceRPCID string
	t.Run("sessions.create blocking", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.SessionsCreate,
			map[string]any{"instanceId": a.ID, "presetId": "chat", "blocking": true}))
		rpctest.WantKeys(t, "sessions.create value", v, "sessionId", "status", "wsToken")
		out := rpctest.Decode[methods.CreateSessionOutput](t, v)
		if out.Status != "active" {
			t.Fatalf("blocking sessions.create status = %q, want active", out.Status)
		}
		if got := e.SessionStatus(t, a.ID, out.SessionID); got != "active" {
			t.Errorf("sessions.list shows %q, want active", got)
		}
		blockingID = out.SessionID
	})
	t.Run("sessions.create not blocking", func(t *testing.T) {
		out := e.Session(t, methods.CreateSessionInput{InstanceID: a.ID, PresetID: "page"})
		if out.Status != "creating" || out.WSToken == "" {
			t.Fatalf("sessions.create = %+v, want creating with a wsToken", out)
		}
		if got := e.SessionStatus(t, a.ID, out.SessionID); got != "creating" && got != "active" {
			t.Errorf("right after, sessions.list shows %q", got)
		}
		e.WaitSession(t, a.ID, out.SessionID, "active")
		createdID = out.SessionID
	})
	t.Run("createSession", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallInstance(t, e.Srv, a.ID, rpctest.Bearer(a.Token), methods.CreateSession, map[string]any{"presetId": "chat"}))
		rpctest.WantKeys(t, "createSession value", v, "sessionId")
		id := rpctest.Decode[methods.InstanceCreateSessionOutput](t, v).SessionID
		e.WaitSession(t, a.ID, id, "active")
		instanceRPCID = id
	})
	t.Run("lists", func(t *testing.T) {
		want := []string{blockingID, createdID, instanceRPCID}
		platformList := seRawSessions(t, rpctest.WantOK(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.SessionsList, map[string]any{"instanceId": a.ID})))
		instanceList := seRawSessions(t, rpctest.WantOK(t, rpctest.CallInstance(t, e.Srv, a.ID, rpctest.Bearer(a.Token), methods.ListSessions, map[string]any{})))
		status := rpctest.WantOK(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.InstancesStatus, map[string]any{"instanceId": a.ID}))
		statusList := seRawSessions(t, status)
		for name, l := range map[string][]map[string]json.RawMessage{"sessions.list": platformList, "listSessions": instanceList, "instances.status": statusList} {
			var ids []string
			for _, s := range l {
				ids = append(ids, rpctest.Decode[string](t, s["id"]))
				if len(s) != 4 || s["presetId"] == nil || s["status"] == nil || s["createdAt"] == nil {
					t.Errorf("%s: a session has fields %v, want id, presetId, status, createdAt", name, slices.Sorted(maps.Keys(s)))
				}
			}
			if !slices.Equal(ids, want) {
				t.Errorf("%s lists %v, want %v in creation order", name, ids, want)
			}
		}
		for n := range want {
			ms := rpctest.Decode[json.Number](t, instanceList[n]["createdAt"])
			if _, err := ms.Int64(); err != nil || bytes.HasPrefix(instanceList[n]["createdAt"], []byte(`"`)) {
				t.Fatalf("listSessions createdAt %s is not a number of milliseconds", instanceList[n]["createdAt"])
			}
			n64, _ := ms.Int64()
			for name, l := range map[string][]map[string]json.RawMessage{"sessions.list": platformList, "instances.status": statusList} {
				tm := rpctest.ParseTime(t, name+" createdAt", rpctest.Decode[string](t, l[n]["createdAt"]))
				if !tm.Equal(time.UnixMilli(n64)) {
					t.Errorf("%s createdAt %s and listSessions createdAt %d differ", name, tm, n64)
				}
			}
			if p := rpctest.Decode[string](t, platformList[n]["presetId"]); p != []string{"chat", "page", "chat"}[n] {
				t.Errorf("session %d presetId = %q", n, p)
			}
		}
	})

	t.Run("presets", func(t *testing.T) {
		cases := []struct {
			name string
			call func(preset string) rpctest.Reply
		}{
			{"sessions.create", func(p string) rpctest.Reply {
				return rpctest.CallPlatform(t, e.Srv, e.Key, methods.SessionsCreate, map[string]any{"instanceId": a.ID, "presetId": p})
			}},
			{"createSession", func(p string) rpctest.Reply {
				return rpctest.CallInstance(t, e.Srv, a.ID, rpctest.Bearer(a.Token), methods.CreateSession, map[string]any{"presetId": p})
			}},
			{"instances.create autoCreateSession", func(p string) rpctest.Reply {
				return rpctest.CallPlatform(t, e.Srv, e.Key, methods.InstancesCreate, map[string]any{"templateSlug": "default", "name": "x",
					"bundleSlug": "echo", "autoCreateSession": map[string]any{"presetId": p}})
			}},
		}
		for _, c := range cases {
			for _, preset := range []string{"debug", "", "CHAT"} {
				t.Run(c.name+" "+preset, func(t *testing.T) {
					r := c.call(preset)
					rpctest.WantFieldError(t, r, "presetId", "enum")
					if !strings.Contains(r.Error.Message, "chat, page") {
						t.Errorf("the message %q does not list the bundle's presets", r.Error.Message)
					}
					var d struct {
						Presets []string `json:"presets"`
					}
					_ = json.Unmarshal(r.Error.Details, &d)
					if !slices.Equal(d.Presets, []string{"chat", "page"}) {
						t.Errorf("details.presets = %v, want [chat page]", d.Presets)
					}
				})
			}
		}
	})

	t.Run("instance without bundle", func(t *testing.T) {
		rpctest.WantFieldError(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.SessionsCreate, map[string]any{"instanceId": bare.ID, "presetId": "chat"}), "presetId", "no_bundle")
		rpctest.WantFieldError(t, rpctest.CallInstance(t, e.Srv, bare.ID, rpctest.Bearer(bare.Token), methods.CreateSession, map[string]any{"presetId": "chat"}), "presetId", "no_bundle")
		rpctest.WantFieldError(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.InstancesCreate, map[string]any{"templateSlug": "default", "name": "x",
			"autoCreateSession": map[string]any{"presetId": "chat"}}), "autoCreateSession", "requires")
		l, err := e.Admin.ListSessions(ctx, bare.ID)
		if err != nil || len(l.Sessions) != 0 {
			t.Errorf("refused sessions were recorded: %+v %v", l, err)
		}
	})

	t.Run("wsToken lifetime", func(t *testing.T) {
		cases := []struct {
			name      string
			expiresIn any // nil: not given
			wantTTL   float64
			reason    string // of invalid_input; "" when accepted
		}{
			{"default a day", nil, 24 * 3600, ""},
			{"a minute", 60, 60, ""},
			{"seven days", 7 * 24 * 3600, 7 * 24 * 3600, ""},
			{"over seven days", 7*24*3600 + 1, 0, "range"},
			{"zero", 0, 0, "range"},
			{"negative", -60, 0, "range"},
			{"a string", "60", 0, "type"},
			{"a fraction", 1.5, 0, "type"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				in := map[string]any{"instanceId": a.ID, "presetId": "chat"}
				if c.expiresIn != nil {
					in["expiresIn"] = c.expiresIn
				}
				r := rpctest.CallPlatform(t, e.Srv, e.Key, methods.SessionsCreate, in)
				if c.reason != "" {
					rpctest.WantFieldError(t, r, "expiresIn", c.reason)
					return
				}
				out := rpctest.Decode[methods.CreateSessionOutput](t, rpctest.WantOK(t, r))
				claims := rpctest.JWTPart(t, out.WSToken, 1)
				if ttl := claims["exp"].(float64) - claims["iat"].(float64); ttl != c.wantTTL {
					t.Errorf("wsToken lives %vs, want %vs", ttl, c.wantTTL)
				}
				if claims["sid"] != out.SessionID || claims["sub"] != a.ID || !slices.Contains(anySlice(claims["aud"]), "session") {
					t.Errorf("wsToken claims %v", claims)
				}
			})
		}
	})

	t.Run("origin", func(t *testing.T) {
		out := e.Session(t, methods.CreateSessionInput{InstanceID: a.ID, PresetID: "chat", Origin: "https://app.example"})
		if o := rpctest.JWTPart(t, out.WSToken, 1)["origin"]; o != "https://app.example" {
			t.Errorf("wsToken origin = %v", o)
		}
	})

	t.Run("other organizations see nothing", func(t *testing.T) {
		cases := []struct {
			method string
			input  map[string]any
		}{
			{methods.SessionsCreate, map[string]any{"instanceId": a.ID, "presetId": "chat"}},
			{methods.SessionsList, map[string]any{"instanceId": a.ID}},
			{methods.SessionsPublish, map[string]any{"instanceId": a.ID, "sessionId": blockingID}},
			{methods.ServicesGetURL, map[string]any{"instanceId": a.ID, "sessionId": blockingID, "serviceType": "web"}},
			{methods.InstancesStatus, map[string]any{"instanceId": a.ID}},
		}
		for _, c := range cases {
			t.Run(c.method, func(t *testing.T) {
				rpctest.WantError(t, rpctest.CallPlatform(t, e.Srv, e.OtherKey, c.method, c.input), http.StatusNotFound, methods.NotFound)
			})
		}
		// An instance token opens its own instance only.
		rpctest.WantError(t, rpctest.CallInstance(t, e.Srv, bare.ID, rpctest.Bearer(a.Token), methods.CreateSession, map[string]any{"presetId": "chat"}),
			http.StatusNotFound, methods.NotFound)
		// A session of one instance is not found through another.
		rpctest.WantError(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.SessionsPublish, map[string]any{"instanceId": bare.ID, "sessionId": blockingID}),
			http.StatusNotFound, methods.NotFound)
	})

	t.Run("archived instance", func(t *testing.T) {
		gone := e.Create(t, methods.CreateInstanceInput{BundleSlug: "echo", Name: "gone"})
		if _, err := e.Admin.ArchiveInstance(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		rpctest.WantError(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.SessionsCreate, map[string]any{"instanceId": gone.ID, "presetId": "chat"}),
			http.StatusConflict, methods.Conflict)
	})
}

func anySlice(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// ---------------------------------------------------------------------------
// Statuses
// ---------------------------------------------------------------------------

// TestSessionsStatuses: a session is creating until its agent takes it,
// active once it did, and error when the agent refuses it or never comes
// up.
func TestSessionsStatuses(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})

	t.Run("an agent that refuses sessions", func(t *testing.T) {
		// python3's http.server is healthy (GET / lists /agent) but answers
		// POST /sessions with 501.
		m := testutil.AgentManifest("1.0.0")
		m.Entrypoint = []string{"python3", "-m", "http.server", "--bind", "127.0.0.1", "7700"}
		m.Health = rpctest.Ptr("/")
		e.PublishManifest(t, "refuser", m)
		i := e.Create(t, methods.CreateInstanceInput{BundleSlug: "refuser"})
		var out methods.CreateSessionOutput
		err := e.Admin.Call(e.Ctx, methods.SessionsCreate, methods.CreateSessionInput{InstanceID: i.ID, PresetID: "chat", Blocking: true}, &out)
		ce := sandboxtest.WantErr(t, "blocking sessions.create on a refusing agent", err, methods.Unavailable)
		if !strings.Contains(ce.Message, "refused") || !strings.Contains(ce.Message, "501") {
			t.Errorf("the message %q does not say the agent refused the session", ce.Message)
		}
		if strings.ContainsAny(ce.Message, "<>\n") {
			t.Errorf("the message %q carries the agent's page", ce.Message)
		}
		l, err := i.Client.ListSessions(e.Ctx)
		if err != nil || len(l.Sessions) != 1 || l.Sessions[0].Status != "error" {
			t.Fatalf("listSessions = %+v, %v; want one session in error", l, err)
		}
		// A session started without blocking ends in error too.
		bg := e.Session(t, methods.CreateSessionInput{InstanceID: i.ID, PresetID: "chat"})
		if bg.Status != "creating" {
			t.Errorf("sessions.create status = %q, want creating", bg.Status)
		}
		e.WaitSession(t, i.ID, bg.SessionID, "error")
	})

	t.Run("an agent that never gets healthy", func(t *testing.T) {
		e.Publish("sick", "-unhealthy")
		i := e.Create(t, methods.CreateInstanceInput{BundleSlug: "sick"})
		i.WaitSandbox(t, methods.SandboxRunning)
		testutil.Eventually(t, testutil.Medium, "the agent answering 503 on /health", func() bool {
			out := i.Exec(t, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:7700/health")
			return strings.TrimSpace(out.Stdout) == "503"
		})
		bg := e.Session(t, methods.CreateSessionInput{InstanceID: i.ID, PresetID: "chat"})
		blocked := make(chan error, 1)
		go func() {
			var out methods.CreateSessionOutput
			blocked <- e.Admin.Call(e.Ctx, methods.SessionsCreate, methods.CreateSessionInput{InstanceID: i.ID, PresetID: "page", Blocking: true}, &out)
		}()
		testutil.Eventually(t, testutil.Medium, "both sessions listed", func() bool {
			l, err := e.Admin.ListSessions(e.Ctx, i.ID)
			return err == nil && len(l.Sessions) == 2
		})
		l, _ := e.Admin.ListSessions(e.Ctx, i.ID)
		for _, s := range l.Sessions {
			if s.Status != "creating" {
				t.Errorf("session %s is %q while the agent is unhealthy, want creating", s.ID, s.Status)
			}
		}
		select {
		case err := <-blocked:
			t.Fatalf("blocking sessions.create answered while the agent is unhealthy: %v", err)
		default:
		}
		// The instance goes away: the blocked call ends with an error and
		// both sessions with it.
		if _, err := e.Admin.ArchiveInstance(e.Ctx, i.ID); err != nil {
			t.Fatal(err)
		}
		var err error
		select {
		case err = <-blocked:
		case <-time.After(testutil.Medium):
			t.Fatal("blocking sessions.create still waits after the instance was archived")
		}
		sandboxtest.WantErr(t, "blocking sessions.create on an archived instance", err, methods.Unavailable)
		e.WaitSession(t, i.ID, bg.SessionID, "error")
		l, _ = e.Admin.ListSessions(e.Ctx, i.ID)
		for _, s := range l.Sessions {
			if s.Status != "error" {
				t.Errorf("session %s is %q, want error", s.ID, s.Status)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// The browser websocket
// ---------------------------------------------------------------------------

// TestSessionWebsocket: the wsToken opens the session's websocket through
// platform, node and supervisor to the agent; messages pass both ways as
// sent; every wrong token is refused with a plain HTTP status before the
// upgrade.
func TestSessionWebsocket(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})
	ctx := e.Ctx
	a := e.WithSession(t, "echo", "")
	sid, wsTok := a.Created.SessionID, a.Created.WSToken
	u := e.SessionWS(a.ID, sid, wsTok)

	t.Run("text and binary", func(t *testing.T) {
		ws := sessiontest.Dial(t, ctx, u, nil)
		sessiontest.Echo(t, ctx, ws, websocket.MessageText, []byte("hello, agent"), "echo: ")
		sessiontest.Echo(t, ctx, ws, websocket.MessageBinary, []byte{0, 1, 2, 0xfe, 0xff}, "echo: ")
		sessiontest.Echo(t, ctx, ws, websocket.MessageText, []byte("héllo ✓"), "echo: ")
		sessiontest.Echo(t, ctx, ws, websocket.MessageBinary, nil, "echo: ")
		if err := ws.Close(websocket.StatusNormalClosure, "done"); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	t.Run("many messages in a row", func(t *testing.T) {
		ws := sessiontest.Dial(t, ctx, u, nil)
		const n = 2000
		werr := make(chan error, 1)
		go func() {
			for i := range n {
				typ := websocket.MessageText
				if i%2 == 1 {
					typ = websocket.MessageBinary
				}
				if err := ws.Write(ctx, typ, []byte(fmt.Sprintf("message %d", i))); err != nil {
					werr <- err
					return
				}
			}
			werr <- nil
		}()
		for i := range n {
			typ, msg, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
			want := fmt.Sprintf("echo: message %d", i)
			if string(msg) != want || (typ == websocket.MessageBinary) != (i%2 == 1) {
				t.Fatalf("message %d: %v %q, want %q", i, typ, msg, want)
			}
		}
		if err := <-werr; err != nil {
			t.Fatalf("write: %v", err)
		}
		ws.Close(websocket.StatusNormalClosure, "")
	})
	t.Run("a large message", func(t *testing.T) {
		ws := sessiontest.Dial(t, ctx, u, nil)
		big := rpctest.Random(t, 1<<20)
		sessiontest.Echo(t, ctx, ws, websocket.MessageBinary, big, "echo: ")
		text := bytes.Repeat([]byte("0123456789abcdef"), (1<<20)/16)
		sessiontest.Echo(t, ctx, ws, websocket.MessageText, text, "echo: ")
		sessiontest.Echo(t, ctx, ws, websocket.MessageText, []byte("still here"), "echo: ")
		ws.Close(websocket.StatusNormalClosure, "")
	})
	t.Run("closing", func(t *testing.T) {
		ws := sessiontest.Dial(t, ctx, u, nil)
		sessiontest.Echo(t, ctx, ws, websocket.MessageText, []byte("before"), "echo: ")
		// Close completes the closing handshake with the agent, through
		// the proxy, or fails.
		if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("close: %v", err)
		}
		if _, _, err := ws.Read(ctx); err == nil {
			t.Fatal("read after close succeeded")
		}
		// The session takes a new websocket afterwards, and several at once.
		w1, w2 := sessiontest.Dial(t, ctx, u, nil), sessiontest.Dial(t, ctx, u, nil)
		sessiontest.Echo(t, ctx, w2, websocket.MessageText, []byte("two"), "echo: ")
		sessiontest.Echo(t, ctx, w1, websocket.MessageText, []byte("one"), "echo: ")
		w1.Close(websocket.StatusNormalClosure, "")
		w2.Close(websocket.StatusGoingAway, "")
	})
	t.Run("token as Authorization header", func(t *testing.T) {
		ws := sessiontest.Dial(t, ctx, e.SessionWS(a.ID, sid, ""), rpctest.Bearer(wsTok))
		sessiontest.Echo(t, ctx, ws, websocket.MessageText, []byte("by header"), "echo: ")
		ws.Close(websocket.StatusNormalClosure, "")
	})

	// Material for the refusals.
	second := e.Session(t, methods.CreateSessionInput{InstanceID: a.ID, PresetID: "chat", Blocking: true})
	withOrigin := e.Session(t, methods.CreateSessionInput{InstanceID: a.ID, PresetID: "chat", Blocking: true, Origin: "https://app.example"})
	b := e.Create(t, methods.CreateInstanceInput{BundleSlug: "echo", Name: "b",
		AutoCreateSession: &methods.AutoCreateSession{PresetID: "chat"}})
	signer := e.Signer(t)
	expired, _, err := signer.IssueSession(e.OrgID, a.ID, sid, "", -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _, err := signer.IssueSession(e.OrgID, a.ID, sid, "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	otherOrgTok, _, err := signer.IssueSession("org_someone_else", a.ID, sid, "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("accepted", func(t *testing.T) {
		cases := []struct {
			name string
			url  string
			h    http.Header
		}{
			{"a token signed with the data dir's key", e.SessionWS(a.ID, sid, fresh), nil},
			{"the second session's own token", e.SessionWS(a.ID, second.SessionID, second.WSToken), nil},
			{"the token's origin", e.SessionWS(a.ID, withOrigin.SessionID, withOrigin.WSToken), rpctest.Header("Origin", "https://app.example")},
			{"no origin header", e.SessionWS(a.ID, withOrigin.SessionID, withOrigin.WSToken), nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ws := sessiontest.Dial(t, ctx, c.url, c.h)
				sessiontest.Echo(t, ctx, ws, websocket.MessageText, []byte("ok"), "echo: ")
				ws.Close(websocket.StatusNormalClosure, "")
			})
		}
	})
	t.Run("refused before the upgrade", func(t *testing.T) {
		cases := []struct {
			name   string
			url    string
			h      http.Header
			status int
			typ    methods.ErrorType
		}{
			{"no token", e.SessionWS(a.ID, sid, ""), nil, 401, methods.Unauthorized},
			{"a wrong token", e.SessionWS(a.ID, sid, "not-a-token"), nil, 401, methods.Unauthorized},
			{"a tampered token", e.SessionWS(a.ID, sid, rpctest.Tamper(t, wsTok)), nil, 401, methods.Unauthorized},
			{"an unsigned token", e.SessionWS(a.ID, sid, rpctest.Unsigned(t, wsTok)), nil, 401, methods.Unauthorized},
			{"the instance token", e.SessionWS(a.ID, sid, a.Token), nil, 401, methods.Unauthorized},
			{"the instance token as header", e.SessionWS(a.ID, sid, ""), rpctest.Bearer(a.Token), 401, methods.Unauthorized},
			{"an API key", e.SessionWS(a.ID, sid, ""), rpctest.Bearer(e.Key), 401, methods.Unauthorized},
			{"another session's token", e.SessionWS(a.ID, sid, second.WSToken), nil, 404, methods.NotFound},
			{"another instance's token", e.SessionWS(a.ID, sid, b.Created.WSToken), nil, 404, methods.NotFound},
			{"another instance's token on its session id", e.SessionWS(a.ID, b.Created.SessionID, b.Created.WSToken), nil, 404, methods.NotFound},
			{"the token on another instance's path", e.SessionWS(b.ID, sid, wsTok), nil, 404, methods.NotFound},
			{"an expired token", e.SessionWS(a.ID, sid, expired), nil, 401, methods.Unauthorized},
			{"a token of another org", e.SessionWS(a.ID, sid, otherOrgTok), nil, 404, methods.NotFound},
			{"a wrong origin", e.SessionWS(a.ID, withOrigin.SessionID, withOrigin.WSToken), rpctest.Header("Origin", "https://evil.example"), 401, methods.Unauthorized},
			{"an unknown session", e.SessionWS(a.ID, "ses_nothing", wsTok), nil, 404, methods.NotFound},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				sessiontest.Refused(t, ctx, c.url, c.h, c.status, c.typ)
			})
		}
	})
	t.Run("a plain GET", func(t *testing.T) {
		r := rpctest.Do(t, rpctest.NewRequest(t, http.MethodGet, strings.Replace(u, "ws", "http", 1), nil, nil))
		rpctest.WantError(t, r, http.StatusBadRequest, methods.InvalidInput)
	})
}

// ---------------------------------------------------------------------------
// Bad inputs
// ---------------------------------------------------------------------------

// TestSessionMethodsBadInput: every session and service method, on both
// RPCs, refuses missing fields, fields of the wrong type, unknown fields and
// ids that name nothing, with the wire type that says so.
func TestSessionMethodsBadInput(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})
	a := e.WithSession(t, "echo", methods.VCSGitLocal)
	sid := a.Created.SessionID

	type spec struct {
		method   string
		instance bool           // the instance RPC
		valid    map[string]any // an input that is accepted
		required []string
		wrong    map[string]any // optional fields with a value of the wrong type
	}
	specs := []spec{
		{methods.SessionsCreate, false, map[string]any{"instanceId": a.ID, "presetId": "chat"}, []string{"instanceId", "presetId"},
			map[string]any{"blocking": "yes", "origin": 1, "expiresIn": "60"}},
		{methods.SessionsList, false, map[string]any{"instanceId": a.ID}, []string{"instanceId"}, nil},
		{methods.SessionsPublish, false, map[string]any{"instanceId": a.ID, "sessionId": sid}, []string{"instanceId", "sessionId"}, nil},
		{methods.ServicesGetURL, false, map[string]any{"instanceId": a.ID, "sessionId": sid, "serviceType": "web"},
			[]string{"instanceId", "sessionId", "serviceType"}, nil},
		{methods.CreateSession, true, map[string]any{"presetId": "chat"}, []string{"presetId"}, nil},
		{methods.ListSessions, true, map[string]any{}, nil, nil},
		{methods.PublishSession, true, map[string]any{"sessionId": sid}, []string{"sessionId"}, nil},
		{methods.GetServiceURL, true, map[string]any{"sessionId": sid, "serviceType": "web"}, []string{"sessionId", "serviceType"}, nil},
		{methods.GetServiceURLs, true, map[string]any{"sessionId": sid}, []string{"sessionId"}, nil},
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range m {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	for _, s := range specs {
		call := func(t *testing.T, input any) rpctest.Reply {
			if s.instance {
				return rpctest.CallInstance(t, e.Srv, a.ID, rpctest.Bearer(a.Token), s.method, input)
			}
			return rpctest.CallPlatform(t, e.Srv, e.Key, s.method, input)
		}
		t.Run(s.method, func(t *testing.T) {
			type bad struct {
				name, field, reason string
				input               any
			}
			var cases []bad
			for _, f := range s.required {
				cases = append(cases,
					bad{"missing " + f, f, "required", with(s.valid, f, nil)},
					bad{f + " null", f, "required", with(s.valid, f, json.RawMessage("null"))},
					bad{f + " a number", f, "type", with(s.valid, f, 42)},
					bad{f + " an object", f, "type", with(s.valid, f, map[string]any{"id": "x"})},
					bad{f + " a list", f, "type", with(s.valid, f, []string{"x"})},
				)
			}
			for f, v := range s.wrong {
				cases = append(cases, bad{f + " of the wrong type", f, "type", with(s.valid, f, v)})
			}
			cases = append(cases,
				bad{"an unknown field", "instanceID", "unknown", with(s.valid, "instanceID", "x")},
				bad{"input a string", "input", "type", "sessions"},
				bad{"input a list", "input", "type", []any{s.valid}},
			)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					rpctest.WantFieldError(t, call(t, c.input), c.field, c.reason)
				})
			}
		})
	}

	// Well-formed inputs that name nothing.
	t.Run("ids that name nothing", func(t *testing.T) {
		cases := []struct {
			name     string
			method   string
			instance bool
			input    map[string]any
			status   int
			typ      methods.ErrorType
		}{
			{"sessions.create unknown instance", methods.SessionsCreate, false, map[string]any{"instanceId": "ins_nothing", "presetId": "chat"}, 404, methods.NotFound},
			{"sessions.create empty instanceId", methods.SessionsCreate, false, map[string]any{"instanceId": "", "presetId": "chat"}, 404, methods.NotFound},
			{"sessions.list unknown instance", methods.SessionsList, false, map[string]any{"instanceId": "ins_nothing"}, 404, methods.NotFound},
			{"sessions.publish unknown instance", methods.SessionsPublish, false, map[string]any{"instanceId": "ins_nothing", "sessionId": sid}, 404, methods.NotFound},
			{"sessions.publish unknown session", methods.SessionsPublish, false, map[string]any{"instanceId": a.ID, "sessionId": "ses_nothing"}, 404, methods.NotFound},
			{"services.getUrl unknown instance", methods.ServicesGetURL, false, map[string]any{"instanceId": "ins_nothing", "sessionId": sid, "serviceType": "web"}, 404, methods.NotFound},
			{"services.getUrl unknown session", methods.ServicesGetURL, false, map[string]any{"instanceId": a.ID, "sessionId": "ses_nothing", "serviceType": "web"}, 404, methods.NotFound},
			{"services.getUrl unknown service", methods.ServicesGetURL, false, map[string]any{"instanceId": a.ID, "sessionId": sid, "serviceType": "db"}, 400, methods.InvalidInput},
			{"publishSession unknown session", methods.PublishSession, true, map[string]any{"sessionId": "ses_nothing"}, 404, methods.NotFound},
			{"publishSession empty session", methods.PublishSession, true, map[string]any{"sessionId": ""}, 404, methods.NotFound},
			{"getServiceUrl unknown session", methods.GetServiceURL, true, map[string]any{"sessionId": "ses_nothing", "serviceType": "web"}, 404, methods.NotFound},
			{"getServiceUrl unknown service", methods.GetServiceURL, true, map[string]any{"sessionId": sid, "serviceType": "db"}, 400, methods.InvalidInput},
			{"getServiceUrl empty service", methods.GetServiceURL, true, map[string]any{"sessionId": sid, "serviceType": ""}, 400, methods.InvalidInput},
			{"getServiceUrls unknown session", methods.GetServiceURLs, true, map[string]any{"sessionId": "ses_nothing"}, 404, methods.NotFound},
			{"createSession unknown preset", methods.CreateSession, true, map[string]any{"presetId": "nothing"}, 400, methods.InvalidInput},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var r rpctest.Reply
				if c.instance {
					r = rpctest.CallInstance(t, e.Srv, a.ID, rpctest.Bearer(a.Token), c.method, c.input)
				} else {
					r = rpctest.CallPlatform(t, e.Srv, e.Key, c.method, c.input)
				}
				rpctest.WantError(t, r, c.status, c.typ)
			})
		}
	})

	t.Run("instances.create autoCreateSession", func(t *testing.T) {
		cases := []struct {
			name, field, reason string
			auto                any
		}{
			{"missing presetId", "autoCreateSession.presetId", "required", map[string]any{"blocking": true}},
			{"presetId a number", "autoCreateSession.presetId", "type", map[string]any{"presetId": 1}},
			{"blocking a string", "autoCreateSession.blocking", "type", map[string]any{"presetId": "chat", "blocking": "true"}},
			{"initialPrompt a list", "autoCreateSession.initialPrompt", "type", map[string]any{"presetId": "chat", "initialPrompt": []string{"a"}}},
			{"resourceIds a string", "autoCreateSession.resourceIds", "type", map[string]any{"presetId": "chat", "resourceIds": "res_1"}},
			{"fileIds of numbers", "autoCreateSession.fileIds[0]", "type", map[string]any{"presetId": "chat", "fileIds": []any{7}}},
			{"an unknown field", "autoCreateSession.preset", "unknown", map[string]any{"presetId": "chat", "preset": "chat"}},
			{"a string", "autoCreateSession", "type", "chat"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := rpctest.CallPlatform(t, e.Srv, e.Key, methods.InstancesCreate, map[string]any{"templateSlug": "default", "name": "x",
					"bundleSlug": "echo", "autoCreateSession": c.auto})
				rpctest.WantFieldError(t, r, c.field, c.reason)
			})
		}
	})
}
