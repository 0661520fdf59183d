package node

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/roosthq/roost/node/nodeapi"
)

// bundleCache unpacks each bundle revision once per node, under the
// archive's SHA-256, read-only for sandboxes.
type bundleCache struct {
	dir   string
	fetch func(ctx context.Context, revisionID string) (io.ReadCloser, error)

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

var shaForm = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (b *bundleCache) lock(sha string) *sync.Mutex {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.locks == nil {
		b.locks = map[string]*sync.Mutex{}
	}
	if b.locks[sha] == nil {
		b.locks[sha] = &sync.Mutex{}
	}
	return b.locks[sha]
}

// ensure returns the directory of an unpacked revision, fetching it from
// the platform the first time.
func (b *bundleCache) ensure(ctx context.Context, revisionID, sha string) (string, error) {
	if !shaForm.MatchString(sha) {
		return "", fmt.Errorf("bundle checksum %q is not a SHA-256", sha)
	}
	dir := filepath.Join(b.dir, sha)
	l := b.lock(sha)
	l.Lock()
	defer l.Unlock()
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir, nil
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return "", err
	}
	rc, err := b.fetch(ctx, revisionID)
	if err != nil {
		return "", fmt.Errorf("fetch bundle %s: %w", revisionID, err)
	}
	defer rc.Close()
	archive, err := os.CreateTemp(b.dir, "fetch-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(archive.Name())
	defer archive.Close()
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(archive, h), rc)
	if err != nil {
		return "", fmt.Errorf("fetch bundle %s: %w", revisionID, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return "", fmt.Errorf("bundle %s: checksum %s, want %s", revisionID, got, sha)
	}
	tmp, err := os.MkdirTemp(b.dir, "unpack-*")
	if err != nil {
		return "", err
	}
	if err := unpack(archive, size, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpack bundle %s: %w", revisionID, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return dir, nil
}

// safeJoin places an archive name under root, refusing anything that
// would land outside it.
func safeJoin(root, name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") || strings.Contains("/"+n+"/", "/../") {
		return "", fmt.Errorf("entry %q leaves the bundle", name)
	}
	p := filepath.Join(root, filepath.FromSlash(n))
	if p != root && !strings.HasPrefix(p, root+string(filepath.Separator)) {
		return "", fmt.Errorf("entry %q leaves the bundle", name)
	}
	return p, nil
}

type pendingLink struct{ path, target string }

// unpack writes an archive's files and directories under root, then its
// symlinks, so no file is ever written through a link. The platform
// validated the archive at publish; this checks again.
func unpack(f *os.File, size int64, root string) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	var links []pendingLink
	writeFile := func(name string, mode os.FileMode, r io.Reader) error {
		p, err := safeJoin(root, name)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		perm := os.FileMode(0o644)
		if mode&0o111 != 0 {
			perm = 0o755
		}
		out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscallNoFollow, perm)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, r); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	mkdir := func(name string) error {
		p, err := safeJoin(root, name)
		if err != nil {
			return err
		}
		return os.MkdirAll(p, 0o755)
	}
	br := bufio.NewReader(f)
	head, _ := br.Peek(4)
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		gz, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		tr := tar.NewReader(gz)
		hardlinks := map[string]string{}
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			switch h.Typeflag {
			case tar.TypeReg, tar.TypeRegA:
				if err := writeFile(h.Name, os.FileMode(h.Mode), tr); err != nil {
					return err
				}
			case tar.TypeDir:
				if err := mkdir(h.Name); err != nil {
					return err
				}
			case tar.TypeSymlink:
				p, err := safeJoin(root, h.Name)
				if err != nil {
					return err
				}
				links = append(links, pendingLink{p, h.Linkname})
			case tar.TypeLink:
				hardlinks[h.Name] = h.Linkname
			default:
				return fmt.Errorf("entry %q is not a file, directory or link", h.Name)
			}
		}
		for name, target := range hardlinks {
			src, err := safeJoin(root, target)
			if err != nil {
				return err
			}
			in, err := os.Open(src)
			if err != nil {
				return err
			}
			err = writeFile(name, 0o644, in)
			in.Close()
			if err != nil {
				return err
			}
		}
	case len(head) >= 4 && string(head) == "PK\x03\x04":
		zr, err := zip.NewReader(f, size)
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			return err
		}
		for _, zf := range zr.File {
			mode := zf.Mode()
			switch {
			case mode&os.ModeSymlink != 0:
				rc, err := zf.Open()
				if err != nil {
					return err
				}
				t, err := io.ReadAll(io.LimitReader(rc, 4096))
				rc.Close()
				if err != nil {
					return err
				}
				p, err := safeJoin(root, zf.Name)
				if err != nil {
					return err
				}
				links = append(links, pendingLink{p, string(t)})
			case mode.IsDir() || strings.HasSuffix(zf.Name, "/"):
				if err := mkdir(zf.Name); err != nil {
					return err
				}
			case mode.IsRegular():
				rc, err := zf.Open()
				if err != nil {
					return err
				}
				err = writeFile(zf.Name, mode, rc)
				rc.Close()
				if err != nil {
					return err
				}
			default:
				return fmt.Errorf("entry %q is not a file, directory or link", zf.Name)
			}
		}
	default:
		return errors.New("not a .tar.gz or .zip archive")
	}
	for _, l := range links {
		if strings.HasPrefix(l.target, "/") {
			return fmt.Errorf("link %s is absolute", l.path)
		}
		if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(l.target, l.path); err != nil {
			return err
		}
	}
	return nil
}

// fetchBundle asks the platform for a revision's archive through the tunnel.
func (n *Node) fetchBundle(ctx context.Context, revisionID string) (io.ReadCloser, error) {
	n.mu.Lock()
	peer := n.peer
	n.mu.Unlock()
	if peer == nil {
		return nil, errors.New("not connected to the platform")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+nodeapi.TunnelHost+strings.Replace(nodeapi.BundlePath, "{revision}", revisionID, 1), nil)
	if err != nil {
		return nil, err
	}
	resp, err := peer.Client().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("the platform answered HTTP %d", resp.StatusCode)
	}
	return resp.Body, nil
}
