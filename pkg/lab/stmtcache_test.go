package lab

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
)

// The simulator's connections keep one statement per SQL text: the same text runs again
// with other arguments, also while rows of it are still open (nested), also inside a
// transaction and after a failed run, with the answers a fresh statement gives.
func TestCachedStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := openCached(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // every use on one connection, one cache
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO t (k, v) VALUES (@k, @v)`
	for k, v := range []string{"a", "b", "c"} {
		if _, err := db.ExecContext(ctx, ins, namedKV(k, v)...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, ins, namedKV(1, "dup")...); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if _, err := db.ExecContext(ctx, ins, namedKV(3, "d")...); err != nil {
		t.Fatalf("the statement after a failed run: %v", err)
	}
	const sel = `SELECT v FROM t WHERE k >= @k ORDER BY k`
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	outer, err := tx.QueryContext(ctx, sel, namedKV(2, "")[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var v string
		if err := outer.Scan(&v); err != nil {
			t.Fatal(err)
		}
		// The same text while its rows are open: a statement of its own.
		var first string
		if err := tx.QueryRowContext(ctx, sel, namedKV(0, "")[0]).Scan(&first); err != nil {
			t.Fatal(err)
		}
		got = append(got, v+first)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ca", "da"}; !equalStrings(got, want) {
		t.Errorf("nested queries: %q, want %q", got, want)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE k >= @k`, namedKV(1, "")[0]).Scan(&n); err != nil || n != 3 {
		t.Errorf("count = %d, %v; want 3", n, err)
	}
}

func namedKV(k int, v string) []any { return []any{sql.Named("k", k), sql.Named("v", v)} }

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }
