package labsite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/runner"
	"github.com/patchnight/patchnight/pkg/wol"
)

// Checkpoints are the times of the night a rehearsal measures the patched share at: the
// first install wave, the second, after the 01:00 and 04:00 waves, and the morning scan.
var Checkpoints = [...]string{"PT 20:00", "PT 23:00", "PT+1 05:00", "PT+1 09:30"}

// RehearsalPlan is one plan a rehearsal runs.
type RehearsalPlan struct {
	Name   string      // the plan's name
	Source string      // where it came from (a file, or "built-in")
	Plan   *night.Plan // the plan
}

// RehearseOptions say what Rehearse runs.
type RehearseOptions struct {
	Plans       []RehearsalPlan
	Lab         lab.Options // the fleet: hosts, faults, Patch Tuesday; Seed is overridden per run
	Seeds       []int64     // one fleet per seed; every plan runs on each
	Concurrency int         // hosts at once (default 64)
	Dir         string      // where the temporary labs go (default: the system's temporary folder)
	// Progress, when set, is told after each run (plan index, seed, how long it took).
	Progress func(plan int, seed int64, took time.Duration)
}

// Rehearsal is what Rehearse measured: per plan, the patched share at each checkpoint and
// the night's cost, as mean and spread over the seeds.
type Rehearsal struct {
	Hosts       int               `json:"hosts"`
	Seeds       []int64           `json:"seeds"`
	Faults      lab.FaultRates    `json:"faults"`
	Checkpoints []string          `json:"checkpoints"`
	Plans       []RehearsalResult `json:"plans"`
}

// RehearsalResult is one plan's figures.
type RehearsalResult struct {
	Name         string         `json:"name"`
	Source       string         `json:"source"`
	PatchedPct   []Spread       `json:"patched_pct"` // one per checkpoint, in order
	Restarts     Spread         `json:"restarts"`
	WinRMActions Spread         `json:"winrm_actions"`
	MagicPackets Spread         `json:"magic_packets"`
	Runs         []RehearsalRun `json:"runs"`
}

// RehearsalRun is one plan on one seed's fleet.
type RehearsalRun struct {
	Seed         int64     `json:"seed"`
	Eligible     int       `json:"eligible"`
	PatchedPct   []float64 `json:"patched_pct"`
	Restarts     int       `json:"restarts"`
	WinRMActions int64     `json:"winrm_actions"`
	MagicPackets int64     `json:"magic_packets"`
}

// Spread is a figure over the seeds: its mean, its range and its (population) standard
// deviation.
type Spread struct {
	At     string  `json:"at,omitempty"` // the checkpoint, for shares
	Mean   float64 `json:"mean"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	StdDev float64 `json:"stddev"`
}

func spread(at string, xs []float64) Spread {
	s := Spread{At: at}
	if len(xs) == 0 {
		return s
	}
	s.Min, s.Max = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		s.Mean += x
		s.Min, s.Max = min(s.Min, x), max(s.Max, x)
	}
	s.Mean /= float64(len(xs))
	for _, x := range xs {
		s.StdDev += (x - s.Mean) * (x - s.Mean)
	}
	s.StdDev = math.Sqrt(s.StdDev / float64(len(xs)))
	round := func(v float64) float64 { return math.Round(v*100) / 100 }
	s.Mean, s.Min, s.Max, s.StdDev = round(s.Mean), round(s.Min), round(s.Max), round(s.StdDev)
	return s
}

// errRehearsed ends a night once its last checkpoint is measured.
var errRehearsed = errors.New("rehearsal: last checkpoint measured")

// Rehearse runs every plan over the fleet of every seed, each night in a lab of its own
// (built in a temporary folder and deleted after), through the real runner, WinRM client
// and Wake-on-LAN sender against the lab served on loopback, on a simulated clock; it
// measures the patched share (lab.Sim.Patched: the truth, not the site's lagging views) at
// each of the Checkpoints and stops the night after the last one.
func Rehearse(ctx context.Context, o RehearseOptions) (*Rehearsal, error) {
	if len(o.Plans) == 0 || len(o.Seeds) == 0 {
		return nil, errors.New("rehearse: no plan or no seed")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	dir, err := os.MkdirTemp(o.Dir, "patchnight-rehearse-")
	if err != nil {
		return nil, fmt.Errorf("rehearse: %w", err)
	}
	defer os.RemoveAll(dir)
	out := &Rehearsal{Seeds: o.Seeds, Checkpoints: Checkpoints[:]}
	if o.Lab.Faults != nil {
		out.Faults = *o.Lab.Faults
	} else {
		out.Faults = lab.DefaultFaults()
	}
	for pi, p := range o.Plans {
		res := RehearsalResult{Name: p.Name, Source: p.Source}
		for _, seed := range o.Seeds {
			start := time.Now()
			run, hosts, err := rehearseOne(ctx, filepath.Join(dir, fmt.Sprintf("p%d-s%d", pi, seed)), p.Plan, o, seed)
			if err != nil {
				return nil, fmt.Errorf("rehearse %s, seed %d: %w", p.Name, seed, err)
			}
			out.Hosts = hosts
			res.Runs = append(res.Runs, run)
			if o.Progress != nil {
				o.Progress(pi, seed, time.Since(start))
			}
		}
		for k, at := range Checkpoints {
			var xs []float64
			for _, r := range res.Runs {
				xs = append(xs, r.PatchedPct[k])
			}
			res.PatchedPct = append(res.PatchedPct, spread(at, xs))
		}
		var restarts, actions, packets []float64
		for _, r := range res.Runs {
			restarts = append(restarts, float64(r.Restarts))
			actions = append(actions, float64(r.WinRMActions))
			packets = append(packets, float64(r.MagicPackets))
		}
		res.Restarts, res.WinRMActions, res.MagicPackets = spread("", restarts), spread("", actions), spread("", packets)
		out.Plans = append(out.Plans, res)
	}
	return out, nil
}

// rehearseOne runs plan p on the fleet of seed in its own lab under dir.
func rehearseOne(ctx context.Context, dir string, p *night.Plan, o RehearseOptions, seed int64) (RehearsalRun, int, error) {
	run := RehearsalRun{Seed: seed}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return run, 0, err
	}
	defer os.RemoveAll(dir)
	opt := o.Lab
	opt.Seed = seed
	path := filepath.Join(dir, "lab.db")
	sum, err := lab.Generate(ctx, path, opt)
	if err != nil {
		return run, 0, err
	}
	loc := time.UTC // the lab's site time
	month := night.MonthOf(sum.PatchTuesday)
	timeline := night.Timeline(p, month, loc)
	if len(timeline) == 0 {
		return run, 0, errors.New("the plan has no step")
	}
	var cps []time.Time
	for _, c := range Checkpoints {
		w, err := night.ParseWhen(c)
		if err != nil {
			return run, 0, err
		}
		t, _ := w.At(month, loc)
		cps = append(cps, t)
	}
	first := timeline[0].Time
	if cps[0].Before(first) {
		first = cps[0]
	}
	clock := NewClock(first.Add(-10 * time.Minute))
	ls, err := Start(ctx, path, Options{Clock: clock})
	if err != nil {
		return run, 0, err
	}
	defer ls.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sess := ls.NewSession(SessionOptions{SiteCode: sum.SiteCode, StateDir: filepath.Join(dir, "state"),
		Concurrency: o.Concurrency, HostTimeout: 30 * time.Second, Log: quiet})
	defer sess.Close()
	lc := sess.Clock().(*LabClock)
	if err := lc.Settle(ctx); err != nil {
		return run, 0, err
	}
	cc := &checkpointClock{LabClock: lc, at: cps, measure: func(ctx context.Context, last bool) error {
		patched, eligible, err := ls.Sim.Patched(ctx)
		if err != nil {
			return err
		}
		run.Eligible = eligible
		pct := 0.0
		if eligible > 0 {
			pct = math.Round(1000*float64(patched)/float64(eligible)) / 10
		}
		run.PatchedPct = append(run.PatchedPct, pct)
		if last {
			if run.Restarts, err = ls.Sim.Restarts(ctx, lc.Now()); err != nil {
				return err
			}
			for _, n := range ls.Stats().OpRuns {
				run.WinRMActions += n
			}
			run.MagicPackets = int64(ls.Wake.Stats().Valid)
		}
		return nil
	}}
	env, err := sess.RunnerEnv(ctx)
	if err != nil {
		return run, 0, err
	}
	env.Clock = cc
	env.WolTune = func(o *wol.Options) {
		// As in the demo: the lab's network has no storm control and no breakers.
		o.Spacing, o.BatchPause, o.SubnetRate, o.Rate = 50*time.Millisecond, 20*time.Millisecond, 2000, 20000
	}
	env.Out, env.BarrierPoll, env.AfterAction = io.Discard, 5*time.Minute, lc.Settle
	r, err := runner.New(ctx, p, loc, month, env)
	if err != nil {
		return run, 0, err
	}
	scope := ""
	if r.Scope() != nil {
		scope = r.Scope().ID
	}
	r.Env.Notifier = sess.Notices(r.Env, notify.DefaultSettings(loc), scope)
	if err := r.Night(ctx); err != nil && !errors.Is(err, errRehearsed) {
		if cc.err != nil {
			return run, 0, cc.err
		}
		return run, 0, err
	}
	if cc.err != nil {
		return run, 0, cc.err
	}
	// A plan that ends before the last checkpoint: the night goes on without it.
	for len(cc.at) > 0 {
		if err := cc.Sleep(ctx, cc.at[0].Sub(cc.Now())); err != nil && !errors.Is(err, errRehearsed) {
			return run, 0, err
		}
	}
	return run, sum.Hosts, nil
}

// checkpointClock is a night's lab clock that stops at each checkpoint on its way to
// measure, and refuses to sleep on after the last one (errRehearsed), which ends the night.
type checkpointClock struct {
	*LabClock
	mu      sync.Mutex // one sleeper at a time
	at      []time.Time
	measure func(ctx context.Context, last bool) error
	err     error // a failed measurement
}

// Sleep advances the lab's clock by d, measuring at every checkpoint on the way.
func (c *checkpointClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.at) == 0 {
		return errRehearsed
	}
	target := c.Now().Add(d)
	for len(c.at) > 0 && !c.at[0].After(target) {
		if err := c.LabClock.Sleep(ctx, c.at[0].Sub(c.Now())); err != nil {
			return err
		}
		c.at = c.at[1:]
		if err := c.measure(ctx, len(c.at) == 0); err != nil {
			c.err = err
			return err
		}
	}
	if len(c.at) == 0 {
		return errRehearsed
	}
	return c.LabClock.Sleep(ctx, target.Sub(c.Now()))
}

// Grids renders the rehearsal as one table: a row per plan, the patched share at each
// checkpoint as "mean% (min–max)", then the night's cost as means.
func (r *Rehearsal) Grids() []output.Grid {
	g := output.Grid{
		Title: fmt.Sprintf("Rehearsal on %d lab hosts x %d seeds (patched share: mean, min-max over the seeds)",
			r.Hosts, len(r.Seeds)),
		Header:  []string{"Plan"},
		Numeric: []bool{false},
	}
	for _, c := range r.Checkpoints {
		g.Header = append(g.Header, c)
		g.Numeric = append(g.Numeric, true)
	}
	g.Header = append(g.Header, "Restarts", "WinRM actions", "Magic packets")
	g.Numeric = append(g.Numeric, true, true, true)
	for _, p := range r.Plans {
		row := []string{p.Name}
		for _, s := range p.PatchedPct {
			row = append(row, fmt.Sprintf("%.1f%% (%.1f-%.1f)", s.Mean, s.Min, s.Max))
		}
		row = append(row, count(p.Restarts.Mean), count(p.WinRMActions.Mean), count(p.MagicPackets.Mean))
		g.Rows = append(g.Rows, row)
	}
	return []output.Grid{g}
}

func count(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', 0, 64) }
