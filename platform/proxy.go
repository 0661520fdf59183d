package platform

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform/auth"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/services"
)

// serviceCookie carries an instance token for one service's pages; its
// path scopes it to that service.
const serviceCookie = "roost_service"

var (
	errNotUpgrade    = rpc.Errorf(methods.InvalidInput, "This endpoint takes a websocket: send an Upgrade: websocket request.")
	errWrongSess     = &rpc.Error{Type: methods.NotFound, Message: "No session with this id is open to this token. Use the wsToken of this session."}
	errNoServiceAuth = &rpc.Error{Type: methods.Unauthorized,
		Message: "This service needs the instance's token: open it with ?token=<instance token> once, or send Authorization: Bearer <token>."}
)

// proxyTo returns a reverse proxy that sends requests through transport,
// rewriting each to path. It carries streamed responses and websockets.
func (s *Server) proxyTo(transport http.RoundTripper, host string, rewrite func(*http.Request)) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = "http", host, host
			pr.Out.Header.Del("Authorization")
			removeCookie(pr.Out, serviceCookie)
			removeCookie(pr.Out, cookieName)
			rewrite(pr.Out)
			pr.SetXForwarded()
		},
		Transport: transport,
		// No periodic flush: a response of known length goes out in as few
		// writes as it can, and one of unknown length (streamed, chunked,
		// event streams) is flushed on every write, which ReverseProxy does
		// by itself for such responses.
		ErrorHandler: s.proxyError,
	}
}

// proxyError answers a request the proxy could not relay.
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(r.Context().Err(), err) || r.Context().Err() != nil {
		return
	}
	var re *rpc.Error
	if !errors.As(err, &re) {
		re = rpc.Errorf(methods.Unavailable, "The sandbox did not answer. Retry in a moment.").Wrap(err)
	}
	s.log.InfoContext(r.Context(), "proxy failed", "err", err)
	status, werr := rpc.ToWire(re)
	if status == http.StatusServiceUnavailable || status == http.StatusNotFound {
		status = http.StatusBadGateway
	}
	rpc.WriteJSON(w, status, map[string]any{"ok": false, "error": werr})
}

// dropToken removes the instance token a visitor put in the query: it is
// the platform's, never the service's.
func dropToken(u *url.URL) {
	q := u.Query()
	if q.Has("token") {
		q.Del("token")
		u.RawQuery = q.Encode()
	}
}

func removeCookie(r *http.Request, name string) {
	cs := r.Cookies()
	if len(cs) == 0 {
		return
	}
	r.Header.Del("Cookie")
	for _, c := range cs {
		if c.Name != name {
			r.AddCookie(c)
		}
	}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// handleSessionWS proxies a browser's websocket to the agent's session
// websocket. The wsToken is checked before the upgrade.
func (s *Server) handleSessionWS(c echo.Context) error {
	req := c.Request()
	tok := req.URL.Query().Get("token")
	if tok == "" {
		tok, _ = bearer(req)
	}
	if tok == "" {
		rpc.WriteError(c.Response(), auth.ErrNoToken)
		return nil
	}
	id, sid := c.Param("id"), c.Param("sid")
	claims, _, err := s.verifyInstanceToken(req.Context(), tok, tokenWant{instanceID: id, sessionID: sid, origin: req.Header.Get("Origin")})
	if errors.Is(err, errTokenNotForInstance) || errors.Is(err, instance.ErrNotFound) {
		err = errWrongSess // not found, as a session of another instance or org
	}
	if err != nil {
		rpc.WriteError(c.Response(), err)
		return nil
	}
	if _, err := s.sessions.Session(req.Context(), claims.OrgID, id, sid); err != nil {
		rpc.WriteError(c.Response(), err)
		return nil
	}
	if !isUpgrade(req) {
		rpc.WriteError(c.Response(), errNotUpgrade)
		return nil
	}
	tr, err := s.sessions.AgentTransport(req.Context(), claims.OrgID, id)
	if err != nil {
		rpc.WriteError(c.Response(), err)
		return nil
	}
	defer tr.CloseIdleConnections()
	s.proxyTo(tr, "agent", func(out *http.Request) {
		out.URL.Path, out.URL.RawPath, out.URL.RawQuery = "/sessions/"+sid+"/ws", "", ""
	}).ServeHTTP(c.Response(), req)
	return nil
}

// handleService proxies /s/{code}/... to the port of the service.
func (s *Server) handleService(c echo.Context) error {
	code := c.Param("code")
	rest := "/" + c.Param("*")
	if !strings.HasPrefix(c.Request().URL.Path, "/s/"+code+"/") {
		return c.Redirect(http.StatusTemporaryRedirect, "/s/"+code+"/")
	}
	return s.serveService(c, code, rest, "/s/"+code+"/")
}

// serveService checks access to a service and proxies to it; cookiePath
// scopes the access cookie.
func (s *Server) serveService(c echo.Context, code, path, cookiePath string) error {
	req := c.Request()
	u, sb, err := s.services.Lookup(req.Context(), code)
	if err != nil {
		if errors.Is(err, services.ErrNoService) {
			rpc.WriteError(c.Response(), err)
			return nil
		}
		rpc.WriteError(c.Response(), err)
		return nil
	}
	if !u.Public {
		tok, fromQuery := req.URL.Query().Get("token"), true
		if tok == "" {
			fromQuery = false
			if b, ok := bearer(req); ok {
				tok = b
			} else if ck, err := req.Cookie(serviceCookie); err == nil {
				tok = ck.Value
			}
		}
		// Lookup found the instance active: the token's claims suffice.
		claims, err := s.verifyInstanceClaims(tok, tokenWant{instanceID: u.InstanceID})
		if tok == "" || err != nil || claims.OrgID != u.OrgID {
			rpc.WriteError(c.Response(), errNoServiceAuth)
			return nil
		}
		if fromQuery {
			// Trade the token in the URL for a cookie, and drop it from the URL.
			exp := claims.ExpiresAt.Time
			c.SetCookie(&http.Cookie{Name: serviceCookie, Value: tok, Path: cookiePath, Expires: exp,
				MaxAge: int(time.Until(exp).Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(req)})
			q := req.URL.Query()
			q.Del("token")
			target := req.URL.Path
			if enc := q.Encode(); enc != "" {
				target += "?" + enc
			}
			return c.Redirect(http.StatusSeeOther, target)
		}
	}
	up := s.transports.get(sb.ID, u.Port, func() *http.Transport { return s.sandboxes.Transport(sb, u.Port) })
	host := "127.0.0.1:" + strconv.Itoa(u.Port)
	edit := serviceAnswer(cookiePath == "/")
	if leanOK(req) {
		s.serveLean(c.Response(), req, &up.pool, func(ctx context.Context) (net.Conn, error) {
			return up.tr.DialContext(ctx, "tcp", host)
		}, host, path, edit)
		return nil
	}
	rp := s.proxyTo(up.tr, host, func(out *http.Request) {
		out.URL.Path, out.URL.RawPath = path, ""
		dropToken(out.URL)
	})
	rp.ModifyResponse = func(resp *http.Response) error {
		edit(resp.Header)
		return nil
	}
	rp.ServeHTTP(c.Response(), req)
	return nil
}

// serviceAnswer edits the headers of a service's answer before they reach
// the visitor. Under /s/ (ownOrigin false) the service's pages share the
// platform's origin: they run as an opaque origin, so that their scripts
// cannot call the platform with the visitor's cookies, and every cookie
// the service sets is dropped, since it would land on the platform's
// origin (a Path of /api/v1/instances/... or / would shadow the platform's
// own cookies). On a service domain (ownOrigin) the service's cookies stay
// on its own host: a Domain attribute, which would spread one over the
// platform's names, is removed.
func serviceAnswer(ownOrigin bool) func(http.Header) {
	if !ownOrigin {
		return func(h http.Header) {
			h.Set("Content-Security-Policy", "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads")
			h.Del("Set-Cookie")
		}
	}
	return func(h http.Header) {
		set := h.Values("Set-Cookie")
		if len(set) == 0 {
			return
		}
		h.Del("Set-Cookie")
		for _, line := range set {
			c, err := http.ParseSetCookie(line)
			if err != nil {
				continue // a cookie the browser would refuse too
			}
			c.Domain = ""
			if v := c.String(); v != "" {
				h.Add("Set-Cookie", v)
			}
		}
	}
}

// serviceHost routes {code}.SERVICE_DOMAIN requests to their service.
func (s *Server) serviceHost(next echo.HandlerFunc) echo.HandlerFunc {
	suffix := "." + s.cfg.ServiceDomain
	return func(c echo.Context) error {
		host := c.Request().Host
		if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i:], "]") {
			host = host[:i]
		}
		if s.cfg.ServiceDomain != "" && strings.HasSuffix(host, suffix) {
			code := strings.TrimSuffix(host, suffix)
			if !strings.Contains(code, ".") {
				return s.serveService(c, code, c.Request().URL.Path, "/")
			}
		}
		return next(c)
	}
}

// transportCache keeps one transport per sandbox port for the service
// proxy, so that a service's requests reuse their connections through node
// and supervisor instead of dialing a new stream each. Every request still
// looks its service up first, so a transport is only used for a sandbox
// that runs; transports unused for a while are dropped.
type transportCache struct {
	mu sync.Mutex
	m  map[transportKey]*cachedTransport
}

type transportKey struct {
	sandbox string
	port    int
}

type cachedTransport struct {
	tr   *http.Transport
	pool upPool // the lean path's connections
	used time.Time
}

// transportIdle is how long an unused transport is kept.
const transportIdle = 2 * time.Minute

func (c *transportCache) get(sandboxID string, port int, newTransport func() *http.Transport) *cachedTransport {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.m == nil {
		c.m = map[transportKey]*cachedTransport{}
	}
	k := transportKey{sandboxID, port}
	if e, ok := c.m[k]; ok {
		e.used = now
		return e
	}
	for key, e := range c.m {
		if now.Sub(e.used) > transportIdle {
			e.tr.CloseIdleConnections()
			e.pool.closeAll()
			delete(c.m, key)
		}
	}
	e := &cachedTransport{tr: newTransport(), used: now}
	c.m[k] = e
	return e
}
