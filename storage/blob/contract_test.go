package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/storage/blob"
)

// stores returns every implementation, each fresh, for the contract suite.
func stores(t *testing.T) map[string]func(t *testing.T) blob.Store {
	return map[string]func(t *testing.T) blob.Store{
		"fs": func(t *testing.T) blob.Store {
			s, err := blob.OpenFS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3": func(t *testing.T) blob.Store {
			m := testutil.StartMinIO(t)
			s, err := blob.OpenS3(testutil.Context(t, testutil.Medium), blob.S3Options{
				Endpoint: m.Endpoint, Bucket: "contract", AccessKey: m.AccessKey, SecretKey: m.SecretKey,
				Insecure: true, PartSize: 8 << 20,
			})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

// patterned returns a deterministic pseudo-random reader of n bytes.
func patterned(seed uint64, n int64) io.Reader {
	return io.LimitReader(&prng{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}, n)
}

type prng struct{ r *rand.Rand }

func (p *prng) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.r.Uint32())
	}
	return len(b), nil
}

func sum(r io.Reader) ([32]byte, int64) {
	h := sha256.New()
	n, _ := io.Copy(h, r)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, n
}

// hideSize hides a reader's concrete type so the store cannot learn its size.
type hideSize struct{ io.Reader }

func TestContract(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := testutil.Context(t, testutil.Long)

			sizes := []struct {
				name  string
				size  int64
				known bool
			}{
				{"0B", 0, true},
				{"1B", 1, true},
				{"5MiB", 5 << 20, true},
				{"64MiB", 64 << 20, true},
				{"unknown-length-20MiB", 20<<20 + 7, false},
			}
			for i, c := range sizes {
				t.Run("roundtrip-"+c.name, func(t *testing.T) {
					key := "rt/" + c.name
					want, _ := sum(patterned(uint64(i), c.size))
					hint := c.size
					if !c.known {
						hint = -1
					}
					info, err := s.Put(ctx, key, hideSize{patterned(uint64(i), c.size)}, hint)
					if err != nil {
						t.Fatalf("put: %v", err)
					}
					if info.Size != c.size {
						t.Fatalf("put size = %d, want %d", info.Size, c.size)
					}
					rc, ginfo, err := s.Get(ctx, key, nil)
					if err != nil {
						t.Fatalf("get: %v", err)
					}
					got, n := sum(rc)
					rc.Close()
					if n != c.size || ginfo.Size != c.size || got != want {
						t.Fatalf("get: %d bytes (info %d), sha256 match %v; want %d bytes", n, ginfo.Size, got == want, c.size)
					}
					st, err := s.Stat(ctx, key)
					if err != nil || st.Size != c.size {
						t.Fatalf("stat = %+v, %v", st, err)
					}
				})
			}

			t.Run("ranges", func(t *testing.T) {
				data, _ := io.ReadAll(patterned(99, 1<<20))
				if _, err := s.Put(ctx, "ranged", bytes.NewReader(data), int64(len(data))); err != nil {
					t.Fatal(err)
				}
				for _, r := range []blob.Range{{0, 0}, {0, 9}, {10, 10}, {1000, 70000}, {len64(data) - 1, -1}, {500, -1}, {5, len64(data) + 100}} {
					rc, _, err := s.Get(ctx, "ranged", &r)
					if err != nil {
						t.Fatalf("range %+v: %v", r, err)
					}
					got, _ := io.ReadAll(rc)
					rc.Close()
					end := r.End
					if end < 0 || end >= len64(data) {
						end = len64(data) - 1
					}
					if !bytes.Equal(got, data[r.Start:end+1]) {
						t.Fatalf("range %+v: got %d bytes, want %d", r, len(got), end+1-r.Start)
					}
				}
				if _, _, err := s.Get(ctx, "ranged", &blob.Range{Start: len64(data), End: -1}); !errors.Is(err, blob.ErrInvalidRange) {
					t.Fatalf("range past end: err = %v, want ErrInvalidRange", err)
				}
			})

			t.Run("missing", func(t *testing.T) {
				if _, _, err := s.Get(ctx, "nope", nil); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("get missing: %v", err)
				}
				if _, err := s.Stat(ctx, "nope"); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("stat missing: %v", err)
				}
				if err := s.Delete(ctx, "nope"); err != nil {
					t.Fatalf("delete missing: %v", err)
				}
			})

			t.Run("overwrite-delete-list", func(t *testing.T) {
				for _, k := range []string{"l/a", "l/b/c", "l/b/d", "m/x"} {
					if _, err := s.Put(ctx, k, bytes.NewReader([]byte(k)), -1); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := s.Put(ctx, "l/a", bytes.NewReader([]byte("second")), 6); err != nil {
					t.Fatal(err)
				}
				list, err := s.List(ctx, "l/")
				if err != nil {
					t.Fatal(err)
				}
				var keys []string
				for _, i := range list {
					keys = append(keys, i.Key)
				}
				if want := []string{"l/a", "l/b/c", "l/b/d"}; !equal(keys, want) {
					t.Fatalf("list = %v, want %v", keys, want)
				}
				if list[0].Size != 6 {
					t.Fatalf("overwritten size = %d", list[0].Size)
				}
				if err := s.Delete(ctx, "l/b/c"); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Stat(ctx, "l/b/c"); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("after delete: %v", err)
				}
			})

			t.Run("failed-put-leaves-nothing", func(t *testing.T) {
				r := io.MultiReader(patterned(5, 9<<20), errReader{})
				if _, err := s.Put(ctx, "broken", hideSize{r}, -1); err == nil {
					t.Fatal("put of a failing reader succeeded")
				}
				if _, err := s.Stat(ctx, "broken"); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("broken put is visible: %v", err)
				}
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				if _, err := s.Put(cctx, "cancelled", bytes.NewReader([]byte("x")), 1); err == nil {
					t.Fatal("put with a cancelled context succeeded")
				}
				if _, err := s.Stat(ctx, "cancelled"); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("cancelled put is visible: %v", err)
				}
			})

			t.Run("hostile-keys", func(t *testing.T) {
				for _, k := range []string{"", "../x", "a/../../x", "/abs", "a//b", "a/./b", "a\\b", "a\x00b", "ключ", string(make([]byte, 600))} {
					if _, err := s.Put(ctx, k, bytes.NewReader(nil), 0); !errors.Is(err, blob.ErrInvalidKey) {
						t.Errorf("put %q: err = %v, want ErrInvalidKey", k, err)
					}
					if _, _, err := s.Get(ctx, k, nil); !errors.Is(err, blob.ErrInvalidKey) {
						t.Errorf("get %q: err = %v, want ErrInvalidKey", k, err)
					}
				}
			})
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("source failed") }

func len64(b []byte) int64 { return int64(len(b)) }

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
