package bundles

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

const goodManifest = `{"name": "echo", "version": "1.0.0", "entrypoint": ["python3", "agent.py"],
	"presets": [{"id": "chat", "name": "Chat", "description": "talk"}],
	"services": [{"serviceType": "web", "port": 3000}], "env": {"MODE": "test"}, "health": "/health"}`

// entry is one member of a test archive.
type entry struct {
	name     string
	body     string
	typ      byte // tar type; 0 means regular file
	link     string
	bodySize int64 // when > 0, body is that many zero bytes
}

func tarGz(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: e.typ, Linkname: e.link}
		var r io.Reader = strings.NewReader(e.body)
		switch {
		case e.typ == 0 || e.typ == tar.TypeReg:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
			if e.bodySize > 0 {
				h.Size, r = e.bodySize, io.LimitReader(zeros{}, e.bodySize)
			}
		case e.typ == tar.TypeDir:
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		var r io.Reader = strings.NewReader(e.body)
		switch e.typ {
		case tar.TypeSymlink:
			h.SetMode(0o777 | 1<<27) // fs.ModeSymlink
			r = strings.NewReader(e.link)
		case tar.TypeChar:
			h.SetMode(0o644 | 1<<26 | 1<<21) // fs.ModeDevice | fs.ModeCharDevice
		case tar.TypeDir:
			h.Name = strings.TrimSuffix(h.Name, "/") + "/"
		default:
			if e.bodySize > 0 {
				r = io.LimitReader(zeros{}, e.bodySize)
			}
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if e.typ != tar.TypeDir {
			if _, err := io.Copy(w, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	zw.Close()
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// inspectBoth validates an archive in whichever format it is.
func inspect(data []byte, lim Limits) (methods.BundleManifest, error) {
	format, err := Sniff(data)
	if err != nil {
		return methods.BundleManifest{}, err
	}
	if format == FormatTarGz {
		return InspectTarGz(bytes.NewReader(data), int64(len(data)), lim)
	}
	return InspectZip(bytes.NewReader(data), int64(len(data)), lim)
}

func TestInspectAccepts(t *testing.T) {
	entries := []entry{
		{name: "roost.json", body: goodManifest},
		{name: "lib/", typ: tar.TypeDir},
		{name: "lib/util.py", body: "x = 1"},
		{name: "agent.py", body: "print('hi')"},
		{name: "lib/alias.py", typ: tar.TypeSymlink, link: "util.py"},
		{name: "up.py", typ: tar.TypeSymlink, link: "lib/../agent.py"},
		{name: "node_modules/.bin/tool", typ: tar.TypeSymlink, link: "../tool/bin.js"},
	}
	for name, data := range map[string][]byte{"tar.gz": tarGz(t, entries...), "zip": zipOf(t, entries...)} {
		t.Run(name, func(t *testing.T) {
			m, err := inspect(data, Limits{})
			if err != nil {
				t.Fatalf("valid archive refused: %v", err)
			}
			if m.Name != "echo" || m.Version != "1.0.0" || len(m.Presets) != 1 || m.Services[0].Port != 3000 || *m.Health != "/health" {
				t.Fatalf("manifest = %+v", m)
			}
		})
	}
	t.Run("dot-slash-prefix", func(t *testing.T) {
		if _, err := inspect(tarGz(t, entry{name: "./roost.json", body: goodManifest}), Limits{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestInspectRefusesHostileArchives(t *testing.T) {
	man := entry{name: "roost.json", body: goodManifest}
	cases := []struct {
		name    string
		entries []entry
		lim     Limits
		want    string // a phrase the sentence must hold
	}{
		{"zip-slip", []entry{man, {name: "../evil.sh", body: "x"}}, Limits{}, `contains ".."`},
		{"zip-slip-deep", []entry{man, {name: "a/b/../../../evil", body: "x"}}, Limits{}, `contains ".."`},
		{"zip-slip-backslash", []entry{man, {name: `..\evil`, body: "x"}}, Limits{}, `contains ".."`},
		{"absolute-path", []entry{man, {name: "/etc/cron.d/x", body: "x"}}, Limits{}, "absolute path"},
		{"symlink-absolute", []entry{man, {name: "passwd", typ: tar.TypeSymlink, link: "/etc/passwd"}}, Limits{}, "absolute path"},
		{"symlink-parent", []entry{man, {name: "up", typ: tar.TypeSymlink, link: "../.."}}, Limits{}, "outside the bundle"},
		{"symlink-chain", []entry{man, {name: "sub/up", typ: tar.TypeSymlink, link: ".."}, {name: "esc", typ: tar.TypeSymlink, link: "sub/up/.."}}, Limits{}, "outside the bundle"},
		{"symlink-loop", []entry{man, {name: "a", typ: tar.TypeSymlink, link: "b"}, {name: "b", typ: tar.TypeSymlink, link: "a/x"}}, Limits{}, "outside the bundle"},
		{"device", []entry{man, {name: "tty", typ: tar.TypeChar}}, Limits{}, "device"},
		{"bomb", []entry{man, {name: "zeros", bodySize: 16 << 20}}, Limits{}, "decompression bomb"},
		{"too-big", []entry{man, {name: "big", body: strings.Repeat("abcdefgh", 1<<17)}}, Limits{MaxUnpacked: 512 << 10}, "unpacks to more than"},
		{"too-many-entries", []entry{man, {name: "a", body: "1"}, {name: "b", body: "2"}}, Limits{MaxEntries: 2}, "more than 2 entries"},
		{"no-manifest", []entry{{name: "agent.py", body: "x"}}, Limits{}, "no roost.json"},
		{"nested-manifest", []entry{{name: "agent/roost.json", body: goodManifest}}, Limits{}, "must be at the archive's root"},
		{"huge-manifest", []entry{{name: "roost.json", body: strings.Repeat(" ", MaxManifestSize+1)}}, Limits{}, "larger than"},
	}
	for _, c := range cases {
		for _, format := range []string{"tar.gz", "zip"} {
			if format == "zip" && c.name == "symlink-loop" {
				continue // the same inspector; tar covers it
			}
			t.Run(c.name+"/"+format, func(t *testing.T) {
				var data []byte
				if format == "zip" {
					data = zipOf(t, c.entries...)
				} else {
					data = tarGz(t, c.entries...)
				}
				_, err := inspect(data, c.lim)
				assertInvalid(t, err, c.want)
			})
		}
	}
	t.Run("hardlink-outside", func(t *testing.T) {
		_, err := inspect(tarGz(t, man, entry{name: "h", typ: tar.TypeLink, link: "../../etc/shadow"}), Limits{})
		assertInvalid(t, err, "outside the bundle")
	})
	t.Run("fifo", func(t *testing.T) {
		_, err := inspect(tarGz(t, man, entry{name: "p", typ: tar.TypeFifo}), Limits{})
		assertInvalid(t, err, "FIFO")
	})
	t.Run("not-an-archive", func(t *testing.T) {
		_, err := inspect([]byte("hello, world"), Limits{})
		assertInvalid(t, err, "neither a .tar.gz nor a .zip")
	})
	t.Run("truncated-gzip", func(t *testing.T) {
		data := tarGz(t, man, entry{name: "a", body: strings.Repeat("x", 100000)})
		_, err := inspect(data[:len(data)/2], Limits{})
		assertInvalid(t, err, "corrupt")
	})
	t.Run("truncated-zip", func(t *testing.T) {
		data := zipOf(t, man)
		_, err := inspect(data[:len(data)-10], Limits{})
		assertInvalid(t, err, "corrupt")
	})
}

func assertInvalid(t *testing.T, err error, phrase string) {
	t.Helper()
	var re *rpc.Error
	if !errors.As(err, &re) || re.Type != methods.InvalidInput {
		t.Fatalf("err = %v, want invalid_input", err)
	}
	if !strings.Contains(re.Message, phrase) {
		t.Fatalf("message %q does not say %q", re.Message, phrase)
	}
}

func TestManifestRules(t *testing.T) {
	cases := []struct {
		name, json, field string
	}{
		{"not-json", `{`, "manifest."},
		{"unknown-field", `{"name":"a","version":"1","entrypoint":["x"],"extra":1}`, "manifest."},
		{"wrong-type", `{"name":"a","version":"1","entrypoint":"x"}`, "manifest.entrypoint"},
		{"no-name", `{"version":"1","entrypoint":["x"]}`, "manifest.name"},
		{"no-version", `{"name":"a","entrypoint":["x"]}`, "manifest.version"},
		{"bad-version", `{"name":"a","version":"1 0","entrypoint":["x"]}`, "manifest.version"},
		{"no-entrypoint", `{"name":"a","version":"1"}`, "manifest.entrypoint"},
		{"empty-arg", `{"name":"a","version":"1","entrypoint":["x",""]}`, "manifest.entrypoint[1]"},
		{"bad-preset-id", `{"name":"a","version":"1","entrypoint":["x"],"presets":[{"id":"a b","name":"A"}]}`, "manifest.presets[0].id"},
		{"dup-preset", `{"name":"a","version":"1","entrypoint":["x"],"presets":[{"id":"a","name":"A"},{"id":"a","name":"B"}]}`, "manifest.presets[1].id"},
		{"preset-no-name", `{"name":"a","version":"1","entrypoint":["x"],"presets":[{"id":"a"}]}`, "manifest.presets[0].name"},
		{"bad-port", `{"name":"a","version":"1","entrypoint":["x"],"services":[{"serviceType":"web","port":70000}]}`, "manifest.services[0].port"},
		{"dup-port", `{"name":"a","version":"1","entrypoint":["x"],"services":[{"serviceType":"a","port":1},{"serviceType":"b","port":1}]}`, "manifest.services[1]"},
		{"reserved-env", `{"name":"a","version":"1","entrypoint":["x"],"env":{"ROOST_TOKEN":"x"}}`, "manifest.env.ROOST_TOKEN"},
		{"bad-env", `{"name":"a","version":"1","entrypoint":["x"],"env":{"1X":"x"}}`, "manifest.env.1X"},
		{"bad-health", `{"name":"a","version":"1","entrypoint":["x"],"health":"health"}`, "manifest.health"},
		{"trailing", `{"name":"a","version":"1","entrypoint":["x"]} {}`, "manifest."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(c.json))
			var re *rpc.Error
			if !errors.As(err, &re) || re.Type != methods.InvalidInput {
				t.Fatalf("err = %v, want invalid_input", err)
			}
			fe, ok := re.Details.(rpc.FieldError)
			if !ok || !strings.HasPrefix(fe.Field, c.field) {
				t.Fatalf("details = %#v, want field %q", re.Details, c.field)
			}
			if !strings.HasPrefix(re.Message, "roost.json: ") {
				t.Fatalf("message %q does not name roost.json", re.Message)
			}
		})
	}
	t.Run("health-none", func(t *testing.T) {
		m, err := ParseManifest([]byte(`{"name":"a","version":"1","entrypoint":["x"],"health":"none"}`))
		if err != nil || m.Health != nil || m.Presets == nil || m.Services == nil {
			t.Fatalf("m = %+v, err = %v", m, err)
		}
	})
}

// FuzzInspect feeds arbitrary bytes to both archive readers: they must
// answer a manifest or an invalid_input, never panic or loop.
func FuzzInspect(f *testing.F) {
	man := entry{name: "roost.json", body: goodManifest}
	f.Add(tarGz(f, man))
	f.Add(zipOf(f, man))
	f.Add(tarGz(f, man, entry{name: "l", typ: tar.TypeSymlink, link: "../x"}))
	f.Add(zipOf(f, man, entry{name: "../x", body: "y"}))
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxEntries: 100, MaxUnpacked: 4 << 20}
		_, err := inspect(data, lim)
		if err == nil {
			return
		}
		var re *rpc.Error
		if !errors.As(err, &re) || re.Type != methods.InvalidInput {
			t.Fatalf("err = %v, want invalid_input", err)
		}
	})
}
