package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
)

// Night runs the month's whole timeline: it waits for each occurrence's time (on the
// runner's clock) and runs it; occurrences already finished are skipped, so a night
// killed half-way and started again carries on where it stopped. Occurrences whose
// time limit passed before they could start are recorded as aborted, not run late.
//
// The journal records only what happened: the run is opened, and the "before the night"
// baseline measured, when the first occurrence is due, not when the night is started (it
// may be started days early). With Env.Lock set, the lock is held while an occurrence runs
// and released while the night sleeps, so scheduled steps are never kept waiting by an
// idle night; a step the night finds already done by such a task is skipped.
func (r *Runner) Night(ctx context.Context) error {
	failed, err := r.runTimeline(ctx, r.timeline)
	if err != nil {
		return err
	}
	return r.finish(ctx, failed)
}

// FollowUp runs the month's follow-up (issue 17) as Night runs the night: every follow-up
// occurrence in time order, each at its time on the runner's clock, skipping those the
// journal shows finished. It is what `demo --follow-up` and the follow-up tests drive; on a
// site, the scheduled tasks run the occurrences one by one (Step).
func (r *Runner) FollowUp(ctx context.Context) error {
	return r.FollowUpUntil(ctx, time.Time{})
}

// FollowUpUntil is FollowUp for the occurrences planned before until (zero: all of them):
// `demo --follow-up` runs two weeks.
func (r *Runner) FollowUpUntil(ctx context.Context, until time.Time) error {
	var tl []night.Occurrence
	for _, o := range night.FollowUpTimeline(r.Plan, r.Month, r.Loc) {
		if until.IsZero() || o.Time.Before(until) {
			tl = append(tl, o)
		}
	}
	failed, err := r.runTimeline(ctx, tl)
	if err != nil {
		return err
	}
	return r.finish(ctx, failed)
}

func (r *Runner) runTimeline(ctx context.Context, timeline []night.Occurrence) (int, error) {
	var failed int
	for _, occ := range timeline {
		now := r.Env.Clock.Now()
		if wait := occ.Time.Sub(now); wait > 0 {
			if err := r.Env.Clock.Sleep(ctx, wait); err != nil {
				return failed, err
			}
			if r.Env.AfterAction != nil {
				if err := r.Env.AfterAction(ctx); err != nil {
					return failed, err
				}
			}
		}
		unlock, err := r.lock(ctx)
		if err != nil {
			return failed, err
		}
		res, err := r.occurrence(ctx, occ)
		unlock()
		if err != nil {
			if ctx.Err() != nil {
				return failed, ctx.Err()
			}
			r.Env.Log.Error("step failed", "step", occ.ID, "error", err)
			failed++
			continue
		}
		if res != nil && res.Step.Status == journal.Failed {
			failed++
		}
	}
	return failed, nil
}

// finish closes the month's run with the status of what ran.
func (r *Runner) finish(ctx context.Context, failed int) error {
	status := journal.OK
	if failed > 0 {
		status = journal.Partial
	}
	if _, halted, err := r.Halted(ctx); err != nil {
		return err
	} else if halted {
		status = journal.Halted
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := r.begin(ctx); err != nil {
		return err
	}
	return r.Env.Journal.FinishRun(ctx, r.run.ID, status)
}

// occurrence runs one occurrence of the night under the lock: the baseline first (once),
// then the step, or records it missed when its time limit passed before it could start.
func (r *Runner) occurrence(ctx context.Context, occ night.Occurrence) (*StepResult, error) {
	if err := r.Baseline(ctx); err != nil {
		return nil, err
	}
	if dl := occ.Deadline(); !dl.IsZero() && r.Env.Clock.Now().After(dl) {
		return nil, r.missed(ctx, occ)
	}
	return r.RunOccurrence(ctx, occ)
}

// lock takes Env.Lock if there is one.
func (r *Runner) lock(ctx context.Context) (func(), error) {
	if r.Env.Lock == nil {
		return func() {}, nil
	}
	return r.Env.Lock(ctx)
}

// missed records an occurrence whose window passed before it could start (the machine
// was off, the runner was stopped).
func (r *Runner) missed(ctx context.Context, occ night.Occurrence) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	st, _, err := r.Env.Journal.BeginStep(ctx, journal.StepSpec{Run: r.run.ID, Step: occ.StepID, Occurrence: occ.ID,
		Action: string(occ.Step.Action), Planned: occ.Time})
	if err != nil {
		return err
	}
	if st.Done() {
		return nil
	}
	_, err = r.Env.Journal.FinishStep(ctx, st.ID, journal.Aborted, "not started: its time limit had passed")
	if err == nil {
		r.say(fmt.Sprintf("%s %s: missed (its time limit had passed)", r.clockText(occ), occ.ID))
	}
	return err
}

// Step runs one occurrence by step or occurrence ID, if today is its day: what a scheduled
// task calls. A task that fires on a day that is not its night returns nil after logging
// why (the caller exits 0).
func (r *Runner) Step(ctx context.Context, id string) (*StepResult, error) {
	d, err := night.StepFor(r.Plan, id, r.Env.Clock.Now(), r.Loc)
	if err != nil {
		return nil, err
	}
	if !d.Due {
		r.Env.Log.Info(d.Reason)
		r.say(d.Reason)
		return nil, nil
	}
	if r.run.PatchTuesday != d.Occurrence.Month.PatchTuesday(r.Loc).Format("2006-01-02") {
		return nil, exit.Usagef("", "step %s belongs to the night of %s, not %s", id, d.Occurrence.Month, r.Month)
	}
	if err := r.Baseline(ctx); err != nil {
		return nil, err
	}
	return r.RunOccurrence(ctx, d.Occurrence)
}
