package queries_test

import (
	"context"
	"database/sql"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/internal/labtest"
	"github.com/patchnight/patchnight/queries"
)

var labPath string

func TestMain(m *testing.M) { labtest.Main(m, &labPath, 60, 3) }

// code is a query's text without -- comments.
func code(t *testing.T, name string) string {
	t.Helper()
	text, err := queries.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for line := range strings.SplitSeq(text, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// Every query has a reading package, whose test runs it through its own scanner.
func TestEveryQueryHasAReader(t *testing.T) {
	t.Parallel()
	names := queries.Names()
	readers := slices.Sorted(maps.Keys(queries.ReadBy()))
	if !slices.Equal(names, readers) {
		t.Fatalf("queries/ holds %v,\nReadBy names %v", names, readers)
	}
}

// SQLite resolves every view and column of a statement when it prepares it, so preparing
// each query against a generated lab fails on a view or column the lab does not have: the
// lab carries only columns with a source (pkg/lab/columns.go), so a query cannot read a
// column no site has without failing here.
func TestQueriesReadOnlyWhatTheLabHas(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", "file:"+labPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range queries.Names() {
		t.Run(name, func(t *testing.T) {
			c := code(t, name)
			// SQLite takes an unresolved "double-quoted" identifier for a string: none here.
			if strings.Contains(c, `"`) {
				t.Fatalf("query %s uses a double-quoted identifier or string", name)
			}
			text, _ := queries.Get(name)
			st, err := db.PrepareContext(context.Background(), text)
			if err != nil {
				t.Fatalf("query %s reads what the lab (and so a site) does not have: %v", name, err)
			}
			st.Close()
		})
	}
}

var (
	caseFold = regexp.MustCompile(`(?i)\b(UPPER|LOWER)\s*\(`)
	// A parameter compared with a constant: the catch-all of `@x = '' OR ...`.
	catchAll  = regexp.MustCompile(`@\w+\s*(=|<>)\s*('[^']*'|-?\d+)|(^|[^\w.])('[^']*'|-?\d+)\s*(=|<>)\s*@\w+`)
	recompile = "-- patchnight: recompile"
)

// The site's collation is case-insensitive: folding case on a name or ID only defeats the
// index seek (reference 12). Catch-all predicates get a fresh plan per run on SQL Server
// (pkg/site appends OPTION (RECOMPILE) for the directive).
func TestQueriesSuitSQLServer(t *testing.T) {
	t.Parallel()
	for _, name := range queries.Names() {
		c := code(t, name)
		if caseFold.MatchString(c) {
			t.Errorf("query %s folds case: the site compares case-insensitively already", name)
		}
		text, _ := queries.Get(name)
		has := false
		for line := range strings.SplitSeq(text, "\n") {
			if strings.TrimSpace(line) == recompile {
				has = true
			}
		}
		if catchAll.MatchString(c) && !has {
			t.Errorf("query %s has a catch-all predicate (%q) but no %q line", name, catchAll.FindString(c), recompile)
		}
	}
}

// The compliance report reads v_UpdateComplianceStatus in one statement, at most twice:
// once for the machines whose scans are current (a membership test per row) and once for
// the others (a scan check per row); the two machine sets are disjoint (issue 18).
func TestComplianceReadsComplianceStatusTwiceAtMost(t *testing.T) {
	t.Parallel()
	c := code(t, "compliance")
	if n := len(regexp.MustCompile(`\bv_UpdateComplianceStatus\b`).FindAllString(c, -1)); n < 1 || n > 2 {
		t.Fatalf("compliance reads v_UpdateComplianceStatus %d times, want once or twice", n)
	}
	for _, set := range []string{"FROM uptodate c", "FROM behind b"} {
		if !strings.Contains(c, set) {
			t.Errorf("compliance does not read the machine set %q", set)
		}
	}
}

// The catch-all test itself: it must see the shapes it guards against, and not flag a
// column whose name ends in a digit (Name0 = @name).
func TestCatchAllPattern(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"WHERE @collection = '' OR x":   true,
		"AND (@group = 0 OR":            true,
		"OR (@article <> '' AND":        true,
		"WHERE '' = @x":                 true,
		"WHERE s.Name0 = @name":         false,
		"WHERE c.CollectionID = @key":   false,
		"AND fcm.CollectionID = @limit": false,
	}
	for in, want := range tests {
		if got := catchAll.MatchString(in); got != want {
			t.Errorf("catchAll(%q) = %v, want %v", in, got, want)
		}
	}
}
