package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// RoostProcess is `roost serve` running as a child process, for the tests
// that need the real program: its flags and banner, a crash, its memory.
type RoostProcess struct {
	// URL is the address the server printed it listens on.
	URL string
	// Key is the first admin key, printed on the first start of a data
	// dir only.
	Key string
	// PID is the server's process id.
	PID int

	cmd     *exec.Cmd
	mu      sync.Mutex
	stderr  bytes.Buffer
	stdout  bytes.Buffer // what it printed after it was ready
	exited  chan struct{}
	waitErr error // of cmd.Wait, once exited is closed
}

// syncWriter guards the buffer the process's stderr is copied into.
type syncWriter struct{ p *RoostProcess }

func (w syncWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

// Stdout returns what the server printed after it was ready.
func (p *RoostProcess) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Log returns what the server wrote to stderr so far.
func (p *RoostProcess) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

var listeningOn = regexp.MustCompile(`listening on (http://\S+)`)

// StartRoost runs `bin serve args...` with env added to this process's,
// and waits until it has printed its URL (and, when firstStart, the first
// admin key: the line of stdout that starts with rk_) and answers
// /healthz. It is killed when the test ends, if it still runs.
func StartRoost(t testing.TB, bin string, env []string, firstStart bool, args ...string) *RoostProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	// Sandboxes the server started may hold its stderr after it exits:
	// Wait does not wait for them longer than this.
	cmd.WaitDelay = Short
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &RoostProcess{cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = syncWriter{p}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start roost serve: %v", err)
	}
	p.PID = cmd.Process.Pid
	go func() { p.waitErr = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.Kill(t) })

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	ctx := Context(t, Medium)
	for p.URL == "" || (firstStart && p.Key == "") {
		select {
		case line, ok := <-lines:
			if !ok {
				<-p.exited
				t.Fatalf("roost serve ended before it was ready (exit %d):\n%s", cmd.ProcessState.ExitCode(), p.Log())
			}
			if m := listeningOn.FindStringSubmatch(line); m != nil {
				p.URL = m[1]
			}
			if strings.HasPrefix(line, "rk_") {
				p.Key = strings.TrimSpace(line)
			}
		case <-ctx.Done():
			t.Fatalf("roost serve printed no URL or key within %s:\n%s", Medium, p.Log())
		}
	}
	// Keep reading stdout, so that the server never blocks on it.
	go func() {
		for line := range lines {
			p.mu.Lock()
			p.stdout.WriteString(line + "\n")
			p.mu.Unlock()
		}
	}()
	hc := &http.Client{Timeout: Short}
	Eventually(t, Medium, "roost serve to answer /healthz", func() bool {
		resp, err := hc.Get(p.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (p *RoostProcess) Kill(t testing.TB) {
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill roost serve: %v", err)
	}
	<-p.exited
}

// Stop ends the server with SIGTERM and waits for it; the test fails when
// it does not exit cleanly within Medium (it is then killed).
func (p *RoostProcess) Stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("signal roost serve: %v", err)
	}
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Errorf("roost serve ended with %v after SIGTERM; stderr:\n%s", p.waitErr, p.Log())
		}
	case <-Context(t, Medium).Done():
		p.Kill(t)
		t.Errorf("roost serve did not stop within %s of SIGTERM; stderr:\n%s", Medium, p.Log())
	}
}
