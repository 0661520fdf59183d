package services_test

// End-to-end tests of service URLs: getServiceUrl, getServiceUrls and
// services.getUrl hand out /s/{code}/ addresses, and the platform proxies
// them (HTTP, streamed responses, websockets) through node and supervisor
// to ports inside real bubblewrap sandboxes, to the holders of the
// instance's token or cookie unless the service is public; with a service
// domain, {code}.DOMAIN routes the same way.

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/internal/testutil/sessiontest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// seCode is the form of a service code: 128 random bits in base32.
var seCode = regexp.MustCompile(`^[a-z2-7]{26}$`)

// seNoRedirect sees redirects instead of following them.
var seNoRedirect = &http.Client{Timeout: testutil.Medium,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// codeOf returns the code of a /s/{code}/ URL of the server.
func codeOf(t testing.TB, e *sessiontest.Env, u string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(u, e.Srv.URL+"/s/")
	code, slash := strings.CutSuffix(rest, "/")
	if !ok || !slash || !seCode.MatchString(code) {
		t.Fatalf("service URL %q is not %s/s/{26-char code}/", u, e.Srv.URL)
	}
	return code
}

// seGet fetches u with the headers, following no redirect.
func seGet(t testing.TB, u string, h http.Header) (*http.Response, string) {
	t.Helper()
	req := rpctest.NewRequest(t, http.MethodGet, u, nil, h)
	resp, err := seNoRedirect.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", u, err)
	}
	return resp, string(b)
}

// seWantPage checks that a reply is the test agent's page from sandbox sb
// for path.
func seWantPage(t testing.TB, resp *http.Response, body, sb, path string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("want the page, got HTTP %d %s: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if !strings.Contains(body, "hello from "+sb+"<") || !strings.Contains(body, "<p>path "+path+"</p>") {
		t.Fatalf("the page is not sandbox %s's for path %s: %s", sb, path, body)
	}
}

// seWantStatus checks a refusal of the service proxy.
func seWantStatus(t testing.TB, resp *http.Response, body string, status int, typ methods.ErrorType) {
	t.Helper()
	if resp.StatusCode != status || !strings.Contains(body, `"type":"`+string(typ)+`"`) {
		t.Fatalf("want HTTP %d %s, got HTTP %d: %.300s", status, typ, resp.StatusCode, body)
	}
	if strings.Contains(body, "hello from") {
		t.Fatalf("the refusal carries the page: %s", body)
	}
}

// background starts a server in the sandbox in a session of its own, so
// that it outlives the exec (whose process group goes when it ends), and
// waits until it answers on the port.
func background(t testing.TB, i *sessiontest.Inst, command string, port int) {
	t.Helper()
	i.Sh(t, fmt.Sprintf(`setsid %s > /workspace/server-%d.log 2>&1 < /dev/null &
for n in $(seq 600); do curl -s -o /dev/null http://127.0.0.1:%d/ && exit 0; sleep 0.05; done
cat /workspace/server-%d.log >&2; exit 1`, command, port, port, port))
}

// TestServiceURLs: the codes and URLs the three methods hand out, and what
// instances.status lists.
func TestServiceURLs(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})
	a := e.WithSession(t, "echo", "")
	sid := a.Created.SessionID
	other := e.Session(t, methods.CreateSessionInput{InstanceID: a.ID, PresetID: "page", Blocking: true})

	web := a.ServiceURL(t, sid, "web")
	code := codeOf(t, e, web)
	t.Run("stable per session and service", func(t *testing.T) {
		if again := a.ServiceURL(t, sid, "web"); again != web {
			t.Errorf("a second getServiceUrl gave %s, want %s", again, web)
		}
		var out methods.GetServiceURLOutput
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.ServicesGetURL, map[string]any{"instanceId": a.ID, "sessionId": sid, "serviceType": "web"}))
		rpctest.WantKeys(t, "services.getUrl value", v, "url")
		out = rpctest.Decode[methods.GetServiceURLOutput](t, v)
		if out.URL == nil || *out.URL != web {
			t.Errorf("services.getUrl = %v, want %s", out.URL, web)
		}
		codes := map[string]bool{code: true}
		for _, u := range []string{a.ServiceURL(t, other.SessionID, "web"), a.ServiceURL(t, sid, "port:3000"), a.ServiceURL(t, sid, "port:8081")} {
			c := codeOf(t, e, u)
			if codes[c] {
				t.Errorf("code %s handed out twice", c)
			}
			codes[c] = true
		}
	})
	t.Run("getServiceUrls", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallInstance(t, e.Srv, a.ID, rpctest.Bearer(a.Token), methods.GetServiceURLs, map[string]any{"sessionId": sid}))
		rpctest.WantKeys(t, "getServiceUrls value", v, "services")
		var out struct {
			Services []map[string]any `json:"services"`
		}
		out = rpctest.Decode[struct {
			Services []map[string]any `json:"services"`
		}](t, v)
		if len(out.Services) != 1 {
			t.Fatalf("getServiceUrls = %s, want the one service of the manifest", v)
		}
		s := out.Services[0]
		if len(s) != 3 || s["serviceType"] != "web" || s["code"] != code || s["port"] != float64(3000) {
			t.Errorf("getServiceUrls service = %v, want {serviceType web, code %s, port 3000}", s, code)
		}
	})
	t.Run("port:N", func(t *testing.T) {
		for _, st := range []string{"port:1", "port:8080", "port:65535"} {
			codeOf(t, e, a.ServiceURL(t, sid, st))
		}
	})
	t.Run("refused service types", func(t *testing.T) {
		for _, st := range []string{"db", "WEB", "", "port:", "port:0", "port:65536", "port:abc", "port:-1", "port:80x", "port: 80"} {
			t.Run(st, func(t *testing.T) {
				r := rpctest.CallInstance(t, e.Srv, a.ID, rpctest.Bearer(a.Token), methods.GetServiceURL, map[string]any{"sessionId": sid, "serviceType": st})
				rpctest.WantFieldError(t, r, "serviceType", "")
				if !strings.HasPrefix(st, "port:") && (!strings.Contains(r.Error.Message, "web") || !strings.Contains(r.Error.Message, "port:N")) {
					t.Errorf("the message %q does not list the services", r.Error.Message)
				}
				rpctest.WantFieldError(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.ServicesGetURL,
					map[string]any{"instanceId": a.ID, "sessionId": sid, "serviceType": st}), "serviceType", "")
			})
		}
	})
	t.Run("instances.status lists them", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.InstancesStatus, map[string]any{"instanceId": a.ID}))
		var st struct {
			ServiceURLs []map[string]any `json:"serviceUrls"`
		}
		st = rpctest.Decode[struct {
			ServiceURLs []map[string]any `json:"serviceUrls"`
		}](t, v)
		found := map[string]map[string]any{}
		for _, u := range st.ServiceURLs {
			if len(u) != 4 {
				t.Errorf("a service URL has fields %v, want code, sessionId, serviceType, port", u)
			}
			found[u["code"].(string)] = u
		}
		if u := found[code]; u == nil || u["sessionId"] != sid || u["serviceType"] != "web" || u["port"] != float64(3000) {
			t.Errorf("instances.status lists %v for %s, want session %s, web, 3000 (all: %v)", u, code, sid, st.ServiceURLs)
		}
		if len(st.ServiceURLs) != 7 {
			t.Errorf("instances.status lists %d service URLs, want the 7 handed out: %v", len(st.ServiceURLs), st.ServiceURLs)
		}
	})
	t.Run("no live sandbox", func(t *testing.T) {
		sb := e.SandboxID(t, a.ID)
		sandboxtest.Must[methods.OKOutput](t, a.Inst, methods.TerminateSandbox, map[string]any{"sandboxId": sb})
		a.WaitSandbox(t, methods.SandboxTerminated)
		out := sandboxtest.Must[methods.GetServiceURLOutput](t, a.Inst, methods.GetServiceURL, map[string]any{"sessionId": sid, "serviceType": "web"})
		if out.URL != nil {
			t.Errorf("getServiceUrl without a sandbox = %s, want null", *out.URL)
		}
		resp, body := seGet(t, web, rpctest.Bearer(a.Token))
		seWantStatus(t, resp, body, http.StatusConflict, methods.Conflict)
	})
}

// TestServiceProxy: a page, a websocket and streamed responses from servers
// inside sandboxes, through /s/{code}/, to the holders of the instance's
// token or cookie; two sandboxes serve the same port each their own.
func TestServiceProxy(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})
	ctx := e.Ctx
	a, b := e.WithSession(t, "echo", ""), e.WithSession(t, "echo", "")
	sbA, sbB := e.SandboxID(t, a.ID), e.SandboxID(t, b.ID)
	webA, webB := a.ServiceURL(t, a.Created.SessionID, "web"), b.ServiceURL(t, b.Created.SessionID, "web")
	codeA := codeOf(t, e, webA)

	t.Run("no cookie of a service lands on the platform's origin", func(t *testing.T) {
		resp, body := seGet(t, webA+"cookies?victim="+b.ID, rpctest.Bearer(a.Token))
		if resp.StatusCode != 200 || body != "cookies set" {
			t.Fatalf("/cookies answered HTTP %d %s", resp.StatusCode, body)
		}
		if sc := resp.Header.Values("Set-Cookie"); len(sc) > 0 {
			t.Errorf("a service under /s/ set cookies on the platform's origin: %q", sc)
		}
	})
	t.Run("the platform's credentials never reach a service", func(t *testing.T) {
		resp, body := seGet(t, webA+"headers", rpctest.Header("Authorization", "Bearer "+a.Token, "Cookie",
			"roost_instance="+b.Token+"; roost_service="+a.Token+"; theirs=1"))
		if resp.StatusCode != 200 || body != `authorization="" cookie="theirs=1"` {
			t.Errorf("the service saw %s (HTTP %d); want no Authorization and only its own cookie", body, resp.StatusCode)
		}
	})
	t.Run("access", func(t *testing.T) {
		expired := e.Srv.SignToken(t, e.OrgID, a.ID, "", -time.Minute)
		cases := []struct {
			name   string
			h      http.Header
			query  string
			status int // 200: the page
		}{
			{"no token", nil, "", 401},
			{"the instance token as Bearer", rpctest.Bearer(a.Token), "", 200},
			{"the instance token as cookie", rpctest.Header("Cookie", "roost_service="+a.Token), "", 200},
			{"another instance's token", rpctest.Bearer(b.Token), "", 401},
			{"another instance's token in the query", nil, "?token=" + b.Token, 401},
			{"another instance's token as cookie", rpctest.Header("Cookie", "roost_service="+b.Token), "", 401},
			{"an expired token", rpctest.Bearer(expired), "", 401},
			{"a tampered token", rpctest.Bearer(rpctest.Tamper(t, a.Token)), "", 401},
			{"the wsToken", rpctest.Bearer(a.Created.WSToken), "", 401},
			{"an API key", rpctest.Bearer(e.Key), "", 401},
			{"the instance cookie of the RPC", rpctest.Header("Cookie", "roost_instance="+a.Token), "", 401},
			{"a Basic credential", rpctest.Header("Authorization", "Basic eDp5"), "", 401},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp, body := seGet(t, webA+c.query, c.h)
				if c.status == 200 {
					seWantPage(t, resp, body, sbA, "/")
					return
				}
				seWantStatus(t, resp, body, c.status, methods.Unauthorized)
			})
		}
	})
	t.Run("the token traded for a cookie", func(t *testing.T) {
		resp, body := seGet(t, webA+"deep/page?token="+a.Token+"&q=1", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/s/"+codeA+"/deep/page?q=1" {
			t.Fatalf("?token= answered HTTP %d Location %q: %s; want 303 to the same page without the token",
				resp.StatusCode, resp.Header.Get("Location"), body)
		}
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "roost_service" {
				ck = c
			}
		}
		if ck == nil || ck.Value != a.Token || ck.Path != "/s/"+codeA+"/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge <= 0 {
			t.Fatalf("cookie %+v, want roost_service with the token, path /s/%s/, HttpOnly, SameSite=Lax", ck, codeA)
		}
		// A browser follows the redirect with the cookie, and keeps it for
		// the service's other pages only.
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: testutil.Medium}
		r, err := hc.Get(webA + "?token=" + a.Token)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(r.Body)
		r.Body.Close()
		seWantPage(t, r, string(page), sbA, "/")
		r, err = hc.Get(webA + "assets/app.js?v=2")
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(r.Body)
		r.Body.Close()
		seWantPage(t, r, string(page), sbA, "/assets/app.js")
		r, err = hc.Get(webB)
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(r.Body)
		r.Body.Close()
		seWantStatus(t, r, string(page), 401, methods.Unauthorized)
	})
	t.Run("two sandboxes on the same port", func(t *testing.T) {
		if sbA == sbB {
			t.Fatalf("both instances have sandbox %s", sbA)
		}
		resp, body := seGet(t, webA, rpctest.Bearer(a.Token))
		seWantPage(t, resp, body, sbA, "/")
		resp, body = seGet(t, webB, rpctest.Bearer(b.Token))
		seWantPage(t, resp, body, sbB, "/")
		resp, body = seGet(t, b.ServiceURL(t, b.Created.SessionID, "port:3000")+"x", rpctest.Bearer(b.Token))
		seWantPage(t, resp, body, sbB, "/x")
	})
	t.Run("unknown codes", func(t *testing.T) {
		for _, code := range []string{"aaaaaaaaaaaaaaaaaaaaaaaaaa", "short", codeA + "a", strings.ToUpper(codeA)} {
			resp, body := seGet(t, e.Srv.URL+"/s/"+code+"/", rpctest.Bearer(a.Token))
			seWantStatus(t, resp, body, 404, methods.NotFound)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		wsURL := sessiontest.WSBase(webA) + "ws"
		for name, h := range map[string]http.Header{"Bearer": rpctest.Bearer(a.Token), "cookie": rpctest.Header("Cookie", "roost_service="+a.Token)} {
			t.Run(name, func(t *testing.T) {
				ws := sessiontest.Dial(t, ctx, wsURL, h)
				sessiontest.Echo(t, ctx, ws, websocket.MessageText, []byte("through the service"), "")
				sessiontest.Echo(t, ctx, ws, websocket.MessageBinary, rpctest.Random(t, 256<<10), "")
				if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
					t.Errorf("close: %v", err)
				}
			})
		}
		sessiontest.Refused(t, ctx, wsURL, nil, 401, methods.Unauthorized)
		sessiontest.Refused(t, ctx, wsURL, rpctest.Bearer(b.Token), 401, methods.Unauthorized)
	})
	t.Run("a chunked response streams", func(t *testing.T) {
		// The server sends a first chunk, then waits for a file before the
		// second: the first can only arrive if the proxy passes it on at
		// once.
		a.Sh(t, `cat > /workspace/stream.py <<'EOF'
import http.server, os, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def chunk(self, b):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        self.wfile.flush()
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.chunk(b"first " + self.path.encode() + b"\n")
        if self.path.startswith("/stream"):
            while not os.path.exists("/workspace/release"):
                time.sleep(0.01)
            self.chunk(b"second\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 8081), H).serve_forever()
EOF
`)
		background(t, a, "python3 /workspace/stream.py", 8081)
		u := a.ServiceURL(t, a.Created.SessionID, "port:8081")
		testutil.Eventually(t, testutil.Medium, "the streaming server up", func() bool {
			resp, body := seGet(t, u+"ready", rpctest.Bearer(a.Token))
			return resp.StatusCode == 200 && body == "first /ready\n"
		})
		resp, err := seNoRedirect.Do(rpctest.NewRequest(t, http.MethodGet, u+"stream?n=1", nil, rpctest.Bearer(a.Token)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != -1 {
			t.Fatalf("HTTP %d, length %d; want 200 of unknown length", resp.StatusCode, resp.ContentLength)
		}
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "first /stream?n=1\n" {
			t.Fatalf("first chunk %q, %v", line, err)
		}
		a.Sh(t, "touch /workspace/release")
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "second\n" {
			t.Fatalf("rest %q, %v", rest, err)
		}
	})
	t.Run("a large file", func(t *testing.T) {
		sum := a.Sh(t, `mkdir -p /workspace/files && head -c 16777216 /dev/urandom > /workspace/files/big.bin && sha256sum /workspace/files/big.bin | cut -d' ' -f1`)
		background(t, a, "python3 -m http.server 8082 --bind 127.0.0.1 --directory /workspace/files", 8082)
		u := a.ServiceURL(t, a.Created.SessionID, "port:8082") + "big.bin"
		var resp *http.Response
		testutil.Eventually(t, testutil.Medium, "the file server up", func() bool {
			r, err := seNoRedirect.Do(rpctest.NewRequest(t, http.MethodGet, u, nil, rpctest.Bearer(a.Token)))
			if err != nil {
				return false
			}
			if r.StatusCode != 200 {
				r.Body.Close()
				return false
			}
			resp = r
			return true
		})
		defer resp.Body.Close()
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil || n != 16<<20 || hex.EncodeToString(h.Sum(nil)) != sum {
			t.Fatalf("read %d bytes (%v), sha256 %x, want %d bytes with %s", n, err, h.Sum(nil), 16<<20, sum)
		}
	})
	t.Run("the route cache follows the sandbox", func(t *testing.T) {
		// The first request fills the cache; each later one must see the
		// sandbox as it is now, not as it was when cached.
		for range 3 {
			resp, body := seGet(t, webB, rpctest.Bearer(b.Token))
			seWantPage(t, resp, body, sbB, "/")
		}
		sandboxtest.Must[methods.OKOutput](t, b.Inst, methods.PauseSandbox, map[string]any{"sandboxId": sbB})
		resumes := len(b.Events("sandbox_running"))
		resp, body := seGet(t, webB, rpctest.Bearer(b.Token))
		seWantPage(t, resp, body, sbB, "/")
		if got := len(b.Events("sandbox_running")); got != resumes+1 {
			t.Fatalf("a request after pauseSandbox made %d sandbox_running events, want 1 (a resume) (it was served from a stale route)", got-resumes)
		}
		sandboxtest.Must[methods.OKOutput](t, b.Inst, methods.TerminateSandbox, map[string]any{"sandboxId": sbB})
		resp, body = seGet(t, webB, rpctest.Bearer(b.Token))
		seWantStatus(t, resp, body, http.StatusConflict, methods.Conflict)
	})
	t.Run("nothing listens", func(t *testing.T) {
		resp, body := seGet(t, a.ServiceURL(t, a.Created.SessionID, "port:9")+"", rpctest.Bearer(a.Token))
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, `"ok":false`) {
			t.Fatalf("a port nothing listens on answered HTTP %d %s, want 502", resp.StatusCode, body)
		}
	})
}

// TestServicePublic: a service the manifest declares public needs no
// token; the same port asked as port:N is not public.
func TestServicePublic(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})
	m := testutil.AgentManifest("1.0.0", "-page", "3000")
	m.Services[0].Public = true
	e.PublishManifest(t, "public", m)
	i := e.WithSession(t, "public", "")
	sb := e.SandboxID(t, i.ID)
	web := i.ServiceURL(t, i.Created.SessionID, "web")

	resp, body := seGet(t, web+"open", nil)
	seWantPage(t, resp, body, sb, "/open")
	ws := sessiontest.Dial(t, e.Ctx, sessiontest.WSBase(web)+"ws", nil)
	sessiontest.Echo(t, e.Ctx, ws, websocket.MessageText, []byte("public"), "")
	ws.Close(websocket.StatusNormalClosure, "")

	port := i.ServiceURL(t, i.Created.SessionID, "port:3000")
	resp, body = seGet(t, port, nil)
	seWantStatus(t, resp, body, 401, methods.Unauthorized)
	resp, body = seGet(t, port, rpctest.Bearer(i.Token))
	seWantPage(t, resp, body, sb, "/")
}

// TestServiceDomain: with a service domain, services are also at
// {code}.DOMAIN, routed by the Host header, with the cookie scoped to the
// whole host.
func TestServiceDomain(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{ServiceDomain: "svc.test"})
	ctx := e.Ctx
	a := e.WithSession(t, "echo", "")
	sb := e.SandboxID(t, a.ID)
	u := a.ServiceURL(t, a.Created.SessionID, "web")
	code, ok := strings.CutSuffix(strings.TrimPrefix(u, "https://"), ".svc.test/")
	if !ok || !strings.HasPrefix(u, "https://") || !seCode.MatchString(code) {
		t.Fatalf("service URL %q, want https://{code}.svc.test/", u)
	}
	if pu := rpctest.Decode[methods.GetServiceURLOutput](t, rpctest.WantOK(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.ServicesGetURL,
		map[string]any{"instanceId": a.ID, "sessionId": a.Created.SessionID, "serviceType": "web"}))); pu.URL == nil || *pu.URL != u {
		t.Errorf("services.getUrl = %v, want %s", pu.URL, u)
	}
	host := code + ".svc.test"
	get := func(t *testing.T, path, hostHeader string, h http.Header) (*http.Response, string) {
		req := rpctest.NewRequest(t, http.MethodGet, e.Srv.URL+path, nil, h)
		req.Host = hostHeader
		resp, err := seNoRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	t.Run("Bearer", func(t *testing.T) {
		resp, body := get(t, "/", host, rpctest.Bearer(a.Token))
		seWantPage(t, resp, body, sb, "/")
		resp, body = get(t, "/deep/x?y=1", host+":443", rpctest.Bearer(a.Token))
		seWantPage(t, resp, body, sb, "/deep/x")
	})
	t.Run("no token", func(t *testing.T) {
		resp, body := get(t, "/", host, nil)
		seWantStatus(t, resp, body, 401, methods.Unauthorized)
	})
	t.Run("cookie", func(t *testing.T) {
		resp, body := get(t, "/p?token="+a.Token, host, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/p" {
			t.Fatalf("HTTP %d Location %q %s, want 303 to /p", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "roost_service" {
				ck = c
			}
		}
		if ck == nil || ck.Path != "/" || ck.Value != a.Token {
			t.Fatalf("cookie %+v, want roost_service for path /", ck)
		}
		resp, body = get(t, "/p", host, rpctest.Header("Cookie", "roost_service="+ck.Value))
		seWantPage(t, resp, body, sb, "/p")
	})
	t.Run("websocket", func(t *testing.T) {
		ws, resp, err := websocket.Dial(ctx, sessiontest.WSBase(e.Srv.URL)+"/ws", &websocket.DialOptions{Host: host, HTTPHeader: rpctest.Bearer(a.Token)})
		if err != nil {
			t.Fatalf("websocket by host: %v %v", err, resp)
		}
		defer ws.CloseNow()
		sessiontest.Echo(t, ctx, ws, websocket.MessageText, []byte("by host"), "")
		ws.Close(websocket.StatusNormalClosure, "")
	})
	t.Run("a service's cookies stay on its own host", func(t *testing.T) {
		resp, body := get(t, "/cookies?domain=svc.test&victim="+a.ID, host, rpctest.Bearer(a.Token))
		if resp.StatusCode != 200 || body != "cookies set" {
			t.Fatalf("/cookies answered HTTP %d %s", resp.StatusCode, body)
		}
		sc := resp.Header.Values("Set-Cookie")
		if len(sc) != 4 {
			t.Errorf("Set-Cookie = %q, want the service's 4 cookies", sc)
		}
		for _, c := range sc {
			if strings.Contains(strings.ToLower(c), "domain=") {
				t.Errorf("a service's cookie reaches beyond its host: %q", c)
			}
		}
		resp, body = get(t, "/headers", host, rpctest.Header("Authorization", "Bearer "+a.Token, "Cookie", "roost_service="+a.Token+"; theirs=1"))
		if body != `authorization="" cookie="theirs=1"` {
			t.Errorf("the service saw %s (HTTP %d); want no Authorization and only its own cookie", body, resp.StatusCode)
		}
	})
	t.Run("unknown code", func(t *testing.T) {
		resp, body := get(t, "/", "aaaaaaaaaaaaaaaaaaaaaaaaaa.svc.test", rpctest.Bearer(a.Token))
		seWantStatus(t, resp, body, 404, methods.NotFound)
	})
	t.Run("the base host is the platform", func(t *testing.T) {
		// The path form still works, and the API is not shadowed.
		resp, body := get(t, "/s/"+code+"/", strings.TrimPrefix(e.Srv.URL, "http://"), rpctest.Bearer(a.Token))
		seWantPage(t, resp, body, sb, "/")
		resp, body = get(t, "/healthz", strings.TrimPrefix(e.Srv.URL, "http://"), nil)
		if resp.StatusCode != 200 || strings.Contains(body, "hello from") {
			t.Errorf("/healthz on the base host answered HTTP %d %s", resp.StatusCode, body)
		}
		// A deeper name under the domain is not a service: the platform
		// answers it as itself.
		resp, body = get(t, "/healthz", "x."+host, rpctest.Bearer(a.Token))
		if resp.StatusCode != 200 || strings.Contains(body, "hello from") {
			t.Errorf("x.%s answered HTTP %d %s", host, resp.StatusCode, body)
		}
	})
}
