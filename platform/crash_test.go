package platform_test

// A platform killed with SIGKILL in the middle of a large upload, then
// started again on the same data dir: the unfinished upload leaves nothing
// visible and nothing stored, and uploads work again.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/roosthq/roost/client"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// feProcess is `roost serve` running as a child process.
type feProcess struct {
	cmd    *exec.Cmd
	url    string
	key    string // the admin key, printed on the first start only
	stderr *bytes.Buffer
	mu     *sync.Mutex
	exited chan struct{}
}

// feSyncWriter guards a buffer written by the process's output copier.
type feSyncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w feSyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (p *feProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// feServe starts `roost serve` with args and waits until it answers. On a
// first start it reads the admin key: the last line of stdout starting rk_.
func feServe(t *testing.T, bin string, env []string, firstStart bool, args ...string) *feProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &feProcess{cmd: cmd, stderr: &bytes.Buffer{}, mu: &sync.Mutex{}, exited: make(chan struct{})}
	cmd.Stderr = feSyncWriter{p.mu, p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start roost serve: %v", err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.kill(t) })

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	ctx := testutil.Context(t, testutil.Medium)
	for p.url == "" || (firstStart && p.key == "") {
		select {
		case line, ok := <-lines:
			if !ok {
				<-p.exited
				t.Fatalf("roost serve ended before it was ready (exit %d):\n%s", cmd.ProcessState.ExitCode(), p.log())
			}
			if u, found := strings.CutPrefix(line, "roost is listening on "); found {
				p.url = strings.TrimSpace(u)
			}
			if strings.HasPrefix(line, "rk_") {
				p.key = strings.TrimSpace(line)
			}
		case <-ctx.Done():
			t.Fatalf("roost serve printed no URL or key within %s:\n%s", testutil.Medium, p.log())
		}
	}
	// Keep draining stdout so the process never blocks on it.
	go func() {
		for range lines {
		}
	}()
	hc := &http.Client{Timeout: testutil.Short}
	testutil.Eventually(t, testutil.Medium, "roost serve to answer /healthz", func() bool {
		resp, err := hc.Get(p.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// kill ends the process with SIGKILL and waits for it.
func (p *feProcess) kill(t testing.TB) {
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

// feFreePort returns a loopback port that was free a moment ago.
func feFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// feGenerator yields left bytes of a repeated random block, counting them.
type feGenerator struct {
	block []byte
	off   int
	left  int64
	sent  *atomic.Int64
}

func (g *feGenerator) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := copy(p, g.block[g.off:])
	g.off = (g.off + n) % len(g.block)
	g.left -= int64(n)
	g.sent.Add(int64(n))
	return n, nil
}

func TestCrashDuringUpload(t *testing.T) {
	t.Parallel()
	bin := feBuildRoost(t)
	for _, kind := range feKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"--listen", fmt.Sprintf("127.0.0.1:%d", feFreePort(t)), "--data", dir, "--no-local-node", "--log-level", "warn"}
			var env []string
			// objects and leftovers look into the store without the server.
			var objects, leftovers func() []string
			var mc *minio.Client
			const bucket = "roost"
			if kind == "s3" {
				m := feStartMinIO(t)
				mc = feMinIOClient(t, m)
				// Flags for some settings, their ROOST_* equivalents for
				// the credentials.
				args = append(args, "--s3-endpoint", m.Endpoint, "--s3-bucket", bucket, "--s3-insecure")
				env = []string{"ROOST_S3_ACCESS_KEY=" + m.AccessKey, "ROOST_S3_SECRET_KEY=" + m.SecretKey}
				objects = func() []string { return feBucketObjects(t, mc, bucket) }
				leftovers = func() []string { return feBucketUploads(t, mc, bucket) }
			} else {
				objects = func() []string { return feFilesUnder(t, filepath.Join(platform.BlobDir(dir), "objects")) }
				leftovers = func() []string { return feFilesUnder(t, filepath.Join(platform.BlobDir(dir), "tmp")) }
			}

			first := feServe(t, bin, env, true, args...)
			c := client.New(first.url, first.key, nil)

			// Stream 512 MiB; the server dies long before the end.
			var sent atomic.Int64
			gen := &feGenerator{block: feRandom(t, 1<<20), left: 512 << 20, sent: &sent}
			uploadCtx, cancelUpload := context.WithCancel(context.Background())
			defer cancelUpload()
			uploaded := make(chan error, 1)
			go func() {
				_, err := c.UploadFile(uploadCtx, "big.bin", "application/octet-stream", gen)
				uploaded <- err
			}()

			const midway = 24 << 20
			switch kind {
			case "fs":
				tmpDir := filepath.Join(platform.BlobDir(dir), "tmp")
				testutil.Eventually(t, testutil.Long, "a temporary file of 24 MiB in blobs/tmp", func() bool {
					for _, name := range feFilesUnder(t, tmpDir) {
						if st, err := os.Stat(filepath.Join(tmpDir, name)); err == nil && st.Size() >= midway {
							return true
						}
					}
					return false
				})
			case "s3":
				core := minio.Core{Client: mc}
				testutil.Eventually(t, testutil.Long, "an unfinished upload of 24 MiB in the bucket", func() bool {
					for u := range mc.ListIncompleteUploads(testutil.Context(t, testutil.Short), bucket, "", true) {
						if u.Err != nil {
							return false
						}
						parts, err := core.ListObjectParts(testutil.Context(t, testutil.Short), bucket, u.Key, u.UploadID, 0, 1000)
						if err != nil {
							return false
						}
						var size int64
						for _, part := range parts.ObjectParts {
							size += part.Size
						}
						if size >= midway {
							return true
						}
					}
					return false
				})
			}
			first.kill(t)
			select {
			case err := <-uploaded:
				if err == nil {
					t.Fatal("the upload succeeded although the server was killed in its middle")
				}
			case <-testutil.Context(t, testutil.Medium).Done():
				t.Fatal("the client still uploads to a dead server")
			}
			if sent.Load() >= 512<<20 {
				t.Fatal("the whole upload was sent before the kill")
			}
			if len(leftovers()) == 0 {
				t.Fatal("the killed server left no unfinished upload: the test did not kill it mid-upload")
			}
			t.Logf("killed after the client sent %d MiB; unfinished writes: %v", sent.Load()>>20, leftovers())

			second := feServe(t, bin, env, false, args...)
			c = client.New(second.url, first.key, nil)
			list, err := c.ListFiles(feCtx(t), methods.ListFilesInput{})
			if err != nil || list.Total != 0 || len(list.Files) != 0 {
				t.Errorf("files.list after the restart: %+v, %v; want no file", list, err)
			}
			if got := objects(); len(got) != 0 {
				t.Errorf("the store holds objects after the restart: %v", got)
			}
			if got := leftovers(); len(got) != 0 {
				t.Errorf("unfinished writes remain after the restart: %v", got)
			}

			data := feRandom(t, 5<<20+7)
			out, err := c.UploadFile(feCtx(t), "after.bin", "", bytes.NewReader(data))
			if err != nil {
				t.Fatalf("upload after the restart: %v\n%s", err, second.log())
			}
			if got := feDownload(t, c, out.FileID); !bytes.Equal(got, data) {
				t.Errorf("the upload after the restart downloads as %d bytes (sha256 %s), want %d (%s)", len(got), feSHA(got), len(data), feSHA(data))
			}
			list, err = c.ListFiles(feCtx(t), methods.ListFilesInput{})
			if err != nil || list.Total != 1 {
				t.Errorf("files.list: %+v, %v; want the one new file", list, err)
			}
			if got := objects(); strings.Join(got, ",") != out.R2Key {
				t.Errorf("the store holds %v, want only %s", got, out.R2Key)
			}
		})
	}
}
