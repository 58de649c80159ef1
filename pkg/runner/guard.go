package runner

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/alert"
	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
)

// Halt kinds (journal halts.kind).
const (
	HaltNotBack   = "not-back"   // too many restarted machines did not come back
	HaltSameError = "same-error" // too many installs of a step failed with one error code
)

// wave is a part of a guarded step's machines acted on together: the canary ring first,
// then waves of at most the restart cap per location or subnet (or all the rest at once).
type wave struct {
	hosts  []string
	canary bool
}

// waves splits a guarded restarting step's machines (in target order) into the canary
// ring and the waves after it.
func (r *Runner) waves(ctx context.Context, todo []string, byName map[string]target) ([]wave, error) {
	if len(todo) == 0 {
		return nil, nil
	}
	rest := todo
	var out []wave
	if k := r.Plan.Canary; k != nil {
		ring := map[string]bool{}
		if k.Collection != "" {
			c, err := r.Env.Site.ResolveCollection(ctx, k.Collection)
			if err != nil {
				return nil, fmt.Errorf("canary collection: %w", err)
			}
			members := map[int64]bool{}
			err = r.Env.Site.Each(ctx, "collection_members", site.Params{"collection": c.ID}, func(rows *sql.Rows) error {
				var id int64
				var name string
				var direct, client site.Flag
				var domain string
				if err := rows.Scan(&id, &name, &direct, &client, &domain); err != nil {
					return fmt.Errorf("read canary member: %w", err)
				}
				members[id] = true
				return nil
			})
			if err != nil {
				return nil, err
			}
			for _, h := range todo {
				if members[byName[strings.ToUpper(h)].ResourceID] {
					ring[h] = true
				}
			}
		} else {
			loc, err := r.groupOf(ctx, "location", todo, byName)
			if err != nil {
				return nil, err
			}
			per := map[string]int{}
			for _, h := range todo {
				g := loc[h]
				if per[g] < k.PerLocation {
					per[g]++
					ring[h] = true
				}
			}
		}
		var canary, others []string
		for _, h := range todo {
			if ring[h] {
				canary = append(canary, h)
			} else {
				others = append(others, h)
			}
		}
		if len(canary) > 0 {
			out = append(out, wave{hosts: canary, canary: true})
		}
		rest = others
	}
	if len(rest) == 0 {
		return out, nil
	}
	cp := r.Plan.RestartCap
	if cp == nil {
		return append(out, wave{hosts: rest}), nil
	}
	groups, err := r.groupOf(ctx, cp.Per, rest, byName)
	if err != nil {
		return nil, err
	}
	byGroup := map[string][]string{}
	var keys []string
	for _, h := range rest {
		g := groups[h]
		if _, ok := byGroup[g]; !ok {
			keys = append(keys, g)
		}
		byGroup[g] = append(byGroup[g], h)
	}
	for i := 0; ; i++ {
		var w []string
		for _, g := range keys {
			hs := byGroup[g]
			lo := i * cp.Max
			if lo < len(hs) {
				w = append(w, hs[lo:min(lo+cp.Max, len(hs))]...)
			}
		}
		if len(w) == 0 {
			return out, nil
		}
		sort.SliceStable(w, func(a, b int) bool { return strings.ToUpper(w[a]) < strings.ToUpper(w[b]) })
		out = append(out, wave{hosts: w})
	}
}

// groupOf maps each host to its location (the AD site, v_R_System.AD_Site_Name0) or its
// subnet (the first adapter's, from the wake targets); "" when unknown.
func (r *Runner) groupOf(ctx context.Context, per string, hosts []string, byName map[string]target) (map[string]string, error) {
	out := map[string]string{}
	want := map[int64]string{}
	for _, h := range hosts {
		want[byName[strings.ToUpper(h)].ResourceID] = h
	}
	if per == "subnet" {
		names := make([]string, 0, len(hosts))
		for _, h := range hosts {
			names = append(names, byName[strings.ToUpper(h)].Name)
		}
		ts, err := wol.LoadTargets(ctx, r.Env.Site, wol.Selection{Collection: r.scopeID, Hosts: names})
		if err != nil {
			return nil, err
		}
		for _, t := range ts.Hosts {
			if h, ok := want[t.ResourceID]; ok {
				for _, n := range t.NICs {
					if n.Subnet.IsValid() {
						out[h] = n.Subnet.String()
						break
					}
				}
			}
		}
		return out, nil
	}
	err := r.eachState(ctx, func(s hostState) error {
		if h, ok := want[s.ResourceID]; ok {
			out[h] = s.Location
		}
		return nil
	})
	return out, err
}

// guardTimeout is how long a wave's machines get to come back.
func (r *Runner) guardTimeout() time.Duration {
	if r.Plan.Canary != nil && r.Plan.Canary.Timeout > 0 {
		return r.Plan.Canary.Timeout
	}
	return night.DefaultCanaryTimeout
}

// restartedIn returns the hosts of the wave whose restart the step sent (journal ok rows).
func (r *Runner) restartedIn(ctx context.Context, st journal.Step, hosts []string) (map[string]target, error) {
	in := map[string]bool{}
	for _, h := range hosts {
		in[strings.ToUpper(h)] = true
	}
	rows, err := r.Env.Journal.HostOutcomes(ctx, journal.Filter{Step: st.ID, Action: actRestart, Outcome: journal.OutcomeOK})
	if err != nil {
		return nil, err
	}
	out := map[string]target{}
	for _, o := range rows {
		if in[strings.ToUpper(o.Host)] {
			out[strings.ToUpper(o.Host)] = target{ResourceID: o.ResourceID, Name: o.Host}
		}
	}
	return out, nil
}

// waitBack waits until every machine of the wave that was restarted is back (online in
// the site and, for the canary, answering WinRM) or the timeout passes.
func (r *Runner) waitBack(ctx context.Context, st journal.Step, w wave) error {
	restarted, err := r.restartedIn(ctx, st, w.hosts)
	if err != nil || len(restarted) == 0 {
		return err
	}
	deadline := r.Env.Clock.Now().Add(r.guardTimeout())
	for {
		back, err := r.backNow(ctx, restarted, w.canary)
		if err != nil {
			return err
		}
		now := r.Env.Clock.Now()
		if len(back) == len(restarted) || !now.Before(deadline) {
			return nil
		}
		wait := min(r.Env.BarrierPoll, deadline.Sub(now))
		if err := r.Env.Clock.Sleep(ctx, wait); err != nil {
			return err
		}
		if r.Env.AfterAction != nil {
			if err := r.Env.AfterAction(ctx); err != nil {
				return err
			}
		}
	}
}

// backNow returns which of the hosts are back: online in the site now, and with probe,
// answering WinRM.
func (r *Runner) backNow(ctx context.Context, hosts map[string]target, probe bool) (map[string]bool, error) {
	ids := map[int64]string{}
	for k, t := range hosts {
		ids[t.ResourceID] = k
	}
	back := map[string]bool{}
	err := r.eachState(ctx, func(h hostState) error {
		if k, ok := ids[h.ResourceID]; ok && h.Online {
			back[k] = true
		}
		return nil
	})
	if err != nil || !probe {
		return back, err
	}
	for k := range back {
		if !r.answersWinRM(ctx, hosts[k].Name) {
			delete(back, k)
		}
	}
	return back, nil
}

// answersWinRM makes one WinRM round trip to the host (who is logged on: read-only).
func (r *Runner) answersWinRM(ctx context.Context, host string) bool {
	if r.Env.ProbeWinRM != nil {
		return r.Env.ProbeWinRM(ctx, host)
	}
	c, release, err := r.Env.Hosts.Client(host)
	if err != nil {
		return false
	}
	defer release()
	pctx := ctx
	if r.Env.HostTimeout > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, r.Env.HostTimeout)
		defer cancel()
	}
	_, err = client.LoggedOn(pctx, c)
	return err == nil
}

// check applies the halt rules after a wave: the machines restarted in the night's last
// window that are not back, and the step's installs failed with one error code. It
// returns the halt to record, or nil.
func (r *Runner) check(ctx context.Context, occ night.Occurrence, st journal.Step) (*journal.Halt, error) {
	rules := r.Plan.HaltRules()
	now := r.Env.Clock.Now()
	since := now.Add(-rules.Window)
	// Restarts before the operator's last resume were judged already: they do not halt
	// the resumed night again.
	halts, err := r.Env.Journal.Halts(ctx, r.run.ID)
	if err != nil {
		return nil, err
	}
	for _, h := range halts {
		if h.Resumed.After(since) {
			since = h.Resumed
		}
	}
	restarted := map[string]target{}
	err = r.Env.Journal.EachHostOutcome(ctx, journal.Filter{Run: r.run.ID, Action: actRestart, Outcome: journal.OutcomeOK}, func(o journal.HostOutcome) error {
		if !o.At.Before(since) {
			restarted[strings.ToUpper(o.Host)] = target{ResourceID: o.ResourceID, Name: o.Host}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n := len(restarted); n >= rules.MinHosts {
		back, err := r.backNow(ctx, restarted, false)
		if err != nil {
			return nil, err
		}
		notBack := n - len(back)
		if notBack*100 > rules.NotBackPercent*n {
			var names []string
			for k := range restarted {
				if !back[k] {
					names = append(names, restarted[k].Name)
				}
			}
			sort.Strings(names)
			return &journal.Halt{Run: r.run.ID, Step: st.ID, Occurrence: occ.ID, Kind: HaltNotBack, At: now,
				Reason: fmt.Sprintf("%d of the %d machines restarted in the last %s are not back (more than %d%%): %s",
					notBack, n, rules.Window, rules.NotBackPercent, listSome(names, 10))}, nil
		}
	}
	if !occ.Step.Action.Installs() {
		return nil, nil
	}
	ended := map[string]bool{}
	failedBy := map[int64][]string{}
	err = r.Env.Journal.EachHostOutcome(ctx, journal.Filter{Step: st.ID, Action: actInstall}, func(o journal.HostOutcome) error {
		switch o.Outcome {
		case journal.OutcomeOK, journal.PendingRestart, journal.StillRunning:
			ended[strings.ToUpper(o.Host)] = true
		case journal.OutcomeFailed:
			ended[strings.ToUpper(o.Host)] = true
			if o.ErrorCode != 0 {
				failedBy[o.ErrorCode] = append(failedBy[o.ErrorCode], o.Host)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n := len(ended)
	if n < rules.MinHosts {
		return nil, nil
	}
	var worst int64
	for code, hs := range failedBy {
		if len(hs) > len(failedBy[worst]) || (len(hs) == len(failedBy[worst]) && code < worst) {
			worst = code
		}
	}
	if hs := failedBy[worst]; worst != 0 && len(hs)*100 > rules.SameErrorPercent*n {
		sort.Strings(hs)
		return &journal.Halt{Run: r.run.ID, Step: st.ID, Occurrence: occ.ID, Kind: HaltSameError, At: now,
			Reason: fmt.Sprintf("%d of the step's %d installs failed with %s (more than %d%%): %s",
				len(hs), n, fleet.HResult(worst), rules.SameErrorPercent, listSome(hs, 10))}, nil
	}
	return nil, nil
}

func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}

// halt records the halt durably, says it, and alerts at once.
func (r *Runner) halt(ctx context.Context, h journal.Halt, w wave, left int) (journal.Halt, error) {
	h, err := r.Env.Journal.RecordHalt(ctx, h)
	if err != nil {
		return h, err
	}
	where := "after a wave"
	if w.canary {
		where = "after the canary"
	}
	r.Env.Log.Error("night halted", "step", h.Occurrence, "kind", h.Kind, "reason", h.Reason)
	r.say(fmt.Sprintf("HALTED in %s %s: %s; %d machines of the step not acted on; install and restart steps are held until patchnight night --resume",
		h.Occurrence, where, h.Reason, left))
	r.alertHalt(ctx, h, where, left)
	return h, nil
}

// alertHalt sends the halt by mail and webhook and writes it to the event log.
func (r *Runner) alertHalt(ctx context.Context, h journal.Halt, where string, left int) {
	if r.Env.Alert == nil {
		return
	}
	text := fmt.Sprintf("The night of %s (plan %s, site %s) halted in step %s %s at %s UTC.\nWhy: %s\n"+
		"%d machines of the step were not acted on, and every later install and restart step is held.\n"+
		"Look at the machines named, then continue with: patchnight night --resume (or patchnight run STEP --override-halt).",
		r.spec.Month, r.spec.Plan, r.Env.SiteCode, h.Occurrence, where, h.At.UTC().Format("2006-01-02 15:04"), h.Reason, left)
	doc, _ := json.Marshal(struct {
		Plan  string       `json:"plan"`
		Month string       `json:"month"`
		Site  string       `json:"site"`
		Halt  journal.Halt `json:"halt"`
		Left  int          `json:"machines_not_acted_on"`
	}{r.spec.Plan, r.spec.Month, r.Env.SiteCode, h, left})
	r.Env.Alert.Event(alert.EventHalt, text)
	r.Env.Alert.Send(ctx, alert.Message{Kind: alert.KindHalt, At: h.At,
		Subject: fmt.Sprintf("patchnight %s %s: night HALTED in %s (%s)", r.Env.SiteCode, r.spec.Month, h.Occurrence, h.Kind),
		Text:    text, JSON: doc, JSONName: "halt.json"})
}

// held reports the halt that holds the night's install and restart steps, if any.
func (r *Runner) held(ctx context.Context, a night.Action) (journal.Halt, bool, error) {
	if !(a.Installs() || a.Restarts()) || r.Env.OverrideHalt || r.run.ID == 0 {
		return journal.Halt{}, false, nil
	}
	return r.Env.Journal.ActiveHalt(ctx, r.run.ID)
}

// Halted returns the halt that holds the month's run, if any.
func (r *Runner) Halted(ctx context.Context) (journal.Halt, bool, error) {
	if r.run.ID == 0 {
		return journal.Halt{}, false, nil
	}
	return r.Env.Journal.ActiveHalt(ctx, r.run.ID)
}

// Resume lifts the run's halt (night --resume): the next install and restart steps run
// again. The step that halted stays finished; its machines not acted on are left to the
// later steps of the night.
func (r *Runner) Resume(ctx context.Context) (int, error) {
	if r.run.ID == 0 {
		return 0, nil
	}
	n, err := r.Env.Journal.ResumeRun(ctx, r.run.ID, r.Env.Clock.Now())
	if err != nil || n == 0 {
		return n, err
	}
	msg := fmt.Sprintf("the halted night of %s (plan %s) was resumed at %s UTC", r.spec.Month, r.spec.Plan, r.Env.Clock.Now().UTC().Format("2006-01-02 15:04"))
	r.Env.Log.Warn("night resumed", "run", r.run.ID)
	r.say(msg)
	r.Env.Alert.Event(alert.EventResume, msg)
	return n, nil
}

// guarded runs a restarting step of a guarded plan wave by wave: the canary ring, then
// the others (in waves of the restart cap), waiting after each wave for its machines to be
// back and applying the halt rules. A halt leaves the step's other machines untouched.
func (r *Runner) guarded(ctx context.Context, occ night.Occurrence, st journal.Step, todo []string,
	byName map[string]target, phase func([]string) error) (string, bool, error) {
	ws, err := r.waves(ctx, todo, byName)
	if err != nil {
		return "", false, err
	}
	var notes []string
	for i, w := range ws {
		if ctx.Err() != nil {
			return strings.Join(notes, "; "), false, nil
		}
		if err := phase(w.hosts); err != nil {
			return strings.Join(notes, "; "), false, err
		}
		if err := r.waitBack(ctx, st, w); err != nil {
			return strings.Join(notes, "; "), false, err
		}
		h, err := r.check(ctx, occ, st)
		if err != nil {
			return strings.Join(notes, "; "), false, err
		}
		if w.canary {
			notes = append(notes, fmt.Sprintf("canary of %d machines", len(w.hosts)))
		}
		if h != nil {
			left := 0
			for _, rest := range ws[i+1:] {
				left += len(rest.hosts)
			}
			if _, err := r.halt(ctx, *h, w, left); err != nil {
				return strings.Join(notes, "; "), false, err
			}
			notes = append(notes, fmt.Sprintf("HALTED: %s; %d machines not acted on", h.Reason, left))
			return strings.Join(notes, "; "), true, nil
		}
		if w.canary {
			notes[len(notes)-1] += " back"
		}
	}
	if n := len(ws); n > 1 && r.Plan.RestartCap != nil {
		notes = append(notes, fmt.Sprintf("%d waves of at most %d per %s", n, r.Plan.RestartCap.Max, r.Plan.RestartCap.Per))
	}
	return strings.Join(notes, "; "), false, nil
}
