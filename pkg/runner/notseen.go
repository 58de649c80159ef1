package runner

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/site"
)

// NotSeenHost is an eligible machine the fast channel has not seen online since the night
// began (queries/followup_not_seen.sql): away, switched off, or gone.
type NotSeenHost struct {
	Host       string `json:"host"`
	ResourceID int64  `json:"resource_id"`
	// LastOnline is when it was last seen coming online (CNLastOnlineTime); nil = never.
	LastOnline *time.Time `json:"last_online"`
	// LastOffline is when it was last seen going offline (CNLastOfflineTime); nil = never.
	LastOffline *time.Time `json:"last_offline"`
}

// NightStart is when the runner's night begins: its first step (the follow-up's steps
// come after it). Zero without a plan or steps.
func (r *Runner) NightStart() time.Time {
	if r.Plan == nil {
		return time.Time{}
	}
	if tl := night.Timeline(r.Plan, r.Month, r.Loc); len(tl) > 0 {
		return tl[0].Time
	}
	return time.Time{}
}

// NotSeen lists, in name order, the eligible machines in scope (active, healthy clients)
// not seen online since the night began (NightStart), with the last times the fast channel
// saw them: offline now, and last online and last offline both before the night. Machines
// the profile excludes are left out, as the night's counts leave them out.
func (r *Runner) NotSeen(ctx context.Context) ([]NotSeenHost, error) {
	since := r.NightStart()
	ex, err := r.ExcludedHosts(ctx)
	if err != nil {
		return nil, err
	}
	out := []NotSeenHost{}
	err = r.Env.Site.Each(ctx, "followup_not_seen", site.Params{"scope": r.scopeID, "since": since}, func(rows *sql.Rows) error {
		var h NotSeenHost
		var on, off site.NullTime
		if err := rows.Scan(&h.ResourceID, &h.Host, &on, &off); err != nil {
			return fmt.Errorf("read machines not seen since the night: %w", err)
		}
		if _, out := ex[h.ResourceID]; out {
			return nil
		}
		h.LastOnline, h.LastOffline = on.Ptr(), off.Ptr()
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("machines not seen since the night: %w", err)
	}
	return out, nil
}

// notSeenGrid is the report's table of the machines not seen since the night.
func (f *FollowUpReport) notSeenGrid() output.Grid {
	g := output.Grid{Title: fmt.Sprintf("Not seen online since the night began (%s): %d machines",
		f.NotSeenSince.Format("2006-01-02 15:04"), len(f.NotSeen)),
		Header: []string{"Host", "Last online", "Last offline"}}
	when := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.In(f.NotSeenSince.Location()).Format("2006-01-02 15:04")
	}
	for _, h := range f.NotSeen {
		g.Rows = append(g.Rows, []string{h.Host, when(h.LastOnline), when(h.LastOffline)})
	}
	return g
}
