package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/roosthq/roost/bundles"
	"github.com/roosthq/roost/methods"
)

// publishDemo publishes the demo agent as the bundle "echo" of an org, so
// that a fresh platform has something to run.
func (s *Server) publishDemo(ctx context.Context, orgID string) (string, error) {
	bin, err := os.ReadFile(s.cfg.DemoAgent)
	if err != nil {
		return "", fmt.Errorf("demo agent: %w", err)
	}
	dir, err := os.MkdirTemp("", "roost-demo-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	health := "/health"
	m := methods.BundleManifest{Name: "echo", Version: "1.0.0", Entrypoint: []string{"./agent", "-page", "3000"},
		Presets:  []methods.BundlePreset{{ID: "chat", Name: "Chat", Description: "Answers each message with an echo"}},
		Services: []methods.BundleService{{ServiceType: "web", Port: 3000}}, Health: &health}
	mj, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, bundles.ManifestName), mj, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "agent"), bin, 0o755); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := bundles.PackDir(dir, &buf); err != nil {
		return "", err
	}
	f, err := s.files.Upload(ctx, orgID, "echo.tar.gz", "application/gzip", &buf)
	if err != nil {
		return "", err
	}
	out, err := s.bundles.Publish(ctx, orgID, methods.PublishBundleInput{Slug: "echo", FileID: f.ID, Description: "The demo agent: echoes session messages and serves a page on port 3000."})
	if err != nil {
		return "", err
	}
	return out.RevisionID, nil
}
