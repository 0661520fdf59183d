package bundles_test

// The bundle archives the end-to-end tests build.

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"testing"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
)

// entry is one entry of a test archive.
type entry struct {
	name string
	body string
	typ  byte // tar.TypeReg (default), TypeDir, TypeSymlink, TypeChar, ...
	link string
}

// manifestJSON is a valid roost.json of a version, changed by edit.
func manifestJSON(version string, edit func(m map[string]any)) string {
	m := map[string]any{
		"name":       "Echo agent",
		"version":    version,
		"entrypoint": []string{"python3", "agent.py"},
		"presets":    []map[string]any{{"id": "chat", "name": "Chat", "description": "Talk to the agent."}, {"id": "review", "name": "Review"}},
		"services":   []map[string]any{{"serviceType": "web", "port": 3000}, {"serviceType": "api", "port": 8080}},
		"env":        map[string]string{"AGENT_MODE": "test"},
		"health":     "/health",
	}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// agentFiles are the entries of a valid bundle around a manifest.
func agentFiles(manifest string) []entry {
	return []entry{
		{name: "roost.json", body: manifest},
		{name: "lib/", typ: tar.TypeDir},
		{name: "lib/util.py", body: "def echo(x):\n    return x\n"},
		{name: "agent.py", body: "print('hello')\n"},
		{name: "current", typ: tar.TypeSymlink, link: "lib/util.py"},
	}
}

// tarGzOf builds a .tar.gz archive.
func tarGzOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644}
		switch typ {
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		case tar.TypeDir:
			h.Mode = 0o755
		case tar.TypeChar, tar.TypeBlock:
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zipOf builds a .zip archive; symlinks are stored as zip symlinks (the
// target as content, the mode in the external attributes).
func zipOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		body := e.body
		switch e.typ {
		case tar.TypeDir:
			h.SetMode(fs.ModeDir | 0o755)
		case tar.TypeSymlink:
			h.SetMode(fs.ModeSymlink | 0o777)
			body = e.link
		case tar.TypeChar:
			h.SetMode(fs.ModeDevice | fs.ModeCharDevice | 0o644)
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatalf("zip entry %s: %v", e.name, err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// publish uploads an archive and publishes it.
func publish(t testing.TB, c *client.Client, slug string, archive []byte) (*methods.PublishBundleOutput, *methods.UploadFileOutput, error) {
	t.Helper()
	f := rpctest.Upload(t, c, slug+".archive", "", archive)
	out, err := c.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: slug, FileID: f.FileID})
	return out, f, err
}
