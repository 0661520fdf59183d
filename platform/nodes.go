package platform

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/roosthq/roost/fleet"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/rpc"
)

// nodeError answers the node endpoints' failures as {error}.
func (s *Server) nodeError(c echo.Context, err error) error {
	status, werr := rpc.ToWire(err)
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(c.Request().Context(), "node endpoint failed", "path", c.Path(), "err", err)
	}
	rpc.WriteJSON(c.Response(), status, nodeapi.ErrorResponse{Error: werr.Message})
	return nil
}

// handleEnroll spends a one-time token for a node.
func (s *Server) handleEnroll(c echo.Context) error {
	var req nodeapi.EnrollRequest
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return s.nodeError(c, rpc.Errorf(methods.InvalidInput, "The enrollment request is not valid JSON of the expected shape."))
	}
	out, err := s.fleet.Enroll(c.Request().Context(), req)
	if err != nil {
		return s.nodeError(c, err)
	}
	rpc.WriteJSON(c.Response(), http.StatusOK, out)
	return nil
}

// handleConnect takes a node's websocket and holds its tunnel until it
// drops.
func (s *Server) handleConnect(c echo.Context) error {
	req := c.Request()
	cred, _ := bearer(req)
	n, err := s.fleet.Authenticate(req.Context(), cred)
	if err != nil {
		return s.nodeError(c, err)
	}
	ws, err := websocket.Accept(c.Response(), req, nil)
	if err != nil {
		s.log.WarnContext(req.Context(), "node websocket not accepted", "node", n.ID, "err", err)
		return nil
	}
	conn := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	if err := s.fleet.Serve(context.WithoutCancel(req.Context()), n, conn); err != nil {
		s.log.WarnContext(req.Context(), "node connection ended", "node", n.ID, "err", err)
	}
	return nil
}

// handleBinary serves the running executable, so that a node installs the
// same roost as the platform's. It needs a usable enrollment token.
func (s *Server) handleBinary(c echo.Context) error {
	if err := s.fleet.CheckToken(c.Request().Context(), c.QueryParam("token")); err != nil {
		return s.nodeError(c, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return s.nodeError(c, err)
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="roost"`)
	return c.File(exe)
}

// handleInstall serves the one-line installer's script.
func (s *Server) handleInstall(c echo.Context) error {
	tok := c.QueryParam("token")
	if err := s.fleet.CheckToken(c.Request().Context(), tok); err != nil {
		status, werr := rpc.ToWire(err)
		return c.String(status, "echo 'roost: "+strings.ReplaceAll(werr.Message, "'", "")+"' >&2; exit 1\n")
	}
	script, err := fleet.InstallScript(s.cfg.BaseURL, tok)
	if err != nil {
		return c.String(http.StatusBadRequest, "echo 'roost: bad token' >&2; exit 1\n")
	}
	return c.Blob(http.StatusOK, "text/x-shellscript; charset=utf-8", []byte(script))
}
