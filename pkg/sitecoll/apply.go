package sitecoll

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/clock"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/wql"
)

// ApplyOptions control Apply.
type ApplyOptions struct {
	// Wait bounds how long Apply waits for the provider to report the changed collections
	// evaluated (CurrentStatus ready and a LastRefreshTime later than before). 0 reads the
	// status once and does not wait.
	Wait time.Duration
	// Poll is the pause between status reads; 0 means 10 seconds.
	Poll time.Duration
	// Yes carries out deletes without asking.
	Yes bool
	// Confirm is asked before deletes unless Yes; with neither, deletes are refused.
	Confirm func(p *Plan) (bool, error)
	// Now and Sleep are the clock of the wait (nil: the wall clock); the night runner
	// passes its own, so that the lab's simulated night does not wait in real time.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultPoll is the pause between status reads.
const DefaultPoll = 10 * time.Second

// Result is what Apply did.
type Result struct {
	NoOp        bool      `json:"no_op"`               // nothing to do: the site is as wanted
	Cancelled   bool      `json:"cancelled,omitempty"` // deletes were not confirmed; nothing written
	Collections []Applied `json:"collections"`
	Deleted     []string  `json:"deleted"`
	// NotEvaluated lists the collections the provider had not reported evaluated when the
	// wait ended; their member counts may still change.
	NotEvaluated []string `json:"not_evaluated,omitempty"`
}

// Applied is one written collection.
type Applied struct {
	Action        Action `json:"action"`
	Family        string `json:"family"`
	Key           string `json:"key"`
	Name          string `json:"name"`
	CollectionID  string `json:"collection_id"`
	Expected      int64  `json:"expected_members"` // from the SQL twin when planned
	Members       int64  `json:"members"`          // MemberCount the provider reports; -1 unknown
	Evaluated     bool   `json:"evaluated"`
	CurrentStatus int    `json:"current_status"`
}

// Apply carries out the plan through the provider in one call (every create, property,
// rule, folder and refresh change, and the deletes), then waits up to opt.Wait for the
// provider to report the changed collections evaluated and reads their member counts.
// A plan without changes does nothing, so applying twice makes the second a no-op. Deletes
// need opt.Yes or a confirming opt.Confirm.
func Apply(ctx context.Context, p *Plan, prov *provider.Provider, opt ApplyOptions) (*Result, error) {
	res := &Result{Collections: []Applied{}, Deleted: []string{}}
	if p.Pending() == 0 {
		res.NoOp = true
		return res, nil
	}
	deletes := 0
	for _, c := range p.Changes {
		if c.Action == Delete {
			deletes++
		}
	}
	if deletes > 0 && !opt.Yes {
		if opt.Confirm == nil {
			return nil, exit.Usagef("pass --yes to delete them", "the plan deletes %d collections and there is nobody to confirm", deletes)
		}
		ok, err := opt.Confirm(p)
		if err != nil {
			return nil, err
		}
		if !ok {
			res.Cancelled = true
			return res, nil
		}
	}
	req, err := p.Request()
	if err != nil {
		return nil, err
	}
	out, err := prov.ApplyCollections(ctx, req)
	if err != nil {
		return nil, err
	}
	res.Deleted = append(res.Deleted, out.Deleted...)
	byKey := map[string]provider.CollectionResult{}
	for _, r := range out.Collections {
		byKey[r.Key] = r
	}
	before := map[string]*time.Time{}
	var ids []string
	for _, c := range p.Changes {
		if !c.Writes() || c.Action == Delete {
			continue
		}
		r, ok := byKey[c.desired.OwnerTag]
		if !ok || r.CollectionID == "" {
			return nil, fmt.Errorf("the provider did not report collection %q", c.Name)
		}
		res.Collections = append(res.Collections, Applied{Action: c.Action, Family: c.Family, Key: c.Key, Name: c.Name,
			CollectionID: r.CollectionID, Expected: c.Members, Members: -1})
		if c.actual != nil {
			before[r.CollectionID] = c.actual.LastRefresh
		}
		ids = append(ids, r.CollectionID)
	}
	pending, err := waitEvaluated(ctx, prov, ids, before, opt, res)
	if err != nil {
		return nil, err
	}
	res.NotEvaluated = pending
	return res, nil
}

// waitEvaluated polls the provider until every collection is ready with a refresh time
// later than before (any refresh time for a new one), or opt.Wait has passed. It fills
// the member counts and returns the collections still not evaluated.
func waitEvaluated(ctx context.Context, prov *provider.Provider, ids []string, before map[string]*time.Time, opt ApplyOptions, res *Result) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	poll := opt.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	now, sleep := opt.Now, opt.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = clock.Sleep
	}
	deadline := now().Add(opt.Wait)
	index := map[string]int{}
	for i, a := range res.Collections {
		index[a.CollectionID] = i
	}
	pending := ids
	for {
		st, err := prov.CollectionStatus(ctx, pending)
		if err != nil {
			return nil, err
		}
		var still []string
		seen := map[string]bool{}
		for _, s := range st {
			seen[s.CollectionID] = true
			i, ok := index[s.CollectionID]
			if !ok {
				continue
			}
			a := &res.Collections[i]
			a.CurrentStatus = s.CurrentStatus
			if s.Found {
				a.Members = s.MemberCount
			}
			b := before[s.CollectionID]
			done := s.Found && s.CurrentStatus == provider.StatusReady && s.LastRefreshTime != nil &&
				(b == nil || s.LastRefreshTime.After(*b))
			a.Evaluated = done
			if !done {
				still = append(still, s.CollectionID)
			}
		}
		for _, id := range pending {
			if !seen[id] {
				still = append(still, id)
			}
		}
		pending = still
		if len(pending) == 0 || !now().Before(deadline) {
			return pending, nil
		}
		if err := sleep(ctx, min(poll, deadline.Sub(now()))); err != nil {
			return nil, fmt.Errorf("wait for collection evaluation: %w", err)
		}
	}
}

// Request turns the plan into the provider request that carries it out: creates and
// changes with their rules, folders and a refresh each, and the deletes.
func (p *Plan) Request() (provider.CollectionsRequest, error) {
	req := provider.CollectionsRequest{Collections: []provider.CollectionChange{}, Deletes: []provider.CollectionDelete{}}
	for _, c := range p.Changes {
		switch c.Action {
		case Delete:
			a := c.actual
			req.Deletes = append(req.Deletes, provider.CollectionDelete{CollectionID: a.CollectionID, OwnerTag: tagOf(a)})
			continue
		case Create, Update, UpdateMembers:
		default:
			continue
		}
		d := c.desired
		ch := provider.CollectionChange{Key: d.OwnerTag, OwnerTag: d.OwnerTag, Refresh: true}
		if c.actual != nil {
			ch.CollectionID = c.actual.CollectionID
		}
		if c.SetProps {
			ch.Props = &provider.CollectionProps{Name: d.Name, Comment: d.Comment, LimitToCollectionID: d.Limit,
				RefreshType: d.Refresh.Type, RefreshDays: d.Refresh.Days, RefreshHours: d.Refresh.Hours}
		}
		if c.Move {
			ch.Folder = d.Folder
		}
		for _, q := range c.RemoveQuery {
			ch.RemoveQueryIDs = append(ch.RemoveQueryIDs, uint32(q))
		}
		for _, r := range c.RemoveDirect {
			ch.RemoveDirect = append(ch.RemoveDirect, uint32(r))
		}
		if c.SetQuery {
			ch.AddQueryRules = append(ch.AddQueryRules, provider.QueryRule{RuleName: d.RuleName, QueryExpression: d.Query})
		}
		if len(c.AddDirect) > 0 {
			names := map[int64]string{}
			for _, m := range d.Members {
				names[m.ResourceID] = m.Name
			}
			for _, id := range c.AddDirect {
				if id <= 0 || id > 0xFFFFFFFF {
					return req, exit.Usagef("", "resource ID %d of %q is out of range", id, d.Name)
				}
				ch.AddDirect = append(ch.AddDirect, provider.DirectRule{ResourceID: uint32(id), RuleName: directRuleName(names[id], id)})
			}
		}
		req.Collections = append(req.Collections, ch)
	}
	return req, nil
}

func tagOf(a *Actual) string { return collections.OwnerTag(a.Family, a.Key) }

// directRuleName is the machine name, as the console names direct rules, or
// "ResourceID <n>" when the name is empty or unusable.
func directRuleName(name string, id int64) string {
	if name != "" && wql.Comment(name) == nil && len(name) <= 255 {
		return name
	}
	return "ResourceID " + strconv.FormatInt(id, 10)
}
