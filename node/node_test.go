package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roosthq/roost/internal/testutil/wait"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/tunnel"
)

// These tests cannot use internal/testutil: it starts a platform, which
// embeds a node, so importing it here would be an import cycle. Package
// wait has the same named timeouts and waits, and imports nothing of roost.

// upper is the bound Backoff jitters under: min(cap, base*2^attempt).
func upper(base, cap time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt; i++ {
		if d >= cap {
			return cap
		}
		d *= 2
	}
	return min(d, cap)
}

func TestBackoff(t *testing.T) {
	cases := []struct {
		name      string
		base, cap time.Duration
	}{
		{"defaults", 500 * time.Millisecond, 30 * time.Second},
		{"cap a power of two of base", 100 * time.Millisecond, 1600 * time.Millisecond},
		{"cap below base", 2 * time.Second, time.Second},
		{"tiny", time.Nanosecond, 10 * time.Nanosecond},
	}
	const samples = 2000
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for attempt := 0; attempt <= 70; attempt++ {
				d := upper(tc.base, tc.cap, attempt)
				lo, hi := d, time.Duration(0)
				for range samples {
					got := Backoff(tc.base, tc.cap, attempt)
					if got < d/2 || got > d {
						t.Fatalf("Backoff(%s, %s, %d) = %s, outside [%s, %s]", tc.base, tc.cap, attempt, got, d/2, d)
					}
					lo, hi = min(lo, got), max(hi, got)
				}
				// The jitter spreads over the range rather than sitting at one end.
				if d >= 1000 && (lo > d/2+d/10 || hi < d-d/10) {
					t.Errorf("attempt %d: %d samples spanned only [%s, %s] of [%s, %s]", attempt, samples, lo, hi, d/2, d)
				}
			}
		})
	}
}

func TestBackoffDefaultsReachTheCap(t *testing.T) {
	n, err := New(Options{Platform: "http://127.0.0.1:1", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	base, cap := n.o.BackoffBase, n.o.BackoffCap
	if base != 500*time.Millisecond || cap != 30*time.Second {
		t.Fatalf("default backoff = base %s cap %s, want 500ms and 30s", base, cap)
	}
	// 500ms doubles past 30 s at the 7th attempt (32 s): from there every
	// delay is between 15 and 30 s, whatever the attempt count grows to.
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for attempt, d := range want {
		if got := upper(base, cap, attempt); got != d {
			t.Fatalf("bound of attempt %d = %s, want %s", attempt, got, d)
		}
	}
	sawNearCap := false
	for _, attempt := range []int{6, 7, 20, 64, 1000, 1 << 30} {
		for range 500 {
			got := Backoff(base, cap, attempt)
			if got < 15*time.Second || got > 30*time.Second {
				t.Fatalf("Backoff(default, attempt %d) = %s, want within [15s, 30s]", attempt, got)
			}
			sawNearCap = sawNearCap || got > 29*time.Second
		}
	}
	if !sawNearCap {
		t.Errorf("no delay came near the 30 s cap in 3000 samples")
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestNodeStateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, ok, err := loadState(dir); ok || err != nil {
		t.Fatalf("loadState of a missing dir = ok %v, err %v; want not ok, no error", ok, err)
	}
	st := state{Platform: "http://p", NodeID: "node_1", Credential: "rnc_secret"}
	if err := saveState(dir, st); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, stateFile)
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("%s has mode %o, want 600", path, m)
	}
	if m := fileMode(t, dir); m != 0o700 {
		t.Errorf("data dir has mode %o, want 700", m)
	}
	got, ok, err := loadState(dir)
	if err != nil || !ok || got != st {
		t.Fatalf("loadState = %+v, %v, %v; want %+v", got, ok, err, st)
	}

	// Rewriting a file someone made readable to all makes it private again,
	// and leaves no temporary file behind.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	st.Credential = "rnc_rotated"
	if err := saveState(dir, st); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("rewritten %s has mode %o, want 600", path, m)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir holds %d entries after saving, want only %s", len(entries), stateFile)
	}
	if got, _, _ := loadState(dir); got.Credential != "rnc_rotated" {
		t.Errorf("credential after rewrite = %q", got.Credential)
	}

	// A half-written or foreign file is an error, not an empty state.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadState(dir); err == nil {
		t.Errorf("loadState of a corrupt file succeeded")
	}
}

// fakePlatform answers enrollment and node connections as the platform
// would, recording what nodes send it.
type fakePlatform struct {
	srv *httptest.Server

	mu         sync.Mutex
	enrolls    []nodeapi.EnrollRequest
	enrollErr  string // when set, enrollment is refused with it
	refuseConn bool   // when set, connections answer 401
	hellos     []nodeapi.Hello
	beats      int
	peers      []*tunnel.Peer
}

func newFakePlatform(t *testing.T) *fakePlatform {
	f := &fakePlatform{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+nodeapi.EnrollPath, func(w http.ResponseWriter, r *http.Request) {
		var req nodeapi.EnrollRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.enrolls = append(f.enrolls, req)
		refuse := f.enrollErr
		n := len(f.enrolls)
		f.mu.Unlock()
		if refuse != "" {
			writeJSON(w, http.StatusUnauthorized, nodeapi.ErrorResponse{Error: refuse})
			return
		}
		id := req.NodeID
		if id == "" {
			id = "node_fake"
		}
		writeJSON(w, http.StatusOK, nodeapi.EnrollResponse{NodeID: id, Credential: "rnc_" + strings.Repeat("x", n)})
	})
	mux.HandleFunc("GET "+nodeapi.ConnectPath, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		refuse := f.refuseConn
		f.mu.Unlock()
		if refuse || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer rnc_") {
			writeJSON(w, http.StatusUnauthorized, nodeapi.ErrorResponse{Error: "credential refused"})
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		peer, err := tunnel.Accept(websocket.NetConn(context.Background(), ws, websocket.MessageBinary), f.handler())
		if err != nil {
			return
		}
		f.mu.Lock()
		f.peers = append(f.peers, peer)
		f.mu.Unlock()
		<-peer.Done()
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.mu.Lock()
		for _, p := range f.peers {
			p.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func (f *fakePlatform) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+nodeapi.HelloPath, func(w http.ResponseWriter, r *http.Request) {
		var h nodeapi.Hello
		if err := json.NewDecoder(r.Body).Decode(&h); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.hellos = append(f.hellos, h)
		f.mu.Unlock()
	})
	mux.HandleFunc("POST "+nodeapi.HeartbeatPath, func(w http.ResponseWriter, r *http.Request) {
		var m nodeapi.Metrics
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.beats++
		f.mu.Unlock()
	})
	return mux
}

func (f *fakePlatform) lastPeer() *tunnel.Peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.peers) == 0 {
		return nil
	}
	return f.peers[len(f.peers)-1]
}

func TestNodeEnroll(t *testing.T) {
	f := newFakePlatform(t)
	dir := filepath.Join(t.TempDir(), "node")
	ctx := wait.Context(t, wait.Short)

	// Without a token and without a stored credential there is nothing to do.
	n, err := New(Options{Platform: f.srv.URL + "/", DataDir: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Enroll(ctx); err == nil || !strings.Contains(err.Error(), "not enrolled") {
		t.Fatalf("Enroll without a token or credential = %v; want a 'not enrolled' error", err)
	}

	n, err = New(Options{Platform: f.srv.URL, DataDir: dir, Token: "ret_one", Name: "n1", Labels: []string{"gpu"}, Version: "v1", Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Enroll(ctx); err != nil {
		t.Fatal(err)
	}
	if n.ID() != "node_fake" {
		t.Errorf("ID after enrolling = %q", n.ID())
	}
	if m := fileMode(t, filepath.Join(dir, stateFile)); m != 0o600 {
		t.Errorf("credential file has mode %o, want 600", m)
	}
	st, ok, err := loadState(dir)
	if err != nil || !ok || st.Credential != "rnc_x" || st.Platform != f.srv.URL {
		t.Fatalf("stored state = %+v, %v, %v", st, ok, err)
	}
	f.mu.Lock()
	first := f.enrolls[0]
	f.mu.Unlock()
	if first.Token != "ret_one" || first.Name != "n1" || first.NodeID != "" || first.Version != "v1" ||
		len(first.Labels) != 1 || first.Labels[0] != "gpu" {
		t.Errorf("first enrollment sent %+v", first)
	}

	// A new token re-enrolls the same node: the platform rotates its
	// credential, and the new one replaces the old on disk.
	n, _ = New(Options{Platform: f.srv.URL, DataDir: dir, Token: "ret_two", Name: "n1", Logger: discardLogger()})
	if err := n.Enroll(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	second := f.enrolls[1]
	f.mu.Unlock()
	if second.NodeID != "node_fake" {
		t.Errorf("re-enrollment sent node id %q, want node_fake", second.NodeID)
	}
	if st, _, _ := loadState(dir); st.Credential != "rnc_xx" {
		t.Errorf("credential after re-enrolling = %q, want the rotated one", st.Credential)
	}

	// Later starts need no token.
	n, _ = New(Options{Platform: f.srv.URL, DataDir: dir, Logger: discardLogger()})
	if err := n.Enroll(ctx); err != nil || n.ID() != "node_fake" {
		t.Errorf("Enroll from the stored credential = %v, id %q", err, n.ID())
	}

	// A refusal carries the platform's sentence, and keeps the old credential.
	f.mu.Lock()
	f.enrollErr = "The enrollment token was already used."
	f.mu.Unlock()
	n, _ = New(Options{Platform: f.srv.URL, DataDir: dir, Token: "ret_spent", Logger: discardLogger()})
	err = n.Enroll(ctx)
	if err == nil || !strings.Contains(err.Error(), "already used") {
		t.Errorf("refused enrollment = %v; want the platform's message", err)
	}
	if st, _, _ := loadState(dir); st.Credential != "rnc_xx" {
		t.Errorf("a refused enrollment changed the stored credential to %q", st.Credential)
	}
}

func TestNodeOptions(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"no platform", Options{DataDir: "x"}, false},
		{"platform without scheme", Options{Platform: "example.com", DataDir: "x"}, false},
		{"no data dir", Options{Platform: "http://example.com"}, false},
		{"http", Options{Platform: "http://example.com/"}, true},
		{"https", Options{Platform: "https://example.com"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ok {
				tc.o.DataDir = t.TempDir()
			}
			_, err := New(tc.o)
			if (err == nil) != tc.ok {
				t.Errorf("New(%+v) = %v, want ok %v", tc.o, err, tc.ok)
			}
		})
	}
	cases2 := []struct{ platform, ws string }{
		{"http://h:1", "ws://h:1" + nodeapi.ConnectPath},
		{"https://h", "wss://h" + nodeapi.ConnectPath},
	}
	for _, c := range cases2 {
		if got := wsURL(c.platform); got != c.ws {
			t.Errorf("wsURL(%q) = %q, want %q", c.platform, got, c.ws)
		}
	}
}

func TestNodeRunCredentialRefused(t *testing.T) {
	f := newFakePlatform(t)
	f.mu.Lock()
	f.refuseConn = true
	f.mu.Unlock()
	dir := t.TempDir()
	if err := saveState(dir, state{Platform: f.srv.URL, NodeID: "node_fake", Credential: "rnc_old"}); err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Platform: f.srv.URL, DataDir: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(wait.Context(t, wait.Medium)) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrCredentialRefused) {
			t.Fatalf("Run = %v, want ErrCredentialRefused", err)
		}
	case <-time.After(wait.Short):
		t.Fatal("Run kept retrying a refused credential")
	}
}

func TestNodeRunConnectsHeartbeatsAndReconnects(t *testing.T) {
	f := newFakePlatform(t)
	dir := t.TempDir()
	n, err := New(Options{Platform: f.srv.URL, DataDir: dir, Token: "ret_t", Name: "n1", Labels: []string{"a", "b"},
		Version: "v9", Heartbeat: 50 * time.Millisecond, BackoffBase: 10 * time.Millisecond, BackoffCap: 50 * time.Millisecond,
		Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run ended with %v after its context was cancelled", err)
			}
		case <-time.After(wait.Short):
			t.Errorf("Run did not end within %s of its context's end", wait.Short)
		}
	})

	wait.Eventually(t, wait.Short, "a hello and three heartbeats", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.hellos) == 1 && f.beats >= 3
	})
	f.mu.Lock()
	h := f.hellos[0]
	f.mu.Unlock()
	if h.Name != "n1" || h.Version != "v9" || h.HeartbeatMs != 50 || strings.Join(h.Labels, ",") != "a,b" ||
		h.Metrics.MemoryTotalMB <= 0 || h.Metrics.Version != "v9" || h.Sandboxes == nil || h.StartedAt.IsZero() {
		t.Errorf("hello = %+v", h)
	}

	// The platform calls the node's API through the same connection.
	peer := f.lastPeer()
	resp, err := peer.Client().Get("http://" + nodeapi.TunnelHost + nodeapi.InfoPath)
	if err != nil {
		t.Fatal(err)
	}
	var info nodeapi.Info
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.NodeID != "node_fake" || info.Name != "n1" {
		t.Errorf("info = %+v, %v", info, err)
	}
	resp, err = peer.Client().Post("http://"+nodeapi.TunnelHost+nodeapi.EchoPath, "text/plain", strings.NewReader("ping pong"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ping pong" {
		t.Errorf("echo = %q", body)
	}

	// When the platform drops the connection, the node comes back with a
	// new hello.
	peer.Close()
	wait.Eventually(t, wait.Short, "the node to reconnect", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.hellos) == 2 && f.lastPeerLocked() != peer
	})
	if c := n.Connections(); c != 2 {
		t.Errorf("Connections = %d, want 2", c)
	}
}

func (f *fakePlatform) lastPeerLocked() *tunnel.Peer { return f.peers[len(f.peers)-1] }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
