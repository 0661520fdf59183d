package fleet

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"text/template"
)

// InstallCommand is the one line that installs a node from the platform.
func InstallCommand(baseURL, token string) string {
	return "curl -fsSL '" + baseURL + "/install.sh?token=" + url.QueryEscape(token) + "' | sh"
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

// InstallScript is the installer's script for a token; a token outside the
// token alphabet is refused, since it is pasted into the script.
func InstallScript(baseURL, token string) (string, error) {
	if !enrollTokenForm.MatchString(token) {
		return "", errors.New("the token is not of the enrollment token's form")
	}
	var b strings.Builder
	if err := installScript.Execute(&b, map[string]string{"URL": baseURL, "Token": token}); err != nil {
		return "", err
	}
	return b.String(), nil
}
