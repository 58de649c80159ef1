package runner_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"
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
