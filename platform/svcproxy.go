package platform

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The service proxy's plain requests (everything but upgrades, Expect
// and trailers, which go through httputil.ReverseProxy) are relayed by
// the handler's own goroutine on a kept connection to the service: the
// request written, the response read and copied, with no transport
// goroutines and channels between them. A proxied request then costs
// about its syscalls, where the general transport added two goroutine
// hand-offs each way.

// upConn is a kept HTTP/1.1 connection to a service.
type upConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// upPool holds one sandbox port's idle connections.
type upPool struct {
	mu   sync.Mutex
	idle []*upConn
}

// maxIdleUp bounds the idle connections kept per sandbox port.
const maxIdleUp = 32

func (p *upPool) get() *upConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return c
	}
	return nil
}

func (p *upPool) put(c *upConn) {
	p.mu.Lock()
	if len(p.idle) < maxIdleUp {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.c.Close()
	}
}

func (p *upPool) closeAll() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.c.Close()
	}
}

// leanOK reports whether a request can take the lean path.
func leanOK(r *http.Request) bool {
	return !isUpgrade(r) && r.Header.Get("Expect") == "" && len(r.Trailer) == 0 && r.Method != http.MethodConnect
}

// hopHeaders are a connection's own headers, never relayed (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func dropHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// leanRequest is the request the service gets: the visitor's, at path,
// without the platform's credentials and the connection's own headers,
// with X-Forwarded-*.
func leanRequest(r *http.Request, host, path string) *http.Request {
	h := r.Header.Clone()
	dropHop(h)
	h.Del("Authorization")
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // none, not Go's
	}
	out := &http.Request{Method: r.Method, URL: &url.URL{Path: path, RawQuery: r.URL.RawQuery}, Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Header: h, Body: r.Body, ContentLength: r.ContentLength, Host: host}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	removeCookie(out, serviceCookie)
	removeCookie(out, cookieName)
	dropToken(out.URL)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h.Set("X-Forwarded-For", ip)
	} else {
		h.Del("X-Forwarded-For")
	}
	h.Set("X-Forwarded-Host", r.Host)
	if r.TLS != nil {
		h.Set("X-Forwarded-Proto", "https")
	} else {
		h.Set("X-Forwarded-Proto", "http")
	}
	return out
}

// serveLean relays r to the service on pool's connections (dialing with
// dial when none is idle) and writes its answer; edit changes the
// answer's headers. It answers what the general proxy answers on errors.
func (s *Server) serveLean(w http.ResponseWriter, r *http.Request, pool *upPool, dial func(context.Context) (net.Conn, error),
	host, path string, edit func(http.Header)) {
	ctx := r.Context()
	out := leanRequest(r, host, path)
	replayable := out.Body == nil
	var (
		uc   *upConn
		resp *http.Response
		err  error
	)
	for attempt := 0; ; attempt++ {
		reused := false
		if uc = pool.get(); uc != nil {
			reused = true
		} else {
			c, derr := dial(ctx)
			if derr != nil {
				s.proxyError(w, r, derr)
				return
			}
			uc = &upConn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 16<<10)}
		}
		// A visitor who leaves ends the wait for the service.
		stop := context.AfterFunc(ctx, func() { _ = uc.c.SetDeadline(time.Unix(1, 0)) })
		if err = out.Write(uc.bw); err == nil {
			err = uc.bw.Flush()
		}
		if err == nil {
			resp, err = readFinal(uc.br, out)
		}
		if err == nil {
			defer stop()
			break
		}
		stop()
		uc.c.Close()
		// A kept connection the service had closed fails at once; a
		// request without a body is sent again on a fresh one.
		if !reused || !replayable || attempt > 0 || ctx.Err() != nil {
			s.proxyError(w, r, err)
			return
		}
	}
	dropHop(resp.Header)
	dst := w.Header()
	for k, v := range resp.Header {
		dst[k] = v
	}
	if edit != nil {
		edit(dst)
	}
	w.WriteHeader(resp.StatusCode)
	var cerr error
	if resp.ContentLength == -1 && r.Method != http.MethodHead {
		cerr = copyFlushing(w, resp.Body)
	} else {
		_, cerr = io.Copy(w, resp.Body)
	}
	resp.Body.Close()
	if cerr != nil || resp.Close || out.Close || ctx.Err() != nil {
		uc.c.Close()
		return
	}
	pool.put(uc)
}

// readFinal reads the service's answer, past informational ones.
func readFinal(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		resp.Body.Close()
	}
}

// copyFlushing copies a body of unknown length (a stream, server-sent
// events) and flushes each piece as it comes.
func copyFlushing(w http.ResponseWriter, body io.Reader) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
