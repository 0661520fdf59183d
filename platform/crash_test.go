package platform_test

// A platform killed with SIGKILL in the middle of a large upload, then
// started again on the same data dir: the unfinished upload leaves nothing
// visible and nothing stored, and uploads work again.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
)

// generator yields left bytes of a repeated random block, counting them.
type generator struct {
	block []byte
	off   int
	left  int64
	sent  *atomic.Int64
}

func (g *generator) Read(p []byte) (int, error) {
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
	bin := testutil.RoostBinary(t)
	for _, kind := range testutil.BlobStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"--listen", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), "--data", dir, "--no-local-node", "--log-level", "warn"}
			var env []string
			// objects and leftovers look into the store without the server.
			var objects, leftovers func() []string
			var mc *minio.Client
			const bucket = "roost"
			if kind == "s3" {
				m := testutil.StartMinIO(t)
				mc = m.Client(t)
				// Flags for some settings, their ROOST_* equivalents for
				// the credentials.
				args = append(args, "--s3-endpoint", m.Endpoint, "--s3-bucket", bucket, "--s3-insecure")
				env = []string{"ROOST_S3_ACCESS_KEY=" + m.AccessKey, "ROOST_S3_SECRET_KEY=" + m.SecretKey}
				objects = func() []string { return testutil.BucketObjects(t, mc, bucket) }
				leftovers = func() []string { return testutil.BucketUploads(t, mc, bucket) }
			} else {
				objects = func() []string { return testutil.FSObjects(t, dir) }
				leftovers = func() []string { return testutil.FSLeftovers(t, dir) }
			}

			first := testutil.StartRoost(t, bin, env, true, args...)
			c := client.New(first.URL, first.Key, nil)

			// Stream 512 MiB; the server dies long before the end.
			var sent atomic.Int64
			gen := &generator{block: rpctest.Random(t, 1<<20), left: 512 << 20, sent: &sent}
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
				tmpDir := testutil.FSTempDir(dir)
				testutil.Eventually(t, testutil.Long, "a temporary file of 24 MiB in blobs/tmp", func() bool {
					for _, name := range testutil.FilesUnder(t, tmpDir) {
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
			first.Kill(t)
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

			second := testutil.StartRoost(t, bin, env, false, args...)
			c = client.New(second.URL, first.Key, nil)
			list, err := c.ListFiles(rpctest.Ctx(t), methods.ListFilesInput{})
			if err != nil || list.Total != 0 || len(list.Files) != 0 {
				t.Errorf("files.list after the restart: %+v, %v; want no file", list, err)
			}
			if got := objects(); len(got) != 0 {
				t.Errorf("the store holds objects after the restart: %v", got)
			}
			if got := leftovers(); len(got) != 0 {
				t.Errorf("unfinished writes remain after the restart: %v", got)
			}

			data := rpctest.Random(t, 5<<20+7)
			out, err := c.UploadFile(rpctest.Ctx(t), "after.bin", "", bytes.NewReader(data))
			if err != nil {
				t.Fatalf("upload after the restart: %v\n%s", err, second.Log())
			}
			if got := rpctest.Download(t, c, out.FileID); !bytes.Equal(got, data) {
				t.Errorf("the upload after the restart downloads as %d bytes (sha256 %s), want %d (%s)", len(got), rpctest.SHA256(got), len(data), rpctest.SHA256(data))
			}
			list, err = c.ListFiles(rpctest.Ctx(t), methods.ListFilesInput{})
			if err != nil || list.Total != 1 {
				t.Errorf("files.list: %+v, %v; want the one new file", list, err)
			}
			if got := objects(); strings.Join(got, ",") != out.R2Key {
				t.Errorf("the store holds %v, want only %s", got, out.R2Key)
			}
		})
	}
}
