package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/doctor"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/session"
	"github.com/patchnight/patchnight/pkg/wol"
)

// doctorOptions are doctor's flags.
type doctorOptions struct {
	Sample      int
	Hosts       []string
	SkipClients bool
	PlanFile    string
}

func newDoctorCmd(app *App) *cobra.Command {
	opts := doctorOptions{Sample: doctor.DefaultSample}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a site before the first night, read-only, and say what to fix",
		Long: `Check, without changing anything, what patchnight relies on at a site: the SQL login,
database and version; every query in queries/ described (not run) and held against the columns
the Go code reads; SELECT on vSMS_SUPSyncStatus and a current catalog version; MinSourceVersion
on v_UpdateCIs; the plan's update group and its deployment; the collections the plan and the
profile exclude (nights leave their members alone); the SMS Provider, its namespace
and the account's rights on collections; a sample of online clients over WinRM (PowerShell
version, language mode, execution policy, ConfigMgr client, a stdin round trip, clock skew);
the Wake-on-LAN route per subnet; on Windows, the scheduled tasks under \patchnight\.

One line per check: ok, warn or fail, with what to do. Exit 0 when nothing fails (warnings
allowed), 2 when a check fails.

Examples:
  patchnight doctor
  patchnight doctor --host PC-00042,PC-00043
  patchnight doctor --skip-clients -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			return runDoctor(cmd.Context(), app, opts)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Sample, "sample", opts.Sample, "online clients to probe (from the site's fast channel)")
	f.StringSliceVar(&opts.Hosts, "host", nil, "probe these clients instead of a sample (a,b)")
	f.BoolVar(&opts.SkipClients, "skip-clients", false, "do not probe clients")
	f.StringVar(&opts.PlanFile, "plan", "", "plan file whose group is checked (default: the built-in plan)")
	return cmd
}

func (o doctorOptions) validate() error {
	if o.Sample < 1 {
		return exit.Usagef("use --sample 1 or more", "--sample %d is not a number of clients", o.Sample)
	}
	for _, h := range o.Hosts {
		if err := remote.ValidHost(h); err != nil {
			return exit.Usagef("give host names without scheme, port or path", "--host: %v", err)
		}
	}
	return nil
}

func runDoctor(ctx context.Context, app *App, opts doctorOptions) error {
	cfg, err := app.Config()
	if err != nil {
		return err
	}
	plan, err := night.LoadOrDefault(opts.PlanFile)
	if err != nil {
		return err
	}
	// Open without the site check: the checks below say what is missing, line by line.
	s, db, err := openSite(ctx, func() (*session.Session, error) {
		return app.SessionWith(func(o *session.Options) { o.SkipSiteCheck = true })
	})
	if err != nil {
		return err
	}
	defer s.Close()
	p := cfg.Profile
	d := doctor.Options{
		Site: db, Group: plan.Group, Provider: p.Provider, SiteCode: p.SiteCode,
		SkipClients: opts.SkipClients, Hosts: opts.Hosts, Sample: opts.Sample,
		Concurrency: min(max(p.WinRM.Concurrency, 1), 16), Now: app.Now,
		Tasks:   doctor.SystemTasks(),
		Exclude: append(append([]string{}, plan.Exclude...), p.ExcludeList()...), ResolveCollection: db.ResolveCollection,
		PlanWarnings: plan.Warnings(),
	}
	d.Qualify = func(h string) string { return remote.Qualify(h, p.WinRM.DNSSuffix) }
	if !opts.SkipClients || s.HasProvider() {
		hosts, err := s.Hosts(ctx)
		if err != nil {
			return err
		}
		d.Qualify, d.Remote = hosts.Name, hosts.Addresses()
	}
	wo := wol.DefaultOptions()
	applyProfileWoL(&wo, p.WoL, profileFlags{})
	if p.WoL.Mode != "" {
		wo.Mode = wol.Mode(p.WoL.Mode)
	}
	wo.All, wo.WakeOnline = true, true
	d.WakePlan = func(ctx context.Context) (*wol.Plan, error) { return wo.Plan(ctx, db) }

	rep, err := doctor.Run(ctx, d)
	if err != nil {
		return err
	}
	if err := app.Print(rep); err != nil {
		return err
	}
	if rep.Failed() {
		return exit.New(exit.Partial, "do what the failed lines say, then run doctor again",
			"doctor: %d of %d checks failed", rep.Fail, len(rep.Results))
	}
	return nil
}
