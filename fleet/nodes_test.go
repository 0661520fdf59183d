package fleet_test

// End-to-end tests of the node fleet: real `roost node` processes (and once
// a real `roost serve`) joining a platform over loopback, enrolling,
// heartbeating, dropping and coming back, and being drained, scheduled,
// removed and installed.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/rpc"
)

// flHeartbeat is the heartbeat interval of the nodes these tests start.
const flHeartbeat = time.Second

// flRoost returns the roost binary built for the tests.
func flRoost(t *testing.T) string { return testutil.RoostBinary(t) }

// flVersionOf is the version a roost binary reports (`roost version`).
func flVersionOf(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.CommandContext(testutil.Context(t, testutil.Medium), bin, "version").Output()
	v, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "roost ")
	if err != nil || !ok || v == "" {
		t.Fatalf("%s version = %q, %v", bin, out, err)
	}
	return v
}

// flEnv is the environment of child processes: this one's, without ROOST_*
// variables, which would set their flags.
func flEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROOST_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// flBuffer is a buffer that a process writes while the test reads it.
type flBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *flBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *flBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// flProc is a child process: a node, or a platform.
type flProc struct {
	name   string
	cmd    *exec.Cmd
	stdout flBuffer
	stderr flBuffer
	done   chan struct{}
	code   int
}

// flStart starts bin with args; the process is killed when the test ends.
func flStart(t *testing.T, name string, env []string, bin string, args ...string) *flProc {
	t.Helper()
	p := &flProc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = flEnv(env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		// SIGKILL ends a stopped process too.
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name, p.stderr.String())
		}
	})
	return p
}

// flNode starts `roost node` on the platform with the data dir, a name and
// a one-second heartbeat; extra adds flags (--token, --labels).
func flNode(t *testing.T, platformURL, dataDir, name string, extra ...string) *flProc {
	t.Helper()
	args := []string{"node", "--platform", platformURL, "--data", dataDir, "--name", name,
		"--heartbeat", flHeartbeat.String(), "--log-level", "debug"}
	return flStart(t, "node "+name, nil, flRoost(t), append(args, extra...)...)
}

func (p *flProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s to %s: %v", sig, p.name, err)
	}
}

// kill9 kills the process and waits for it.
func (p *flProc) kill9(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	<-p.done
}

func (p *flProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit by itself and returns its exit code.
func (p *flProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		t.Fatalf("%s still runs after %s; stderr:\n%s", p.name, d, p.stderr.String())
		return 0
	}
}

// flExits checks that a process exits non-zero on its own, saying want on
// stderr.
func flExits(t *testing.T, p *flProc, want string) {
	t.Helper()
	code := p.wait(t, testutil.Medium)
	stderr := p.stderr.String()
	if code == 0 {
		t.Errorf("%s exited 0; want a failure saying %q\nstderr:\n%s", p.name, want, stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("%s's stderr does not say %q:\n%s", p.name, want, stderr)
	}
}

func flCtx(t *testing.T) context.Context { return testutil.Context(t, testutil.Short) }

func flToken(t *testing.T, c *client.Client, in methods.CreateEnrollTokenInput) *methods.CreateEnrollTokenOutput {
	t.Helper()
	out, err := c.CreateEnrollToken(flCtx(t), in)
	if err != nil {
		t.Fatalf("nodes.createEnrollToken: %v", err)
	}
	return out
}

// flFind returns the node named name from nodes.list, or nil.
func flFind(t *testing.T, c *client.Client, name string) *methods.Node {
	t.Helper()
	list, err := c.ListNodes(flCtx(t))
	if err != nil {
		t.Fatalf("nodes.list: %v", err)
	}
	for i := range list.Nodes {
		if list.Nodes[i].Name == name {
			return &list.Nodes[i]
		}
	}
	return nil
}

// flWait waits until the node named name is listed with the status (and,
// for online nodes, its hello recorded), and returns it.
func flWait(t *testing.T, c *client.Client, name, status string, bound time.Duration) methods.Node {
	t.Helper()
	var n *methods.Node
	testutil.Eventually(t, bound, fmt.Sprintf("node %s to be %s", name, status), func() bool {
		n = flFind(t, c, name)
		if n == nil || n.Status != status {
			return false
		}
		return status != methods.NodeOnline || (n.Metrics != nil && n.LastHeartbeatAt != nil)
	})
	return *n
}

// flWaitHello waits until the node named name is online with a hello or
// heartbeat recorded after the time of last, and returns it.
func flWaitHello(t *testing.T, c *client.Client, name string, last *string, bound time.Duration) methods.Node {
	t.Helper()
	since := flTime(t, "lastHeartbeatAt", last)
	var n *methods.Node
	testutil.Eventually(t, bound, fmt.Sprintf("node %s to be online with a hello recorded after %s", name, *last), func() bool {
		n = flFind(t, c, name)
		return n != nil && n.Status == methods.NodeOnline && n.LastHeartbeatAt != nil &&
			flTime(t, "lastHeartbeatAt", n.LastHeartbeatAt).After(since)
	})
	return *n
}

func flTime(t *testing.T, what string, s *string) time.Time {
	t.Helper()
	if s == nil {
		t.Fatalf("%s is null", what)
	}
	tm, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		t.Fatalf("%s %q is not RFC 3339: %v", what, *s, err)
	}
	return tm
}

func flMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// flUnavailable checks that err is an *rpc.Error of type unavailable whose
// message says want.
func flUnavailable(t *testing.T, what string, err error, want string) *rpc.Error {
	t.Helper()
	var re *rpc.Error
	if !errors.As(err, &re) || re.Type != methods.Unavailable {
		t.Fatalf("%s = %v (%T); want an *rpc.Error of type unavailable", what, err, err)
	}
	if !strings.Contains(re.Message, want) {
		t.Errorf("%s says %q; want it to say %q", what, re.Message, want)
	}
	return re
}

// ---------------------------------------------------------------------------

func TestNodeEnrollment(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{NoLocalNode: true})
	admin := srv.Admin()

	before := time.Now()
	tok := flToken(t, admin, methods.CreateEnrollTokenInput{Labels: []string{"zone-x"}})
	if !regexp.MustCompile(`^ret_[A-Za-z0-9_-]{43}$`).MatchString(tok.Token) {
		t.Errorf("token = %q", tok.Token)
	}
	exp, err := time.Parse(time.RFC3339, tok.ExpiresAt)
	if err != nil || exp.Before(before.Add(time.Hour-time.Minute)) || exp.After(time.Now().Add(time.Hour+time.Minute)) {
		t.Errorf("expiresAt = %q (%v); want about an hour from now", tok.ExpiresAt, err)
	}
	wantCmd := "curl -fsSL '" + srv.URL + "/install.sh?token=" + url.QueryEscape(tok.Token) + "' | sh"
	if tok.InstallCommand != wantCmd {
		t.Errorf("installCommand = %q, want %q", tok.InstallCommand, wantCmd)
	}

	dir := filepath.Join(t.TempDir(), "n1")
	n1 := flNode(t, srv.URL, dir, "n1", "--token", tok.Token, "--labels", "b,a")
	n := flWait(t, admin, "n1", methods.NodeOnline, testutil.Medium)
	host, _ := os.Hostname()
	flVersion := flVersionOf(t, flRoost(t))
	if !slices.Equal(n.Labels, []string{"a", "b", "zone-x"}) {
		t.Errorf("labels = %v, want the node's a, b and the token's zone-x", n.Labels)
	}
	if n.Hostname != host || n.Version != flVersion || !strings.HasPrefix(n.ID, "node_") {
		t.Errorf("node = %+v; want hostname %q, version %q, an id node_...", n, host, flVersion)
	}
	if m := n.Metrics; m.MemoryTotalMB <= 0 || m.MemoryUsedMB <= 0 || m.MemoryUsedMB > m.MemoryTotalMB ||
		m.DiskFreeMB <= 0 || m.CPUUsage < 0 || m.CPUUsage > 1 || m.RunningSandboxes != 0 || m.Version != flVersion {
		t.Errorf("metrics = %+v", *m)
	}
	if hb := flTime(t, "lastHeartbeatAt", n.LastHeartbeatAt); hb.Before(before.Add(-time.Second)) || hb.After(time.Now().Add(time.Second)) {
		t.Errorf("lastHeartbeatAt = %s; want between the start of the test and now", hb)
	}
	flTime(t, "createdAt", &n.CreatedAt)

	// On the wire: every field of a node and of its metrics, loadAverage
	// three numbers.
	var raw map[string]json.RawMessage
	if err := admin.Call(flCtx(t), methods.NodesGet, methods.NodeRef{NodeID: n.ID}, &raw); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]json.RawMessage) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	if got, want := keys(raw), []string{"createdAt", "hostname", "id", "labels", "lastHeartbeatAt", "metrics", "name", "shared", "status", "version"}; !slices.Equal(got, want) {
		t.Errorf("nodes.get fields = %v, want %v", got, want)
	}
	var metrics map[string]json.RawMessage
	if err := json.Unmarshal(raw["metrics"], &metrics); err != nil {
		t.Fatal(err)
	}
	if got, want := keys(metrics), []string{"cpuUsage", "diskFreeMb", "loadAverage", "memoryTotalMb", "memoryUsedMb", "runningSandboxes", "version"}; !slices.Equal(got, want) {
		t.Errorf("metrics fields = %v, want %v", got, want)
	}
	var load []float64
	if err := json.Unmarshal(metrics["loadAverage"], &load); err != nil || len(load) != 3 {
		t.Errorf("loadAverage = %s; want three numbers", metrics["loadAverage"])
	}

	cred := filepath.Join(dir, "node.json")
	if m := flMode(t, cred); m != 0o600 {
		t.Errorf("%s has mode %o, want 600", cred, m)
	}
	if m := flMode(t, dir); m&0o066 != 0 {
		t.Errorf("data dir has mode %o; want others unable to read or write it", m)
	}

	t.Run("tokens refused", func(t *testing.T) {
		expired := flToken(t, admin, methods.CreateEnrollTokenInput{TTL: new(1)})
		// The platform's own view of the token says when it has expired.
		testutil.Eventually(t, testutil.Short, "the 1-second token to expire", func() bool {
			resp, err := http.Get(srv.URL + "/install.sh?token=" + url.QueryEscape(expired.Token))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusUnauthorized
		})
		cases := []struct {
			name  string
			token string
			want  string
		}{
			{"spent", tok.Token, "already used"},
			{"expired", expired.Token, "expired"},
			{"bogus", "ret_bogusbogusbogusbogusbogusbogusbogusbogusbog", "not valid"},
			{"not a token", "hello", "not valid"},
			{"none, and no credential", "", "not enrolled"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "other")
				var extra []string
				if tc.token != "" {
					extra = []string{"--token", tc.token}
				}
				flExits(t, flNode(t, srv.URL, dir, "other", extra...), tc.want)
				if _, err := os.Stat(filepath.Join(dir, "node.json")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a refused node wrote a credential (%v)", err)
				}
			})
		}
		list, err := admin.ListNodes(flCtx(t))
		if err != nil || len(list.Nodes) != 1 {
			t.Errorf("nodes.list after refused enrollments = %+v, %v; want n1 alone", list, err)
		}
	})

	// Processes started in the subtests below outlive them: they belong to
	// the whole test.
	top := t
	t.Run("one token, many at once", func(t *testing.T) {
		// Racing enrollments with one token: exactly one wins, the others
		// are told the token was used.
		tok := flToken(t, admin, methods.CreateEnrollTokenInput{})
		const racers = 8
		type answer struct {
			status int
			body   nodeapi.ErrorResponse
		}
		answers := make(chan answer, racers)
		start := make(chan struct{})
		for i := range racers {
			go func() {
				body, _ := json.Marshal(nodeapi.EnrollRequest{Token: tok.Token, Name: fmt.Sprintf("racer%d", i), Labels: []string{}})
				<-start
				resp, err := http.Post(srv.URL+nodeapi.EnrollPath, "application/json", bytes.NewReader(body))
				if err != nil {
					answers <- answer{status: -1, body: nodeapi.ErrorResponse{Error: err.Error()}}
					return
				}
				defer resp.Body.Close()
				var a answer
				a.status = resp.StatusCode
				_ = json.NewDecoder(resp.Body).Decode(&a.body)
				answers <- a
			}()
		}
		close(start)
		won := 0
		for range racers {
			a := <-answers
			switch {
			case a.status == http.StatusOK:
				won++
			case a.status == http.StatusUnauthorized && strings.Contains(a.body.Error, "already used"):
			default:
				t.Errorf("a racing enrollment answered %d %q; want 200 once, else 401 saying the token was used", a.status, a.body.Error)
			}
		}
		if won != 1 {
			t.Errorf("%d racing enrollments with one token succeeded, want exactly 1", won)
		}
		list, err := admin.ListNodes(flCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		racersListed := 0
		for _, n := range list.Nodes {
			if strings.HasPrefix(n.Name, "racer") {
				racersListed++
				if err := admin.RemoveNode(flCtx(t), n.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		if racersListed != 1 {
			t.Errorf("nodes.list shows %d racers, want 1", racersListed)
		}
	})

	t.Run("restart without a token", func(t *testing.T) {
		// A graceful stop (SIGTERM) exits 0, and the node shows offline.
		n1.signal(t, syscall.SIGTERM)
		if code := n1.wait(t, testutil.Medium); code != 0 {
			t.Errorf("n1 exited %d after SIGTERM, want 0", code)
		}
		off := flWait(t, admin, "n1", methods.NodeOffline, testutil.Short)
		n1 = flNode(top, srv.URL, dir, "n1")
		back := flWaitHello(t, admin, "n1", off.LastHeartbeatAt, testutil.Medium)
		if back.ID != n.ID {
			t.Errorf("after a restart the node is %s, want the same node %s", back.ID, n.ID)
		}
	})

	t.Run("re-enrolling rotates the credential", func(t *testing.T) {
		old, err := os.ReadFile(cred)
		if err != nil {
			t.Fatal(err)
		}
		oldDir := filepath.Join(t.TempDir(), "old")
		if err := os.MkdirAll(oldDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(oldDir, "node.json"), old, 0o600); err != nil {
			t.Fatal(err)
		}

		n1.kill9(t)
		tok2 := flToken(t, admin, methods.CreateEnrollTokenInput{Labels: []string{"zone-y"}})
		n1 = flNode(top, srv.URL, dir, "n1", "--token", tok2.Token, "--labels", "a")
		testutil.Eventually(t, testutil.Medium, "n1 to come back with its new labels", func() bool {
			got := flFind(t, admin, "n1")
			return got != nil && got.Status == methods.NodeOnline && slices.Equal(got.Labels, []string{"a", "zone-y"})
		})
		if got := flFind(t, admin, "n1"); got.ID != n.ID {
			t.Errorf("re-enrolled node is %s, want the same node %s", got.ID, n.ID)
		}
		rotated, _ := os.ReadFile(cred)
		var a, b struct{ NodeID, Credential string }
		_ = json.Unmarshal(old, &a)
		_ = json.Unmarshal(rotated, &b)
		if a.NodeID != b.NodeID || a.Credential == b.Credential || b.Credential == "" {
			t.Errorf("credential file before and after re-enrolling: %s / %s; want the same node, a new credential", old, rotated)
		}

		// The old credential is refused, and trying it does not disturb n1.
		flExits(t, flNode(t, srv.URL, oldDir, "stale"), "refused this node's credential")
		if got := flFind(t, admin, "n1"); got.Status != methods.NodeOnline || n1.exited() {
			t.Errorf("n1 is %s (exited %v) after a stale credential was tried", got.Status, n1.exited())
		}
		list, err := admin.ListNodes(flCtx(t))
		if err != nil || len(list.Nodes) != 1 {
			t.Errorf("nodes.list = %+v, %v; want n1 alone", list, err)
		}
	})
}

func TestNodeOfflineAndBack(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{NoLocalNode: true})
	admin := srv.Admin()
	tok1 := flToken(t, admin, methods.CreateEnrollTokenInput{})
	tok2 := flToken(t, admin, methods.CreateEnrollTokenInput{})
	dir := filepath.Join(t.TempDir(), "n1")
	n1 := flNode(t, srv.URL, dir, "n1", "--token", tok1.Token)
	n2 := flNode(t, srv.URL, filepath.Join(t.TempDir(), "n2"), "n2", "--token", tok2.Token)
	first := flWait(t, admin, "n1", methods.NodeOnline, testutil.Medium)
	flWait(t, admin, "n2", methods.NodeOnline, testutil.Medium)

	// freeze stops processes (SIGSTOP) until thaw, or the test's end.
	freeze := func(t *testing.T, ps ...*flProc) (thaw func()) {
		for _, p := range ps {
			p.signal(t, syscall.SIGSTOP)
		}
		var once sync.Once
		thaw = func() {
			once.Do(func() {
				for _, p := range ps {
					_ = p.cmd.Process.Signal(syscall.SIGCONT)
				}
			})
		}
		t.Cleanup(thaw)
		return thaw
	}

	top := t
	t.Run("kill -9", func(t *testing.T) {
		n1.kill9(t)
		off := flWait(t, admin, "n1", methods.NodeOffline, flHeartbeat+flHeartbeat/2)
		if srv.Fleet().Online(first.ID) {
			t.Errorf("the fleet still holds a connection to the killed node")
		}
		if n := flFind(t, admin, "n2"); n.Status != methods.NodeOnline {
			t.Errorf("n2 is %s after n1 was killed", n.Status)
		}
		n1 = flNode(top, srv.URL, dir, "n1")
		back := flWaitHello(t, admin, "n1", off.LastHeartbeatAt, testutil.Medium)
		if back.ID != first.ID {
			t.Errorf("the restarted node is %s, want %s", back.ID, first.ID)
		}
	})

	t.Run("heartbeats missed", func(t *testing.T) {
		// A frozen node keeps its TCP connection up but sends nothing: the
		// platform gives up on it after three heartbeats. Two frozen at
		// once are both given up on in that time.
		frozeAt := time.Now()
		thaw := freeze(t, n1, n2)
		var offs []methods.Node
		for _, name := range []string{"n1", "n2"} {
			offs = append(offs, flWait(t, admin, name, methods.NodeOffline, 5*flHeartbeat-time.Since(frozeAt)))
			t.Logf("%s offline %s after it froze", name, time.Since(frozeAt).Round(time.Millisecond))
		}
		thaw()
		for i, p := range []*flProc{n1, n2} {
			back := flWaitHello(t, admin, offs[i].Name, offs[i].LastHeartbeatAt, testutil.Medium)
			if p.exited() {
				t.Fatalf("%s exited after being thawed:\n%s", p.name, p.stderr.String())
			}
			// And it heartbeats again: lastHeartbeatAt keeps moving.
			flWaitHello(t, admin, back.Name, back.LastHeartbeatAt, testutil.Short)
		}
	})

	t.Run("remove a frozen node", func(t *testing.T) {
		n := flFind(t, admin, "n2")
		thaw := freeze(t, n2)
		if err := admin.RemoveNode(flCtx(t), n.ID); err != nil {
			t.Fatalf("nodes.remove of a frozen node: %v", err)
		}
		if got := flFind(t, admin, "n2"); got != nil {
			t.Errorf("nodes.list still shows the removed node: %+v", got)
		}
		thaw()
		flExits(t, n2, "refused this node's credential")
	})
}

func TestNodesReconnectAfterPlatformRestart(t *testing.T) {
	dataDir := t.TempDir()
	addr := testutil.FreeAddr(t)
	srv := testutil.StartServer(t, platform.Config{NoLocalNode: true, DataDir: dataDir, Listen: addr})
	key := srv.AdminKey
	tok1 := flToken(t, srv.Admin(), methods.CreateEnrollTokenInput{})
	tok2 := flToken(t, srv.Admin(), methods.CreateEnrollTokenInput{})
	n1 := flNode(t, srv.URL, filepath.Join(t.TempDir(), "n1"), "n1", "--token", tok1.Token)
	n2 := flNode(t, srv.URL, filepath.Join(t.TempDir(), "n2"), "n2", "--token", tok2.Token)
	flWait(t, srv.Admin(), "n1", methods.NodeOnline, testutil.Medium)
	flWait(t, srv.Admin(), "n2", methods.NodeOnline, testutil.Medium)

	srv.Stop()
	// The same data dir, the same address: the nodes come back by
	// themselves, within their backoff cap (30 s).
	srv2 := testutil.StartServer(t, platform.Config{NoLocalNode: true, DataDir: dataDir, Listen: addr})
	if srv2.URL != srv.URL {
		t.Fatalf("the restarted platform is at %s, want %s", srv2.URL, srv.URL)
	}
	admin := srv2.Client(key)
	list, err := admin.ListNodes(flCtx(t))
	if err != nil || len(list.Nodes) != 2 {
		t.Fatalf("nodes.list after the restart = %+v, %v; want both nodes on record", list, err)
	}
	const bound = 35 * time.Second
	flWait(t, admin, "n1", methods.NodeOnline, bound)
	flWait(t, admin, "n2", methods.NodeOnline, bound)
	for _, p := range []*flProc{n1, n2} {
		if p.exited() {
			t.Errorf("%s exited during the platform's restart:\n%s", p.name, p.stderr.String())
		}
	}
}

func TestNodeDrainAndLabels(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{NoLocalNode: true})
	admin := srv.Admin()
	tok1 := flToken(t, admin, methods.CreateEnrollTokenInput{})
	tok2 := flToken(t, admin, methods.CreateEnrollTokenInput{})
	flNode(t, srv.URL, filepath.Join(t.TempDir(), "n1"), "n1", "--token", tok1.Token, "--labels", "a,b")
	n2p := flNode(t, srv.URL, filepath.Join(t.TempDir(), "n2"), "n2", "--token", tok2.Token, "--labels", "gpu")
	n1 := flWait(t, admin, "n1", methods.NodeOnline, testutil.Medium)
	n2 := flWait(t, admin, "n2", methods.NodeOnline, testutil.Medium)
	fleet := srv.Fleet()

	// pickAll picks many times and returns the ids picked.
	pickAll := func(t *testing.T, labels []string) map[string]int {
		t.Helper()
		got := map[string]int{}
		for range 20 {
			row, err := fleet.Pick(flCtx(t), "org_any", labels)
			if err != nil {
				t.Fatalf("Pick(%v): %v", labels, err)
			}
			got[row.ID]++
		}
		return got
	}
	only := func(t *testing.T, labels []string, id string) {
		t.Helper()
		if got := pickAll(t, labels); len(got) != 1 || got[id] != 20 {
			t.Errorf("Pick(%v) picked %v; want %s every time", labels, got, id)
		}
	}
	status := func(t *testing.T, id, want string) {
		t.Helper()
		n, err := admin.GetNode(flCtx(t), id)
		if err != nil || n.Status != want {
			t.Errorf("nodes.get %s = %+v, %v; want status %s", id, n, err, want)
		}
	}

	t.Run("drain", func(t *testing.T) {
		if err := admin.DrainNode(flCtx(t), n1.ID); err != nil {
			t.Fatal(err)
		}
		status(t, n1.ID, methods.NodeDraining)
		only(t, nil, n2.ID)
		if err := admin.DrainNode(flCtx(t), n2.ID); err != nil {
			t.Fatal(err)
		}
		status(t, n2.ID, methods.NodeDraining)
		_, err := fleet.Pick(flCtx(t), "org_any", nil)
		flUnavailable(t, "Pick with every node draining", err, "All 2 connected nodes are draining")
		for _, id := range []string{n1.ID, n2.ID} {
			if err := admin.UndrainNode(flCtx(t), id); err != nil {
				t.Fatal(err)
			}
			status(t, id, methods.NodeOnline)
		}
		if got := pickAll(t, nil); got[n1.ID]+got[n2.ID] != 20 {
			t.Errorf("Pick after undraining picked %v", got)
		}
		// Draining again and again is fine.
		if err := admin.DrainNode(flCtx(t), n1.ID); err != nil {
			t.Fatal(err)
		}
		if err := admin.DrainNode(flCtx(t), n1.ID); err != nil {
			t.Errorf("draining a draining node: %v", err)
		}
		if err := admin.UndrainNode(flCtx(t), n1.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("labels", func(t *testing.T) {
		only(t, []string{"gpu"}, n2.ID)
		only(t, []string{"b", "a"}, n1.ID)
		_, err := fleet.Pick(flCtx(t), "org_any", []string{"gpu", "a"})
		re := flUnavailable(t, "Pick of labels no node has", err, "No connected node has the labels the template requires (gpu, a)")
		if d, ok := re.Details.(map[string]any); !ok || !slices.Equal(d["requiredLabels"].([]string), []string{"gpu", "a"}) {
			t.Errorf("details = %#v; want the required labels", re.Details)
		}
		// The only gpu node draining: no node fits.
		if err := admin.DrainNode(flCtx(t), n2.ID); err != nil {
			t.Fatal(err)
		}
		_, err = fleet.Pick(flCtx(t), "org_any", []string{"gpu"})
		flUnavailable(t, "Pick of gpu with the gpu node draining", err, "No connected node has the labels")
		if err := admin.UndrainNode(flCtx(t), n2.ID); err != nil {
			t.Fatal(err)
		}
		only(t, []string{"gpu"}, n2.ID)
	})

	t.Run("offline nodes are not picked", func(t *testing.T) {
		n2p.kill9(t)
		flWait(t, admin, "n2", methods.NodeOffline, testutil.Short)
		_, err := fleet.Pick(flCtx(t), "org_any", []string{"gpu"})
		flUnavailable(t, "Pick of gpu with the gpu node offline", err, "No connected node has the labels")
		only(t, nil, n1.ID)
		// Draining an offline node is recorded; it shows offline still.
		if err := admin.DrainNode(flCtx(t), n2.ID); err != nil {
			t.Fatal(err)
		}
		status(t, n2.ID, methods.NodeOffline)
	})
}

func TestNodeAdminMethods(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{NoLocalNode: true})
	admin := srv.Admin()
	tok := flToken(t, admin, methods.CreateEnrollTokenInput{})
	n1p := flNode(t, srv.URL, filepath.Join(t.TempDir(), "n1"), "n1", "--token", tok.Token)
	n1 := flWait(t, admin, "n1", methods.NodeOnline, testutil.Medium)
	_, plainKey := srv.OrgKey(t, "default", "plain", false)
	_, otherKey := srv.OrgKey(t, "other", "plain", false)

	ref := methods.NodeRef{NodeID: n1.ID}
	calls := []struct {
		method string
		input  any
	}{
		{methods.NodesList, methods.ListNodesInput{}},
		{methods.NodesGet, ref},
		{methods.NodesCreateEnrollToken, methods.CreateEnrollTokenInput{}},
		{methods.NodesDrain, ref},
		{methods.NodesUndrain, ref},
		{methods.NodesRemove, ref},
	}
	callers := []struct {
		name   string
		key    string
		status int
		typ    methods.ErrorType
	}{
		{"non-admin key", plainKey, http.StatusForbidden, methods.Forbidden},
		{"non-admin key of another org", otherKey, http.StatusForbidden, methods.Forbidden},
		{"no key", "", http.StatusUnauthorized, methods.Unauthorized},
		{"unknown key", "rk_" + strings.Repeat("x", 43), http.StatusUnauthorized, methods.Unauthorized},
	}
	for _, cl := range callers {
		for _, c := range calls {
			t.Run(cl.name+"/"+c.method, func(t *testing.T) {
				err := srv.Client(cl.key).Call(flCtx(t), c.method, c.input, nil)
				var ce *client.Error
				if !errors.As(err, &ce) || ce.Status != cl.status || ce.Type != cl.typ || ce.Message == "" {
					t.Errorf("%s = %v; want %d %s", c.method, err, cl.status, cl.typ)
				}
			})
		}
	}
	// None of those calls did anything.
	if n := flFind(t, admin, "n1"); n == nil || n.Status != methods.NodeOnline || n1p.exited() {
		t.Fatalf("after refused admin calls n1 is %+v", n)
	}

	t.Run("unknown node", func(t *testing.T) {
		for _, m := range []string{methods.NodesGet, methods.NodesDrain, methods.NodesUndrain, methods.NodesRemove} {
			err := admin.Call(flCtx(t), m, methods.NodeRef{NodeID: "node_nope"}, nil)
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Status != http.StatusNotFound || ce.Type != methods.NotFound {
				t.Errorf("%s of an unknown node = %v; want 404 not_found", m, err)
			}
		}
	})

	t.Run("invalid input", func(t *testing.T) {
		cases := []struct {
			name   string
			method string
			input  any
		}{
			{"ttl zero", methods.NodesCreateEnrollToken, methods.CreateEnrollTokenInput{TTL: new(0)}},
			{"ttl over a week", methods.NodesCreateEnrollToken, methods.CreateEnrollTokenInput{TTL: new(7*24*3600 + 1)}},
			{"ttl huge", methods.NodesCreateEnrollToken, map[string]any{"ttl": int64(1) << 62}},
			{"bad label", methods.NodesCreateEnrollToken, methods.CreateEnrollTokenInput{Labels: []string{"Not A Label"}}},
			{"no node id", methods.NodesGet, map[string]any{}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := admin.Call(flCtx(t), tc.method, tc.input, nil)
				var ce *client.Error
				if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest || ce.Type != methods.InvalidInput {
					t.Errorf("%s = %v; want 400 invalid_input", tc.method, err)
				}
			})
		}
	})

	t.Run("remove", func(t *testing.T) {
		if err := admin.RemoveNode(flCtx(t), n1.ID); err != nil {
			t.Fatal(err)
		}
		if n := flFind(t, admin, "n1"); n != nil {
			t.Errorf("nodes.list still shows the removed node: %+v", n)
		}
		if srv.Fleet().Online(n1.ID) {
			t.Errorf("the fleet still holds the removed node's connection")
		}
		flExits(t, n1p, "refused this node's credential")
		err := admin.RemoveNode(flCtx(t), n1.ID)
		if client.TypeOf(err) != methods.NotFound {
			t.Errorf("removing it again = %v; want not_found", err)
		}
	})
}

// flServe runs `roost serve` as a child process on a free loopback port and
// returns it with its URL and first admin key.
func flServe(t *testing.T, dataDir string) (*flProc, string, string) {
	t.Helper()
	addr := testutil.FreeAddr(t)
	p := flStart(t, "roost serve", nil, flRoost(t), "serve", "--listen", addr, "--data", dataDir, "--no-local-node", "--log-level", "warn")
	u := "http://" + addr
	var key string
	testutil.Eventually(t, testutil.Medium, "roost serve to print its admin key and answer", func() bool {
		if p.exited() {
			t.Fatalf("roost serve exited %d:\n%s", p.code, p.stderr.String())
		}
		sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "rk_") {
				key = sc.Text()
			}
		}
		if key == "" {
			return false
		}
		resp, err := http.Get(u + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p, u, key
}

func TestNodeInstallScript(t *testing.T) {
	bin := flRoost(t)
	_, u, key := flServe(t, t.TempDir())
	admin := client.New(u, key, nil)
	tok := flToken(t, admin, methods.CreateEnrollTokenInput{Labels: []string{"installed"}})

	get := func(t *testing.T, path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(u + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	status, ctype, script := get(t, "/install.sh?token="+url.QueryEscape(tok.Token))
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/x-shellscript") || !strings.HasPrefix(script, "#!/bin/sh\n") ||
		!strings.Contains(script, "PLATFORM='"+u+"'") || !strings.Contains(script, "TOKEN='"+tok.Token+"'") {
		t.Fatalf("GET /install.sh = %d %s:\n%s", status, ctype, script)
	}

	tmp := t.TempDir()
	installed := filepath.Join(tmp, "bin", "roost")
	data := filepath.Join(tmp, "data")
	env := []string{"ROOST_BIN=" + installed, "ROOST_NODE_DATA=" + data, "ROOST_NO_SYSTEMD=1", "ROOST_NODE_NAME=inst"}
	install := flStart(t, "install.sh", env, "sh", "-c", tok.InstallCommand)
	if code := install.wait(t, testutil.Medium); code != 0 {
		t.Fatalf("the install command exited %d\nstdout:\n%s\nstderr:\n%s", code, install.stdout.String(), install.stderr.String())
	}
	if !strings.Contains(install.stdout.String(), "roost: enrolled") {
		t.Errorf("the installer's output does not say it enrolled:\n%s", install.stdout.String())
	}
	n := flWait(t, admin, "inst", methods.NodeOffline, testutil.Short)
	if !slices.Equal(n.Labels, []string{"installed"}) || n.Version != flVersionOf(t, bin) {
		t.Errorf("installed node = %+v", n)
	}
	if m := flMode(t, filepath.Join(data, "node.json")); m != 0o600 {
		t.Errorf("installed credential has mode %o, want 600", m)
	}
	if m := flMode(t, data); m&0o066 != 0 {
		t.Errorf("installed data dir has mode %o; want others unable to read or write it", m)
	}
	// The downloaded binary is the platform's own, and it runs.
	want, _ := os.ReadFile(bin)
	got, _ := os.ReadFile(installed)
	if !bytes.Equal(got, want) {
		t.Errorf("the downloaded binary (%d bytes) is not the platform's (%d bytes)", len(got), len(want))
	}
	if v := flVersionOf(t, installed); v != flVersionOf(t, bin) {
		t.Errorf("the downloaded roost says version %q", v)
	}
	// Started as the script says, it joins.
	flStart(t, "inst", nil, installed, "node", "--platform", u, "--data", data, "--heartbeat", "1s")
	flWait(t, admin, "inst", methods.NodeOnline, testutil.Medium)

	t.Run("token refused", func(t *testing.T) {
		cases := []struct {
			name, token, says string
		}{
			{"wrong", "ret_wrongwrongwrongwrongwrongwrongwrongwrongwro", "not valid"},
			{"spent", tok.Token, "already used"},
			{"empty", "", "not valid"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				q := "?token=" + url.QueryEscape(tc.token)
				if status, _, body := get(t, "/install.sh"+q); status != http.StatusUnauthorized || !strings.Contains(body, tc.says) || !strings.Contains(body, "exit 1") {
					t.Errorf("GET /install.sh = %d %q; want 401, a script that says %q and fails", status, body, tc.says)
				}
				if status, _, body := get(t, "/api/v1/nodes/binary"+q); status != http.StatusUnauthorized {
					t.Errorf("GET /api/v1/nodes/binary = %d (%d bytes); want 401", status, len(body))
				}
				dir := t.TempDir()
				env := []string{"ROOST_BIN=" + filepath.Join(dir, "roost"), "ROOST_NODE_DATA=" + filepath.Join(dir, "data"), "ROOST_NO_SYSTEMD=1"}
				cmd := "set -o pipefail; curl -fsSL '" + u + "/install.sh" + q + "' | sh"
				p := flStart(t, "install.sh", env, "bash", "-c", cmd)
				if code := p.wait(t, testutil.Medium); code == 0 {
					t.Errorf("the install command with a %s token succeeded:\n%s", tc.name, p.stdout.String())
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("the failed install left %d files", len(entries))
				}
			})
		}
	})
}

func TestFleetCallCutMidCall(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{NoLocalNode: true})
	admin := srv.Admin()
	tok := flToken(t, admin, methods.CreateEnrollTokenInput{})
	n1p := flNode(t, srv.URL, filepath.Join(t.TempDir(), "n1"), "n1", "--token", tok.Token)
	n1 := flWait(t, admin, "n1", methods.NodeOnline, testutil.Medium)
	fleet := srv.Fleet()

	// A whole echo goes through.
	echo, err := fleet.Node(n1.ID).Echo(flCtx(t), strings.NewReader("hello, node"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(echo)
	echo.Close()
	if err != nil || string(b) != "hello, node" {
		t.Fatalf("echo = %q, %v", b, err)
	}

	// A streaming echo: the body is a pipe written to for as long as the
	// call lasts.
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.CloseWithError(errors.New("test over")) })
	go func() {
		// Paced, not waiting on anything: a steady trickle, not a flood.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 64)
		for range tick.C {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
	}()
	type result struct {
		body io.ReadCloser
		err  error
	}
	started := make(chan result, 1)
	go func() {
		body, err := fleet.Node(n1.ID).Echo(testutil.Context(t, testutil.Long), pr)
		started <- result{body, err}
	}()
	var r result
	select {
	case r = <-started:
	case <-time.After(testutil.Short):
		t.Fatal("the streaming echo did not start")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.body.Close()
	if _, err := io.ReadFull(r.body, make([]byte, 8<<10)); err != nil {
		t.Fatalf("reading the first echoed bytes: %v", err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, r.body)
		ended <- err
	}()

	n1p.kill9(t)
	select {
	case err := <-ended:
		if err == nil {
			t.Errorf("the cut call's body ended cleanly; want an error")
		}
	case <-time.After(testutil.Short):
		t.Fatalf("the read of a call to a killed node still hangs after %s", testutil.Short)
	}

	// A new call answers unavailable at once.
	done := make(chan error, 1)
	go func() {
		_, err := fleet.Node(n1.ID).Info(testutil.Context(t, testutil.Long))
		done <- err
	}()
	select {
	case err := <-done:
		flUnavailable(t, "Do to a killed node", err, "not connected")
	case <-time.After(testutil.Short):
		t.Fatalf("Do to a killed node still waits after %s", testutil.Short)
	}
	_, err = fleet.Node("node_nope").Info(flCtx(t))
	flUnavailable(t, "Do to an unknown node", err, "not connected")
	flWait(t, admin, "n1", methods.NodeOffline, testutil.Short)
}

func TestNodeLocalEmbedded(t *testing.T) {
	dataDir := t.TempDir()
	srv := testutil.StartServer(t, platform.Config{DataDir: dataDir}, testutil.WithLocalNode(t))
	admin := srv.Admin()
	local := flWait(t, admin, "local", methods.NodeOnline, testutil.Medium)
	if !slices.Equal(local.Labels, []string{"local"}) || local.Version != platform.Version {
		t.Errorf("local node = %+v", local)
	}
	row, err := srv.Fleet().Pick(flCtx(t), "org_any", []string{"local"})
	if err != nil || row.ID != local.ID {
		t.Errorf("Pick(local) = %s, %v; want %s", row.ID, err, local.ID)
	}
	cred := filepath.Join(dataDir, "node", "node.json")
	if m := flMode(t, cred); m != 0o600 {
		t.Errorf("%s has mode %o, want 600", cred, m)
	}
	if got := srv.LocalNode().ID(); got != local.ID {
		t.Errorf("LocalNode().ID() = %q, want %q", got, local.ID)
	}

	// Restarted on the same data dir, it is the same node again, not a
	// second one.
	srv.Stop()
	srv2 := testutil.StartServer(t, platform.Config{DataDir: dataDir}, testutil.WithLocalNode(t))
	admin = srv2.Client(srv.AdminKey)
	again := flWait(t, admin, "local", methods.NodeOnline, testutil.Medium)
	list, err := admin.ListNodes(flCtx(t))
	if err != nil || len(list.Nodes) != 1 || again.ID != local.ID {
		t.Errorf("after a restart nodes.list = %+v, %v; want the one local node %s", list, err, local.ID)
	}
}
