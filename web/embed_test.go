package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestHandler checks the committed build: every page path answers
// index.html, and every asset index.html names is embedded and served
// with a long cache lifetime.
func TestHandler(t *testing.T) {
	h := Handler()
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	index, err := fs.ReadFile(dist, "dist/index.html")
	if err != nil {
		t.Fatalf("web/dist/index.html is not embedded (run npm run build in web): %v", err)
	}
	for _, path := range []string{"/", "/console", "/i/ins_123", "/index.html"} {
		t.Run(path, func(t *testing.T) {
			rec := get(path)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d", path, rec.Code)
			}
			if got := rec.Body.String(); got != string(index) {
				t.Fatalf("GET %s did not answer index.html", path)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("GET %s: Cache-Control %q", path, cc)
			}
		})
	}
	assets := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(assets) < 2 {
		t.Fatalf("index.html names %d assets, want the script and the stylesheet", len(assets))
	}
	for _, m := range assets {
		t.Run(m[1], func(t *testing.T) {
			rec := get(m[1])
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d (index.html names an asset that is not in web/dist)", m[1], rec.Code)
			}
			if !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
				t.Errorf("GET %s: Cache-Control %q", m[1], rec.Header().Get("Cache-Control"))
			}
			body, _ := io.ReadAll(rec.Body)
			if len(body) == 0 {
				t.Fatalf("GET %s: empty", m[1])
			}
		})
	}
}
