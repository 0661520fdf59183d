// Package tunnel carries HTTP both ways over one connection that a node
// opened to the platform: a websocket holding a yamux session. Each side
// serves an http.Handler on the streams the other opens, and calls the
// other's handler through an http.Client whose connections are new streams.
// Nothing ever dials the node, so nodes behind NAT work.
package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
)

// ErrClosed is returned for calls on a closed peer.
var ErrClosed = errors.New("tunnel: closed")

func config() *yamux.Config {
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = true
	c.KeepAliveInterval = 5 * time.Second
	c.ConnectionWriteTimeout = 10 * time.Second
	c.StreamOpenTimeout = 10 * time.Second
	c.MaxStreamWindowSize = 1 << 20
	c.AcceptBacklog = 1024
	c.LogOutput = io.Discard
	return c
}

// Peer is one end of a tunnel.
type Peer struct {
	sess   *yamux.Session
	srv    *http.Server
	client *http.Client
	once   sync.Once

	mu      sync.Mutex
	streams map[*stream]struct{} // open, both ways
	aborted bool
}

// Dial makes the node's end over conn (the node opened the connection).
func Dial(conn net.Conn, h http.Handler) (*Peer, error) {
	s, err := yamux.Client(conn, config())
	if err != nil {
		return nil, err
	}
	return newPeer(s, h), nil
}

// Accept makes the platform's end over conn.
func Accept(conn net.Conn, h http.Handler) (*Peer, error) {
	s, err := yamux.Server(conn, config())
	if err != nil {
		return nil, err
	}
	return newPeer(s, h), nil
}

func newPeer(s *yamux.Session, h http.Handler) *Peer {
	p := &Peer{sess: s, streams: map[*stream]struct{}{}}
	p.srv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(listener{p}) }()
	p.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			type result struct {
				c   net.Conn
				err error
			}
			ch := make(chan result, 1)
			go func() {
				st, err := s.OpenStream()
				if err != nil {
					ch <- result{nil, err}
					return
				}
				ch <- result{p.track(st), nil}
			}()
			select {
			case r := <-ch:
				if r.err != nil {
					return nil, errors.Join(ErrClosed, r.err)
				}
				return r.c, nil
			case <-ctx.Done():
				go func() {
					if r := <-ch; r.c != nil {
						r.c.Close()
					}
				}()
				return nil, ctx.Err()
			}
		},
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
	go func() {
		<-s.CloseChan()
		p.Close()
	}()
	return p
}

// stream is one of the tunnel's streams as HTTP uses it. Once closed, it
// neither reads nor writes, as a closed TCP connection: yamux's Close only
// half-closes (it sends FIN and goes on reading until the other side
// closes), but http.Transport cancels a call by closing its connection and
// counts on that to end the read of the body. Without it, a canceled call
// whose other side neither writes nor ends hangs, and one whose other side
// ends politely looks complete.
type stream struct {
	*yamux.Stream
	p      *Peer
	closed atomic.Bool
}

func (s *stream) Read(b []byte) (int, error) {
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	n, err := s.Stream.Read(b)
	if s.closed.Load() {
		// Closed while this read waited: what came after is not the
		// caller's, such as the end of a response to a canceled call.
		return 0, net.ErrClosed
	}
	return n, err
}

func (s *stream) Write(b []byte) (int, error) {
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	return s.Stream.Write(b)
}

// stop ends the reads and writes of the stream, and those waiting.
func (s *stream) stop() {
	s.closed.Store(true)
	_ = s.Stream.SetDeadline(time.Now())
}

func (s *stream) Close() error {
	s.p.mu.Lock()
	delete(s.p.streams, s)
	s.p.mu.Unlock()
	s.stop()
	return s.Stream.Close()
}

// track registers a new stream, so that abort can stop it.
func (p *Peer) track(st *yamux.Stream) net.Conn {
	s := &stream{Stream: st, p: p}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.aborted {
		s.stop()
	} else {
		p.streams[s] = struct{}{}
	}
	return s
}

// abort stops every stream before the session closes. No response may end
// cleanly once the tunnel is going: a cut call must fail, never look
// complete. And yamux (v0.1.2) wakes the reads and writes waiting when its
// session shuts down but leaves them looping, busy, until it has closed each
// stream in turn, while the looping goroutines contend for the locks that
// closing takes: with a hundred idle keep-alive connections a close took
// tens of seconds of full CPU under the race detector.
func (p *Peer) abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.aborted = true
	for s := range p.streams {
		s.stop()
	}
	clear(p.streams)
}

// listener hands the streams the other side opens to the HTTP server.
type listener struct{ p *Peer }

func (l listener) Accept() (net.Conn, error) {
	st, err := l.p.sess.AcceptStream()
	if err != nil {
		return nil, err
	}
	return l.p.track(st), nil
}

func (l listener) Close() error   { return l.p.sess.Close() }
func (l listener) Addr() net.Addr { return l.p.sess.Addr() }

// Client calls the other end's handler; use "http://" + nodeapi.TunnelHost
// as the URL's scheme and host.
func (p *Peer) Client() *http.Client { return p.client }

// Done is closed when the tunnel is down.
func (p *Peer) Done() <-chan struct{} { return p.sess.CloseChan() }

// Close tears the tunnel down; calls in flight fail at once.
func (p *Peer) Close() error {
	p.once.Do(func() {
		p.abort()
		_ = p.sess.Close()
		_ = p.srv.Close()
		p.client.CloseIdleConnections()
	})
	return nil
}

// RemoteAddr is the address of the other end's connection.
func (p *Peer) RemoteAddr() net.Addr { return p.sess.RemoteAddr() }
