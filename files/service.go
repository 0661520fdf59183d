package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
	"github.com/roosthq/roost/storage/blob"
)

// File statuses: pending while the bytes are being stored, ready after.
const (
	statusPending = "pending"
	statusReady   = "ready"
)

// DefaultMaxUpload is the upload size limit unless configured.
const DefaultMaxUpload = 5 << 30

// File is a stored file's row.
type File struct {
	ID        string `db:"id"`
	OrgID     string `db:"org_id"`
	Filename  string `db:"filename"`
	MimeType  string `db:"mime_type"`
	Size      int64  `db:"size"`
	SHA256    string `db:"sha256"`
	BlobKey   string `db:"blob_key"`
	Status    string `db:"status"`
	CreatedAt int64  `db:"created_at"`
}

// Wire is the file as files.get shows it.
func (f File) Wire() methods.FileInfo {
	return methods.FileInfo{ID: f.ID, Filename: f.Filename, MimeType: f.MimeType, Size: f.Size,
		SHA256: f.SHA256, R2Key: f.BlobKey, CreatedAt: storage.FormatTime(f.CreatedAt)}
}

// Options configures a Service.
type Options struct {
	DB    *storage.DB
	Blobs blob.Store
	// MaxUpload is the largest file accepted; default DefaultMaxUpload.
	MaxUpload int64
	Logger    *slog.Logger
}

// Service stores and serves files.
type Service struct {
	db    *storage.DB
	blobs blob.Store
	max   int64
	log   *slog.Logger
}

// NewService returns a Service.
func NewService(o Options) *Service {
	if o.MaxUpload <= 0 {
		o.MaxUpload = DefaultMaxUpload
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{db: o.DB, blobs: o.Blobs, max: o.MaxUpload, log: o.Logger}
}

// MaxUpload is the configured size limit.
func (s *Service) MaxUpload() int64 { return s.max }

// Blobs is the store the files live in.
func (s *Service) Blobs() blob.Store { return s.blobs }

const columns = `id, org_id, filename, mime_type, size, sha256, blob_key, status, created_at`

// Upload streams r into the blob store as a new file of the org. mimeType
// may be empty: then it is sniffed from the first bytes.
func (s *Service) Upload(ctx context.Context, orgID, filename, mimeType string, r io.Reader) (File, error) {
	f := File{
		ID: storage.NewID("file"), OrgID: orgID, Filename: SanitizeFilename(filename),
		Status: statusPending, CreatedAt: storage.Now(),
	}
	f.BlobKey = "files/" + orgID + "/" + f.ID
	if _, err := s.db.NamedExecContext(ctx, `INSERT INTO files (`+columns+`)
		VALUES (:id, :org_id, :filename, :mime_type, :size, :sha256, :blob_key, :status, :created_at)`, f); err != nil {
		return File{}, fmt.Errorf("insert file: %w", err)
	}
	fail := func(err error) (File, error) {
		// Leave nothing behind: neither the object nor the row.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := s.blobs.Delete(cctx, f.BlobKey); derr != nil {
			s.log.WarnContext(ctx, "failed upload: object not removed", "key", f.BlobKey, "err", derr)
		}
		if _, derr := s.db.ExecContext(cctx, `DELETE FROM files WHERE id = ?`, f.ID); derr != nil {
			s.log.WarnContext(ctx, "failed upload: row not removed", "file", f.ID, "err", derr)
		}
		return File{}, err
	}

	f.MimeType = normalizeMime(mimeType)
	if f.MimeType == "" {
		head := make([]byte, 512)
		n, err := io.ReadFull(r, head)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return fail(err)
		}
		head = head[:n]
		f.MimeType = http.DetectContentType(head)
		r = io.MultiReader(bytes.NewReader(head), r)
	}
	cr := &countingReader{r: r, h: sha256.New(), limit: s.max}
	if _, err := s.blobs.Put(ctx, f.BlobKey, cr, -1); err != nil {
		if cr.over {
			return fail(TooLarge(s.max))
		}
		return fail(err)
	}
	f.Size, f.SHA256, f.Status = cr.n, hex.EncodeToString(cr.h.Sum(nil)), statusReady
	if _, err := s.db.ExecContext(ctx, `UPDATE files SET size = ?, sha256 = ?, mime_type = ?, status = ? WHERE id = ?`,
		f.Size, f.SHA256, f.MimeType, f.Status, f.ID); err != nil {
		return fail(fmt.Errorf("finish file: %w", err))
	}
	return f, nil
}

// Sweep removes files left pending by a crash, with their objects. It runs
// at start, before uploads are accepted.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	var pending []File
	if err := s.db.SelectContext(ctx, &pending, `SELECT `+columns+` FROM files WHERE status = ?`, statusPending); err != nil {
		return 0, fmt.Errorf("sweep files: %w", err)
	}
	for _, f := range pending {
		if err := s.blobs.Delete(ctx, f.BlobKey); err != nil {
			return 0, fmt.Errorf("sweep file %s: %w", f.ID, err)
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM files WHERE id = ?`, f.ID); err != nil {
			return 0, fmt.Errorf("sweep file %s: %w", f.ID, err)
		}
	}
	return len(pending), nil
}

// Get returns a ready file of the org.
func (s *Service) Get(ctx context.Context, orgID, id string) (File, error) {
	var f File
	err := s.db.GetContext(ctx, &f, `SELECT `+columns+` FROM files WHERE id = ? AND org_id = ? AND status = ?`, id, orgID, statusReady)
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("get file: %w", err)
	}
	return f, nil
}

// List returns a page of the org's ready files, newest first, and the total.
func (s *Service) List(ctx context.Context, orgID string, limit, offset int) ([]File, int, error) {
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT COUNT(*) FROM files WHERE org_id = ? AND status = ?`, orgID, statusReady); err != nil {
		return nil, 0, fmt.Errorf("count files: %w", err)
	}
	out := []File{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+columns+` FROM files WHERE org_id = ? AND status = ?
		ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, orgID, statusReady, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list files: %w", err)
	}
	return out, total, nil
}

// Delete removes a file of the org and its object, unless a resource or
// bundle revision uses it.
func (s *Service) Delete(ctx context.Context, orgID, id string) error {
	f, err := s.Get(ctx, orgID, id)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM files WHERE id = ? AND org_id = ?`, id, orgID)
	if storage.IsForeignKeyViolation(err) {
		return ErrInUse
	}
	if err != nil {
		return fmt.Errorf("delete file: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if err := s.blobs.Delete(ctx, f.BlobKey); err != nil {
		// The row is gone, so the object is unreachable; log, do not fail.
		s.log.WarnContext(ctx, "deleted file's object not removed", "key", f.BlobKey, "err", err)
	}
	return nil
}

// Open returns a reader of a file of the org, optionally of a byte range.
func (s *Service) Open(ctx context.Context, orgID, id string, rng *blob.Range) (io.ReadCloser, File, error) {
	f, err := s.Get(ctx, orgID, id)
	if err != nil {
		return nil, f, err
	}
	rc, _, err := s.blobs.Get(ctx, f.BlobKey, rng)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, f, rpc.Errorf(methods.Unavailable, "The file's bytes are missing from storage. Upload it again.").Wrap(err)
	}
	return rc, f, err
}

// SanitizeFilename keeps a file name's last path element, without control
// characters, at most 255 bytes; an empty result becomes "file".
func SanitizeFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '"' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "." || name == ".." {
		name = ""
	}
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" {
		return "file"
	}
	return name
}

// normalizeMime returns a valid media type or "" to have it sniffed.
func normalizeMime(t string) string {
	if t == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(t)
	if err != nil {
		return ""
	}
	return mime.FormatMediaType(mt, params)
}

// countingReader hashes and counts what passes, failing once more than
// limit bytes have been read.
type countingReader struct {
	r     io.Reader
	h     hash.Hash
	n     int64
	limit int64
	over  bool
}

var errOverLimit = errors.New("file over the size limit")

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		c.over = true
		return 0, errOverLimit
	}
	c.h.Write(p[:n])
	if err != nil && err != io.EOF {
		// A part cut short fails with io.ErrUnexpectedEOF. Copy loops that
		// fill buffers with ReadFull semantics (minio-go's multipart upload,
		// the fs store's) take that very value for their own "last short
		// buffer" and would store the truncated file as whole.
		err = &sourceError{err}
	}
	return n, err
}

// sourceError is a failure of the upload's source, kept distinct from the
// sentinel values copy loops compare against.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "read upload: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }
