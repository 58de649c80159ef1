package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/sitecoll"
	"github.com/patchnight/patchnight/pkg/wol"
)

// checkDeployments verifies at 16:00 that the night's update group is deployed, enabled,
// required, and due by the deadline of the night; anything else is a failed step that the
// admin sees before the first scan (the night goes on).
func (r *Runner) checkDeployments(ctx context.Context, occ night.Occurrence) (string, journal.Status, error) {
	deps, err := deployments(ctx, r.Env.Site, r.group.CIID)
	if err != nil {
		return "", journal.Failed, err
	}
	if len(deps) == 0 {
		return fmt.Sprintf("software update group %q is not deployed", r.group.Title), journal.Failed, nil
	}
	var ok, problems []string
	for _, d := range deps {
		var p []string
		if !d.Enabled {
			p = append(p, "disabled")
		}
		if !d.Required {
			p = append(p, "available, not required")
		}
		if d.Deadline.Valid && d.Deadline.Time.After(occ.Time.Add(4*time.Hour)) {
			p = append(p, "deadline "+d.Deadline.Time.UTC().Format("2006-01-02 15:04")+" UTC is after tonight")
		}
		if r.scopeID != "" && !strings.EqualFold(d.CollectionID, r.scopeID) {
			continue
		}
		if len(p) > 0 {
			problems = append(problems, fmt.Sprintf("%s to %s: %s", d.Name, d.CollectionID, strings.Join(p, ", ")))
		} else {
			ok = append(ok, fmt.Sprintf("%s to %s (%d updates)", d.Name, d.CollectionID, d.Updates))
		}
	}
	if len(problems) > 0 {
		return strings.Join(problems, "; "), journal.Failed, nil
	}
	if len(ok) == 0 {
		return fmt.Sprintf("%q is not deployed to %s", r.group.Title, r.scopeID), journal.Failed, nil
	}
	return "deployed: " + strings.Join(ok, "; "), journal.OK, nil
}

// refreshCollections applies the collection definitions for the night (per-update for the
// group, scan-behind, night families) through the SMS Provider and waits, bounded, for the
// site to evaluate them.
func (r *Runner) refreshCollections(ctx context.Context) (string, journal.Status, error) {
	if r.Env.Provider == nil {
		return "no SMS Provider configured: collections left as they are", journal.OK, nil
	}
	plan, err := r.collectionsPlan(ctx)
	if err != nil {
		return "", journal.Failed, err
	}
	res, err := sitecoll.Apply(ctx, plan, r.Env.Provider, sitecoll.ApplyOptions{Wait: 10 * time.Minute, Poll: 30 * time.Second,
		Now: r.Env.Clock.Now, Sleep: r.Env.Clock.Sleep})
	if err != nil {
		return "", journal.Failed, err
	}
	if res.NoOp {
		return fmt.Sprintf("%d collections already as wanted", len(plan.Desired)), journal.OK, nil
	}
	note := fmt.Sprintf("%d collections written", len(res.Collections))
	if len(res.NotEvaluated) > 0 {
		note += fmt.Sprintf(", %d not evaluated yet", len(res.NotEvaluated))
	}
	return note, journal.OK, nil
}

// collectionsPlan builds, from the site database, what refresh-collections writes: the
// collection definitions for the night's group and month against the site. It writes
// nothing (the dry run shows it).
func (r *Runner) collectionsPlan(ctx context.Context) (*sitecoll.Plan, error) {
	defs, err := collections.Load()
	if err != nil {
		return nil, err
	}
	return sitecoll.Build(ctx, r.Env.Site, defs, sitecoll.Request{Group: fmt.Sprint(r.group.CIID),
		Month: r.Month.String(), Now: r.Env.Clock.Now().UTC()})
}

// wake sends Wake-on-LAN to the step's scope, waits on the barrier (machines boot), and
// records per machine whether it woke.
func (r *Runner) wake(ctx context.Context, occ night.Occurrence, st journal.Step) (string, journal.Status, error) {
	// Magic packets are harmless to repeat, and machines already online are left out of
	// the plan, so a resumed wake step simply wakes again what is still asleep.
	j := r.Env.Journal
	plan, _, err := r.wakePlan(ctx, occ)
	if err != nil {
		return "", journal.Failed, err
	}
	tr := r.Env.Wol
	rep, err := wol.Send(ctx, plan, tr)
	if err != nil {
		return "", journal.Failed, err
	}
	sent := map[string]wol.HostSend{}
	var targets []target
	for _, h := range rep.Hosts {
		sent[strings.ToUpper(h.Name)] = h
		targets = append(targets, target{ResourceID: h.ResourceID, Name: h.Name})
	}
	note := fmt.Sprintf("%d packets to %d machines on %d subnets", rep.Local+rep.Relayed, len(rep.Hosts), len(rep.Subnets))
	for _, sn := range rep.Subnets {
		if sn.Method == wol.MethodSite { // the count the site answered (NumSleepers), not one assumed
			note = joinNote(note, fmt.Sprintf("the site woke through awake clients: %d sleepers", rep.Site))
			break
		}
	}
	if occ.Step.Barrier != nil && len(targets) > 0 {
		bn, err := r.barrier(ctx, occ.Step.Barrier, targets)
		if err != nil {
			return note, journal.Failed, err
		}
		note = joinNote(note, bn)
	}
	conf, err := wol.Confirm(ctx, r.Env.Site, plan, wol.ConfirmOptions{Sent: rep})
	if err != nil {
		return note, journal.Failed, err
	}
	now := r.Env.Clock.Now()
	for _, h := range conf.Hosts {
		out, reason := journal.OutcomeOK, string(h.Outcome)
		switch h.Outcome {
		case wol.OutcomeWoke, wol.OutcomeAlreadyOnline:
		case wol.OutcomeNoMAC, wol.OutcomeNoRoute:
			out = journal.Skipped
			reason = joinNote(reason, h.Reason)
		default:
			out = journal.OutcomeFailed
			reason = joinNote(reason, h.Reason)
		}
		s := sent[strings.ToUpper(h.Name)]
		w := journal.Wake{Run: r.run.ID, Step: st.ID, Host: h.Name, ResourceID: h.ResourceID, Method: string(h.Method),
			Packets: s.Packets, Sent: rep.Started, OnlineBefore: h.Outcome == wol.OutcomeAlreadyOnline}
		if h.Outcome == wol.OutcomeWoke {
			w.Woke = now
		}
		if h.Outcome != wol.OutcomeAlreadyOnline {
			if err := j.RecordWake(ctx, w); err != nil {
				return note, journal.Failed, err
			}
		}
		if err := j.Record(ctx, journal.HostOutcome{Run: r.run.ID, Step: st.ID, Host: h.Name, ResourceID: h.ResourceID,
			Action: actWake, Attempt: 1, Outcome: out, Reason: reason, Channel: string(h.Method), At: now}); err != nil {
			return note, journal.Failed, err
		}
	}
	t := conf.Total
	return joinNote(note, fmt.Sprintf("woke %d, no answer %d, already online %d", t.Woke, t.NoAnswer, t.AlreadyOnline)), "", nil
}

// wakePlan plans a wake step from the site database (the wol planner): the step's
// collection, else the night's scope, else every machine, in the profile's mode. It sends
// nothing (the dry run shows it).
func (r *Runner) wakePlan(ctx context.Context, occ night.Occurrence) (*wol.Plan, int, error) {
	var err error
	opt := wol.DefaultOptions()
	if r.Env.WolMode != "" {
		opt.Mode = r.Env.WolMode
	}
	coll := r.scopeID
	if occ.Step.Collection != "" {
		if coll, err = resolveCollection(ctx, r.Env.Site, occ.Step.Collection); err != nil {
			return nil, 0, err
		}
	}
	if coll != "" {
		opt.Collection = coll
	} else {
		opt.All = true
	}
	if r.Env.WolTune != nil {
		r.Env.WolTune(&opt)
	}
	plan, err := opt.Plan(ctx, r.Env.Site)
	if err != nil || len(r.exclusions) == 0 {
		return plan, 0, err
	}
	// The excluded machines get no packet and relay none.
	ex, err := r.ExcludedHosts(ctx)
	if err != nil {
		return nil, 0, err
	}
	return plan, excludeFromWake(plan, ex), nil
}
