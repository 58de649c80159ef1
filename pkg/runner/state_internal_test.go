package runner

import (
	"context"
	"database/sql"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

// siteLab builds a small lab, lets change alter its tables, and returns a runner reading it
// (with flags of unconfirmed type read back as bool when strict), the night's group and a
// raw handle on the lab.
func siteLab(t *testing.T, strict bool, change func(*sql.DB)) (*Runner, int64, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lab.db")
	opt := lab.DefaultOptions()
	opt.Hosts, opt.Seed = 120, 9
	if _, err := lab.Generate(ctx, path, opt); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if change != nil {
		change(raw)
	}
	var sug int64
	if err := raw.QueryRow(`SELECT CI_ID FROM lab_update WHERE CIType_ID = 9`).Scan(&sug); err != nil {
		t.Fatal(err)
	}
	db, err := site.OpenLab(ctx, path, site.LabOptions{FlagsAsBool: strict})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Runner{Env: Env{Site: db}, group: &site.UpdateGroup{CIID: sug}}, sug, raw
}

func ids(t *testing.T, raw *sql.DB, q string, args ...any) []int64 {
	t.Helper()
	rows, err := raw.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func targetIDs(ts []target) []int64 {
	var out []int64
	for _, x := range ts {
		out = append(out, x.ResourceID)
	}
	slices.Sort(out)
	return out
}

// The 16:00 check finds the night's deployment through v_CIAssignmentToGroup: no site has
// v_CIAssignment.AssignedGroupCI_ID (issue 11, fix 1).
func TestDeploymentsOfTheGroup(t *testing.T) {
	t.Parallel()
	r, sug, _ := siteLab(t, false, nil)
	for _, group := range []int64{sug, 0} {
		ds, err := deployments(context.Background(), r.Env.Site, group)
		if err != nil {
			t.Fatalf("deployments(%d): %v", group, err)
		}
		if len(ds) != 1 || ds[0].GroupID != sug || !ds[0].Enabled || !ds[0].Required || !ds[0].SuppressReboot || ds[0].Updates == 0 {
			t.Fatalf("deployments(%d) = %+v, want the one deployment of group %d", group, ds, sug)
		}
	}
	if ds, err := deployments(context.Background(), r.Env.Site, 12345); err != nil || len(ds) != 0 {
		t.Fatalf("deployments of another group = %+v, %v", ds, err)
	}
}

const clients = `SELECT ResourceID FROM lab_host WHERE IsClient = 1 AND Obsolete = 0 AND Decommissioned = 0`

// The night's selectors mean what they say (issue 11, fix 10): nobody logged on now is
// online now; pending restart and failed installs are of the night's update group; missing
// updates without a group is refused.
func TestTargetSelectors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Outside the group: one online machine pending a restart on an older update, another
	// with a failed install of one. Neither has anything pending or failed in the group.
	r, sug, raw := siteLab(t, false, func(raw *sql.DB) {
		for _, x := range []struct{ state int }{{9}, {11}} {
			_, err := raw.Exec(`UPDATE lab_update_state SET Status = 2, Truth = 0, LastEnforcementMessageID = ?
				WHERE (ResourceID, CI_ID) IN (
				  SELECT s.ResourceID, s.CI_ID FROM lab_update_state s JOIN lab_host h ON h.ResourceID = s.ResourceID
				  WHERE h.IsClient = 1 AND s.LastEnforcementMessageID NOT IN (9, 11)
				    AND s.CI_ID NOT IN (SELECT ToCIID FROM lab_cirelation WHERE RelationType = 1)
				    AND s.ResourceID NOT IN (SELECT ResourceID FROM lab_update_state WHERE LastEnforcementMessageID IN (9, 11))
				  ORDER BY s.ResourceID LIMIT 1)`, x.state)
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	inGroup := `SELECT ToCIID FROM lab_cirelation WHERE FromCIID = ? AND RelationType = 1`
	tests := []struct {
		selector string
		want     []int64
	}{
		{"nobody-logged-on-now", ids(t, raw, clients+` AND Power = 'on' AND COALESCE(CurrentUser, '') = ''`)},
		{"logged-on", ids(t, raw, clients+` AND Power = 'on' AND COALESCE(CurrentUser, '') <> ''`)},
		{"pending-restart", ids(t, raw, clients+` AND ResourceID IN (SELECT ResourceID FROM lab_update_state
			WHERE Status = 2 AND LastEnforcementMessageID = 9 AND CI_ID IN (`+inGroup+`))`, sug)},
		{"failed-installs", ids(t, raw, clients+` AND ResourceID IN (SELECT ResourceID FROM lab_update_state
			WHERE Status = 2 AND LastEnforcementMessageID = 11 AND CI_ID IN (`+inGroup+`))`, sug)},
		{"missing-updates", ids(t, raw, clients+` AND ResourceID IN (SELECT ResourceID FROM lab_update_state
			WHERE Status = 2 AND CI_ID IN (`+inGroup+`))`, sug)},
	}
	offline := ids(t, raw, clients+` AND Power = 'off'`)
	if len(offline) == 0 {
		t.Fatal("the lab has no offline client: the online test would prove nothing")
	}
	outside := ids(t, raw, `SELECT ResourceID FROM lab_update_state WHERE LastEnforcementMessageID IN (9, 11)
		AND CI_ID NOT IN (SELECT ToCIID FROM lab_cirelation WHERE RelationType = 1)`)
	if len(outside) != 2 {
		t.Fatalf("set up %d machines with a pending restart or failure outside the group, want 2", len(outside))
	}
	for _, tc := range tests {
		got, err := r.targets(ctx, tc.selector, "")
		if err != nil {
			t.Fatalf("%s: %v", tc.selector, err)
		}
		if ids := targetIDs(got); !slices.Equal(ids, tc.want) {
			t.Errorf("%s: %d machines %v, want %d %v", tc.selector, len(ids), ids, len(tc.want), tc.want)
		}
		for _, x := range got {
			if tc.selector == "nobody-logged-on-now" && (!x.Online || x.User != "") {
				t.Errorf("nobody-logged-on-now selected %s (online %v, user %q)", x.Name, x.Online, x.User)
			}
			if (tc.selector == "pending-restart" || tc.selector == "failed-installs") && slices.Contains(outside, x.ResourceID) {
				t.Errorf("%s selected %s for an update outside the night's group", tc.selector, x.Name)
			}
		}
	}
	// Without a group, the group selectors refuse instead of meaning "every update".
	r.group = &site.UpdateGroup{}
	for _, s := range []night.Selector{night.MissingUpdates, night.PendingRestart, night.FailedInstalls} {
		if _, err := r.targets(ctx, string(s), ""); exit.Code(err) != exit.Usage {
			t.Errorf("%s without a group: %v, want a usage error", s, err)
		}
	}
}

// Every query pkg/runner reads runs through the runner's own scanners with bit columns read
// back as bool, and flags of unconfirmed type as bool too in the strict pass.
func TestRunnerReadsSiteTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, strict := range []bool{false, true} {
		r, sug, _ := siteLab(t, strict, nil)
		for _, s := range []string{"all", "nobody-logged-on-now", "logged-on", "missing-updates", "scan-behind",
			"pending-restart", "failed-installs", "needs-attention"} {
			if _, err := r.targets(ctx, s, ""); err != nil {
				t.Errorf("strict %v: targets %s: %v", strict, s, err)
			}
		}
		online, known := 0, 0
		if err := r.eachState(ctx, func(h hostState) error {
			if h.Online {
				online++
			}
			if h.Known {
				known++
			}
			return nil
		}); err != nil {
			t.Errorf("strict %v: host state: %v", strict, err)
		}
		if online == 0 || known == 0 {
			t.Errorf("strict %v: %d online, %d known: the flags were not exercised", strict, online, known)
		}
		if _, err := deployments(ctx, r.Env.Site, sug); err != nil {
			t.Errorf("strict %v: deployments: %v", strict, err)
		}
		kinds, note, err := r.hostKinds(ctx)
		if err != nil || note != "" || !slices.Contains(slices.Collect(maps.Values(kinds)), KindVirtual) {
			t.Errorf("strict %v: machine kinds %v, note %q, %v", strict, kinds, note, err)
		}
		if _, err := r.NotSeen(ctx); err != nil {
			t.Errorf("strict %v: not seen since the night: %v", strict, err)
		}
		for _, q := range queries.ReadByPackage("pkg/runner") {
			if !slices.Contains(r.Env.Site.Ran(), q) {
				t.Errorf("strict %v: query %s, read by pkg/runner, did not run", strict, q)
			}
		}
	}
}
