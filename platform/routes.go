package platform

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/web"
)

// route is one entry of the route table.
type route struct {
	method, path string
	handler      echo.HandlerFunc
}

// routeTable lists every HTTP route, sorted by path then method (a test
// keeps it so).
func (s *Server) routeTable() []route {
	return []route{
		{http.MethodGet, "/api/v1/files/:id", s.handleDownload},
		{http.MethodHead, "/api/v1/files/:id", s.handleDownload},
		{http.MethodPost, "/api/v1/files/upload", s.handleUpload},
		{http.MethodOptions, "/api/v1/instances/:id/rpc", s.handlePreflight},
		{http.MethodPost, "/api/v1/instances/:id/rpc", s.handleInstanceRPC},
		{http.MethodDelete, "/api/v1/instances/:id/session-cookie", s.handleClearCookie},
		{http.MethodOptions, "/api/v1/instances/:id/session-cookie", s.handlePreflight},
		{http.MethodPost, "/api/v1/instances/:id/session-cookie", s.handleSessionCookie},
		{http.MethodGet, "/api/v1/instances/:id/sessions/:sid/ws", s.handleSessionWS},
		{http.MethodGet, "/api/v1/nodes/binary", s.handleBinary},
		{http.MethodGet, "/api/v1/nodes/connect", s.handleConnect},
		{http.MethodPost, "/api/v1/nodes/enroll", s.handleEnroll},
		{http.MethodPost, "/api/v1/rpc", s.handlePlatformRPC},
		{http.MethodGet, "/api/v1/schema", s.handleSchema},
		{http.MethodGet, "/git/:repo/*", s.handleGit},
		{http.MethodPost, "/git/:repo/*", s.handleGit},
		{http.MethodGet, "/healthz", s.handleHealth},
		{http.MethodGet, "/install.sh", s.handleInstall},
		{http.MethodGet, "/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))},
	}
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.httpError
	e.Use(s.requestContext)
	for _, r := range s.routeTable() {
		e.Add(r.method, r.path, r.handler)
	}
	// Services answer every method on every path under their prefix.
	e.Any("/s/:code", s.handleService)
	e.Any("/s/:code/*", s.handleService)
	if s.cfg.ServiceDomain != "" {
		e.Pre(s.serviceHost)
	}
	// The console: its pages and its assets.
	console := echo.WrapHandler(web.Handler())
	for _, p := range []string{"/", "/console", "/console/*", "/i/*", "/assets/*", "/favicon.svg", "/favicon.ico"} {
		e.GET(p, console)
	}
	return e
}

// requestContext gives every request an id (kept from X-Request-Id when it
// is sane), puts it in the context for logs and audit, recovers panics, and
// logs the request.
func (s *Server) requestContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		req := c.Request()
		id := req.Header.Get(echo.HeaderXRequestID)
		if !saneRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		ctx := WithRequestID(req.Context(), id)
		c.SetRequest(req.WithContext(ctx))
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(ctx, "panic serving request", "panic", p, "path", req.URL.Path)
				if !c.Response().Committed {
					rpc.WriteError(c.Response(), rpc.ErrInternal)
				}
				err = nil
			}
			status := c.Response().Status
			level := accessLevel(status)
			if !s.log.Enabled(ctx, level) {
				return
			}
			s.log.Log(ctx, level, "request", "method", req.Method, "path", req.URL.Path,
				"status", status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()
		return next(c)
	}
}

// accessLevel logs failures by default and successes at debug, so that a
// busy platform's log holds what needs reading.
func accessLevel(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// httpError answers echo's own errors (no route, wrong method) in the RPC
// error shape.
func (s *Server) httpError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	status := http.StatusInternalServerError
	if e, ok := err.(*echo.HTTPError); ok {
		he = e
		status = he.Code
	}
	var werr *rpc.Error
	switch status {
	case http.StatusNotFound:
		werr = rpc.Errorf(methods.NotFound, "There is nothing at %s %s.", c.Request().Method, c.Request().URL.Path)
	case http.StatusMethodNotAllowed:
		werr = rpc.Errorf(methods.InvalidInput, "%s does not answer %s.", c.Request().URL.Path, c.Request().Method)
	case http.StatusRequestEntityTooLarge:
		werr = rpc.Errorf(methods.PayloadTooLarge, "The request body is too large.")
	default:
		s.log.ErrorContext(c.Request().Context(), "unhandled error", "err", err)
		werr = rpc.ErrInternal
	}
	rpc.WriteError(c.Response(), werr)
}

func (s *Server) handleHealth(c echo.Context) error {
	if err := s.db.PingContext(c.Request().Context()); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"ok": false, "error": "the database does not answer"})
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true})
}

func (s *Server) handleSchema(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=60")
	rpc.WriteJSON(c.Response(), http.StatusOK, s.Schema())
	return nil
}
