// Package resolve finds a row that an input names by id or by slug, the
// two ways a caller may name a bundle or a resource. It exists so that
// every such noun answers alike: no reference, a reference to nothing, and
// an id and a slug that name different rows each get the noun's own error,
// and anything else is a wrapped database error.
package resolve

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Getter reads one row into dest; *storage.DB and *sqlx.Tx are Getters.
type Getter interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

// Noun says how to find the rows of one noun of an org, and what to answer
// when they cannot be found.
type Noun[T any] struct {
	// Select is the query up to its WHERE clause: SELECT columns FROM table.
	Select string
	// Live, when set, is ANDed to the WHERE clause after the org, to leave
	// out rows that no longer count (e.g. "deleted_at IS NULL").
	Live string
	// Slug is a row's slug.
	Slug func(T) string
	// NoRef answers when neither an id nor a slug is given.
	NoRef error
	// NotFound answers when no row of the org matches.
	NotFound error
	// Mismatch answers when both are given and the row with the id has
	// another slug.
	Mismatch error
	// Op names the lookup in a database error ("get bundle").
	Op string
}

// ByIDOrSlug finds the org's row with the id, else the one with the slug.
func (n Noun[T]) ByIDOrSlug(ctx context.Context, db Getter, orgID, id, slug string) (T, error) {
	var r T
	live := ""
	if n.Live != "" {
		live = " AND " + n.Live
	}
	var err error
	switch {
	case id != "":
		err = db.GetContext(ctx, &r, n.Select+` WHERE id = ? AND org_id = ?`+live, id, orgID)
	case slug != "":
		err = db.GetContext(ctx, &r, n.Select+` WHERE slug = ? AND org_id = ?`+live, slug, orgID)
	default:
		return r, n.NoRef
	}
	if errors.Is(err, sql.ErrNoRows) {
		return r, n.NotFound
	}
	if err != nil {
		return r, fmt.Errorf("%s: %w", n.Op, err)
	}
	if id != "" && slug != "" && n.Slug(r) != slug {
		return r, n.Mismatch
	}
	return r, nil
}
