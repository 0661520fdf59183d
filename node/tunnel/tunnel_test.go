package tunnel_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/node/tunnel"
)

const base = "http://tunnel.roost"

// release ends every /stuck handler when the test binary is done with them.
var release = make(chan struct{})

// handler is one side's API: /whoami names the side, /echo streams the
// body back as it arrives (full duplex, as the node's echo does), /stream
// writes a chunk every few milliseconds until the caller goes away.
func handler(name string, streams *sync.WaitGroup) http.Handler {
	mux := http.NewServeMux()
	// /stuck writes a line, then waits for the test, whatever its caller does.
	mux.HandleFunc("GET /stuck", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, strings.Repeat("x", 100))
		w.(http.Flusher).Flush()
		<-release
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, name)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		w.Header().Set("X-Side", name)
		w.WriteHeader(http.StatusOK)
		buf := make([]byte, 16<<10)
		for {
			k, err := r.Body.Read(buf)
			if k > 0 {
				if _, werr := w.Write(buf[:k]); werr != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		streams.Add(1)
		defer streams.Done()
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "chunk %d\n", i); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	return mux
}

// pair is a node and a platform joined by one connection; cutNode and
// cutPlatform close that connection at one end, as a dead process or a
// dropped network would.
type pair struct {
	node, platform           *tunnel.Peer
	cutNode, cutPlatform     func()
	nodeStreams, platStreams *sync.WaitGroup
}

func newPair(t *testing.T, transport string) *pair {
	t.Helper()
	var nodeConn, platConn net.Conn
	switch transport {
	case "pipe":
		nodeConn, platConn = net.Pipe()
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			accepted <- c
		}()
		nodeConn, err = net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		platConn = <-accepted
		ln.Close()
		if platConn == nil {
			t.Fatal("accept failed")
		}
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	p := &pair{nodeStreams: &sync.WaitGroup{}, platStreams: &sync.WaitGroup{}}
	// The node dials, the platform accepts; both run at once as the yamux
	// handshake needs nothing from the other side.
	var err error
	if p.node, err = tunnel.Dial(nodeConn, handler("node", p.nodeStreams)); err != nil {
		t.Fatal(err)
	}
	if p.platform, err = tunnel.Accept(platConn, handler("platform", p.platStreams)); err != nil {
		t.Fatal(err)
	}
	p.cutNode = func() { nodeConn.Close() }
	p.cutPlatform = func() { platConn.Close() }
	t.Cleanup(func() {
		p.node.Close()
		p.platform.Close()
	})
	return p
}

var transports = []string{"pipe", "tcp"}

func get(ctx context.Context, c *http.Client, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func echo(ctx context.Context, c *http.Client, body []byte) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/echo", bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.Header.Get("X-Side"), err
}

func TestTunnelBothWays(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			p := newPair(t, tr)
			ctx := testutil.Context(t, testutil.Medium)
			cases := []struct {
				name string
				from *tunnel.Peer
				want string
			}{
				{"platform calls node", p.platform, "node"},
				{"node calls platform", p.node, "platform"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					got, err := get(ctx, tc.from.Client(), "/whoami")
					if err != nil || got != tc.want {
						t.Fatalf("whoami = %q, %v; want %q", got, err, tc.want)
					}
					body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: more than a stream window
					back, side, err := echo(ctx, tc.from.Client(), body)
					if err != nil || side != tc.want || !bytes.Equal(back, body) {
						t.Fatalf("echo of 1 MiB from %s: %d bytes back, %v", side, len(back), err)
					}
				})
			}
		})
	}
}

func TestTunnelManyConcurrentCalls(t *testing.T) {
	const perSide = 64
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			p := newPair(t, tr)
			ctx := testutil.Context(t, testutil.Medium)
			var wg sync.WaitGroup
			errs := make(chan error, 2*perSide)
			for i := range 2 * perSide {
				from, want := p.platform, "node"
				if i%2 == 1 {
					from, want = p.node, "platform"
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := make([]byte, rand.IntN(64<<10))
					for j := range body {
						body[j] = byte(i + j)
					}
					back, side, err := echo(ctx, from.Client(), body)
					switch {
					case err != nil:
						errs <- fmt.Errorf("call %d: %w", i, err)
					case side != want || !bytes.Equal(back, body):
						errs <- fmt.Errorf("call %d: answered by %q with %d of %d bytes", i, side, len(back), len(body))
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// readChunks reads a /stream response until it ends, reporting how.
func readChunks(body io.Reader, first chan<- struct{}) error {
	buf := make([]byte, 4096)
	n := 0
	for {
		k, err := body.Read(buf)
		n += k
		if n >= 64 && first != nil {
			close(first)
			first = nil
		}
		if err != nil {
			return err
		}
	}
}

func TestTunnelCutMidStream(t *testing.T) {
	type cut struct {
		name string
		do   func(p *pair)
	}
	cuts := []cut{
		{"node end closed", func(p *pair) { p.cutNode() }},
		{"platform end closed", func(p *pair) { p.cutPlatform() }},
		{"node peer closed", func(p *pair) { p.node.Close() }},
		{"platform peer closed", func(p *pair) { p.platform.Close() }},
	}
	for _, tr := range transports {
		for _, c := range cuts {
			for _, dir := range []string{"platform calls node", "node calls platform"} {
				t.Run(tr+"/"+c.name+"/"+dir, func(t *testing.T) {
					p := newPair(t, tr)
					caller, served := p.platform, p.nodeStreams
					if dir == "node calls platform" {
						caller, served = p.node, p.platStreams
					}
					req, err := http.NewRequestWithContext(testutil.Context(t, testutil.Long), http.MethodGet, base+"/stream", nil)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := caller.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					first := make(chan struct{})
					ended := make(chan error, 1)
					go func() { ended <- readChunks(resp.Body, first) }()
					select {
					case <-first:
					case err := <-ended:
						t.Fatalf("the stream ended before the cut: %v", err)
					case <-time.After(testutil.Short):
						t.Fatal("no bytes streamed")
					}

					c.do(p)

					select {
					case err := <-ended:
						if err == nil || errors.Is(err, io.EOF) {
							t.Errorf("the cut stream ended with %v; want an error, not a clean end", err)
						}
					case <-time.After(testutil.Short):
						t.Fatalf("the read still hangs %s after the cut", testutil.Short)
					}
					for _, side := range []struct {
						name string
						peer *tunnel.Peer
					}{{"node", p.node}, {"platform", p.platform}} {
						select {
						case <-side.peer.Done():
						case <-time.After(testutil.Short):
							t.Errorf("the %s's Done is still open %s after the cut", side.name, testutil.Short)
						}
					}
					// The serving side stops writing to nobody.
					stopped := make(chan struct{})
					go func() { served.Wait(); close(stopped) }()
					select {
					case <-stopped:
					case <-time.After(testutil.Short):
						t.Errorf("the streaming handler still runs %s after the cut", testutil.Short)
					}

					// New calls fail at once, both ways, saying the tunnel is closed.
					for _, from := range []*tunnel.Peer{p.node, p.platform} {
						start := time.Now()
						_, err := get(testutil.Context(t, testutil.Long), from.Client(), "/whoami")
						if err == nil {
							t.Fatalf("a call on a cut tunnel succeeded")
						}
						if !errors.Is(err, tunnel.ErrClosed) {
							t.Errorf("a call on a cut tunnel = %v; want tunnel.ErrClosed", err)
						}
						if d := time.Since(start); d > testutil.Short {
							t.Errorf("a call on a cut tunnel took %s", d)
						}
					}
				})
			}
		}
	}
}

// slowClose is a connection whose Close waits until the test lets it go,
// as a websocket's does while it waits for a frozen peer's close frame.
type slowClose struct {
	net.Conn
	closing chan struct{} // closed when Close is called
	release chan struct{}
	once    sync.Once
}

func (c *slowClose) Close() error {
	c.once.Do(func() { close(c.closing) })
	<-c.release
	return c.Conn.Close()
}

// Closing a tunnel ends the calls in flight, and lets the idle connections
// go, without waiting for the connection's own Close to return.
func TestTunnelCloseDoesNotWaitForTheConnection(t *testing.T) {
	for _, dir := range []string{"platform calls node", "node calls platform"} {
		t.Run(dir, func(t *testing.T) {
			nodeConn, platConn := net.Pipe()
			slow := &slowClose{Conn: platConn, closing: make(chan struct{}), release: make(chan struct{})}
			var nodeStreams, platStreams sync.WaitGroup
			node, err := tunnel.Dial(nodeConn, handler("node", &nodeStreams))
			if err != nil {
				t.Fatal(err)
			}
			plat, err := tunnel.Accept(slow, handler("platform", &platStreams))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				close(slow.release)
				node.Close()
				plat.Close()
			})
			caller := plat
			if dir == "node calls platform" {
				caller = node
			}
			// Leave idle keep-alive connections both ways, then start a stream.
			ctx := testutil.Context(t, testutil.Medium)
			for range 8 {
				for _, from := range []*tunnel.Peer{plat, node} {
					if _, err := get(ctx, from.Client(), "/whoami"); err != nil {
						t.Fatal(err)
					}
				}
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/stream", nil)
			resp, err := caller.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			first := make(chan struct{})
			ended := make(chan error, 1)
			go func() { ended <- readChunks(resp.Body, first) }()
			<-first

			go plat.Close()
			<-slow.closing
			select {
			case <-plat.Done():
			case <-time.After(testutil.Short):
				t.Fatal("Done is still open while the connection closes")
			}
			if caller == plat {
				select {
				case err := <-ended:
					if err == nil {
						t.Errorf("the stream ended cleanly; want an error")
					}
				case <-time.After(testutil.Short):
					t.Fatalf("a call in flight still reads %s after Close, while the connection closes", testutil.Short)
				}
			}
			if caller == node {
				// The platform stops serving the node's call.
				stopped := make(chan struct{})
				go func() { platStreams.Wait(); close(stopped) }()
				select {
				case <-stopped:
				case <-time.After(testutil.Short):
					t.Fatalf("the platform's handler still streams %s after Close", testutil.Short)
				}
			}
			if _, err := get(ctx, plat.Client(), "/whoami"); !errors.Is(err, tunnel.ErrClosed) {
				t.Errorf("a new call while the connection closes = %v, want tunnel.ErrClosed", err)
			}
		})
	}
}

// A call whose context ends stops reading at once, even when the other side
// neither writes nor ends, and the tunnel stays usable.
func TestTunnelCallCanceled(t *testing.T) {
	for _, tr := range transports {
		for _, path := range []string{"/stream", "/stuck"} {
			t.Run(tr+path, func(t *testing.T) {
				p := newPair(t, tr)
				ctx, cancel := context.WithCancel(testutil.Context(t, testutil.Medium))
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
				resp, err := p.platform.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				first := make(chan struct{})
				ended := make(chan error, 1)
				go func() { ended <- readChunks(resp.Body, first) }()
				<-first
				cancel()
				select {
				case err := <-ended:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("canceled call's read ended with %v, want context.Canceled", err)
					}
				case <-time.After(testutil.Short):
					t.Fatalf("a canceled call still reads %s later", testutil.Short)
				}
				if got, err := get(testutil.Context(t, testutil.Short), p.platform.Client(), "/whoami"); err != nil || got != "node" {
					t.Errorf("after a canceled call, whoami = %q, %v", got, err)
				}
			})
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	close(release)
	os.Exit(code)
}
