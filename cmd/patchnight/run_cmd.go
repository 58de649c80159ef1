package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lock"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/report/html"
	"github.com/patchnight/patchnight/pkg/runner"
	"github.com/patchnight/patchnight/pkg/site"
)

// nightEnv opens, through the session, what a night needs for the effective profile: the
// site database, the journal in the state folder, the hosts, the SMS Provider (when
// configured) and the Wake-on-LAN transports. done closes them all.
func (a *App) nightEnv(ctx context.Context, planPath, month string) (*runner.Runner, func(), error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, nil, err
	}
	p, loc, err := a.planAndZone(planPath)
	if err != nil {
		return nil, nil, err
	}
	m, err := monthOrNext(p, month, a.Now(), loc)
	if err != nil {
		return nil, nil, err
	}
	s, err := a.Session()
	if err != nil {
		return nil, nil, err
	}
	env, err := s.RunnerEnv(ctx)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	env.Out, env.Progress, env.IsTerminal = a.IO.Out, a.IO.Err, a.IO.StderrTerminal
	env.Exclude = cfg.Profile.ExcludeList()
	if env.Alert, err = a.alerts(cfg.Profile); err != nil {
		s.Close()
		return nil, nil, err
	}
	if a.Format() == output.JSON {
		env.Out = a.IO.Err // stdout holds the one JSON document; the step's lines go to stderr
	}
	r, err := runner.New(ctx, p, loc, m, env)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	settings, err := notify.NewSettings(cfg.Profile.Notify, loc)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	scope := ""
	if r.Scope() != nil {
		scope = r.Scope().ID
	}
	notices := s.Notices(r.Env, settings, scope)
	notices.Now = time.Now // the notices' clock in a night is the wall clock, not --now's
	r.Env.Notifier = notices
	return r, func() {
		_ = r.Env.Alert.Close()
		s.Close()
	}, nil
}

// dryRunEnv opens what a dry run of the night reads (the site database only) and the
// night's runner on it: the same plan, month, update group and scope as nightEnv, no
// journal, no WinRM, no provider connection, no wake socket. opts says what the night would
// have (an SMS Provider, notices).
func (a *App) dryRunEnv(ctx context.Context, planPath, month string) (*runner.Runner, runner.DryRunOptions, func(), error) {
	var opts runner.DryRunOptions
	cfg, err := a.Config()
	if err != nil {
		return nil, opts, nil, err
	}
	p, loc, err := a.planAndZone(planPath)
	if err != nil {
		return nil, opts, nil, err
	}
	m, err := monthOrNext(p, month, a.Now(), loc)
	if err != nil {
		return nil, opts, nil, err
	}
	// The night refuses notice settings that do not parse before it starts: so does its
	// dry run.
	if _, err := notify.NewSettings(cfg.Profile.Notify, loc); err != nil {
		return nil, opts, nil, err
	}
	s, err := a.Session()
	if err != nil {
		return nil, opts, nil, err
	}
	env, prov, err := s.DryRunEnv(ctx)
	if err != nil {
		s.Close()
		return nil, opts, nil, err
	}
	r, err := runner.New(ctx, p, loc, m, env)
	if err != nil {
		s.Close()
		return nil, opts, nil, err
	}
	opts.Provider, opts.Notices = prov, true // nightEnv always gives the night its notices
	return r, opts, s.Close, nil
}

// nightFlags are --plan and --month: which plan, and the month of which night.
type nightFlags struct {
	Plan  string
	Month string
}

// planHelp is --plan's help wherever it is defined.
const planHelp = "plan file (default: the built-in restart method)"

// addNightFlags adds --plan and --month (monthHelp says what the month means there). A
// month that does not parse is refused before the command opens anything.
func addNightFlags(cmd *cobra.Command, n *nightFlags, monthHelp string) {
	cmd.Flags().StringVar(&n.Plan, "plan", "", planHelp)
	cmd.Flags().StringVar(&n.Month, "month", "", monthHelp)
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if n.Month != "" {
			if _, err := night.ParseMonth(n.Month); err != nil {
				return err
			}
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

const nightMonthHelp = "the night's month YYYY-MM (default: the night under way or next)"

// runOptions is what patchnight run and patchnight night were asked, and what they act
// through: Lock takes the state folder's process lock, Env opens the night's runner.
type runOptions struct {
	nightFlags
	Step   string // run: the step (or occurrence) to run; "" for night
	DryRun bool   // --dry-run: read the site as the night would and act on nothing
	// OverrideHalt (run --override-halt) runs an install or restart step of a halted night.
	OverrideHalt bool
	// Resume (night --resume) lifts the night's halt before running it.
	Resume bool

	// DryEnv opens the runner of a dry run (site database only); PrintDry prints its
	// result in the --output format.
	DryEnv   func(ctx context.Context, planPath, month string) (*runner.Runner, runner.DryRunOptions, func(), error)
	PrintDry func(*runner.DryRun) error

	Lock func(ctx context.Context) (func(), error)
	Env  func(ctx context.Context, planPath, month string) (*runner.Runner, func(), error)
	// FollowUpMonth is the month (YYYY-MM) whose follow-up is under way when step is a
	// follow-up step, else "" (run's default month).
	FollowUpMonth func(planPath, step string) (string, error)
	Out           io.Writer
	// Result prints run's outcome in the --output format (nil: nothing; the table form
	// is the runner's lines on Out).
	Result func(stepOutcome) error
}

// stepOutcome is what run did (-o json): whether the step was due today and, if it was,
// its journal row and summary line.
type stepOutcome struct {
	Step    string        `json:"step"`
	Due     bool          `json:"due"`
	Skipped bool          `json:"skipped"`           // finished in an earlier run of the step, or held
	Held    bool          `json:"held,omitempty"`    // not run: the night is halted (night --resume, --override-halt)
	Summary string        `json:"summary,omitempty"` // the one-line summary the table form prints
	Journal *journal.Step `json:"journal,omitempty"` // the step's journal row
}

// newRunOptions returns options wired to the app's session and state folder. The lock
// waits a moment for another runner's step to end.
func newRunOptions(app *App) *runOptions {
	return &runOptions{
		Lock: func(ctx context.Context) (func(), error) {
			cfg, err := app.Config()
			if err != nil {
				return nil, err
			}
			return lock.Wait(ctx, cfg.Profile.StateDir, 5*time.Second)
		},
		Env: app.nightEnv,
		FollowUpMonth: func(planPath, step string) (string, error) {
			p, loc, err := app.planAndZone(planPath)
			if err != nil || !p.IsFollowUp(step) {
				return "", err
			}
			if m, ok := night.FollowUpMonth(p, app.Now(), loc); ok {
				return m.String(), nil
			}
			return "", nil
		},
		DryEnv:   app.dryRunEnv,
		PrintDry: func(d *runner.DryRun) error { return app.Print(d) },
		Out:      app.IO.Out,
		Result: func(o stepOutcome) error {
			if app.Format() != output.JSON {
				return nil
			}
			return output.WriteJSON(app.IO.Out, o)
		},
	}
}

func newRunCmd(app *App, runF func(context.Context, *runOptions) error) *cobra.Command {
	opts := newRunOptions(app)
	cmd := &cobra.Command{
		Use:   "run STEP",
		Short: "Run one step of the night (what a scheduled task calls)",
		Long: `Run one step (or one occurrence of a repeating step, e.g. retry-restart-0400) of the
month's night, if today is its day: a task that fires on another day exits 0 after a log
line. One runner at a time: a second waits for the lock. A step is resumable: run again, it
skips the machines already done and never restarts a machine twice.
It asks nothing and takes no --yes: the plan is the consent (unlike client restart or
install and collections apply, which ask first).
--dry-run rehearses the step (every occurrence of a repeating step) on any day: it reads
the site as the step would and acts on nothing (see night --dry-run).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Step = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.DryRun {
				return dryRunNight(cmd.Context(), opts)
			}
			return runStep(cmd.Context(), opts)
		},
	}
	addNightFlags(cmd, &opts.nightFlags, nightMonthHelp)
	cmd.Flags().BoolVar(&opts.OverrideHalt, "override-halt", false, "run this install or restart step although the night is halted (the halt stays for the others)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, dryRunHelp)
	cmd.ValidArgsFunction = completeSteps(&opts.Plan)
	onlyFormats(cmd, output.Table, output.JSON)
	dryRunFormats(cmd, output.Table, output.JSON, output.CSV, output.Markdown)
	return cmd
}

// dryRunHelp is --dry-run's help on run and night.
const dryRunHelp = "read the site as the night would and act on nothing: targets, collections, wake plan, restarts and time per step"

// dryRunNight rehearses the night (or opts.Step) and prints what it would do. It takes no
// lock: it writes nothing, and it must work while a night holds the lock.
func dryRunNight(ctx context.Context, opts *runOptions) error {
	if opts.Step != "" && opts.Month == "" && opts.FollowUpMonth != nil {
		// A follow-up step is rehearsed in the month whose follow-up is under way, as
		// runStep runs it.
		m, err := opts.FollowUpMonth(opts.Plan, opts.Step)
		if err != nil {
			return err
		}
		opts.Month = m
	}
	r, dopts, done, err := opts.DryEnv(ctx, opts.Plan, opts.Month)
	if err != nil {
		return err
	}
	defer done()
	if opts.Step != "" {
		found := false
		for _, o := range r.NightAndFollowUp() {
			found = found || o.ID == opts.Step || o.StepID == opts.Step
		}
		if !found {
			return exit.Usagef("see patchnight plan show", "plan %s has no step or occurrence %q", r.Plan.Name, opts.Step)
		}
		dopts.Only = []string{opts.Step}
	}
	d, err := r.DryRun(ctx, dopts)
	if err != nil {
		return err
	}
	return opts.PrintDry(d)
}

// withRunner takes the state folder's lock, opens the night's runner, and calls fn with it.
func withRunner(ctx context.Context, opts *runOptions, fn func(*runner.Runner) error) error {
	unlock, err := opts.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	r, done, err := opts.Env(ctx, opts.Plan, opts.Month)
	if err != nil {
		return err
	}
	defer done()
	return fn(r)
}

// runStep runs one step of the night under the state folder's lock.
func runStep(ctx context.Context, opts *runOptions) error {
	if opts.Month == "" && opts.FollowUpMonth != nil {
		// A follow-up step runs in the night whose follow-up is under way (by then the
		// next night is the one NightMonth names).
		m, err := opts.FollowUpMonth(opts.Plan, opts.Step)
		if err != nil {
			return err
		}
		opts.Month = m
	}
	return withRunner(ctx, opts, func(r *runner.Runner) error {
		r.Env.OverrideHalt = opts.OverrideHalt
		res, err := r.Step(ctx, opts.Step)
		if err != nil {
			return err
		}
		if opts.Result != nil {
			o := stepOutcome{Step: opts.Step}
			if res != nil {
				st := res.Step
				o.Due, o.Skipped, o.Held, o.Summary = true, res.Skipped, res.Held, res.Line
				if !res.Held {
					o.Journal = &st
				}
			}
			if err := opts.Result(o); err != nil {
				return err
			}
		}
		if res != nil && res.Held {
			return exit.New(exit.Partial, "patchnight night --resume continues the night; run "+opts.Step+" --override-halt runs this step alone",
				"step %s held: the night is halted", opts.Step)
		}
		if res != nil && res.Step.Status == journal.Partial {
			return exit.New(exit.Partial, "see patchnight history", "step %s: some hosts failed", opts.Step)
		}
		return nil
	})
}

func newNightCmd(app *App, runF func(context.Context, *runOptions) error) *cobra.Command {
	opts := newRunOptions(app)
	cmd := &cobra.Command{
		Use:   "night",
		Short: "Run the whole night from a console, waiting for each step's time",
		Long: `Run the whole night from a console: each step of the plan at its time, as the
scheduled tasks would. It asks nothing and takes no --yes: the plan is the consent (unlike
client restart or install and collections apply, which ask first).
--dry-run rehearses the whole night now, on the real site, and acts on nothing (no client
action, no provider write, no magic packet, no journal row, no lock): per step the machines
it would target (by location and collection; the list with -o json), the collections it
would write, the wake plan per subnet, the restarts it could cause, and the time it needs at
the configured concurrency against its limit and the next step. Every step's targets are
read from the site as it is now: later steps will find fewer machines once the earlier ones
have run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.DryRun {
				return dryRunNight(cmd.Context(), opts)
			}
			return runNight(cmd.Context(), opts)
		},
	}
	addNightFlags(cmd, &opts.nightFlags, nightMonthHelp)
	cmd.Flags().BoolVar(&opts.Resume, "resume", false, "lift the halt of a halted night and continue it with the next step")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, dryRunHelp)
	onlyFormats(cmd, output.Table) // hours of step lines as they run: no one document
	dryRunFormats(cmd, output.Table, output.JSON, output.CSV, output.Markdown)
	return cmd
}

// runNight runs the whole night. It holds the state folder's lock only while a step runs,
// not while it sleeps until the next one, so a scheduled run of a step in between is not
// kept waiting (README, "How a night runs").
func runNight(ctx context.Context, opts *runOptions) error {
	r, done, err := opts.Env(ctx, opts.Plan, opts.Month)
	if err != nil {
		return err
	}
	defer done()
	r.Env.Lock = opts.Lock
	fmt.Fprintf(opts.Out, "night of %s (Patch Tuesday %s), update group %s\n", r.Month,
		r.Month.PatchTuesday(r.Loc).Format("2006-01-02"), r.Group().Title)
	if ex := r.Exclusions(); len(ex) > 0 {
		var names []string
		for _, c := range ex {
			names = append(names, fmt.Sprintf("%s (%s)", c.Name, c.ID))
		}
		fmt.Fprintf(opts.Out, "excluded: the members of %s are left alone\n", strings.Join(names, ", "))
	}
	h, halted, err := r.Halted(ctx)
	if err != nil {
		return err
	}
	switch {
	case halted && opts.Resume:
		unlock, err := opts.Lock(ctx)
		if err != nil {
			return err
		}
		_, err = r.Resume(ctx)
		unlock()
		if err != nil {
			return err
		}
	case halted:
		fmt.Fprintf(opts.Out, "the night halted in %s: %s; its install and restart steps are held (patchnight night --resume continues)\n", h.Occurrence, h.Reason)
	case opts.Resume:
		fmt.Fprintln(opts.Out, "the night is not halted: nothing to resume")
	}
	if err := r.Night(ctx); err != nil {
		return err
	}
	if h, halted, err := r.Halted(ctx); err != nil {
		return err
	} else if halted {
		return exit.New(exit.Partial, "look at the machines named, then: patchnight night --resume", "the night halted in %s: %s", h.Occurrence, h.Reason)
	}
	return nil
}

func newReportMorningCmd(app *App) *cobra.Command {
	var nf nightFlags
	var out, runID string
	cmd := &cobra.Command{
		Use:   "morning",
		Short: "The morning report: patched share through the night, per update and location, and who needs a person",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Validate before any I/O.
			var id int64
			if runID != "" {
				n, err := strconv.ParseInt(runID, 10, 64)
				if err != nil || n < 1 {
					return exit.Usagef("give a run number from patchnight history", "%q is not a run number", runID)
				}
				id = n
			}
			ctx := cmd.Context()
			cfg, db, j, done, err := app.nightRecords(ctx)
			if err != nil {
				return err
			}
			defer done()
			p, loc, err := app.planAndZone(nf.Plan)
			if err != nil {
				return err
			}
			month := nf.Month
			var run journal.Run
			if id != 0 {
				if run, err = j.Run(ctx, journal.RunID(id)); err != nil {
					return exit.Wrap(exit.Usage, err, "list runs with patchnight history", "run %s", runID)
				}
				m, err := night.ParseMonth(run.Month)
				if err != nil {
					return err
				}
				month = m.String()
			}
			m, err := monthOrNext(p, month, app.Now(), loc)
			if err != nil {
				return err
			}
			r, err := runner.New(ctx, p, loc, m, runner.Env{Site: db, Journal: j, SiteCode: cfg.Profile.SiteCode,
				Exclude: cfg.Profile.ExcludeList()})
			if err != nil {
				return err
			}
			if id == 0 {
				run = r.Run()
			}
			rep, err := runner.BuildMorning(ctx, r, run)
			if err != nil {
				return err
			}
			return app.printMorning(rep, out)
		},
	}
	addNightFlags(cmd, &nf, "the night's month YYYY-MM (default: the night under way or last)")
	cmd.Flags().StringVar(&runID, "run", "", "a run number from patchnight history")
	cmd.Flags().StringVar(&out, "out", "", "with --output html: the file to write")
	return cmd
}

func newReportFollowUpCmd(app *App) *cobra.Command {
	var nf nightFlags
	var out string
	cmd := &cobra.Command{
		Use:   "follow-up",
		Short: "The long tail after the night: patched share by day D0..D+21, by location and machine kind, the messed-up machines, the machines not seen since the night",
		Long: `The follow-up report of a month's night (issue 17), from the journal: the patched share at
the end of each day from Patch Tuesday (D0) to D+21, or to the follow-up's last day when it
runs later (the last measurement of that day: the
runner measures after every step of the night and of the follow-up; "-" before the first),
the same figures by location (the AD site) and by machine kind (laptop, desktop, virtual,
unknown: the site's virtual-machine flag and hardware inventory of the chassis; a site
without those columns shows unknown with a note, and patchnight doctor names them), the
machines the plan's messed_up rule calls messed up (the same install error again and again
over days) with their error and how often it failed, and the eligible machines (active,
healthy clients in the night's scope) not seen online since the night began (its first step),
from the site's fast channel: offline now, and last online (CNLastOnlineTime) and last
offline (CNLastOfflineTime) both before the night; each with those two times ("never" when
the site has none).
--output html writes one self-contained document with the daily share as a line chart (to
--out FILE, else to stdout).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, loc, err := app.planAndZone(nf.Plan)
			if err != nil {
				return err
			}
			m, err := followUpReportMonth(p, nf.Month, app.Now(), loc)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg, db, j, done, err := app.nightRecords(ctx)
			if err != nil {
				return err
			}
			defer done()
			r, err := runner.New(ctx, p, loc, m, runner.Env{Site: db, Journal: j, SiteCode: cfg.Profile.SiteCode,
				Exclude: cfg.Profile.ExcludeList()})
			if err != nil {
				return err
			}
			rep, err := runner.BuildFollowUp(ctx, r)
			if err != nil {
				return err
			}
			if app.Format() == output.HTML {
				return app.writeHTML(out, func(w io.Writer) error { return html.FollowUpDocument(w, rep.HTMLDocument()) })
			}
			return app.Print(rep)
		},
	}
	addNightFlags(cmd, &nf, "the night's month YYYY-MM (default: the follow-up under way, else the last night that began)")
	cmd.Flags().StringVar(&out, "out", "", "with --output html: the file to write")
	return onlyFormats(cmd, output.Table, output.JSON, output.Markdown, output.CSV, output.HTML)
}

// followUpReportMonth is report follow-up's month: --month, else the month whose follow-up
// is under way, else the last night that has begun.
func followUpReportMonth(p *night.Plan, s string, now time.Time, loc *time.Location) (night.Month, error) {
	if s != "" {
		return night.ParseMonth(s)
	}
	if m, ok := night.FollowUpMonth(p, now, loc); ok {
		return m, nil
	}
	m := night.NightMonth(p, now, loc)
	if tl := night.Timeline(p, m, loc); len(tl) > 0 && tl[0].Time.After(now) {
		m = m.AddMonths(-1)
	}
	return m, nil
}

// printMorning prints the morning report in the --output format (html to a file).
func (a *App) printMorning(m *report.Morning, out string) error {
	if a.Format() == output.HTML {
		return a.writeHTML(out, func(w io.Writer) error { return html.Morning(w, m) })
	}
	return a.Print(m) // the first table's title is the headline
}

// nightRecords opens what a report of past nights reads: the configuration, the site
// database and the journal in the profile's state_dir (exit 64 when no night has run
// there). done closes both.
func (a *App) nightRecords(ctx context.Context) (*config.Effective, *site.DB, *journal.DB, func(), error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if _, err := os.Stat(cfg.Profile.StateDir); err != nil {
		return nil, nil, nil, nil, exit.Usagef("no night has run with this state_dir", "no journal in %s", cfg.Profile.StateDir)
	}
	db, err := a.Site(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	j, err := journal.Open(ctx, cfg.Profile.StateDir)
	if err != nil {
		db.Close()
		return nil, nil, nil, nil, err
	}
	return cfg, db, j, func() { j.Close(); db.Close() }, nil
}
