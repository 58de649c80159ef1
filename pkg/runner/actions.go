package runner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/remote"
)

// Journal action names.
const (
	actScan    = "scan"
	actInstall = "install"
	actRestart = "restart"
	actWake    = "wake"
)

// hostAction runs a scan, install, restart or install-and-restart over the step's targets.
func (r *Runner) hostAction(ctx context.Context, occ night.Occurrence, st journal.Step) (string, journal.Status, error) {
	s := occ.Step
	targets, err := r.targets(ctx, string(s.Target), s.Collection)
	if err != nil {
		return "", journal.Failed, err
	}
	if targets, err = r.withScanBehind(ctx, occ, targets); err != nil {
		return "", journal.Failed, err
	}
	targets = followUpOnline(occ, targets)
	if len(targets) == 0 {
		return "no machines to act on", journal.OK, nil
	}
	j := r.Env.Journal
	primary := actScan
	switch s.Action {
	case night.Install:
		primary = actInstall
	case night.Restart:
		primary = actRestart
	case night.InstallAndRestart:
		primary = actInstall
	}
	done, err := j.DoneHosts(ctx, st.ID, primary)
	if err != nil {
		return "", journal.Failed, err
	}
	var restarted journal.HostSet
	installedOK := map[string]bool{}
	if s.Action == night.InstallAndRestart {
		if restarted, err = j.DoneHosts(ctx, st.ID, actRestart); err != nil {
			return "", journal.Failed, err
		}
		// Hosts whose install ended pending a restart (or ok, in journals written before
		// install jobs were followed) and whose restart was never asked for.
		for _, oc := range []journal.Outcome{journal.OutcomeOK, journal.PendingRestart} {
			prev, err := j.HostOutcomes(ctx, journal.Filter{Step: st.ID, Action: actInstall, Outcome: oc})
			if err != nil {
				return "", journal.Failed, err
			}
			for _, o := range prev {
				installedOK[strings.ToUpper(o.Host)] = true
			}
		}
	}
	var failures map[string]int
	if night.InFollowUp(occ.StepID) {
		// A follow-up day counts its own attempts: the night's exhausted retries do not
		// keep a machine from being tried again on a later day (issue 17).
		y, mo, d := occ.Time.In(r.Loc).Date()
		failures, err = j.FailedCountsSince(ctx, r.run.ID, primary, time.Date(y, mo, d, 0, 0, 0, 0, r.Loc))
	} else {
		failures, err = j.FailedCounts(ctx, r.run.ID, primary)
	}
	if err != nil {
		return "", journal.Failed, err
	}
	maxAttempts := s.MaxRetries + 1
	byName := map[string]target{}
	var todo []string
	resumed := 0
	for _, t := range targets {
		name := t.Name // the Hosts connector adds the DNS suffix
		byName[strings.ToUpper(name)] = t
		key := strings.ToUpper(t.Name)
		switch {
		case done.Has(t.Name) && (s.Action != night.InstallAndRestart || restarted.Has(t.Name) || !installedOK[key]):
			resumed++
			continue
		case failures[key] >= maxAttempts:
			if err := j.Record(ctx, journal.HostOutcome{Run: r.run.ID, Step: st.ID, Host: t.Name, ResourceID: t.ResourceID,
				Action: primary, Attempt: failures[key] + 1, Outcome: journal.RetriesExhausted,
				Reason: fmt.Sprintf("failed %d times %s", failures[key], retryPeriod(occ)), Channel: "winrm", At: r.Env.Clock.Now()}); err != nil {
				return "", journal.Failed, err
			}
			continue
		}
		todo = append(todo, name)
	}
	attempt := func(host string) int { return failures[strings.ToUpper(host)] + 1 }
	// A restart request is never sent twice in a step (client.Retries).
	retries := client.Retries(s.Action == night.Restart || s.Action == night.InstallAndRestart, r.Env.Retries)
	started := r.Env.Clock.Now()
	jobs := &installJobs{byHost: map[string]*installJob{}}
	emit := func(res remote.HostResult[string]) {
		if res.Outcome == remote.OutcomeOK || res.Outcome == remote.OutcomeCanceled {
			return // recorded by onHost; canceled hosts are left for the resume
		}
		t := byName[strings.ToUpper(res.Host)]
		action := primary
		var se *stepError
		if errors.As(res.Err, &se) {
			if se.recorded {
				return
			}
			action = se.action
		}
		out, reason := failureOutcome(res.Err)
		if err := j.Record(ctx, journal.HostOutcome{Run: r.run.ID, Step: st.ID, Host: t.Name, ResourceID: t.ResourceID,
			Action: action, Attempt: attempt(res.Host), Outcome: out, Reason: reason, Channel: "winrm", At: r.Env.Clock.Now()}); err != nil {
			r.Env.Log.Error("journal write failed", "host", t.Name, "error", err)
		}
	}
	fanOut := func(hosts []string, fn func(ctx context.Context, host string) (string, error)) remote.Summary {
		return remote.FanOut(ctx, func(yield func(string) bool) {
			for _, h := range hosts {
				if !yield(h) {
					return
				}
			}
		}, remote.FanOutOptions{Concurrency: r.Env.Concurrency, Retries: retries, PerHostTimeout: r.Env.HostTimeout,
			Progress: r.Env.Progress, IsTerminal: r.Env.IsTerminal, Total: len(hosts), Label: occ.ID}, fn, emit)
	}
	var sum remote.Summary
	// phase acts on some of the step's machines: the action, then following the queued
	// install jobs to their restarts.
	phase := func(hosts []string) error {
		ps := fanOut(hosts, func(ctx context.Context, host string) (string, error) {
			t := byName[strings.ToUpper(host)]
			return r.onHost(ctx, occ, st, t, host, attempt(host), done.Has(t.Name) && installedOK[strings.ToUpper(t.Name)], jobs)
		})
		sum.Canceled += ps.Canceled
		if err := j.Flush(ctx); err != nil {
			return err
		}
		if len(jobs.byHost) > 0 && ctx.Err() == nil {
			stepLimit := s.Limit
			if stepLimit <= 0 {
				stepLimit = s.Action.DefaultLimit()
			}
			limit := started.Add(stepLimit - restartMargin(stepLimit))
			fsum, err := r.followInstalls(ctx, occ, st, jobs, limit, fanOut, func(host string) (target, int) {
				return byName[strings.ToUpper(host)], attempt(host)
			})
			if err != nil {
				return err
			}
			sum.Canceled += fsum.Canceled
			if err := j.Flush(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	note := ""
	if resumed > 0 {
		note = fmt.Sprintf("%d hosts already done before a restart of the step", resumed)
	}
	if r.Plan.Guarded() && s.Action.Restarts() {
		gnote, halted, err := r.guarded(ctx, occ, st, todo, byName, phase)
		note = joinNote(note, gnote)
		if err != nil {
			return note, journal.Failed, err
		}
		if halted {
			return note, journal.Halted, nil
		}
	} else if err := phase(todo); err != nil {
		return "", journal.Failed, err
	}
	if s.Barrier != nil && ctx.Err() == nil {
		bn, err := r.barrier(ctx, s.Barrier, targets)
		if err != nil {
			return note, journal.Failed, err
		}
		note = joinNote(note, bn)
	}
	if sum.Canceled > 0 && ctx.Err() != nil {
		return joinNote(note, fmt.Sprintf("%d hosts not reached before the step's time limit", sum.Canceled)), journal.Aborted, nil
	}
	return note, "", nil
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// stepError is a host failure during one action of a step; recorded means onHost has
// already written its journal row.
type stepError struct {
	action   string
	recorded bool
	err      error
}

func (e *stepError) Error() string { return e.action + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func failed(action string, err error) error { return &stepError{action: action, err: err} }

// failureOutcome maps a remote failure to the journal's outcome and a one-line reason.
func failureOutcome(err error) (journal.Outcome, string) {
	reason := "error"
	if err != nil {
		reason = oneLine(err.Error())
	}
	switch remote.KindOf(err) {
	case remote.KindUnreachable:
		return journal.Unreachable, reason
	case remote.KindTimeout:
		return journal.Timeout, reason
	case remote.KindAuth:
		return journal.Auth, reason
	case remote.KindScript, remote.KindProtocol:
		return journal.Script, reason
	}
	return journal.OutcomeFailed, reason
}

// onHost acts on one machine and records what it did; the returned error (a remote
// failure) is recorded by the fan-out's emit with the failure's outcome.
func (r *Runner) onHost(ctx context.Context, occ night.Occurrence, st journal.Step, t target, host string, attempt int, installDone bool, jobs *installJobs) (string, error) {
	c, release, err := r.Env.Hosts.Client(host)
	if err != nil {
		return "", failed(string(occ.Step.Action), err)
	}
	defer release()
	rec := r.recorder(ctx, st, t, attempt)
	s := occ.Step
	switch s.Action {
	case night.Scan:
		if _, err := client.TriggerSchedule(ctx, c, client.ScheduleUpdateScan); err != nil {
			return "", failed(actScan, err)
		}
		return "scan started", rec(actScan, journal.OutcomeOK, "scan started", 0)
	case night.Install:
		res, err := client.Install(ctx, c, nil)
		if err != nil {
			return "", failed(actInstall, err)
		}
		if res.Started == 0 {
			return "nothing to install", rec(actInstall, journal.Skipped, "nothing to install", 0)
		}
		// InstallUpdates returns when the job is queued; this action does not wait for it.
		reason := fmt.Sprintf("%d updates queued", res.Started)
		if s.RestartPrompt {
			reason += "; the user is prompted to restart"
		}
		return reason, rec(actInstall, journal.OutcomeOK, reason, 0)
	case night.Restart:
		// A restart step restarts every target, also one with nothing pending: the restart
		// method's 01:00 and 04:00 waves restart everything because a restart clears stuck
		// states (an install blocked by a pending restart, 0x80240016) and lets superseded
		// and chained updates become applicable for the scan that follows. It does not wait
		// for install jobs either: one still running from the 23:00 wave loses the updates
		// not yet installed, and the next retry-install queues them again. A plan that
		// wants only the machines waiting for a restart targets pending-restart.
		return r.restart(ctx, c, s, rec)
	case night.InstallAndRestart:
		if !installDone {
			res, err := client.Install(ctx, c, nil)
			if err != nil {
				return "", failed(actInstall, err)
			}
			if res.Started == 0 {
				pending, perr := client.RebootPending(ctx, c)
				if perr != nil || !pending.Pending {
					return "nothing to install", rec(actInstall, journal.Skipped, "nothing to install", 0)
				}
				if err := rec(actInstall, journal.Skipped, "nothing to install; a restart is pending", 0); err != nil {
					return "", err
				}
			} else {
				// The job is queued, not done: followInstalls watches it and restarts the
				// host only when its updates have ended (reference section 12).
				jobs.add(host, res.ArticleIDs, r.Env.Clock.Now())
				return fmt.Sprintf("%d updates queued", res.Started), nil
			}
		}
		return r.restart(ctx, c, s, rec)
	}
	return "", fmt.Errorf("action %s is not a host action", s.Action)
}

// restart writes the intent durably first, so that a step killed after the call and run
// again never restarts the host twice.
func (r *Runner) restart(ctx context.Context, c client.Runner, s night.Step, rec func(string, journal.Outcome, string, int64) error) (string, error) {
	if err := r.Env.Journal.Flush(ctx); err != nil {
		return "", err
	}
	if err := rec(actRestart, journal.Started, "restart requested", 0); err != nil {
		return "", err
	}
	if err := r.Env.Journal.Flush(ctx); err != nil {
		return "", err
	}
	res, err := client.Restart(ctx, c, s.OnlyIfNobodyLoggedOn)
	if err != nil {
		// The intent row stays: whatever happened, the step does not restart this host again.
		out, reason := failureOutcome(err)
		if rerr := rec(actRestart, out, reason, 0); rerr != nil {
			return "", rerr
		}
		return "", &stepError{action: actRestart, recorded: true, err: err}
	}
	if !res.Restarted {
		reason := "a user is logged on: " + strings.Join(res.Users, ", ")
		return reason, rec(actRestart, journal.Deferred, reason, 0)
	}
	return "restarting", rec(actRestart, journal.OutcomeOK, "restarting", 0)
}

// barrierShare says what a barrier's percentage is of: "1812 of the step's 1984 target
// machines scan-current, 91%". The denominator is the step's targets still in scope.
func barrierShare(met, total int, c night.Condition) string {
	if total == 0 {
		return fmt.Sprintf("none of the step's target machines is left to be %s", c)
	}
	return fmt.Sprintf("%d of the step's %d target machines %s, %.0f%%", met, total, c, 100*float64(met)/float64(total))
}

// barrier waits until the condition holds for percent of the targets, or the timeout.
func (r *Runner) barrier(ctx context.Context, b *night.Barrier, targets []target) (string, error) {
	want := map[int64]bool{}
	for _, t := range targets {
		want[t.ResourceID] = true
	}
	deadline := r.Env.Clock.Now().Add(b.Timeout)
	for {
		met, total := 0, 0
		err := r.eachState(ctx, func(h hostState) error {
			if !want[h.ResourceID] {
				return nil
			}
			total++
			switch b.Condition {
			case night.ScanCurrent:
				if h.ScanBucket == "current" {
					met++
				}
			case night.Online:
				if h.Online {
					met++
				}
			case night.Installed:
				if h.Known && h.Required == 0 {
					met++
				}
			case night.Restarted:
				if h.PendingRestart == 0 && h.Online {
					met++
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		pct := 100.0
		if total > 0 {
			pct = 100 * float64(met) / float64(total)
		}
		now := r.Env.Clock.Now()
		if pct >= float64(b.Percent) {
			return fmt.Sprintf("barrier met: %s (wanted %d%%)", barrierShare(met, total, b.Condition), b.Percent), nil
		}
		if !now.Before(deadline) {
			return fmt.Sprintf("barrier timed out: %s (wanted %d%%)", barrierShare(met, total, b.Condition), b.Percent), nil
		}
		wait := r.Env.BarrierPoll
		if rest := deadline.Sub(now); rest < wait {
			wait = rest
		}
		if err := r.Env.Clock.Sleep(ctx, wait); err != nil {
			return "", err
		}
		if r.Env.AfterAction != nil {
			if err := r.Env.AfterAction(ctx); err != nil {
				return "", err
			}
		}
	}
}

// recorder returns the function that journals one outcome of host t in step st.
func (r *Runner) recorder(ctx context.Context, st journal.Step, t target, attempt int) func(string, journal.Outcome, string, int64) error {
	return func(action string, out journal.Outcome, reason string, code int64) error {
		return r.Env.Journal.Record(ctx, journal.HostOutcome{Run: r.run.ID, Step: st.ID, Host: t.Name, ResourceID: t.ResourceID,
			Action: action, Attempt: attempt, Outcome: out, Reason: reason, ErrorCode: code, Channel: "winrm", At: r.Env.Clock.Now()})
	}
}

// installJob is one host's queued install job that install-and-restart follows.
type installJob struct {
	batch []string  // the KB numbers InstallUpdates was given
	next  time.Time // when to look next (runner's clock)
	wait  time.Duration
}

// installJobs are the jobs a step follows; onHost adds to it from the fan-out's workers.
type installJobs struct {
	mu     sync.Mutex
	byHost map[string]*installJob
}

// installBackoff is how install-and-restart looks at a queued job: after 15 minutes, then
// 22.5, then every 30 (reference section 12: a Patch Tuesday job takes from minutes to more
// than an hour; each look is one WinRM round trip per host, and a machine waits at most 30
// minutes for its restart after its job ended).
func installBackoff() client.Backoff {
	return client.Backoff{First: 15 * time.Minute, Max: 30 * time.Minute, Factor: 1.5}
}

func (j *installJobs) add(host string, batch []string, now time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	w := installBackoff().Next(0)
	j.byHost[host] = &installJob{batch: batch, wait: w, next: now.Add(w)}
}

// restartMargin is the part of a step's time limit kept for the restart requests: a job
// that ends later than limit - margin is left running (not restarted) by this step.
func restartMargin(limit time.Duration) time.Duration {
	return min(max(limit/12, time.Minute), 10*time.Minute)
}

// followInstalls watches the install jobs that the step queued until each has ended or
// the step's limit (on the runner's clock) is reached, and restarts a host only once its
// job has ended with something pending a restart:
//
//   - every update of the batch ended, some pending a restart: journal pending-restart
//     (with the failures, if some others failed: a restart is what they need too, and the
//     restart method restarts anything pending), then restart;
//   - every update ended, none pending, some failed: journal failed with the first error
//     code; no restart (the failure counts against max_retries);
//   - every update installed, none pending: journal ok, no restart needed;
//   - still running when the limit comes: journal still-running; no restart, because a
//     restart during an install loses the updates not yet installed.
//
// The step sleeps on the runner's clock until the next host is due for a look and then
// looks at every due host concurrently in one fan-out: waiting holds no worker and no
// connection, and with the simulated clock of the lab a night still runs in seconds.
func (r *Runner) followInstalls(ctx context.Context, occ night.Occurrence, st journal.Step, jobs *installJobs, limit time.Time,
	fanOut func([]string, func(context.Context, string) (string, error)) remote.Summary,
	lookup func(host string) (target, int)) (remote.Summary, error) {
	var total remote.Summary
	for {
		jobs.mu.Lock()
		if len(jobs.byHost) == 0 {
			jobs.mu.Unlock()
			return total, nil
		}
		now := r.Env.Clock.Now()
		next := limit
		for _, jb := range jobs.byHost {
			if jb.next.Before(next) {
				next = jb.next
			}
		}
		jobs.mu.Unlock()
		if wait := next.Sub(now); wait > 0 {
			if err := r.Env.Clock.Sleep(ctx, wait); err != nil {
				if ctx.Err() != nil {
					// The step's own time limit (wall clock): the hosts still followed are
					// left unrecorded, for a resumed step to pick up.
					jobs.mu.Lock()
					total.Canceled += len(jobs.byHost)
					jobs.mu.Unlock()
					return total, nil
				}
				return total, err
			}
			if r.Env.AfterAction != nil {
				if err := r.Env.AfterAction(ctx); err != nil {
					return total, err
				}
			}
		}
		now = r.Env.Clock.Now()
		final := !now.Before(limit)
		var due []string
		jobs.mu.Lock()
		for h, jb := range jobs.byHost {
			if final || !jb.next.After(now) {
				due = append(due, h)
			}
		}
		jobs.mu.Unlock()
		sort.Strings(due)
		sum := fanOut(due, func(ctx context.Context, host string) (string, error) {
			t, attempt := lookup(host)
			jobs.mu.Lock()
			jb := jobs.byHost[host]
			jobs.mu.Unlock()
			line, keep, err := r.lookAtInstall(ctx, occ.Step, st, t, host, attempt, jb, final)
			jobs.mu.Lock()
			if keep {
				jb.wait = installBackoff().Next(jb.wait)
				jb.next = r.Env.Clock.Now().Add(jb.wait)
				if jb.next.After(limit) {
					jb.next = limit
				}
			} else {
				delete(jobs.byHost, host)
			}
			jobs.mu.Unlock()
			return line, err
		})
		total.Canceled += sum.Canceled
		if ctx.Err() != nil {
			return total, nil
		}
		if final {
			return total, nil
		}
	}
}

// lookAtInstall reads one host's job and acts on it; keep says to look again later.
func (r *Runner) lookAtInstall(ctx context.Context, s night.Step, st journal.Step, t target, host string, attempt int, jb *installJob, final bool) (string, bool, error) {
	c, release, err := r.Env.Hosts.Client(host)
	if err != nil {
		return "", false, failed(actInstall, err)
	}
	defer release()
	rec := r.recorder(ctx, st, t, attempt)
	states, err := client.ReadUpdateStates(ctx, c, jb.batch)
	if err != nil {
		return "", false, failed(actInstall, err)
	}
	b := client.Summarize(jb.batch, states)
	switch b.Phase() {
	case client.PhaseRunning:
		if !final {
			return "install running", true, nil
		}
		reason := "install still running at the step's limit, not restarted: " + b.Describe()
		// The code of updates of the batch that already failed, if any: a machine whose
		// hopeless install also has a slow job never ends "failed", and the follow-up's
		// messed-up rule must still see its error (issue 17).
		return reason, false, rec(actInstall, journal.StillRunning, reason, b.ErrorCode)
	case client.PhaseFailed:
		reason := fmt.Sprintf("install failed %s: %s", fleet.HResult(b.ErrorCode), b.Describe())
		return reason, false, rec(actInstall, journal.OutcomeFailed, reason, b.ErrorCode)
	case client.PhaseInstalled:
		return "installed", false, rec(actInstall, journal.OutcomeOK, "installed, no restart needed: "+b.Describe(), 0)
	}
	if err := rec(actInstall, journal.PendingRestart, "installed, pending restart: "+b.Describe(), b.ErrorCode); err != nil {
		return "", false, err
	}
	line, err := r.restart(ctx, c, s, rec)
	return line, false, err
}

// retryPeriod names the period whose failures count towards a step's max_retries.
func retryPeriod(occ night.Occurrence) string {
	if night.InFollowUp(occ.StepID) {
		return "today"
	}
	return "tonight"
}
