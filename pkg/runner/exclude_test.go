package runner_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/runner"
)

// excludePlan is shortPlan with the first location's collection excluded.
const excludePlan = "exclude: [LAB00020]\n" + shortPlan

// TestExcludedCollectionUntouched is issue 16's second acceptance test: the members of an
// excluded collection receive no action in any step (the lab's event log: no wake, scan,
// install, restart, policy or evaluation), and the morning report counts them apart.
func TestExcludedCollectionUntouched(t *testing.T) {
	t.Parallel()
	path := buildLab(t, 80)
	e := newEnvPlan(t, path, filepath.Join(t.TempDir(), "state"), excludePlan, nil)
	defer e.close()
	ctx := context.Background()
	if ex := e.run.Exclusions(); len(ex) != 1 || ex[0].ID != "LAB00020" || !strings.HasPrefix(ex[0].Name, "Location - ") {
		t.Fatalf("exclusions %+v", ex)
	}
	// The dry run shows the exclusions: listed, counted per step, and no excluded machine
	// among the targets it lists (the same selection the night then makes).
	dry, err := e.run.DryRun(ctx, runner.DryRunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Exclusions) != 1 || dry.Exclusions[0].ID != "LAB00020" {
		t.Errorf("dry run exclusions %+v", dry.Exclusions)
	}
	dryExcluded := map[string]int{}
	dryHosts := map[int64]bool{}
	for _, s := range dry.Steps {
		dryExcluded[s.Occurrence] = s.Excluded
		for _, h := range s.Hosts {
			dryHosts[h.ResourceID] = true
		}
	}
	if err := e.run.Night(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	members := `SELECT m.ResourceID FROM lab_collection_member m WHERE m.CollectionID = 'LAB00020'`
	var excluded, touched, othersTouched int64
	if err := raw.QueryRow(`SELECT COUNT(*) FROM lab_host h JOIN lab_collection_member s ON s.ResourceID = h.ResourceID AND s.CollectionID = 'LAB00010'
		WHERE h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0 AND h.ResourceID IN (` + members + `)`).Scan(&excluded); err != nil {
		t.Fatal(err)
	}
	if excluded == 0 {
		t.Fatal("the excluded collection has no client in the night's scope: the test proves nothing")
	}
	if got := dryExcluded["scan-1930"]; int64(got) != excluded {
		t.Errorf("dry run: scan-1930 leaves out %d machines, want the %d excluded clients in scope", got, excluded)
	}
	if dryExcluded["wake"] == 0 {
		t.Error("dry run: the wake plan leaves out no excluded machine")
	}
	var inDry int
	mem, err := raw.Query(members)
	if err != nil {
		t.Fatal(err)
	}
	for mem.Next() {
		var id int64
		if err := mem.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if dryHosts[id] {
			inDry++
		}
	}
	mem.Close()
	if inDry > 0 {
		t.Errorf("dry run lists %d excluded machines among its targets", inDry)
	}
	acts := `Action IN ('scan', 'evaluate', 'policy', 'install', 'restart', 'wake')`
	rows, err := raw.Query(`SELECT ResourceID, Action, Detail FROM lab_event WHERE ` + acts + ` AND ResourceID IN (` + members + `)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var action, detail string
		if err := rows.Scan(&id, &action, &detail); err != nil {
			t.Fatal(err)
		}
		touched++
		t.Errorf("excluded machine %d: %s (%s)", id, action, detail)
	}
	rows.Close()
	if err := raw.QueryRow(`SELECT COUNT(DISTINCT ResourceID) FROM lab_event WHERE ` + acts + ` AND ResourceID NOT IN (` + members + `)`).Scan(&othersTouched); err != nil {
		t.Fatal(err)
	}
	if othersTouched < 20 {
		t.Errorf("only %d other machines were acted on: the night did not run", othersTouched)
	}
	// The journal has no row for them either.
	for _, o := range mustOutcomes(t, e) {
		var in int
		raw.QueryRow(`SELECT COUNT(*) FROM lab_collection_member WHERE CollectionID = 'LAB00020' AND ResourceID = ?`, o).Scan(&in)
		if in > 0 {
			t.Errorf("the journal has an action on excluded machine %d", o)
		}
	}
	m, err := e.run.Morning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var counted int64
	for _, c := range m.Excluded {
		if strings.HasPrefix(c.Reason, "excluded by the plan: Location - ") {
			counted += c.Count
		}
	}
	if counted != excluded {
		t.Errorf("the report counts %d machines excluded by the plan (%+v), the lab has %d", counted, m.Excluded, excluded)
	}
	var inScope int64
	raw.QueryRow(`SELECT COUNT(*) FROM lab_host h JOIN lab_collection_member s ON s.ResourceID = h.ResourceID AND s.CollectionID = 'LAB00010'
		WHERE h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0 AND h.Active = 1 AND h.ClientCheckPass = 1
		AND h.ResourceID NOT IN (` + members + `)`).Scan(&inScope)
	if m.Eligible != inScope {
		t.Errorf("eligible %d, want the %d eligible machines outside the excluded collection", m.Eligible, inScope)
	}
}

// mustOutcomes lists the ResourceIDs of every host row of the run's journal.
func mustOutcomes(t *testing.T, e *env) []int64 {
	t.Helper()
	ctx := context.Background()
	steps, err := e.j.Steps(ctx, e.run.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, s := range steps {
		rows, err := e.j.HostOutcomes(ctx, journalFilter(s.ID))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			ids = append(ids, r.ResourceID)
		}
	}
	return ids
}

func journalFilter(step journal.StepID) journal.Filter { return journal.Filter{Step: step} }

// TestMorningByUpdateHonoursExclusions: the morning report's per-update rows are over its
// denominator, the eligible machines outside the plan's excluded collections. Before,
// the rows counted the excluded machines too: with exclude set, an update's clients (and
// its required and installed counts) no longer added up to the headline's eligible count.
// The expected counts come from the lab's own tables. LAB00020 is the first location's
// collection, LAB00011 the laptops: the two overlap.
func TestMorningByUpdateHonoursExclusions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		exclude []string
	}{
		{"no exclusion", nil},
		{"one exclusion", []string{"LAB00020"}},
		{"two overlapping exclusions", []string{"LAB00020", "LAB00011"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := buildLab(t, 80)
			plan := shortPlan
			if len(tc.exclude) > 0 {
				plan = "exclude: [" + strings.Join(tc.exclude, ", ") + "]\n" + shortPlan
			}
			e := newEnvPlan(t, path, filepath.Join(t.TempDir(), "state"), plan, nil)
			defer e.close()
			ctx := context.Background()
			spec := e.run.Run()
			run, _, err := e.j.BeginRun(ctx, journal.RunSpec{Plan: spec.Plan, Month: spec.Month,
				PatchTuesday: spec.PatchTuesday, TimeZone: spec.TimeZone})
			if err != nil {
				t.Fatal(err)
			}
			m, err := runner.BuildMorning(ctx, e.run, run)
			if err != nil {
				t.Fatal(err)
			}

			raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			// The lab's eligible machines in the night's scope, and the required and
			// installed rows per update of those outside the excluded collections (all).
			args := []any{"", ""}
			for i, c := range tc.exclude {
				args[i] = c
			}
			if len(tc.exclude) == 2 {
				var both int64
				if err := raw.QueryRow(`SELECT COUNT(*) FROM lab_collection_member a JOIN lab_collection_member b
					ON b.ResourceID = a.ResourceID AND b.CollectionID = ? WHERE a.CollectionID = ?`, tc.exclude[1], tc.exclude[0]).Scan(&both); err != nil {
					t.Fatal(err)
				}
				if both == 0 {
					t.Fatal("the two excluded collections do not overlap: the test proves nothing")
				}
			}
			const eligible = `FROM lab_host h JOIN lab_collection_member s ON s.ResourceID = h.ResourceID AND s.CollectionID = 'LAB00010'
				WHERE h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0 AND h.Active = 1 AND h.ClientCheckPass = 1`
			const outside = ` AND h.ResourceID NOT IN (SELECT x.ResourceID FROM lab_collection_member x WHERE x.CollectionID IN (?, ?))`
			var want, all int64
			if err := raw.QueryRow(`SELECT COUNT(*) `+eligible+outside, args...).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if err := raw.QueryRow(`SELECT COUNT(*) ` + eligible).Scan(&all); err != nil {
				t.Fatal(err)
			}
			if m.Eligible != want {
				t.Errorf("eligible %d, want the %d eligible machines outside the excluded collections", m.Eligible, want)
			}
			if len(tc.exclude) > 0 && want == all {
				t.Fatal("no eligible machine is excluded: the test proves nothing")
			}
			type ri struct{ required, installed int64 }
			perUpdate := func(q string, args ...any) map[int64]ri {
				rows, err := raw.Query(`SELECT u.CI_ID, SUM(CASE WHEN u.Status = 2 THEN 1 ELSE 0 END), SUM(CASE WHEN u.Status = 3 THEN 1 ELSE 0 END)
					FROM lab_update_state u JOIN (SELECT h.ResourceID `+q+`) e ON e.ResourceID = u.ResourceID
					WHERE u.Status IN (2, 3) GROUP BY u.CI_ID`, args...)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				out := map[int64]ri{}
				for rows.Next() {
					var ci int64
					var c ri
					if err := rows.Scan(&ci, &c.required, &c.installed); err != nil {
						t.Fatal(err)
					}
					out[ci] = c
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				return out
			}
			wantRows, allRows := perUpdate(eligible+outside, args...), perUpdate(eligible)
			if len(m.ByUpdate) == 0 {
				t.Fatal("no per-update rows")
			}
			var differs, installed bool
			for _, u := range m.ByUpdate {
				if sum := u.Required + u.Installed + u.NotRequired + u.Unknown; u.Clients != m.Eligible || sum != m.Eligible {
					t.Errorf("update %s: %d required + %d installed + %d not required + %d unknown = %d over %d clients; eligible %d",
						u.ArticleID, u.Required, u.Installed, u.NotRequired, u.Unknown, sum, u.Clients, m.Eligible)
				}
				w := wantRows[u.CIID]
				if u.Required != w.required || u.Installed != w.installed {
					t.Errorf("update %s: %d required, %d installed; the eligible machines outside the excluded collections: %d, %d",
						u.ArticleID, u.Required, u.Installed, w.required, w.installed)
				}
				differs = differs || allRows[u.CIID] != w
				installed = installed || w.installed > 0
			}
			if len(tc.exclude) > 0 && !differs {
				t.Error("no excluded machine requires or has installed an update: the test proves nothing")
			}
			if !installed {
				t.Error("no update is installed on the lab: the installed counts go unchecked")
			}
		})
	}
}

// TestExclusionsAtMost: the plan's and the profile's excluded collections together, once
// resolved and without repeats, are at most queries.MaxExcluded (the morning report's
// per-update query takes that many); a night with more does not start.
func TestExclusionsAtMost(t *testing.T) {
	t.Parallel()
	db := openLab(t, buildLab(t, 80))
	ten := []string{"SMSDM003", "LAB00010", "LAB00011", "LAB00012", "LAB00020", "LAB00021", "LAB00022", "LAB00023", "LAB00024", "LAB00025"}
	tests := []struct {
		name    string
		profile []string
		want    int // excluded collections; 0 = refused
	}{
		{"plan alone", nil, 10},
		{"profile repeats the plan's", []string{"lab00010", "LAB00025"}, 10},
		{"one more in the profile", []string{"SMS00001"}, 0},
	}
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := night.Parse("test-night.yaml", []byte("exclude: ["+strings.Join(ten, ", ")+"]\n"+shortPlan))
			if err != nil {
				t.Fatal(err)
			}
			r, err := runner.New(context.Background(), p, time.UTC, month, runner.Env{Site: db, Exclude: tc.profile})
			if tc.want == 0 {
				if exit.Code(err) != exit.Usage || !strings.Contains(fmt.Sprint(err), "exclude 11 collections; a night takes at most 10") {
					t.Fatalf("runner made with 11 excluded collections: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(r.Exclusions()); got != tc.want {
				t.Errorf("%d excluded collections, want %d", got, tc.want)
			}
		})
	}
}
