package notify

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

func smallLab(t *testing.T, change func(*sql.DB)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab.db")
	opt := lab.DefaultOptions()
	opt.Hosts, opt.Seed = 150, 4
	if _, err := lab.Generate(context.Background(), path, opt); err != nil {
		t.Fatal(err)
	}
	if change != nil {
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		change(raw)
		raw.Close()
	}
	return path
}

func hostsOf(rows [][]missingRow) []int64 {
	var out []int64
	for _, h := range rows {
		out = append(out, h[0].rid)
	}
	slices.Sort(out)
	return out
}

// Users are told only about updates deployed to their machine (issue 11, fix 10): an update
// no deployment carries is told to nobody, and a machine the deployment does not target is
// not told about the group's updates.
func TestNoticesOnlyForDeployedUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var untargeted int64
	var undeployed string
	path := smallLab(t, func(raw *sql.DB) {
		if err := raw.QueryRow(`SELECT s.ResourceID FROM lab_update_state s
			JOIN lab_cirelation cr ON cr.ToCIID = s.CI_ID AND cr.RelationType = 1
			JOIN lab_host h ON h.ResourceID = s.ResourceID
			WHERE s.Status = 2 AND h.IsClient = 1 ORDER BY s.ResourceID LIMIT 1`).Scan(&untargeted); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`DELETE FROM lab_assignment_target WHERE ResourceID = ?`, untargeted); err != nil {
			t.Fatal(err)
		}
		if err := raw.QueryRow(`SELECT u.ArticleID FROM lab_update u JOIN lab_update_state s ON s.CI_ID = u.CI_ID
			WHERE u.CIType_ID = 1 AND u.ArticleID <> '' AND s.Status = 2
			  AND u.CI_ID NOT IN (SELECT CI_ID FROM lab_assignment_ci)
			  AND u.CI_ID NOT IN (SELECT ToCIID FROM lab_cirelation WHERE RelationType = 1)
			GROUP BY u.ArticleID ORDER BY COUNT(*) DESC LIMIT 1`).Scan(&undeployed); err != nil {
			t.Fatal(err)
		}
	})
	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hosts, _, err := loadMissing(ctx, db, MissingOptions{Updates: []string{"KB" + undeployed}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 0 {
		t.Errorf("KB%s is deployed nowhere, yet %d machines would be told about it", undeployed, len(hosts))
	}
	hosts, _, err = loadMissing(ctx, db, MissingOptions{Group: "Patch Tuesday 2026-12"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) == 0 {
		t.Fatal("nobody misses the deployed group: the test proves nothing")
	}
	if slices.Contains(hostsOf(hosts), untargeted) {
		t.Errorf("machine %d, which the deployment does not target, would be told about the group", untargeted)
	}
}

// Every query pkg/notify reads runs through its own scanners with bit columns read back as
// bool, and flags of unconfirmed type as bool too in the strict pass.
func TestNotifyReadsSiteTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := smallLab(t, nil)
	for _, o := range []site.LabOptions{{}, {FlagsAsBool: true}} {
		db, err := site.OpenLab(ctx, path, o)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		hosts, _, err := loadMissing(ctx, db, MissingOptions{Group: "Patch Tuesday 2026-12"})
		if err != nil || len(hosts) == 0 {
			t.Fatalf("%+v: missing: %d machines, %v", o, len(hosts), err)
		}
		if !slices.ContainsFunc(hosts, func(h []missingRow) bool { return h[0].online }) {
			t.Errorf("%+v: nobody online: the online flag was not exercised", o)
		}
		behind, err := readScanBehind(ctx, db, "")
		if err != nil || len(behind) == 0 {
			t.Fatalf("%+v: scan behind: %d machines, %v", o, len(behind), err)
		}
		for _, q := range queries.ReadByPackage("pkg/notify") {
			if !slices.Contains(db.Ran(), q) {
				t.Errorf("%+v: query %s, read by pkg/notify, did not run", o, q)
			}
		}
	}
}
