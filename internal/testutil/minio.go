package testutil

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/roosthq/roost/storage/blob"
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
	port := FreePort(t)
	console := FreePort(t)
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
	hc := &http.Client{Timeout: Short}
	ready := Until(Medium, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		resp, err := hc.Get("http://" + m.Endpoint + "/minio/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		// Ready for health is not yet ready for S3 requests: wait until
		// one answers.
		return resp.StatusCode == http.StatusOK && m.servesS3()
	})
	select {
	case <-exited:
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("minio exited at start:\n%s", b)
	default:
	}
	if !ready {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("minio not ready after %s:\n%s", Medium, b)
	}
	return m
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns a loopback address, 127.0.0.1:port, whose port was free
// a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// Client is a minio-go client of m, to look into buckets without the
// platform.
func (m *MinIO) Client(t testing.TB) *minio.Client {
	t.Helper()
	mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), Secure: false})
	if err != nil {
		t.Fatalf("minio client: %v", err)
	}
	return mc
}

// S3Options points the platform's s3 blob store at a bucket of m.
func (m *MinIO) S3Options(bucket string) blob.S3Options {
	return blob.S3Options{Endpoint: m.Endpoint, Bucket: bucket, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true}
}

// BucketObjects lists every object key in a bucket, sorted.
func BucketObjects(t testing.TB, mc *minio.Client, bucket string) []string {
	t.Helper()
	out := []string{}
	for oi := range mc.ListObjects(Context(t, Short), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			t.Fatalf("list bucket %s: %v", bucket, oi.Err)
		}
		out = append(out, oi.Key)
	}
	sort.Strings(out)
	return out
}

// BucketUploads lists the keys of the incomplete multipart uploads in a
// bucket, sorted.
func BucketUploads(t testing.TB, mc *minio.Client, bucket string) []string {
	t.Helper()
	out := []string{}
	for u := range mc.ListIncompleteUploads(Context(t, Short), bucket, "", true) {
		if u.Err != nil {
			t.Fatalf("list incomplete uploads of %s: %v", bucket, u.Err)
		}
		out = append(out, u.Key)
	}
	sort.Strings(out)
	return out
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
