package platform

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// leanFixture is a service on loopback and a front server that relays to
// it through serveLean, as serveService does.
type leanFixture struct {
	front  *httptest.Server
	dials  atomic.Int64
	pool   *upPool
	edited atomic.Int64
}

func newLeanFixture(t *testing.T, service http.Handler) *leanFixture {
	t.Helper()
	up := httptest.NewServer(service)
	t.Cleanup(up.Close)
	f := &leanFixture{pool: &upPool{}}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	addr := strings.TrimPrefix(up.URL, "http://")
	dial := func(ctx context.Context) (net.Conn, error) {
		f.dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	f.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveLean(w, r, f.pool, dial, addr, strings.TrimPrefix(r.URL.Path, "/s/x"), func(h http.Header) {
			f.edited.Add(1)
			h.Set("X-Edited", "yes")
		})
	}))
	t.Cleanup(f.front.Close)
	t.Cleanup(f.pool.closeAll)
	return f
}

// TestLeanProxyRelays: what the service gets and what the visitor gets
// back, for the kinds of request the lean path takes.
func TestLeanProxyRelays(t *testing.T) {
	var streamDone atomic.Bool
	f := newLeanFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s q=%s body=%s auth=%q cookie=%q conn=%q xff=%q ua=%q",
				r.Method, r.URL.Path, r.URL.RawQuery, body, r.Header.Get("Authorization"), r.Header.Get("Cookie"),
				r.Header.Get("X-Hop"), r.Header.Get("X-Forwarded-For"), r.Header.Get("User-Agent"))
		case "/stream":
			fl := w.(http.Flusher)
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "data: %d\n\n", i)
				fl.Flush()
				time.Sleep(20 * time.Millisecond)
			}
			streamDone.Store(true)
		case "/head":
			w.Header().Set("Content-Length", "5")
		}
	}))
	c := f.front.Client()

	req, _ := http.NewRequest(http.MethodPost, f.front.URL+"/s/x/echo?a=1&token=secret", strings.NewReader("hello"))
	req.Header.Set("Authorization", "Bearer platform-token")
	req.Header.Set("Cookie", "roost_instance=a; roost_service=b; theirs=c")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "hop-by-hop")
	req.Header.Set("User-Agent", "visitor/1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := string(b)
	for _, want := range []string{"POST /echo", "q=a=1 ", "body=hello", `auth=""`, `cookie="theirs=c"`, `conn=""`, `xff="127.0.0.1"`, `ua="visitor/1"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the service saw %q; want it to contain %q", got, want)
		}
	}
	if resp.Header.Get("X-Edited") != "yes" {
		t.Errorf("the answer's headers were not edited: %v", resp.Header)
	}

	// A stream arrives piece by piece, not at its end.
	resp, err = c.Get(f.front.URL + "/s/x/stream")
	if err != nil {
		t.Fatal(err)
	}
	// The first piece is read while the service still writes the rest:
	// the service's handler is done only after the last one.
	br := bufio.NewReader(resp.Body)
	if line, _ := br.ReadString('\n'); line != "data: 0\n" {
		t.Errorf("first piece of the stream = %q", line)
	}
	if streamDone.Load() {
		t.Errorf("the first piece arrived only after the service ended the stream")
	}
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if !strings.Contains(string(rest), "data: 2") {
		t.Errorf("the stream ended early: %q", rest)
	}

	// HEAD keeps its length and has no body.
	resp, err = c.Head(f.front.URL + "/s/x/head")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ContentLength != 5 {
		t.Errorf("HEAD length %d, want 5", resp.ContentLength)
	}

	// Kept connections are reused: a few requests, one or two dials.
	before := f.dials.Load()
	for i := 0; i < 20; i++ {
		resp, err := c.Get(f.front.URL + "/s/x/echo")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if d := f.dials.Load() - before; d > 2 {
		t.Errorf("20 sequential requests dialed the service %d times", d)
	}
}

// TestLeanProxyStaleConnection: a kept connection the service closed is
// replaced for a request without a body; the visitor sees no error.
func TestLeanProxyStaleConnection(t *testing.T) {
	f := newLeanFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	c := f.front.Client()
	get := func() (int, string, error) {
		resp, err := c.Get(f.front.URL + "/s/x/")
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, body, err := get(); err != nil || code != 200 || body != "ok" {
		t.Fatalf("first request: %d %q %v", code, body, err)
	}
	// The service closes its side of the kept connection.
	uc := f.pool.get()
	if uc == nil {
		t.Fatal("no kept connection after a request")
	}
	uc.c.Close()
	f.pool.put(uc)
	if code, body, err := get(); err != nil || code != 200 || body != "ok" {
		t.Fatalf("request on a stale kept connection: %d %q %v, want the answer from a fresh one", code, body, err)
	}
}

// TestLeanProxyServiceDown: a service that does not answer gets the
// visitor a 502 with a sentence.
func TestLeanProxyServiceDown(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveLean(w, r, &upPool{}, func(context.Context) (net.Conn, error) {
			return nil, fmt.Errorf("connection refused")
		}, "127.0.0.1:1", "/", nil)
	}))
	defer front.Close()
	resp, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "did not answer") {
		t.Errorf("service down: %d %s, want 502 saying the sandbox did not answer", resp.StatusCode, b)
	}
}
