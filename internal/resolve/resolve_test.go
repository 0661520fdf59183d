package resolve

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
)

type row struct{ ID, Slug string }

// fakeDB answers from a fixed set of rows keyed by (column, value), and
// records the query it was asked.
type fakeDB struct {
	rows  map[[2]string]row
	err   error
	query string
	args  []any
}

func (f *fakeDB) GetContext(_ context.Context, dest any, query string, args ...any) error {
	f.query, f.args = query, args
	if f.err != nil {
		return f.err
	}
	col := "slug"
	if strings.Contains(query, "WHERE id = ?") {
		col = "id"
	}
	r, ok := f.rows[[2]string{col, args[0].(string)}]
	if !ok {
		return sql.ErrNoRows
	}
	*dest.(*row) = r
	return nil
}

var (
	errNoRef    = errors.New("no ref")
	errNotFound = errors.New("not found")
	errMismatch = errors.New("mismatch")
	errDB       = errors.New("disk on fire")
)

func TestByIDOrSlug(t *testing.T) {
	a := row{ID: "t_1", Slug: "alpha"}
	b := row{ID: "t_2", Slug: "beta"}
	rows := map[[2]string]row{{"id", a.ID}: a, {"slug", a.Slug}: a, {"id", b.ID}: b, {"slug", b.Slug}: b}
	tests := []struct {
		name      string
		live      string
		id, slug  string
		dbErr     error
		want      row
		wantErr   error
		wantQuery string
	}{
		{name: "by id", id: "t_1", want: a, wantQuery: "SELECT * FROM t WHERE id = ? AND org_id = ?"},
		{name: "by slug", slug: "beta", want: b, wantQuery: "SELECT * FROM t WHERE slug = ? AND org_id = ?"},
		{name: "id wins, slug agrees", id: "t_2", slug: "beta", want: b, wantQuery: "SELECT * FROM t WHERE id = ? AND org_id = ?"},
		{name: "id and slug disagree", id: "t_1", slug: "beta", wantErr: errMismatch},
		{name: "neither", wantErr: errNoRef},
		{name: "unknown id", id: "t_9", wantErr: errNotFound},
		{name: "unknown slug", slug: "gamma", wantErr: errNotFound},
		{name: "live rows only", live: "deleted_at IS NULL", slug: "alpha", want: a,
			wantQuery: "SELECT * FROM t WHERE slug = ? AND org_id = ? AND deleted_at IS NULL"},
		{name: "database error", id: "t_1", dbErr: errDB, wantErr: errDB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := Noun[row]{Select: "SELECT * FROM t", Live: tt.live, Slug: func(r row) string { return r.Slug },
				NoRef: errNoRef, NotFound: errNotFound, Mismatch: errMismatch, Op: "get t"}
			db := &fakeDB{rows: rows, err: tt.dbErr}
			got, err := n.ByIDOrSlug(context.Background(), db, "org_1", tt.id, tt.slug)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.dbErr != nil && err.Error() != "get t: disk on fire" {
				t.Errorf("database error = %q, want it wrapped with the op", err)
			}
			if tt.wantErr != nil {
				return
			}
			if got != tt.want {
				t.Errorf("row = %+v, want %+v", got, tt.want)
			}
			if db.query != tt.wantQuery {
				t.Errorf("query = %q, want %q", db.query, tt.wantQuery)
			}
			if db.args[1] != "org_1" {
				t.Errorf("args = %v, want the org second", db.args)
			}
		})
	}
}
