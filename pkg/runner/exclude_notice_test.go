package runner_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/notify"
)

// noticePlan excludes the first location's collection and runs the two notice steps: the
// watcher's notice to machines behind on their scan, and the Thursday notice to machines
// still missing an update (no install ran, so every client misses them).
const noticePlan = `exclude: [LAB00020]
name: test-notices
steps:
  - id: watch-unscanned
    at: PT+1 09:15
    action: notify-scan
    target: scan-behind
  - id: thursday-notice
    at: PT+2 10:00
    action: notify-missing
    target: missing-updates
`

// TestExcludedMachinesGetNoNotice follows the exclusions from the plan through the runner
// (SetExcluded before each notice step) to the notices the lab's users see: no member of
// the excluded collection is told anything, while machines outside it are.
func TestExcludedMachinesGetNoNotice(t *testing.T) {
	t.Parallel()
	path := buildLab(t, 80)
	e := newEnvPlan(t, path, filepath.Join(t.TempDir(), "state"), noticePlan, nil)
	defer e.close()
	ctx := context.Background()
	settings := notify.DefaultSettings(time.UTC)
	settings.Method = notify.MethodMsg
	e.run.Env.Notifier = labNotices(e, e.run, settings)
	if err := e.run.Night(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	excluded := map[string]bool{}
	rows, err := raw.Query(`SELECT h.Name FROM lab_host h JOIN lab_collection_member m ON m.ResourceID = h.ResourceID
		WHERE m.CollectionID = 'LAB00020'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		excluded[strings.ToUpper(name)] = true
	}
	rows.Close()
	if len(excluded) == 0 {
		t.Fatal("the excluded collection is empty: the test proves nothing")
	}
	told := map[string]bool{}
	for _, n := range e.site.Notices() {
		host := strings.ToUpper(n.Host)
		told[host] = true
		if excluded[host] {
			t.Errorf("excluded machine %s was told %q", n.Host, n.Title)
		}
	}
	if len(told) < 5 {
		t.Errorf("only %d machines were told anything: the notice steps did not run", len(told))
	}
}
