package site

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// The lab reads bit columns as SQL Server does: a plain reference to a BIT column (also
// through a view, a CTE or a subquery) comes back as bool; COALESCE, CASE and CAST come
// back as integers, as they are int on SQL Server. FLAG columns read as integers unless
// FlagsAsBool.
func TestBitColumnsReadAsBool(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bits.db")
	setup, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`CREATE TABLE u (id INTEGER, b BIT, f FLAG, n INTEGER, name TEXT COLLATE NOCASE)`,
		`INSERT INTO u VALUES (1, 1, 1, 1, 'PC-01'), (2, 0, 0, 0, 'pc-02'), (3, NULL, NULL, NULL, 'x')`,
		`CREATE VIEW v AS SELECT id, b AS IsSuperseded, f AS Client0, n, name AS Name0 FROM u`,
	} {
		if _, err := setup.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()

	type want struct{ plain, flag any }
	tests := []struct {
		query string
		lax   want // LabOptions{}
		bools want // LabOptions{FlagsAsBool: true}
	}{
		{`SELECT IsSuperseded, Client0 FROM v WHERE id = 1`, want{true, int64(1)}, want{true, true}},
		{`SELECT v.IsSuperseded AS s, v.Client0 AS c FROM v WHERE id = 2`, want{false, int64(0)}, want{false, false}},
		{`SELECT IsSuperseded, Client0 FROM v WHERE id = 3`, want{nil, nil}, want{nil, nil}},
		{`WITH c AS (SELECT IsSuperseded, Client0 FROM v) SELECT c.IsSuperseded, c.Client0 FROM c LIMIT 1`, want{true, int64(1)}, want{true, true}},
		{`SELECT x.IsSuperseded, x.Client0 FROM (SELECT * FROM v WHERE id = 1) x`, want{true, int64(1)}, want{true, true}},
		{`SELECT COALESCE(IsSuperseded, 0), COALESCE(Client0, 0) FROM v WHERE id = 1`, want{int64(1), int64(1)}, want{int64(1), int64(1)}},
		{`SELECT CASE WHEN IsSuperseded = 1 THEN 1 ELSE 0 END, CAST(Client0 AS INT) FROM v WHERE id = 1`, want{int64(1), int64(1)}, want{int64(1), int64(1)}},
		{`SELECT n, n FROM v WHERE id = 1`, want{int64(1), int64(1)}, want{int64(1), int64(1)}},
	}
	for _, mode := range []LabOptions{{}, {FlagsAsBool: true}} {
		db, err := OpenLab(context.Background(), path, mode)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			var a, b any
			if err := db.db.QueryRow(tc.query).Scan(&a, &b); err != nil {
				t.Fatalf("%s: %v", tc.query, err)
			}
			w := tc.lax
			if mode.FlagsAsBool {
				w = tc.bools
			}
			if a != w.plain || b != w.flag {
				t.Errorf("%+v %s = %#v, %#v; want %#v, %#v", mode, tc.query, a, b, w.plain, w.flag)
			}
		}
		// A bool cannot be scanned into an integer, as on SQL Server; a Flag takes it.
		var n int64
		err = db.db.QueryRow(`SELECT IsSuperseded FROM v WHERE id = 1`).Scan(&n)
		if err == nil || !strings.Contains(err.Error(), "bool") {
			t.Errorf("scanning a BIT column into int64: %v, want the driver's bool error", err)
		}
		var f Flag
		if err := db.db.QueryRow(`SELECT IsSuperseded FROM v WHERE id = 1`).Scan(&f); err != nil || !f {
			t.Errorf("Flag from BIT: %v, %v", f, err)
		}
		// The lab compares names case-insensitively, as the site's collation does.
		var cnt int64
		if err := db.db.QueryRow(`SELECT COUNT(*) FROM v WHERE Name0 = 'PC-02'`).Scan(&cnt); err != nil || cnt != 1 {
			t.Errorf("NOCASE name: %d, %v", cnt, err)
		}
		db.Close()
	}
}

// OPTION (RECOMPILE) goes to SQL Server only, and only for queries that ask for it.
func TestRecompileDirective(t *testing.T) {
	t.Parallel()
	const asks = "-- patchnight: recompile\n-- a catch-all\nSELECT 1 AS x\nWHERE @a = '' OR 1 = 1\n"
	const plain = "-- no directive; the words patchnight: recompile in a comment do not count\nSELECT 1 AS x\n"
	tests := []struct {
		kind Kind
		text string
		want string
	}{
		{SQLServer, asks, strings.TrimRight(asks, "\n") + "\nOPTION (RECOMPILE)"},
		{SQLServer, asks + "-- trailing comment\n", asks + "-- trailing comment\nOPTION (RECOMPILE)"},
		{SQLServer, plain, plain},
		{SQLite, asks, asks},
	}
	for _, tc := range tests {
		d := &DB{kind: tc.kind}
		if got := d.final(tc.text); got != tc.want {
			t.Errorf("%s: final(%q) = %q, want %q", tc.kind, tc.text, got, tc.want)
		}
	}
}
