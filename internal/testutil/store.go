package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// BlobStores are the blob stores that the tests whose outcome depends on
// the store run against: a directory ("fs") and a real MinIO ("s3").
var BlobStores = []string{"fs", "s3"}

// MinIOFor starts MinIO for the s3 store and returns nil for fs, to hand
// to StartStoreServer.
func MinIOFor(t testing.TB, store string) *MinIO {
	t.Helper()
	if store != "s3" {
		return nil
	}
	return StartMinIO(t)
}

// bucketSeq makes bucket names unique among the servers of one MinIO.
var bucketSeq atomic.Int64

// StoreServer is a platform on one blob store, with a view of what the
// store holds that does not go through the server.
type StoreServer struct {
	*Server
	// Store is the blob store: "fs" or "s3".
	Store     string
	objects   func(t testing.TB) []string
	leftovers func(t testing.TB) []string
}

// StartStoreServer starts a platform (see StartServer) on the fs store
// when m is nil, or on a fresh bucket of m.
func StartStoreServer(t testing.TB, m *MinIO, cfg platform.Config, opts ...Option) *StoreServer {
	t.Helper()
	if m == nil {
		srv := StartServer(t, cfg, opts...)
		return &StoreServer{Server: srv, Store: "fs",
			objects:   func(t testing.TB) []string { return FSObjects(t, srv.DataDir) },
			leftovers: func(t testing.TB) []string { return FSLeftovers(t, srv.DataDir) },
		}
	}
	bucket := fmt.Sprintf("roost-%d", bucketSeq.Add(1))
	cfg.S3 = m.S3Options(bucket)
	srv := StartServer(t, cfg, opts...)
	mc := m.Client(t)
	return &StoreServer{Server: srv, Store: "s3",
		objects:   func(t testing.TB) []string { return BucketObjects(t, mc, bucket) },
		leftovers: func(t testing.TB) []string { return BucketUploads(t, mc, bucket) },
	}
}

// Objects lists the keys of the objects the store holds, sorted.
func (s *StoreServer) Objects(t testing.TB) []string { t.Helper(); return s.objects(t) }

// Leftovers lists what unfinished writes hold: temporary files (fs) or
// incomplete multipart uploads (s3).
func (s *StoreServer) Leftovers(t testing.TB) []string { t.Helper(); return s.leftovers(t) }

// StoreState is what an upload may change: an org's files and the store.
type StoreState struct {
	Total     int // the org's files, by files.list
	Objects   []string
	Leftovers []string
}

func (s StoreState) String() string {
	return fmt.Sprintf("%d files, objects %v, unfinished writes %v", s.Total, s.Objects, s.Leftovers)
}

// State reads the files of c's org and what the store holds.
func (s *StoreServer) State(t testing.TB, c *client.Client) StoreState {
	t.Helper()
	list, err := c.ListFiles(Context(t, Medium), methods.ListFilesInput{})
	if err != nil {
		t.Fatalf("files.list: %v", err)
	}
	return StoreState{Total: list.Total, Objects: s.Objects(t), Leftovers: s.Leftovers(t)}
}

// WaitState waits until c's org's files and the store are back to want
// with nothing unfinished: a rejected or aborted upload leaves nothing.
func (s *StoreServer) WaitState(t testing.TB, c *client.Client, want StoreState) {
	t.Helper()
	Eventually(t, Medium, "the store to hold "+want.String(), func() bool {
		got := s.State(t, c)
		return got.Total == want.Total && strings.Join(got.Objects, ",") == strings.Join(want.Objects, ",") && len(got.Leftovers) == 0
	})
}

// FSObjects lists the objects of the fs blob store of a data dir.
func FSObjects(t testing.TB, dataDir string) []string {
	t.Helper()
	return FilesUnder(t, filepath.Join(platform.BlobDir(dataDir), "objects"))
}

// FSLeftovers lists the temporary files of unfinished writes in the fs
// blob store of a data dir.
func FSLeftovers(t testing.TB, dataDir string) []string {
	t.Helper()
	return FilesUnder(t, FSTempDir(dataDir))
}

// FSTempDir is where the fs blob store of a data dir writes before an
// object is whole.
func FSTempDir(dataDir string) string { return filepath.Join(platform.BlobDir(dataDir), "tmp") }

// FilesUnder lists the regular files under dir, relative and sorted; none
// when dir does not exist.
func FilesUnder(t testing.TB, dir string) []string {
	t.Helper()
	out := []string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	sort.Strings(out)
	return out
}
