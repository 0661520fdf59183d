package platform

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"text/template"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

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

var installScript = template.Must(template.New("install").Parse(`#!/bin/sh
# Installs a roost node: downloads roost from the platform, enrolls this
# machine with a one-time token, and starts it as a systemd service.
# ROOST_BIN, ROOST_NODE_DATA, ROOST_NODE_NAME, ROOST_NODE_LABELS and
# ROOST_NO_SYSTEMD=1 change what it does.
set -eu
PLATFORM='{{.URL}}'
TOKEN='{{.Token}}'
BIN="${ROOST_BIN:-/usr/local/bin/roost}"
DATA="${ROOST_NODE_DATA:-/var/lib/roost-node}"
NAME="${ROOST_NODE_NAME:-$(hostname)}"
LABELS="${ROOST_NODE_LABELS:-}"

echo "roost: downloading the binary from $PLATFORM"
mkdir -p "$(dirname "$BIN")"
curl -fsSL "$PLATFORM/api/v1/nodes/binary?token=$TOKEN" -o "$BIN.tmp"
chmod 0755 "$BIN.tmp"
mv "$BIN.tmp" "$BIN"

echo "roost: enrolling this machine as node $NAME"
mkdir -p "$DATA"
chmod 0700 "$DATA"
"$BIN" node --platform "$PLATFORM" --token "$TOKEN" --data "$DATA" --name "$NAME" --labels "$LABELS" --enroll-only

if [ "${ROOST_NO_SYSTEMD:-}" != "1" ] && command -v systemctl >/dev/null 2>&1; then
  cat > /etc/systemd/system/roost-node.service <<UNIT
[Unit]
Description=roost node
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$BIN node --platform $PLATFORM --data $DATA --name $NAME --labels "$LABELS"
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now roost-node.service
  echo "roost: node running (systemctl status roost-node)"
else
  echo "roost: enrolled; start it with: $BIN node --platform $PLATFORM --data $DATA"
fi
`))

// enrollTokenForm keeps what is pasted into the script to a token's alphabet.
var enrollTokenForm = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// handleInstall serves the one-line installer's script.
func (s *Server) handleInstall(c echo.Context) error {
	tok := c.QueryParam("token")
	if err := s.fleet.CheckToken(c.Request().Context(), tok); err != nil {
		status, werr := rpc.ToWire(err)
		return c.String(status, "echo 'roost: "+strings.ReplaceAll(werr.Message, "'", "")+"' >&2; exit 1\n")
	}
	if !enrollTokenForm.MatchString(tok) {
		return c.String(http.StatusBadRequest, "echo 'roost: bad token' >&2; exit 1\n")
	}
	var b strings.Builder
	if err := installScript.Execute(&b, map[string]string{"URL": s.cfg.BaseURL, "Token": tok}); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/x-shellscript; charset=utf-8", []byte(b.String()))
}
