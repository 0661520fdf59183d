package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FS stores objects as files under a directory. Writes go to a temporary
// file, are synced and then renamed into place, so a reader never sees a
// partial object and a crash leaves at most a temporary file, removed at the
// next open.
type FS struct {
	root string // objects live under root/objects, temporaries under root/tmp
}

// OpenFS opens (creating) a store under dir and removes temporaries left by
// a crash.
func OpenFS(dir string) (*FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &FS{root: abs}
	if err := os.RemoveAll(s.tmpDir()); err != nil {
		return nil, fmt.Errorf("blob fs: clear temporaries: %w", err)
	}
	for _, d := range []string{s.objDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("blob fs: %w", err)
		}
	}
	return s, nil
}

func (s *FS) objDir() string { return filepath.Join(s.root, "objects") }
func (s *FS) tmpDir() string { return filepath.Join(s.root, "tmp") }

// Kind is "fs".
func (s *FS) Kind() string { return "fs" }

func (s *FS) path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	p := filepath.Join(s.objDir(), filepath.FromSlash(key))
	rel, err := filepath.Rel(s.objDir(), p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %q escapes the store", ErrInvalidKey, key)
	}
	return p, nil
}

// Put writes r to key atomically.
func (s *FS) Put(ctx context.Context, key string, r io.Reader, _ int64) (Info, error) {
	p, err := s.path(key)
	if err != nil {
		return Info{}, err
	}
	tmp, err := os.CreateTemp(s.tmpDir(), "put-*")
	if err != nil {
		return Info{}, fmt.Errorf("blob fs: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := copyFull(tmp, ctxReader{ctx, r})
	if err != nil {
		return Info{}, err
	}
	if err := tmp.Sync(); err != nil {
		return Info{}, fmt.Errorf("blob fs: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Info{}, fmt.Errorf("blob fs: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return Info{}, fmt.Errorf("blob fs: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return Info{}, fmt.Errorf("blob fs: %w", err)
	}
	done = true
	syncDir(filepath.Dir(p))
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, fmt.Errorf("blob fs: %w", err)
	}
	return Info{Key: key, Size: n, ModTime: st.ModTime()}, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Get opens key, optionally a byte range of it.
func (s *FS) Get(_ context.Context, key string, rng *Range) (io.ReadCloser, Info, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, ErrNotFound
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("blob fs: %w", err)
	}
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		f.Close()
		return nil, Info{}, ErrNotFound
	}
	info := Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}
	if rng == nil {
		return f, info, nil
	}
	start, length, err := rng.resolve(info.Size)
	if err != nil {
		f.Close()
		return nil, Info{}, err
	}
	return readCloser{io.NewSectionReader(f, start, length), f}, info, nil
}

// resolve turns a range into start and length within an object of size.
func (r Range) resolve(size int64) (int64, int64, error) {
	if r.Start < 0 || r.Start >= size || (r.End >= 0 && r.End < r.Start) {
		return 0, 0, ErrInvalidRange
	}
	end := r.End
	if end < 0 || end >= size {
		end = size - 1
	}
	return r.Start, end - r.Start + 1, nil
}

// Stat describes key.
func (s *FS) Stat(_ context.Context, key string) (Info, error) {
	p, err := s.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && st.IsDir()) {
		return Info{}, ErrNotFound
	}
	if err != nil {
		return Info{}, fmt.Errorf("blob fs: %w", err)
	}
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Delete removes key; deleting a missing key succeeds.
func (s *FS) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob fs: %w", err)
	}
	return nil
}

// List returns the objects whose keys start with prefix, sorted by key.
func (s *FS) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	out := []Info{}
	err := filepath.WalkDir(s.objDir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(s.objDir(), p)
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		out = append(out, Info{Key: key, Size: st.Size(), ModTime: st.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("blob fs: list: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// fsWriteSize is how much Put gathers before each write. Readers of network
// streams return a few KiB per Read (mime/multipart at most 4 KiB), and a
// write of each such piece costs a system call and ext4's per-write work.
// Larger than this, the buffer stops fitting in a core's L2 cache next to
// what the reader and hasher use, and copies into the page cache slow down.
// Server CPU for a 1 GiB upload (BENCHMARKS.md, Uploads): 2.9 s writing
// each Read, 1.8 s in 256 KiB writes, 3.3 s in 1 MiB writes.
const fsWriteSize = 256 << 10

// copyFull copies r to w in writes of fsWriteSize, however little each Read
// of r returns. Only io.EOF itself ends the copy: any other error, even
// io.ErrUnexpectedEOF from a stream cut short, fails it.
func copyFull(w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, fsWriteSize)
	var total int64
	for {
		n := 0
		var rerr error
		for n < len(buf) && rerr == nil {
			var m int
			m, rerr = r.Read(buf[n:])
			n += m
		}
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
