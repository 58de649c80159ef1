package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/sitecoll"
)

// MessedHost is a machine the follow-up calls messed up (night.Messed): it failed its
// installs with the same error code again and again, over days.
type MessedHost struct {
	Host       string                `json:"host"`
	ResourceID int64                 `json:"resource_id,omitempty"`
	ErrorCode  int64                 `json:"error_code"`
	History    []journal.HostOutcome `json:"history"` // every failed install of the month, oldest first
}

// MessedUp applies the plan's messed-up rule to the month's failed installs in the journal
// (night and follow-up), in host order. A plan without a follow-up has no rule: nil.
func (r *Runner) MessedUp(ctx context.Context) ([]MessedHost, error) {
	if r.Plan.FollowUp == nil || r.run.ID == 0 {
		return nil, nil
	}
	rule := r.Plan.FollowUp.MessedUp
	byHost := map[string][]journal.HostOutcome{}
	err := r.Env.Journal.EachHostOutcome(ctx, journal.Filter{Run: r.run.ID, Action: actInstall, Outcome: journal.OutcomeFailed},
		func(o journal.HostOutcome) error {
			k := strings.ToUpper(o.Host)
			byHost[k] = append(byHost[k], o)
			return nil
		})
	if err != nil {
		return nil, err
	}
	var out []MessedHost
	for _, h := range byHost {
		codes := make([]int64, len(h))
		ats := make([]time.Time, len(h))
		for i, o := range h {
			codes[i], ats[i] = o.ErrorCode, o.At
		}
		if rule.IsMessedUp(codes, ats, r.Loc) {
			last := h[len(h)-1]
			out = append(out, MessedHost{Host: last.Host, ResourceID: last.ResourceID, ErrorCode: last.ErrorCode, History: h})
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToUpper(out[i].Host) < strings.ToUpper(out[j].Host) })
	return out, nil
}

// followUpMessed runs after a follow-up install step: the messed-up machines are added to
// the needs-attention collection (when the runner has the SMS Provider) and named in the
// step's note.
func (r *Runner) followUpMessed(ctx context.Context, occ night.Occurrence) (string, error) {
	if !strings.HasPrefix(occ.StepID, "follow-up-") || !occ.Step.Action.Installs() {
		return "", nil
	}
	hosts, err := r.MessedUp(ctx)
	if err != nil || len(hosts) == 0 {
		return "", err
	}
	var names []string
	var members []sitecoll.Member
	for _, h := range hosts {
		names = append(names, fmt.Sprintf("%s (0x%08X x%d)", h.Host, uint32(h.ErrorCode), len(h.History)))
		if h.ResourceID > 0 {
			members = append(members, sitecoll.Member{ResourceID: h.ResourceID, Name: h.Host})
		}
	}
	note := fmt.Sprintf("%d messed up: %s", len(hosts), strings.Join(names, ", "))
	if r.Env.Provider == nil || len(members) == 0 {
		return note + "; not added to the needs-attention collection (no SMS Provider)", nil
	}
	id, err := notify.AddToNeedsAttention(ctx, r.Env.Site, r.Env.Provider, members, r.Env.Clock.Now())
	if err != nil {
		r.Env.Log.Warn("messed-up machines not added to the needs-attention collection", "error", err)
		return note + "; not added to the needs-attention collection: " + oneLine(err.Error()), nil
	}
	return note + "; in needs-attention collection " + id, nil
}
