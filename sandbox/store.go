package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/roosthq/roost/lifecycle"
	"github.com/roosthq/roost/storage"
)

// Row is a sandbox as stored.
type Row struct {
	ID             string `db:"id"`
	OrgID          string `db:"org_id"`
	InstanceID     string `db:"instance_id"`
	NodeID         string `db:"node_id"`
	State          State  `db:"state"`
	PausedBy       string `db:"paused_by"`
	Isolation      string `db:"isolation"`
	Limits         string `db:"limits"`
	TokenHash      string `db:"token_hash"`
	IdleTimeoutMs  int64  `db:"idle_timeout_ms"`
	Error          string `db:"error"`
	CreatedAt      int64  `db:"created_at"`
	UpdatedAt      int64  `db:"updated_at"`
	LastActivityAt int64  `db:"last_activity_at"`
}

const sandboxColumns = `id, org_id, instance_id, node_id, state, paused_by, isolation, limits, token_hash, idle_timeout_ms, error, created_at, updated_at, last_activity_at`

type store struct {
	db *storage.DB
	// running keeps live()'s answers that were running, until the
	// instance or one of its sandboxes changes.
	running *storage.Cache[Row]
}

func newStore(db *storage.DB) store { return store{db: db, running: storage.NewCache[Row](db)} }

func (s store) insert(ctx context.Context, r Row) error {
	_, err := s.db.NamedExecContext(ctx, `INSERT INTO sandboxes (`+sandboxColumns+`) VALUES
		(:id, :org_id, :instance_id, :node_id, :state, :paused_by, :isolation, :limits, :token_hash, :idle_timeout_ms, :error, :created_at, :updated_at, :last_activity_at)`, r)
	if err == nil {
		s.db.Versions().Changed(r.InstanceID)
	}
	return err
}

func (s store) get(ctx context.Context, id string) (Row, error) {
	var r Row
	err := s.db.GetContext(ctx, &r, `SELECT `+sandboxColumns+` FROM sandboxes WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrSandboxNotFound
	}
	return r, err
}

// liveCached is live, from the cache while its answer was running and
// nothing of the instance has changed since.
func (s store) liveCached(ctx context.Context, instanceID string) (Row, error) {
	if r, ok := s.running.Get(instanceID); ok {
		return r, nil
	}
	at := s.running.Version(instanceID)
	r, err := s.live(ctx, instanceID)
	if err == nil && r.State == Running {
		s.running.Put(instanceID, instanceID, at, r)
	}
	return r, err
}

// live returns the instance's live sandbox, or ErrNoLiveSandbox.
func (s store) live(ctx context.Context, instanceID string) (Row, error) {
	var r Row
	err := s.db.GetContext(ctx, &r, `SELECT `+sandboxColumns+` FROM sandboxes WHERE instance_id = ?
		AND state IN (`+Lifecycle.LiveSQL()+`)`, instanceID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNoLiveSandbox
	}
	return r, err
}

// latest returns the instance's most recent sandbox, live or not.
func (s store) latest(ctx context.Context, instanceID string) (Row, error) {
	var r Row
	err := s.db.GetContext(ctx, &r, `SELECT `+sandboxColumns+` FROM sandboxes WHERE instance_id = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`, instanceID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNoLiveSandbox
	}
	return r, err
}

func (s store) onNode(ctx context.Context, nodeID string) ([]Row, error) {
	var rows []Row
	err := s.db.SelectContext(ctx, &rows, `SELECT `+sandboxColumns+` FROM sandboxes WHERE node_id = ?
		AND state IN (`+Lifecycle.LiveSQL()+`)`, nodeID)
	return rows, err
}

// lastFailed is the instance's newest sandbox, if it ended in error: its
// workspace may be on its node still.
func (s store) lastFailed(ctx context.Context, instanceID string) (Row, error) {
	var r Row
	err := s.db.GetContext(ctx, &r, `SELECT `+sandboxColumns+` FROM sandboxes WHERE instance_id = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`, instanceID)
	if err != nil {
		return r, err
	}
	if r.State != Failed {
		return r, ErrNoLiveSandbox
	}
	return r, nil
}

// failedOf lists the instance's sandboxes that ended in error.
func (s store) failedOf(ctx context.Context, instanceID string) ([]Row, error) {
	var rows []Row
	err := s.db.SelectContext(ctx, &rows, `SELECT `+sandboxColumns+` FROM sandboxes WHERE instance_id = ? AND state = ?`, instanceID, Failed)
	return rows, err
}

// nodesOf lists the nodes an organization's live sandboxes run on.
func (s store) nodesOf(ctx context.Context, orgID string) ([]string, error) {
	var ids []string
	err := s.db.SelectContext(ctx, &ids, `SELECT DISTINCT node_id FROM sandboxes WHERE org_id = ?
		AND state IN (`+Lifecycle.LiveSQL()+`)`, orgID)
	return ids, err
}

// move changes the state if it is still from, with the event, in one
// transaction; it reports whether it did.
func (s store) move(ctx context.Context, r Row, to State, pausedBy, errText, reason string) (bool, error) {
	st := lifecycle.Step[State]{ID: r.ID, InstanceID: r.InstanceID, From: r.State, To: to, Reason: reason,
		Also: []lifecycle.Set{{Column: "paused_by", Value: pausedBy}, {Column: "last_activity_at", Value: storage.Now()}}}
	if errText != "" {
		st.Also = append(st.Also, lifecycle.Set{Column: "error", Value: errText})
	}
	moved := false
	err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		moved, err = Lifecycle.Move(ctx, tx, st)
		return err
	})
	if moved && err == nil {
		s.db.Versions().Changed(r.InstanceID)
	}
	return moved, err
}

// touchEvery is the finest grain of a sandbox's activity time: idle
// timeouts are minutes, so busy sandboxes need not write on every call.
const touchEvery = 5 * 1000 // ms

var lastTouch sync.Map // sandbox id → int64 ms of the last write

func (s store) touch(ctx context.Context, id string) {
	now := storage.Now()
	if v, ok := lastTouch.Load(id); ok && now-v.(int64) < touchEvery {
		return
	}
	lastTouch.Store(id, now)
	_, _ = s.db.ExecContext(ctx, `UPDATE sandboxes SET last_activity_at = ? WHERE id = ?`, now, id)
}
