package files_test

// End-to-end tests of uploads through a real server on a loopback port,
// with the Go client and raw HTTP, against both blob stores (a directory
// and a real MinIO): what is stored, what a refused or aborted upload
// leaves (nothing), and the size limit.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

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
