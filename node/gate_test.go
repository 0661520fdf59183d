package node

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartGate: the gate runs the sandbox's command only on the node's
// word, with the word kept from the command's stdin; without it (the node
// died before it had put the process in the sandbox's cgroups) nothing runs.
func TestStartGate(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	run := func(stdin string) (int, string) {
		argv := gated([]string{"/bin/sh", "-c", `cat > "$0"; echo ran`, marker})
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	for _, stdin := range []string{"", "no\n", "gone", "go now\n"} {
		if code, out := run(stdin); code != 125 || out != "" {
			t.Errorf("stdin %q: exit %d, output %q; want 125 and nothing run", stdin, code, out)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("stdin %q: the command ran", stdin)
		}
	}
	code, out := run("go\nsecret for nobody\n")
	if code != 0 || out != "ran\n" {
		t.Fatalf("on the word: exit %d, output %q; want the command's", code, out)
	}
	if b, _ := os.ReadFile(marker); len(b) != 0 {
		t.Errorf("the command read %q from the gate's pipe, want nothing (its stdin is /dev/null)", b)
	}
}
