package platform_test

// End-to-end tests of files, resources and bundles: a real server on a
// loopback port, the Go client and raw HTTP, against both blob stores (a
// directory and a real MinIO) where the store makes a difference.

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/roosthq/roost/client"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/storage/blob"
)

// ---------------------------------------------------------------------------
// Blob stores: a server on each, and a look at what the store holds.
// ---------------------------------------------------------------------------

// feKinds are the blob stores the store-dependent tests run against.
var feKinds = []string{"fs", "s3"}

// feBucketSeq makes bucket names unique among the servers of one MinIO.
var feBucketSeq atomic.Int64

// feEnv is a server on one blob store, with a view of the store's content
// that does not go through the server.
type feEnv struct {
	*testutil.Server
	kind string
	// objects lists the keys of the stored objects.
	objects func(t testing.TB) []string
	// leftovers lists what unfinished writes hold: temporary files (fs) or
	// incomplete multipart uploads (s3).
	leftovers func(t testing.TB) []string
}

// feMinIO starts MinIO for an s3 run, nil for fs.
func feMinIO(t *testing.T, kind string) *testutil.MinIO {
	t.Helper()
	if kind != "s3" {
		return nil
	}
	return feStartMinIO(t)
}

// feStartMinIO starts MinIO and waits until it serves S3 requests: its
// readiness endpoint may answer before the object layer is up, and then a
// request fails with "Server not initialized yet".
func feStartMinIO(t *testing.T) *testutil.MinIO {
	t.Helper()
	m := testutil.StartMinIO(t)
	mc := feMinIOClient(t, m)
	testutil.Eventually(t, testutil.Medium, "MinIO to serve S3 requests", func() bool {
		_, err := mc.ListBuckets(testutil.Context(t, testutil.Short))
		return err == nil
	})
	return m
}

// feMinIOClient is a minio-go client of m, to look into buckets directly.
func feMinIOClient(t testing.TB, m *testutil.MinIO) *minio.Client {
	t.Helper()
	mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), Secure: false})
	if err != nil {
		t.Fatalf("minio client: %v", err)
	}
	return mc
}

// feS3Options points the s3 store at a bucket of m.
func feS3Options(m *testutil.MinIO, bucket string) blob.S3Options {
	return blob.S3Options{Endpoint: m.Endpoint, Bucket: bucket, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true}
}

// feStart starts a server on the fs store (m nil) or on a fresh bucket of m.
func feStart(t *testing.T, m *testutil.MinIO, cfg platform.Config) *feEnv {
	t.Helper()
	cfg.NoLocalNode = true
	if m == nil {
		srv := testutil.StartServer(t, cfg)
		return &feEnv{Server: srv, kind: "fs",
			objects: func(t testing.TB) []string {
				return feFilesUnder(t, filepath.Join(platform.BlobDir(srv.DataDir), "objects"))
			},
			leftovers: func(t testing.TB) []string {
				return feFilesUnder(t, filepath.Join(platform.BlobDir(srv.DataDir), "tmp"))
			},
		}
	}
	bucket := fmt.Sprintf("roost-%d", feBucketSeq.Add(1))
	cfg.S3 = feS3Options(m, bucket)
	srv := testutil.StartServer(t, cfg)
	mc := feMinIOClient(t, m)
	return &feEnv{Server: srv, kind: "s3",
		objects:   func(t testing.TB) []string { return feBucketObjects(t, mc, bucket) },
		leftovers: func(t testing.TB) []string { return feBucketUploads(t, mc, bucket) },
	}
}

// feFilesUnder lists the regular files under dir, relative and sorted.
func feFilesUnder(t testing.TB, dir string) []string {
	t.Helper()
	out := []string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	sort.Strings(out)
	return out
}

// feBucketObjects lists every object key in a bucket.
func feBucketObjects(t testing.TB, mc *minio.Client, bucket string) []string {
	t.Helper()
	out := []string{}
	for oi := range mc.ListObjects(testutil.Context(t, testutil.Short), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			t.Fatalf("list bucket %s: %v", bucket, oi.Err)
		}
		out = append(out, oi.Key)
	}
	sort.Strings(out)
	return out
}

// feBucketUploads lists the keys of the incomplete multipart uploads in a
// bucket.
func feBucketUploads(t testing.TB, mc *minio.Client, bucket string) []string {
	t.Helper()
	out := []string{}
	for u := range mc.ListIncompleteUploads(testutil.Context(t, testutil.Short), bucket, "", true) {
		if u.Err != nil {
			t.Fatalf("list incomplete uploads of %s: %v", bucket, u.Err)
		}
		out = append(out, u.Key)
	}
	sort.Strings(out)
	return out
}

// feState is what an upload may change: the org's files and the store.
type feState struct {
	total     int
	objects   []string
	leftovers []string
}

func (e *feEnv) state(t testing.TB, c *client.Client) feState {
	t.Helper()
	list, err := c.ListFiles(feCtx(t), methods.ListFilesInput{})
	if err != nil {
		t.Fatalf("files.list: %v", err)
	}
	return feState{total: list.Total, objects: e.objects(t), leftovers: e.leftovers(t)}
}

func (s feState) String() string {
	return fmt.Sprintf("%d files, objects %v, unfinished writes %v", s.total, s.objects, s.leftovers)
}

// waitState waits until the org's files and the store are back to want
// with nothing unfinished: a rejected or aborted upload leaves nothing.
func (e *feEnv) waitState(t testing.TB, c *client.Client, want feState) {
	t.Helper()
	var got feState
	testutil.Eventually(t, testutil.Medium, "the store to hold "+want.String(), func() bool {
		got = e.state(t, c)
		return got.total == want.total && strings.Join(got.objects, ",") == strings.Join(want.objects, ",") && len(got.leftovers) == 0
	})
}

// ---------------------------------------------------------------------------
// Small helpers.
// ---------------------------------------------------------------------------

func feCtx(t testing.TB) context.Context { return testutil.Context(t, testutil.Medium) }

// feHTTP is a raw reply.
type feHTTP struct {
	status int
	header http.Header
	body   []byte
}

func (r feHTTP) String() string { return fmt.Sprintf("HTTP %d %s", r.status, bytes.TrimSpace(r.body)) }

var feHTTPClient = &http.Client{Timeout: testutil.Long}

// feDo sends a request and reads the whole reply.
func feDo(t testing.TB, req *http.Request) feHTTP {
	t.Helper()
	resp, err := feHTTPClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read reply of %s %s: %v", req.Method, req.URL.Path, err)
	}
	return feHTTP{status: resp.StatusCode, header: resp.Header, body: b}
}

// fePart is one part of a hand-made multipart body. disposition is the
// whole Content-Disposition value when set; else form-data with name and
// filename.
type fePart struct {
	name, filename, disposition, contentType string
	data                                     []byte
}

// feMultipart builds a multipart/form-data body by hand, so that its
// headers are exactly what the test says.
func feMultipart(parts ...fePart) (string, []byte) {
	const boundary = "fe-boundary-7f3a"
	var b bytes.Buffer
	for _, p := range parts {
		cd := p.disposition
		if cd == "" {
			cd = fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename)
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: %s\r\n", boundary, cd)
		if p.contentType != "" {
			fmt.Fprintf(&b, "Content-Type: %s\r\n", p.contentType)
		}
		b.WriteString("\r\n")
		b.Write(p.data)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return "multipart/form-data; boundary=" + boundary, b.Bytes()
}

// fePostUpload posts a raw body to the upload endpoint.
func fePostUpload(t testing.TB, srv *testutil.Server, key, contentType string, body []byte) feHTTP {
	t.Helper()
	req, err := http.NewRequestWithContext(feCtx(t), http.MethodPost, srv.URL+"/api/v1/files/upload", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return feDo(t, req)
}

// feGet downloads a file with optional extra headers (k, v pairs).
func feGet(t testing.TB, srv *testutil.Server, method, key, id string, kv ...string) feHTTP {
	t.Helper()
	req, err := http.NewRequestWithContext(feCtx(t), method, srv.URL+"/api/v1/files/"+url.PathEscape(id), nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	return feDo(t, req)
}

// feKeys returns the sorted keys of a JSON object.
func feKeys(t testing.TB, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// feWantKeys checks that a JSON object has exactly these keys.
func feWantKeys(t testing.TB, what string, raw []byte, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := feKeys(t, raw); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s has keys %v, want exactly %v: %s", what, got, want, raw)
	}
}

// feField returns the raw JSON of a key of an object.
func feField(t testing.TB, raw []byte, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	v, ok := m[key]
	if !ok {
		t.Fatalf("no key %q in %s", key, raw)
	}
	return v
}

// feSentence checks that a message is a sentence a person can act on.
func feSentence(t testing.TB, msg string) {
	t.Helper()
	if !strings.HasSuffix(msg, ".") || !strings.Contains(msg, " ") || strings.Contains(msg, "%!") || strings.Contains(msg, "\n") {
		t.Errorf("message %q is not a sentence", msg)
	}
}

// feWantUploadError checks a failure of the upload endpoint: the status and
// exactly {"error": "<sentence>"}.
func feWantUploadError(t testing.TB, r feHTTP, status int) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("want HTTP %d, got %s", status, r)
	}
	feWantKeys(t, "upload failure", r.body, "error")
	var e methods.UploadError
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("upload failure: %v: %s", err, r.body)
	}
	feSentence(t, e.Error)
	return e.Error
}

// feWantRPCError checks a failure reply of a raw request: the status and
// {"ok": false, "error": {type, message, details?}}.
func feWantRPCError(t testing.TB, r feHTTP, status int, typ methods.ErrorType) {
	t.Helper()
	if r.status != status {
		t.Fatalf("want HTTP %d %s, got %s", status, typ, r)
	}
	feWantKeys(t, "failure reply", r.body, "ok", "error")
	var e struct {
		OK    bool          `json:"ok"`
		Error methods.Error `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.OK || e.Error.Type != typ {
		t.Fatalf("want a %s failure, got %s", typ, r)
	}
	feSentence(t, e.Error.Message)
}

// feWantErr checks an error the Go client returned: its status and type,
// a sentence, and the details' field when field is not empty.
func feWantErr(t testing.TB, err error, status int, typ methods.ErrorType, field string) *client.Error {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a %s (%d) failure, got %v", typ, status, err)
	}
	if ce.Status != status || ce.Type != typ {
		t.Fatalf("want %s (%d), got %v", typ, status, ce)
	}
	feSentence(t, ce.Message)
	if field != "" {
		var d struct {
			Field string `json:"field"`
		}
		if err := json.Unmarshal(ce.Details, &d); err != nil || d.Field != field {
			t.Errorf("details.field = %q, want %q (details %s)", d.Field, field, ce.Details)
		}
	}
	return ce
}

// feRandom returns n random bytes.
func feRandom(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func feSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// feUpload uploads bytes with the Go client.
func feUpload(t testing.TB, c *client.Client, name, mimeType string, data []byte) *methods.UploadFileOutput {
	t.Helper()
	out, err := c.UploadFile(feCtx(t), name, mimeType, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return out
}

// feDownload downloads a whole file with the Go client.
func feDownload(t testing.TB, c *client.Client, id string) []byte {
	t.Helper()
	resp, err := c.DownloadFile(feCtx(t), id, "")
	if err != nil {
		t.Fatalf("download %s: %v", id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("download %s: %v", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download %s: HTTP %d %s", id, resp.StatusCode, b)
	}
	return b
}

// ---------------------------------------------------------------------------
// Upload
// ---------------------------------------------------------------------------

func TestFileUploads(t *testing.T) {
	t.Parallel()
	for _, kind := range feKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			m := feMinIO(t, kind)
			env := feStart(t, m, platform.Config{})
			admin := env.Admin()

			t.Run("reply is exactly the contract's", func(t *testing.T) {
				data := []byte("hello, roost\n")
				ct, body := feMultipart(fePart{name: "file", filename: "hello.txt", contentType: "text/plain", data: data})
				r := fePostUpload(t, env.Server, env.AdminKey, ct, body)
				if r.status != http.StatusOK {
					t.Fatalf("upload: %s", r)
				}
				feWantKeys(t, "upload reply", r.body, "ok", "fileId", "filename", "mimeType", "size", "r2Key")
				if string(feField(t, r.body, "ok")) != "true" {
					t.Errorf("ok is not true: %s", r.body)
				}
				var out methods.UploadFileOutput
				if err := json.Unmarshal(r.body, &out); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(out.FileID, "file_") || out.Filename != "hello.txt" || out.MimeType != "text/plain" ||
					out.Size != int64(len(data)) || out.R2Key == "" {
					t.Errorf("upload reply %+v", out)
				}
				if got := env.objects(t); !feContains(got, out.R2Key) {
					t.Errorf("the store holds %v, not the r2Key %s", got, out.R2Key)
				}
				info, err := admin.GetFile(feCtx(t), out.FileID)
				if err != nil {
					t.Fatalf("files.get: %v", err)
				}
				if info.ID != out.FileID || info.Filename != out.Filename || info.MimeType != out.MimeType || info.Size != out.Size ||
					info.R2Key != out.R2Key || info.SHA256 != feSHA(data) {
					t.Errorf("files.get %+v does not match the upload %+v (sha256 %s)", info, out, feSHA(data))
				}
			})

			t.Run("bytes round trip", func(t *testing.T) {
				// Over the s3 store's 16 MiB part size, so that the object
				// is a multipart upload of two parts.
				for _, n := range []int{1, 4096, 20<<20 + 12345} {
					t.Run(fmt.Sprint(n), func(t *testing.T) {
						data := feRandom(t, n)
						out := feUpload(t, admin, "random.bin", "application/octet-stream", data)
						if out.Size != int64(n) {
							t.Errorf("size %d, want %d", out.Size, n)
						}
						info, err := admin.GetFile(feCtx(t), out.FileID)
						if err != nil {
							t.Fatal(err)
						}
						got := feDownload(t, admin, out.FileID)
						if info.SHA256 != feSHA(data) || feSHA(got) != feSHA(data) {
							t.Errorf("sha256: uploaded %s, files.get %s, downloaded %s (%d bytes)", feSHA(data), info.SHA256, feSHA(got), len(got))
						}
					})
				}
			})

			t.Run("mime type", func(t *testing.T) {
				png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), feRandom(t, 100)...)
				cases := []struct {
					name, declared string
					data           []byte
					want           string
				}{
					{"declared", "application/json", []byte(`{"a":1}`), "application/json"},
					{"declared with parameters", "text/plain; charset=utf-8", []byte("hi"), "text/plain; charset=utf-8"},
					{"declared in capitals", "IMAGE/PNG", png, "image/png"},
					{"png sniffed", "", png, "image/png"},
					{"text sniffed", "", []byte("just words\n"), "text/plain; charset=utf-8"},
					{"binary sniffed", "", []byte{0, 1, 2, 3, 0xfe, 0xff}, "application/octet-stream"},
					{"malformed type sniffed", "not a type", png, "image/png"},
					{"empty file", "", nil, "text/plain; charset=utf-8"},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						ct, body := feMultipart(fePart{name: "file", filename: "x", contentType: tc.declared, data: tc.data})
						r := fePostUpload(t, env.Server, env.AdminKey, ct, body)
						if r.status != http.StatusOK {
							t.Fatalf("upload: %s", r)
						}
						var out methods.UploadFileOutput
						_ = json.Unmarshal(r.body, &out)
						if out.MimeType != tc.want || out.Size != int64(len(tc.data)) {
							t.Errorf("mimeType %q size %d, want %q size %d", out.MimeType, out.Size, tc.want, len(tc.data))
						}
						d := feGet(t, env.Server, http.MethodGet, env.AdminKey, out.FileID)
						if d.status != http.StatusOK || d.header.Get("Content-Type") != tc.want || !bytes.Equal(d.body, tc.data) {
							t.Errorf("download: HTTP %d Content-Type %q, %d bytes", d.status, d.header.Get("Content-Type"), len(d.body))
						}
					})
				}
			})

			t.Run("filename", func(t *testing.T) {
				long := strings.Repeat("a", 300) + ".txt"
				cases := []struct {
					name, disposition, want string
				}{
					{"plain", `form-data; name="file"; filename="notes.txt"`, "notes.txt"},
					{"path traversal", `form-data; name="file"; filename="../../etc/passwd"`, "passwd"},
					{"absolute path", `form-data; name="file"; filename="/etc/shadow"`, "shadow"},
					{"windows path", `form-data; name="file"; filename="C:\\Users\\me\\notes.txt"`, "notes.txt"},
					{"control characters", `form-data; name="file"; filename*=utf-8''a%01b%1Bc%7F%00.txt`, "abc.txt"},
					{"tab", "form-data; name=\"file\"; filename=\"tab\there.txt\"", "tabhere.txt"},
					{"quotes", `form-data; name="file"; filename*=utf-8''say%22hi%22.txt`, "sayhi.txt"},
					{"surrounding spaces", `form-data; name="file"; filename="  spaced.txt  "`, "spaced.txt"},
					{"unicode", `form-data; name="file"; filename*=utf-8''r%C3%A9sum%C3%A9%20%E2%9C%93.pdf`, "résumé ✓.pdf"},
					{"empty", `form-data; name="file"; filename=""`, "file"},
					{"dot dot", `form-data; name="file"; filename=".."`, "file"},
					{"trailing slash", `form-data; name="file"; filename="dir/"`, "dir"},
					{"no filename", `form-data; name="file"`, "file"},
					{"only control characters", `form-data; name="file"; filename*=utf-8''%01%02`, "file"},
					{"too long", `form-data; name="file"; filename="` + long + `"`, long[:255]},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						ct, body := feMultipart(fePart{disposition: tc.disposition, data: []byte("x")})
						r := fePostUpload(t, env.Server, env.AdminKey, ct, body)
						if r.status != http.StatusOK {
							t.Fatalf("upload: %s", r)
						}
						var out methods.UploadFileOutput
						_ = json.Unmarshal(r.body, &out)
						if out.Filename != tc.want {
							t.Errorf("filename %q, want %q", out.Filename, tc.want)
						}
						info, err := admin.GetFile(feCtx(t), out.FileID)
						if err != nil || info.Filename != tc.want {
							t.Errorf("files.get: %+v, %v", info, err)
						}
					})
				}
				// The Go client must carry any name to the server, which
				// then sanitizes it; a raw control character in a part
				// header would make the whole body malformed.
				clientCases := []struct{ name, want string }{
					{"../up/evil\x01name\r\nX-Injected: 1.txt", "evilnameX-Injected: 1.txt"},
					{`say "hi".txt`, "say hi.txt"},
					{`C:\Users\me\win.txt`, "win.txt"},
					{"naïve.txt", "naïve.txt"},
					{"", "file"},
				}
				for _, tc := range clientCases {
					t.Run(fmt.Sprintf("client %q", tc.name), func(t *testing.T) {
						out, err := admin.UploadFile(feCtx(t), tc.name, "", strings.NewReader("x"))
						if err != nil {
							t.Fatalf("upload: %v", err)
						}
						if out.Filename != tc.want {
							t.Errorf("filename %q, want %q", out.Filename, tc.want)
						}
					})
				}
			})

			t.Run("rejected uploads leave nothing", func(t *testing.T) {
				_, otherKey := env.OrgKey(t, "reject-other", "k", false)
				big := feRandom(t, 256<<10)
				cases := []struct {
					name        string
					key         string
					contentType string
					body        []byte
					status      int
				}{
					{name: "no part named file", key: env.AdminKey, status: http.StatusBadRequest,
						body: feMultipartBody(fePart{name: "other", filename: "x.txt", data: []byte("x")})},
					{name: "a form field only", key: env.AdminKey, status: http.StatusBadRequest,
						body: feMultipartBody(fePart{disposition: `form-data; name="note"`, data: []byte("x")})},
					{name: "no parts", key: env.AdminKey, status: http.StatusBadRequest, body: feMultipartBody()},
					{name: "two files", key: env.AdminKey, status: http.StatusBadRequest,
						body: feMultipartBody(fePart{name: "file", filename: "a.bin", data: big}, fePart{name: "file", filename: "b.bin", data: big})},
					{name: "a file then two", key: env.AdminKey, status: http.StatusBadRequest,
						body: feMultipartBody(fePart{name: "file", filename: "a.bin", data: big}, fePart{name: "other", data: []byte("x")},
							fePart{name: "file", filename: "b.bin", data: big})},
					{name: "not multipart", key: env.AdminKey, contentType: "application/json", status: http.StatusBadRequest,
						body: []byte(`{"file": "x"}`)},
					{name: "no content type", key: env.AdminKey, contentType: "-", status: http.StatusBadRequest, body: []byte("x")},
					{name: "multipart without boundary", key: env.AdminKey, contentType: "multipart/form-data", status: http.StatusBadRequest,
						body: feMultipartBody(fePart{name: "file", filename: "x", data: []byte("x")})},
					{name: "raw control character in a part header", key: env.AdminKey, status: http.StatusBadRequest,
						body: feMultipartBody(fePart{disposition: "form-data; name=\"file\"; filename=\"a\x01b\"", data: []byte("x")})},
					{name: "body cut short", key: env.AdminKey, status: http.StatusBadRequest,
						body: feCutClosing(feMultipartBody(fePart{name: "file", filename: "a.bin", data: big}))},
					{name: "no key", status: http.StatusUnauthorized,
						body: feMultipartBody(fePart{name: "file", filename: "x", data: []byte("x")})},
					{name: "unknown key", key: "rk_" + strings.Repeat("0", 40), status: http.StatusUnauthorized,
						body: feMultipartBody(fePart{name: "file", filename: "x", data: []byte("x")})},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						before, otherBefore := env.state(t, admin), env.state(t, env.Client(otherKey))
						ct := tc.contentType
						switch ct {
						case "":
							ct = "multipart/form-data; boundary=fe-boundary-7f3a"
						case "-":
							ct = ""
						}
						r := fePostUpload(t, env.Server, tc.key, ct, tc.body)
						feWantUploadError(t, r, tc.status)
						env.waitState(t, admin, before)
						if after := env.state(t, env.Client(otherKey)); after.total != otherBefore.total {
							t.Errorf("another org's files changed: %v, was %v", after, otherBefore)
						}
					})
				}
			})

			t.Run("aborted upload leaves nothing", func(t *testing.T) {
				before := env.state(t, admin)
				u, _ := url.Parse(env.URL)
				conn, err := net.Dial("tcp", u.Host)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				const boundary = "fe-abort"
				head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.bin\"\r\n" +
					"Content-Type: application/octet-stream\r\n\r\n"
				fmt.Fprintf(conn, "POST /api/v1/files/upload HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
					"Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n%s",
					u.Host, env.AdminKey, boundary, 64<<20, head)
				// 20 MiB: past one s3 part, so that MinIO holds a part of
				// an unfinished upload when the client goes away.
				chunk := feRandom(t, 1<<20)
				for i := 0; i < 20; i++ {
					if _, err := conn.Write(chunk); err != nil {
						t.Fatalf("write body: %v", err)
					}
				}
				testutil.Eventually(t, testutil.Medium, "the upload to be under way in the store", func() bool {
					return len(env.leftovers(t)) > 0
				})
				conn.Close()
				env.waitState(t, admin, before)
			})

			t.Run("size limit", func(t *testing.T) {
				const limit = 1 << 20
				lenv := feStart(t, m, platform.Config{MaxUpload: limit})
				lc := lenv.Admin()
				out := feUpload(t, lc, "exact.bin", "", feRandom(t, limit))
				if out.Size != limit {
					t.Errorf("an upload of exactly the limit stored %d bytes", out.Size)
				}
				before := lenv.state(t, lc)
				for _, n := range []int{limit + 1, 3 * limit} {
					t.Run(fmt.Sprintf("streamed %d bytes", n), func(t *testing.T) {
						_, err := lc.UploadFile(feCtx(t), "big.bin", "", bytes.NewReader(feRandom(t, n)))
						ce := feWantErr(t, err, http.StatusRequestEntityTooLarge, methods.PayloadTooLarge, "")
						if !strings.Contains(ce.Message, "1 MiB") {
							t.Errorf("the message %q does not name the limit", ce.Message)
						}
						lenv.waitState(t, lc, before)
					})
				}
				t.Run("declared by Content-Length", func(t *testing.T) {
					// Only the headers are sent: the server answers
					// without waiting for a body it would refuse.
					u, _ := url.Parse(lenv.URL)
					conn, err := net.Dial("tcp", u.Host)
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close()
					fmt.Fprintf(conn, "POST /api/v1/files/upload HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
						"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n", u.Host, lenv.AdminKey, 10<<20)
					resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
					if err != nil {
						t.Fatalf("read reply: %v", err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					msg := feWantUploadError(t, feHTTP{status: resp.StatusCode, header: resp.Header, body: body}, http.StatusRequestEntityTooLarge)
					if !strings.Contains(msg, "1 MiB") {
						t.Errorf("the message %q does not name the limit", msg)
					}
					lenv.waitState(t, lc, before)
				})
			})
		})
	}
}

func feContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// feMultipartBody is the body of feMultipart.
func feMultipartBody(parts ...fePart) []byte {
	_, b := feMultipart(parts...)
	return b
}

// feCutClosing drops a multipart body's closing boundary: the body ends
// cleanly as HTTP, but the file part never ends.
func feCutClosing(body []byte) []byte {
	i := bytes.LastIndex(body, []byte("\r\n--"))
	return body[:i]
}

// ---------------------------------------------------------------------------
// Download, files.get/list/delete
// ---------------------------------------------------------------------------

func TestFileDownloads(t *testing.T) {
	t.Parallel()
	for _, kind := range feKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := feStart(t, feMinIO(t, kind), platform.Config{})
			admin := env.Admin()
			_, otherKey := env.OrgKey(t, "download-other", "k", false)
			data := feRandom(t, 100_000)
			n := len(data)
			f := feUpload(t, admin, "report.txt", "text/plain; charset=utf-8", data)

			t.Run("whole file", func(t *testing.T) {
				r := feGet(t, env.Server, http.MethodGet, env.AdminKey, f.FileID)
				if r.status != http.StatusOK || !bytes.Equal(r.body, data) {
					t.Fatalf("HTTP %d, %d bytes (want %d)", r.status, len(r.body), n)
				}
				if got := r.header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q", got)
				}
				if got := r.header.Get("Content-Length"); got != fmt.Sprint(n) {
					t.Errorf("Content-Length %q, want %d", got, n)
				}
				disp, params, err := mime.ParseMediaType(r.header.Get("Content-Disposition"))
				if err != nil || disp != "attachment" || params["filename"] != "report.txt" {
					t.Errorf("Content-Disposition %q", r.header.Get("Content-Disposition"))
				}
				if got := r.header.Get("Accept-Ranges"); got != "bytes" {
					t.Errorf("Accept-Ranges %q", got)
				}
			})

			t.Run("head", func(t *testing.T) {
				r := feGet(t, env.Server, http.MethodHead, env.AdminKey, f.FileID)
				if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(n) {
					t.Errorf("HEAD: HTTP %d, %d bytes of body, Content-Length %q", r.status, len(r.body), r.header.Get("Content-Length"))
				}
			})

			t.Run("ranges", func(t *testing.T) {
				cases := []struct {
					rng          string
					status       int
					from, to     int // the bytes [from, to) for 206
					contentRange string
				}{
					{"bytes=0-9", http.StatusPartialContent, 0, 10, fmt.Sprintf("bytes 0-9/%d", n)},
					{"bytes=-5", http.StatusPartialContent, n - 5, n, fmt.Sprintf("bytes %d-%d/%d", n-5, n-1, n)},
					{"bytes=99990-", http.StatusPartialContent, 99990, n, fmt.Sprintf("bytes 99990-%d/%d", n-1, n)},
					{fmt.Sprintf("bytes=%d-%d", n-3, n+1000), http.StatusPartialContent, n - 3, n, fmt.Sprintf("bytes %d-%d/%d", n-3, n-1, n)},
					{fmt.Sprintf("bytes=-%d", n+10), http.StatusPartialContent, 0, n, fmt.Sprintf("bytes 0-%d/%d", n-1, n)},
					{fmt.Sprintf("bytes=%d-", n), http.StatusRequestedRangeNotSatisfiable, 0, 0, fmt.Sprintf("bytes */%d", n)},
					{fmt.Sprintf("bytes=%d-%d", n+100, n+200), http.StatusRequestedRangeNotSatisfiable, 0, 0, fmt.Sprintf("bytes */%d", n)},
					{"bytes=0-1,5-6", http.StatusOK, 0, n, ""},
					{"items=0-9", http.StatusOK, 0, n, ""},
				}
				for _, tc := range cases {
					t.Run(tc.rng, func(t *testing.T) {
						resp, err := admin.DownloadFile(feCtx(t), f.FileID, tc.rng)
						if err != nil {
							t.Fatal(err)
						}
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						r := feHTTP{status: resp.StatusCode, header: resp.Header, body: body}
						if tc.status == http.StatusRequestedRangeNotSatisfiable {
							feWantRPCError(t, r, tc.status, methods.InvalidInput)
						} else if r.status != tc.status || !bytes.Equal(body, data[tc.from:tc.to]) {
							t.Fatalf("HTTP %d with %d bytes, want %d with bytes [%d, %d)", r.status, len(body), tc.status, tc.from, tc.to)
						}
						if got := r.header.Get("Content-Range"); got != tc.contentRange {
							t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
						}
					})
				}
			})

			t.Run("unicode filename", func(t *testing.T) {
				name := "résumé 2026 ✓.pdf"
				u := feUpload(t, admin, name, "application/pdf", []byte("%PDF-1.4"))
				r := feGet(t, env.Server, http.MethodGet, env.AdminKey, u.FileID)
				_, params, err := mime.ParseMediaType(r.header.Get("Content-Disposition"))
				if err != nil || params["filename"] != name {
					t.Errorf("Content-Disposition %q gives %q, want %q", r.header.Get("Content-Disposition"), params["filename"], name)
				}
			})

			t.Run("refused", func(t *testing.T) {
				cases := []struct {
					name, key, id string
					status        int
					typ           methods.ErrorType
				}{
					{"another org's file", otherKey, f.FileID, http.StatusNotFound, methods.NotFound},
					{"unknown id", env.AdminKey, "file_00000000000000000000000000", http.StatusNotFound, methods.NotFound},
					{"no key", "", f.FileID, http.StatusUnauthorized, methods.Unauthorized},
					{"unknown key", "rk_" + strings.Repeat("1", 40), f.FileID, http.StatusUnauthorized, methods.Unauthorized},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						feWantRPCError(t, feGet(t, env.Server, http.MethodGet, tc.key, tc.id), tc.status, tc.typ)
					})
				}
				other := env.Client(otherKey)
				_, err := other.GetFile(feCtx(t), f.FileID)
				feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = other.DeleteFile(feCtx(t), f.FileID)
				feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
				list, err := other.ListFiles(feCtx(t), methods.ListFilesInput{})
				if err != nil || list.Total != 0 || len(list.Files) != 0 {
					t.Errorf("another org's files.list: %+v, %v", list, err)
				}
				// The other org's attempts changed nothing.
				if got := feDownload(t, admin, f.FileID); !bytes.Equal(got, data) {
					t.Error("the file changed")
				}
			})

			t.Run("delete removes the object", func(t *testing.T) {
				d := feUpload(t, admin, "doomed.txt", "", []byte("bye"))
				if !feContains(env.objects(t), d.R2Key) {
					t.Fatalf("no object %s after upload", d.R2Key)
				}
				if _, err := admin.DeleteFile(feCtx(t), d.FileID); err != nil {
					t.Fatalf("files.delete: %v", err)
				}
				if feContains(env.objects(t), d.R2Key) {
					t.Errorf("object %s still stored after files.delete", d.R2Key)
				}
				feWantRPCError(t, feGet(t, env.Server, http.MethodGet, env.AdminKey, d.FileID), http.StatusNotFound, methods.NotFound)
				_, err := admin.GetFile(feCtx(t), d.FileID)
				feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = admin.DeleteFile(feCtx(t), d.FileID)
				feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
			})
		})
	}
}

func TestFilesListGetDelete(t *testing.T) {
	t.Parallel()
	env := feStart(t, nil, platform.Config{})
	admin := env.Admin()
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, feUpload(t, admin, fmt.Sprintf("f%d.txt", i), "", []byte(fmt.Sprint(i))).FileID)
	}
	newestFirst := make([]string, len(ids))
	for i, id := range ids {
		newestFirst[len(ids)-1-i] = id
	}

	t.Run("get shape", func(t *testing.T) {
		raw, err := admin.CallRaw(feCtx(t), []byte(fmt.Sprintf(`{"method":"files.get","input":{"fileId":%q}}`, ids[0])))
		if err != nil {
			t.Fatal(err)
		}
		feWantKeys(t, "files.get", raw, "id", "filename", "mimeType", "size", "sha256", "r2Key", "createdAt")
	})

	t.Run("pages newest first", func(t *testing.T) {
		var got []string
		for _, off := range []int{0, 3, 6} {
			limit, offset := 3, off
			page, err := admin.ListFiles(feCtx(t), methods.ListFilesInput{Limit: &limit, Offset: &offset})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != len(ids) {
				t.Errorf("total %d, want %d", page.Total, len(ids))
			}
			for _, f := range page.Files {
				got = append(got, f.ID)
			}
		}
		if strings.Join(got, ",") != strings.Join(newestFirst, ",") {
			t.Errorf("pages give\n%v\nwant newest first\n%v", got, newestFirst)
		}
		limit, offset := 3, 100
		page, err := admin.ListFiles(feCtx(t), methods.ListFilesInput{Limit: &limit, Offset: &offset})
		if err != nil || len(page.Files) != 0 || page.Total != len(ids) {
			t.Errorf("a page past the end: %+v, %v", page, err)
		}
	})

	t.Run("bad paging", func(t *testing.T) {
		zero, neg, huge := 0, -1, 1_000_000
		for _, tc := range []struct {
			name  string
			in    methods.ListFilesInput
			field string
		}{
			{"limit 0", methods.ListFilesInput{Limit: &zero}, "limit"},
			{"huge limit", methods.ListFilesInput{Limit: &huge}, "limit"},
			{"negative offset", methods.ListFilesInput{Offset: &neg}, "offset"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := admin.ListFiles(feCtx(t), tc.in)
				feWantErr(t, err, http.StatusBadRequest, methods.InvalidInput, tc.field)
			})
		}
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := admin.DeleteFile(feCtx(t), ids[3]); err != nil {
			t.Fatal(err)
		}
		list, err := admin.ListFiles(feCtx(t), methods.ListFilesInput{})
		if err != nil || list.Total != len(ids)-1 {
			t.Fatalf("after delete: %+v, %v", list, err)
		}
		for _, f := range list.Files {
			if f.ID == ids[3] {
				t.Error("the deleted file is still listed")
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

func TestResources(t *testing.T) {
	t.Parallel()
	env := feStart(t, nil, platform.Config{})
	admin := env.Admin()
	_, otherKey := env.OrgKey(t, "resources-other", "k", false)
	other := env.Client(otherKey)
	upload := func(name string) *methods.UploadFileOutput {
		return feUpload(t, admin, name, "text/markdown", []byte("# "+name+"\n"))
	}
	f1, f2, f3 := upload("one.md"), upload("two.md"), upload("three.md")

	var res *methods.CreateResourceOutput
	t.Run("create", func(t *testing.T) {
		raw, err := admin.CallRaw(feCtx(t), []byte(fmt.Sprintf(
			`{"method":"resources.create","input":{"slug":"prompts","name":"Prompts","description":"The prompt pack.","fileId":%q,"label":"v1"}}`, f1.FileID)))
		if err != nil {
			t.Fatalf("resources.create: %v", err)
		}
		feWantKeys(t, "resources.create", raw, "resourceId", "revisionId")
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
	})
	if res == nil {
		t.FailNow()
	}

	t.Run("get by id and by slug", func(t *testing.T) {
		for _, in := range []string{fmt.Sprintf(`{"resourceId":%q}`, res.ResourceID), `{"resourceSlug":"prompts"}`} {
			raw, err := admin.CallRaw(feCtx(t), []byte(`{"method":"resources.get","input":`+in+`}`))
			if err != nil {
				t.Fatalf("resources.get %s: %v", in, err)
			}
			feWantKeys(t, "resources.get", raw, "id", "slug", "name", "description", "latestRevision", "createdAt")
			latest := feField(t, raw, "latestRevision")
			feWantKeys(t, "latestRevision", latest, "id", "label", "file", "createdAt")
			feWantKeys(t, "latestRevision.file", feField(t, latest, "file"), "id", "filename", "mimeType", "size")
			var got methods.GetResourceOutput
			_ = json.Unmarshal(raw, &got)
			if got.ID != res.ResourceID || got.Slug != "prompts" || feDeref(got.Name) != "Prompts" || feDeref(got.Description) != "The prompt pack." ||
				got.LatestRevision == nil || got.LatestRevision.ID != res.RevisionID || feDeref(got.LatestRevision.Label) != "v1" ||
				got.LatestRevision.File != (methods.ResourceFile{ID: f1.FileID, Filename: "one.md", MimeType: "text/markdown", Size: f1.Size}) {
				t.Errorf("resources.get %s: %s", in, raw)
			}
		}
	})

	t.Run("optional fields are null", func(t *testing.T) {
		out, err := admin.CreateResource(feCtx(t), methods.CreateResourceInput{Slug: "bare", FileID: f3.FileID})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := admin.CallRaw(feCtx(t), []byte(fmt.Sprintf(`{"method":"resources.get","input":{"resourceId":%q}}`, out.ResourceID)))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"name", "description"} {
			if v := feField(t, raw, k); string(v) != "null" {
				t.Errorf("%s = %s, want null", k, v)
			}
		}
		if v := feField(t, feField(t, raw, "latestRevision"), "label"); string(v) != "null" {
			t.Errorf("label = %s, want null", v)
		}
	})

	t.Run("create refused", func(t *testing.T) {
		cases := []struct {
			name   string
			in     methods.CreateResourceInput
			status int
			typ    methods.ErrorType
			field  string
		}{
			{"duplicate slug", methods.CreateResourceInput{Slug: "prompts", FileID: f2.FileID}, http.StatusConflict, methods.Conflict, ""},
			{"uppercase slug", methods.CreateResourceInput{Slug: "Prompts2", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"slug too long", methods.CreateResourceInput{Slug: strings.Repeat("a", 64), FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"leading dash", methods.CreateResourceInput{Slug: "-prompts", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"empty slug", methods.CreateResourceInput{Slug: "", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"slug with a space", methods.CreateResourceInput{Slug: "my prompts", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"slug with a slash", methods.CreateResourceInput{Slug: "a/b", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"name too long", methods.CreateResourceInput{Slug: "long-name", Name: strings.Repeat("n", 201), FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "name"},
			{"unknown file", methods.CreateResourceInput{Slug: "nofile", FileID: "file_00000000000000000000000000"}, http.StatusNotFound, methods.NotFound, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := admin.CreateResource(feCtx(t), tc.in)
				feWantErr(t, err, tc.status, tc.typ, tc.field)
			})
		}
		// The longest allowed slug works.
		if _, err := admin.CreateResource(feCtx(t), methods.CreateResourceInput{Slug: strings.Repeat("a", 63), FileID: f3.FileID}); err != nil {
			t.Errorf("a 63-character slug: %v", err)
		}
	})

	t.Run("add revisions", func(t *testing.T) {
		byID, err := admin.AddResourceRevision(feCtx(t), methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: f2.FileID, Label: "v2"})
		if err != nil {
			t.Fatal(err)
		}
		feWantLatest(t, admin, "prompts", byID.RevisionID, "v2", f2)
		bySlug, err := admin.AddResourceRevision(feCtx(t), methods.AddResourceRevisionInput{ResourceSlug: "prompts", FileID: f3.FileID})
		if err != nil {
			t.Fatal(err)
		}
		feWantLatest(t, admin, "prompts", bySlug.RevisionID, "", f3)
		// Each new revision is the latest at once, however quickly they
		// follow each other.
		for i := 0; i < 25; i++ {
			f := []*methods.UploadFileOutput{f1, f2}[i%2]
			label := fmt.Sprintf("quick-%d", i)
			rev, err := admin.AddResourceRevision(feCtx(t), methods.AddResourceRevisionInput{ResourceSlug: "prompts", FileID: f.FileID, Label: label})
			if err != nil {
				t.Fatal(err)
			}
			if !feWantLatest(t, admin, "prompts", rev.RevisionID, label, f) {
				break
			}
		}
	})

	t.Run("add revision refused", func(t *testing.T) {
		cases := []struct {
			name   string
			in     methods.AddResourceRevisionInput
			status int
			typ    methods.ErrorType
			field  string
		}{
			{"neither id nor slug", methods.AddResourceRevisionInput{FileID: f1.FileID}, http.StatusBadRequest, methods.InvalidInput, "resourceId"},
			{"unknown slug", methods.AddResourceRevisionInput{ResourceSlug: "nope", FileID: f1.FileID}, http.StatusNotFound, methods.NotFound, ""},
			{"unknown id", methods.AddResourceRevisionInput{ResourceID: "res_00000000000000000000000000", FileID: f1.FileID}, http.StatusNotFound, methods.NotFound, ""},
			{"unknown file", methods.AddResourceRevisionInput{ResourceSlug: "prompts", FileID: "file_00000000000000000000000000"}, http.StatusNotFound, methods.NotFound, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := admin.AddResourceRevision(feCtx(t), tc.in)
				feWantErr(t, err, tc.status, tc.typ, tc.field)
			})
		}
		_, err := admin.GetResource(feCtx(t), methods.GetResourceInput{})
		feWantErr(t, err, http.StatusBadRequest, methods.InvalidInput, "resourceId")
		_, err = admin.GetResource(feCtx(t), methods.GetResourceInput{ResourceID: res.ResourceID, ResourceSlug: "bare"})
		feWantErr(t, err, http.StatusBadRequest, methods.InvalidInput, "resourceSlug")
	})

	t.Run("list", func(t *testing.T) {
		list, err := admin.ListResources(feCtx(t), methods.ListResourcesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var slugs []string
		for _, r := range list.Resources {
			slugs = append(slugs, r.Slug)
			if r.LatestRevision == nil {
				t.Errorf("%s has no latestRevision in the list", r.Slug)
			}
		}
		want := []string{strings.Repeat("a", 63), "bare", "prompts"}
		if strings.Join(slugs, ",") != strings.Join(want, ",") {
			t.Errorf("resources.list slugs %v, want %v", slugs, want)
		}
		limit, offset := 1, 1
		page, err := admin.ListResources(feCtx(t), methods.ListResourcesInput{Limit: &limit, Offset: &offset})
		if err != nil || len(page.Resources) != 1 || page.Resources[0].Slug != "bare" {
			t.Errorf("page 2 of 1: %+v, %v", page, err)
		}
	})

	t.Run("another org", func(t *testing.T) {
		_, err := other.CreateResource(feCtx(t), methods.CreateResourceInput{Slug: "theirs", FileID: f1.FileID})
		feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
		for _, in := range []methods.GetResourceInput{{ResourceID: res.ResourceID}, {ResourceSlug: "prompts"}} {
			_, err := other.GetResource(feCtx(t), in)
			feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
		}
		of := feUpload(t, other, "theirs.md", "", []byte("theirs"))
		_, err = other.AddResourceRevision(feCtx(t), methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: of.FileID})
		feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
		// Nor can we use their file.
		_, err = admin.AddResourceRevision(feCtx(t), methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: of.FileID})
		feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
		_, err = admin.CreateResource(feCtx(t), methods.CreateResourceInput{Slug: "borrowed", FileID: of.FileID})
		feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
		_, err = other.DeleteResource(feCtx(t), res.ResourceID)
		feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
		// Slugs are per organization.
		if _, err := other.CreateResource(feCtx(t), methods.CreateResourceInput{Slug: "prompts", FileID: of.FileID}); err != nil {
			t.Errorf("another org cannot use the slug: %v", err)
		}
		list, err := other.ListResources(feCtx(t), methods.ListResourcesInput{})
		if err != nil || len(list.Resources) != 1 || list.Resources[0].ID == res.ResourceID {
			t.Errorf("another org's list: %+v, %v", list, err)
		}
		// Its own resource does not hide ours.
		feWantLatestID(t, admin, "prompts", res.ResourceID)
	})

	t.Run("a file in use cannot be deleted", func(t *testing.T) {
		_, err := admin.DeleteFile(feCtx(t), f1.FileID)
		feWantErr(t, err, http.StatusConflict, methods.Conflict, "")
		if got := feDownload(t, admin, f1.FileID); string(got) != "# one.md\n" {
			t.Errorf("the file in use downloads as %q", got)
		}
	})

	t.Run("delete", func(t *testing.T) {
		// f1 and f2 are only used by "prompts"; f3 also by "bare".
		if _, err := admin.DeleteResource(feCtx(t), res.ResourceID); err != nil {
			t.Fatalf("resources.delete: %v", err)
		}
		for _, in := range []methods.GetResourceInput{{ResourceID: res.ResourceID}, {ResourceSlug: "prompts"}} {
			_, err := admin.GetResource(feCtx(t), in)
			feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
		}
		_, err := admin.DeleteResource(feCtx(t), res.ResourceID)
		feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
		for _, f := range []*methods.UploadFileOutput{f1, f2} {
			if _, err := admin.DeleteFile(feCtx(t), f.FileID); err != nil {
				t.Errorf("files.delete %s after resources.delete: %v", f.Filename, err)
			}
		}
		_, err = admin.DeleteFile(feCtx(t), f3.FileID)
		feWantErr(t, err, http.StatusConflict, methods.Conflict, "")
		// The slug is free again.
		f4 := upload("four.md")
		if _, err := admin.CreateResource(feCtx(t), methods.CreateResourceInput{Slug: "prompts", FileID: f4.FileID}); err != nil {
			t.Errorf("re-create a deleted slug: %v", err)
		}
	})
}

func feDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// feWantLatest checks a resource's latest revision; label "" means null.
func feWantLatest(t testing.TB, c *client.Client, slug, revID, label string, f *methods.UploadFileOutput) bool {
	t.Helper()
	got, err := c.GetResource(feCtx(t), methods.GetResourceInput{ResourceSlug: slug})
	if err != nil {
		t.Fatalf("resources.get: %v", err)
	}
	l := got.LatestRevision
	if l == nil || l.ID != revID || feDeref(l.Label) != label || (label == "") != (l.Label == nil) || l.File.ID != f.FileID || l.File.Filename != f.Filename {
		t.Errorf("latestRevision %+v, want revision %s label %q file %s", l, revID, label, f.FileID)
		return false
	}
	return true
}

func feWantLatestID(t testing.TB, c *client.Client, slug, id string) {
	t.Helper()
	got, err := c.GetResource(feCtx(t), methods.GetResourceInput{ResourceSlug: slug})
	if err != nil || got.ID != id {
		t.Errorf("resources.get %s: %+v, %v; want id %s", slug, got, err, id)
	}
}

// ---------------------------------------------------------------------------
// Bundle archives built by the tests.
// ---------------------------------------------------------------------------

// feEntry is one entry of a test archive.
type feEntry struct {
	name string
	body string
	typ  byte // tar.TypeReg (default), TypeDir, TypeSymlink, TypeChar, ...
	link string
}

// feManifest is a valid roost.json of a version, changed by edit.
func feManifest(version string, edit func(m map[string]any)) string {
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

// feAgentFiles are the entries of a valid bundle around a manifest.
func feAgentFiles(manifest string) []feEntry {
	return []feEntry{
		{name: "roost.json", body: manifest},
		{name: "lib/", typ: tar.TypeDir},
		{name: "lib/util.py", body: "def echo(x):\n    return x\n"},
		{name: "agent.py", body: "print('hello')\n"},
		{name: "current", typ: tar.TypeSymlink, link: "lib/util.py"},
	}
}

// feTarGz builds a .tar.gz archive.
func feTarGz(t testing.TB, entries ...feEntry) []byte {
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

// feZip builds a .zip archive; symlinks are stored as zip symlinks (the
// target as content, the mode in the external attributes).
func feZip(t testing.TB, entries ...feEntry) []byte {
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

// fePublish uploads an archive and publishes it.
func fePublish(t testing.TB, c *client.Client, slug string, archive []byte) (*methods.PublishBundleOutput, *methods.UploadFileOutput, error) {
	t.Helper()
	f := feUpload(t, c, slug+".archive", "", archive)
	out, err := c.PublishBundle(feCtx(t), methods.PublishBundleInput{Slug: slug, FileID: f.FileID})
	return out, f, err
}

// ---------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------

func TestBundles(t *testing.T) {
	t.Parallel()
	for _, kind := range feKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := feStart(t, feMinIO(t, kind), platform.Config{})
			admin := env.Admin()
			_, otherKey := env.OrgKey(t, "bundles-other", "k", false)
			other := env.Client(otherKey)

			v1File := feUpload(t, admin, "agent-1.0.0.tar.gz", "application/gzip", feTarGz(t, feAgentFiles(feManifest("1.0.0", nil))...))
			var v1 methods.PublishBundleOutput
			t.Run("publish", func(t *testing.T) {
				raw, err := admin.CallRaw(feCtx(t), []byte(fmt.Sprintf(
					`{"method":"bundles.publish","input":{"slug":"echo","fileId":%q,"name":"Echo","description":"Echoes."}}`, v1File.FileID)))
				if err != nil {
					t.Fatalf("bundles.publish: %v", err)
				}
				feWantKeys(t, "bundles.publish", raw, "bundleId", "revisionId", "version")
				_ = json.Unmarshal(raw, &v1)
				if !strings.HasPrefix(v1.BundleID, "bun_") || !strings.HasPrefix(v1.RevisionID, "brev_") || v1.Version != "1.0.0" {
					t.Errorf("bundles.publish: %s", raw)
				}
			})
			if v1.RevisionID == "" {
				t.FailNow()
			}

			t.Run("same version twice", func(t *testing.T) {
				_, _, err := fePublish(t, admin, "echo", feTarGz(t, feAgentFiles(feManifest("1.0.0", nil))...))
				feWantErr(t, err, http.StatusConflict, methods.Conflict, "manifest.version")
				// Even the very same file.
				_, err = admin.PublishBundle(feCtx(t), methods.PublishBundleInput{Slug: "echo", FileID: v1File.FileID})
				feWantErr(t, err, http.StatusConflict, methods.Conflict, "manifest.version")
			})

			var v2 *methods.PublishBundleOutput
			var v2File *methods.UploadFileOutput
			t.Run("a zip is the new latest revision", func(t *testing.T) {
				var err error
				v2, v2File, err = fePublish(t, admin, "echo", feZip(t, feAgentFiles(feManifest("2.0.0", nil))...))
				if err != nil {
					t.Fatalf("publish the zip: %v", err)
				}
				if v2.BundleID != v1.BundleID || v2.RevisionID == v1.RevisionID || v2.Version != "2.0.0" {
					t.Errorf("second publish %+v, first %+v", v2, v1)
				}
				raw, err := admin.CallRaw(feCtx(t), []byte(`{"method":"bundles.list","input":{}}`))
				if err != nil {
					t.Fatal(err)
				}
				feWantKeys(t, "bundles.list", raw, "bundles")
				var items []json.RawMessage
				_ = json.Unmarshal(feField(t, raw, "bundles"), &items)
				if len(items) != 1 {
					t.Fatalf("bundles.list: %s", raw)
				}
				feWantKeys(t, "a bundle", items[0], "id", "slug", "name", "description", "latestRevision", "createdAt")
				feWantKeys(t, "latestRevision", feField(t, items[0], "latestRevision"), "id", "version", "r2Key", "createdAt")
				var b methods.BundleSummary
				_ = json.Unmarshal(items[0], &b)
				if b.ID != v1.BundleID || b.Slug != "echo" || feDeref(b.Name) != "Echo" || feDeref(b.Description) != "Echoes." || b.LatestRevision == nil ||
					b.LatestRevision.ID != v2.RevisionID || feDeref(b.LatestRevision.Version) != "2.0.0" || b.LatestRevision.R2Key != v2File.R2Key {
					t.Errorf("bundles.list item: %s", items[0])
				}
			})
			if v2 == nil {
				t.FailNow()
			}

			t.Run("each publish is the latest at once", func(t *testing.T) {
				for i := 0; i < 8; i++ {
					version := fmt.Sprintf("3.0.%d", i)
					out, _, err := fePublish(t, admin, "quick", feTarGz(t, feAgentFiles(feManifest(version, nil))...))
					if err != nil {
						t.Fatal(err)
					}
					list, err := admin.ListBundles(feCtx(t), methods.ListBundlesInput{})
					if err != nil {
						t.Fatal(err)
					}
					for _, b := range list.Bundles {
						if b.Slug == "quick" && (b.LatestRevision == nil || b.LatestRevision.ID != out.RevisionID) {
							t.Fatalf("after publishing %s the latest revision is %+v, want %s", version, b.LatestRevision, out.RevisionID)
						}
					}
				}
			})

			t.Run("get shows the revisions with their manifests", func(t *testing.T) {
				for _, in := range []methods.GetBundleInput{{BundleSlug: "echo"}, {BundleID: v1.BundleID}} {
					got, err := admin.GetBundle(feCtx(t), in)
					if err != nil {
						t.Fatalf("bundles.get %+v: %v", in, err)
					}
					if got.ID != v1.BundleID || got.Slug != "echo" || len(got.Revisions) != 2 ||
						got.Revisions[0].ID != v2.RevisionID || got.Revisions[1].ID != v1.RevisionID {
						t.Fatalf("bundles.get %+v: %+v", in, got)
					}
					r := got.Revisions[1]
					m := r.Manifest
					if r.Version != "1.0.0" || r.FileID != v1File.FileID || r.R2Key != v1File.R2Key || m.Name != "Echo agent" || m.Version != "1.0.0" ||
						strings.Join(m.Entrypoint, " ") != "python3 agent.py" || len(m.Presets) != 2 || m.Presets[0] != (methods.BundlePreset{ID: "chat", Name: "Chat", Description: "Talk to the agent."}) ||
						len(m.Services) != 2 || m.Services[1] != (methods.BundleService{ServiceType: "api", Port: 8080}) ||
						m.Env["AGENT_MODE"] != "test" || feDeref(m.Health) != "/health" {
						t.Errorf("revision 1.0.0: %+v", r)
					}
					info, err := admin.GetFile(feCtx(t), v1File.FileID)
					if err != nil || r.SHA256 != info.SHA256 {
						t.Errorf("revision sha256 %s, file %+v (%v)", r.SHA256, info, err)
					}
				}
			})

			var bySlug, byRev string
			t.Run("instances pin a revision", func(t *testing.T) {
				a, err := admin.CreateInstance(feCtx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "latest", BundleSlug: "echo"})
				if err != nil {
					t.Fatalf("instances.create with bundleSlug: %v", err)
				}
				b, err := admin.CreateInstance(feCtx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "pinned", BundleRevisionID: v1.RevisionID})
				if err != nil {
					t.Fatalf("instances.create with bundleRevisionId: %v", err)
				}
				bySlug, byRev = a.InstanceID, b.InstanceID
				for _, tc := range []struct{ id, rev string }{{bySlug, v2.RevisionID}, {byRev, v1.RevisionID}} {
					got, err := admin.GetInstance(feCtx(t), tc.id)
					if err != nil || got.BundleSlug != "echo" || got.BundleRevisionID != tc.rev {
						t.Errorf("instances.get %s: %+v, %v; want echo revision %s", tc.id, got, err, tc.rev)
					}
				}
				_, err = other.CreateInstance(feCtx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "theirs", BundleRevisionID: v1.RevisionID})
				feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = other.CreateInstance(feCtx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "theirs", BundleSlug: "echo"})
				feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
			})

			t.Run("a published archive cannot be deleted", func(t *testing.T) {
				for _, f := range []*methods.UploadFileOutput{v1File, v2File} {
					_, err := admin.DeleteFile(feCtx(t), f.FileID)
					feWantErr(t, err, http.StatusConflict, methods.Conflict, "")
				}
				if len(feDownload(t, admin, v1File.FileID)) != int(v1File.Size) {
					t.Error("the archive does not download whole")
				}
			})

			t.Run("another org", func(t *testing.T) {
				list, err := other.ListBundles(feCtx(t), methods.ListBundlesInput{})
				if err != nil || len(list.Bundles) != 0 {
					t.Errorf("another org's bundles.list: %+v, %v", list, err)
				}
				for _, in := range []methods.GetBundleInput{{BundleSlug: "echo"}, {BundleID: v1.BundleID}} {
					_, err := other.GetBundle(feCtx(t), in)
					feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
					_, err = other.DeleteBundle(feCtx(t), methods.DeleteBundleInput(in))
					feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
				}
				_, err = other.PublishBundle(feCtx(t), methods.PublishBundleInput{Slug: "echo", FileID: v1File.FileID})
				feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
			})

			t.Run("delete", func(t *testing.T) {
				_, err := admin.DeleteBundle(feCtx(t), methods.DeleteBundleInput{})
				feWantErr(t, err, http.StatusBadRequest, methods.InvalidInput, "bundleId")

				if _, err := admin.DeleteBundle(feCtx(t), methods.DeleteBundleInput{BundleSlug: "echo"}); err != nil {
					t.Fatalf("bundles.delete by slug: %v", err)
				}
				quick, err := admin.GetBundle(feCtx(t), methods.GetBundleInput{BundleSlug: "quick"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := admin.DeleteBundle(feCtx(t), methods.DeleteBundleInput{BundleID: quick.ID}); err != nil {
					t.Fatalf("bundles.delete by id: %v", err)
				}
				list, err := admin.ListBundles(feCtx(t), methods.ListBundlesInput{})
				if err != nil || len(list.Bundles) != 0 {
					t.Errorf("bundles.list after deleting both: %+v, %v", list, err)
				}
				for _, in := range []methods.GetBundleInput{{BundleSlug: "echo"}, {BundleID: v1.BundleID}, {BundleID: quick.ID}} {
					_, err := admin.GetBundle(feCtx(t), in)
					feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
					_, err = admin.DeleteBundle(feCtx(t), methods.DeleteBundleInput(in))
					feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
				}
				// Pinned instances keep their revision.
				for _, tc := range []struct{ id, rev string }{{bySlug, v2.RevisionID}, {byRev, v1.RevisionID}} {
					got, err := admin.GetInstance(feCtx(t), tc.id)
					if err != nil || got.BundleSlug != "echo" || got.BundleRevisionID != tc.rev {
						t.Errorf("instances.get %s after bundles.delete: %+v, %v", tc.id, got, err)
					}
				}
				// New instances cannot pin a deleted bundle.
				_, err = admin.CreateInstance(feCtx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "late", BundleSlug: "echo"})
				feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = admin.CreateInstance(feCtx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "late", BundleRevisionID: v1.RevisionID})
				feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
				// The archives stay for the pinned instances.
				_, err = admin.DeleteFile(feCtx(t), v1File.FileID)
				feWantErr(t, err, http.StatusConflict, methods.Conflict, "")
			})

			t.Run("the slug can be published again", func(t *testing.T) {
				out, err := admin.PublishBundle(feCtx(t), methods.PublishBundleInput{Slug: "echo", FileID: v1File.FileID})
				if err != nil {
					t.Fatalf("publish to a deleted slug: %v", err)
				}
				if out.BundleID == v1.BundleID || out.Version != "1.0.0" {
					t.Errorf("republish: %+v, the deleted bundle was %s", out, v1.BundleID)
				}
				got, err := admin.GetBundle(feCtx(t), methods.GetBundleInput{BundleSlug: "echo"})
				if err != nil || len(got.Revisions) != 1 || got.Revisions[0].ID != out.RevisionID {
					t.Errorf("the new bundle: %+v, %v", got, err)
				}
				if got != nil && got.Name != nil && *got.Name != "Echo agent" {
					t.Errorf("a bundle published without a name takes the manifest's: %q", *got.Name)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------
// Hostile archives
// ---------------------------------------------------------------------------

func TestBundleHostileArchives(t *testing.T) {
	t.Parallel()
	env := feStart(t, nil, platform.Config{})
	admin := env.Admin()
	if _, _, err := fePublish(t, admin, "target", feTarGz(t, feAgentFiles(feManifest("0.0.1", nil))...)); err != nil {
		t.Fatalf("publish a valid revision: %v", err)
	}
	good := feManifest("9.9.9", nil)
	bad := func(edit func(m map[string]any)) string { return feManifest("9.9.9", edit) }
	withManifest := func(extra ...feEntry) []feEntry { return append([]feEntry{{name: "roost.json", body: good}}, extra...) }

	cases := []struct {
		name    string
		archive func(t testing.TB) []byte
		field   string // details.field
		says    string // part of the message
	}{
		{"zip slip in a zip", func(t testing.TB) []byte { return feZip(t, withManifest(feEntry{name: "../evil", body: "x"})...) }, "fileId", `".."`},
		{"zip slip in a tar", func(t testing.TB) []byte { return feTarGz(t, withManifest(feEntry{name: "../evil", body: "x"})...) }, "fileId", `".."`},
		{"zip slip deeper in a tar", func(t testing.TB) []byte {
			return feTarGz(t, withManifest(feEntry{name: "lib/../../evil", body: "x"})...)
		}, "fileId", `".."`},
		{"absolute path in a tar", func(t testing.TB) []byte {
			return feTarGz(t, withManifest(feEntry{name: "/etc/cron.d/evil", body: "x"})...)
		}, "fileId", "absolute"},
		{"absolute path in a zip", func(t testing.TB) []byte {
			return feZip(t, withManifest(feEntry{name: "/etc/cron.d/evil", body: "x"})...)
		}, "fileId", "absolute"},
		{"symlink to /etc/passwd in a tar", func(t testing.TB) []byte {
			return feTarGz(t, withManifest(feEntry{name: "passwd", typ: tar.TypeSymlink, link: "/etc/passwd"})...)
		}, "fileId", "/etc/passwd"},
		{"symlink to /etc/passwd in a zip", func(t testing.TB) []byte {
			return feZip(t, withManifest(feEntry{name: "passwd", typ: tar.TypeSymlink, link: "/etc/passwd"})...)
		}, "fileId", "/etc/passwd"},
		{"symlink up and out", func(t testing.TB) []byte {
			return feTarGz(t, withManifest(feEntry{name: "lib/up", typ: tar.TypeSymlink, link: "../../.."})...)
		}, "fileId", "outside"},
		{"symlink chain in a tar", func(t testing.TB) []byte {
			return feTarGz(t, withManifest(
				feEntry{name: "sub/", typ: tar.TypeDir},
				feEntry{name: "sub/up", typ: tar.TypeSymlink, link: ".."},
				feEntry{name: "esc", typ: tar.TypeSymlink, link: "sub/up/.."})...)
		}, "fileId", "outside"},
		{"symlink chain in a zip", func(t testing.TB) []byte {
			return feZip(t, withManifest(
				feEntry{name: "sub/", typ: tar.TypeDir},
				feEntry{name: "sub/up", typ: tar.TypeSymlink, link: ".."},
				feEntry{name: "esc", typ: tar.TypeSymlink, link: "sub/up/.."})...)
		}, "fileId", "outside"},
		{"hard link out", func(t testing.TB) []byte {
			return feTarGz(t, withManifest(feEntry{name: "shadow", typ: tar.TypeLink, link: "../../etc/shadow"})...)
		}, "fileId", "outside"},
		{"character device", func(t testing.TB) []byte {
			return feTarGz(t, withManifest(feEntry{name: "null", typ: tar.TypeChar})...)
		}, "fileId", "device"},
		{"block device", func(t testing.TB) []byte {
			return feTarGz(t, withManifest(feEntry{name: "sda", typ: tar.TypeBlock})...)
		}, "fileId", "device"},
		{"fifo", func(t testing.TB) []byte {
			return feTarGz(t, withManifest(feEntry{name: "pipe", typ: tar.TypeFifo})...)
		}, "fileId", "FIFO"},
		{"device in a zip", func(t testing.TB) []byte {
			return feZip(t, withManifest(feEntry{name: "null", typ: tar.TypeChar})...)
		}, "fileId", "device"},
		{"decompression bomb", nil, "fileId", "decompression bomb"},
		{"no roost.json", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "agent.py", body: "print(1)\n"})
		}, "fileId", "roost.json"},
		{"roost.json only in a subdirectory", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "agent/", typ: tar.TypeDir}, feEntry{name: "agent/roost.json", body: good})
		}, "fileId", "agent/roost.json"},
		{"roost.json only in a subdirectory of a zip", func(t testing.TB) []byte {
			return feZip(t, feEntry{name: "agent/roost.json", body: good})
		}, "fileId", "root"},
		{"an empty zip", func(t testing.TB) []byte { return feZip(t) }, "fileId", "roost.json"},
		{"not an archive", func(t testing.TB) []byte { return []byte("just some text, not an archive\n") }, "fileId", "neither"},
		{"gzip but not tar", func(t testing.TB) []byte {
			var b bytes.Buffer
			gz := gzip.NewWriter(&b)
			_, _ = gz.Write(bytes.Repeat([]byte("not a tar header "), 100))
			_ = gz.Close()
			return b.Bytes()
		}, "fileId", "corrupt"},
		{"truncated tar.gz", func(t testing.TB) []byte {
			a := feTarGz(t, feAgentFiles(good)...)
			return a[:len(a)/2]
		}, "fileId", "corrupt"},
		{"manifest not JSON", func(t testing.TB) []byte { return feTarGz(t, feEntry{name: "roost.json", body: "{name: echo"}) }, "", "JSON"},
		{"manifest with an unknown field", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) { m["entrypoints"] = []string{"x"} })})
		}, "", "entrypoints"},
		{"missing entrypoint", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) { delete(m, "entrypoint") })})
		}, "manifest.entrypoint", "entrypoint"},
		{"empty entrypoint", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) { m["entrypoint"] = []string{} })})
		}, "manifest.entrypoint", "entrypoint"},
		{"entrypoint not an array", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) { m["entrypoint"] = "python3 agent.py" })})
		}, "manifest.entrypoint", "array"},
		{"missing version", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) { delete(m, "version") })})
		}, "manifest.version", "version"},
		{"port 0", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) {
				m["services"] = []map[string]any{{"serviceType": "web", "port": 0}}
			})})
		}, "manifest.services[0].port", "port"},
		{"port 70000", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) {
				m["services"] = []map[string]any{{"serviceType": "web", "port": 3000}, {"serviceType": "api", "port": 70000}}
			})})
		}, "manifest.services[1].port", "port"},
		{"port not a number", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) {
				m["services"] = []map[string]any{{"serviceType": "web", "port": "3000"}}
			})})
		}, "manifest.services.port", "port"},
		{"duplicate preset id", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) {
				m["presets"] = []map[string]any{{"id": "chat", "name": "Chat"}, {"id": "chat", "name": "Chat again"}}
			})})
		}, "manifest.presets[1].id", "chat"},
		{"env key starting ROOST_", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) {
				m["env"] = map[string]string{"ROOST_TOKEN": "x"}
			})})
		}, "manifest.env.ROOST_TOKEN", "ROOST_"},
		{"bad env key", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) {
				m["env"] = map[string]string{"1BAD-KEY": "x"}
			})})
		}, "manifest.env.1BAD-KEY", "1BAD-KEY"},
		{"bad health path", func(t testing.TB) []byte {
			return feTarGz(t, feEntry{name: "roost.json", body: bad(func(m map[string]any) { m["health"] = "health check" })})
		}, "manifest.health", "health"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := admin.GetBundle(feCtx(t), methods.GetBundleInput{BundleSlug: "target"})
			if err != nil {
				t.Fatal(err)
			}
			var f *methods.UploadFileOutput
			if tc.archive == nil {
				f = feStreamUpload(t, admin, "bomb.tar.gz", feBomb)
			} else {
				f = feUpload(t, admin, "hostile.archive", "", tc.archive(t))
			}
			_, err = admin.PublishBundle(feCtx(t), methods.PublishBundleInput{Slug: "target", FileID: f.FileID})
			ce := feWantErr(t, err, http.StatusBadRequest, methods.InvalidInput, "")
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
			after, err := admin.GetBundle(feCtx(t), methods.GetBundleInput{BundleSlug: "target"})
			if err != nil || len(after.Revisions) != len(before.Revisions) {
				t.Errorf("a revision was created: %d revisions, was %d (%v)", len(after.Revisions), len(before.Revisions), err)
			}
			// Not even a bundle is created for a fresh slug.
			_, err = admin.PublishBundle(feCtx(t), methods.PublishBundleInput{Slug: "fresh", FileID: f.FileID})
			feWantErr(t, err, http.StatusBadRequest, methods.InvalidInput, "")
			_, err = admin.GetBundle(feCtx(t), methods.GetBundleInput{BundleSlug: "fresh"})
			feWantErr(t, err, http.StatusNotFound, methods.NotFound, "")
			// The refused archive is an ordinary file the caller may delete.
			if _, err := admin.DeleteFile(feCtx(t), f.FileID); err != nil {
				t.Errorf("delete the refused archive: %v", err)
			}
		})
	}

	t.Run("links that stay inside are fine", func(t *testing.T) {
		_, _, err := fePublish(t, admin, "target", feTarGz(t, withManifest(
			feEntry{name: "sub/", typ: tar.TypeDir},
			feEntry{name: "sub/up", typ: tar.TypeSymlink, link: ".."},
			feEntry{name: "sub/file", body: "x"},
			feEntry{name: "alias", typ: tar.TypeSymlink, link: "sub/up/sub/file"},
			feEntry{name: "hard", typ: tar.TypeLink, link: "sub/file"})...))
		if err != nil {
			t.Errorf("publish: %v", err)
		}
	})
}

// feStreamUpload uploads what write produces, through a pipe, without
// holding it in memory.
func feStreamUpload(t testing.TB, c *client.Client, name string, write func(w io.Writer) error) *methods.UploadFileOutput {
	t.Helper()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw)) }()
	out, err := c.UploadFile(testutil.Context(t, testutil.Long), name, "application/gzip", pr)
	pr.CloseWithError(errors.New("upload over"))
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return out
}

// feBombZeros is the size of the decompression bomb's one file.
const feBombZeros = 300 << 20

// feBomb writes a valid .tar.gz holding roost.json and one file of
// feBombZeros zero bytes (about 300 KiB compressed). Compressing 300 MiB
// takes long under the race detector, so the deflate stream of one MiB of
// zeros is made until it repeats, then repeated: once the window is all
// zeros every MiB compresses alike, and a flush after each ends it on a
// byte boundary.
func feBomb(w io.Writer) error {
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	manifest := feManifest("6.6.6", nil)
	if err := tw.WriteHeader(&tar.Header{Name: "roost.json", Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write([]byte(manifest)); err != nil {
		return err
	}
	// WriteHeader pads the manifest and writes the header block at once;
	// the zeros follow, then two zero blocks that end the archive.
	if err := tw.WriteHeader(&tar.Header{Name: "zeros.bin", Mode: 0o644, Size: feBombZeros, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	prefix := head.Bytes()
	const chunk, tail = 1 << 20, 1024
	total := int64(len(prefix)) + feBombZeros + tail

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
	for i := 0; i < feBombZeros/chunk; i++ {
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

// ---------------------------------------------------------------------------
// roost bundles push
// ---------------------------------------------------------------------------

// feBuildRoost builds ./cmd/roost into a temp dir.
func feBuildRoost(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "roost")
	cmd := exec.CommandContext(testutil.Context(t, testutil.Long), goBin, "build", "-o", bin, "github.com/roosthq/roost/cmd/roost")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/roost: %v\n%s", err, out)
	}
	return bin
}

// feWriteTree writes files (path → content; content "->target" makes a
// symlink) under a new temp dir.
func feWriteTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// feTarEntries lists a .tar.gz's entries as "name" or "name -> link".
func feTarEntries(t testing.TB, archive []byte) []string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	var out []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		e := h.Name
		if h.Typeflag == tar.TypeSymlink {
			e += " -> " + h.Linkname
		}
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

func TestBundlesPushCLI(t *testing.T) {
	t.Parallel()
	bin := feBuildRoost(t)
	env := feStart(t, nil, platform.Config{})
	admin := env.Admin()
	agent := func(version string, edit func(m map[string]any)) map[string]string {
		return map[string]string{
			"roost.json":  feManifest(version, edit),
			"agent.py":    "print('hi')\n",
			"lib/util.py": "X = 1\n",
			"current":     "->lib/util.py",
			".git/HEAD":   "ref: refs/heads/main\n",
		}
	}
	run := func(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.CommandContext(testutil.Context(t, testutil.Medium), bin, args...)
		cmd.Env = append(os.Environ(), env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("roost %v: %v", args, err)
		}
		return out.String(), errOut.String(), code
	}

	t.Run("published", func(t *testing.T) {
		cases := []struct {
			name    string
			version string
			args    func(dir string) []string
			env     []string
		}{
			{"flags after DIR", "1.0.0", func(dir string) []string {
				return []string{"bundles", "push", dir, "--slug", "cli-agent", "--url", env.URL, "--key", env.AdminKey}
			}, nil},
			{"flags before DIR", "1.0.1", func(dir string) []string {
				return []string{"bundles", "push", "--slug", "cli-agent", "--url", env.URL, "--api-key", env.AdminKey, dir}
			}, nil},
			{"url and key from the environment", "1.0.2", func(dir string) []string {
				return []string{"bundles", "push", dir, "--slug", "cli-agent"}
			}, []string{"ROOST_URL=" + env.URL, "ROOST_KEY=" + env.AdminKey}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				dir := feWriteTree(t, agent(tc.version, nil))
				stdout, stderr, code := run(t, tc.env, tc.args(dir)...)
				if code != 0 {
					t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
				got, err := admin.GetBundle(feCtx(t), methods.GetBundleInput{BundleSlug: "cli-agent"})
				if err != nil || len(got.Revisions) == 0 {
					t.Fatalf("bundles.get: %+v, %v", got, err)
				}
				latest := got.Revisions[0]
				if latest.Version != tc.version || !strings.Contains(stdout, latest.ID) || !strings.Contains(stdout, "version "+tc.version) {
					t.Errorf("stdout %q does not name the published revision %s (version %s)", stdout, latest.ID, latest.Version)
				}
				entries := feTarEntries(t, feDownload(t, admin, latest.FileID))
				want := []string{"agent.py", "current -> lib/util.py", "lib/", "lib/util.py", "roost.json"}
				if strings.Join(entries, ",") != strings.Join(want, ",") {
					t.Errorf("the pushed archive holds %v, want %v", entries, want)
				}
			})
		}
	})

	t.Run("refused", func(t *testing.T) {
		cases := []struct {
			name  string
			files map[string]string
			args  func(dir string) []string
			says  string
		}{
			{"no roost.json", map[string]string{"agent.py": "print(1)\n"}, nil, "roost.json"},
			{"roost.json in a subdirectory", map[string]string{"agent/roost.json": feManifest("1.1.0", nil)}, nil, "roost.json"},
			{"invalid manifest", agent("1.2.0", func(m map[string]any) { m["env"] = map[string]string{"ROOST_X": "1"} }), nil, "ROOST_"},
			{"version already published", agent("1.0.0", nil), nil, "already published"},
			{"no such directory", nil, func(string) []string {
				return []string{"bundles", "push", "/nonexistent/agent", "--slug", "cli-agent", "--url", env.URL, "--key", env.AdminKey}
			}, "/nonexistent/agent"},
			{"no slug", agent("1.3.0", nil), func(dir string) []string {
				return []string{"bundles", "push", dir, "--url", env.URL, "--key", env.AdminKey}
			}, "--slug"},
			{"wrong key", agent("1.4.0", nil), func(dir string) []string {
				return []string{"bundles", "push", dir, "--slug", "cli-agent", "--url", env.URL, "--key", "rk_" + strings.Repeat("2", 40)}
			}, "key"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := env.state(t, admin)
				dir := feWriteTree(t, tc.files)
				args := []string{"bundles", "push", dir, "--slug", "cli-agent", "--url", env.URL, "--key", env.AdminKey}
				if tc.args != nil {
					args = tc.args(dir)
				}
				stdout, stderr, code := run(t, nil, args...)
				if code == 0 {
					t.Fatalf("exit 0\nstdout: %s\nstderr: %s", stdout, stderr)
				}
				if !strings.Contains(stderr, tc.says) {
					t.Errorf("stderr does not say %q:\n%s", tc.says, stderr)
				}
				if strings.Contains(stdout, "published") {
					t.Errorf("stdout says published: %s", stdout)
				}
				// Nothing is left: no file uploaded for nothing.
				env.waitState(t, admin, before)
			})
		}
		got, err := admin.GetBundle(feCtx(t), methods.GetBundleInput{BundleSlug: "cli-agent"})
		if err != nil || len(got.Revisions) != 3 {
			t.Errorf("the refused pushes changed the bundle: %+v, %v", got, err)
		}
	})
}
