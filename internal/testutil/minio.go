package testutil

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinIOVersion is the MinIO server release the tests run against; .ci/run
// builds it with `go install github.com/minio/minio@<version>`.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIO is a MinIO server started for one test.
type MinIO struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
}

// minioBinary finds the MinIO server: $ROOST_MINIO, the CI cache, then PATH.
func minioBinary() string {
	if p := os.Getenv("ROOST_MINIO"); p != "" {
		return p
	}
	cache := os.Getenv("ROOST_CI_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "roost-ci")
		}
	}
	if p := filepath.Join(cache, "bin", "minio"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Require reports a missing real component: under CI=true the test fails,
// elsewhere it is skipped with the way to get the component.
func Require(t testing.TB, what, how string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing and CI=true: %s", what, how)
	}
	t.Skipf("%s is missing: %s", what, how)
}

// StartMinIO starts a MinIO server on a loopback port with a fresh data dir
// and stops it when the test ends.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	bin := minioBinary()
	if bin == "" {
		Require(t, "the MinIO server", "run .ci/run, or `GOBIN=~/.cache/roost-ci/bin go install github.com/minio/minio@"+MinIOVersion+"`, or set ROOST_MINIO")
	}
	port := freePort(t)
	console := freePort(t)
	m := &MinIO{Endpoint: fmt.Sprintf("127.0.0.1:%d", port), AccessKey: "roosttest", SecretKey: "roosttest-secret"}
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", m.Endpoint, "--console-address", fmt.Sprintf("127.0.0.1:%d", console), "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	logf, err := os.CreateTemp(t.TempDir(), "minio-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(Medium)
	for {
		resp, err := http.Get("http://" + m.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			// Ready for health is not yet ready for S3 requests: wait
			// until one answers.
			if resp.StatusCode == http.StatusOK && m.servesS3() {
				return m
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("minio exited at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("minio not ready after %s:\n%s", Medium, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// servesS3 tells whether MinIO answers an S3 request (ListBuckets).
func (m *MinIO) servesS3() bool {
	c, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), Secure: false})
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.ListBuckets(ctx)
	return err == nil
}
