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
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/lab/labprovider"
	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/report/html"
	"github.com/patchnight/patchnight/pkg/runner"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
)

// labClock is the runner's clock in the demo: sleeping moves the lab's simulated clock, lets
// restarted machines come back, and re-evaluates the lab's collections, as time would.
type labClock struct {
	c           *labsite.Clock
	site        *labsite.Site
	lastRefresh time.Time
}

func (l *labClock) Now() time.Time { return l.c.Now() }

func (l *labClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.c.Advance(d)
	return l.settle(ctx)
}

// settle brings restarted machines back, lets the lab's working day begin (users log on,
// laptops arrive), and, at most every simulated hour as a site's incremental evaluation
// would, re-evaluates the lab's collections.
func (l *labClock) settle(ctx context.Context) error {
	if err := l.site.Sim.Tick(ctx); err != nil {
		return err
	}
	if err := l.site.Morning(ctx); err != nil {
		return err
	}
	now := l.c.Now()
	if now.Sub(l.lastRefresh) < time.Hour {
		return nil
	}
	l.lastRefresh = now
	_, err := labprovider.Refresh(ctx, l.site.DB, now)
	return err
}

func newDemoCmd(app *App) *cobra.Command {
	opt := lab.DefaultOptions()
	var keep, reportHTML string
	var concurrency int
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a whole patch night against a lab site on this machine, in seconds",
		Long: `Builds a lab site (no configuration needed), prints the compliance and scan reports read
from it, then serves it on loopback (WS-Man endpoint, SMS Provider, Wake-on-LAN listener)
and runs the default plan, the restart method, on a simulated clock through the real code
paths: SQL reads, the WinRM client, the Wake-on-LAN sender and the journal. Each step is
printed as it runs, then the morning report.`,
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
			return app.demo(ctx, dir, opt, concurrency, reportHTML, keep != "")
		},
	}
	cmd.Flags().IntVar(&opt.Hosts, "hosts", opt.Hosts, "number of lab machines")
	cmd.Flags().Int64Var(&opt.Seed, "seed", opt.Seed, "lab seed")
	cmd.Flags().StringVar(&keep, "keep", "", "build the lab in this folder and keep it (lab database, journal, reports)")
	cmd.Flags().StringVar(&reportHTML, "report-html", "", "also write the morning report as HTML to this file")
	cmd.Flags().IntVar(&concurrency, "concurrency", 64, "hosts at once")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the demo to this file (go tool pprof)")
	return cmd
}

func (a *App) demo(ctx context.Context, dir string, opt lab.Options, concurrency int, reportHTML string, keep bool) error {
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
	lc := &labClock{c: clock, site: ls}
	if err := lc.settle(ctx); err != nil {
		return err
	}
	k, err := remote.NewConnector(ls.RemoteConfig(), ls.Credentials())
	if err != nil {
		return err
	}
	defer k.Close()
	pc, err := k.ClientTimeout(labsite.ProviderHost, provider.DefaultTimeout)
	if err != nil {
		return err
	}
	defer pc.Close()
	prov, err := provider.New(pc, sum.SiteCode)
	if err != nil {
		return err
	}
	conn, err := wol.Listen(ctx)
	if err != nil {
		return exit.Wrap(exit.Failed, err, "", "open the Wake-on-LAN socket")
	}
	defer conn.Close()
	stateDir := filepath.Join(dir, "state")
	j, err := journal.OpenWith(ctx, stateDir, journal.Options{Now: clock.Now})
	if err != nil {
		return err
	}
	defer j.Close()
	env := runner.Env{
		Site: db, Journal: j, Hosts: connectorHosts{k: k}, Provider: prov,
		Wol: wol.Transports{Conn: ls.Wake.Redirect(conn), Relayer: relayer{k}, Site: siteWaker{prov}},
		WolTune: func(o *wol.Options) {
			// The lab's network has no storm control and no breakers: shorter pauses.
			o.Spacing, o.BatchPause, o.SubnetRate, o.Rate = 50*time.Millisecond, 20*time.Millisecond, 2000, 20000
		},
		Clock: lc, Log: a.Logger(), Out: w, SiteCode: sum.SiteCode, Concurrency: concurrency,
		HostTimeout: 30 * time.Second, BarrierPoll: 5 * time.Minute, StateDir: stateDir,
		AfterAction: lc.settle,
	}
	r, err := runner.New(ctx, p, loc, month, env)
	if err != nil {
		return err
	}
	settings := notify.DefaultSettings(loc)
	scope := ""
	if r.Scope() != nil {
		scope = r.Scope().ID
	}
	r.Env.Notifier = &runner.Notices{Site: db, Journal: j, Hosts: env.Hosts, Provider: prov, Settings: settings,
		Now: clock.Now, Concurrency: concurrency, Threshold: settings.Threshold, Scope: scope}
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
	if !keep {
		fmt.Fprintf(w, "\nThe report files named above are in a temporary folder, deleted when the demo ends; keep them with --keep DIR\n")
	}
	if keep {
		fmt.Fprintf(w, "\nThe lab and the journal stay in %s: patchnight lab serve --db %s, then patchnight --config %s/patchnight-lab.yaml history\n",
			dir, path, dir)
	}
	return nil
}

func scopeName(c *site.CollectionRef) string {
	if c == nil {
		return "every client"
	}
	return c.Name + " (" + c.ID + ")"
}
