package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/roosthq/roost/bundles"
	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/methods"
)

// AgentManifest is the manifest of the test agent's bundle, with the
// agent's flags appended to its entrypoint.
func AgentManifest(version string, flags ...string) methods.BundleManifest {
	health := "/health"
	return methods.BundleManifest{
		Name: "test-agent", Version: version,
		Entrypoint: append([]string{"./agent"}, flags...),
		Presets: []methods.BundlePreset{{ID: "chat", Name: "Chat", Description: "echoes each message"},
			{ID: "page", Name: "Page", Description: "serves a page"}},
		Services: []methods.BundleService{{ServiceType: "web", Port: 3000}},
		Env:      map[string]string{"AGENT_MODE": "test"},
		Health:   &health,
	}
}

// PublishTestAgent packs the test agent with the manifest, uploads it and
// publishes it under slug; it returns the revision.
func PublishTestAgent(t testing.TB, c *client.Client, slug string, m methods.BundleManifest) *methods.PublishBundleOutput {
	t.Helper()
	dir := t.TempDir()
	bin, err := os.ReadFile(TestAgentBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "agent"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	mj, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, bundles.ManifestName), mj, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := bundles.PackDir(dir, &buf); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Medium)
	defer cancel()
	up, err := c.UploadFile(ctx, slug+".tar.gz", "application/gzip", io.Reader(&buf))
	if err != nil {
		t.Fatalf("upload test agent: %v", err)
	}
	out, err := c.PublishBundle(ctx, methods.PublishBundleInput{Slug: slug, FileID: up.FileID})
	if err != nil {
		t.Fatalf("publish test agent: %v", err)
	}
	return out
}
