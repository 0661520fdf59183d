package rpctest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
)

// UploadURL is the upload endpoint of srv.
func UploadURL(srv *testutil.Server) string { return srv.URL + "/api/v1/files/upload" }

// FileURL is the download endpoint of the file id on srv.
func FileURL(srv *testutil.Server, id string) string {
	return srv.URL + "/api/v1/files/" + url.PathEscape(id)
}

// Boundary is the boundary of the multipart bodies Multipart builds.
const Boundary = "fe-boundary-7f3a"

// Part is one part of a hand-made multipart body. Disposition is the
// whole Content-Disposition value when set; else it is form-data with
// Name and Filename.
type Part struct {
	Name, Filename, Disposition, ContentType string
	Data                                     []byte
}

// Multipart builds a multipart/form-data body by hand, so that its headers
// are exactly what the test says, and returns its Content-Type and body.
func Multipart(parts ...Part) (string, []byte) {
	var b bytes.Buffer
	for _, p := range parts {
		cd := p.Disposition
		if cd == "" {
			cd = fmt.Sprintf(`form-data; name=%q; filename=%q`, p.Name, p.Filename)
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: %s\r\n", Boundary, cd)
		if p.ContentType != "" {
			fmt.Fprintf(&b, "Content-Type: %s\r\n", p.ContentType)
		}
		b.WriteString("\r\n")
		b.Write(p.Data)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", Boundary)
	return "multipart/form-data; boundary=" + Boundary, b.Bytes()
}

// MultipartBody is the body of Multipart.
func MultipartBody(parts ...Part) []byte {
	_, b := Multipart(parts...)
	return b
}

// CutClosing drops a multipart body's closing boundary: the body ends
// cleanly as HTTP, but its last part never ends.
func CutClosing(body []byte) []byte {
	i := bytes.LastIndex(body, []byte("\r\n--"))
	return body[:i]
}

// PostUpload posts a raw body to the upload endpoint with the API key
// ("" for none) and the Content-Type ("" for none).
func PostUpload(t testing.TB, srv *testutil.Server, key, contentType string, body []byte) Reply {
	t.Helper()
	req, err := http.NewRequestWithContext(Ctx(t), http.MethodPost, UploadURL(srv), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return Do(t, req)
}

// FetchFile requests a file from the download endpoint with method (GET
// or HEAD), the API key ("" for none) and extra headers (key, value pairs).
func FetchFile(t testing.TB, srv *testutil.Server, method, key, id string, kv ...string) Reply {
	t.Helper()
	req := NewRequest(t, method, FileURL(srv, id), nil, Bearer(key))
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	return Do(t, req)
}

// WantUploadError checks a failure of the upload endpoint, the status and
// exactly {"error": "<sentence>"}, and returns the sentence.
func WantUploadError(t testing.TB, r Reply, status int) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want HTTP %d, got %s", status, r)
	}
	WantKeys(t, "upload failure", r.Body, "error")
	var e methods.UploadError
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("upload failure: %v: %s", err, r.Body)
	}
	WantSentence(t, e.Error)
	return e.Error
}

// Upload uploads bytes with the Go client.
func Upload(t testing.TB, c *client.Client, name, mimeType string, data []byte) *methods.UploadFileOutput {
	t.Helper()
	out, err := c.UploadFile(Ctx(t), name, mimeType, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return out
}

// StreamUpload uploads what write produces, through a pipe, without
// holding it in memory; the upload is bound by testutil.Long.
func StreamUpload(t testing.TB, c *client.Client, name string, write func(w io.Writer) error) *methods.UploadFileOutput {
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

// Download downloads a whole file with the Go client.
func Download(t testing.TB, c *client.Client, id string) []byte {
	t.Helper()
	resp, err := c.DownloadFile(Ctx(t), id, "")
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

// Random returns n random bytes.
func Random(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// SHA256 is the hex SHA-256 of b, as files.get reports it.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
