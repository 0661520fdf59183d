package bundles_test

// End-to-end tests of `roost bundles push`, the CLI that packs a directory
// and publishes it.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// writeTree writes files (path → content; content "->target" makes a
// symlink) under a new temp dir.
func writeTree(t *testing.T, files map[string]string) string {
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

// tarEntries lists a .tar.gz's entries as "name" or "name -> link".
func tarEntries(t testing.TB, archive []byte) []string {
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
			"roost.json":  manifestJSON(version, edit),
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
				dir := writeTree(t, agent(tc.version, nil))
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
				entries := tarEntries(t, rpctest.Download(t, admin, latest.FileID))
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
			{"roost.json in a subdirectory", map[string]string{"agent/roost.json": manifestJSON("1.1.0", nil)}, nil, "roost.json"},
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
				dir := writeTree(t, tc.files)
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
