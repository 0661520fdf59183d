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
	p := &Peer{sess: s}
	p.srv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(s) }()
	p.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			type result struct {
				c   net.Conn
				err error
			}
			ch := make(chan result, 1)
			go func() {
				c, err := s.Open()
				ch <- result{c, err}
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

// Client calls the other end's handler; use "http://" + nodeapi.TunnelHost
// as the URL's scheme and host.
func (p *Peer) Client() *http.Client { return p.client }

// Done is closed when the tunnel is down.
func (p *Peer) Done() <-chan struct{} { return p.sess.CloseChan() }

// Close tears the tunnel down; calls in flight fail at once.
func (p *Peer) Close() error {
	p.once.Do(func() {
		_ = p.sess.Close()
		_ = p.srv.Close()
		p.client.CloseIdleConnections()
	})
	return nil
}

// RemoteAddr is the address of the other end's connection.
func (p *Peer) RemoteAddr() net.Addr { return p.sess.RemoteAddr() }
