package runner_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/lock"
)

// twoStepPlan has no barrier and no install, so the runner's clock sleeps only between
// steps: the lock test can tell the night's idle time from its work.
const twoStepPlan = `name: test-night
steps:
  - id: scan-1930
    at: PT 19:30
    action: scan
    target: all
  - id: morning-report
    at: PT+1 09:50
    action: report
`

// The journal records only what happened: a scheduled step that fires on a day that is
// not its night opens no run (before, runner.New opened one that stayed "running").
func TestStepNotDueOpensNoRun(t *testing.T) {
	t.Parallel()
	path := buildLab(t, 20)
	e := newEnvPlan(t, path, filepath.Join(t.TempDir(), "state"), twoStepPlan, nil)
	defer e.close()
	ctx := context.Background()
	// The clock is on Patch Tuesday before 19:30: morning-report's day is tomorrow.
	res, err := e.run.Step(ctx, "morning-report")
	if err != nil || res != nil {
		t.Fatalf("a step not due today: %v, %v; want nothing done", res, err)
	}
	runs, err := e.j.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 0 || e.run.Run().ID != 0 {
		t.Errorf("a step not due today left %d runs in the journal (%+v), want none", len(runs), runs)
	}
	// The day's step does open it, and the baseline with it.
	if _, err := e.run.Step(ctx, "scan-1930"); err != nil {
		t.Fatal(err)
	}
	if runs, _ = e.j.Runs(ctx); len(runs) != 1 {
		t.Errorf("the day's step opened %d runs, want 1", len(runs))
	}
}

// A night started days early takes the "before the night" baseline, and opens its run,
// when the first step starts, not when it is started.
func TestNightStartedEarlyMeasuresAtTheFirstStep(t *testing.T) {
	t.Parallel()
	path := buildLab(t, 20)
	e := newEnvEarly(t, path, filepath.Join(t.TempDir(), "state"), twoStepPlan, 3*24*time.Hour, nil)
	defer e.close()
	ctx := context.Background()
	first := e.run.Timeline()[0].Time
	if err := e.run.Night(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := e.j.Run(ctx, e.run.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Started.Before(first) {
		t.Errorf("run opened at %s, before its first step at %s", run.Started, first)
	}
	steps, err := e.j.Steps(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := e.j.Metrics(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range steps {
		if s.Step != "before-night" {
			continue
		}
		found = true
		if at := metrics[s.ID].At; at.Before(first) {
			t.Errorf("baseline measured at %s, %s before the first step", at, first.Sub(at))
		}
		if s.Started.Before(first) {
			t.Errorf("baseline step started at %s, before the first step at %s", s.Started, first)
		}
	}
	if !found {
		t.Fatal("no baseline recorded")
	}
}

// lockWatch is a clock that, whenever the runner sleeps, checks whether a scheduled
// `run STEP` could take the state folder's lock at that moment.
type lockWatch struct {
	labClock
	dir string

	mu      sync.Mutex
	sleeps  int
	blocked []time.Time
}

func (l *lockWatch) Sleep(ctx context.Context, d time.Duration) error {
	unlock, err := lock.Try(l.dir)
	l.mu.Lock()
	l.sleeps++
	if err != nil {
		l.blocked = append(l.blocked, l.Now())
	} else {
		unlock()
	}
	l.mu.Unlock()
	return l.labClock.Sleep(ctx, d)
}

// Decision (README, "How a night runs"): an idle `night` does not hold the lock while it
// sleeps until the next step; it takes it for each step and for closing the run. A step
// a scheduled task ran in the meantime is skipped by the night.
func TestIdleNightDoesNotHoldTheLock(t *testing.T) {
	t.Parallel()
	path := buildLab(t, 20)
	state := filepath.Join(t.TempDir(), "state")
	e := newEnvEarly(t, path, state, twoStepPlan, 2*24*time.Hour, nil)
	defer e.close()
	ctx := context.Background()
	lw := &lockWatch{labClock: e.run.Env.Clock.(labClock), dir: state}
	e.run.Env.Clock = lw
	var takes int
	e.run.Env.Lock = func(ctx context.Context) (func(), error) {
		takes++
		return lock.Wait(ctx, state, 10*time.Millisecond)
	}
	// A scheduled task runs the scan while the night sleeps, holding the lock for the whole
	// call as `run STEP` does (the same runner: same plan, journal and site).
	lw2 := &taskClock{lockWatch: lw, at: e.run.Timeline()[0].Time, task: func(ctx context.Context) error {
		unlock, err := lock.Try(state)
		if err != nil {
			return err
		}
		defer unlock()
		_, err = e.run.Step(ctx, "scan-1930")
		return err
	}}
	e.run.Env.Clock = lw2
	if err := e.run.Night(ctx); err != nil {
		t.Fatal(err)
	}
	if lw.sleeps == 0 {
		t.Fatal("the night never slept")
	}
	if len(lw.blocked) > 0 {
		t.Errorf("the lock was held while the night slept, at %v", lw.blocked)
	}
	if !lw2.ran {
		t.Error("the scheduled task never ran")
	}
	if takes != 3 { // the two steps and closing the run
		t.Errorf("the night took the lock %d times, want 3", takes)
	}
	steps, err := e.j.Steps(ctx, e.run.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Occurrence == "scan-1930" && s.Resumes != 0 {
			t.Errorf("the night ran the task's scan again (%d resumes)", s.Resumes)
		}
	}
}

// taskClock runs a scheduled task once, when the night's sleep reaches its time.
type taskClock struct {
	*lockWatch
	at   time.Time
	task func(context.Context) error
	ran  bool
}

func (c *taskClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.ran || c.Now().Add(d).Before(c.at) {
		return c.lockWatch.Sleep(ctx, d)
	}
	first := c.at.Sub(c.Now())
	if err := c.lockWatch.Sleep(ctx, first); err != nil {
		return err
	}
	c.ran = true
	if err := c.task(ctx); err != nil {
		return err
	}
	return c.lockWatch.Sleep(ctx, d-first)
}
