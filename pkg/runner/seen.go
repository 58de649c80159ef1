package runner

import (
	"context"
	"math"
	"time"
)

// SeenShare is issue 17's acceptance figure: the patched share of the eligible machines
// that the site saw online at least once since the night began. A machine counts as seen
// when it is online now (CNIsOnline) or its last-online or last-offline time
// (CNLastOnlineTime, CNLastOfflineTime: v_CombinedDeviceResources, configmgr.md) is at or
// after Since (a machine was online until it went offline); the others are "not seen"
// (NotSeen, queries/followup_not_seen.sql) and stay out of the share (they are listed
// apart, with those two times).
// Machines the plan excludes and ineligible clients (inactive, unhealthy) are left out as
// in the morning report.
type SeenShare struct {
	Since      time.Time `json:"since"`       // the night's first step
	Eligible   int64     `json:"eligible"`    // eligible machines in scope
	Seen       int64     `json:"seen"`        // of them, online at least once since Since
	NotSeen    int64     `json:"not_seen"`    // Eligible - Seen
	Patched    int64     `json:"patched"`     // of the seen machines, patched
	PatchedPct float64   `json:"patched_pct"` // Patched / Seen, one decimal
}

// SeenSinceNight measures SeenShare from the site's views now. notSeen is NotSeen's list,
// which the share counts as not seen, so that the figure and the report's list agree (the
// caller has read it already).
func (r *Runner) SeenSinceNight(ctx context.Context, notSeen []NotSeenHost) (SeenShare, error) {
	out := SeenShare{Since: r.NightStart()}
	excluded, err := r.ExcludedHosts(ctx)
	if err != nil {
		return out, err
	}
	unseen := make(map[int64]bool, len(notSeen))
	for _, h := range notSeen {
		unseen[h.ResourceID] = true
	}
	err = r.eachState(ctx, func(h hostState) error {
		if _, x := excluded[h.ResourceID]; x || !h.Eligible {
			return nil
		}
		out.Eligible++
		if unseen[h.ResourceID] {
			return nil
		}
		out.Seen++
		if h.Patched() {
			out.Patched++
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	out.NotSeen = out.Eligible - out.Seen
	if out.Seen > 0 {
		out.PatchedPct = math.Round(1000*float64(out.Patched)/float64(out.Seen)) / 10
	}
	return out, nil
}
