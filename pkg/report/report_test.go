package report_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

func openLab(t *testing.T) (*site.DB, *sql.DB) {
	t.Helper()
	path := labPath
	db, err := site.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return db, raw
}

type counts struct{ required, installed, notRequired, unknown int64 }

// independentCompliance recomputes the report from the lab's own tables, in Go, without
// the views or the query under test: the clients of collection ("" = all) outside the
// exclude collections.
func independentCompliance(t *testing.T, raw *sql.DB, collection string, exclude ...string) (map[int64]counts, int64) {
	t.Helper()
	ctx := context.Background()
	var src int64
	if err := raw.QueryRowContext(ctx, `SELECT UpdateSource_ID FROM lab_update_source WHERE IsPublishingEnabled = 1`).Scan(&src); err != nil {
		t.Fatal(err)
	}
	scope := map[int64]int64{} // ResourceID → scan version (-1 = never)
	rows, err := raw.QueryContext(ctx, `SELECT ResourceID FROM lab_host WHERE IsClient = 1 AND Obsolete = 0 AND Decommissioned = 0`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		scope[id] = -1
	}
	rows.Close()
	if collection != "" {
		members := map[int64]bool{}
		rows, _ := raw.QueryContext(ctx, `SELECT ResourceID FROM lab_collection_member WHERE CollectionID = ?`, collection)
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			members[id] = true
		}
		rows.Close()
		for id := range scope {
			if !members[id] {
				delete(scope, id)
			}
		}
	}
	for _, x := range exclude {
		rows, err := raw.QueryContext(ctx, `SELECT ResourceID FROM lab_collection_member WHERE CollectionID = ?`, x)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			delete(scope, id)
		}
		rows.Close()
	}
	rows, _ = raw.QueryContext(ctx, `SELECT ResourceID, LastScanPackageVersion FROM lab_scan_status WHERE UpdateSource_ID = ?`, src)
	for rows.Next() {
		var id, v int64
		rows.Scan(&id, &v)
		if _, ok := scope[id]; ok {
			scope[id] = v
		}
	}
	rows.Close()
	minVer := map[int64]int64{}
	rows, _ = raw.QueryContext(ctx, `SELECT CI_ID, MinSourceVersion FROM lab_update WHERE CIType_ID = 1`)
	for rows.Next() {
		var ci, v int64
		rows.Scan(&ci, &v)
		minVer[ci] = v
	}
	rows.Close()
	hasRow := map[[2]int64]int64{}
	rows, _ = raw.QueryContext(ctx, `SELECT ResourceID, CI_ID, Status FROM lab_update_state WHERE Status IN (2, 3)`)
	for rows.Next() {
		var id, ci, st int64
		rows.Scan(&id, &ci, &st)
		hasRow[[2]int64{id, ci}] = st
	}
	rows.Close()
	out := map[int64]counts{}
	for ci, mv := range minVer {
		var c counts
		for id, ver := range scope {
			switch st, ok := hasRow[[2]int64{id, ci}]; {
			case ok && st == 2:
				c.required++
			case ok && st == 3:
				c.installed++
			case ver >= mv:
				c.notRequired++
			default:
				c.unknown++
			}
		}
		out[ci] = c
	}
	return out, int64(len(scope))
}

func TestComplianceMatchesIndependentCount(t *testing.T) {
	t.Parallel()
	db, raw := openLab(t)
	ctx := context.Background()
	// LAB00020 is the first location's collection, LAB00011 the laptops: they overlap.
	for _, tc := range []struct {
		coll    string
		exclude []string
	}{
		{"", nil},
		{"LAB00011", nil},
		{"", []string{"LAB00020"}},
		{"LAB00010", []string{"LAB00020", "LAB00011"}},
	} {
		coll := tc.coll
		t.Run("collection="+coll+",exclude="+strings.Join(tc.exclude, "+"), func(t *testing.T) {
			scope := report.Scope{All: true, Exclude: tc.exclude}
			if coll != "" {
				c, err := db.ResolveCollection(ctx, coll)
				if err != nil {
					t.Fatal(err)
				}
				scope.Collection = c
			}
			rep, err := report.ComplianceReport(ctx, db, scope)
			if err != nil {
				t.Fatal(err)
			}
			want, clients := independentCompliance(t, raw, coll, tc.exclude...)
			if rep.Clients != clients || clients == 0 {
				t.Errorf("clients in scope = %d, want %d", rep.Clients, clients)
			}
			if len(tc.exclude) > 0 {
				if _, all := independentCompliance(t, raw, coll); all == clients {
					t.Fatal("the excluded collections have no client in scope: the test proves nothing")
				}
			}
			if len(rep.Updates) != len(want) {
				t.Fatalf("%d update lines, want %d", len(rep.Updates), len(want))
			}
			var sawUnknown, sawNotRequired bool
			for _, u := range rep.Updates {
				w := want[u.CIID]
				got := counts{u.Required, u.Installed, u.NotRequired, u.Unknown}
				if got != w {
					t.Errorf("CI %d (%s): got %+v, want %+v", u.CIID, u.Title, got, w)
				}
				sawUnknown = sawUnknown || u.Unknown > 0
				sawNotRequired = sawNotRequired || u.NotRequired > 0
			}
			if !sawUnknown || !sawNotRequired {
				t.Errorf("the lab should exercise unknown (%v) and not required (%v)", sawUnknown, sawNotRequired)
			}
		})
	}
}

func TestComplianceFilters(t *testing.T) {
	t.Parallel()
	db, raw := openLab(t)
	ctx := context.Background()
	var sugTitle string
	var sugID, sugUpdates int64
	if err := raw.QueryRow(`SELECT CI_ID, Title FROM lab_update WHERE CIType_ID = 9`).Scan(&sugID, &sugTitle); err != nil {
		t.Fatal(err)
	}
	raw.QueryRow(`SELECT COUNT(*) FROM lab_cirelation WHERE FromCIID = ? AND RelationType = 1`, sugID).Scan(&sugUpdates)
	g, err := db.ResolveGroup(ctx, sugTitle)
	if err != nil || g.CIID != sugID {
		t.Fatalf("ResolveGroup(%q) = %+v, %v", sugTitle, g, err)
	}
	rep, err := report.ComplianceReport(ctx, db, report.Scope{Group: g})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rep.Updates)) != sugUpdates || sugUpdates == 0 {
		t.Errorf("group report has %d updates, the group %d", len(rep.Updates), sugUpdates)
	}
	var article, bulletin string
	raw.QueryRow(`SELECT ArticleID FROM lab_update WHERE CIType_ID = 1 AND BulletinID = '' ORDER BY CI_ID`).Scan(&article)
	raw.QueryRow(`SELECT BulletinID FROM lab_update WHERE CIType_ID = 1 AND BulletinID <> '' ORDER BY CI_ID`).Scan(&bulletin)
	for _, id := range []string{"KB" + article, bulletin} {
		ref, err := fleet.ParseUpdateRef(id)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := report.ComplianceReport(ctx, db, report.Scope{Update: &ref})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if len(rep.Updates) == 0 {
			t.Errorf("%s: no lines", id)
		}
		for _, u := range rep.Updates {
			if u.ArticleID != ref.ArticleID && u.BulletinID != ref.BulletinID {
				t.Errorf("%s: line for %s/%s", id, u.ArticleID, u.BulletinID)
			}
		}
	}
	ref := fleet.UpdateRef{ArticleID: "1"}
	if _, err := report.ComplianceReport(ctx, db, report.Scope{Update: &ref}); exit.Code(err) != exit.Usage {
		t.Errorf("unknown update: err = %v", err)
	}
}

func TestHostReportUnknownHost(t *testing.T) {
	t.Parallel()
	db, _ := openLab(t)
	ctx := context.Background()
	if _, err := report.HostReport(ctx, db, "NO-SUCH-PC"); exit.Code(err) != exit.Usage {
		t.Errorf("missing host: %v", err)
	}
}

func TestMissingAndHostReports(t *testing.T) {
	t.Parallel()
	db, raw := openLab(t)
	ctx := context.Background()
	var ci int64
	var article string
	var want int64
	err := raw.QueryRow(`SELECT s.CI_ID, u.ArticleID, COUNT(*) FROM lab_update_state s JOIN lab_update u ON u.CI_ID = s.CI_ID
		WHERE s.Status = 2 GROUP BY s.CI_ID, u.ArticleID ORDER BY COUNT(*) DESC`).Scan(&ci, &article, &want)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.MissingReport(ctx, db, fleet.UpdateRef{ArticleID: article}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rep.Hosts)) != want {
		t.Errorf("missing hosts = %d, want %d", len(rep.Hosts), want)
	}
	if len(rep.Hosts) == 0 {
		t.Fatal("no missing hosts in the lab")
	}
	h := rep.Hosts[0]
	detail, err := report.HostReport(ctx, db, h.Name)
	if err != nil {
		t.Fatal(err)
	}
	var wantMissing int64
	raw.QueryRow(`SELECT COUNT(*) FROM lab_update_state WHERE ResourceID = ? AND Status = 2`, h.ResourceID).Scan(&wantMissing)
	if int64(detail.Missing) != wantMissing || detail.ResourceID != h.ResourceID {
		t.Errorf("host %s: missing %d, want %d", h.Name, detail.Missing, wantMissing)
	}
	found := false
	for _, u := range detail.Updates {
		if u.CIID == ci {
			found = u.Status == fleet.StatusRequired
		}
	}
	if !found {
		t.Errorf("host %s does not show CI %d as required", h.Name, ci)
	}
}

func TestScanReportMatchesIndependentCount(t *testing.T) {
	t.Parallel()
	db, raw := openLab(t)
	ctx := context.Background()
	var current int64
	raw.QueryRow(`SELECT MAX(SyncCatalogVersion) FROM lab_sup_sync WHERE WSUSSourceServer = 'Microsoft Update'`).Scan(&current)
	var src int64
	raw.QueryRow(`SELECT UpdateSource_ID FROM lab_update_source WHERE IsPublishingEnabled = 1`).Scan(&src)
	now := time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)
	want := map[string]int64{}
	var wantLate int64
	rows, err := raw.Query(`SELECT h.ResourceID, s.LastScanState, s.LastErrorCode, s.LastScanPackageVersion, s.LastScanTime
		FROM lab_host h LEFT JOIN lab_scan_status s ON s.ResourceID = h.ResourceID AND s.UpdateSource_ID = ?
		WHERE h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0`, src)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var state, code, ver sql.NullInt64
		var when sql.NullString
		rows.Scan(&id, &state, &code, &ver, &when)
		switch {
		case !state.Valid:
			want[report.BucketNever]++
		case state.Int64 != 3 || code.Int64 != 0:
			want[report.BucketFailed]++
		case ver.Int64 >= current:
			want[report.BucketCurrent]++
		case ver.Int64 == current-1:
			want[report.BucketBehind1]++
		default:
			want[report.BucketBehind]++
		}
		if when.Valid && when.String < now.AddDate(0, 0, -14).Format(site.SQLiteTimeLayout) {
			wantLate++
		}
	}
	rows.Close()
	rep, err := report.ScanReport(ctx, db, nil, now, 14)
	if err != nil {
		t.Fatal(err)
	}
	if rep.CatalogVersion != current {
		t.Errorf("catalog version %d, want %d", rep.CatalogVersion, current)
	}
	for _, b := range rep.Buckets {
		if b.Clients != want[b.Bucket] {
			t.Errorf("bucket %s: %d, want %d", b.Bucket, b.Clients, want[b.Bucket])
		}
		if want[b.Bucket] == 0 {
			t.Errorf("the lab should have clients in bucket %s", b.Bucket)
		}
	}
	if rep.Late != wantLate {
		t.Errorf("late = %d, want %d", rep.Late, wantLate)
	}
	if len(rep.Errors) == 0 {
		t.Error("no scan error codes reported")
	}
}

// Machines whose last scan is behind the catalog that carries an update can still have a
// row for it (a stale row, or a scan record lost): the compliance query counts their rows
// one by one against their scan state, apart from the up-to-date machines (issue 18), and
// the counts must still match the lab's tables, with and without a collection.
func TestComplianceCountsMachinesBehindOnAScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := copyLab(t)
	rw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	var src, newest int64
	if err := rw.QueryRow(`SELECT UpdateSource_ID FROM lab_update_source WHERE IsPublishingEnabled = 1`).Scan(&src); err != nil {
		t.Fatal(err)
	}
	if err := rw.QueryRow(`SELECT MAX(MinSourceVersion) FROM lab_update WHERE CIType_ID = 1 AND UpdateSource_ID = @src`,
		sql.Named("src", src)).Scan(&newest); err != nil {
		t.Fatal(err)
	}
	// Forty machines with rows for the newest updates fall behind: thirty scanned an older
	// catalog, ten have no scan record at all. Their rows stay.
	for _, stmt := range []string{
		`UPDATE lab_scan_status SET LastScanPackageVersion = @newest - 1
		 WHERE UpdateSource_ID = @src AND ResourceID IN (
		   SELECT DISTINCT us.ResourceID FROM lab_update_state us JOIN lab_update u ON u.CI_ID = us.CI_ID
		   WHERE us.Status > 1 AND u.MinSourceVersion = @newest ORDER BY us.ResourceID LIMIT 30)`,
		`DELETE FROM lab_scan_status
		 WHERE UpdateSource_ID = @src AND ResourceID IN (
		   SELECT DISTINCT us.ResourceID FROM lab_update_state us JOIN lab_update u ON u.CI_ID = us.CI_ID
		   WHERE us.Status > 1 AND u.MinSourceVersion = @newest ORDER BY us.ResourceID DESC LIMIT 10)`,
	} {
		res, err := rw.Exec(stmt, sql.Named("newest", newest), sql.Named("src", src))
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			t.Fatalf("%s changed nothing", stmt)
		}
	}
	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, coll := range []string{"", "LAB00011"} {
		scope := report.Scope{All: true}
		if coll != "" {
			c, err := db.ResolveCollection(ctx, coll)
			if err != nil {
				t.Fatal(err)
			}
			scope.Collection = c
		}
		rep, err := report.ComplianceReport(ctx, db, scope)
		if err != nil {
			t.Fatal(err)
		}
		want, clients := independentCompliance(t, rw, coll)
		if rep.Clients != clients {
			t.Errorf("collection %q: clients in scope = %d, want %d", coll, rep.Clients, clients)
		}
		if len(rep.Updates) != len(want) {
			t.Fatalf("collection %q: %d update lines, want %d", coll, len(rep.Updates), len(want))
		}
		for _, u := range rep.Updates {
			got := counts{u.Required, u.Installed, u.NotRequired, u.Unknown}
			if got != want[u.CIID] {
				t.Errorf("collection %q, CI %d: got %+v, want %+v", coll, u.CIID, got, want[u.CIID])
			}
		}
	}
}

// The compliance query takes queries.MaxExcluded excluded collections; more are refused
// rather than some silently dropped.
func TestComplianceExcludeLimit(t *testing.T) {
	t.Parallel()
	db, _ := openLab(t)
	ctx := context.Background()
	for _, tc := range []struct {
		n  int
		ok bool
	}{{queries.MaxExcluded, true}, {queries.MaxExcluded + 1, false}} {
		ids := make([]string, tc.n)
		for i := range ids {
			ids[i] = fmt.Sprintf("LAB%05X", 0x20+i)
		}
		rep, err := report.ComplianceReport(ctx, db, report.Scope{Exclude: ids})
		if tc.ok != (err == nil) {
			t.Errorf("%d excluded collections: %v", tc.n, err)
			continue
		}
		if tc.ok && !strings.Contains(rep.Grids()[0].Title, " outside LAB00020, LAB00021,") {
			t.Errorf("title %q does not name the excluded collections", rep.Grids()[0].Title)
		}
	}
}
