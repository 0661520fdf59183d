package sandbox_test

// End-to-end test of templates.list and of templates read from a directory.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/sandbox"
)

func TestTemplatesList(t *testing.T) {
	dir := t.TempDir()
	small := `{"slug": "small", "name": "Small", "isolation": "none", "memoryMb": 256}`
	if err := os.WriteFile(filepath.Join(dir, "small.json"), []byte(small), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := testutil.StartServer(t, platform.Config{TemplatesDir: dir})

	v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, srv.AdminKey, methods.TemplatesList, map[string]any{}))
	rpctest.WantKeys(t, "templates.list value", v, "templates")
	items := rpctest.Decode[[]json.RawMessage](t, rpctest.Field(t, v, "templates"))
	if len(items) != 2 {
		t.Fatalf("templates.list = %s, want default and small", v)
	}
	rpctest.WantKeys(t, "default template", items[0], "slug", "name", "description", "isolation", "memoryMb", "cpus",
		"pids", "network", "tmpMb", "idleTimeoutSeconds", "startTimeoutSeconds", "requiredLabels")
	if got := string(rpctest.Field(t, items[0], "requiredLabels")); got != "[]" {
		t.Errorf("requiredLabels = %s, want []", got)
	}
	tpls := rpctest.Decode[[]methods.Template](t, rpctest.Field(t, v, "templates"))
	if tpls[0].Slug != "default" || tpls[1].Slug != "small" {
		t.Errorf("templates are %q, %q; want default, small sorted by slug", tpls[0].Slug, tpls[1].Slug)
	}
	if s := tpls[1]; s.Isolation != "none" || s.MemoryMB != 256 || s.Name != "Small" || s.Pids == 0 || s.Network != "none" || s.TmpMB != 64 {
		t.Errorf("small template = %+v; want its own values with defaults filled", s)
	}

	typed, err := srv.Admin().ListTemplates(testutil.Context(t, testutil.Short))
	if err != nil || len(typed.Templates) != 2 {
		t.Fatalf("client ListTemplates = %+v, %v", typed, err)
	}
	// A template from the directory can be used at once.
	out, err := srv.Admin().CreateInstance(testutil.Context(t, testutil.Short), methods.CreateInstanceInput{TemplateSlug: "small", Name: "small one"})
	if err != nil {
		t.Fatalf("instances.create with template small: %v", err)
	}
	got, err := srv.Admin().GetInstance(testutil.Context(t, testutil.Short), out.InstanceID)
	if err != nil || got.TemplateSlug != "small" {
		t.Errorf("instances.get = %+v, %v; want templateSlug small", got, err)
	}
}

// TestTemplateWarmPool: warmPool is 0 to 64; the pools a node is told to
// keep follow the templates and the platform's default, and leave out
// templates without isolation and those whose labels the node lacks.
func TestTemplateWarmPool(t *testing.T) {
	for _, n := range []int{-1, 65, 1000} {
		tpl := sandbox.Template{Slug: "w", WarmPool: &n}
		if err := sandbox.Validate(&tpl); err == nil {
			t.Errorf("warmPool %d was accepted", n)
		}
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"own.json":   `{"slug": "own", "warmPool": 3, "memoryMb": 512}`,
		"none.json":  `{"slug": "off", "warmPool": 0}`,
		"bare.json":  `{"slug": "bare", "isolation": "none", "warmPool": 2}`,
		"label.json": `{"slug": "gpu", "warmPool": 1, "requiredLabels": ["gpu"]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := sandbox.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	sizes := func(def int, labels ...string) map[string]int {
		out := map[string]int{}
		for _, p := range sandbox.WarmPools(ts, def, labels).Pools {
			out[p.Template] = p.Size
		}
		return out
	}
	for _, tc := range []struct {
		def    int
		labels []string
		want   map[string]int
	}{
		{0, nil, map[string]int{"own": 3}},
		{2, nil, map[string]int{"own": 3, "default": 2}},
		{2, []string{"gpu"}, map[string]int{"own": 3, "default": 2, "gpu": 1}},
	} {
		got := sizes(tc.def, tc.labels...)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("default %d, labels %v: pools %v, want %v", tc.def, tc.labels, got, tc.want)
		}
	}
}
