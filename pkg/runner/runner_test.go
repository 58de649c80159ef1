package runner_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/lab/labprovider"
	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/runner"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
)

// shortPlan is the heart of the restart method, small enough for tests under -race: wake,
// scan, the two install-and-restart waves, one retry wave, and the report.
const shortPlan = `name: test-night
steps:
  - id: wake
    at: PT 18:00
    action: wake
    target: all
    barrier: {percent: 90, condition: online, timeout: 20m}
  - id: scan-1930
    at: PT 19:30
    action: scan
    target: all
  - id: install-logged-off
    at: PT 20:00
    action: install-and-restart
    target: nobody-logged-on-now
    only_if_nobody_logged_on: true
  - id: install-logged-on
    at: PT 23:00
    action: install-and-restart
    target: logged-on
  - id: retry-restart
    at: PT+1 01:00
    action: restart
    target: all
  - id: retry-scan
    at: PT+1 01:15
    action: scan
    target: all
  - id: morning-report
    at: PT+1 09:50
    action: report
`

// labClock moves the lab's simulated clock when the runner sleeps.
type labClock struct {
	c    *labsite.Clock
	site *labsite.Site
}

func (l labClock) Now() time.Time { return l.c.Now() }
func (l labClock) Sleep(ctx context.Context, d time.Duration) error {
	l.c.Advance(d)
	return l.site.Sim.Tick(ctx)
}

// hosts opens real WinRM clients to the lab's endpoint through the lab session's hosts;
// onRestart, when set, is called before every restart request (the kill test stops the
// process there).
type hosts struct {
	h         runner.Hosts
	onRestart func(host string)
}

func (h hosts) Client(host string) (client.Runner, func(), error) {
	c, release, err := h.h.Client(host)
	if err != nil {
		return nil, nil, err
	}
	if h.onRestart != nil {
		return watch{c, host, h.onRestart}, release, nil
	}
	return c, release, nil
}

type watch struct {
	c         client.Runner
	host      string
	onRestart func(string)
}

func (w watch) Run(ctx context.Context, script string, params, out any) error {
	if script == "client-restart" {
		w.onRestart(w.host)
	}
	return w.c.Run(ctx, script, params, out)
}

type env struct {
	path  string
	state string
	site  *labsite.Site
	db    *site.DB
	j     *journal.DB
	run   *runner.Runner
	close func()
}

// newEnv serves the lab at path and builds a runner for the test plan; state is the
// journal folder.
func newEnv(t testing.TB, path, state string, onRestart func(string)) *env {
	t.Helper()
	return newEnvPlan(t, path, state, shortPlan, onRestart)
}

// newEnvPlan is newEnv with another plan.
func newEnvPlan(t testing.TB, path, state, plan string, onRestart func(string)) *env {
	t.Helper()
	return newEnvEarly(t, path, state, plan, time.Minute, onRestart)
}

// newEnvEarly is newEnvPlan with the lab's clock set early before the first step.
func newEnvEarly(t testing.TB, path, state, plan string, early time.Duration, onRestart func(string)) *env {
	t.Helper()
	ctx := context.Background()
	p, err := night.Parse("test-night.yaml", []byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	clock := labsite.NewClock(night.Timeline(p, month, time.UTC)[0].Time.Add(-early))
	ls, err := labsite.Start(ctx, path, labsite.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	// The lab session opens the site database, the journal, the hosts, the provider and the
	// wake socket as patchnight's own commands do; the test keeps its own clock and wake.
	sess := ls.NewSession(labsite.SessionOptions{SiteCode: "LAB", StateDir: state, Concurrency: 16,
		HostTimeout: 20 * time.Second})
	se, err := sess.RunnerEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lc := labClock{clock, ls}
	e := runner.Env{Site: se.Site, Journal: se.Journal, Hosts: hosts{se.Hosts, onRestart}, Provider: se.Provider,
		Wol: wol.Transports{Conn: se.Wol.Conn},
		WolTune: func(o *wol.Options) {
			o.Spacing, o.BatchPause, o.SubnetRate, o.Rate = time.Millisecond, time.Millisecond, 5000, 50000
		},
		Clock: lc, SiteCode: se.SiteCode, Concurrency: se.Concurrency, HostTimeout: se.HostTimeout, BarrierPoll: 10 * time.Minute,
		StateDir: state,
		AfterAction: func(ctx context.Context) error {
			if err := ls.Sim.Tick(ctx); err != nil {
				return err
			}
			_, err := labprovider.Refresh(ctx, ls.DB, clock.Now())
			return err
		}}
	r, err := runner.New(ctx, p, time.UTC, month, e)
	if err != nil {
		t.Fatal(err)
	}
	x := &env{path: path, state: state, site: ls, db: se.Site, j: se.Journal, run: r}
	x.close = func() {
		sess.Close()
		ls.Close()
	}
	return x
}

func buildLab(t testing.TB, hosts int) string {
	t.Helper()
	return buildLabWith(t, hosts, nil)
}

// openLab opens a lab database built by buildLab as the site, closed with the test.
func openLab(t testing.TB, path string) *site.DB {
	t.Helper()
	db, err := site.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// buildLabWith is buildLab with the lab's fault rates (nil: the default mix).
func buildLabWith(t testing.TB, hosts int, faults *lab.FaultRates) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab.db")
	opt := lab.DefaultOptions()
	opt.Hosts, opt.Seed, opt.Faults = hosts, 5, faults
	if _, err := lab.Generate(context.Background(), path, opt); err != nil {
		t.Fatal(err)
	}
	return path
}

// restartsPerStep returns, per step occurrence, the hosts with more than one restart
// request recorded (started or ok rows).
func restartsTwice(t testing.TB, j *journal.DB, run journal.RunID) map[string][]string {
	t.Helper()
	ctx := context.Background()
	steps, err := j.Steps(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, s := range steps {
		rows, err := j.HostOutcomes(ctx, journal.Filter{Step: s.ID, Action: "restart", Outcome: journal.Started})
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, r := range rows {
			n[strings.ToUpper(r.Host)]++
		}
		for h, c := range n {
			if c > 1 {
				out[s.Occurrence] = append(out[s.Occurrence], h)
			}
		}
	}
	return out
}

func TestNightOnALab(t *testing.T) {
	t.Parallel()
	// The short plan has no retry waves, so this runs on the lab's permanent faults only
	// (the lab before issue 15's fault model); against the default mix, a night without
	// waves falls short of the benchmark (lab rehearse's no-waves plan shows it).
	path := buildLabWith(t, 80, &lab.FaultRates{InstallFault: 0.03})
	e := newEnv(t, path, filepath.Join(t.TempDir(), "state"), nil)
	defer e.close()
	ctx := context.Background()
	if err := e.run.Night(ctx); err != nil {
		t.Fatal(err)
	}
	steps, err := e.j.Steps(ctx, e.run.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 8 { // the baseline and seven steps
		t.Fatalf("%d steps recorded, want 8", len(steps))
	}
	for _, s := range steps {
		if !s.Done() {
			t.Errorf("step %s not finished: %s", s.Occurrence, s.Status)
		}
	}
	if twice := restartsTwice(t, e.j, e.run.Run().ID); len(twice) > 0 {
		t.Errorf("hosts restarted twice in a step: %v", twice)
	}
	m, err := e.run.Morning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The report's numbers against the lab's own tables.
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var eligible, patched int64
	err = raw.QueryRow(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN NOT EXISTS (
			SELECT 1 FROM lab_update_state s JOIN lab_cirelation r ON r.ToCIID = s.CI_ID AND r.RelationType = 1
			JOIN lab_update g ON g.CI_ID = r.FromCIID AND g.CIType_ID = 9
			WHERE s.ResourceID = h.ResourceID AND s.Status = 2)
		AND (SELECT ss.LastScanPackageVersion FROM lab_scan_status ss WHERE ss.ResourceID = h.ResourceID
		     AND ss.UpdateSource_ID = (SELECT UpdateSource_ID FROM lab_update_source WHERE IsPublishingEnabled = 1)) >=
		    (SELECT MAX(u.MinSourceVersion) FROM lab_update u JOIN lab_cirelation r ON r.ToCIID = u.CI_ID AND r.RelationType = 1)
		THEN 1 ELSE 0 END), 0)
		FROM lab_host h JOIN lab_collection_member cm ON cm.ResourceID = h.ResourceID AND cm.CollectionID = 'LAB00010'
		WHERE h.IsClient = 1 AND h.Active = 1 AND h.ClientCheckPass = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0`).Scan(&eligible, &patched)
	if err != nil {
		t.Fatal(err)
	}
	if m.Eligible != eligible || m.Patched != patched {
		t.Errorf("morning report: %d of %d patched; the lab says %d of %d", m.Patched, m.Eligible, patched, eligible)
	}
	var stopped int64
	for _, c := range m.Stopped {
		stopped += c.Count
	}
	if stopped != m.Eligible-m.Patched {
		t.Errorf("stopped reasons count %d machines, %d are unpatched", stopped, m.Eligible-m.Patched)
	}
	if m.PatchedPct <= runner.Benchmark {
		t.Errorf("patched %.1f%%: the lab night should beat the %.0f%% benchmark", m.PatchedPct, runner.Benchmark)
	}
	if len(m.BurnDown) != 6 || m.BurnDown[len(m.BurnDown)-1].PatchedPct != m.PatchedPct {
		t.Errorf("burn-down %+v does not end at the headline %.1f", m.BurnDown, m.PatchedPct)
	}
	if _, err := os.Stat(filepath.Join(e.state, "morning-2026-12.html")); err != nil {
		t.Errorf("the report step wrote no HTML: %v", err)
	}
	// Running the night again does nothing twice.
	before := e.site.Stats().OpRuns["client-restart"]
	if err := e.run.Night(ctx); err != nil {
		t.Fatal(err)
	}
	if after := e.site.Stats().OpRuns["client-restart"]; after != before {
		t.Errorf("a second run of a finished night sent %d more restarts", after-before)
	}
}

// TestKillDuringInstallAndResume kills a runner process in the middle of the 20:00
// install-and-restart wave, starts the night again, and proves from the journal and the
// lab's own event log that no host was restarted twice in that step.
func TestKillDuringInstallAndResume(t *testing.T) {
	if os.Getenv("PATCHNIGHT_KILL_CHILD") != "" {
		return // the child runs from TestKillChild
	}
	t.Parallel()
	path := buildLab(t, 80)
	state := filepath.Join(t.TempDir(), "state")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.v")
	cmd.Env = append(os.Environ(), "PATCHNIGHT_KILL_CHILD=1", "PATCHNIGHT_KILL_LAB="+path, "PATCHNIGHT_KILL_STATE="+state)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child was meant to die mid-step; it finished:\n%s", out)
	}
	if !strings.Contains(string(out), "KILLED after") {
		t.Fatalf("the child did not reach the kill point:\n%s", out)
	}
	ctx := context.Background()
	e := newEnv(t, path, state, nil)
	defer e.close()
	steps, err := e.j.Steps(ctx, e.run.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	var killed journal.Step
	for _, s := range steps {
		if s.Occurrence == "install-logged-off" {
			killed = s
		}
	}
	if killed.ID == 0 || killed.Done() {
		t.Fatalf("the 20:00 step should be unfinished after the kill: %+v", killed)
	}
	if err := e.run.Night(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := e.j.GetStep(ctx, killed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done() || st.Resumes < 1 {
		t.Errorf("the 20:00 step after the resume: %+v", st)
	}
	if twice := restartsTwice(t, e.j, e.run.Run().ID); len(twice) > 0 {
		t.Errorf("hosts restarted twice in a step: %v", twice)
	}
	// The lab's own record: restarts per host between 20:00 and 23:00.
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT ResourceID, COUNT(*) FROM lab_event WHERE Action = 'restart'
		AND Time >= '2026-12-08 20:00:00' AND Time < '2026-12-08 23:00:00' GROUP BY ResourceID HAVING COUNT(*) > 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, n int64
		rows.Scan(&id, &n)
		t.Errorf("the lab saw host %d restarted %d times in the 20:00 step", id, n)
	}
	var restarted int64
	raw.QueryRow(`SELECT COUNT(DISTINCT ResourceID) FROM lab_event WHERE Action = 'restart'
		AND Time >= '2026-12-08 20:00:00' AND Time < '2026-12-08 23:00:00'`).Scan(&restarted)
	if restarted < 10 {
		t.Errorf("only %d hosts restarted in the 20:00 step; the test proves nothing", restarted)
	}
}

// TestKillChild is the process TestKillDuringInstallAndResume kills: it runs the night and
// exits abruptly (no flush, no close) before the 9th restart request of the 20:00 step.
func TestKillChild(t *testing.T) {
	path := os.Getenv("PATCHNIGHT_KILL_LAB")
	if os.Getenv("PATCHNIGHT_KILL_CHILD") == "" || path == "" {
		return // only ever run as the child of TestKillDuringInstallAndResume
	}
	var n atomic.Int64
	var e *env
	e = newEnv(t, path, os.Getenv("PATCHNIGHT_KILL_STATE"), func(host string) {
		// Restarts of the 20:00 step come when the hosts' install jobs end (20:05 to 22:00).
		if h := e.run.Env.Clock.Now().Hour(); h < 20 || h >= 23 {
			return
		}
		if n.Add(1) == 9 {
			fmt.Printf("KILLED after 8 restarts at %s\n", e.run.Env.Clock.Now())
			os.Exit(3)
		}
	})
	e.run.Night(context.Background())
	t.Fatal("the night finished without reaching the kill point")
}
