package bundles_test

// End-to-end tests of publishing hostile archives: every one is refused,
// with a message that says why, and leaves no revision behind.

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

func TestBundleHostileArchives(t *testing.T) {
	t.Parallel()
	srv := testutil.StartServer(t, platform.Config{})
	admin := srv.Admin()
	if _, _, err := publish(t, admin, "target", tarGzOf(t, agentFiles(manifestJSON("0.0.1", nil))...)); err != nil {
		t.Fatalf("publish a valid revision: %v", err)
	}
	good := manifestJSON("9.9.9", nil)
	bad := func(edit func(m map[string]any)) string { return manifestJSON("9.9.9", edit) }
	withManifest := func(extra ...entry) []entry { return append([]entry{{name: "roost.json", body: good}}, extra...) }

	cases := []struct {
		name    string
		archive func(t testing.TB) []byte
		field   string // details.field
		says    string // part of the message
	}{
		{"zip slip in a zip", func(t testing.TB) []byte { return zipOf(t, withManifest(entry{name: "../evil", body: "x"})...) }, "fileId", `".."`},
		{"zip slip in a tar", func(t testing.TB) []byte { return tarGzOf(t, withManifest(entry{name: "../evil", body: "x"})...) }, "fileId", `".."`},
		{"zip slip deeper in a tar", func(t testing.TB) []byte {
			return tarGzOf(t, withManifest(entry{name: "lib/../../evil", body: "x"})...)
		}, "fileId", `".."`},
		{"absolute path in a tar", func(t testing.TB) []byte {
			return tarGzOf(t, withManifest(entry{name: "/etc/cron.d/evil", body: "x"})...)
		}, "fileId", "absolute"},
		{"absolute path in a zip", func(t testing.TB) []byte {
			return zipOf(t, withManifest(entry{name: "/etc/cron.d/evil", body: "x"})...)
		}, "fileId", "absolute"},
		{"symlink to /etc/passwd in a tar", func(t testing.TB) []byte {
			return tarGzOf(t, withManifest(entry{name: "passwd", typ: tar.TypeSymlink, link: "/etc/passwd"})...)
		}, "fileId", "/etc/passwd"},
		{"symlink to /etc/passwd in a zip", func(t testing.TB) []byte {
			return zipOf(t, withManifest(entry{name: "passwd", typ: tar.TypeSymlink, link: "/etc/passwd"})...)
		}, "fileId", "/etc/passwd"},
		{"symlink up and out", func(t testing.TB) []byte {
			return tarGzOf(t, withManifest(entry{name: "lib/up", typ: tar.TypeSymlink, link: "../../.."})...)
		}, "fileId", "outside"},
		{"symlink chain in a tar", func(t testing.TB) []byte {
			return tarGzOf(t, withManifest(
				entry{name: "sub/", typ: tar.TypeDir},
				entry{name: "sub/up", typ: tar.TypeSymlink, link: ".."},
				entry{name: "esc", typ: tar.TypeSymlink, link: "sub/up/.."})...)
		}, "fileId", "outside"},
		{"symlink chain in a zip", func(t testing.TB) []byte {
			return zipOf(t, withManifest(
				entry{name: "sub/", typ: tar.TypeDir},
				entry{name: "sub/up", typ: tar.TypeSymlink, link: ".."},
				entry{name: "esc", typ: tar.TypeSymlink, link: "sub/up/.."})...)
		}, "fileId", "outside"},
		{"hard link out", func(t testing.TB) []byte {
			return tarGzOf(t, withManifest(entry{name: "shadow", typ: tar.TypeLink, link: "../../etc/shadow"})...)
		}, "fileId", "outside"},
		{"character device", func(t testing.TB) []byte {
			return tarGzOf(t, withManifest(entry{name: "null", typ: tar.TypeChar})...)
		}, "fileId", "device"},
		{"block device", func(t testing.TB) []byte {
			return tarGzOf(t, withManifest(entry{name: "sda", typ: tar.TypeBlock})...)
		}, "fileId", "device"},
		{"fifo", func(t testing.TB) []byte {
			return tarGzOf(t, withManifest(entry{name: "pipe", typ: tar.TypeFifo})...)
		}, "fileId", "FIFO"},
		{"device in a zip", func(t testing.TB) []byte {
			return zipOf(t, withManifest(entry{name: "null", typ: tar.TypeChar})...)
		}, "fileId", "device"},
		{"decompression bomb", nil, "fileId", "decompression bomb"},
		{"no roost.json", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "agent.py", body: "print(1)\n"})
		}, "fileId", "roost.json"},
		{"roost.json only in a subdirectory", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "agent/", typ: tar.TypeDir}, entry{name: "agent/roost.json", body: good})
		}, "fileId", "agent/roost.json"},
		{"roost.json only in a subdirectory of a zip", func(t testing.TB) []byte {
			return zipOf(t, entry{name: "agent/roost.json", body: good})
		}, "fileId", "root"},
		{"an empty zip", func(t testing.TB) []byte { return zipOf(t) }, "fileId", "roost.json"},
		{"not an archive", func(t testing.TB) []byte { return []byte("just some text, not an archive\n") }, "fileId", "neither"},
		{"gzip but not tar", func(t testing.TB) []byte {
			var b bytes.Buffer
			gz := gzip.NewWriter(&b)
			_, _ = gz.Write(bytes.Repeat([]byte("not a tar header "), 100))
			_ = gz.Close()
			return b.Bytes()
		}, "fileId", "corrupt"},
		{"truncated tar.gz", func(t testing.TB) []byte {
			a := tarGzOf(t, agentFiles(good)...)
			return a[:len(a)/2]
		}, "fileId", "corrupt"},
		{"manifest not JSON", func(t testing.TB) []byte { return tarGzOf(t, entry{name: "roost.json", body: "{name: echo"}) }, "", "JSON"},
		{"manifest with an unknown field", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) { m["entrypoints"] = []string{"x"} })})
		}, "", "entrypoints"},
		{"missing entrypoint", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) { delete(m, "entrypoint") })})
		}, "manifest.entrypoint", "entrypoint"},
		{"empty entrypoint", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) { m["entrypoint"] = []string{} })})
		}, "manifest.entrypoint", "entrypoint"},
		{"entrypoint not an array", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) { m["entrypoint"] = "python3 agent.py" })})
		}, "manifest.entrypoint", "array"},
		{"missing version", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) { delete(m, "version") })})
		}, "manifest.version", "version"},
		{"port 0", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) {
				m["services"] = []map[string]any{{"serviceType": "web", "port": 0}}
			})})
		}, "manifest.services[0].port", "port"},
		{"port 70000", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) {
				m["services"] = []map[string]any{{"serviceType": "web", "port": 3000}, {"serviceType": "api", "port": 70000}}
			})})
		}, "manifest.services[1].port", "port"},
		{"port not a number", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) {
				m["services"] = []map[string]any{{"serviceType": "web", "port": "3000"}}
			})})
		}, "manifest.services.port", "port"},
		{"duplicate preset id", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) {
				m["presets"] = []map[string]any{{"id": "chat", "name": "Chat"}, {"id": "chat", "name": "Chat again"}}
			})})
		}, "manifest.presets[1].id", "chat"},
		{"env key starting ROOST_", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) {
				m["env"] = map[string]string{"ROOST_TOKEN": "x"}
			})})
		}, "manifest.env.ROOST_TOKEN", "ROOST_"},
		{"bad env key", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) {
				m["env"] = map[string]string{"1BAD-KEY": "x"}
			})})
		}, "manifest.env.1BAD-KEY", "1BAD-KEY"},
		{"bad health path", func(t testing.TB) []byte {
			return tarGzOf(t, entry{name: "roost.json", body: bad(func(m map[string]any) { m["health"] = "health check" })})
		}, "manifest.health", "health"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "target"})
			if err != nil {
				t.Fatal(err)
			}
			var f *methods.UploadFileOutput
			if tc.archive == nil {
				f = rpctest.StreamUpload(t, admin, "bomb.tar.gz", bomb)
			} else {
				f = rpctest.Upload(t, admin, "hostile.archive", "", tc.archive(t))
			}
			_, err = admin.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: "target", FileID: f.FileID})
			ce := rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, "")
			var d struct {
				Field string `json:"field"`
			}
			_ = json.Unmarshal(ce.Details, &d)
			if tc.field != "" && d.Field != tc.field {
				t.Errorf("details.field = %q, want %q (%s)", d.Field, tc.field, ce.Message)
			}
			if !strings.Contains(ce.Message, tc.says) {
				t.Errorf("the message %q does not say %q", ce.Message, tc.says)
			}
			after, err := admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "target"})
			if err != nil || len(after.Revisions) != len(before.Revisions) {
				t.Errorf("a revision was created: %d revisions, was %d (%v)", len(after.Revisions), len(before.Revisions), err)
			}
			// Not even a bundle is created for a fresh slug.
			_, err = admin.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: "fresh", FileID: f.FileID})
			rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, "")
			_, err = admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "fresh"})
			rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
			// The refused archive is an ordinary file the caller may delete.
			if _, err := admin.DeleteFile(rpctest.Ctx(t), f.FileID); err != nil {
				t.Errorf("delete the refused archive: %v", err)
			}
		})
	}

	t.Run("links that stay inside are fine", func(t *testing.T) {
		_, _, err := publish(t, admin, "target", tarGzOf(t, withManifest(
			entry{name: "sub/", typ: tar.TypeDir},
			entry{name: "sub/up", typ: tar.TypeSymlink, link: ".."},
			entry{name: "sub/file", body: "x"},
			entry{name: "alias", typ: tar.TypeSymlink, link: "sub/up/sub/file"},
			entry{name: "hard", typ: tar.TypeLink, link: "sub/file"})...))
		if err != nil {
			t.Errorf("publish: %v", err)
		}
	})
}

// bombZeros is the size of the decompression bomb's one file.
const bombZeros = 300 << 20

// bomb writes a valid .tar.gz holding roost.json and one file of
// bombZeros zero bytes (about 300 KiB compressed). Compressing 300 MiB
// takes long under the race detector, so the deflate stream of one MiB of
// zeros is made until it repeats, then repeated: once the window is all
// zeros every MiB compresses alike, and a flush after each ends it on a
// byte boundary.
func bomb(w io.Writer) error {
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	manifest := manifestJSON("6.6.6", nil)
	if err := tw.WriteHeader(&tar.Header{Name: "roost.json", Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write([]byte(manifest)); err != nil {
		return err
	}
	// WriteHeader pads the manifest and writes the header block at once;
	// the zeros follow, then two zero blocks that end the archive.
	if err := tw.WriteHeader(&tar.Header{Name: "zeros.bin", Mode: 0o644, Size: bombZeros, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	prefix := head.Bytes()
	const chunk, tail = 1 << 20, 1024
	total := int64(len(prefix)) + bombZeros + tail

	var out bytes.Buffer
	fw, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		return err
	}
	crc := crc32.NewIEEE()
	// write compresses p, flushes, and sends what came out.
	write := func(p []byte, last bool) ([]byte, error) {
		crc.Write(p)
		if _, err := fw.Write(p); err != nil {
			return nil, err
		}
		if last {
			err = fw.Close()
		} else {
			err = fw.Flush()
		}
		if err != nil {
			return nil, err
		}
		b := append([]byte(nil), out.Bytes()...)
		out.Reset()
		_, err = w.Write(b)
		return b, err
	}
	if _, err := w.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}); err != nil {
		return err
	}
	if _, err := write(prefix, false); err != nil {
		return err
	}
	zeros := make([]byte, chunk)
	var prev, unit []byte
	for i := 0; i < bombZeros/chunk; i++ {
		if unit != nil {
			crc.Write(zeros)
			if _, err := w.Write(unit); err != nil {
				return err
			}
			continue
		}
		b, err := write(zeros, false)
		if err != nil {
			return err
		}
		if bytes.Equal(b, prev) {
			unit = b
		}
		prev = b
	}
	if _, err := write(zeros[:tail], true); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc.Sum32())
	binary.LittleEndian.PutUint32(trailer[4:], uint32(total))
	_, err = w.Write(trailer[:])
	return err
}
