package storage

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// objects lists the database's tables and indexes by name.
func objects(t *testing.T, d *DB) []string {
	t.Helper()
	var names []string
	if err := d.Select(&names, `SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestFreshSchemaHasNoAuditLog(t *testing.T) {
	d, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := objects(t, d); slices.Contains(got, "table audit_log") {
		t.Fatalf("a fresh database has the audit_log table: %v", got)
	}
}

// A data dir made by the release before (migrations 0001-0005, with the
// audit log in the main database) upgrades to the schema a fresh start
// makes, keeping its rows.
func TestUpgradeFromRelease0005(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := OpenSQLiteBare(ctx, filepath.Join(dir, "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	old0005 := ""
	for _, m := range ms {
		if m.version <= 5 {
			old0005 += m.sql + ";\n"
		}
	}
	extra, err := os.ReadFile(filepath.Join("testdata", "release-0005-audit.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range splitStatements(old0005 + string(extra)) {
		if _, err := old.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("old schema: %v", err)
		}
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '0001_core.sql'), (2, '0002_files_resources_bundles.sql'), (3, '0003_nodes.sql'),
			(4, '0004_sandboxes.sql'), (5, '0005_sessions.sql')`,
		`INSERT INTO orgs (id, name, created_at) VALUES ('org_1', 'acme', 1)`,
		`INSERT INTO instances (id, org_id, name, status, template_slug, vcs_type, created_at) VALUES ('ins_1', 'org_1', 'kept', 'ready', 'default', 'none', 1)`,
		`INSERT INTO audit_log (id, at, endpoint, outcome, duration_us) VALUES ('aud_1', 1, 'platform', 'ok', 1)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Migrate(ctx); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	var name string
	if err := old.Get(&name, `SELECT name FROM instances WHERE id = 'ins_1'`); err != nil || name != "kept" {
		t.Fatalf("the instance after the upgrade: %q, %v", name, err)
	}
	fresh, err := OpenSQLite(ctx, filepath.Join(dir, "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if got, want := objects(t, old), objects(t, fresh); !slices.Equal(got, want) {
		t.Fatalf("upgraded schema\n%v\ndiffers from a fresh one\n%v", got, want)
	}
	// A second start applies nothing more.
	if err := old.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}
