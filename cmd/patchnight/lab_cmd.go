package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/output"
)

// labInitResult is what lab init built (-o json).
type labInitResult struct {
	SiteCode       string `json:"site_code"`
	Hosts          int    `json:"hosts"`
	Updates        int    `json:"updates"`
	Collections    int    `json:"collections"`
	CatalogVersion int    `json:"catalog_version"`
	Path           string `json:"path"`
}

func newLabCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "A site-in-a-box for trying patchnight and for tests",
		Long: `The lab is a double of a ConfigMgr site: a SQLite database whose views carry the real
ConfigMgr view and column names, filled with a seeded synthetic fleet. Every lab address is
a loopback address, so nothing the lab does leaves this machine.`,
	}
	cmd.AddCommand(newLabInitCmd(app), newLabServeCmd(app), newLabRehearseCmd(app))
	return cmd
}

func newLabInitCmd(app *App) *cobra.Command {
	opt := lab.DefaultOptions()
	faults := lab.DefaultFaults()
	opt.Faults = &faults
	var path, pt string
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Build a lab site database: same seed, same database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return exit.Usagef("pass --db PATH", "no lab database path")
			}
			if opt.Hosts < 1 || opt.Hosts > 1_000_000 {
				return exit.Usagef("use 1 to 1000000", "--hosts %d is out of range", opt.Hosts)
			}
			if opt.Updates < 1 || opt.Updates > 10_000 {
				return exit.Usagef("use 1 to 10000", "--updates %d is out of range", opt.Updates)
			}
			if pt != "" {
				d, err := time.Parse("2006-01-02", pt)
				if err != nil {
					return exit.Usagef("use a date like 2026-12-08", "--patch-tuesday %q is not a date", pt)
				}
				opt.PatchTuesday = d
			}
			opt.Force = force
			sum, err := lab.Generate(cmd.Context(), path, opt)
			if err != nil {
				return err
			}
			return app.printText(labInitResult{SiteCode: sum.SiteCode, Hosts: sum.Hosts, Updates: sum.Updates,
				Collections: sum.Collections, CatalogVersion: sum.CatalogVersion, Path: sum.Path},
				fmt.Sprintf("lab site %s: %d hosts, %d updates, %d collections, catalog version %d, written to %s",
					sum.SiteCode, sum.Hosts, sum.Updates, sum.Collections, sum.CatalogVersion, sum.Path),
				fmt.Sprintf("try: patchnight report compliance --sql sqlite:%s", sum.Path))
		},
	}
	onlyFormats(cmd, output.Table, output.JSON)
	f := cmd.Flags()
	f.StringVar(&path, "db", "", "lab database file to create")
	f.IntVar(&opt.Hosts, "hosts", opt.Hosts, "number of machines")
	f.Int64Var(&opt.Seed, "seed", opt.Seed, "random seed: the same seed gives the same database")
	f.IntVar(&opt.Updates, "updates", opt.Updates, "number of software updates")
	f.StringVar(&pt, "patch-tuesday", "", "the Patch Tuesday the lab is built for (default "+opt.PatchTuesday.Format("2006-01-02")+")")
	f.BoolVar(&force, "force", false, "replace an existing file")
	addFaultFlags(f, &faults)
	return cmd
}

// addFaultFlags adds the lab's fault rates (docs/lab.md) as flags, defaults shown.
func addFaultFlags(f *pflag.FlagSet, r *lab.FaultRates) {
	f.Float64Var(&r.InstallFault, "install-fault-rate", r.InstallFault, "share of clients whose every install fails")
	f.Float64Var(&r.Transient, "transient-rate", r.Transient, "share of clients whose first install attempts fail, a later one passes")
	f.Float64Var(&r.Chain, "chain-rate", r.Chain, "share of clients with an update applicable only after another is installed and the machine restarted")
	f.Float64Var(&r.Away, "away-rate", r.Away, "share of laptops (desktops: a quarter of it) that leave the network during the night and come back")
	f.Float64Var(&r.Slow, "slow-rate", r.Slow, "share of clients whose installs take 2.5 times as long")
	f.Float64Var(&r.NoComeBack, "no-come-back-rate", r.NoComeBack, "share of clients that do not come back after a restart")
	f.Float64Var(&r.Home, "home-rate", r.Home, "share of laptops taken home on an evening and brought back on a later day (once or twice)")
	f.Float64Var(&r.Closet, "closet-rate", r.Closet, "share of desktops in a closet: off but for a few hours on some weekdays")
	f.Float64Var(&r.Holiday, "holiday-rate", r.Holiday, "share of laptops and desktops switched off for a holiday from before the night until days after it")
	f.Float64Var(&r.RepairFix, "repair-fix-rate", r.RepairFix,
		"share of clients with a hopeless install or a failed scan whose fault a client repair clears (assumption)")
	f.BoolVar(&r.NoRepairMethod, "no-repair-method", r.NoRepairMethod,
		"the clients' SMS_Client has no RepairClient method (the method is unconfirmed; default: it has)")
}
