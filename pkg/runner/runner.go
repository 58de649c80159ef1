// Package runner carries out a patch-night plan (package night): for each step occurrence
// it selects the target machines from the site database, acts on them (client actions over
// WinRM, Wake-on-LAN, collections through the SMS Provider, notices), waits on the step's
// barrier, records every host's outcome in the journal, and measures the patched share so
// that the morning report can draw the night. A step is idempotent and resumable: running
// it again skips the hosts the journal says are done and never restarts a host twice.
package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/alert"
	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/clock"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
)

// Clock tells the time and waits. The real clock sleeps; the lab's clock jumps, so a whole
// night runs in seconds through the same code.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, d) }

// Hosts opens a WinRM client for one host; done releases it.
type Hosts interface {
	Client(host string) (r client.Runner, done func(), err error)
}

// Notifier carries out the notice steps (package notify backs it).
type Notifier interface {
	// WatchPass notices and scans scan-behind machines that came online since the last pass.
	WatchPass(ctx context.Context, run journal.RunID, step journal.StepID) (string, error)
	// Missing sends the Thursday notice to machines still missing the night's updates.
	Missing(ctx context.Context, run journal.RunID, step journal.StepID, group int64) (string, error)
	// Escalated lists the machines escalated after too many notices, by upper-cased name.
	Escalated(ctx context.Context) (map[string]int, error)
}

// Env is what a runner acts through.
type Env struct {
	Site     *site.DB
	Journal  *journal.DB // nil only for a runner that does nothing but DryRun
	Hosts    Hosts
	Provider *provider.Provider // nil: no collection refresh, no site channel
	Wol      wol.Transports     // Conn (and Relayer/Site for those modes)
	WolMode  wol.Mode           // "" = directed
	WolTune  func(*wol.Options) // adjusts wake options (the demo shortens the pacing)
	Notifier Notifier           // nil: notice steps are skipped with a note
	Clock    Clock
	Log      *slog.Logger
	Out      io.Writer // one line per step; nil = none

	SiteCode    string
	Group       string // software update group (title or CI_ID); "" = the plan's, else the deployed one
	Scope       string // collection (ID or name); "" = the plan's, else the group's deployment target
	Concurrency int
	Retries     int           // transient-fault retries within one attempt (remote.FanOut)
	HostTimeout time.Duration // per host and attempt
	BarrierPoll time.Duration // how often a barrier looks (default 2 minutes)
	StateDir    string        // where the morning report files go
	Progress    io.Writer
	IsTerminal  bool
	// AfterAction is called after every step's actions and every barrier poll, before the
	// site is read again (the lab re-evaluates its collections there). Optional.
	AfterAction func(ctx context.Context) error
	// Lock, when set, takes the single-runner lock; Night holds it only while it works (a
	// step, the baseline, closing the run) and never while it sleeps until the next step,
	// so a scheduled `run STEP` is not kept waiting by an idle night. Nil: no lock (the
	// caller holds one for the whole call, as `run STEP` does).
	Lock func(ctx context.Context) (unlock func(), err error)

	// Exclude lists collections (IDs or names) whose members no step touches, besides the
	// plan's exclude: the profile's default (servers, kiosks, clinical machines).
	Exclude []string
	// Alert sends halts and the morning report (mail, webhook) and writes step events to
	// the Windows event log; nil = none. Delivery never fails a step.
	Alert *alert.Dispatcher
	// OverrideHalt runs install and restart steps although the night is halted (run STEP
	// --override-halt); the halt stays for the other steps.
	OverrideHalt bool
	// ProbeWinRM tells whether a machine answers WinRM now (the canary's "back"); nil =
	// a WinRM round trip through Hosts (client.LoggedOn).
	ProbeWinRM func(ctx context.Context, host string) bool
}

// Runner runs one month's night of a plan.
type Runner struct {
	Plan  *night.Plan
	Loc   *time.Location
	Month night.Month
	Env   Env

	run      journal.Run // ID 0 until the run is opened (the first step that is due)
	spec     journal.RunSpec
	group    *site.UpdateGroup
	scopeID  string
	scope    *site.CollectionRef
	timeline []night.Occurrence

	exclusions []site.CollectionRef // the plan's and the profile's excluded collections
}

// New prepares a runner: it resolves the update group and the scope and finds the month's
// run in the journal if there is one. It opens none: the run is opened by the first step
// that actually runs, so a task that fires on another day leaves no trace in the journal.
func New(ctx context.Context, p *night.Plan, loc *time.Location, m night.Month, env Env) (*Runner, error) {
	if env.Clock == nil {
		env.Clock = RealClock{}
	}
	if env.Log == nil {
		env.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if env.Concurrency <= 0 {
		env.Concurrency = 64
	}
	if env.BarrierPoll <= 0 {
		env.BarrierPoll = 2 * time.Minute
	}
	r := &Runner{Plan: p, Loc: loc, Month: m, Env: env, timeline: night.Timeline(p, m, loc)}
	if err := r.resolve(ctx); err != nil {
		return nil, err
	}
	if err := r.resolveExclusions(ctx); err != nil {
		return nil, err
	}
	r.spec = journal.RunSpec{Plan: p.Name, Month: m.String(),
		PatchTuesday: m.PatchTuesday(loc).Format("2006-01-02"), TimeZone: loc.String()}
	// A dry run (DryRun) reads the site only and may have no journal.
	var run journal.Run
	found := false
	if env.Journal != nil {
		var err error
		if run, found, err = env.Journal.FindRun(ctx, r.spec.Plan, r.spec.Month); err != nil {
			return nil, err
		}
	}
	if found {
		r.run = run
	} else {
		r.run = journal.Run{Plan: r.spec.Plan, Month: r.spec.Month, PatchTuesday: r.spec.PatchTuesday,
			TimeZone: r.spec.TimeZone, Status: journal.Running}
	}
	return r, nil
}

// begin opens (or resumes) the month's run in the journal, once.
func (r *Runner) begin(ctx context.Context) error {
	if r.run.ID != 0 {
		return nil
	}
	run, resumed, err := r.Env.Journal.BeginRun(ctx, r.spec)
	if err != nil {
		return err
	}
	r.run = run
	if resumed {
		r.Env.Log.Info("resuming the month's run", "run", run.ID, "month", r.spec.Month)
	} else {
		r.Env.Log.Info("opened the month's run", "run", run.ID, "month", r.spec.Month)
	}
	return nil
}

// Run is the journal's run; its ID is 0 while no step of the month has run yet.
func (r *Runner) Run() journal.Run { return r.run }

// Group is the night's software update group.
func (r *Runner) Group() *site.UpdateGroup { return r.group }

// Scope is the night's collection, nil for every client.
func (r *Runner) Scope() *site.CollectionRef { return r.scope }

// Timeline is the month's occurrences in time order.
func (r *Runner) Timeline() []night.Occurrence { return r.timeline }

// resolve finds the update group (plan, then profile, then the most recently deployed one)
// and the scope (plan, then profile, then the group's single deployment target).
func (r *Runner) resolve(ctx context.Context) error {
	key := r.Plan.Group
	if key == "" {
		key = r.Env.Group
	}
	deps, err := deployments(ctx, r.Env.Site, 0)
	if err != nil {
		return err
	}
	if key == "" {
		var latest *deployment
		for i := range deps {
			d := &deps[i]
			if d.GroupID != 0 && (latest == nil || d.Start.After(latest.Start)) {
				latest = d
			}
		}
		if latest == nil {
			return exit.Usagef("set group in the plan or the profile", "no software update group is deployed on this site")
		}
		key = fmt.Sprint(latest.GroupID)
	}
	g, err := r.Env.Site.ResolveGroup(ctx, key)
	if err != nil {
		return err
	}
	r.group = g
	scope := r.Plan.Scope
	if scope == "" {
		scope = r.Env.Scope
	}
	if scope == "" {
		targets := map[string]bool{}
		for _, d := range deps {
			if d.GroupID == g.CIID || d.GroupID == 0 {
				targets[d.CollectionID] = true
			}
		}
		if len(targets) == 1 {
			for id := range targets {
				scope = id
			}
		}
	}
	if scope != "" {
		c, err := r.Env.Site.ResolveCollection(ctx, scope)
		if err != nil {
			return err
		}
		r.scope, r.scopeID = c, c.ID
	}
	return nil
}

// StepResult is what one occurrence did.
type StepResult struct {
	Occurrence night.Occurrence
	Step       journal.Step
	Skipped    bool   // already finished in an earlier run of the step, or held by a halt
	Held       bool   // not run: the night is halted (journal halts)
	Line       string // the one-line summary
}

// RunOccurrence runs one step occurrence: the journal row, the action, the barrier, the
// measurement, and the summary line.
func (r *Runner) RunOccurrence(ctx context.Context, occ night.Occurrence) (*StepResult, error) {
	j := r.Env.Journal
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	if h, held, err := r.held(ctx, occ.Step.Action); err != nil {
		return nil, err
	} else if held {
		// Not recorded: a resumed night runs the step if its time has not passed.
		res := &StepResult{Occurrence: occ, Skipped: true, Held: true,
			Line: fmt.Sprintf("%s %s: held, the night halted in %s: %s (patchnight night --resume continues)",
				r.clockText(occ), occ.ID, h.Occurrence, h.Reason)}
		r.say(res.Line)
		return res, nil
	}
	st, resumed, err := j.BeginStep(ctx, journal.StepSpec{Run: r.run.ID, Step: occ.StepID, Occurrence: occ.ID,
		Action: string(occ.Step.Action), Planned: occ.Time})
	if err != nil {
		return nil, err
	}
	res := &StepResult{Occurrence: occ, Step: st}
	if st.Done() {
		res.Skipped = true
		res.Line = fmt.Sprintf("%s %s: already done (%s)", r.clockText(occ), occ.ID, st.Status)
		r.say(res.Line)
		return res, nil
	}
	if resumed {
		r.Env.Log.Info("resuming step", "step", occ.ID, "resumes", st.Resumes)
	}
	r.Env.Alert.Event(alert.EventStepStart, fmt.Sprintf("patchnight step %s (%s) started, night of %s, plan %s", occ.ID, occ.Step.Action, r.spec.Month, r.spec.Plan))
	stepCtx := ctx
	if occ.Step.Limit > 0 {
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeout(ctx, occ.Step.Limit)
		defer cancel()
	}
	note, status, actErr := r.act(stepCtx, occ, st)
	if err := j.Flush(ctx); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if r.Env.AfterAction != nil {
		if err := r.Env.AfterAction(ctx); err != nil {
			return nil, err
		}
	}
	m, merr := r.measure(ctx, st.ID)
	if merr != nil {
		return nil, merr
	}
	if actErr != nil {
		status, note = journal.Failed, oneLine(actErr.Error())
	}
	fin, err := j.FinishStep(ctx, st.ID, status, note)
	if err != nil {
		return nil, err
	}
	res.Step = fin
	c := fin.Counts
	hosts := ""
	if c.Hosts > 0 {
		hosts = fmt.Sprintf("%d hosts: %d %s, %d failed, %d skipped; ", c.Hosts, c.OK, OKMeaning(occ.Step.Action), c.Failed, c.Skipped)
	}
	if note != "" {
		note += "; "
	}
	res.Line = fmt.Sprintf("%s %-22s %s%spatched %s of %d", r.clockText(occ), occ.ID, hosts, note,
		pctText(m.Patched, m.Eligible), m.Eligible)
	r.say(res.Line)
	ev := alert.EventStepEnd
	if fin.Status != journal.OK {
		ev = alert.EventStepWarn
	}
	r.Env.Alert.Event(ev, fmt.Sprintf("patchnight step %s ended %s: %s", occ.ID, fin.Status, res.Line))
	return res, actErr
}

func (r *Runner) clockText(occ night.Occurrence) string {
	return occ.Time.In(r.Loc).Format("Mon 15:04")
}

func (r *Runner) say(line string) {
	if r.Env.Out != nil {
		fmt.Fprintln(r.Env.Out, line)
	}
}

// act dispatches the occurrence's action and returns a note and a status ("" = from the counts).
func (r *Runner) act(ctx context.Context, occ night.Occurrence, st journal.Step) (string, journal.Status, error) {
	s := occ.Step
	switch s.Action {
	case night.CheckDeployments:
		return r.checkDeployments(ctx, occ)
	case night.RefreshCollections:
		return r.refreshCollections(ctx)
	case night.Scan, night.Install, night.Restart, night.InstallAndRestart:
		note, status, err := r.hostAction(ctx, occ, st)
		if err != nil || ctx.Err() != nil {
			// A step stopped at its time limit (aborted) leaves the follow-up's messed-up
			// list and client repair to the next install step: its context has ended.
			return note, status, err
		}
		messed, hosts, err := r.followUpMessed(ctx, occ)
		if messed != "" {
			note = strings.TrimPrefix(note+"; "+messed, "; ")
		}
		if err != nil {
			return note, status, err
		}
		repaired, err := r.followUpRepair(ctx, occ, st, hosts, status)
		if repaired != "" {
			note = strings.TrimPrefix(note+"; "+repaired, "; ")
		}
		return note, status, err
	case night.Wake:
		return r.wake(ctx, occ, st)
	case night.NotifyScan, night.NotifyMissing:
		if err := r.excludeFromNotices(ctx); err != nil {
			return "", journal.Failed, err
		}
	}
	switch s.Action {
	case night.NotifyScan:
		if r.Env.Notifier == nil {
			return "notices are not configured", journal.OK, nil
		}
		note, err := r.Env.Notifier.WatchPass(ctx, r.run.ID, st.ID)
		return note, "", err
	case night.NotifyMissing:
		if r.Env.Notifier == nil {
			return "notices are not configured", journal.OK, nil
		}
		note, err := r.Env.Notifier.Missing(ctx, r.run.ID, st.ID, r.group.CIID)
		return note, "", err
	case night.Report:
		return r.report(ctx)
	}
	return "", journal.Failed, fmt.Errorf("action %s is not known to this runner", s.Action)
}

// OKMeaning says what a host counted "ok" in a step of action a is: what the step line
// prints instead of a bare "ok". The journal counts a host ok when its last row in the step
// is ok or pending-restart; started (restart requested, not yet seen back) is counted apart.
func OKMeaning(a night.Action) string {
	switch a {
	case night.Scan:
		return "scan started"
	case night.Wake:
		return "online (woken or already on)"
	case night.Install:
		return "install queued"
	case night.Restart:
		return "restarting"
	case night.InstallAndRestart:
		return "installed (restarting, or no restart needed)"
	case night.NotifyScan:
		return "told or scan started"
	case night.NotifyMissing:
		return "told or escalated"
	}
	return "ok"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func pctText(num, den int64) string {
	if den == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(num)/float64(den))
}
