package site

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"modernc.org/sqlite"

	"github.com/patchnight/patchnight/queries"
)

// failRow fails for every row it is computed for: a query that calls it cannot compute a
// row without failing.
func init() {
	sqlite.MustRegisterScalarFunction("site_test_fail_row", 1, func(_ *sqlite.FunctionContext, _ []driver.Value) (driver.Value, error) {
		return nil, errors.New("a row was computed")
	})
}

// TestDescribeSQLiteComputesNoRow: modernc steps a statement once when it is queried (so
// reading ColumnTypes from a plain Query computes the first row); describeSQLite's
// wrapper must not.
func TestDescribeSQLiteComputesNoRow(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE t (ResourceID INTEGER, Name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b')`); err != nil {
		t.Fatal(err)
	}
	text := "-- a query\nSELECT ResourceID, Name, site_test_fail_row(ResourceID) AS Boom FROM t ORDER BY Name -- trailing comment"
	// The premise: a plain query computes a row before Next.
	if rows, err := raw.Query(text); err == nil {
		rows.Close()
		t.Fatal("a plain Query computed no row: the wrapper is not needed (update the comment on Describe)")
	} else if !strings.Contains(err.Error(), "a row was computed") {
		t.Fatalf("plain Query: %v", err)
	}
	d := &DB{db: raw, kind: SQLite, redacted: "sqlite:" + path}
	cols, err := d.describeSQLite(t.Context(), text, queries.Contract{Query: "t"})
	if err != nil {
		t.Fatalf("describeSQLite computed a row: %v", err)
	}
	var got []string
	for _, c := range cols {
		got = append(got, c.Name+":"+c.Type)
	}
	if want := "ResourceID:INTEGER Name:TEXT Boom:"; strings.Join(got, " ") != want {
		t.Errorf("described %q, want %q", strings.Join(got, " "), want)
	}
	if cols[2].Fits != nil {
		t.Errorf("an untyped expression fits %v, want nil (not checked)", cols[2].Fits)
	}
}

func TestSQLServerFits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ  string
		kind queries.Kind
		want bool
	}{
		{"bit", queries.Flag, true},
		{"bit", queries.Int, false}, // go-mssqldb returns bool; database/sql cannot scan it into int64
		{"int", queries.Flag, true},
		{"int", queries.Int, true},
		{"bigint", queries.Int, true},
		{"nvarchar(256)", queries.String, true},
		{"nvarchar(256)", queries.Int, false},
		{"datetime", queries.Time, true},
		{"datetime2(7)", queries.Time, true},
		{"datetime", queries.String, false},
		{"uniqueidentifier", queries.String, false},
		{"varbinary(max)", queries.String, false},
	}
	for _, tc := range tests {
		c := DescribedColumn{Type: tc.typ, Fits: sqlServerFits(tc.typ)}
		if got := c.FitsKind(tc.kind); got != tc.want {
			t.Errorf("%s as %s: %v, want %v", tc.typ, tc.kind, got, tc.want)
		}
	}
}
