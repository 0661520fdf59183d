package bundles

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Limits is what an archive may hold.
type Limits struct {
	// MaxEntries bounds the number of entries. Default 20000.
	MaxEntries int
	// MaxUnpacked bounds the total unpacked size. Default 1 GiB.
	MaxUnpacked int64
	// MaxRatio bounds unpacked size / archive size, once the unpacked size
	// is over 1 MiB (a decompression bomb has a huge ratio). Default 100.
	MaxRatio int64
}

func (l *Limits) fill() {
	if l.MaxEntries <= 0 {
		l.MaxEntries = 20000
	}
	if l.MaxUnpacked <= 0 {
		l.MaxUnpacked = 1 << 30
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = 100
	}
}

// archiveError is an invalid_input about the archive's content.
func archiveError(format string, args ...any) error {
	return rpc.InvalidField("fileId", "archive", "The bundle archive is refused: "+format, args...)
}

// Format of an archive.
const (
	FormatTarGz = "tar.gz"
	FormatZip   = "zip"
)

// Sniff tells an archive's format from its first bytes.
func Sniff(head []byte) (string, error) {
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return FormatTarGz, nil
	case len(head) >= 4 && bytes.Equal(head[:4], []byte("PK\x03\x04")):
		return FormatZip, nil
	case len(head) >= 4 && bytes.Equal(head[:4], []byte("PK\x05\x06")):
		return "", archiveError("the zip archive is empty; it needs at least %s.", ManifestName)
	}
	return "", archiveError("it is neither a .tar.gz nor a .zip archive.")
}

// inspector checks entries as they come and keeps what the end-of-archive
// checks need.
type inspector struct {
	lim       Limits
	size      int64 // archive size
	entries   int
	unpacked  int64
	links     map[string]string // symlink name → target
	hardlinks map[string]string
	manifest  []byte
	found     bool
	nested    string // a roost.json seen below the root, for the message
}

// cleanName checks an entry name and returns it cleaned, without "./".
func cleanName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", archiveError("an entry has an empty name or a NUL in its name.")
	}
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':') {
		return "", archiveError("entry %q has an absolute path; paths must be relative to the bundle's root.", name)
	}
	for _, seg := range strings.Split(n, "/") {
		if seg == ".." {
			return "", archiveError("entry %q contains \"..\"; entries may not point outside the bundle.", name)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return ".", nil
	}
	return c, nil
}

func (in *inspector) budget() int64 {
	b := in.lim.MaxRatio * in.size
	if b < 1<<20 {
		b = 1 << 20
	}
	if b > in.lim.MaxUnpacked {
		b = in.lim.MaxUnpacked
	}
	return b
}

func (in *inspector) countEntry() error {
	in.entries++
	if in.entries > in.lim.MaxEntries {
		return archiveError("it has more than %d entries.", in.lim.MaxEntries)
	}
	return nil
}

// consume reads a regular file's content, counting it against the limits
// and keeping it if it is the manifest.
func (in *inspector) consume(name string, r io.Reader) error {
	isManifest := name == ManifestName
	if !isManifest && path.Base(name) == ManifestName && in.nested == "" {
		in.nested = name
	}
	budget := in.budget()
	var buf *bytes.Buffer
	if isManifest {
		buf = &bytes.Buffer{}
	}
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		in.unpacked += int64(n)
		if in.unpacked > budget {
			if budget == in.lim.MaxUnpacked {
				return archiveError("it unpacks to more than %d bytes.", in.lim.MaxUnpacked)
			}
			return archiveError("it unpacks to more than %d times its own size (a decompression bomb?).", in.lim.MaxRatio)
		}
		if buf != nil {
			if buf.Len()+n > MaxManifestSize {
				return archiveError("%s is larger than %d bytes.", ManifestName, MaxManifestSize)
			}
			buf.Write(chunk[:n])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return archiveError("it is corrupt or cut short (%s).", shortErr(err))
		}
	}
	if isManifest {
		in.manifest, in.found = buf.Bytes(), true
	}
	return nil
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// addLink records a symlink; targets are checked once all links are known.
func (in *inspector) addLink(name, target string) error {
	if target == "" || strings.ContainsRune(target, 0) {
		return archiveError("link %q has an empty target.", name)
	}
	if strings.HasPrefix(target, "/") || strings.HasPrefix(strings.ReplaceAll(target, "\\", "/"), "/") {
		return archiveError("link %q points to the absolute path %q; links must stay inside the bundle.", name, target)
	}
	in.links[name] = target
	return nil
}

// escapes resolves p (a slash path relative to the root) through the
// archive's symlinks and reports whether it ever leaves the root.
func (in *inspector) escapes(p string) bool {
	parts := strings.Split(p, "/")
	var stack []string
	hops := 0
	for len(parts) > 0 {
		seg := parts[0]
		parts = parts[1:]
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return true
			}
			stack = stack[:len(stack)-1]
			continue
		}
		cur := strings.Join(append(append([]string{}, stack...), seg), "/")
		if t, ok := in.links[cur]; ok {
			hops++
			if hops > 64 || strings.HasPrefix(t, "/") {
				return true
			}
			parts = append(strings.Split(strings.ReplaceAll(t, "\\", "/"), "/"), parts...)
			continue
		}
		stack = append(stack, seg)
	}
	return false
}

func (in *inspector) finish() (methods.BundleManifest, error) {
	for name, target := range in.links {
		// Not path.Join: cleaning "a/link/.." lexically would hide where
		// the link really leads.
		if in.escapes(path.Dir(name) + "/" + strings.ReplaceAll(target, "\\", "/")) {
			return methods.BundleManifest{}, archiveError("link %q points to %q, outside the bundle.", name, target)
		}
	}
	for name, target := range in.hardlinks {
		if in.escapes(target) {
			return methods.BundleManifest{}, archiveError("hard link %q points to %q, outside the bundle.", name, target)
		}
	}
	if !in.found {
		if in.nested != "" {
			return methods.BundleManifest{}, archiveError("%s must be at the archive's root, not at %q; pack the directory's contents, not the directory.", ManifestName, in.nested)
		}
		return methods.BundleManifest{}, archiveError("it has no %s manifest at its root.", ManifestName)
	}
	return ParseManifest(in.manifest)
}

// InspectTarGz validates a .tar.gz archive read from r (size bytes long).
func InspectTarGz(r io.Reader, size int64, lim Limits) (methods.BundleManifest, error) {
	lim.fill()
	in := &inspector{lim: lim, size: size, links: map[string]string{}, hardlinks: map[string]string{}}
	gz, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return methods.BundleManifest{}, archiveError("the gzip stream is corrupt (%s).", shortErr(err))
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return methods.BundleManifest{}, archiveError("the tar stream is corrupt or cut short (%s).", shortErr(err))
		}
		if err := in.countEntry(); err != nil {
			return methods.BundleManifest{}, err
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return methods.BundleManifest{}, err
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			if err := in.consume(name, tr); err != nil {
				return methods.BundleManifest{}, err
			}
		case tar.TypeDir:
		case tar.TypeSymlink:
			if err := in.addLink(name, h.Linkname); err != nil {
				return methods.BundleManifest{}, err
			}
		case tar.TypeLink:
			target, err := cleanName(h.Linkname)
			if err != nil {
				return methods.BundleManifest{}, archiveError("hard link %q points to %q, outside the bundle.", h.Name, h.Linkname)
			}
			in.hardlinks[name] = target
		default:
			return methods.BundleManifest{}, archiveError("entry %q is a device, FIFO or other special file (tar type %q); only files, directories and links are allowed.", h.Name, string(h.Typeflag))
		}
	}
	return in.finish()
}

// InspectZip validates a .zip archive read through ra (size bytes long).
func InspectZip(ra io.ReaderAt, size int64, lim Limits) (methods.BundleManifest, error) {
	lim.fill()
	in := &inspector{lim: lim, size: size, links: map[string]string{}, hardlinks: map[string]string{}}
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return methods.BundleManifest{}, archiveError("the zip archive is corrupt (%s).", shortErr(err))
	}
	if len(zr.File) > lim.MaxEntries {
		return methods.BundleManifest{}, archiveError("it has more than %d entries.", lim.MaxEntries)
	}
	for _, f := range zr.File {
		if err := in.countEntry(); err != nil {
			return methods.BundleManifest{}, err
		}
		name, err := cleanName(f.Name)
		if err != nil {
			return methods.BundleManifest{}, err
		}
		mode := f.Mode()
		switch {
		case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
			return methods.BundleManifest{}, archiveError("entry %q is a device, FIFO or other special file; only files, directories and links are allowed.", f.Name)
		case mode&fs.ModeSymlink != 0:
			target, err := readSmall(f, 4096)
			if err != nil {
				return methods.BundleManifest{}, archiveError("link %q cannot be read (%s).", f.Name, shortErr(err))
			}
			if err := in.addLink(name, target); err != nil {
				return methods.BundleManifest{}, err
			}
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
		default:
			rc, err := f.Open()
			if err != nil {
				return methods.BundleManifest{}, archiveError("entry %q cannot be read (%s).", f.Name, shortErr(err))
			}
			err = in.consume(name, rc)
			rc.Close()
			if err != nil {
				return methods.BundleManifest{}, err
			}
		}
	}
	return in.finish()
}

func readSmall(f *zip.File, max int64) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return "", err
	}
	if int64(len(b)) > max {
		return "", fmt.Errorf("link target longer than %d bytes", max)
	}
	return string(b), nil
}

// opener reads an archive stored as a blob.
type opener interface {
	Open(ctx context.Context) (io.ReadCloser, error)
	ReaderAt(ctx context.Context) io.ReaderAt
}

// Inspect validates a whole archive of either format.
func Inspect(ctx context.Context, o opener, size int64, lim Limits) (methods.BundleManifest, error) {
	rc, err := o.Open(ctx)
	if err != nil {
		return methods.BundleManifest{}, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	head, _ := br.Peek(4)
	format, err := Sniff(head)
	if err != nil {
		return methods.BundleManifest{}, err
	}
	if format == FormatTarGz {
		return InspectTarGz(br, size, lim)
	}
	return InspectZip(o.ReaderAt(ctx), size, lim)
}
