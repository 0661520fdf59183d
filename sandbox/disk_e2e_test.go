package sandbox_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// TestDiskLimit: a template's diskMb gives the workspace a file system of
// its own: writing past it is ENOSPC inside with an answer that says so,
// the sandbox goes on, the node's metrics show the use, and nothing of it
// (mount, loop device, image) stays after the sandbox ends.
func TestDiskLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.Require(t, "a root node (disk limits mount an image per workspace)", "run the suite as root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		testutil.Require(t, "loop devices (/dev/loop-control)", "a machine with the loop module")
	}
	tpl := sbTemplates(t, map[string]map[string]any{
		"disk": {"name": "Small disk", "diskMb": 64},
	})
	e := sandboxtest.Start(t, platform.Config{TemplatesDir: tpl})
	i := e.Instance("disk", "disk", "")
	id := i.Ensure(t)
	if d := i.Events("sandbox_running"); len(d) == 0 || !strings.Contains(d[0].Detail, "disk true") {
		t.Fatalf("sandbox_running %+v does not say the disk limit holds", d)
	}
	got := i.Sh(t, "ls -A /workspace; echo keep > /workspace/keep; df -m --output=size /workspace | tail -1")
	if size, err := strconv.Atoi(strings.TrimSpace(got)); err != nil || size < 40 || size > 64 {
		t.Errorf("the workspace: %q; want an empty file system of about 64 MiB (less ext4's own)", got)
	}
	o := i.Exec(t, "head -c 100M /dev/zero > /workspace/big")
	if o.ExitCode == 0 || !o.DiskFull || !strings.Contains(o.Stderr, "No space left on device") || !strings.Contains(o.Stderr, "roost: the workspace is full (limit 64 MiB)") {
		t.Errorf("writing 100 MB into 64 MiB: exit %d, diskFull %v, stderr %q; want ENOSPC and a sentence", o.ExitCode, o.DiskFull, o.Stderr)
	}
	var seen bool
	for _, d := range e.Srv.LocalNode().Metrics().Disks {
		if d.SandboxID == id && d.LimitMB > 50 && d.UsedMB > 50 {
			seen = true
		}
	}
	if !seen {
		t.Errorf("node metrics show no full disk of %s: %+v", id, e.Srv.LocalNode().Metrics().Disks)
	}
	if got := i.Sh(t, "rm /workspace/big; cat /workspace/keep"); got != "keep" {
		t.Errorf("after the full disk: %q", got)
	}
	if s := i.SandboxState(); s != methods.SandboxRunning {
		t.Errorf("sandbox state %q, want running", s)
	}
	dir := filepath.Join(e.NodeDir(), "sandboxes", id)
	sandboxtest.Must[methods.OKOutput](t, i, methods.TerminateSandbox, map[string]any{"sandboxId": i.StatusNow().Sandbox.E2BID})
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), dir) {
		t.Errorf("the workspace is still mounted after terminate")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the sandbox's directory (and image) stays: %v", err)
	}
	if out, _ := os.ReadFile("/sys/block/loop0/loop/backing_file"); strings.Contains(string(out), dir) {
		t.Errorf("a loop device still holds the image: %s", out)
	}
}
