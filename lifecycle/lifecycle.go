package lifecycle

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/roosthq/roost/storage"
)

// Table is the state machine of one noun.
type Table[S ~string] struct {
	noun  string
	moves map[S]map[S]bool
	live  []S
	rows  Rows
}

// Rows says where a noun's state is stored and where its events go.
type Rows struct {
	// Table and Column hold the state: UPDATE <Table> SET <Column> = ...
	Table, Column string
	// Instance is the column naming the row's instance; default
	// instance_id.
	Instance string
	// Touched, if set, is a column set to the time of every move.
	Touched string
	// History sends events to the instance's history (instance_events,
	// shown in instances.status) named by Event; otherwise they go to
	// state_events.
	History bool
	// Event names a history event for a move to a state; default the
	// state itself.
	Event func(to string) string
}

// New declares a noun's table: each state with the states it may move to,
// and the states that count as live.
func New[S ~string](noun string, rows Rows, moves map[S][]S, live ...S) *Table[S] {
	t := &Table[S]{noun: noun, moves: map[S]map[S]bool{}, live: live, rows: rows}
	for from, tos := range moves {
		t.moves[from] = map[S]bool{}
		for _, to := range tos {
			if _, ok := moves[to]; !ok {
				panic(fmt.Sprintf("lifecycle: %s state %q moves to undeclared %q", noun, from, to))
			}
			t.moves[from][to] = true
		}
	}
	for _, s := range live {
		if _, ok := moves[s]; !ok {
			panic(fmt.Sprintf("lifecycle: %s live state %q is undeclared", noun, s))
		}
	}
	return t
}

// Noun is what the table is of ("sandbox").
func (t *Table[S]) Noun() string { return t.noun }

// States lists every declared state, sorted.
func (t *Table[S]) States() []S {
	out := make([]S, 0, len(t.moves))
	for s := range t.moves {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Known reports whether s is a declared state.
func (t *Table[S]) Known(s S) bool { _, ok := t.moves[s]; return ok }

// CanMove reports whether from → to is allowed.
func (t *Table[S]) CanMove(from, to S) bool { return t.moves[from][to] }

// Live reports whether s is one of the live states.
func (t *Table[S]) Live(s S) bool {
	for _, l := range t.live {
		if l == s {
			return true
		}
	}
	return false
}

// LiveStates lists the live states in declaration order.
func (t *Table[S]) LiveStates() []S { return append([]S(nil), t.live...) }

// LiveSQL is the live states as an SQL list, for `state IN (...)`.
func (t *Table[S]) LiveSQL() string { return SQLList(t.live...) }

// SQLList quotes states as an SQL list: 'a', 'b'. States are identifiers
// declared in code, never input.
func SQLList[S ~string](states ...S) string {
	q := make([]string, len(states))
	for i, s := range states {
		q[i] = "'" + strings.ReplaceAll(string(s), "'", "''") + "'"
	}
	return strings.Join(q, ", ")
}

// TransitionError is a move the table does not allow.
type TransitionError struct {
	Noun     string
	From, To string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s cannot move from %s to %s", e.Noun, e.From, e.To)
}

// Check returns nil for an allowed move and a *TransitionError otherwise.
func (t *Table[S]) Check(from, to S) error {
	if t.CanMove(from, to) {
		return nil
	}
	return &TransitionError{Noun: t.noun, From: string(from), To: string(to)}
}

// Execer is a transaction or a database.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Set is one more column a move writes.
type Set struct {
	Column string
	Value  any
}

// Step is one move of one row.
type Step[S ~string] struct {
	// ID is the row's id; InstanceID the instance it belongs to.
	ID, InstanceID string
	From, To       S
	// Reason is the event's detail: why the move happened.
	Reason string
	// Where narrows the update further (e.g. the caller's org).
	Where []Set
	// Also is written with the state.
	Also []Set
}

// Move changes a row's state From → To and records the event, through x
// (the caller's transaction). It reports false, with no write, when the
// row is no longer in From: the caller lost a race and should read again.
// A move the table does not allow is a *TransitionError, never a write.
func (t *Table[S]) Move(ctx context.Context, x Execer, st Step[S]) (bool, error) {
	if err := t.Check(st.From, st.To); err != nil {
		return false, err
	}
	now := storage.Now()
	q := &strings.Builder{}
	args := []any{string(st.To)}
	fmt.Fprintf(q, "UPDATE %s SET %s = ?", t.rows.Table, t.rows.Column)
	if t.rows.Touched != "" {
		fmt.Fprintf(q, ", %s = ?", t.rows.Touched)
		args = append(args, now)
	}
	for _, a := range st.Also {
		fmt.Fprintf(q, ", %s = ?", a.Column)
		args = append(args, a.Value)
	}
	fmt.Fprintf(q, " WHERE id = ? AND %s = ?", t.rows.Column)
	args = append(args, st.ID, string(st.From))
	for _, w := range st.Where {
		fmt.Fprintf(q, " AND %s = ?", w.Column)
		args = append(args, w.Value)
	}
	res, err := x.ExecContext(ctx, rebind(x, q.String()), args...)
	if err != nil {
		return false, fmt.Errorf("move %s %s: %w", t.noun, st.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	return true, t.Record(ctx, x, st.ID, st.InstanceID, string(st.From), string(st.To), st.Reason)
}

// Selecter is a transaction or a database that reads rows.
type Selecter interface {
	Execer
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

// MoveAll moves every row in from that matches where to to, each with its
// event, and returns how many moved.
func (t *Table[S]) MoveAll(ctx context.Context, x Selecter, from, to S, reason string, where []Set, also []Set) (int, error) {
	if err := t.Check(from, to); err != nil {
		return 0, err
	}
	q := &strings.Builder{}
	args := []any{string(from)}
	fmt.Fprintf(q, "SELECT id, %s FROM %s WHERE %s = ?", t.rows.instanceColumn()+" AS instance_id", t.rows.Table, t.rows.Column)
	for _, w := range where {
		fmt.Fprintf(q, " AND %s = ?", w.Column)
		args = append(args, w.Value)
	}
	var rows []struct {
		ID         string `db:"id"`
		InstanceID string `db:"instance_id"`
	}
	if err := x.SelectContext(ctx, &rows, rebind(x, q.String()), args...); err != nil {
		return 0, fmt.Errorf("find %s rows to move: %w", t.noun, err)
	}
	n := 0
	for _, r := range rows {
		moved, err := t.Move(ctx, x, Step[S]{ID: r.ID, InstanceID: r.InstanceID, From: from, To: to, Reason: reason, Also: also})
		if err != nil {
			return n, err
		}
		if moved {
			n++
		}
	}
	return n, nil
}

// instanceColumn is the column naming a row's instance.
func (r Rows) instanceColumn() string {
	if r.Instance != "" {
		return r.Instance
	}
	return "instance_id"
}

// Record writes the event of a move (or of a row's first state, with from
// empty) without changing the row.
func (t *Table[S]) Record(ctx context.Context, x Execer, id, instanceID, from, to, reason string) error {
	var err error
	if t.rows.History {
		name := to
		if t.rows.Event != nil {
			name = t.rows.Event(to)
		}
		_, err = x.ExecContext(ctx, rebind(x, `INSERT INTO instance_events (id, instance_id, event, detail, created_at) VALUES (?, ?, ?, ?, ?)`),
			storage.NewID("iev"), instanceID, name, reason, storage.Now())
	} else {
		_, err = x.ExecContext(ctx, rebind(x, `INSERT INTO state_events (id, noun, subject_id, instance_id, from_state, to_state, reason, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), storage.NewID("sev"), t.noun, id, instanceID, from, to, reason, storage.Now())
	}
	if err != nil {
		return fmt.Errorf("record %s event: %w", t.noun, err)
	}
	return nil
}

// rebind turns ? placeholders into the driver's own when x knows them
// (sqlx databases and transactions do).
func rebind(x Execer, q string) string {
	if r, ok := x.(interface{ Rebind(string) string }); ok {
		return r.Rebind(q)
	}
	return q
}
