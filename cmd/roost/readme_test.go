package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roosthq/roost/platform"
)

// The README's flag table of `roost serve` sits between these markers.
const (
	serveFlagsBegin = "<!-- roost serve flags: made by TestServeFlagsInREADME -->\n"
	serveFlagsEnd   = "<!-- end of roost serve flags -->"
)

// TestServeFlagsInREADME: the README documents every flag of `roost
// serve` as the binary defines it. ROOST_WRITE_README=1 rewrites the
// table.
func TestServeFlagsInREADME(t *testing.T) {
	var cfg platform.Config
	fs, _ := serveFlags(&cfg)
	want := flagTable(fs)
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, serveFlagsBegin), strings.Index(s, serveFlagsEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no flag table of roost serve between %q and %q", strings.TrimSpace(serveFlagsBegin), serveFlagsEnd)
	}
	got := s[i+len(serveFlagsBegin) : j]
	if got == want {
		return
	}
	if os.Getenv("ROOST_WRITE_README") == "1" {
		if err := os.WriteFile(path, []byte(s[:i+len(serveFlagsBegin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's table of roost serve's flags is not the binary's; run ROOST_WRITE_README=1 go test -run TestServeFlagsInREADME ./cmd/roost and commit.\nwant:\n%s", want)
}

// TestFlagTable: each flag has its row, with its variable and default.
func TestFlagTable(t *testing.T) {
	fs := newFlags("x")
	fs.String("s3-bucket", "roost", "the bucket | pipe")
	fs.Bool("quiet", false, "say less")
	fs.String("empty", "", "no default")
	got := flagTable(fs)
	for _, want := range []string{"| `--s3-bucket` | `ROOST_S3_BUCKET` | `roost` | the bucket \\| pipe |", "| `--quiet` | `ROOST_QUIET` | `false` | say less |", "| `--empty` | `ROOST_EMPTY` | none | no default |"} {
		if !strings.Contains(got, want) {
			t.Errorf("flagTable lacks %q:\n%s", want, got)
		}
	}
}
