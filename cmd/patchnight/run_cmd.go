package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lock"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/report/html"
	"github.com/patchnight/patchnight/pkg/runner"
	"github.com/patchnight/patchnight/pkg/wol"
)

// connectorHosts gives the runner a WinRM client per host.
type connectorHosts struct {
	k      *remote.Connector
	suffix string
}

func (c connectorHosts) Client(host string) (client.Runner, func(), error) {
	if c.suffix != "" && !containsDot(host) {
		host += "." + c.suffix
	}
	cl, err := c.k.Client(host)
	if err != nil {
		return nil, nil, err
	}
	return cl, func() { cl.Close() }, nil
}

func containsDot(s string) bool {
	for i := range len(s) {
		if s[i] == '.' {
			return true
		}
	}
	return false
}

// nightEnv opens what a night needs for the effective profile: the site database, the
// journal in the state folder, the WinRM connector, the SMS Provider (when configured)
// and the Wake-on-LAN socket. done closes them all.
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
	se, err := a.openSiteEnv(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	done := se.Close
	db, j, k := se.db, se.j, se.k
	env := runner.Env{
		Site: db, Journal: j, Hosts: connectorHosts{k, cfg.Profile.WinRM.DNSSuffix}, Clock: runner.RealClock{},
		Log: a.Logger(), Out: a.IO.Out, SiteCode: cfg.Profile.SiteCode, Concurrency: cfg.Profile.WinRM.Concurrency,
		Retries: cfg.Profile.WinRM.Retries, HostTimeout: cfg.Profile.WinRM.OperationTimeout.Std(),
		StateDir: cfg.Profile.StateDir, Progress: a.IO.Err, IsTerminal: a.IO.StderrTerminal,
		WolMode: wol.Mode(cfg.Profile.WoL.Mode), Provider: se.prov,
	}
	conn, err := wol.Listen(ctx)
	if err != nil {
		done()
		return nil, nil, exit.Wrap(exit.Failed, err, "", "open the Wake-on-LAN socket")
	}
	se.closers = append(se.closers, func() { conn.Close() })
	env.Wol.Conn, env.Wol.Relayer = conn, relayer{k}
	if se.prov != nil {
		env.Wol.Site = siteWaker{se.prov}
	}
	r, err := runner.New(ctx, p, loc, m, env)
	if err != nil {
		done()
		return nil, nil, err
	}
	settings, err := notify.NewSettings(cfg.Profile.Notify, loc)
	if err != nil {
		done()
		return nil, nil, err
	}
	scope := ""
	if r.Scope() != nil {
		scope = r.Scope().ID
	}
	r.Env.Notifier = &runner.Notices{Site: db, Journal: j, Hosts: env.Hosts, Provider: env.Provider, Settings: settings,
		Now: time.Now, Concurrency: env.Concurrency, Threshold: settings.Threshold, Scope: scope}
	return r, done, nil
}

func newRunCmd(app *App) *cobra.Command {
	var planFile, month string
	cmd := &cobra.Command{
		Use:   "run STEP",
		Short: "Run one step of the night (what a scheduled task calls)",
		Long: `Run one step (or one occurrence of a repeating step, e.g. retry-restart-0400) of the
month's night, if today is its day: a task that fires on another day exits 0 after a log
line. One runner at a time: a second waits for the lock. A step is resumable: run again, it
skips the machines already done and never restarts a machine twice.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			unlock, err := lock.Wait(ctx, cfg.Profile.StateDir, 5*time.Second)
			if err != nil {
				return err
			}
			defer unlock()
			r, done, err := app.nightEnv(ctx, planFile, month)
			if err != nil {
				return err
			}
			defer done()
			res, err := r.Step(ctx, args[0])
			if err != nil {
				return err
			}
			if res != nil && res.Step.Status == journal.Partial {
				return exit.New(exit.Partial, "see patchnight history", "step %s: some hosts failed", args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&planFile, "plan", "", "plan file (default: the built-in restart method)")
	cmd.Flags().StringVar(&month, "month", "", "the night's month YYYY-MM (default: the night under way or next)")
	return cmd
}

func newNightCmd(app *App) *cobra.Command {
	var planFile, month string
	cmd := &cobra.Command{
		Use:   "night",
		Short: "Run the whole night from a console, waiting for each step's time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			r, done, err := app.nightEnv(ctx, planFile, month)
			if err != nil {
				return err
			}
			defer done()
			// The night holds the lock only while a step runs, not while it sleeps.
			r.Env.Lock = func(ctx context.Context) (func(), error) { return lock.Wait(ctx, cfg.Profile.StateDir, 5*time.Second) }
			fmt.Fprintf(app.IO.Out, "night of %s (Patch Tuesday %s), update group %s\n", r.Month,
				r.Month.PatchTuesday(r.Loc).Format("2006-01-02"), r.Group().Title)
			return r.Night(ctx)
		},
	}
	cmd.Flags().StringVar(&planFile, "plan", "", "plan file (default: the built-in restart method)")
	cmd.Flags().StringVar(&month, "month", "", "the night's month YYYY-MM (default: the night under way or next)")
	return cmd
}

func newReportMorningCmd(app *App) *cobra.Command {
	var planFile, month, out, runID string
	cmd := &cobra.Command{
		Use:   "morning",
		Short: "The morning report: patched share through the night, per update and location, and who needs a person",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if _, err := os.Stat(cfg.Profile.StateDir); err != nil {
				return exit.Usagef("no night has run with this state_dir", "no journal in %s", cfg.Profile.StateDir)
			}
			db, err := app.Site(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			j, err := journal.Open(ctx, cfg.Profile.StateDir)
			if err != nil {
				return err
			}
			defer j.Close()
			p, loc, err := app.planAndZone(planFile)
			if err != nil {
				return err
			}
			var run journal.Run
			if runID != "" {
				id, err := strconv.ParseInt(runID, 10, 64)
				if err != nil || id < 1 {
					return exit.Usagef("give a run number from patchnight history", "%q is not a run number", runID)
				}
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
			r, err := runner.New(ctx, p, loc, m, runner.Env{Site: db, Journal: j, SiteCode: cfg.Profile.SiteCode})
			if err != nil {
				return err
			}
			if runID == "" {
				run = r.Run()
			}
			rep, err := runner.BuildMorning(ctx, r, run)
			if err != nil {
				return err
			}
			return app.printMorning(rep, out)
		},
	}
	cmd.Flags().StringVar(&planFile, "plan", "", "plan file (default: the built-in restart method)")
	cmd.Flags().StringVar(&month, "month", "", "the night's month YYYY-MM (default: the night under way or last)")
	cmd.Flags().StringVar(&runID, "run", "", "a run number from patchnight history")
	cmd.Flags().StringVar(&out, "out", "", "with --output html: the file to write")
	return cmd
}

// printMorning prints the morning report in the --output format (html to a file).
func (a *App) printMorning(m *report.Morning, out string) error {
	if a.Format() == output.HTML {
		return a.writeHTML(out, func(w io.Writer) error { return html.Morning(w, m) })
	}
	return a.Print(m) // the first table's title is the headline
}
