package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/remote"
)

// RepairEvery is how often the follow-up asks one machine for a client repair at most: a
// repair runs ccmrepair in the background, and the follow-up's next scans and installs
// show whether it helped; asking again every round would only restart it.
const RepairEvery = 3 * 24 * time.Hour

// followUpRepair runs after a follow-up install step when the plan opts in
// (follow_up.repair_client): each messed-up machine (MessedUp leaves the plan's excluded
// ones out) online now, not asked in the last
// RepairEvery (a request that reached the client counts, even one it refused) is asked for
// a ConfigMgr client repair (client.Repair,
// SMS_Client.RepairClient, UNCONFIRMED: the script checks that the client has the method
// and answers "not available" otherwise). Every request is journaled (action repair, in
// the install step, outside its counts); a repair is never counted as a fix: only the
// follow-up's later scans and installs can show one. A halted step repairs nothing.
func (r *Runner) followUpRepair(ctx context.Context, occ night.Occurrence, st journal.Step, messed []MessedHost, status journal.Status) (string, error) {
	if r.Plan.FollowUp == nil || !r.Plan.FollowUp.RepairClient || len(messed) == 0 || status == journal.Halted ||
		!night.InFollowUp(occ.StepID) || !occ.Step.Action.Installs() {
		return "", nil
	}
	now := r.Env.Clock.Now()
	last := map[string]time.Time{}
	err := r.Env.Journal.EachHostOutcome(ctx, journal.Filter{Run: r.run.ID, Action: journal.ActionRepair}, func(o journal.HostOutcome) error {
		// Answered: requested, not available, refused (the method failed) or the script
		// failed on the client. No connection or no answer in time is asked again.
		switch o.Outcome {
		case journal.OutcomeOK, journal.Skipped, journal.OutcomeFailed, journal.Script:
			last[strings.ToUpper(o.Host)] = o.At
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	byName := map[string]MessedHost{}
	var todo []string
	offline := 0
	for _, m := range messed {
		k := strings.ToUpper(m.Host)
		if !m.online {
			offline++ // asked on a later follow-up step that finds it online
			continue
		}
		if at, ok := last[k]; ok && now.Sub(at) < RepairEvery {
			continue
		}
		byName[k] = m
		todo = append(todo, m.Host)
	}
	if len(todo) == 0 {
		if offline > 0 {
			return fmt.Sprintf("client repair (unconfirmed API): 0 requested, %d offline", offline), nil
		}
		return "", nil
	}
	var asked, absent, failedN int
	var mu sync.Mutex
	count := func(p *int) { mu.Lock(); *p++; mu.Unlock() }
	record := func(host string, out journal.Outcome, reason string, code int64) error {
		m := byName[strings.ToUpper(host)]
		return r.Env.Journal.Record(ctx, journal.HostOutcome{Run: r.run.ID, Step: st.ID, Host: m.Host, ResourceID: m.ResourceID,
			Action: journal.ActionRepair, Outcome: out, Reason: reason, ErrorCode: code, Channel: "winrm", At: r.Env.Clock.Now()})
	}
	// Not retried within the step: a request that may have reached the client is not sent
	// twice (the next follow-up day may ask again after RepairEvery).
	remote.FanOut(ctx, func(yield func(string) bool) {
		for _, h := range todo {
			if !yield(h) {
				return
			}
		}
	}, remote.FanOutOptions{Concurrency: r.Env.Concurrency, Retries: 0, PerHostTimeout: r.Env.HostTimeout,
		Total: len(todo), Label: occ.ID + " repair"},
		func(ctx context.Context, host string) (string, error) {
			c, release, err := r.Env.Hosts.Client(host)
			if err != nil {
				return "", err
			}
			defer release()
			res, err := client.Repair(ctx, c)
			if err != nil {
				return "", err
			}
			if !res.Available {
				count(&absent)
				return "not available", record(host, journal.Skipped, "client repair not available: "+res.Reason, 0)
			}
			count(&asked)
			return "requested", record(host, journal.OutcomeOK, "client repair requested (ccmrepair runs in the background)", 0)
		},
		func(res remote.HostResult[string]) {
			if res.Outcome == remote.OutcomeOK || res.Outcome == remote.OutcomeCanceled {
				return
			}
			count(&failedN)
			out, reason := failureOutcome(res.Err)
			if err := record(res.Host, out, "client repair: "+reason, 0); err != nil {
				r.Env.Log.Error("journal write failed", "host", res.Host, "error", err)
			}
		})
	note := fmt.Sprintf("client repair (unconfirmed API): %d requested, %d not available, %d failed", asked, absent, failedN)
	if offline > 0 {
		note += fmt.Sprintf(", %d offline", offline)
	}
	return note, nil
}
