package runner_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/journal"
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
