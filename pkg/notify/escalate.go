package notify

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/sitecoll"
	"github.com/patchnight/patchnight/pkg/wql"
)

// addPendingToCollection adds the machines escalated but not yet in the needs-attention
// collection to it, except those in skip (the night's excluded collections): they stay
// recorded and pending, for a run that no longer excludes them. A provider failure is
// reported in the result, not returned: the escalations stay recorded and the next run
// tries again.
func addPendingToCollection(ctx context.Context, env Env, skip map[int64]bool, res *MissingResult) error {
	all, err := env.Journal.Escalations(ctx)
	if err != nil {
		return err
	}
	var members []sitecoll.Member
	var hosts []string
	seen := map[string]bool{}
	for _, e := range all {
		k := strings.ToUpper(e.Host)
		if e.CollectionID != "" || seen[k] || e.ResourceID <= 0 || skip[e.ResourceID] {
			continue
		}
		seen[k] = true
		members = append(members, sitecoll.Member{ResourceID: e.ResourceID, Name: e.Host})
		hosts = append(hosts, e.Host)
	}
	if len(members) == 0 {
		return nil
	}
	if env.Provider == nil {
		res.CollectionError = "no SMS Provider: the escalations are recorded, not added to the needs-attention collection"
		return nil
	}
	id, err := AddToNeedsAttention(ctx, env.Site, env.Provider, members, env.now())
	if err != nil {
		res.CollectionError = oneLine(err)
		env.log().Warn("escalated machines not added to the needs-attention collection", "error", res.CollectionError)
		return nil
	}
	res.Collection = id
	return env.Journal.SetEscalationCollection(ctx, id, hosts...)
}

// AddToNeedsAttention adds machines to the owned needs-attention collection (the family
// with the needs-attention rule in collections/, found by its owner tag), creating the
// collection first if the site does not have it, and asks for a refresh. Machines already
// members by a direct rule are not added twice. It returns the CollectionID.
func AddToNeedsAttention(ctx context.Context, db *site.DB, prov *provider.Provider, members []sitecoll.Member, now time.Time) (string, error) {
	defs, err := collections.Load()
	if err != nil {
		return "", err
	}
	family := ""
	for _, f := range defs.Families {
		if f.Rule == collections.NeedsAttention {
			family = f.Name
			break
		}
	}
	if family == "" {
		return "", exit.Usagef("define a family with rule needs-attention in collections/", "no needs-attention collection is defined")
	}
	plan, err := sitecoll.Build(ctx, db, defs, sitecoll.Request{Families: []string{family}, Now: now})
	if err != nil {
		return "", err
	}
	var want *sitecoll.Desired
	for _, d := range plan.Desired {
		if d.Family == family {
			want = d
			break
		}
	}
	if want == nil {
		return "", fmt.Errorf("the needs-attention collection was not planned")
	}
	id := ""
	for _, c := range plan.Changes {
		if c.Family == family && c.Key == want.Key {
			id = c.CollectionID
		}
	}
	if plan.Pending() > 0 {
		applied, err := sitecoll.Apply(ctx, plan, prov, sitecoll.ApplyOptions{})
		if err != nil {
			return "", fmt.Errorf("create the needs-attention collection: %w", err)
		}
		for _, a := range applied.Collections {
			if a.Family == family && a.Key == want.Key {
				id = a.CollectionID
			}
		}
	}
	if id == "" {
		return "", fmt.Errorf("the needs-attention collection has no CollectionID")
	}
	have := map[int64]bool{}
	for _, m := range want.Members {
		have[m.ResourceID] = true
	}
	change := provider.CollectionChange{Key: want.OwnerTag, CollectionID: id, OwnerTag: want.OwnerTag, Refresh: true}
	for _, m := range members {
		if have[m.ResourceID] || m.ResourceID <= 0 || m.ResourceID > 0xFFFFFFFF {
			continue
		}
		have[m.ResourceID] = true
		change.AddDirect = append(change.AddDirect, provider.DirectRule{ResourceID: uint32(m.ResourceID), RuleName: directRuleName(m)})
	}
	if len(change.AddDirect) == 0 {
		return id, nil
	}
	if _, err := prov.ApplyCollections(ctx, provider.CollectionsRequest{Collections: []provider.CollectionChange{change}}); err != nil {
		return "", fmt.Errorf("add %d machines to the needs-attention collection %s: %w", len(change.AddDirect), id, err)
	}
	return id, nil
}

// directRuleName is the machine's name, as the console names direct rules, or
// "ResourceID <n>" when the name cannot be a rule name.
func directRuleName(m sitecoll.Member) string {
	if m.Name != "" && len(m.Name) <= 255 && wql.Comment(m.Name) == nil {
		return m.Name
	}
	return "ResourceID " + strconv.FormatInt(m.ResourceID, 10)
}

// Escalation is one machine that needs a person: its users were told about updates it
// still misses at least the threshold number of times. Updates lists each such update;
// Escalated says whether a notice run has escalated the machine (recorded, added to the
// needs-attention collection) or it is only due for escalation at the next run.
type Escalation struct {
	Host         string                `json:"host"`
	ResourceID   int64                 `json:"resource_id,omitempty"`
	Users        []string              `json:"users"` // the users told
	Escalated    bool                  `json:"escalated"`
	EscalatedAt  *time.Time            `json:"escalated_at,omitempty"`
	CollectionID string                `json:"collection_id,omitempty"` // the needs-attention collection, once added
	Updates      []EscalatedUpdate     `json:"updates"`
	Notices      int                   `json:"notices"` // notices delivered about these updates (one notice naming several counts once)
	First        time.Time             `json:"first"`
	Last         time.Time             `json:"last"`
	History      []journal.Notice      `json:"history"` // every notice to the machine, delivered or not, oldest first
	Watcher      []journal.WatchAction `json:"watcher,omitempty"`
}

// EscalatedUpdate is one update an escalated machine still misses (or missed).
type EscalatedUpdate struct {
	Update           string     `json:"update"` // ArticleID or BulletinID
	Ref              string     `json:"ref"`    // KB5071234 or MS17-010
	ArticleID        string     `json:"article_id,omitempty"`
	BulletinID       string     `json:"bulletin_id,omitempty"`
	Title            string     `json:"title,omitempty"`
	Notices          int        `json:"notices"`
	StillMissing     bool       `json:"still_missing"`
	EnforcementState int        `json:"enforcement_state,omitempty"` // topic 402
	ErrorCode        int64      `json:"error_code,omitempty"`        // LastErrorCode (v_UpdateComplianceStatus)
	Error            string     `json:"error,omitempty"`             // the code as 0x80240022
	EscalatedAt      *time.Time `json:"escalated_at,omitempty"`
}

// EscalationList is the result of Escalations, for output.
type EscalationList struct {
	Threshold   int          `json:"threshold"`
	Escalations []Escalation `json:"escalations"`
}

// Escalations lists the machines that need a person, for `notify escalations` and the
// morning report: every machine a notice run escalated, and every machine whose users were
// told about an update at least threshold times while the site still reports it missing
// (due for escalation). Per machine: the users told, the updates with their notice counts,
// whether each is still missing, its enforcement state and error code from the site
// database, and the notice history. One site query per update involved.
func Escalations(ctx context.Context, j *journal.DB, db *site.DB, threshold int) ([]Escalation, error) {
	if threshold < 1 {
		return nil, exit.Usagef("use 1 or more", "threshold %d: a machine must be told at least once before it is escalated", threshold)
	}
	recorded, err := j.Escalations(ctx)
	if err != nil {
		return nil, err
	}
	tallies, err := j.NoticeTallies(ctx, missingKind, 1)
	if err != nil {
		return nil, err
	}
	type key struct{ host, update string }
	count := map[key]journal.NoticeTally{}
	for _, t := range tallies {
		count[key{t.Host, t.Update}] = t
	}
	wanted := map[key]bool{}
	rec := map[key]journal.Escalation{}
	for _, e := range recorded {
		k := key{strings.ToUpper(e.Host), strings.ToUpper(e.Update)}
		wanted[k], rec[k] = true, e
	}
	for k, t := range count {
		if t.Count >= threshold {
			wanted[k] = true
		}
	}
	if len(wanted) == 0 {
		return []Escalation{}, nil
	}
	// The site's view of each update involved: who still misses it, with codes.
	type siteRow struct {
		name         string
		rid          int64
		title        string
		state        int
		code         int64
		article, bul string
	}
	missing := map[key]siteRow{}
	updates := map[string]bool{}
	for k := range wanted {
		updates[k.update] = true
	}
	for _, u := range slices.Sorted(maps.Keys(updates)) {
		p := site.Params{"article": "", "bulletin": "", "group": int64(0), "collection": ""}
		if ref, err := fleet.ParseUpdateRef(u); err == nil {
			p["article"], p["bulletin"] = ref.ArticleID, ref.BulletinID
		} else {
			continue // not an id a query can take; listed from the journal alone
		}
		err := db.Each(ctx, "notify_missing", p, func(r *sql.Rows) error {
			m, err := scanMissing(r)
			if err != nil {
				return fmt.Errorf("%w (update %s)", err, u)
			}
			s := siteRow{name: m.name, rid: m.rid, title: m.u.Title, state: m.u.EnforcementState,
				code: m.u.ErrorCode, article: m.u.ArticleID, bul: m.u.BulletinID}
			k := key{strings.ToUpper(s.name), u}
			if wanted[k] {
				if _, dup := missing[k]; !dup {
					missing[k] = s
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	byHost := map[string]*Escalation{}
	for k := range wanted {
		s, still := missing[k]
		e, escalated := rec[k]
		t := count[k]
		if !escalated && !still {
			continue // told often, but installed since: nothing to escalate
		}
		x := byHost[k.host]
		if x == nil {
			x = &Escalation{Host: k.host, ResourceID: t.ResourceID, Users: []string{}}
			byHost[k.host] = x
		}
		u := EscalatedUpdate{Update: k.update, Notices: t.Count, StillMissing: still}
		if escalated {
			at := e.At
			u.EscalatedAt = &at
			u.Title, u.ArticleID, u.BulletinID, u.ErrorCode = e.Title, e.ArticleID, e.BulletinID, e.ErrorCode
			x.Host = e.Host
			if e.ResourceID > 0 {
				x.ResourceID = e.ResourceID
			}
			x.Escalated = true
			if x.EscalatedAt == nil || at.Before(*x.EscalatedAt) {
				x.EscalatedAt = &at
			}
			if e.CollectionID != "" {
				x.CollectionID = e.CollectionID
			}
			if u.Notices < e.Notices {
				u.Notices = e.Notices
			}
		}
		if still {
			x.Host, x.ResourceID = s.name, s.rid
			u.Title, u.ArticleID, u.BulletinID = s.title, s.article, s.bul
			u.EnforcementState, u.ErrorCode = s.state, s.code
		}
		u.Ref = updateRef(u.ArticleID, u.BulletinID)
		if u.ArticleID == "" && u.BulletinID == "" {
			u.Ref = k.update
		}
		u.Error = fleet.HResult(u.ErrorCode)
		x.Updates = append(x.Updates, u)
		x.Notices = max(x.Notices, u.Notices) // counted from the history below
		if !t.First.IsZero() && (x.First.IsZero() || t.First.Before(x.First)) {
			x.First = t.First
		}
		if t.Last.After(x.Last) {
			x.Last = t.Last
		}
	}
	out := make([]Escalation, 0, len(byHost))
	for _, x := range byHost {
		slices.SortFunc(x.Updates, func(a, b EscalatedUpdate) int { return strings.Compare(a.Ref, b.Ref) })
		hist, err := j.Notices(ctx, x.Host)
		if err != nil {
			return nil, err
		}
		x.History = hist
		if x.History == nil {
			x.History = []journal.Notice{}
		}
		// One notice tells a machine about all its missing updates at once: count each
		// delivered notice about these updates once, as the journal's NoticeCount does,
		// not once per update it named.
		about := map[string]bool{}
		for _, u := range x.Updates {
			about[strings.ToUpper(u.Update)] = true
		}
		times := map[int64]bool{}
		for _, n := range hist {
			if n.Delivered && n.Kind == missingKind && about[strings.ToUpper(n.Update)] {
				times[n.At.UnixNano()] = true
			}
		}
		x.Notices = max(x.Notices, len(times))
		users := map[string]bool{}
		for _, n := range hist {
			if n.Delivered && n.User != "" && !users[strings.ToLower(n.User)] {
				users[strings.ToLower(n.User)] = true
				x.Users = append(x.Users, n.User)
			}
		}
		if x.Watcher, err = j.WatchActions(ctx, x.Host); err != nil {
			return nil, err
		}
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b Escalation) int { return strings.Compare(strings.ToUpper(a.Host), strings.ToUpper(b.Host)) })
	return out, nil
}
