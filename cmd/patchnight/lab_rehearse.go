package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/output"
)

// rehearseOptions are the flags of lab rehearse.
type rehearseOptions struct {
	plans       []string
	hosts       int
	seeds       int
	seed        int64
	concurrency int
	faults      lab.FaultRates
}

func newLabRehearseCmd(app *App) *cobra.Command {
	o := rehearseOptions{hosts: 2000, seeds: 3, seed: 1, concurrency: 64, faults: lab.DefaultFaults()}
	cmd := &cobra.Command{
		Use:   "rehearse --plan A.yaml [--plan B.yaml ...]",
		Short: "Compare plans on a model of the fleet: each plan over the same seeded lab fleets",
		Long: `Runs each plan over the same seeded lab fleets (one lab per seed, built in a temporary
folder and deleted after) through the real runner, WinRM client and Wake-on-LAN sender
against the lab served on loopback, on a simulated clock, and prints per plan the patched
share at PT 20:00, PT 23:00, PT+1 05:00 and PT+1 09:30 (mean, and min-max over the seeds),
the machine restarts, the WinRM actions and the magic packets of the night up to 09:30.
The patched share is the lab's truth: eligible clients with every deployed update
installed and restarted. It acts only on its own temporary labs. The lab's fault model
(docs/lab.md) is set with the same rate flags as lab init. Pass --plan built-in for the
default plan.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.rehearse(cmd, o)
		},
	}
	onlyFormats(cmd, output.Table, output.JSON, output.CSV, output.Markdown)
	f := cmd.Flags()
	f.StringArrayVar(&o.plans, "plan", nil, "a plan file to rehearse (repeat for each plan; \"built-in\" is the default plan)")
	f.IntVar(&o.hosts, "hosts", o.hosts, "machines in each lab fleet (1 to 200000)")
	f.IntVar(&o.seeds, "seeds", o.seeds, "fleets to rehearse on: seeds --seed, --seed+1, ... (1 to 100)")
	f.Int64Var(&o.seed, "seed", o.seed, "the first fleet's seed")
	f.IntVar(&o.concurrency, "concurrency", o.concurrency, "hosts at once (1 to 1024)")
	addFaultFlags(f, &o.faults)
	return cmd
}

func (a *App) rehearse(cmd *cobra.Command, o rehearseOptions) error {
	switch {
	case len(o.plans) == 0:
		return exit.Usagef("pass --plan FILE, once per plan (--plan built-in for the default plan)", "no plan to rehearse")
	case o.hosts < 1 || o.hosts > 200_000:
		return exit.Usagef("use 1 to 200000", "--hosts %d is out of range", o.hosts)
	case o.seeds < 1 || o.seeds > 100:
		return exit.Usagef("use 1 to 100", "--seeds %d is out of range", o.seeds)
	case o.concurrency < 1 || o.concurrency > 1024:
		return exit.Usagef("use 1 to 1024", "--concurrency %d is out of range", o.concurrency)
	}
	var plans []labsite.RehearsalPlan
	for _, path := range o.plans {
		var p *night.Plan
		var err error
		if path == night.DefaultSource {
			p = night.Default()
		} else if p, err = night.Load(path); err != nil {
			return err
		}
		plans = append(plans, labsite.RehearsalPlan{Name: p.Name, Source: path, Plan: p})
	}
	opt := lab.DefaultOptions()
	opt.Hosts = o.hosts
	faults := o.faults
	opt.Faults = &faults
	var seeds []int64
	for k := range o.seeds {
		seeds = append(seeds, o.seed+int64(k))
	}
	log := a.Logger()
	res, err := labsite.Rehearse(cmd.Context(), labsite.RehearseOptions{Plans: plans, Lab: opt, Seeds: seeds,
		Concurrency: o.concurrency,
		Progress: func(plan int, seed int64, took time.Duration) {
			log.Info("rehearsed", "plan", plans[plan].Name, "seed", seed, "took", took.Round(time.Millisecond).String())
		}})
	if err != nil {
		if exit.Code(err) == exit.Usage {
			return err
		}
		return exit.Wrap(exit.Failed, err, "", "lab rehearse")
	}
	if err := output.Write(a.IO.Out, a.Format(), res); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
