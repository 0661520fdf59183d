package instance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/roosthq/roost/lifecycle"
	"github.com/roosthq/roost/storage"
)

// Row is an instance as stored.
type Row struct {
	ID               string         `db:"id"`
	OrgID            string         `db:"org_id"`
	Name             string         `db:"name"`
	Status           State          `db:"status"`
	TemplateSlug     string         `db:"template_slug"`
	BundleSlug       string         `db:"bundle_slug"`
	BundleRevisionID string         `db:"bundle_revision_id"`
	VCSType          string         `db:"vcs_type"`
	Metadata         sql.NullString `db:"metadata"`
	CreatedAt        int64          `db:"created_at"`
	ArchivedAt       sql.NullInt64  `db:"archived_at"`
}

// EventRow is a lifecycle event as stored.
type EventRow struct {
	ID         string `db:"id"`
	InstanceID string `db:"instance_id"`
	Event      string `db:"event"`
	Detail     string `db:"detail"`
	CreatedAt  int64  `db:"created_at"`
}

// Store reads and writes instances. Every method takes the org id and
// scopes its query to it.
type Store struct {
	db *storage.DB

	// get is the most frequent query, prepared once: database/sql keeps it
	// prepared on each connection it runs on.
	getOnce sync.Once
	get     *sqlx.Stmt
	getErr  error
}

// NewStore returns a store on db.
func NewStore(db *storage.DB) *Store { return &Store{db: db} }

const rowColumns = `id, org_id, name, status, template_slug, bundle_slug, bundle_revision_id, vcs_type, metadata, created_at, archived_at`

// GetQuery is the query Get runs; exported so a benchmark can run the same SQL.
const GetQuery = `SELECT ` + rowColumns + ` FROM instances WHERE id = ? AND org_id = ?`

// Insert stores a new instance and its first lifecycle event together.
func (s *Store) Insert(ctx context.Context, r Row, ev EventRow) error {
	return s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.NamedExecContext(ctx, `INSERT INTO instances (`+rowColumns+`)
			VALUES (:id, :org_id, :name, :status, :template_slug, :bundle_slug, :bundle_revision_id, :vcs_type, :metadata, :created_at, :archived_at)`, r)
		if err != nil {
			return fmt.Errorf("insert instance: %w", err)
		}
		return insertEvent(ctx, tx, ev)
	})
}

// Get returns one instance of the org, or ErrNotFound.
func (s *Store) Get(ctx context.Context, orgID, id string) (Row, error) {
	s.getOnce.Do(func() { s.get, s.getErr = s.db.PreparexContext(context.Background(), s.db.Rebind(GetQuery)) })
	var r Row
	var err error
	if s.getErr == nil {
		err = s.get.GetContext(ctx, &r, id, orgID)
	} else {
		err = s.db.GetContext(ctx, &r, GetQuery, id, orgID)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("get instance: %w", err)
	}
	return r, nil
}

// List returns one page of the org's instances, newest first, and the total.
func (s *Store) List(ctx context.Context, orgID string, limit, offset int) ([]Row, int, error) {
	var total int
	if err := s.db.GetContext(ctx, &total, `SELECT COUNT(*) FROM instances WHERE org_id = ?`, orgID); err != nil {
		return nil, 0, fmt.Errorf("count instances: %w", err)
	}
	rows := []Row{}
	err := s.db.SelectContext(ctx, &rows, `SELECT `+rowColumns+` FROM instances WHERE org_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, orgID, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list instances: %w", err)
	}
	return rows, total, nil
}

// Events returns an instance's lifecycle events, oldest first.
func (s *Store) Events(ctx context.Context, instanceID string) ([]EventRow, error) {
	evs := []EventRow{}
	err := s.db.SelectContext(ctx, &evs, `SELECT id, instance_id, event, detail, created_at FROM instance_events
		WHERE instance_id = ? ORDER BY created_at, id`, instanceID)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return evs, nil
}

// Move changes an instance's state from → to and records the event, in one
// transaction; it reports false if the row is no longer in from (a
// concurrent move).
func (s *Store) Move(ctx context.Context, orgID, id string, from, to State, reason string) (bool, error) {
	moved := false
	err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		st := lifecycle.Step[State]{ID: id, InstanceID: id, From: from, To: to, Reason: reason,
			Where: []lifecycle.Set{{Column: "org_id", Value: orgID}}}
		if to == StateArchived {
			st.Also = []lifecycle.Set{{Column: "archived_at", Value: storage.Now()}}
		}
		var err error
		moved, err = Lifecycle.Move(ctx, tx, st)
		return err
	})
	if moved && err == nil {
		s.db.Versions().Changed(id)
	}
	return moved, conflict(err)
}

// GetAny returns an instance by id, whatever its org (for events from
// nodes, which name the instance themselves).
func (s *Store) GetAny(ctx context.Context, id string) (Row, error) {
	var r Row
	err := s.db.GetContext(ctx, &r, `SELECT `+rowColumns+` FROM instances WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// AddEvent appends a lifecycle event.
func (s *Store) AddEvent(ctx context.Context, ev EventRow) error {
	_, err := s.db.NamedExecContext(ctx, `INSERT INTO instance_events (id, instance_id, event, detail, created_at)
		VALUES (:id, :instance_id, :event, :detail, :created_at)`, ev)
	return err
}

func insertEvent(ctx context.Context, tx *sqlx.Tx, ev EventRow) error {
	_, err := tx.NamedExecContext(ctx, `INSERT INTO instance_events (id, instance_id, event, detail, created_at)
		VALUES (:id, :instance_id, :event, :detail, :created_at)`, ev)
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}
