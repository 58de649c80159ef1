package site_test

import (
	"context"
	"database/sql"
	"github.com/patchnight/patchnight/internal/labtest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
	p := site.Params{
		"now": now, "since": now.Add(-time.Hour), "late_before": now.AddDate(0, 0, -14),
		"collection": "", "group": int64(0), "article": "", "bulletin": "", "all": int64(1), "eligible": int64(1),
		"key": "SMS00001", "id": int64(0), "title": "x", "name": "PC-00001",
		"resource_id": int64(1), "ci_id": int64(1), "status": int64(2), "state": int64(9),
		"subnet": "", "host": "", "hosts": "", "limit_collection": "SMS00001", "limit": "SMS00001",
		"enforcement": int64(11), "min_behind": int64(1), "max_behind": int64(1),
		"variant": "behind", "source": int64(1), "user": "", "update": "", "scope": "", "selector": "all", "attention": "",
	}
	for i := 1; i <= queries.MaxExcluded; i++ {
		p[queries.ExcludeParam(i)] = ""
	}
	p[queries.ExcludeParam(1)] = "SMS00001"
	return p
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
			if strings.Contains(err.Error(), "dial tcp") || strings.Contains(err.Error(), "unable to open tcp connection") {
				t.Errorf("the driver's words in the error: %v", err)
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

// A software update group resolves by CI_ID or by title in any spelling; an unknown, empty
// or ambiguous key is a usage error. (These cases were report.ResolveGroup's, and the
// doctor's own copy of the lookup; both now call site.DB.LookupGroup.)
func TestResolveGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lab.db")
	b, err := os.ReadFile(labPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var id int64
	var title string
	if err := raw.QueryRow(`SELECT CI_ID, Title FROM lab_update WHERE CIType_ID = 9 ORDER BY CI_ID`).Scan(&id, &title); err != nil {
		t.Fatal(err)
	}
	// A second group whose title is the first one's CI_ID: that number names two groups.
	if _, err := raw.Exec(`INSERT INTO lab_update (CI_ID, CI_UniqueID, CIType_ID, Title, DatePosted)
		VALUES (@id, 'lab-ambiguous-group', 9, @title, '2026-12-01T00:00:00Z')`,
		sql.Named("id", id+1000000), sql.Named("title", strconv.FormatInt(id, 10))); err != nil {
		t.Fatal(err)
	}
	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		key   string
		want  int64 // CI_ID; 0 = a usage error
		found int   // groups LookupGroup lists
	}{
		{title, id, 1},
		{strings.ToUpper(title), id, 1},
		{strconv.FormatInt(id+1000000, 10), id + 1000000, 1},
		{strconv.FormatInt(id, 10), 0, 2},
		{"no such group", 0, 0},
		{"99999999999999999999", 0, 0}, // out of int64's range: a title, not CI_ID 0 or MaxInt64
		{"", 0, 0},
	} {
		g, err := db.ResolveGroup(ctx, tc.key)
		switch {
		case tc.want == 0 && exit.Code(err) != exit.Usage:
			t.Errorf("ResolveGroup(%q) = %+v, %v, want a usage error", tc.key, g, err)
		case tc.want != 0 && (err != nil || g.CIID != tc.want || g.Title == "" || g.Updates == 0 && tc.want == id):
			t.Errorf("ResolveGroup(%q) = %+v, %v, want CI_ID %d", tc.key, g, err, tc.want)
		}
		if tc.key == "" {
			continue
		}
		if found, err := db.LookupGroup(ctx, tc.key); err != nil || len(found) != tc.found {
			t.Errorf("LookupGroup(%q) = %+v, %v, want %d groups", tc.key, found, err, tc.found)
		}
	}
}

// pkg/site reads check_site, collection_lookup and sug_lookup itself; its tests run them,
// with flags read back as bool too.
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
		if _, err := db.ResolveGroup(ctx, "patch tuesday 2026-12"); err != nil {
			t.Errorf("%+v: group by title in another case: %v", o, err)
		}
		for _, q := range queries.ReadByPackage("pkg/site") {
			if !slices.Contains(db.Ran(), q) {
				t.Errorf("%+v: query %s, read by pkg/site, did not run", o, q)
			}
		}
		db.Close()
	}
}
