package files_test

// End-to-end tests of downloads, against both blob stores: headers,
// ranges, refusals, and deletion of the stored object.

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

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
