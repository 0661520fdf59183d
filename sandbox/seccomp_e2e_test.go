package sandbox_test

import (
	"os"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/platform"
)

// TestSeccomp: every process of a sandbox runs under the node's seccomp
// filter. New namespaces (`unshare -Ur` makes no root), mounts, keyrings,
// bpf, perf events, kexec and modules and the rest are refused with EPERM,
// clone3 answers ENOSYS; ordinary work (git, python, node, a C compiler,
// threads) still runs.
func TestSeccomp(t *testing.T) {
	for _, tool := range []string{"/usr/bin/git", "/usr/bin/python3", "/usr/bin/node", "/usr/bin/cc", "/usr/bin/unshare"} {
		if _, err := os.Stat(tool); err != nil {
			testutil.Require(t, tool, "apt-get install git python3 nodejs gcc util-linux (.ci/run does)")
		}
	}
	e := sandboxtest.Start(t, platform.Config{})
	e.Publish("probe", "-tick", "1h")
	i := e.Instance("seccomp", "default", "probe")

	if got := i.Sh(t, "grep -E '^Seccomp:' /proc/self/status"); !strings.Contains(got, "2") {
		t.Errorf("/proc/self/status says %q, want Seccomp: 2 (filtered)", got)
	}
	res := i.Exec(t, "unshare -Ur id -u")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "Operation not permitted") {
		t.Errorf("unshare -Ur: exit %d, stdout %q, stderr %q; want refused with EPERM", res.ExitCode, res.Stdout, res.Stderr)
	}

	want := map[string]string{"getpid": "0", "unshare-files": "0", "clone3": "38"}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(i.Sh(t, "/agent/agent probe-syscalls")), "\n") {
		if name, errno, ok := strings.Cut(line, " "); ok {
			got[name] = errno
		}
	}
	if len(got) < 20 {
		t.Fatalf("the probe answered %v", got)
	}
	for name, errno := range got {
		w := want[name]
		if w == "" {
			w = "1" // EPERM
		}
		if errno != w {
			t.Errorf("%s: errno %s inside the sandbox, want %s", name, errno, w)
		}
	}

	for _, work := range []struct{ name, cmd, want string }{
		{"git", `cd /workspace && git init -q w && cd w && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m one && git log --oneline | wc -l`, "1"},
		{"python threads", `python3 -c 'import threading; t=[threading.Thread(target=lambda: None) for _ in range(8)]; [x.start() for x in t]; [x.join() for x in t]; print(6*7)'`, "42"},
		{"python subprocess", `python3 -c 'import subprocess; print(subprocess.run(["echo","sub"],capture_output=True,text=True).stdout.strip())'`, "sub"},
		{"node", `node -e 'require("child_process").execFileSync("true"); console.log(6*7)'`, "42"},
		{"cc", `cd /tmp && printf '#include <stdio.h>\nint main(){printf("%%d\\n",6*7);return 0;}\n' > h.c && cc -o h h.c && ./h`, "42"},
	} {
		r := i.Exec(t, work.cmd)
		if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != work.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %s", work.name, r.ExitCode, r.Stdout, r.Stderr, work.want)
		}
	}
}
