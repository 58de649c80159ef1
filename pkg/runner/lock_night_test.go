package runner_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/lock"
)

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
