package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/report/html"
	"github.com/patchnight/patchnight/pkg/runner"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
)

func newDemoCmd(app *App) *cobra.Command {
	opt := lab.DefaultOptions()
	faults := lab.DefaultFaults()
	opt.Faults = &faults
	var keep, reportHTML string
	var concurrency int
	var followUp bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a whole patch night against a lab site on this machine, in seconds",
		Long: `Builds a lab site (no configuration needed), prints the compliance and scan reports read
from it, then serves it on loopback (WS-Man endpoint, SMS Provider, Wake-on-LAN listener)
and runs the default plan, the restart method, on a simulated clock through the real code
paths: SQL reads, the WinRM client, the Wake-on-LAN sender and the journal. Each step is
printed as it runs, then the morning report. With --follow-up the simulated clock then runs
two weeks of the plan's follow-up (PT+2 to PT+14: notices, scans, installs with the restart
prompt, the after-hours wave) and prints the follow-up report: the lab's machines away for
days (laptops taken home, machines in a closet, holidays; docs/lab.md) are what it catches.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if opt.Hosts < 1 || opt.Hosts > 200_000 {
				return exit.Usagef("use 1 to 200000", "--hosts %d is out of range", opt.Hosts)
			}
			dir := keep
			if dir == "" {
				tmp, err := os.MkdirTemp("", "patchnight-demo-")
				if err != nil {
					return exit.Wrap(exit.Failed, err, "", "create a temporary folder")
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			} else if err := os.MkdirAll(dir, 0o755); err != nil {
				return exit.Wrap(exit.Failed, err, "", "create %s", dir)
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return exit.Wrap(exit.Usage, err, "", "--cpuprofile %s", cpuProfile)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			return app.demo(ctx, dir, opt, concurrency, reportHTML, keep != "", followUp)
		},
	}
	cmd.Flags().IntVar(&opt.Hosts, "hosts", opt.Hosts, "number of lab machines")
	cmd.Flags().Int64Var(&opt.Seed, "seed", opt.Seed, "lab seed")
	cmd.Flags().StringVar(&keep, "keep", "", "build the lab in this folder and keep it (lab database, journal, reports)")
	cmd.Flags().StringVar(&reportHTML, "report-html", "", "also write the morning report as HTML to this file")
	cmd.Flags().IntVar(&concurrency, "concurrency", 64, "hosts at once")
	cmd.Flags().BoolVar(&followUp, "follow-up", false, "after the night, run two weeks of the follow-up on the simulated clock")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the demo to this file (go tool pprof)")
	addFaultFlags(cmd.Flags(), &faults)
	onlyFormats(cmd, output.Table) // a narrated walk through a night, not one result
	return cmd
}

func (a *App) demo(ctx context.Context, dir string, opt lab.Options, concurrency int, reportHTML string, keep, followUp bool) error {
	w := a.IO.Out
	path := filepath.Join(dir, "lab.db")
	opt.Force = keep
	start := time.Now()
	sum, err := lab.Generate(ctx, path, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Built lab site %s: %d hosts, %d updates, catalog version %d (%s)\n\n",
		sum.SiteCode, sum.Hosts, sum.Updates, sum.CatalogVersion, time.Since(start).Round(time.Millisecond))
	if a := sum.AwayForDays; len(a) > 0 {
		fmt.Fprintf(w, "Machines away for days (docs/lab.md): %d laptops taken home, %d in a closet, %d switched off for a holiday\n\n",
			a["home"], a["closet"], a["holiday"])
	}
	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	comp, err := report.ComplianceReport(ctx, db, report.Scope{})
	if err != nil {
		return err
	}
	if err := output.Write(w, a.Format(), comp); err != nil {
		return err
	}
	fmt.Fprintln(w)
	scan, err := report.ScanReport(ctx, db, nil, sum.Now, 14)
	if err != nil {
		return err
	}
	if err := output.Write(w, a.Format(), scan); err != nil {
		return err
	}

	// The night: the lab served on loopback, the clock simulated.
	p := night.Default()
	loc := time.UTC
	month := night.MonthOf(sum.PatchTuesday)
	first := night.Timeline(p, month, loc)[0].Time
	clock := labsite.NewClock(first.Add(-10 * time.Minute))
	ls, err := labsite.Start(ctx, path, labsite.Options{Clock: clock})
	if err != nil {
		return exit.Wrap(exit.Failed, err, "", "start the lab site")
	}
	defer ls.Close()
	stateDir := labStateDir(path) // where lab serve's profile looks (demo --keep prints that command)
	sess := ls.NewSession(labsite.SessionOptions{SiteCode: sum.SiteCode, StateDir: stateDir,
		Concurrency: concurrency, HostTimeout: 30 * time.Second, Log: a.Logger()})
	defer sess.Close()
	lc := sess.Clock().(*labsite.LabClock)
	if err := lc.Settle(ctx); err != nil {
		return err
	}
	env, err := sess.RunnerEnv(ctx)
	if err != nil {
		return err
	}
	env.WolTune = func(o *wol.Options) {
		// The lab's network has no storm control and no breakers: shorter pauses.
		o.Spacing, o.BatchPause, o.SubnetRate, o.Rate = 50*time.Millisecond, 20*time.Millisecond, 2000, 20000
	}
	env.Out, env.BarrierPoll, env.AfterAction = w, 5*time.Minute, lc.Settle
	r, err := runner.New(ctx, p, loc, month, env)
	if err != nil {
		return err
	}
	settings := notify.DefaultSettings(loc)
	scope := ""
	if r.Scope() != nil {
		scope = r.Scope().ID
	}
	r.Env.Notifier = sess.Notices(r.Env, settings, scope)
	fmt.Fprintf(w, "\nThe night of %s (Patch Tuesday %s), update group %q, scope %s: the lab is served on %s\n",
		month, month.PatchTuesday(loc).Format("Mon 2006-01-02"), r.Group().Title, scopeName(r.Scope()), ls.Addr())
	nightStart := time.Now()
	if err := r.Night(ctx); err != nil {
		return err
	}
	st := ls.Stats()
	var actions int64
	for _, n := range st.OpRuns {
		actions += n
	}
	fmt.Fprintf(w, "\nThe night took %s: %d WinRM actions, %d HTTP requests, %d magic packets\n\n",
		time.Since(nightStart).Round(time.Millisecond), actions, st.Requests, ls.Wake.Stats().Valid)
	m, err := r.Morning(ctx)
	if err != nil {
		return err
	}
	if reportHTML != "" {
		if err := a.writeHTML(reportHTML, func(wr io.Writer) error { return html.Morning(wr, m) }); err != nil {
			return err
		}
	}
	if err := output.Write(w, a.Format(), m); err != nil {
		return err
	}
	if followUp {
		until := month.PatchTuesday(loc).AddDate(0, 0, 15)
		fmt.Fprintf(w, "\nThe follow-up, two weeks: until %s\n", until.Add(-time.Minute).Format("Mon 2006-01-02"))
		if err := r.FollowUpUntil(ctx, until); err != nil {
			return err
		}
		fu, err := runner.BuildFollowUp(ctx, r)
		if err != nil {
			return err
		}
		fmt.Fprintln(w)
		if err := output.Write(w, a.Format(), fu); err != nil {
			return err
		}
	}
	if !keep {
		fmt.Fprintf(w, "\nThe report files named above are in a temporary folder, deleted when the demo ends; keep them with --keep DIR\n")
	}
	if keep {
		fmt.Fprintf(w, "\nThe lab and the journal stay in %s: patchnight lab serve --db %s, then patchnight --config %s history\n",
			dir, path, filepath.Join(dir, "patchnight-lab.yaml"))
	}
	return nil
}

func scopeName(c *site.CollectionRef) string {
	if c == nil {
		return "every client"
	}
	return c.Name + " (" + c.ID + ")"
}
