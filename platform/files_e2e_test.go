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
	"encoding/binary"
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
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/roosthq/roost/client"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// ---------------------------------------------------------------------------
// Upload
// ---------------------------------------------------------------------------

func TestFileUploads(t *testing.T) {
	t.Parallel()
	for _, kind := range testutil.BlobStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			m := testutil.MinIOFor(t, kind)
			env := testutil.StartStoreServer(t, m, platform.Config{})
			admin := env.Admin()

			t.Run("reply is exactly the contract's", func(t *testing.T) {
				data := []byte("hello, roost\n")
				ct, body := rpctest.Multipart(rpctest.Part{Name: "file", Filename: "hello.txt", ContentType: "text/plain", Data: data})
				r := rpctest.PostUpload(t, env.Server, env.AdminKey, ct, body)
				if r.Status != http.StatusOK {
					t.Fatalf("upload: %s", r)
				}
				rpctest.WantKeys(t, "upload reply", r.Body, "ok", "fileId", "filename", "mimeType", "size", "r2Key")
				if string(rpctest.Field(t, r.Body, "ok")) != "true" {
					t.Errorf("ok is not true: %s", r.Body)
				}
				var out methods.UploadFileOutput
				if err := json.Unmarshal(r.Body, &out); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(out.FileID, "file_") || out.Filename != "hello.txt" || out.MimeType != "text/plain" ||
					out.Size != int64(len(data)) || out.R2Key == "" {
					t.Errorf("upload reply %+v", out)
				}
				if got := env.Objects(t); !slices.Contains(got, out.R2Key) {
					t.Errorf("the store holds %v, not the r2Key %s", got, out.R2Key)
				}
				info, err := admin.GetFile(rpctest.Ctx(t), out.FileID)
				if err != nil {
					t.Fatalf("files.get: %v", err)
				}
				if info.ID != out.FileID || info.Filename != out.Filename || info.MimeType != out.MimeType || info.Size != out.Size ||
					info.R2Key != out.R2Key || info.SHA256 != rpctest.SHA256(data) {
					t.Errorf("files.get %+v does not match the upload %+v (sha256 %s)", info, out, rpctest.SHA256(data))
				}
			})

			t.Run("bytes round trip", func(t *testing.T) {
				// Over the s3 store's 16 MiB part size, so that the object
				// is a multipart upload of two parts.
				for _, n := range []int{1, 4096, 20<<20 + 12345} {
					t.Run(fmt.Sprint(n), func(t *testing.T) {
						data := rpctest.Random(t, n)
						out := rpctest.Upload(t, admin, "random.bin", "application/octet-stream", data)
						if out.Size != int64(n) {
							t.Errorf("size %d, want %d", out.Size, n)
						}
						info, err := admin.GetFile(rpctest.Ctx(t), out.FileID)
						if err != nil {
							t.Fatal(err)
						}
						got := rpctest.Download(t, admin, out.FileID)
						if info.SHA256 != rpctest.SHA256(data) || rpctest.SHA256(got) != rpctest.SHA256(data) {
							t.Errorf("sha256: uploaded %s, files.get %s, downloaded %s (%d bytes)", rpctest.SHA256(data), info.SHA256, rpctest.SHA256(got), len(got))
						}
					})
				}
			})

			t.Run("mime type", func(t *testing.T) {
				png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), rpctest.Random(t, 100)...)
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
						ct, body := rpctest.Multipart(rpctest.Part{Name: "file", Filename: "x", ContentType: tc.declared, Data: tc.data})
						r := rpctest.PostUpload(t, env.Server, env.AdminKey, ct, body)
						if r.Status != http.StatusOK {
							t.Fatalf("upload: %s", r)
						}
						var out methods.UploadFileOutput
						_ = json.Unmarshal(r.Body, &out)
						if out.MimeType != tc.want || out.Size != int64(len(tc.data)) {
							t.Errorf("mimeType %q size %d, want %q size %d", out.MimeType, out.Size, tc.want, len(tc.data))
						}
						d := rpctest.FetchFile(t, env.Server, http.MethodGet, env.AdminKey, out.FileID)
						if d.Status != http.StatusOK || d.Header.Get("Content-Type") != tc.want || !bytes.Equal(d.Body, tc.data) {
							t.Errorf("download: HTTP %d Content-Type %q, %d bytes", d.Status, d.Header.Get("Content-Type"), len(d.Body))
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
						ct, body := rpctest.Multipart(rpctest.Part{Disposition: tc.disposition, Data: []byte("x")})
						r := rpctest.PostUpload(t, env.Server, env.AdminKey, ct, body)
						if r.Status != http.StatusOK {
							t.Fatalf("upload: %s", r)
						}
						var out methods.UploadFileOutput
						_ = json.Unmarshal(r.Body, &out)
						if out.Filename != tc.want {
							t.Errorf("filename %q, want %q", out.Filename, tc.want)
						}
						info, err := admin.GetFile(rpctest.Ctx(t), out.FileID)
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
						out, err := admin.UploadFile(rpctest.Ctx(t), tc.name, "", strings.NewReader("x"))
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
				big := rpctest.Random(t, 256<<10)
				cases := []struct {
					name        string
					key         string
					contentType string
					body        []byte
					status      int
				}{
					{name: "no part named file", key: env.AdminKey, status: http.StatusBadRequest,
						body: rpctest.MultipartBody(rpctest.Part{Name: "other", Filename: "x.txt", Data: []byte("x")})},
					{name: "a form field only", key: env.AdminKey, status: http.StatusBadRequest,
						body: rpctest.MultipartBody(rpctest.Part{Disposition: `form-data; name="note"`, Data: []byte("x")})},
					{name: "no parts", key: env.AdminKey, status: http.StatusBadRequest, body: rpctest.MultipartBody()},
					{name: "two files", key: env.AdminKey, status: http.StatusBadRequest,
						body: rpctest.MultipartBody(rpctest.Part{Name: "file", Filename: "a.bin", Data: big}, rpctest.Part{Name: "file", Filename: "b.bin", Data: big})},
					{name: "a file then two", key: env.AdminKey, status: http.StatusBadRequest,
						body: rpctest.MultipartBody(rpctest.Part{Name: "file", Filename: "a.bin", Data: big}, rpctest.Part{Name: "other", Data: []byte("x")},
							rpctest.Part{Name: "file", Filename: "b.bin", Data: big})},
					{name: "not multipart", key: env.AdminKey, contentType: "application/json", status: http.StatusBadRequest,
						body: []byte(`{"file": "x"}`)},
					{name: "no content type", key: env.AdminKey, contentType: "-", status: http.StatusBadRequest, body: []byte("x")},
					{name: "multipart without boundary", key: env.AdminKey, contentType: "multipart/form-data", status: http.StatusBadRequest,
						body: rpctest.MultipartBody(rpctest.Part{Name: "file", Filename: "x", Data: []byte("x")})},
					{name: "raw control character in a part header", key: env.AdminKey, status: http.StatusBadRequest,
						body: rpctest.MultipartBody(rpctest.Part{Disposition: "form-data; name=\"file\"; filename=\"a\x01b\"", Data: []byte("x")})},
					{name: "body cut short", key: env.AdminKey, status: http.StatusBadRequest,
						body: rpctest.CutClosing(rpctest.MultipartBody(rpctest.Part{Name: "file", Filename: "a.bin", Data: big}))},
					{name: "no key", status: http.StatusUnauthorized,
						body: rpctest.MultipartBody(rpctest.Part{Name: "file", Filename: "x", Data: []byte("x")})},
					{name: "unknown key", key: "rk_" + strings.Repeat("0", 40), status: http.StatusUnauthorized,
						body: rpctest.MultipartBody(rpctest.Part{Name: "file", Filename: "x", Data: []byte("x")})},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						before, otherBefore := env.State(t, admin), env.State(t, env.Client(otherKey))
						ct := tc.contentType
						switch ct {
						case "":
							ct = "multipart/form-data; boundary=" + rpctest.Boundary
						case "-":
							ct = ""
						}
						r := rpctest.PostUpload(t, env.Server, tc.key, ct, tc.body)
						rpctest.WantUploadError(t, r, tc.status)
						env.WaitState(t, admin, before)
						if after := env.State(t, env.Client(otherKey)); after.Total != otherBefore.Total {
							t.Errorf("another org's files changed: %v, was %v", after, otherBefore)
						}
					})
				}
			})

			t.Run("aborted upload leaves nothing", func(t *testing.T) {
				before := env.State(t, admin)
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
				chunk := rpctest.Random(t, 1<<20)
				for i := 0; i < 20; i++ {
					if _, err := conn.Write(chunk); err != nil {
						t.Fatalf("write body: %v", err)
					}
				}
				testutil.Eventually(t, testutil.Medium, "the upload to be under way in the store", func() bool {
					return len(env.Leftovers(t)) > 0
				})
				conn.Close()
				env.WaitState(t, admin, before)
			})

			t.Run("size limit", func(t *testing.T) {
				const limit = 1 << 20
				lenv := testutil.StartStoreServer(t, m, platform.Config{MaxUpload: limit})
				lc := lenv.Admin()
				out := rpctest.Upload(t, lc, "exact.bin", "", rpctest.Random(t, limit))
				if out.Size != limit {
					t.Errorf("an upload of exactly the limit stored %d bytes", out.Size)
				}
				before := lenv.State(t, lc)
				for _, n := range []int{limit + 1, 3 * limit} {
					t.Run(fmt.Sprintf("streamed %d bytes", n), func(t *testing.T) {
						_, err := lc.UploadFile(rpctest.Ctx(t), "big.bin", "", bytes.NewReader(rpctest.Random(t, n)))
						ce := rpctest.WantClientError(t, err, http.StatusRequestEntityTooLarge, methods.PayloadTooLarge, "")
						if !strings.Contains(ce.Message, "1 MiB") {
							t.Errorf("the message %q does not name the limit", ce.Message)
						}
						lenv.WaitState(t, lc, before)
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
					msg := rpctest.WantUploadError(t, rpctest.ReadReply(t, resp), http.StatusRequestEntityTooLarge)
					if !strings.Contains(msg, "1 MiB") {
						t.Errorf("the message %q does not name the limit", msg)
					}
					lenv.WaitState(t, lc, before)
				})
			})
		})
	}
}

// ---------------------------------------------------------------------------
// Download, files.get/list/delete
// ---------------------------------------------------------------------------

func TestFileDownloads(t *testing.T) {
	t.Parallel()
	for _, kind := range testutil.BlobStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := testutil.StartStoreServer(t, testutil.MinIOFor(t, kind), platform.Config{})
			admin := env.Admin()
			_, otherKey := env.OrgKey(t, "download-other", "k", false)
			data := rpctest.Random(t, 100_000)
			n := len(data)
			f := rpctest.Upload(t, admin, "report.txt", "text/plain; charset=utf-8", data)

			t.Run("whole file", func(t *testing.T) {
				r := rpctest.FetchFile(t, env.Server, http.MethodGet, env.AdminKey, f.FileID)
				if r.Status != http.StatusOK || !bytes.Equal(r.Body, data) {
					t.Fatalf("HTTP %d, %d bytes (want %d)", r.Status, len(r.Body), n)
				}
				if got := r.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q", got)
				}
				if got := r.Header.Get("Content-Length"); got != fmt.Sprint(n) {
					t.Errorf("Content-Length %q, want %d", got, n)
				}
				disp, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
				if err != nil || disp != "attachment" || params["filename"] != "report.txt" {
					t.Errorf("Content-Disposition %q", r.Header.Get("Content-Disposition"))
				}
				if got := r.Header.Get("Accept-Ranges"); got != "bytes" {
					t.Errorf("Accept-Ranges %q", got)
				}
			})

			t.Run("head", func(t *testing.T) {
				r := rpctest.FetchFile(t, env.Server, http.MethodHead, env.AdminKey, f.FileID)
				if r.Status != http.StatusOK || len(r.Body) != 0 || r.Header.Get("Content-Length") != fmt.Sprint(n) {
					t.Errorf("HEAD: HTTP %d, %d bytes of body, Content-Length %q", r.Status, len(r.Body), r.Header.Get("Content-Length"))
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
						resp, err := admin.DownloadFile(rpctest.Ctx(t), f.FileID, tc.rng)
						if err != nil {
							t.Fatal(err)
						}
						r := rpctest.ReadReply(t, resp)
						if tc.status == http.StatusRequestedRangeNotSatisfiable {
							rpctest.WantError(t, r, tc.status, methods.InvalidInput)
						} else if r.Status != tc.status || !bytes.Equal(r.Body, data[tc.from:tc.to]) {
							t.Fatalf("HTTP %d with %d bytes, want %d with bytes [%d, %d)", r.Status, len(r.Body), tc.status, tc.from, tc.to)
						}
						if got := r.Header.Get("Content-Range"); got != tc.contentRange {
							t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
						}
					})
				}
			})

			t.Run("unicode filename", func(t *testing.T) {
				name := "résumé 2026 ✓.pdf"
				u := rpctest.Upload(t, admin, name, "application/pdf", []byte("%PDF-1.4"))
				r := rpctest.FetchFile(t, env.Server, http.MethodGet, env.AdminKey, u.FileID)
				_, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
				if err != nil || params["filename"] != name {
					t.Errorf("Content-Disposition %q gives %q, want %q", r.Header.Get("Content-Disposition"), params["filename"], name)
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
						rpctest.WantError(t, rpctest.FetchFile(t, env.Server, http.MethodGet, tc.key, tc.id), tc.status, tc.typ)
					})
				}
				other := env.Client(otherKey)
				_, err := other.GetFile(rpctest.Ctx(t), f.FileID)
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = other.DeleteFile(rpctest.Ctx(t), f.FileID)
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				list, err := other.ListFiles(rpctest.Ctx(t), methods.ListFilesInput{})
				if err != nil || list.Total != 0 || len(list.Files) != 0 {
					t.Errorf("another org's files.list: %+v, %v", list, err)
				}
				// The other org's attempts changed nothing.
				if got := rpctest.Download(t, admin, f.FileID); !bytes.Equal(got, data) {
					t.Error("the file changed")
				}
			})

			t.Run("delete removes the object", func(t *testing.T) {
				d := rpctest.Upload(t, admin, "doomed.txt", "", []byte("bye"))
				if !slices.Contains(env.Objects(t), d.R2Key) {
					t.Fatalf("no object %s after upload", d.R2Key)
				}
				if _, err := admin.DeleteFile(rpctest.Ctx(t), d.FileID); err != nil {
					t.Fatalf("files.delete: %v", err)
				}
				if slices.Contains(env.Objects(t), d.R2Key) {
					t.Errorf("object %s still stored after files.delete", d.R2Key)
				}
				rpctest.WantError(t, rpctest.FetchFile(t, env.Server, http.MethodGet, env.AdminKey, d.FileID), http.StatusNotFound, methods.NotFound)
				_, err := admin.GetFile(rpctest.Ctx(t), d.FileID)
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = admin.DeleteFile(rpctest.Ctx(t), d.FileID)
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
			})
		})
	}
}

func TestFilesListGetDelete(t *testing.T) {
	t.Parallel()
	env := testutil.StartStoreServer(t, nil, platform.Config{})
	admin := env.Admin()
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, rpctest.Upload(t, admin, fmt.Sprintf("f%d.txt", i), "", []byte(fmt.Sprint(i))).FileID)
	}
	newestFirst := make([]string, len(ids))
	for i, id := range ids {
		newestFirst[len(ids)-1-i] = id
	}

	t.Run("get shape", func(t *testing.T) {
		raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(fmt.Sprintf(`{"method":"files.get","input":{"fileId":%q}}`, ids[0])))
		if err != nil {
			t.Fatal(err)
		}
		rpctest.WantKeys(t, "files.get", raw, "id", "filename", "mimeType", "size", "sha256", "r2Key", "createdAt")
	})

	t.Run("pages newest first", func(t *testing.T) {
		var got []string
		for _, off := range []int{0, 3, 6} {
			limit, offset := 3, off
			page, err := admin.ListFiles(rpctest.Ctx(t), methods.ListFilesInput{Limit: &limit, Offset: &offset})
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
		page, err := admin.ListFiles(rpctest.Ctx(t), methods.ListFilesInput{Limit: &limit, Offset: &offset})
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
				_, err := admin.ListFiles(rpctest.Ctx(t), tc.in)
				rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, tc.field)
			})
		}
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := admin.DeleteFile(rpctest.Ctx(t), ids[3]); err != nil {
			t.Fatal(err)
		}
		list, err := admin.ListFiles(rpctest.Ctx(t), methods.ListFilesInput{})
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
	env := testutil.StartStoreServer(t, nil, platform.Config{})
	admin := env.Admin()
	_, otherKey := env.OrgKey(t, "resources-other", "k", false)
	other := env.Client(otherKey)
	upload := func(name string) *methods.UploadFileOutput {
		return rpctest.Upload(t, admin, name, "text/markdown", []byte("# "+name+"\n"))
	}
	f1, f2, f3 := upload("one.md"), upload("two.md"), upload("three.md")

	var res *methods.CreateResourceOutput
	t.Run("create", func(t *testing.T) {
		raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(fmt.Sprintf(
			`{"method":"resources.create","input":{"slug":"prompts","name":"Prompts","description":"The prompt pack.","fileId":%q,"label":"v1"}}`, f1.FileID)))
		if err != nil {
			t.Fatalf("resources.create: %v", err)
		}
		rpctest.WantKeys(t, "resources.create", raw, "resourceId", "revisionId")
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
	})
	if res == nil {
		t.FailNow()
	}

	t.Run("get by id and by slug", func(t *testing.T) {
		for _, in := range []string{fmt.Sprintf(`{"resourceId":%q}`, res.ResourceID), `{"resourceSlug":"prompts"}`} {
			raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(`{"method":"resources.get","input":`+in+`}`))
			if err != nil {
				t.Fatalf("resources.get %s: %v", in, err)
			}
			rpctest.WantKeys(t, "resources.get", raw, "id", "slug", "name", "description", "latestRevision", "createdAt")
			latest := rpctest.Field(t, raw, "latestRevision")
			rpctest.WantKeys(t, "latestRevision", latest, "id", "label", "file", "createdAt")
			rpctest.WantKeys(t, "latestRevision.file", rpctest.Field(t, latest, "file"), "id", "filename", "mimeType", "size")
			var got methods.GetResourceOutput
			_ = json.Unmarshal(raw, &got)
			if got.ID != res.ResourceID || got.Slug != "prompts" || rpctest.Deref(got.Name) != "Prompts" || rpctest.Deref(got.Description) != "The prompt pack." ||
				got.LatestRevision == nil || got.LatestRevision.ID != res.RevisionID || rpctest.Deref(got.LatestRevision.Label) != "v1" ||
				got.LatestRevision.File != (methods.ResourceFile{ID: f1.FileID, Filename: "one.md", MimeType: "text/markdown", Size: f1.Size}) {
				t.Errorf("resources.get %s: %s", in, raw)
			}
		}
	})

	t.Run("optional fields are null", func(t *testing.T) {
		out, err := admin.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "bare", FileID: f3.FileID})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(fmt.Sprintf(`{"method":"resources.get","input":{"resourceId":%q}}`, out.ResourceID)))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"name", "description"} {
			if v := rpctest.Field(t, raw, k); string(v) != "null" {
				t.Errorf("%s = %s, want null", k, v)
			}
		}
		if v := rpctest.Field(t, rpctest.Field(t, raw, "latestRevision"), "label"); string(v) != "null" {
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
				_, err := admin.CreateResource(rpctest.Ctx(t), tc.in)
				rpctest.WantClientError(t, err, tc.status, tc.typ, tc.field)
			})
		}
		// The longest allowed slug works.
		if _, err := admin.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: strings.Repeat("a", 63), FileID: f3.FileID}); err != nil {
			t.Errorf("a 63-character slug: %v", err)
		}
	})

	t.Run("add revisions", func(t *testing.T) {
		byID, err := admin.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: f2.FileID, Label: "v2"})
		if err != nil {
			t.Fatal(err)
		}
		feWantLatest(t, admin, "prompts", byID.RevisionID, "v2", f2)
		bySlug, err := admin.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceSlug: "prompts", FileID: f3.FileID})
		if err != nil {
			t.Fatal(err)
		}
		feWantLatest(t, admin, "prompts", bySlug.RevisionID, "", f3)
		// Each new revision is the latest at once, however quickly they
		// follow each other.
		for i := 0; i < 25; i++ {
			f := []*methods.UploadFileOutput{f1, f2}[i%2]
			label := fmt.Sprintf("quick-%d", i)
			rev, err := admin.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceSlug: "prompts", FileID: f.FileID, Label: label})
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
				_, err := admin.AddResourceRevision(rpctest.Ctx(t), tc.in)
				rpctest.WantClientError(t, err, tc.status, tc.typ, tc.field)
			})
		}
		_, err := admin.GetResource(rpctest.Ctx(t), methods.GetResourceInput{})
		rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, "resourceId")
		_, err = admin.GetResource(rpctest.Ctx(t), methods.GetResourceInput{ResourceID: res.ResourceID, ResourceSlug: "bare"})
		rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, "resourceSlug")
	})

	t.Run("list", func(t *testing.T) {
		list, err := admin.ListResources(rpctest.Ctx(t), methods.ListResourcesInput{})
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
		page, err := admin.ListResources(rpctest.Ctx(t), methods.ListResourcesInput{Limit: &limit, Offset: &offset})
		if err != nil || len(page.Resources) != 1 || page.Resources[0].Slug != "bare" {
			t.Errorf("page 2 of 1: %+v, %v", page, err)
		}
	})

	t.Run("another org", func(t *testing.T) {
		_, err := other.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "theirs", FileID: f1.FileID})
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		for _, in := range []methods.GetResourceInput{{ResourceID: res.ResourceID}, {ResourceSlug: "prompts"}} {
			_, err := other.GetResource(rpctest.Ctx(t), in)
			rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		}
		of := rpctest.Upload(t, other, "theirs.md", "", []byte("theirs"))
		_, err = other.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: of.FileID})
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		// Nor can we use their file.
		_, err = admin.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: of.FileID})
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		_, err = admin.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "borrowed", FileID: of.FileID})
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		_, err = other.DeleteResource(rpctest.Ctx(t), res.ResourceID)
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		// Slugs are per organization.
		if _, err := other.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "prompts", FileID: of.FileID}); err != nil {
			t.Errorf("another org cannot use the slug: %v", err)
		}
		list, err := other.ListResources(rpctest.Ctx(t), methods.ListResourcesInput{})
		if err != nil || len(list.Resources) != 1 || list.Resources[0].ID == res.ResourceID {
			t.Errorf("another org's list: %+v, %v", list, err)
		}
		// Its own resource does not hide ours.
		feWantLatestID(t, admin, "prompts", res.ResourceID)
	})

	t.Run("a file in use cannot be deleted", func(t *testing.T) {
		_, err := admin.DeleteFile(rpctest.Ctx(t), f1.FileID)
		rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "")
		if got := rpctest.Download(t, admin, f1.FileID); string(got) != "# one.md\n" {
			t.Errorf("the file in use downloads as %q", got)
		}
	})

	t.Run("delete", func(t *testing.T) {
		// f1 and f2 are only used by "prompts"; f3 also by "bare".
		if _, err := admin.DeleteResource(rpctest.Ctx(t), res.ResourceID); err != nil {
			t.Fatalf("resources.delete: %v", err)
		}
		for _, in := range []methods.GetResourceInput{{ResourceID: res.ResourceID}, {ResourceSlug: "prompts"}} {
			_, err := admin.GetResource(rpctest.Ctx(t), in)
			rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		}
		_, err := admin.DeleteResource(rpctest.Ctx(t), res.ResourceID)
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		for _, f := range []*methods.UploadFileOutput{f1, f2} {
			if _, err := admin.DeleteFile(rpctest.Ctx(t), f.FileID); err != nil {
				t.Errorf("files.delete %s after resources.delete: %v", f.Filename, err)
			}
		}
		_, err = admin.DeleteFile(rpctest.Ctx(t), f3.FileID)
		rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "")
		// The slug is free again.
		f4 := upload("four.md")
		if _, err := admin.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "prompts", FileID: f4.FileID}); err != nil {
			t.Errorf("re-create a deleted slug: %v", err)
		}
	})
}

// feWantLatest checks a resource's latest revision; label "" means null.
func feWantLatest(t testing.TB, c *client.Client, slug, revID, label string, f *methods.UploadFileOutput) bool {
	t.Helper()
	got, err := c.GetResource(rpctest.Ctx(t), methods.GetResourceInput{ResourceSlug: slug})
	if err != nil {
		t.Fatalf("resources.get: %v", err)
	}
	l := got.LatestRevision
	if l == nil || l.ID != revID || rpctest.Deref(l.Label) != label || (label == "") != (l.Label == nil) || l.File.ID != f.FileID || l.File.Filename != f.Filename {
		t.Errorf("latestRevision %+v, want revision %s label %q file %s", l, revID, label, f.FileID)
		return false
	}
	return true
}

func feWantLatestID(t testing.TB, c *client.Client, slug, id string) {
	t.Helper()
	got, err := c.GetResource(rpctest.Ctx(t), methods.GetResourceInput{ResourceSlug: slug})
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
	f := rpctest.Upload(t, c, slug+".archive", "", archive)
	out, err := c.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: slug, FileID: f.FileID})
	return out, f, err
}

// ---------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------

func TestBundles(t *testing.T) {
	t.Parallel()
	for _, kind := range testutil.BlobStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := testutil.StartStoreServer(t, testutil.MinIOFor(t, kind), platform.Config{})
			admin := env.Admin()
			_, otherKey := env.OrgKey(t, "bundles-other", "k", false)
			other := env.Client(otherKey)

			v1File := rpctest.Upload(t, admin, "agent-1.0.0.tar.gz", "application/gzip", feTarGz(t, feAgentFiles(feManifest("1.0.0", nil))...))
			var v1 methods.PublishBundleOutput
			t.Run("publish", func(t *testing.T) {
				raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(fmt.Sprintf(
					`{"method":"bundles.publish","input":{"slug":"echo","fileId":%q,"name":"Echo","description":"Echoes."}}`, v1File.FileID)))
				if err != nil {
					t.Fatalf("bundles.publish: %v", err)
				}
				rpctest.WantKeys(t, "bundles.publish", raw, "bundleId", "revisionId", "version")
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
				rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "manifest.version")
				// Even the very same file.
				_, err = admin.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: "echo", FileID: v1File.FileID})
				rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "manifest.version")
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
				raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(`{"method":"bundles.list","input":{}}`))
				if err != nil {
					t.Fatal(err)
				}
				rpctest.WantKeys(t, "bundles.list", raw, "bundles")
				var items []json.RawMessage
				_ = json.Unmarshal(rpctest.Field(t, raw, "bundles"), &items)
				if len(items) != 1 {
					t.Fatalf("bundles.list: %s", raw)
				}
				rpctest.WantKeys(t, "a bundle", items[0], "id", "slug", "name", "description", "latestRevision", "createdAt")
				rpctest.WantKeys(t, "latestRevision", rpctest.Field(t, items[0], "latestRevision"), "id", "version", "r2Key", "createdAt")
				var b methods.BundleSummary
				_ = json.Unmarshal(items[0], &b)
				if b.ID != v1.BundleID || b.Slug != "echo" || rpctest.Deref(b.Name) != "Echo" || rpctest.Deref(b.Description) != "Echoes." || b.LatestRevision == nil ||
					b.LatestRevision.ID != v2.RevisionID || rpctest.Deref(b.LatestRevision.Version) != "2.0.0" || b.LatestRevision.R2Key != v2File.R2Key {
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
					list, err := admin.ListBundles(rpctest.Ctx(t), methods.ListBundlesInput{})
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
					got, err := admin.GetBundle(rpctest.Ctx(t), in)
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
						m.Env["AGENT_MODE"] != "test" || rpctest.Deref(m.Health) != "/health" {
						t.Errorf("revision 1.0.0: %+v", r)
					}
					info, err := admin.GetFile(rpctest.Ctx(t), v1File.FileID)
					if err != nil || r.SHA256 != info.SHA256 {
						t.Errorf("revision sha256 %s, file %+v (%v)", r.SHA256, info, err)
					}
				}
			})

			var bySlug, byRev string
			t.Run("instances pin a revision", func(t *testing.T) {
				a, err := admin.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "latest", BundleSlug: "echo"})
				if err != nil {
					t.Fatalf("instances.create with bundleSlug: %v", err)
				}
				b, err := admin.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "pinned", BundleRevisionID: v1.RevisionID})
				if err != nil {
					t.Fatalf("instances.create with bundleRevisionId: %v", err)
				}
				bySlug, byRev = a.InstanceID, b.InstanceID
				for _, tc := range []struct{ id, rev string }{{bySlug, v2.RevisionID}, {byRev, v1.RevisionID}} {
					got, err := admin.GetInstance(rpctest.Ctx(t), tc.id)
					if err != nil || got.BundleSlug != "echo" || got.BundleRevisionID != tc.rev {
						t.Errorf("instances.get %s: %+v, %v; want echo revision %s", tc.id, got, err, tc.rev)
					}
				}
				_, err = other.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "theirs", BundleRevisionID: v1.RevisionID})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = other.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "theirs", BundleSlug: "echo"})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
			})

			t.Run("a published archive cannot be deleted", func(t *testing.T) {
				for _, f := range []*methods.UploadFileOutput{v1File, v2File} {
					_, err := admin.DeleteFile(rpctest.Ctx(t), f.FileID)
					rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "")
				}
				if len(rpctest.Download(t, admin, v1File.FileID)) != int(v1File.Size) {
					t.Error("the archive does not download whole")
				}
			})

			t.Run("another org", func(t *testing.T) {
				list, err := other.ListBundles(rpctest.Ctx(t), methods.ListBundlesInput{})
				if err != nil || len(list.Bundles) != 0 {
					t.Errorf("another org's bundles.list: %+v, %v", list, err)
				}
				for _, in := range []methods.GetBundleInput{{BundleSlug: "echo"}, {BundleID: v1.BundleID}} {
					_, err := other.GetBundle(rpctest.Ctx(t), in)
					rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
					_, err = other.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput(in))
					rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				}
				_, err = other.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: "echo", FileID: v1File.FileID})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
			})

			t.Run("delete", func(t *testing.T) {
				_, err := admin.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput{})
				rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, "bundleId")

				if _, err := admin.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput{BundleSlug: "echo"}); err != nil {
					t.Fatalf("bundles.delete by slug: %v", err)
				}
				quick, err := admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "quick"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := admin.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput{BundleID: quick.ID}); err != nil {
					t.Fatalf("bundles.delete by id: %v", err)
				}
				list, err := admin.ListBundles(rpctest.Ctx(t), methods.ListBundlesInput{})
				if err != nil || len(list.Bundles) != 0 {
					t.Errorf("bundles.list after deleting both: %+v, %v", list, err)
				}
				for _, in := range []methods.GetBundleInput{{BundleSlug: "echo"}, {BundleID: v1.BundleID}, {BundleID: quick.ID}} {
					_, err := admin.GetBundle(rpctest.Ctx(t), in)
					rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
					_, err = admin.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput(in))
					rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				}
				// Pinned instances keep their revision.
				for _, tc := range []struct{ id, rev string }{{bySlug, v2.RevisionID}, {byRev, v1.RevisionID}} {
					got, err := admin.GetInstance(rpctest.Ctx(t), tc.id)
					if err != nil || got.BundleSlug != "echo" || got.BundleRevisionID != tc.rev {
						t.Errorf("instances.get %s after bundles.delete: %+v, %v", tc.id, got, err)
					}
				}
				// New instances cannot pin a deleted bundle.
				_, err = admin.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "late", BundleSlug: "echo"})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = admin.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "late", BundleRevisionID: v1.RevisionID})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				// The archives stay for the pinned instances.
				_, err = admin.DeleteFile(rpctest.Ctx(t), v1File.FileID)
				rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "")
			})

			t.Run("the slug can be published again", func(t *testing.T) {
				out, err := admin.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: "echo", FileID: v1File.FileID})
				if err != nil {
					t.Fatalf("publish to a deleted slug: %v", err)
				}
				if out.BundleID == v1.BundleID || out.Version != "1.0.0" {
					t.Errorf("republish: %+v, the deleted bundle was %s", out, v1.BundleID)
				}
				got, err := admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "echo"})
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
	env := testutil.StartStoreServer(t, nil, platform.Config{})
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
			before, err := admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "target"})
			if err != nil {
				t.Fatal(err)
			}
			var f *methods.UploadFileOutput
			if tc.archive == nil {
				f = rpctest.StreamUpload(t, admin, "bomb.tar.gz", feBomb)
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
	bin := testutil.RoostBinary(t)
	env := testutil.StartStoreServer(t, nil, platform.Config{})
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
				got, err := admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "cli-agent"})
				if err != nil || len(got.Revisions) == 0 {
					t.Fatalf("bundles.get: %+v, %v", got, err)
				}
				latest := got.Revisions[0]
				if latest.Version != tc.version || !strings.Contains(stdout, latest.ID) || !strings.Contains(stdout, "version "+tc.version) {
					t.Errorf("stdout %q does not name the published revision %s (version %s)", stdout, latest.ID, latest.Version)
				}
				entries := feTarEntries(t, rpctest.Download(t, admin, latest.FileID))
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
				before := env.State(t, admin)
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
				env.WaitState(t, admin, before)
			})
		}
		got, err := admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "cli-agent"})
		if err != nil || len(got.Revisions) != 3 {
			t.Errorf("the refused pushes changed the bundle: %+v, %v", got, err)
		}
	})
}
