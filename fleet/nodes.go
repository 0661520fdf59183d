package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// Prefixes of node secrets, so each is recognisable.
const (
	enrollTokenPrefix = "ret_"
	credentialPrefix  = "rnc_"
)

// Enrollment token lifetimes.
const (
	DefaultEnrollTTL = time.Hour
	MaxEnrollTTL     = 7 * 24 * time.Hour
)

// Errors of node administration and enrollment.
var (
	ErrNodeNotFound = &rpc.Error{Type: methods.NotFound, Message: "No node with this id exists. See nodes.list."}
	ErrTokenUnknown = &rpc.Error{Type: methods.Unauthorized,
		Message: "The enrollment token is not valid. Create one with `roost nodes token` (nodes.createEnrollToken)."}
	ErrTokenSpent = &rpc.Error{Type: methods.Unauthorized,
		Message: "The enrollment token was already used; each token enrolls one node once. Create a new one with `roost nodes token`."}
	ErrTokenExpired = &rpc.Error{Type: methods.Unauthorized,
		Message: "The enrollment token has expired. Create a new one with `roost nodes token`."}
	ErrCredential = &rpc.Error{Type: methods.Unauthorized,
		Message: "The node credential is not valid: the node was removed or its credential rotated. Enroll it again with a new token."}
	ErrNotAdmin = &rpc.Error{Type: methods.Forbidden,
		Message: "Node administration needs an admin API key (roost keys create --admin)."}
	ErrShared = &rpc.Error{Type: methods.Forbidden,
		Message: "This is a node of the platform's shared fleet: only a platform operator key (roost keys create --operator) may change it. Your organization can enroll nodes of its own with nodes.createEnrollToken."}
)

var labelPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// CheckLabels validates and normalizes a list of labels.
func CheckLabels(field string, labels []string) ([]string, error) {
	seen := map[string]bool{}
	out := []string{}
	if len(labels) > 64 {
		return nil, rpc.InvalidField(field, "range", "A node has at most 64 labels.")
	}
	for _, l := range labels {
		l = strings.TrimSpace(l)
		if !labelPattern.MatchString(l) {
			return nil, rpc.InvalidField(field, "format", "The label %q must be 1 to 63 lowercase letters, digits, dots, dashes or underscores.", l)
		}
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out, nil
}

// NodeRow is a node as stored.
type NodeRow struct {
	ID              string         `db:"id"`
	Name            string         `db:"name"`
	Hostname        string         `db:"hostname"`
	Labels          string         `db:"labels"`
	Version         string         `db:"version"`
	CredentialHash  string         `db:"credential_hash"`
	Draining        bool           `db:"draining"`
	Metrics         sql.NullString `db:"metrics"`
	LastHeartbeatAt sql.NullInt64  `db:"last_heartbeat_at"`
	ConnectedAt     sql.NullInt64  `db:"connected_at"`
	CreatedAt       int64          `db:"created_at"`
	// OrgID owns the node: only that organization's instances run on it,
	// and only it (and operators) see it. "" is the shared fleet.
	OrgID string `db:"org_id"`
}

// LabelList decodes the stored labels.
func (r NodeRow) LabelList() []string {
	var l []string
	_ = json.Unmarshal([]byte(r.Labels), &l)
	if l == nil {
		l = []string{}
	}
	return l
}

const nodeColumns = `id, name, hostname, labels, version, credential_hash, draining, metrics, last_heartbeat_at, connected_at, created_at, org_id`

// nodeStore keeps nodes and enrollment tokens.
type nodeStore struct{ db *storage.DB }

func (s nodeStore) get(ctx context.Context, id string) (NodeRow, error) {
	var r NodeRow
	err := s.db.GetContext(ctx, &r, `SELECT `+nodeColumns+` FROM nodes WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNodeNotFound
	}
	if err != nil {
		return r, fmt.Errorf("get node: %w", err)
	}
	return r, nil
}

func (s nodeStore) list(ctx context.Context) ([]NodeRow, error) {
	rows := []NodeRow{}
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+nodeColumns+` FROM nodes ORDER BY name, id`); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return rows, nil
}

func (s nodeStore) byCredential(ctx context.Context, cred string) (NodeRow, error) {
	var r NodeRow
	if !strings.HasPrefix(cred, credentialPrefix) {
		return r, ErrCredential
	}
	err := s.db.GetContext(ctx, &r, `SELECT `+nodeColumns+` FROM nodes WHERE credential_hash = ?`, storage.HashSecret(cred))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrCredential
	}
	if err != nil {
		return r, fmt.Errorf("authenticate node: %w", err)
	}
	return r, nil
}

// createToken stores a new one-time enrollment token and returns it; the
// node it enrolls belongs to orgID ("" for the shared fleet).
func (s nodeStore) createToken(ctx context.Context, orgID, createdBy string, ttl time.Duration, labels []string) (string, time.Time, error) {
	tok := storage.NewSecret(enrollTokenPrefix)
	lj, _ := json.Marshal(labels)
	now := time.Now()
	exp := now.Add(ttl)
	_, err := s.db.ExecContext(ctx, `INSERT INTO node_enroll_tokens (id, token_hash, labels, created_by, expires_at, created_at, org_id)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, storage.NewID("net"), storage.HashSecret(tok), string(lj), createdBy, exp.UnixMilli(), now.UnixMilli(), orgID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create enroll token: %w", err)
	}
	return tok, exp, nil
}

type tokenRow struct {
	ID        string        `db:"id"`
	OrgID     string        `db:"org_id"`
	Labels    string        `db:"labels"`
	ExpiresAt int64         `db:"expires_at"`
	SpentAt   sql.NullInt64 `db:"spent_at"`
}

// checkToken tells whether a token may still enroll (for install.sh).
func (s nodeStore) checkToken(ctx context.Context, tok string) error {
	var t tokenRow
	err := s.db.GetContext(ctx, &t, `SELECT id, org_id, labels, expires_at, spent_at FROM node_enroll_tokens WHERE token_hash = ?`, storage.HashSecret(tok))
	return tokenState(t, err)
}

func tokenState(t tokenRow, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrTokenUnknown
	case err != nil:
		return err
	case t.SpentAt.Valid:
		return ErrTokenSpent
	case time.Now().UnixMilli() > t.ExpiresAt:
		return ErrTokenExpired
	}
	return nil
}

// enroll spends a token: it creates a node, or rotates the credential of
// the node req.NodeID, and returns the node id and its new credential.
func (s nodeStore) enroll(ctx context.Context, req nodeapi.EnrollRequest) (string, string, error) {
	labels, err := CheckLabels("labels", req.Labels)
	if err != nil {
		return "", "", err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 100 {
		return "", "", rpc.InvalidField("name", "range", "The node name must be 1 to 100 characters.")
	}
	cred := storage.NewSecret(credentialPrefix)
	var nodeID string
	err = s.db.InTx(ctx, func(tx *sqlx.Tx) error {
		var t tokenRow
		err := tx.GetContext(ctx, &t, `SELECT id, org_id, labels, expires_at, spent_at FROM node_enroll_tokens WHERE token_hash = ?`, storage.HashSecret(req.Token))
		if err := tokenState(t, err); err != nil {
			return err
		}
		var tokenLabels []string
		_ = json.Unmarshal([]byte(t.Labels), &tokenLabels)
		all, _ := CheckLabels("labels", append(labels, tokenLabels...))
		lj, _ := json.Marshal(all)
		now := storage.Now()
		rotated := false
		if req.NodeID != "" {
			// A token re-enrolls only a node of its own owner.
			res, err := tx.ExecContext(ctx, `UPDATE nodes SET credential_hash = ?, name = ?, hostname = ?, labels = ?, version = ? WHERE id = ? AND org_id = ?`,
				storage.HashSecret(cred), name, req.Hostname, string(lj), req.Version, req.NodeID, t.OrgID)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			rotated = n == 1
			nodeID = req.NodeID
		}
		if !rotated {
			nodeID = storage.NewID("node")
			if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, name, hostname, labels, version, credential_hash, created_at, org_id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, nodeID, name, req.Hostname, string(lj), req.Version, storage.HashSecret(cred), now, t.OrgID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE node_enroll_tokens SET spent_at = ?, node_id = ? WHERE id = ? AND spent_at IS NULL`, now, nodeID, t.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrTokenSpent
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return nodeID, cred, nil
}
