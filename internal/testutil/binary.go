package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// built is a program compiled once per test process.
type built struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

var roostBin, initBin, agentBin built

// build compiles the package pkg (relative to the repository) into a
// directory unprivileged sandboxes can read, once.
func (b *built) build(t testing.TB, pkg, name string, env ...string) string {
	t.Helper()
	b.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "roost-"+name+"-*")
		if err != nil {
			b.err = err
			return
		}
		_ = os.Chmod(dir, 0o755)
		b.path = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, b.err, b.out)
	}
	return b.path
}

// RoostBinary builds ./cmd/roost once per test process and returns its path,
// with roost-sandbox-init beside it, as `make build` leaves them. Nodes need
// a real roost binary: they start sandboxes with it (or with
// roost-sandbox-init, when they find it there).
func RoostBinary(t testing.TB) string {
	t.Helper()
	p := roostBin.build(t, "./cmd/roost", "roost")
	initBin.once.Do(func() {
		initBin.path = filepath.Join(filepath.Dir(p), "roost-sandbox-init")
		cmd := exec.Command("go", "build", "-o", initBin.path, "./cmd/roost-sandbox-init")
		_, file, _, _ := runtime.Caller(0)
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		initBin.out, initBin.err = cmd.CombinedOutput()
	})
	if initBin.err != nil {
		t.Fatalf("build ./cmd/roost-sandbox-init: %v\n%s", initBin.err, initBin.out)
	}
	return p
}

// TestAgentBinary builds ./cmd/roost-test-agent (static) once per test
// process.
func TestAgentBinary(t testing.TB) string {
	return agentBin.build(t, "./cmd/roost-test-agent", "agent", "CGO_ENABLED=0")
}
