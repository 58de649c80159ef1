package report_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

// Every query pkg/report reads runs against the lab with bit columns read back as bool
// (and, the second time, every flag of unconfirmed type as well), through the report's own
// scanners. IsSuperseded is bit on SQL Server: scanned into an int64 the compliance report
// failed on its first row (issue 11).
func TestReportsReadSiteTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, o := range []site.LabOptions{{}, {FlagsAsBool: true}} {
		db, err := site.OpenLab(ctx, labPath, o)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rep, err := report.ComplianceReport(ctx, db, report.Scope{All: true})
		if err != nil {
			t.Fatalf("%+v: compliance: %v", o, err)
		}
		if !slices.ContainsFunc(rep.Updates, func(u report.UpdateCompliance) bool { return u.Superseded }) {
			t.Errorf("%+v: no superseded update in the report: the bit column was not exercised", o)
		}
		if _, err := report.ScanReport(ctx, db, nil, time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC), 14); err != nil {
			t.Errorf("%+v: scan: %v", o, err)
		}
		var article string
		for _, u := range rep.Updates {
			if u.Required > 0 && u.ArticleID != "" {
				article = u.ArticleID
				break
			}
		}
		miss, err := report.MissingReport(ctx, db, fleet.UpdateRef{ArticleID: article}, nil)
		if err != nil || len(miss.Hosts) == 0 {
			t.Fatalf("%+v: missing %s: %v", o, article, err)
		}
		if !slices.ContainsFunc(miss.Hosts, func(h report.MissingHost) bool { return h.Online }) {
			t.Errorf("%+v: no missing host online: the online flag was not exercised", o)
		}
		if _, err := report.HostReport(ctx, db, strings.ToLower(miss.Hosts[0].Name)); err != nil {
			t.Errorf("%+v: host %s, in lower case: %v", o, miss.Hosts[0].Name, err)
		}
		for _, q := range queries.ReadByPackage("pkg/report") {
			if !slices.Contains(db.Ran(), q) {
				t.Errorf("%+v: query %s, read by pkg/report, did not run", o, q)
			}
		}
	}
}

// copyLab copies the shared lab, so that a test can change it.
func copyLab(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(labPath)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "lab.db")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// An update is known (not required vs unknown) from the scan of its own update source
// (v_UpdateCIs.UpdateSource_ID), not from the publishing source's: the lab moves one update
// to the retired source, which only some machines ever scanned.
func TestNotRequiredFollowsTheUpdatesOwnSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := copyLab(t)
	rw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	var ci, legacy int64
	var article string
	if err := rw.QueryRow(`SELECT UpdateSource_ID FROM lab_update_source WHERE IsPublishingEnabled = 0`).Scan(&legacy); err != nil {
		t.Fatal(err)
	}
	if err := rw.QueryRow(`SELECT CI_ID, ArticleID FROM lab_update WHERE CIType_ID = 1 AND ArticleID <> ''
		ORDER BY CI_ID LIMIT 1`).Scan(&ci, &article); err != nil {
		t.Fatal(err)
	}
	if _, err := rw.Exec(`UPDATE lab_update SET UpdateSource_ID = ?, MinSourceVersion = 0 WHERE CI_ID = ?`, legacy, ci); err != nil {
		t.Fatal(err)
	}
	// Expected, from the lab's tables: clients in scope that scanned the retired source and
	// have no required/installed row for the update are not required; the rest are unknown.
	var want int64
	if err := rw.QueryRow(`SELECT COUNT(*) FROM lab_host h
		JOIN lab_scan_status ss ON ss.ResourceID = h.ResourceID AND ss.UpdateSource_ID = ?
		WHERE h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0
		  AND NOT EXISTS (SELECT 1 FROM lab_update_state s WHERE s.ResourceID = h.ResourceID AND s.CI_ID = ? AND s.Status > 1)`,
		legacy, ci).Scan(&want); err != nil {
		t.Fatal(err)
	}
	var publishing int64
	rw.QueryRow(`SELECT COUNT(*) FROM lab_host h JOIN lab_scan_status ss ON ss.ResourceID = h.ResourceID
		AND ss.UpdateSource_ID = (SELECT UpdateSource_ID FROM lab_update_source WHERE IsPublishingEnabled = 1)
		WHERE h.IsClient = 1`).Scan(&publishing)
	if want == 0 || want >= publishing {
		t.Fatalf("the lab does not tell the sources apart: %d scanned the retired source, %d the publishing one", want, publishing)
	}
	rw.Close()

	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := report.ComplianceReport(ctx, db, report.Scope{Update: &fleet.UpdateRef{ArticleID: article}})
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	for _, u := range rep.Updates {
		if u.CIID == ci {
			got = u.NotRequired
		}
	}
	if got != want {
		t.Errorf("KB%s on the retired source: %d not required, want %d (the clients that scanned that source)", article, got, want)
	}
}
