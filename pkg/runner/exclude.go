package runner

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
	"github.com/patchnight/patchnight/queries"
)

// resolveExclusions resolves the plan's and the profile's excluded collections once, when
// the runner is made: a collection that cannot be found stops the night before it starts
// rather than leaving its machines unprotected.
func (r *Runner) resolveExclusions(ctx context.Context) error {
	seen := map[string]bool{}
	for _, key := range append(append([]string{}, r.Plan.Exclude...), r.Env.Exclude...) {
		key = strings.TrimSpace(key)
		if key == "" {
			continue
		}
		c, err := r.Env.Site.ResolveCollection(ctx, key)
		if err != nil {
			return fmt.Errorf("excluded collection %q: %w", key, err)
		}
		if seen[strings.ToUpper(c.ID)] {
			continue
		}
		seen[strings.ToUpper(c.ID)] = true
		r.exclusions = append(r.exclusions, *c)
	}
	// The morning report's per-update query takes a fixed number of them (queries.MaxExcluded).
	if len(r.exclusions) > queries.MaxExcluded {
		return exit.Usagef("put the machines to leave alone in fewer collections (one collection can include others)",
			"the plan and the profile exclude %d collections; a night takes at most %d", len(r.exclusions), queries.MaxExcluded)
	}
	return nil
}

// Exclusions lists the night's excluded collections (plan and profile), resolved.
func (r *Runner) Exclusions() []site.CollectionRef { return r.exclusions }

// exclusionIDs lists the CollectionIDs of the night's excluded collections.
func (r *Runner) exclusionIDs() []string {
	ids := make([]string, len(r.exclusions))
	for i, c := range r.exclusions {
		ids[i] = c.ID
	}
	return ids
}

// ExcludedHosts reads the members of the excluded collections now (membership changes
// between steps): ResourceID to the name of the first excluded collection it is in.
func (r *Runner) ExcludedHosts(ctx context.Context) (map[int64]ExcludedHost, error) {
	out := map[int64]ExcludedHost{}
	for _, c := range r.exclusions {
		err := r.Env.Site.Each(ctx, "collection_members", site.Params{"collection": c.ID}, func(rows *sql.Rows) error {
			var h ExcludedHost
			var direct, client site.Flag
			var domain string
			if err := rows.Scan(&h.ResourceID, &h.Name, &direct, &client, &domain); err != nil {
				return fmt.Errorf("read excluded collection member: %w", err)
			}
			if _, ok := out[h.ResourceID]; !ok {
				h.Collection = c.Name
				out[h.ResourceID] = h
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("members of excluded collection %s: %w", c.ID, err)
		}
	}
	return out, nil
}

// ExcludedHost is a member of an excluded collection.
type ExcludedHost struct {
	ResourceID int64  `json:"resource_id"`
	Name       string `json:"name"`
	Collection string `json:"collection"` // the excluded collection's name
}

// withoutExcluded drops the excluded machines from a step's targets.
func (r *Runner) withoutExcluded(ctx context.Context, ts []target) ([]target, int, error) {
	if len(r.exclusions) == 0 {
		return ts, 0, nil
	}
	ex, err := r.ExcludedHosts(ctx)
	if err != nil {
		return nil, 0, err
	}
	kept := ts[:0]
	for _, t := range ts {
		if _, out := ex[t.ResourceID]; !out {
			kept = append(kept, t)
		}
	}
	return kept, len(ts) - len(kept), nil
}

// excludeFromWake takes the excluded machines out of a wake plan: no packet for them, and
// none of them used as a relay. It returns how many machines it took out.
func excludeFromWake(p *wol.Plan, ex map[int64]ExcludedHost) int {
	if len(ex) == 0 {
		return 0
	}
	removed := 0
	names := map[string]bool{}
	for _, h := range ex {
		names[strings.ToUpper(h.Name)] = true
	}
	subnets := p.Subnets[:0]
	for _, g := range p.Subnets {
		wakes := g.Wakes[:0]
		for _, w := range g.Wakes {
			if _, out := ex[w.ResourceID]; !out {
				wakes = append(wakes, w)
			} else {
				removed++
			}
		}
		g.Wakes = wakes
		via := g.Via[:0]
		for _, v := range g.Via {
			host, _, _ := strings.Cut(v, ".")
			if !names[strings.ToUpper(v)] && !names[strings.ToUpper(host)] {
				via = append(via, v)
			}
		}
		g.Via = via
		if len(g.Wakes) > 0 {
			subnets = append(subnets, g)
		}
	}
	p.Subnets = subnets
	keep := func(hs []wol.Host) []wol.Host {
		out := hs[:0]
		for _, h := range hs {
			if _, gone := ex[h.ResourceID]; !gone {
				out = append(out, h)
			} else {
				removed++
			}
		}
		return out
	}
	p.Skipped, p.Awake = keep(p.Skipped), keep(p.Awake)
	return removed
}

// excludeFromNotices hands the excluded machines to a Notifier that can leave them alone
// (notify.Notices can); one that cannot is refused rather than allowed to tell them.
func (r *Runner) excludeFromNotices(ctx context.Context) error {
	if len(r.exclusions) == 0 || r.Env.Notifier == nil {
		return nil
	}
	n, ok := r.Env.Notifier.(interface{ SetExcluded(map[int64]bool) })
	if !ok {
		return fmt.Errorf("the notice steps cannot leave the excluded collections alone")
	}
	ex, err := r.ExcludedHosts(ctx)
	if err != nil {
		return err
	}
	skip := make(map[int64]bool, len(ex))
	for id := range ex {
		skip[id] = true
	}
	n.SetExcluded(skip)
	return nil
}
