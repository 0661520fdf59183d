package sessions_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

func TestSessionSmoke(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	srv, admin, ctx := e.Srv, e.Admin, e.Ctx
	testutil.PublishTestAgent(t, admin, "echo", testutil.AgentManifest("1.0.0", "-page", "3000"))
	inst, err := admin.CreateInstance(ctx, methods.CreateInstanceInput{TemplateSlug: "default", Name: "s", BundleSlug: "echo",
		VCSType: "gitLocal", AutoCreateSession: &methods.AutoCreateSession{PresetID: "chat", Blocking: true, InitialPrompt: "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("create: %+v", inst)
	if inst.SessionID == "" || inst.WSToken == "" {
		t.Fatalf("no session: %+v", inst)
	}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/instances/" + inst.InstanceID + "/sessions/" + inst.SessionID + "/ws?token=" + inst.WSToken
	ws, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := ws.Read(ctx)
	if err != nil || string(msg) != "echo: hi" {
		t.Fatalf("ws read %q %v", msg, err)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	tok, _ := admin.CreateToken(ctx, methods.CreateInstanceTokenInput{InstanceID: inst.InstanceID})
	ic := client.NewInstance(srv.URL, inst.InstanceID, tok.Token, nil)
	var su methods.GetServiceURLOutput
	if err := ic.Call(ctx, methods.GetServiceURL, map[string]any{"sessionId": inst.SessionID, "serviceType": "web"}, &su); err != nil {
		t.Fatal(err)
	}
	t.Logf("service url %s", *su.URL)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(*su.URL + "?token=" + tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hello from") {
		t.Fatalf("page %d %s", resp.StatusCode, body)
	}
	var ex methods.InstanceExecInSandboxOutputFull
	if err := ic.Call(ctx, methods.ExecInSandbox, map[string]any{"command": "echo work > result.txt"}, &ex); err != nil || !ex.Success {
		t.Fatalf("exec %+v %v", ex, err)
	}
	var pub methods.PublishSessionOutput
	if err := ic.Call(ctx, methods.PublishSession, map[string]any{"sessionId": inst.SessionID}, &pub); err != nil {
		t.Fatal(err)
	}
	t.Logf("publish %+v", pub)
	if !pub.OK || !pub.Pushed {
		t.Fatalf("publish %+v", pub)
	}
	if err := ic.Call(ctx, methods.PublishSession, map[string]any{"sessionId": inst.SessionID}, &pub); err != nil || pub.Pushed {
		t.Fatalf("second publish %+v %v", pub, err)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	u := strings.Replace(srv.URL, "http://", "http://x:"+tok.Token+"@", 1) + "/git/" + inst.InstanceID + ".git"
	out, err := exec.Command("git", "clone", "-q", "-b", "session/"+inst.SessionID, u, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("clone: %v %s", err, out)
	}
	head, _ := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if strings.TrimSpace(string(head)) != pub.CommitSHA {
		t.Fatalf("head %s want %s", head, pub.CommitSHA)
	}
}
