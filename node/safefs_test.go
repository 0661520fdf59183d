package node

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A sandbox owns its run directory and workspace and may plant links or
// FIFOs there; the node, as root, must not follow them.
func TestBeneathRefusesWhatASandboxPlants(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "sbx", "run")
	ws := filepath.Join(dir, "sbx", "workspace")
	for _, d := range []string{filepath.Join(run, "execs"), ws} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &sbox{dir: filepath.Join(dir, "sbx")}
	r := &runtime{}

	t.Run("agent log linked to a host file", func(t *testing.T) {
		if err := os.Symlink(secret, filepath.Join(run, "agent.log")); err != nil {
			t.Fatal(err)
		}
		if got := r.logs(s, 10); strings.Contains(got.Logs, "secret") {
			t.Fatalf("logs followed the link: %q", got.Logs)
		}
	})
	t.Run("exec output linked to a host file", func(t *testing.T) {
		if err := os.Symlink(secret, filepath.Join(run, "execs", "exe_1.stdout")); err != nil {
			t.Fatal(err)
		}
		if b, _, err := r.execOutput(s, "exe_1", "stdout", 0, 100); err == nil || strings.Contains(string(b), "secret") {
			t.Fatalf("exec output followed the link: %q, %v", b, err)
		}
	})
	t.Run("execs dir swapped for a link", func(t *testing.T) {
		other := filepath.Join(dir, "elsewhere")
		_ = os.MkdirAll(other, 0o755)
		_ = os.WriteFile(filepath.Join(other, "exe_2.stdout"), []byte("secret output"), 0o644)
		_ = os.Rename(filepath.Join(run, "execs"), filepath.Join(run, "execs.old"))
		if err := os.Symlink(other, filepath.Join(run, "execs")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.execOutput(s, "exe_2", "stdout", 0, 100); err == nil {
			t.Fatal("exec output went through a linked directory")
		}
	})
	t.Run("FIFO as a log does not block", func(t *testing.T) {
		fifo := filepath.Join(run, "agent.log.1")
		if err := mkfifo(fifo); err != nil {
			t.Fatal(err)
		}
		_ = r.logs(s, 10) // returns instead of blocking on the FIFO
	})
	t.Run("workspace write through a linked directory", func(t *testing.T) {
		if err := os.Symlink(dir, filepath.Join(ws, "up")); err != nil {
			t.Fatal(err)
		}
		if err := mkdirAllBeneath(ws, "up/x", os.Getuid()); err == nil {
			t.Fatal("made a directory through a link")
		}
		if f, err := openBeneath(ws, "up/planted", unix.O_WRONLY|unix.O_CREAT, 0o644); err == nil {
			f.Close()
			t.Fatal("created a file through a link")
		}
		if _, err := os.Stat(filepath.Join(dir, "planted")); err == nil {
			t.Fatal("a file appeared outside the workspace")
		}
	})
	t.Run("socket replaced by a link to another socket", func(t *testing.T) {
		other := filepath.Join(dir, "other.sock")
		ln, err := net.Listen("unix", other)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if err := os.Symlink(other, filepath.Join(run, "sup.sock")); err != nil {
			t.Fatal(err)
		}
		if c, err := dialBeneath(context.Background(), run, "sup.sock"); err == nil {
			c.Close()
			t.Fatal("dialled through a link")
		}
	})
	t.Run("the real socket is reached", func(t *testing.T) {
		_ = os.Remove(filepath.Join(run, "sup.sock"))
		ln, err := net.Listen("unix", filepath.Join(run, "sup.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := dialBeneath(context.Background(), run, "sup.sock")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
}
