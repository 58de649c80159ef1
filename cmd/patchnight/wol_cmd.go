package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/wol"
)

// wolEnv is what a wake sends through: the udp4 socket, and the relay, site and probe
// channels when the mode needs them.
type wolEnv struct {
	conn    wol.PacketConn
	relayer wol.Relayer
	site    wol.SiteWaker
	prober  wol.Prober
}

func newWolCmd(app *App) *cobra.Command {
	opt := wol.DefaultOptions()
	var mode, confirm string
	var dryRun bool
	var wait time.Duration
	var set struct{ rate, subnetRate, repeat, batch, pause, port, mode bool }
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			w := cfg.Profile.WoL
			f := cmd.Flags()
			set.rate, set.subnetRate, set.repeat = f.Changed("rate"), f.Changed("subnet-rate"), f.Changed("repeat")
			set.batch, set.pause, set.port, set.mode = f.Changed("batch"), f.Changed("batch-pause"), f.Changed("port"), f.Changed("mode")
			applyProfileWoL(&opt, w, set.rate, set.subnetRate, set.repeat, set.batch, set.pause, set.port)
			if set.mode {
				opt.Mode = wol.Mode(mode)
			} else if w.Mode != "" {
				opt.Mode = wol.Mode(w.Mode)
			}
			if w.PasswordEnv != "" {
				opt.SecureOn = app.Getenv(w.PasswordEnv)
				if opt.SecureOn == "" {
					return exit.Usagef("set "+w.PasswordEnv+" or remove wol.password_env", "wol.password_env names %s, which is not set", w.PasswordEnv)
				}
			}
			confirmSet := confirm != ""
			switch confirm {
			case "", "none", "site", "probe":
			default:
				return exit.Usagef("use --confirm site, probe or none", "--confirm %q is not a confirmation method", confirm)
			}
			if wait < 0 {
				return exit.Usagef("use a duration like 5m", "--wait %s is negative", wait)
			}
			if err := opt.Validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := app.Site(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if opt.Collection != "" {
				// The plan carries the collection to the site channel (--mode site), which
				// takes a CollectionID only: resolve a name here, once.
				coll, err := db.ResolveCollection(ctx, opt.Collection)
				if err != nil {
					return err
				}
				opt.Collection = coll.ID
			}
			plan, err := opt.Plan(ctx, db)
			if err != nil {
				return err
			}
			if dryRun {
				return app.Print(wolPlanView{plan})
			}
			if !confirmSet && wait != wol.DefaultWait {
				return exit.Usagef("add --confirm", "--wait only applies with --confirm")
			}
			env, closeEnv, err := app.wolEnv(ctx, opt)
			if err != nil {
				return err
			}
			defer closeEnv()
			rep, err := wol.Send(ctx, plan, wol.Transports{Conn: env.conn, Relayer: env.relayer, Site: env.site})
			if err != nil {
				return err
			}
			fmt.Fprintf(app.IO.Err, "sent %d packets from here and %d through relays to %d subnets in %s\n",
				rep.Local, rep.Relayed, len(plan.Subnets), rep.Finished.Sub(rep.Started).Round(time.Millisecond))
			if env.site != nil {
				fmt.Fprintf(app.IO.Err, "the site woke through awake clients: %d sleepers (NumSleepers of SMS_SleepServer.MachinesToWakeup)\n", rep.Site)
			}
			if confirm == "" || confirm == "none" {
				if err := app.Print(wolPlanView{plan}); err != nil {
					return err
				}
				if rep.Failed() > 0 {
					return exit.New(exit.Partial, "see the plan and the log", "%d machines could not be sent to", rep.Failed())
				}
				return nil
			}
			co := wol.ConfirmOptions{Wait: wait, Sent: rep}
			if confirm == "probe" {
				co.Prober = env.prober
			}
			conf, err := wol.Confirm(ctx, db, plan, co)
			if err != nil {
				return err
			}
			return app.Print(wolConfirmView{conf})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opt.Collection, "collection", "", "machines of this collection (ID or name)")
	fl.StringSliceVar(&opt.Hosts, "host", nil, "machines by name: a,b,c")
	fl.StringSliceVar(&opt.Subnets, "subnet", nil, "only adapters in these IPv4 subnets (CIDR): 10.1.2.0/24,...")
	fl.BoolVar(&opt.All, "all", false, "every machine of the site")
	fl.StringVar(&mode, "mode", string(wol.ModeDirected), "directed, unicast, relay, site or auto")
	fl.IntVar(&opt.Port, "port", wol.DefaultPort, "UDP port of the magic packet")
	fl.Float64Var(&opt.Rate, "rate", wol.DefaultRate, "packets per second, all subnets together")
	fl.Float64Var(&opt.SubnetRate, "subnet-rate", wol.DefaultSubnetRate, "packets per second into any one subnet")
	fl.IntVar(&opt.Repeat, "repeat", wol.DefaultRepeat, "packets per machine")
	fl.IntVar(&opt.Batch, "batch", wol.DefaultBatch, "machines per subnet before a pause")
	fl.DurationVar(&opt.BatchPause, "batch-pause", wol.DefaultBatchPause, "pause between batches of a subnet")
	fl.BoolVar(&opt.WakeOnline, "wake-online", false, "also send to machines the site sees online")
	fl.BoolVar(&dryRun, "dry-run", false, "print the per-subnet plan and send nothing")
	fl.StringVar(&confirm, "confirm", "", "after --wait, report who woke: site (CNIsOnline) or probe (WinRM)")
	fl.Lookup("confirm").NoOptDefVal = "site"
	fl.DurationVar(&wait, "wait", wol.DefaultWait, "with --confirm: how long machines get to boot and report")
	return cmd
}

// applyProfileWoL takes the profile's wol settings for every flag the user did not set.
func applyProfileWoL(o *wol.Options, w config.WoL, rate, subnetRate, repeat, batch, pause, port bool) {
	if !rate && w.Rate > 0 {
		o.Rate = w.Rate
	}
	if !subnetRate && w.SubnetRate > 0 {
		o.SubnetRate = w.SubnetRate
	}
	if !repeat && w.Repeat > 0 {
		o.Repeat = w.Repeat
	}
	if !batch && w.BatchSize > 0 {
		o.Batch = w.BatchSize
	}
	if !pause && w.BatchPause > 0 {
		o.BatchPause = w.BatchPause.Std()
	}
	if !port && w.Port > 0 {
		o.Port = w.Port
	}
}

// wolEnv opens the transports a wake needs: the socket, and for relay, site and probe the
// WinRM connector and the SMS Provider, opened only when the plan's mode needs them.
func (a *App) wolEnv(ctx context.Context, opt wol.Options) (*wolEnv, func(), error) {
	conn, err := wol.Listen(ctx)
	if err != nil {
		return nil, nil, exit.Wrap(exit.Failed, err, "", "open the Wake-on-LAN socket")
	}
	env := &wolEnv{conn: conn}
	closers := []func(){func() { conn.Close() }}
	done := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	switch opt.Mode {
	case wol.ModeRelay, wol.ModeAuto:
		k, err := a.Connector()
		if err != nil {
			done()
			return nil, nil, err
		}
		closers = append(closers, func() { k.Close() })
		env.relayer = relayer{k}
		env.prober = prober{k, a}
	case wol.ModeSite:
		p, closeP, err := a.Provider(ctx)
		if err != nil {
			done()
			return nil, nil, err
		}
		closers = append(closers, closeP)
		env.site = siteWaker{p}
	}
	return env, done, nil
}

// relayer asks an online client to send the packets on its own subnet (scripts/wol-relay.ps1).
type relayer struct{ k *remote.Connector }

func (r relayer) Relay(ctx context.Context, via string, req wol.RelayRequest) (int, error) {
	c, err := r.k.Client(via)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var out struct {
		Sent int `json:"sent"`
	}
	if err := c.Run(ctx, "wol-relay", req, &out); err != nil {
		return 0, err
	}
	return out.Sent, nil
}

// prober checks over WinRM which hosts answer (scripts/probe.ps1).
type prober struct {
	k   *remote.Connector
	app *App
}

func (p prober) Probe(ctx context.Context, hosts []string) (map[string]bool, error) {
	online := map[string]bool{}
	remote.FanOut(ctx, func(yield func(string) bool) {
		for _, h := range hosts {
			if !yield(h) {
				return
			}
		}
	}, remote.FanOutOptions{Retries: -1, Label: "probe"}, func(ctx context.Context, host string) (struct{}, error) {
		c, err := p.k.Client(host)
		if err != nil {
			return struct{}{}, err
		}
		defer c.Close()
		var out json.RawMessage
		return struct{}{}, c.Run(ctx, "probe", map[string]any{}, &out)
	}, func(r remote.HostResult[struct{}]) {
		if r.Outcome == remote.OutcomeOK {
			online[r.Host] = true
		}
	})
	return online, nil
}

// siteWaker wakes through the site: SMS_SleepServer.MachinesToWakeup, which answers
// NumSleepers, the sleepers an awake client on their subnet was asked to wake. That count
// is what the wake reports; client operation type 150 gives no such count (whether it
// wakes at all is unconfirmed, configmgr.md section 7).
type siteWaker struct{ p *provider.Provider }

func (s siteWaker) WakeSite(ctx context.Context, req wol.SiteRequest) (int, error) {
	if req.CollectionID == "" {
		return 0, exit.Usagef("pass --collection with --mode site", "site wake needs a collection")
	}
	n, err := s.p.MachinesToWakeup(ctx, req.CollectionID, req.ResourceIDs)
	if err != nil {
		return 0, err
	}
	return int(n), nil
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
