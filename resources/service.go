package resources

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/roosthq/roost/files"
	"github.com/roosthq/roost/internal/resolve"
	"github.com/roosthq/roost/internal/validate"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// MaxLabelLength limits a revision's label, in characters.
const MaxLabelLength = 200

// Errors of the resources domain.
var (
	ErrNotFound = &rpc.Error{Type: methods.NotFound,
		Message: "No resource with this id or slug exists in your organization."}
	ErrSlugTaken = &rpc.Error{Type: methods.Conflict,
		Message: "A resource with this slug already exists in your organization. Add a revision to it with resources.addRevision, or pick another slug."}
	errNoRef = rpc.InvalidField("resourceId", "required", "Give resourceId or resourceSlug.")
)

// Service is the behaviour of resources.
type Service struct {
	db    *storage.DB
	files *files.Service
}

// NewService returns a Service.
func NewService(db *storage.DB, f *files.Service) *Service { return &Service{db: db, files: f} }

type resourceRow struct {
	ID          string         `db:"id"`
	OrgID       string         `db:"org_id"`
	Slug        string         `db:"slug"`
	Name        sql.NullString `db:"name"`
	Description sql.NullString `db:"description"`
	CreatedAt   int64          `db:"created_at"`
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Create makes a resource with its first revision.
func (s *Service) Create(ctx context.Context, orgID string, in methods.CreateResourceInput) (methods.CreateResourceOutput, error) {
	var out methods.CreateResourceOutput
	if err := validate.Slug("slug", in.Slug); err != nil {
		return out, err
	}
	for _, c := range []struct {
		field, v string
		max      int
	}{{"name", in.Name, validate.MaxNameLength}, {"description", in.Description, validate.MaxDescriptionLength}, {"label", in.Label, MaxLabelLength}} {
		if err := validate.Text(c.field, c.v, c.max); err != nil {
			return out, err
		}
	}
	if _, err := s.files.Get(ctx, orgID, in.FileID); err != nil {
		return out, err
	}
	now := storage.Now()
	r := resourceRow{ID: storage.NewID("res"), OrgID: orgID, Slug: in.Slug, Name: nullable(in.Name),
		Description: nullable(in.Description), CreatedAt: now}
	revID := storage.NewID("rrev")
	err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.NamedExecContext(ctx, `INSERT INTO resources (id, org_id, slug, name, description, created_at)
			VALUES (:id, :org_id, :slug, :name, :description, :created_at)`, r); err != nil {
			return err
		}
		return insertRevision(ctx, tx, revID, r.ID, in.FileID, in.Label, now)
	})
	if storage.IsUniqueViolation(err) {
		return out, ErrSlugTaken
	}
	if storage.IsForeignKeyViolation(err) {
		return out, files.ErrNotFound
	}
	if err != nil {
		return out, fmt.Errorf("create resource: %w", err)
	}
	return methods.CreateResourceOutput{ResourceID: r.ID, RevisionID: revID}, nil
}

func insertRevision(ctx context.Context, tx *sqlx.Tx, id, resourceID, fileID, label string, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO resource_revisions (id, resource_id, file_id, label, created_at) VALUES (?, ?, ?, ?, ?)`,
		id, resourceID, fileID, nullable(label), now)
	return err
}

// resourceByRef finds a resource of the org by id or slug.
var resourceByRef = resolve.Noun[resourceRow]{
	Select:   `SELECT id, org_id, slug, name, description, created_at FROM resources`,
	Slug:     func(r resourceRow) string { return r.Slug },
	NoRef:    errNoRef,
	NotFound: ErrNotFound,
	Mismatch: rpc.InvalidField("resourceSlug", "mismatch", "The resourceId and resourceSlug name different resources; give one of them."),
	Op:       "get resource",
}

// resolve finds a resource of the org by id or slug.
func (s *Service) resolve(ctx context.Context, orgID, id, slug string) (resourceRow, error) {
	return resourceByRef.ByIDOrSlug(ctx, s.db, orgID, id, slug)
}

// AddRevision adds a revision to a resource; it becomes the latest.
func (s *Service) AddRevision(ctx context.Context, orgID string, in methods.AddResourceRevisionInput) (methods.AddResourceRevisionOutput, error) {
	var out methods.AddResourceRevisionOutput
	if err := validate.Text("label", in.Label, MaxLabelLength); err != nil {
		return out, err
	}
	r, err := s.resolve(ctx, orgID, in.ResourceID, in.ResourceSlug)
	if err != nil {
		return out, err
	}
	if _, err := s.files.Get(ctx, orgID, in.FileID); err != nil {
		return out, err
	}
	revID := storage.NewID("rrev")
	err = s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		return insertRevision(ctx, tx, revID, r.ID, in.FileID, in.Label, storage.Now())
	})
	if storage.IsForeignKeyViolation(err) {
		return out, ErrNotFound
	}
	if err != nil {
		return out, fmt.Errorf("add revision: %w", err)
	}
	return methods.AddResourceRevisionOutput{RevisionID: revID}, nil
}

type latestRow struct {
	ResourceID string         `db:"resource_id"`
	ID         string         `db:"id"`
	Label      sql.NullString `db:"label"`
	CreatedAt  int64          `db:"created_at"`
	FileID     string         `db:"file_id"`
	Filename   string         `db:"filename"`
	MimeType   string         `db:"mime_type"`
	Size       int64          `db:"size"`
}

const latestQuery = `SELECT rr.resource_id, rr.id, rr.label, rr.created_at, f.id AS file_id, f.filename, f.mime_type, f.size
	FROM resource_revisions rr JOIN files f ON f.id = rr.file_id
	WHERE rr.resource_id IN (?) AND rr.id = (
		SELECT r2.id FROM resource_revisions r2 WHERE r2.resource_id = rr.resource_id
		ORDER BY r2.created_at DESC, r2.id DESC LIMIT 1)`

func (s *Service) wire(ctx context.Context, rows []resourceRow) ([]methods.GetResourceOutput, error) {
	out := make([]methods.GetResourceOutput, 0, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	q, args, err := sqlx.In(latestQuery, ids)
	if err != nil {
		return nil, err
	}
	var latest []latestRow
	if err := s.db.SelectContext(ctx, &latest, s.db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("latest revisions: %w", err)
	}
	byRes := map[string]latestRow{}
	for _, l := range latest {
		byRes[l.ResourceID] = l
	}
	for _, r := range rows {
		w := methods.GetResourceOutput{ID: r.ID, Slug: r.Slug, Name: ptr(r.Name), Description: ptr(r.Description),
			CreatedAt: storage.FormatTime(r.CreatedAt)}
		if l, ok := byRes[r.ID]; ok {
			w.LatestRevision = &methods.ResourceRevision{ID: l.ID, Label: ptr(l.Label), CreatedAt: storage.FormatTime(l.CreatedAt),
				File: methods.ResourceFile{ID: l.FileID, Filename: l.Filename, MimeType: l.MimeType, Size: l.Size}}
		}
		out = append(out, w)
	}
	return out, nil
}

func ptr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	return &n.String
}

// Get returns a resource with its latest revision.
func (s *Service) Get(ctx context.Context, orgID string, in methods.GetResourceInput) (methods.GetResourceOutput, error) {
	r, err := s.resolve(ctx, orgID, in.ResourceID, in.ResourceSlug)
	if err != nil {
		return methods.GetResourceOutput{}, err
	}
	out, err := s.wire(ctx, []resourceRow{r})
	if err != nil {
		return methods.GetResourceOutput{}, err
	}
	return out[0], nil
}

// List returns a page of the org's resources, by slug.
func (s *Service) List(ctx context.Context, orgID string, in methods.ListResourcesInput) (methods.ListResourcesOutput, error) {
	limit, offset, err := rpc.Page(in.Limit, in.Offset)
	if err != nil {
		return methods.ListResourcesOutput{}, err
	}
	var rows []resourceRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT id, org_id, slug, name, description, created_at FROM resources
		WHERE org_id = ? ORDER BY slug LIMIT ? OFFSET ?`, orgID, limit, offset); err != nil {
		return methods.ListResourcesOutput{}, fmt.Errorf("list resources: %w", err)
	}
	out, err := s.wire(ctx, rows)
	return methods.ListResourcesOutput{Resources: out}, err
}

// Delete removes a resource and its revisions; their files stay, and may
// then be deleted.
func (s *Service) Delete(ctx context.Context, orgID, id string) error {
	return s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM resources WHERE id = ? AND org_id = ?`, id, orgID); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM resource_revisions WHERE resource_id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM resources WHERE id = ? AND org_id = ?`, id, orgID)
		return err
	})
}

// LatestFiles returns, for each resource id of the org, the file of its
// latest revision (for placing inputs in a sandbox).
func (s *Service) LatestFiles(ctx context.Context, orgID string, ids []string) ([]files.File, error) {
	var out []files.File
	for _, id := range ids {
		r, err := s.Get(ctx, orgID, methods.GetResourceInput{ResourceID: strings.TrimSpace(id)})
		if err != nil {
			return nil, err
		}
		if r.LatestRevision == nil {
			continue
		}
		f, err := s.files.Get(ctx, orgID, r.LatestRevision.File.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
