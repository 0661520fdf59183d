package lifecycle_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/roosthq/roost/lifecycle"
	"github.com/roosthq/roost/storage"
)

type light string

const (
	red    light = "red"
	green  light = "green"
	yellow light = "yellow"
	broken light = "broken"
)

func table(history bool) *lifecycle.Table[light] {
	return lifecycle.New("light", lifecycle.Rows{Table: "lights", Column: "state", Touched: "updated_at", History: history,
		Event: func(to string) string { return "light_" + to }},
		map[light][]light{
			red:    {green, broken},
			green:  {yellow, broken},
			yellow: {red, broken},
			broken: {},
		}, red, green, yellow)
}

func TestTable(t *testing.T) {
	tb := table(false)
	all := tb.States()
	allowed := map[[2]light]bool{{red, green}: true, {red, broken}: true, {green, yellow}: true, {green, broken}: true,
		{yellow, red}: true, {yellow, broken}: true}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				want := allowed[[2]light{from, to}]
				if got := tb.CanMove(from, to); got != want {
					t.Fatalf("CanMove = %v, want %v", got, want)
				}
				err := tb.Check(from, to)
				var te *lifecycle.TransitionError
				if want != (err == nil) || (!want && !errors.As(err, &te)) {
					t.Fatalf("Check = %v", err)
				}
				if te != nil && (te.From != string(from) || te.To != string(to) || te.Noun != "light") {
					t.Fatalf("TransitionError = %+v", te)
				}
			})
		}
	}
	if !tb.Live(red) || tb.Live(broken) || tb.Live("unknown") {
		t.Fatal("live set is wrong")
	}
	if got := tb.LiveSQL(); got != "'red', 'green', 'yellow'" {
		t.Fatalf("LiveSQL = %s", got)
	}
	if got := lifecycle.SQLList(light("it's")); got != "'it''s'" {
		t.Fatalf("SQLList quoting = %s", got)
	}
}

func TestNewRefusesUndeclaredStates(t *testing.T) {
	for name, fn := range map[string]func(){
		"move": func() {
			lifecycle.New("x", lifecycle.Rows{}, map[light][]light{red: {green}})
		},
		"live": func() {
			lifecycle.New("x", lifecycle.Rows{}, map[light][]light{red: {}}, green)
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic for an undeclared state")
				}
			}()
			fn()
		})
	}
}

func openDB(t *testing.T) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.OpenSQLite(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE lights (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, state TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', updated_at BIGINT NOT NULL DEFAULT 0)`,
		`INSERT INTO lights (id, org_id, state) VALUES ('l1', 'o1', 'red')`,
		`INSERT INTO orgs (id, name, created_at) VALUES ('o1', 'o1', 0)`,
		`INSERT INTO instances (id, org_id, name, status, template_slug, vcs_type, created_at) VALUES ('i1', 'o1', 'i', 'created', 't', 'none', 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func stateOf(t *testing.T, db *storage.DB) (string, string) {
	var r struct {
		State string `db:"state"`
		Note  string `db:"note"`
	}
	if err := db.Get(&r, `SELECT state, note FROM lights WHERE id = 'l1'`); err != nil {
		t.Fatal(err)
	}
	return r.State, r.Note
}

func TestMove(t *testing.T) {
	ctx := context.Background()
	for _, history := range []bool{false, true} {
		name := map[bool]string{false: "state_events", true: "instance_history"}[history]
		t.Run(name, func(t *testing.T) {
			db := openDB(t)
			tb := table(history)
			step := lifecycle.Step[light]{ID: "l1", InstanceID: "i1", From: red, To: green, Reason: "timer",
				Also: []lifecycle.Set{{Column: "note", Value: "went green"}}, Where: []lifecycle.Set{{Column: "org_id", Value: "o1"}}}
			moved, err := tb.Move(ctx, db, step)
			if err != nil || !moved {
				t.Fatalf("Move = %v, %v", moved, err)
			}
			if st, note := stateOf(t, db); st != "green" || note != "went green" {
				t.Fatalf("row is %s/%q", st, note)
			}
			// The same step again lost its race: nothing written.
			if moved, err := tb.Move(ctx, db, step); err != nil || moved {
				t.Fatalf("stale Move = %v, %v", moved, err)
			}
			// Another org's scope does not match.
			other := lifecycle.Step[light]{ID: "l1", InstanceID: "i1", From: green, To: yellow, Where: []lifecycle.Set{{Column: "org_id", Value: "o2"}}}
			if moved, err := tb.Move(ctx, db, other); err != nil || moved {
				t.Fatalf("other org's Move = %v, %v", moved, err)
			}
			// An illegal move is an error and writes nothing.
			_, err = tb.Move(ctx, db, lifecycle.Step[light]{ID: "l1", From: green, To: red})
			var te *lifecycle.TransitionError
			if !errors.As(err, &te) {
				t.Fatalf("illegal Move = %v", err)
			}
			if st, _ := stateOf(t, db); st != "green" {
				t.Fatalf("illegal move wrote %s", st)
			}
			var n int
			q := `SELECT COUNT(*) FROM state_events WHERE subject_id = 'l1' AND from_state = 'red' AND to_state = 'green' AND reason = 'timer'`
			if history {
				q = `SELECT COUNT(*) FROM instance_events WHERE instance_id = 'i1' AND event = 'light_green' AND detail = 'timer'`
			}
			if err := db.Get(&n, q); err != nil || n != 1 {
				t.Fatalf("events = %d, %v", n, err)
			}
		})
	}
}

func TestMoveInCallersTransaction(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	tb := table(false)
	errAbort := errors.New("abort")
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tb.Move(ctx, tx, lifecycle.Step[light]{ID: "l1", From: red, To: green, Reason: "r"}); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatal(err)
	}
	if st, _ := stateOf(t, db); st != "red" {
		t.Fatalf("rolled-back move left %s", st)
	}
	var n int
	if err := db.Get(&n, `SELECT COUNT(*) FROM state_events`); err != nil || n != 0 {
		t.Fatalf("rolled-back move left %d events (%v)", n, err)
	}
}
