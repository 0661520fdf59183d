package bundles

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/jmoiron/sqlx"

	"github.com/roosthq/roost/files"
	"github.com/roosthq/roost/internal/resolve"
	"github.com/roosthq/roost/internal/validate"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
	"github.com/roosthq/roost/storage/blob"
)

// Errors of the bundles domain.
var (
	ErrNotFound = &rpc.Error{Type: methods.NotFound,
		Message: "No bundle with this id or slug exists in your organization. Publish one with bundles.publish."}
	ErrRevisionNotFound = &rpc.Error{Type: methods.NotFound,
		Message: "No such bundle or bundle revision exists in your organization. Publish one with bundles.publish, or check bundleSlug / bundleRevisionId."}
	ErrNoRevisions = &rpc.Error{Type: methods.Conflict,
		Message: "The bundle has no revision to run yet. Publish one with bundles.publish."}
	errNoRef = rpc.InvalidField("bundleId", "required", "Give bundleId or bundleSlug.")
)

// VersionTaken answers a second publish of one version.
func VersionTaken(version string) error {
	return rpc.Errorf(methods.Conflict, "Version %q of this bundle is already published. Bump \"version\" in roost.json and publish again.", version).
		WithDetails(rpc.FieldError{Field: "manifest.version", Reason: "taken"})
}

// Options configures a Service.
type Options struct {
	DB     *storage.DB
	Files  *files.Service
	Limits Limits
}

// Service is the behaviour of bundles.
type Service struct {
	db    *storage.DB
	files *files.Service
	lim   Limits
}

// NewService returns a Service.
func NewService(o Options) *Service {
	o.Limits.fill()
	return &Service{db: o.DB, files: o.Files, lim: o.Limits}
}

type bundleRow struct {
	ID          string         `db:"id"`
	OrgID       string         `db:"org_id"`
	Slug        string         `db:"slug"`
	Name        sql.NullString `db:"name"`
	Description sql.NullString `db:"description"`
	CreatedAt   int64          `db:"created_at"`
	DeletedAt   sql.NullInt64  `db:"deleted_at"`
}

// RevisionRow is a bundle revision as stored.
type RevisionRow struct {
	ID        string `db:"id"`
	BundleID  string `db:"bundle_id"`
	FileID    string `db:"file_id"`
	Version   string `db:"version"`
	Manifest  string `db:"manifest"`
	BlobKey   string `db:"blob_key"`
	SHA256    string `db:"sha256"`
	CreatedAt int64  `db:"created_at"`
}

const bundleColumns = `id, org_id, slug, name, description, created_at, deleted_at`
const revisionColumns = `id, bundle_id, file_id, version, manifest, blob_key, sha256, created_at`

type blobOpener struct {
	store blob.Store
	key   string
}

func (b blobOpener) Open(ctx context.Context) (io.ReadCloser, error) {
	rc, _, err := b.store.Get(ctx, b.key, nil)
	return rc, err
}

func (b blobOpener) ReaderAt(ctx context.Context) io.ReaderAt {
	return blob.ReaderAt{Ctx: ctx, Store: b.store, Key: b.key}
}

// Publish validates an uploaded archive and stores it as a new revision of
// the bundle with the slug, creating the bundle if needed.
func (s *Service) Publish(ctx context.Context, orgID string, in methods.PublishBundleInput) (methods.PublishBundleOutput, error) {
	var out methods.PublishBundleOutput
	if err := validate.Slug("slug", in.Slug); err != nil {
		return out, err
	}
	if err := validate.Text("name", in.Name, validate.MaxNameLength); err != nil {
		return out, err
	}
	if err := validate.Text("description", in.Description, validate.MaxDescriptionLength); err != nil {
		return out, err
	}
	f, err := s.files.Get(ctx, orgID, in.FileID)
	if err != nil {
		return out, err
	}
	m, err := Inspect(ctx, blobOpener{s.files.Blobs(), f.BlobKey}, f.Size, s.lim)
	if err != nil {
		return out, err
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return out, err
	}
	now := storage.Now()
	rev := RevisionRow{ID: storage.NewID("brev"), FileID: f.ID, Version: m.Version, Manifest: string(manifest),
		BlobKey: f.BlobKey, SHA256: f.SHA256, CreatedAt: now}
	err = s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		var b bundleRow
		err := tx.GetContext(ctx, &b, `SELECT `+bundleColumns+` FROM bundles WHERE org_id = ? AND slug = ? AND deleted_at IS NULL`, orgID, in.Slug)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			name := in.Name
			if name == "" {
				name = m.Name
			}
			b = bundleRow{ID: storage.NewID("bun"), OrgID: orgID, Slug: in.Slug, Name: nullable(name),
				Description: nullable(in.Description), CreatedAt: now}
			if _, err := tx.NamedExecContext(ctx, `INSERT INTO bundles (`+bundleColumns+`)
				VALUES (:id, :org_id, :slug, :name, :description, :created_at, :deleted_at)`, b); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if in.Name != "" || in.Description != "" {
				if _, err := tx.ExecContext(ctx, `UPDATE bundles SET name = COALESCE(?, name), description = COALESCE(?, description) WHERE id = ?`,
					nullable(in.Name), nullable(in.Description), b.ID); err != nil {
					return err
				}
			}
		}
		rev.BundleID = b.ID
		_, err = tx.NamedExecContext(ctx, `INSERT INTO bundle_revisions (`+revisionColumns+`)
			VALUES (:id, :bundle_id, :file_id, :version, :manifest, :blob_key, :sha256, :created_at)`, rev)
		return err
	})
	switch {
	case storage.IsUniqueViolation(err):
		return out, VersionTaken(m.Version)
	case storage.IsForeignKeyViolation(err):
		return out, files.ErrNotFound
	case err != nil:
		return out, fmt.Errorf("publish bundle: %w", err)
	}
	return methods.PublishBundleOutput{BundleID: rev.BundleID, RevisionID: rev.ID, Version: rev.Version}, nil
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func ptr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	return &n.String
}

// bundleByRef finds a live bundle of the org by id or slug.
var bundleByRef = resolve.Noun[bundleRow]{
	Select:   `SELECT ` + bundleColumns + ` FROM bundles`,
	Live:     `deleted_at IS NULL`,
	Slug:     func(b bundleRow) string { return b.Slug },
	NoRef:    errNoRef,
	NotFound: ErrNotFound,
	Mismatch: rpc.InvalidField("bundleSlug", "mismatch", "The bundleId and bundleSlug name different bundles; give one of them."),
	Op:       "get bundle",
}

// resolve finds a live bundle of the org by id or slug.
func (s *Service) resolve(ctx context.Context, orgID, id, slug string) (bundleRow, error) {
	return bundleByRef.ByIDOrSlug(ctx, s.db, orgID, id, slug)
}

// List returns a page of the org's bundles by slug, each with its latest
// revision.
func (s *Service) List(ctx context.Context, orgID string, in methods.ListBundlesInput) (methods.ListBundlesOutput, error) {
	limit, offset, err := rpc.Page(in.Limit, in.Offset)
	if err != nil {
		return methods.ListBundlesOutput{}, err
	}
	var rows []bundleRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+bundleColumns+` FROM bundles WHERE org_id = ? AND deleted_at IS NULL
		ORDER BY slug LIMIT ? OFFSET ?`, orgID, limit, offset); err != nil {
		return methods.ListBundlesOutput{}, fmt.Errorf("list bundles: %w", err)
	}
	out := methods.ListBundlesOutput{Bundles: make([]methods.BundleSummary, 0, len(rows))}
	for _, b := range rows {
		w := methods.BundleSummary{ID: b.ID, Slug: b.Slug, Name: ptr(b.Name), Description: ptr(b.Description),
			CreatedAt: storage.FormatTime(b.CreatedAt)}
		rev, err := s.latest(ctx, b.ID)
		switch {
		case err == nil:
			v := rev.Version
			w.LatestRevision = &methods.BundleRevisionSummary{ID: rev.ID, Version: &v, R2Key: rev.BlobKey, CreatedAt: storage.FormatTime(rev.CreatedAt)}
		case !errors.Is(err, ErrNoRevisions):
			return out, err
		}
		out.Bundles = append(out.Bundles, w)
	}
	return out, nil
}

func (s *Service) latest(ctx context.Context, bundleID string) (RevisionRow, error) {
	var r RevisionRow
	err := s.db.GetContext(ctx, &r, `SELECT `+revisionColumns+` FROM bundle_revisions WHERE bundle_id = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`, bundleID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNoRevisions
	}
	if err != nil {
		return r, fmt.Errorf("latest revision: %w", err)
	}
	return r, nil
}

// Get returns a bundle with all its revisions, newest first.
func (s *Service) Get(ctx context.Context, orgID string, in methods.GetBundleInput) (methods.GetBundleOutput, error) {
	b, err := s.resolve(ctx, orgID, in.BundleID, in.BundleSlug)
	if err != nil {
		return methods.GetBundleOutput{}, err
	}
	var revs []RevisionRow
	if err := s.db.SelectContext(ctx, &revs, `SELECT `+revisionColumns+` FROM bundle_revisions WHERE bundle_id = ?
		ORDER BY created_at DESC, id DESC`, b.ID); err != nil {
		return methods.GetBundleOutput{}, fmt.Errorf("list revisions: %w", err)
	}
	out := methods.GetBundleOutput{ID: b.ID, Slug: b.Slug, Name: ptr(b.Name), Description: ptr(b.Description),
		CreatedAt: storage.FormatTime(b.CreatedAt), Revisions: make([]methods.BundleRevision, 0, len(revs))}
	for _, r := range revs {
		w, err := r.Wire()
		if err != nil {
			return out, err
		}
		out.Revisions = append(out.Revisions, w)
	}
	return out, nil
}

// Wire is the revision as bundles.get shows it.
func (r RevisionRow) Wire() (methods.BundleRevision, error) {
	w := methods.BundleRevision{ID: r.ID, Version: r.Version, FileID: r.FileID, R2Key: r.BlobKey, SHA256: r.SHA256,
		CreatedAt: storage.FormatTime(r.CreatedAt)}
	if err := json.Unmarshal([]byte(r.Manifest), &w.Manifest); err != nil {
		return w, fmt.Errorf("revision %s manifest: %w", r.ID, err)
	}
	return w, nil
}

// Delete removes a bundle from listings and from new instances; its
// revisions stay for the instances pinned to them.
func (s *Service) Delete(ctx context.Context, orgID string, in methods.DeleteBundleInput) error {
	b, err := s.resolve(ctx, orgID, in.BundleID, in.BundleSlug)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE bundles SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, storage.Now(), b.ID)
	if err != nil {
		return fmt.Errorf("delete bundle: %w", err)
	}
	return nil
}

// ResolveBundle pins a revision for a new instance: the latest revision of
// the live bundle with the slug, or the revision with the id (of a live
// bundle of the org).
func (s *Service) ResolveBundle(ctx context.Context, orgID, slug, revisionID string) (string, string, error) {
	if revisionID != "" {
		var row struct {
			Slug string `db:"slug"`
			ID   string `db:"id"`
		}
		err := s.db.GetContext(ctx, &row, `SELECT b.slug, r.id FROM bundle_revisions r JOIN bundles b ON b.id = r.bundle_id
			WHERE r.id = ? AND b.org_id = ? AND b.deleted_at IS NULL`, revisionID, orgID)
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", ErrRevisionNotFound
		}
		if err != nil {
			return "", "", fmt.Errorf("resolve revision: %w", err)
		}
		return row.Slug, row.ID, nil
	}
	b, err := s.resolve(ctx, orgID, "", slug)
	if errors.Is(err, ErrNotFound) {
		return "", "", ErrRevisionNotFound
	}
	if err != nil {
		return "", "", err
	}
	rev, err := s.latest(ctx, b.ID)
	if err != nil {
		return "", "", err
	}
	return b.Slug, rev.ID, nil
}

// Revision returns a revision by id within the org, whether or not its
// bundle was deleted since (pinned instances keep working).
func (s *Service) Revision(ctx context.Context, orgID, revisionID string) (RevisionRow, error) {
	var r RevisionRow
	err := s.db.GetContext(ctx, &r, `SELECT r.id, r.bundle_id, r.file_id, r.version, r.manifest, r.blob_key, r.sha256, r.created_at
		FROM bundle_revisions r JOIN bundles b ON b.id = r.bundle_id WHERE r.id = ? AND b.org_id = ?`, revisionID, orgID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrRevisionNotFound
	}
	if err != nil {
		return r, fmt.Errorf("get revision: %w", err)
	}
	return r, nil
}

// Manifest is the manifest of a revision of the org, as Revision finds it.
func (s *Service) Manifest(ctx context.Context, orgID, revisionID string) (*methods.BundleManifest, error) {
	rev, err := s.Revision(ctx, orgID, revisionID)
	if err != nil {
		return nil, err
	}
	var m methods.BundleManifest
	if err := json.Unmarshal([]byte(rev.Manifest), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// OpenRevision streams a revision's archive, whatever its org: nodes fetch
// the bundles of the sandboxes they were given.
func (s *Service) OpenRevision(ctx context.Context, revisionID string) (io.ReadCloser, error) {
	var key string
	if err := s.db.GetContext(ctx, &key, `SELECT blob_key FROM bundle_revisions WHERE id = ?`, revisionID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrRevisionNotFound
		}
		return nil, err
	}
	rc, _, err := s.files.Blobs().Get(ctx, key, nil)
	return rc, err
}
