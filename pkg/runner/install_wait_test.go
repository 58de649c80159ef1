package runner_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/report"
)

// labRestarts lists, from the lab's own event log, the restarts between from and to, with
// how many install job updates each one interrupted (lost).
func labRestarts(t *testing.T, path, from, to string) (restarts map[int64]string, interrupted []string) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT e.ResourceID, h.Name, e.Detail FROM lab_event e JOIN lab_host h ON h.ResourceID = e.ResourceID
		WHERE e.Action = 'restart' AND e.Time >= ? AND e.Time < ? AND e.Detail LIKE 'restarted%'`, from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	restarts = map[int64]string{}
	for rows.Next() {
		var id int64
		var name, detail string
		if err := rows.Scan(&id, &name, &detail); err != nil {
			t.Fatal(err)
		}
		restarts[id] = strings.ToUpper(name)
		if strings.Contains(detail, "interrupted") {
			interrupted = append(interrupted, name+": "+detail)
		}
	}
	return restarts, interrupted
}

// In the lab, install-and-restart never restarts a machine whose install job is still
// running: every restart the lab saw during the two install waves found the host's job
// ended (the lab logs "interrupted installs lost" otherwise), and each restarted host's
// install ended pending a restart in the journal first.
func TestInstallAndRestartWaitsForTheJob(t *testing.T) {
	t.Parallel()
	path := buildLab(t, 60)
	e := newEnv(t, path, filepath.Join(t.TempDir(), "state"), nil)
	defer e.close()
	ctx := context.Background()
	if err := e.run.Night(ctx); err != nil {
		t.Fatal(err)
	}
	restarts, interrupted := labRestarts(t, path, "2026-12-08 20:00:00", "2026-12-09 01:00:00")
	if len(restarts) < 10 {
		t.Fatalf("only %d restarts in the install waves; the test proves nothing", len(restarts))
	}
	for _, x := range interrupted {
		t.Errorf("restarted during its install job: %s", x)
	}
	pending := map[string]bool{}
	rows, err := e.j.HostOutcomes(ctx, journal.Filter{Run: e.run.Run().ID, Action: "install", Outcome: journal.PendingRestart})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rows {
		pending[strings.ToUpper(o.Host)] = true
		if !strings.HasPrefix(o.Reason, "installed, pending restart") {
			t.Errorf("%s: reason %q", o.Host, o.Reason)
		}
	}
	for _, name := range restarts {
		if !pending[name] && !restartedWithNothingToInstall(t, e, name) {
			t.Errorf("%s restarted in an install wave without its install ending pending a restart", name)
		}
	}
	m, err := e.run.Morning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := countOf(m.Installs, "installed, pending restart"); got != int64(len(rows)) {
		t.Errorf("morning report: %d installs pending restart, the journal has %d (%+v)", got, len(rows), m.Installs)
	}
}

func countOf(cs []report.Count, reason string) int64 {
	for _, c := range cs {
		if c.Reason == reason {
			return c.Count
		}
	}
	return 0
}

func restartedWithNothingToInstall(t *testing.T, e *env, host string) bool {
	t.Helper()
	rows, err := e.j.HostOutcomes(context.Background(), journal.Filter{Run: e.run.Run().ID, Action: "install", Outcome: journal.Skipped})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rows {
		if strings.EqualFold(o.Host, host) && strings.Contains(o.Reason, "a restart is pending") {
			return true
		}
	}
	return false
}

// A step whose limit comes before the install jobs end restarts none of them: the journal
// says "install still running at the step's limit" and the lab saw no restart.
func TestInstallStillRunningAtTheLimit(t *testing.T) {
	t.Parallel()
	const plan = `name: short-limit
steps:
  - id: scan
    at: PT 19:30
    action: scan
    target: all
  - id: install-short
    at: PT 20:00
    action: install-and-restart
    target: all
    limit: 20m
`
	path := buildLab(t, 40)
	e := newEnvPlan(t, path, filepath.Join(t.TempDir(), "state"), plan, nil)
	defer e.close()
	ctx := context.Background()
	if err := e.run.Night(ctx); err != nil {
		t.Fatal(err)
	}
	running, err := e.j.HostOutcomes(ctx, journal.Filter{Run: e.run.Run().ID, Action: "install", Outcome: journal.StillRunning})
	if err != nil {
		t.Fatal(err)
	}
	if len(running) == 0 {
		t.Fatal("no install still running after 20 minutes; the test proves nothing")
	}
	restarts, interrupted := labRestarts(t, path, "2026-12-08 20:00:00", "2026-12-08 21:00:00")
	for _, x := range interrupted {
		t.Errorf("restarted during its install job: %s", x)
	}
	for _, o := range running {
		if !strings.HasPrefix(o.Reason, "install still running at the step's limit") {
			t.Errorf("%s: reason %q", o.Host, o.Reason)
		}
		for _, name := range restarts {
			if strings.EqualFold(name, o.Host) {
				t.Errorf("%s restarted although its install was still running", o.Host)
			}
		}
	}
	steps, err := e.j.Steps(ctx, e.run.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Occurrence == "install-short" && s.Counts.Skipped < len(running) {
			t.Errorf("step counts %+v: still-running hosts are not counted as skipped", s.Counts)
		}
	}
	// The morning report names the outcome: in the install waves, and as what stopped the
	// machines still unpatched because of it.
	m, err := e.run.Morning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const reason = "install still running at the step's limit"
	if got := countOf(m.Installs, reason); got != int64(len(running)) {
		t.Errorf("morning report: %d installs still running, the journal has %d (%+v)", got, len(running), m.Installs)
	}
	if countOf(m.Stopped, reason) == 0 {
		t.Errorf("morning report's stopped reasons lack %q: %+v", reason, m.Stopped)
	}
}
