package site_test

import (
	"context"
	"database/sql"
	"github.com/patchnight/patchnight/internal/labtest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

var labPath string

func TestMain(m *testing.M) { labtest.Main(m, &labPath, 300, 1) }

// sampleParams holds a plausible value for every parameter any query in queries/ takes.
// A query with a parameter not listed here fails TestEveryQueryRunsOnTheLab, so a new
// query cannot escape the test.
func sampleParams() site.Params {
	now := time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)
	return site.Params{
		"now": now, "since": now.Add(-time.Hour), "late_before": now.AddDate(0, 0, -14),
		"collection": "", "group": int64(0), "article": "", "bulletin": "", "all": int64(1),
		"key": "SMS00001", "id": int64(0), "title": "x", "name": "PC-00001",
		"resource_id": int64(1), "ci_id": int64(1), "status": int64(2), "state": int64(9),
		"subnet": "", "host": "", "hosts": "", "limit_collection": "SMS00001", "limit": "SMS00001",
		"enforcement": int64(11), "min_behind": int64(1), "max_behind": int64(1),
		"variant": "behind", "source": int64(1), "user": "", "update": "", "scope": "", "selector": "all", "attention": "",
	}
}

func TestEveryQueryRunsOnTheLab(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := site.Open(ctx, "sqlite:"+labPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	names := queries.Names()
	if len(names) < 5 {
		t.Fatalf("only %d queries embedded", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			text, _ := queries.Get(name)
			upper := strings.ToUpper(stripComments(text))
			for _, banned := range []string{"TOP ", "LIMIT ", "ISNULL(", "GETDATE(", "LEN(", "?"} {
				if strings.Contains(upper, banned) {
					t.Errorf("query %s uses %q, which does not run on both engines", name, banned)
				}
			}
			if nationalLiteral.MatchString(upper) {
				t.Errorf("query %s uses an N'...' literal, which does not run on both engines", name)
			}
			rows, err := db.Query(ctx, name, sampleParams())
			if err != nil {
				t.Fatalf("query %s: %v", name, err)
			}
			defer rows.Close()
			cols, err := rows.Columns()
			if err != nil || len(cols) == 0 {
				t.Fatalf("query %s returns no columns: %v", name, err)
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("query %s: %v", name, err)
			}
		})
	}
}

var nationalLiteral = regexp.MustCompile(`(^|[^A-Z0-9_'])N'`)

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

func TestCheckAndMissingParams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := site.Open(ctx, "sqlite:"+labPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(ctx); err != nil {
		t.Errorf("the lab fails the site check: %v", err)
	}
	if _, err := db.Query(ctx, "compliance", site.Params{}); err == nil || !strings.Contains(err.Error(), "needs @") {
		t.Errorf("missing params not reported: %v", err)
	}
	if _, err := db.Query(ctx, "no_such_query", nil); err == nil {
		t.Error("unknown query accepted")
	}
	if db.Kind() != site.SQLite || !strings.HasPrefix(db.String(), "sqlite:") {
		t.Errorf("kind %s, string %s", db.Kind(), db)
	}
	// The lab is opened read-only: a write through the same connection pool fails.
	if err := db.Each(ctx, "check_site", nil, func(*sql.Rows) error { return nil }); err != nil {
		t.Error(err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	tests := []struct {
		dsn  string
		code int
		want string
	}{
		{"", exit.Usage, "no site database configured"},
		{"postgres://x", exit.Usage, "neither sqlserver"},
		{"sqlite:", exit.Usage, "not a plain file path"},
		{"sqlite:" + filepath.Join(dir, "nope.db"), exit.Usage, "lab init"},
		{"sqlite:" + dir, exit.Usage, "is a directory"},
		{"sqlserver://", exit.Usage, "does not parse"},
		{"sqlserver://127.0.0.1:1", exit.Usage, "names no database"},
		{"sqlserver://sa:Pa55word@127.0.0.1:1?database=CM_ABC&dial+timeout=2", exit.Unavailable, "cannot reach"},
	}
	for _, tc := range tests {
		t.Run(tc.dsn, func(t *testing.T) {
			t.Parallel()
			db, err := site.Open(context.Background(), tc.dsn)
			if err == nil {
				db.Close()
				t.Fatal("opened")
			}
			if exit.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (code %d), want code %d containing %q", err, exit.Code(err), tc.code, tc.want)
			}
			if strings.Contains(err.Error(), "Pa55word") {
				t.Errorf("password in error: %v", err)
			}
		})
	}
	db, err := site.Open(context.Background(), "sqlite:"+empty)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(context.Background()); exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "not a ConfigMgr site database") {
		t.Errorf("empty database passes the check: %v", err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"sqlserver://sa:secret@cm01?database=CM_ABC":       "sqlserver://sa:xxxxx@cm01?database=CM_ABC",
		"sqlserver://cm01?database=CM_ABC&password=secret": "sqlserver://cm01?database=CM_ABC&password=xxxxx",
		"sqlserver://cm01?database=CM_ABC":                 "sqlserver://cm01?database=CM_ABC",
		"server=cm01;user id=sa;password=secret":           "(a DSN with a password; not shown)",
		"sqlite:/tmp/lab.db":                               "sqlite:/tmp/lab.db",
	}
	for in, want := range tests {
		if got := site.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNullTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 12, 8, 16, 30, 0, 0, time.UTC)
	for _, in := range []any{want, want.In(time.FixedZone("x", 3600)), "2026-12-08 16:30:00", []byte("2026-12-08T16:30:00Z"), "2026-12-08 16:30:00+00:00"} {
		var nt site.NullTime
		if err := nt.Scan(in); err != nil || !nt.Valid || !nt.Time.Equal(want) {
			t.Errorf("Scan(%v) = %+v, %v", in, nt, err)
		}
	}
	var nt site.NullTime
	if err := nt.Scan(nil); err != nil || nt.Valid || nt.Ptr() != nil {
		t.Errorf("Scan(nil) = %+v, %v", nt, err)
	}
	if err := nt.Scan("yesterday"); err == nil {
		t.Error("parsed garbage")
	}
	if err := nt.Scan(42); err == nil {
		t.Error("scanned an int")
	}
}

func TestFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want bool
		err  bool
	}{
		{nil, false, false}, {true, true, false}, {false, false, false},
		{int64(1), true, false}, {int64(0), false, false}, {int64(2), true, false},
		{int32(1), true, false}, {uint8(1), true, false}, {[]byte("1"), true, false},
		{"0", false, false}, {"true", true, false}, {"maybe", false, true}, {1.5, false, true},
	}
	for _, tc := range tests {
		var f site.Flag
		err := f.Scan(tc.in)
		if (err != nil) != tc.err || (err == nil && f.Bool() != tc.want) {
			t.Errorf("Flag.Scan(%#v) = %v, %v; want %v (error %v)", tc.in, f, err, tc.want, tc.err)
		}
	}
}

// A collection resolves by ID or name in any spelling (the site's collation is
// case-insensitive), and the ID wins over a name.
func TestResolveCollection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := site.Open(ctx, "sqlite:"+labPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, key := range []string{"SMS00001", "sms00001", "All Systems", "ALL SYSTEMS"} {
		c, err := db.ResolveCollection(ctx, key)
		if err != nil || c.ID != "SMS00001" || c.Members == 0 {
			t.Errorf("ResolveCollection(%q) = %+v, %v", key, c, err)
		}
	}
	for _, key := range []string{"", "no such collection"} {
		if _, err := db.ResolveCollection(ctx, key); exit.Code(err) != exit.Usage {
			t.Errorf("ResolveCollection(%q): %v, want a usage error", key, err)
		}
	}
	if !slices.Contains(db.Ran(), "collection_lookup") {
		t.Errorf("Ran() = %v, lacks collection_lookup", db.Ran())
	}
}

// pkg/site reads check_site and collection_lookup itself; its tests run both, with
// flags read back as bool too.
func TestSiteQueriesReadBools(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, o := range []site.LabOptions{{}, {FlagsAsBool: true}} {
		db, err := site.OpenLab(ctx, labPath, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Check(ctx); err != nil {
			t.Error(err)
		}
		if _, err := db.ResolveCollection(ctx, "All Systems"); err != nil {
			t.Error(err)
		}
		for _, q := range queries.ReadByPackage("pkg/site") {
			if !slices.Contains(db.Ran(), q) {
				t.Errorf("%+v: query %s, read by pkg/site, did not run", o, q)
			}
		}
		db.Close()
	}
}
