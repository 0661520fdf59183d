package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var roostBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// RoostBinary builds ./cmd/roost once per test process and returns its path.
// Nodes need a real roost binary: they start sandboxes with it.
func RoostBinary(t testing.TB) string {
	t.Helper()
	roostBin.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "roost-bin-*")
		if err != nil {
			roostBin.err = err
			return
		}
		// Sandboxes run as unprivileged uids: they must reach the binary.
		_ = os.Chmod(dir, 0o755)
		roostBin.path = filepath.Join(dir, "roost")
		cmd := exec.Command("go", "build", "-o", roostBin.path, "./cmd/roost")
		cmd.Dir = root
		roostBin.out, roostBin.err = cmd.CombinedOutput()
	})
	if roostBin.err != nil {
		t.Fatalf("build roost: %v\n%s", roostBin.err, roostBin.out)
	}
	return roostBin.path
}
