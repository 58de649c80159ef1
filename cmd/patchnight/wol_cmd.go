package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/session"
	"github.com/patchnight/patchnight/pkg/wol"
)

// wolOptions is what patchnight wol was asked: the parsed and validated flags merged with
// the profile, and the dependencies the run acts through.
type wolOptions struct {
	Session func() (*session.Session, error)
	Print   func(output.Tabular) error
	Err     io.Writer

	Wake    wol.Options
	Confirm string // "", none, site or probe
	DryRun  bool
	Wait    time.Duration
}

// profileFlags says which tuning flags the user set; the profile fills the others.
type profileFlags struct{ rate, subnetRate, repeat, batch, pause, port bool }

func newWolCmd(app *App, runF func(context.Context, *wolOptions) error) *cobra.Command {
	opts := &wolOptions{Wake: wol.DefaultOptions()}
	var mode string
	cmd := &cobra.Command{
		Use:   "wol",
		Short: "Wake machines with Wake-on-LAN, paced per subnet, and confirm who woke",
		Long: `Wake machines with magic packets: by subnet-directed broadcast from this machine
(directed, the default), to each machine's last known address (unicast), through an online
client on each subnet over WinRM (relay), through the site's client notification (site), or
relay where a subnet has an online client and directed elsewhere (auto). Sending is paced: a
global packets-per-second cap, a lower cap per subnet (below switch storm control), and
batches of machines per subnet with a pause between them (power-on inrush).
--dry-run prints the per-subnet plan; --confirm reads after --wait who came online.`,
		Args: confirmArg(app),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Parse and validate only: no database, no socket, no network before run.
			if len(args) == 1 { // --confirm probe: the value after a space (see confirmArg)
				opts.Confirm = args[0]
			}
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			w := cfg.Profile.WoL
			f := cmd.Flags()
			applyProfileWoL(&opts.Wake, w, profileFlags{rate: f.Changed("rate"), subnetRate: f.Changed("subnet-rate"),
				repeat: f.Changed("repeat"), batch: f.Changed("batch"), pause: f.Changed("batch-pause"), port: f.Changed("port")})
			if f.Changed("mode") {
				opts.Wake.Mode = wol.Mode(mode)
			} else if w.Mode != "" {
				opts.Wake.Mode = wol.Mode(w.Mode)
			}
			if w.PasswordEnv != "" {
				opts.Wake.SecureOn = app.Getenv(w.PasswordEnv)
				if opts.Wake.SecureOn == "" {
					return exit.Usagef("set "+w.PasswordEnv+" or remove wol.password_env", "wol.password_env names %s, which is not set", w.PasswordEnv)
				}
			}
			switch opts.Confirm {
			case "", "none", "site", "probe":
			default:
				return exit.Usagef("use --confirm site, probe or none", "--confirm %q is not a confirmation method", opts.Confirm)
			}
			if opts.Wait < 0 {
				return exit.Usagef("use a duration like 5m", "--wait %s is negative", opts.Wait)
			}
			if err := opts.Wake.Validate(); err != nil {
				return err
			}
			if !opts.DryRun && opts.Confirm == "" && opts.Wait != wol.DefaultWait {
				return exit.Usagef("add --confirm", "--wait only applies with --confirm")
			}
			opts.Session = app.Session
			opts.Print, opts.Err = app.Print, app.IO.Err
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return wolRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Wake.Collection, "collection", "", "machines of this collection (ID or name)")
	fl.StringSliceVar(&opts.Wake.Hosts, "host", nil, "machines by name: a,b,c")
	fl.StringSliceVar(&opts.Wake.Subnets, "subnet", nil, "only adapters in these IPv4 subnets (CIDR): 10.1.2.0/24,...")
	fl.BoolVar(&opts.Wake.All, "all", false, "every machine of the site")
	fl.StringVar(&mode, "mode", string(wol.ModeDirected), "directed, unicast, relay, site or auto")
	modes := make([]string, 0, len(wol.Modes()))
	for _, m := range wol.Modes() {
		modes = append(modes, string(m))
	}
	_ = cmd.RegisterFlagCompletionFunc("mode", fixedCompletion(modes...))
	fl.IntVar(&opts.Wake.Port, "port", wol.DefaultPort, "UDP port of the magic packet")
	fl.Float64Var(&opts.Wake.Rate, "rate", wol.DefaultRate, "packets per second, all subnets together")
	fl.Float64Var(&opts.Wake.SubnetRate, "subnet-rate", wol.DefaultSubnetRate, "packets per second into any one subnet")
	fl.IntVar(&opts.Wake.Repeat, "repeat", wol.DefaultRepeat, "packets per machine")
	fl.IntVar(&opts.Wake.Batch, "batch", wol.DefaultBatch, "machines per subnet before a pause")
	fl.DurationVar(&opts.Wake.BatchPause, "batch-pause", wol.DefaultBatchPause, "pause between batches of a subnet")
	fl.BoolVar(&opts.Wake.WakeOnline, "wake-online", false, "also send to machines the site sees online")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the per-subnet plan and send nothing")
	fl.StringVar(&opts.Confirm, "confirm", "", "after --wait, report who woke: site (CNIsOnline) or probe (WinRM)")
	fl.Lookup("confirm").NoOptDefVal = "site"
	_ = cmd.RegisterFlagCompletionFunc("confirm", fixedCompletion(confirmMethods()...))
	fl.DurationVar(&opts.Wait, "wait", wol.DefaultWait, "with --confirm: how long machines get to boot and report")
	return cmd
}

// wolRun plans the wake from the site database, sends it through the transports the mode
// needs, and with --confirm reports who woke.
func wolRun(ctx context.Context, opts *wolOptions) error {
	s, db, err := openSite(ctx, opts.Session)
	if err != nil {
		return err
	}
	defer s.Close()
	o := opts.Wake
	if o.Collection != "" {
		// The plan carries the collection to the site channel (--mode site), which
		// takes a CollectionID only: resolve a name here, once.
		coll, err := db.ResolveCollection(ctx, o.Collection)
		if err != nil {
			return err
		}
		o.Collection = coll.ID
	}
	plan, err := o.Plan(ctx, db)
	if err != nil {
		return err
	}
	if opts.DryRun {
		return opts.Print(wolPlanView{plan})
	}
	transports, prober, err := s.Wake(ctx, o.Mode)
	if err != nil {
		return err
	}
	rep, err := wol.Send(ctx, plan, transports)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Err, "sent %d packets from here and %d through relays to %d subnets in %s\n",
		rep.Local, rep.Relayed, len(plan.Subnets), rep.Finished.Sub(rep.Started).Round(time.Millisecond))
	if transports.Site != nil {
		fmt.Fprintf(opts.Err, "the site woke through awake clients: %d sleepers (NumSleepers of SMS_SleepServer.MachinesToWakeup)\n", rep.Site)
	}
	if opts.Confirm == "" || opts.Confirm == "none" {
		if err := opts.Print(wolPlanView{plan}); err != nil {
			return err
		}
		if rep.Failed() > 0 {
			return exit.New(exit.Partial, "see the plan and the log", "%d machines could not be sent to", rep.Failed())
		}
		return nil
	}
	co := wol.ConfirmOptions{Wait: opts.Wait, Sent: rep}
	if opts.Confirm == "probe" {
		if prober == nil { // the mode sent no packet over WinRM: the probe still goes over it
			h, err := s.Hosts(ctx)
			if err != nil {
				return err
			}
			prober = session.Prober{Hosts: h}
		}
		co.Prober = prober
	}
	conf, err := wol.Confirm(ctx, db, plan, co)
	if err != nil {
		return err
	}
	return opts.Print(wolConfirmView{conf})
}

// confirmMethods are the values of wol --confirm.
func confirmMethods() []string { return []string{"site", "probe", "none"} }

// confirmArg is wol's argument rule: no arguments, except the value of a bare --confirm
// written after a space (--confirm probe). --confirm alone means site, so pflag cannot
// take the next word as its value; the word arrives as an argument, and is accepted only
// when it is a confirmation method that directly follows --confirm on the command line.
func confirmArg(app *App) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		if len(args) == 1 && cmd.Flags().Changed("confirm") && slices.Contains(confirmMethods(), args[0]) {
			for i, a := range app.args {
				if a == "--" {
					break
				}
				if a == "--confirm" && i+1 < len(app.args) && app.args[i+1] == args[0] {
					return nil
				}
			}
		}
		return cobra.NoArgs(cmd, args)
	}
}

// applyProfileWoL takes the profile's wol settings for every flag the user did not set.
func applyProfileWoL(o *wol.Options, w config.WoL, set profileFlags) {
	if !set.rate && w.Rate > 0 {
		o.Rate = w.Rate
	}
	if !set.subnetRate && w.SubnetRate > 0 {
		o.SubnetRate = w.SubnetRate
	}
	if !set.repeat && w.Repeat > 0 {
		o.Repeat = w.Repeat
	}
	if !set.batch && w.BatchSize > 0 {
		o.Batch = w.BatchSize
	}
	if !set.pause && w.BatchPause > 0 {
		o.BatchPause = w.BatchPause.Std()
	}
	if !set.port && w.Port > 0 {
		o.Port = w.Port
	}
}

type wolPlanView struct{ *wol.Plan }

func (v wolPlanView) MarshalJSON() ([]byte, error) { return json.Marshal(v.Plan) }

func (v wolPlanView) Grids() []output.Grid {
	h, rows := v.Table()
	grids := []output.Grid{{Title: fmt.Sprintf("Wake-on-LAN plan (%s): %d subnets", v.Mode, len(v.Subnets)), Header: h, Rows: rows}}
	if len(v.Skipped) > 0 {
		g := output.Grid{Title: fmt.Sprintf("Not woken: %d machines", len(v.Skipped)), Header: []string{"Machine", "Why"}}
		for _, s := range v.Skipped {
			g.Rows = append(g.Rows, []string{s.Name, s.SkipText()})
		}
		grids = append(grids, g)
	}
	return grids
}

type wolConfirmView struct{ *wol.Confirmation }

func (v wolConfirmView) MarshalJSON() ([]byte, error) { return json.Marshal(v.Confirmation) }

func (v wolConfirmView) Grids() []output.Grid {
	h, rows := v.Table()
	return []output.Grid{{Title: fmt.Sprintf("Who woke (confirmed by %s after %s)", v.By, v.Waited), Header: h, Rows: rows}}
}
