package runner

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/sitecoll"
)

// target is one machine a step acts on.
type target struct {
	ResourceID int64
	Name       string
	Online     bool
	User       string
}

// targets selects the step's machines (queries/night_targets.sql), within the step's
// collection if it names one, else the night's scope.
func (r *Runner) targets(ctx context.Context, selector, collection string) ([]target, error) {
	ts, _, err := r.targetsCounted(ctx, selector, collection)
	return ts, err
}

// targetsCounted is targets, and how many machines the plan's exclusions left out.
func (r *Runner) targetsCounted(ctx context.Context, selector, collection string) ([]target, int, error) {
	scope := r.scopeID
	if collection != "" {
		c, err := resolveCollection(ctx, r.Env.Site, collection)
		if err != nil {
			return nil, 0, err
		}
		scope = c
	}
	if selector == "" {
		selector = "all"
	}
	if groupSelector(selector) && (r.group == nil || r.group.CIID == 0) {
		// "Missing updates" without a group would mean every update the site knows: the
		// night acts on its own update group only, so it refuses instead of guessing.
		return nil, 0, exit.Usagef("name the night's software update group (--group), or use another selector",
			"selector %s needs the night's software update group, and none is set", selector)
	}
	attention := ""
	if selector == string(night.NeedsAttention) {
		id, err := r.attentionID(ctx)
		if err != nil {
			return nil, 0, err
		}
		attention = id
	}
	ts, err := site.Collect(ctx, r.Env.Site, "night_targets", site.Params{"scope": scope, "selector": selector,
		"group": r.group.CIID, "attention": attention}, scanTarget)
	if err != nil {
		return nil, 0, err
	}
	return r.withoutExcluded(ctx, ts)
}

// groupSelector reports whether a selector means "of the night's update group".
func groupSelector(s string) bool {
	switch night.Selector(s) {
	case night.MissingUpdates, night.PendingRestart, night.FailedInstalls:
		return true
	}
	return false
}

// scanTarget reads one row of queries/night_targets.sql. Online is CNIsOnline through
// COALESCE; its SQL type is unconfirmed, so it is read as a site.Flag.
func scanTarget(rows *sql.Rows) (target, error) {
	var t target
	var online site.Flag
	if err := rows.Scan(&t.ResourceID, &t.Name, &online, &t.User); err != nil {
		return t, fmt.Errorf("read target: %w", err)
	}
	t.Online = online.Bool()
	return t, nil
}

// attentionID finds the owned "needs attention" collection (owner tag family
// needs-attention), "" when the site has none yet.
func (r *Runner) attentionID(ctx context.Context) (string, error) {
	l, err := sitecoll.List(ctx, r.Env.Site, true)
	if err != nil {
		return "", err
	}
	for _, c := range l.Collections {
		if strings.Contains(c.Owner, ":needs-attention") {
			return c.CollectionID, nil
		}
	}
	return "", nil
}

// hostState is one machine's state for the night (queries/night_host_state.sql).
type hostState struct {
	ResourceID     int64
	Name           string
	Location       string
	Eligible       bool
	Active         bool
	Healthy        bool
	Online         bool
	ScanBucket     string
	ScanError      int64
	Known          bool // the last scan carried every update of the group
	Required       int64
	PendingRestart int64
	Failed         int64
	ErrorCode      int64
	LastOnline     site.NullTime
	ScanState      int64 // LastScanState of the publishing source's scan (topic 501; 0 when never scanned)
}

// Patched is the night's definition: eligible, every update of the group known from a
// scan, none still required.
func (h hostState) Patched() bool { return h.Eligible && h.Known && h.Required == 0 }

// eachState streams the state of every machine in scope.
func (r *Runner) eachState(ctx context.Context, fn func(hostState) error) error {
	return r.Env.Site.Each(ctx, "night_host_state", site.Params{"scope": r.scopeID, "group": r.group.CIID}, func(rows *sql.Rows) error {
		h, err := scanHostState(rows)
		if err != nil {
			return err
		}
		return fn(h)
	})
}

// scanHostState reads one row of queries/night_host_state.sql. The yes/no columns are
// CASE/COALESCE expressions (int on both engines), read as site.Flag all the same: Active0
// and CNIsOnline have an unconfirmed SQL type. Healthy is ClientCheckPass = 1 (2 means
// unhealthy), so it is an integer.
func scanHostState(rows *sql.Rows) (hostState, error) {
	var h hostState
	var elig, active, online, known site.Flag
	var healthy int64
	if err := rows.Scan(&h.ResourceID, &h.Name, &h.Location, &elig, &active, &healthy, &online, &h.ScanBucket,
		&h.ScanError, &known, &h.Required, &h.PendingRestart, &h.Failed, &h.ErrorCode, &h.LastOnline, &h.ScanState); err != nil {
		return h, fmt.Errorf("read host state: %w", err)
	}
	h.Eligible, h.Active, h.Healthy, h.Online, h.Known = elig.Bool(), active.Bool(), healthy == 1, online.Bool(), known.Bool()
	return h, nil
}

// measure counts eligible and patched machines and records it for the step, with the same
// count split by location and machine kind (the follow-up report's breakdown).
func (r *Runner) measure(ctx context.Context, step journal.StepID) (journal.Metric, error) {
	m := journal.Metric{Step: step, At: r.Env.Clock.Now()}
	ex, err := r.ExcludedHosts(ctx)
	if err != nil {
		return m, err
	}
	bd := r.newBreakdown(ctx)
	err = r.eachState(ctx, func(h hostState) error {
		if _, out := ex[h.ResourceID]; out {
			return nil // counted apart: the night leaves them alone
		}
		if h.Eligible {
			m.Eligible++
			if h.Patched() {
				m.Patched++
			}
			bd.add(h)
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	if err := r.Env.Journal.RecordMetric(ctx, m); err != nil {
		return m, err
	}
	return m, bd.record(ctx, r.Env.Journal, step)
}

// deployment is one deployment of the night's updates.
type deployment struct {
	ID             int64
	Name           string
	CollectionID   string
	CollectionName string
	Required       bool
	Start          time.Time
	Deadline       site.NullTime
	SuppressReboot bool
	NotifyUser     bool
	Enabled        bool
	Updates        int64
	GroupID        int64
}

// deployments lists the deployments of group (0 = every software update group deployment).
func deployments(ctx context.Context, db *site.DB, group int64) ([]deployment, error) {
	return site.Collect(ctx, db, "night_deployments", site.Params{"group": group}, scanDeployment)
}

// scanDeployment reads one row of queries/night_deployments.sql. SuppressReboot is a bit
// mask (CAST to int in the query); NotifyUser and AssignmentEnabled are flags whose SQL type
// is unconfirmed (bit or int), read as site.Flag. GroupID is the deployment's software
// update group (v_CIAssignmentToGroup.AssignedUpdateGroup), 0 for a deployment of single
// updates.
func scanDeployment(rows *sql.Rows) (deployment, error) {
	var d deployment
	var typ, suppress int64
	var notify, enabled site.Flag
	var start site.NullTime
	var grp sql.NullInt64
	if err := rows.Scan(&d.ID, &d.Name, &d.CollectionID, &d.CollectionName, &typ, &start, &d.Deadline,
		&suppress, &notify, &enabled, &d.Updates, &grp); err != nil {
		return d, fmt.Errorf("read deployment: %w", err)
	}
	d.Required, d.Start, d.SuppressReboot, d.NotifyUser, d.Enabled = typ == 1, start.Time, suppress != 0, notify.Bool(), enabled.Bool()
	d.GroupID = grp.Int64
	return d, nil
}

func resolveCollection(ctx context.Context, db *site.DB, key string) (string, error) {
	c, err := db.ResolveCollection(ctx, key)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}
