// Package blob is roost's object store: files, bundle archives and resource
// revisions as opaque byte streams under keys. One interface, two
// implementations held to one contract test: fs (a directory, the default)
// and s3 (any S3-compatible service, through minio-go).
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrNotFound is returned for a key that holds no object.
var ErrNotFound = errors.New("blob: object not found")

// ErrInvalidKey is returned for a key that could escape its store or is not
// in the key alphabet.
var ErrInvalidKey = errors.New("blob: invalid key")

// ErrInvalidRange is returned for a range that starts past the object's end.
var ErrInvalidRange = errors.New("blob: range not satisfiable")

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Range selects bytes [Start, End] of an object, End inclusive; End < 0
// means to the end.
type Range struct {
	Start, End int64
}

// Store is an object store. Put reads r to its end (size is a hint: -1 when
// unknown) and makes the object visible only once it is whole: a failed or
// cancelled Put leaves nothing behind under key.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64) (Info, error)
	Get(ctx context.Context, key string, rng *Range) (io.ReadCloser, Info, error)
	Stat(ctx context.Context, key string) (Info, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) ([]Info, error)
	// Kind names the implementation: "fs" or "s3".
	Kind() string
}

// MaxKeyLength bounds a key's length.
const MaxKeyLength = 512

// ValidKey checks that key is a relative slash-separated path of
// [A-Za-z0-9._-] segments, with no empty, "." or ".." segment.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLength {
		return fmt.Errorf("%w: %q must be 1 to %d bytes", ErrInvalidKey, key, MaxKeyLength)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q has an empty, '.' or '..' segment", ErrInvalidKey, key)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return fmt.Errorf("%w: %q has a character outside [A-Za-z0-9._-/]", ErrInvalidKey, key)
			}
		}
	}
	return nil
}

// validPrefix checks a List prefix: empty, or a key-like string that may
// end with a slash.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidKey(strings.TrimSuffix(prefix, "/"))
}

// ReaderAt reads an object by ranged Gets, for formats that need random
// access (zip).
type ReaderAt struct {
	Ctx   context.Context
	Store Store
	Key   string
}

// ReadAt reads len(p) bytes at off.
func (r ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	rc, _, err := r.Store.Get(r.Ctx, r.Key, &Range{Start: off, End: off + int64(len(p)) - 1})
	if errors.Is(err, ErrInvalidRange) {
		return 0, io.EOF
	}
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
