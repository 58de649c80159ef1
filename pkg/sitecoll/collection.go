// Package sitecoll (the engine; the definitions are package collections) keeps a site's
// patchnight collections in the state the definitions of package collections describe: it computes the desired collections from the definitions
// and site data (the updates of a software update group, the members of the SQL-computed
// families), compares them with the collections the site has, and produces a Plan of
// creates, updates, membership changes and deletes, which Apply carries out through the SMS
// Provider (package provider) in one call.
//
// patchnight owns a collection only when its comment ends with an owner tag,
// "[patchnight:<family>:<key>]"; it never changes or deletes any other collection, and it
// refuses to create a collection whose name another collection already has. Everything that
// could make a write fail or hit the wrong object is checked while planning, before
// anything is written.
//
// The lab double of the provider operations is package lab/labprovider.
package sitecoll

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wql"
)

// Request says which collections are wanted.
type Request struct {
	// Families to plan, by name; empty means every family. Families with the
	// missing-update rule need Group or Updates; without them they are left out of an
	// unfiltered plan (and prune keeps only their collections of Month).
	Families []string
	// Group is a software update group (title or CI_ID): one collection per update in it.
	Group string
	// Updates are update ids (KB5071234, 5071234, MS17-010): one collection each.
	Updates []string
	// Month is the patch month (YYYY-MM) for {{.Month}}; "" means the month of Now.
	Month string
	// Now is the clock (UTC); zero means time.Now().
	Now time.Time
	// Prune turns owned collections that are no longer wanted into deletes (otherwise
	// they are listed as stale and left alone).
	Prune bool
}

// Member is one machine of a collection.
type Member struct {
	ResourceID int64  `json:"resource_id"`
	Name       string `json:"name"`
}

// UpdateInfo is one update a missing-update collection is made for.
type UpdateInfo struct {
	Ref        string  `json:"ref"` // KB5071234 or MS17-010
	ArticleID  string  `json:"article_id,omitempty"`
	BulletinID string  `json:"bulletin_id,omitempty"`
	Title      string  `json:"title"`
	CIs        []int64 `json:"ci_ids"`
}

// Desired is one collection as the definitions want it.
type Desired struct {
	Family     string                 `json:"family"`
	Key        string                 `json:"key"`
	OwnerTag   string                 `json:"owner_tag"`
	Name       string                 `json:"name"`
	Comment    string                 `json:"comment"` // ends with OwnerTag
	Limit      string                 `json:"limiting_collection"`
	Refresh    collections.Refresh    `json:"-"`
	RefreshStr string                 `json:"refresh"`
	Folder     string                 `json:"folder"`
	Membership collections.Membership `json:"membership"`
	RuleName   string                 `json:"rule_name,omitempty"` // query rule name
	Query      string                 `json:"query,omitempty"`     // WQL of the query rule (built by pkg/wql)
	Members    []Member               `json:"members"`             // from the SQL twin; for direct families the direct rules
	Update     *UpdateInfo            `json:"update,omitempty"`
	SQL        string                 `json:"sql_twin"`
}

// Actual is one collection as the site has it.
type Actual struct {
	CollectionID   string
	Name           string
	Comment        string
	Limit          string
	RefreshType    int
	Folder         string
	BuiltIn        bool
	CollectionType int
	MemberCount    int64
	CurrentStatus  int
	LastRefresh    *time.Time
	Owned          bool   // the comment ends with an owner tag
	Family, Key    string // from the owner tag
	Queries        []QueryRule
	Direct         []int64 // ResourceIDs of direct rules, sorted
}

// QueryRule is a query rule of an actual collection.
type QueryRule struct {
	QueryID    int64  `json:"query_id"`
	RuleName   string `json:"rule_name"`
	Expression string `json:"expression"`
}

// Action is what a plan does to one collection.
type Action string

// Actions.
const (
	Create        Action = "create"  // the collection does not exist
	Update        Action = "update"  // properties, query rule or folder differ (maybe members too)
	UpdateMembers Action = "members" // only direct rules differ
	Delete        Action = "delete"  // owned and no longer wanted (prune)
	Stale         Action = "stale"   // owned and no longer wanted; left alone without prune
	None          Action = "none"    // as wanted
)

// Change is one line of a plan.
type Change struct {
	Action       Action   `json:"action"`
	Family       string   `json:"family"`
	Key          string   `json:"key"`
	Name         string   `json:"name"`
	CollectionID string   `json:"collection_id,omitempty"`
	Reasons      []string `json:"reasons,omitempty"`
	Members      int64    `json:"members"`         // wanted members (SQL twin); -1 when not computed
	Current      int64    `json:"current_members"` // members the site has now
	AddDirect    []int64  `json:"add_direct,omitempty"`
	RemoveDirect []int64  `json:"remove_direct,omitempty"`
	SetProps     bool     `json:"set_properties,omitempty"`
	SetQuery     bool     `json:"set_query_rule,omitempty"`
	RemoveQuery  []int64  `json:"remove_query_ids,omitempty"`
	Move         bool     `json:"move,omitempty"`

	desired *Desired
	actual  *Actual
}

// Writes reports whether the change writes anything.
func (c *Change) Writes() bool {
	switch c.Action {
	case Create, Update, UpdateMembers, Delete:
		return true
	}
	return false
}

// Plan is the desired state against the site, as changes.
type Plan struct {
	Month   string            `json:"month"`
	Now     time.Time         `json:"now"`
	Group   *site.UpdateGroup `json:"update_group,omitempty"`
	Updates []UpdateInfo      `json:"updates,omitempty"`
	Changes []Change          `json:"changes"`
	Notes   []string          `json:"notes,omitempty"` // families left out, and why
	Desired []*Desired        `json:"-"`
}

// Pending is the number of changes that write.
func (p *Plan) Pending() int {
	n := 0
	for i := range p.Changes {
		if p.Changes[i].Writes() {
			n++
		}
	}
	return n
}

// Deletes returns a plan with only the delete changes (for prune).
func (p *Plan) Deletes() *Plan {
	out := *p
	out.Changes = nil
	for _, c := range p.Changes {
		if c.Action == Delete {
			out.Changes = append(out.Changes, c)
		}
	}
	return &out
}

var monthRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// Build computes the plan for req: it loads what it needs from the site database, checks
// every input, and refuses (exit.Usage) anything that would make a write fail or touch a
// collection patchnight does not own. It writes nothing.
func Build(ctx context.Context, db *site.DB, defs *collections.Set, req Request) (*Plan, error) {
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	req.Now = req.Now.UTC()
	month := req.Month
	if month == "" {
		month = req.Now.Format("2006-01")
	}
	if !monthRE.MatchString(month) {
		return nil, exit.Usagef("give the patch month as YYYY-MM, like 2026-12", "month %q is not valid", req.Month)
	}
	fams, explicit, err := selectFamilies(defs, req.Families)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Month: month, Now: req.Now, Changes: []Change{}}

	needUpdates := false
	for _, f := range fams {
		if f.Rule == collections.MissingUpdate {
			needUpdates = true
		}
	}
	if needUpdates && (req.Group != "" || len(req.Updates) > 0) {
		if plan.Group, plan.Updates, err = resolveUpdates(ctx, db, req.Group, req.Updates); err != nil {
			return nil, err
		}
	} else if req.Group != "" || len(req.Updates) > 0 {
		return nil, exit.Usagef("add --family missing-update, or leave out --group and --updates",
			"--group and --updates apply to missing-update families, and none is selected")
	}
	haveUpdates := plan.Group != nil || len(plan.Updates) > 0

	act, err := readActual(ctx, db)
	if err != nil {
		return nil, err
	}

	// Families in scope and the month-only prune rule for missing-update without updates.
	inScope := map[string]bool{}
	monthOnly := map[string]bool{}
	var desired []*Desired
	for _, f := range fams {
		if f.Rule == collections.MissingUpdate && !haveUpdates {
			if explicit[f.Name] && !req.Prune {
				return nil, exit.Usagef("pass --group SUG or --updates KB...,KB...", "family %s makes one collection per update: name the updates", f.Name)
			}
			if f.Uses("Month") {
				inScope[f.Name] = true
				monthOnly[f.Name] = true
			}
			if !req.Prune {
				plan.Notes = append(plan.Notes, "family "+f.Name+" is not planned: pass --group or --updates to name the updates")
			}
			continue
		}
		inScope[f.Name] = true
		if _, ok := act.byID[f.Limit]; !ok {
			return nil, exit.Usagef("set limiting_collection in "+f.File+" to an existing CollectionID",
				"limiting collection %s of family %s does not exist", f.Limit, f.Name)
		}
		ds, err := desire(ctx, db, f, month, plan.Updates, act)
		if err != nil {
			return nil, err
		}
		desired = append(desired, ds...)
	}
	if len(req.Families) == 0 {
		// Owned collections of families that are no longer defined are no longer wanted.
		for _, a := range act.list {
			if a.Owned && defs.Get(a.Family) == nil {
				inScope[a.Family] = true
			}
		}
	}
	if err := checkDesired(desired); err != nil {
		return nil, err
	}
	plan.Desired = desired

	matched := map[string]bool{} // CollectionIDs that a desired collection uses
	for _, d := range desired {
		c, err := compare(d, act)
		if err != nil {
			return nil, err
		}
		if c.actual != nil {
			matched[c.actual.CollectionID] = true
		}
		plan.Changes = append(plan.Changes, c)
	}
	// Owned collections in scope that nothing wants.
	for _, a := range act.list {
		if !a.Owned || !inScope[a.Family] || matched[a.CollectionID] {
			continue
		}
		if monthOnly[a.Family] && strings.HasPrefix(a.Key, month+"/") {
			continue // a missing-update collection of this month: kept without an update list
		}
		c := Change{Action: Stale, Family: a.Family, Key: a.Key, Name: a.Name, CollectionID: a.CollectionID,
			Members: -1, Current: a.MemberCount, actual: a}
		if req.Prune {
			c.Action = Delete
		}
		c.Reasons = []string{unwantedReason(a, defs, month)}
		plan.Changes = append(plan.Changes, c)
	}
	return plan, nil
}

func unwantedReason(a *Actual, defs *collections.Set, month string) string {
	switch {
	case defs.Get(a.Family) == nil:
		return "family " + a.Family + " is no longer defined"
	case strings.Contains(a.Key, "/") && !strings.HasPrefix(a.Key, month+"/"):
		return "from another month"
	}
	return "no longer wanted"
}

func selectFamilies(defs *collections.Set, names []string) ([]*collections.Family, map[string]bool, error) {
	explicit := map[string]bool{}
	if len(names) == 0 {
		return defs.Families, explicit, nil
	}
	var out []*collections.Family
	for _, n := range names {
		f := defs.Get(n)
		if f == nil {
			return nil, nil, exit.Usagef("families: "+strings.Join(defs.Names(), ", "), "family %q is not defined", n)
		}
		if !explicit[n] {
			out = append(out, f)
		}
		explicit[n] = true
	}
	return out, explicit, nil
}

// resolveUpdates turns a software update group and/or a list of update ids into updates,
// keyed by ArticleID (or BulletinID when that is all an update has).
func resolveUpdates(ctx context.Context, db *site.DB, group string, ids []string) (*site.UpdateGroup, []UpdateInfo, error) {
	var out []UpdateInfo
	index := map[string]int{}
	add := func(ref, article, bulletin, title string, ci int64) {
		if i, ok := index[ref]; ok {
			if !slices.Contains(out[i].CIs, ci) {
				out[i].CIs = append(out[i].CIs, ci)
			}
			return
		}
		index[ref] = len(out)
		out = append(out, UpdateInfo{Ref: ref, ArticleID: article, BulletinID: bulletin, Title: title, CIs: []int64{ci}})
	}
	var g *site.UpdateGroup
	if group != "" {
		var err error
		if g, err = db.ResolveGroup(ctx, group); err != nil {
			return nil, nil, err
		}
		n := 0
		err = db.Each(ctx, "collection_sug_updates", site.Params{"group": g.CIID}, func(r *sql.Rows) error {
			var ci int64
			var expired, superseded site.Flag // bit on SQL Server (reference 1.2 "Types")
			var article, bulletin, title string
			if err := r.Scan(&ci, &article, &bulletin, &title, &expired, &superseded); err != nil {
				return fmt.Errorf("read update of group %s: %w", g.Title, err)
			}
			n++
			if a, err := wql.ArticleID(article); err == nil {
				add("KB"+a, a, "", title, ci)
				return nil
			}
			if b, err := wql.BulletinID(bulletin); err == nil {
				add(b, "", b, title, ci)
				return nil
			}
			return exit.Usagef("remove it from the group or name the updates with --updates",
				"update CI %d (%s) in group %q has no KB number (ArticleID %q) or bulletin that a rule can use", ci, title, g.Title, article)
		})
		if err != nil {
			return nil, nil, err
		}
		if n == 0 {
			return nil, nil, exit.Usagef("add updates to the group, or name them with --updates", "software update group %q has no updates", g.Title)
		}
	}
	for _, s := range ids {
		ref, err := fleet.ParseUpdateRef(s)
		if err != nil {
			return nil, nil, err
		}
		found := 0
		err = db.Each(ctx, "collection_update_lookup", site.Params{"article": ref.ArticleID, "bulletin": ref.BulletinID},
			func(r *sql.Rows) error {
				var ci int64
				var article, bulletin, title string
				if err := r.Scan(&ci, &article, &bulletin, &title); err != nil {
					return fmt.Errorf("read update %s: %w", ref, err)
				}
				found++
				if ref.ArticleID != "" {
					add("KB"+ref.ArticleID, ref.ArticleID, "", title, ci)
				} else {
					add(ref.BulletinID, "", ref.BulletinID, title, ci)
				}
				return nil
			})
		if err != nil {
			return nil, nil, err
		}
		if found == 0 {
			return nil, nil, exit.Usagef("check the number; list updates with: patchnight report compliance --all",
				"update %s is not in the site database", ref)
		}
	}
	return g, out, nil
}

// desire renders a family's desired collections and computes their members from the SQL
// twin.
func desire(ctx context.Context, db *site.DB, f *collections.Family, month string, updates []UpdateInfo, act *actualState) ([]*Desired, error) {
	type inst struct {
		key string
		v   collections.Values
		p   site.Params
		u   *UpdateInfo
	}
	base := func() site.Params {
		return site.Params{"limit": f.Limit, "article": "", "bulletin": "", "variant": "", "state": int64(0), "collection": ""}
	}
	monthKey := func(k string) string {
		if f.Uses("Month") {
			if k == "" {
				return month
			}
			return month + "/" + k
		}
		return k
	}
	var insts []inst
	switch f.Rule {
	case collections.MissingUpdate:
		for i := range updates {
			u := &updates[i]
			p := base()
			p["article"], p["bulletin"] = u.ArticleID, u.BulletinID
			insts = append(insts, inst{key: monthKey(u.Ref), u: u, p: p,
				v: collections.Values{ArticleID: u.ArticleID, BulletinID: u.BulletinID, Update: u.Ref, Month: month}})
		}
	case collections.ScanBehind:
		for _, v := range f.Variants {
			p := base()
			p["variant"] = v.Key
			insts = append(insts, inst{key: monthKey(v.Key), p: p, v: collections.Values{Variant: v.Label, Month: month}})
		}
	default:
		p := base()
		switch f.Rule {
		case collections.PendingRestart:
			p["state"] = int64(wql.StatePendingRestart)
		case collections.FailedInstall:
			p["state"] = int64(wql.StateInstallFailed)
		}
		insts = append(insts, inst{key: monthKey(""), p: p, v: collections.Values{Month: month}})
	}
	var out []*Desired
	for _, in := range insts {
		if !collections.ValidKey(in.key) {
			return nil, fmt.Errorf("family %s: key %q cannot be written in an owner tag", f.Name, in.key)
		}
		tag := collections.OwnerTag(f.Name, in.key)
		name, err := f.RenderName(in.v)
		if err != nil {
			return nil, err
		}
		comment, err := f.RenderComment(in.v)
		if err != nil {
			return nil, err
		}
		comment = strings.TrimSpace(comment) + " " + tag
		if err := wql.Comment(comment); err != nil {
			return nil, fmt.Errorf("family %s: %w", f.Name, err)
		}
		d := &Desired{Family: f.Name, Key: in.key, OwnerTag: tag, Name: name, Comment: comment, Limit: f.Limit,
			Refresh: f.Refresh, RefreshStr: f.Refresh.String(), Folder: f.Folder, Membership: f.Membership(),
			Update: in.u, SQL: f.SQL, Members: []Member{}}
		if d.Membership == collections.Query {
			r := wql.Rule{Kind: wql.Enforcement}
			switch f.Rule {
			case collections.MissingUpdate:
				r = wql.Rule{Kind: wql.MissingUpdate, ArticleID: in.u.ArticleID, BulletinID: in.u.BulletinID}
			case collections.PendingRestart:
				r.EnforcementState = wql.StatePendingRestart
			case collections.FailedInstall:
				r.EnforcementState = wql.StateInstallFailed
			}
			if d.Query, err = r.Query(); err != nil {
				return nil, err
			}
			d.RuleName = ruleName(f.Name, in.key)
		}
		if f.Rule == collections.NeedsAttention {
			if a := act.owner(tag); a != nil {
				in.p["collection"] = a.CollectionID
			}
		}
		if d.Members, err = twinMembers(ctx, db, f.SQL, in.p); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ruleName names a query rule: "patchnight <family> <key>".
func ruleName(family, key string) string {
	if key == "" {
		return "patchnight " + family
	}
	return "patchnight " + family + " " + key
}

func twinMembers(ctx context.Context, db *site.DB, query string, p site.Params) ([]Member, error) {
	out := []Member{}
	err := db.Each(ctx, query, p, func(r *sql.Rows) error {
		var m Member
		if err := r.Scan(&m.ResourceID, &m.Name); err != nil {
			return fmt.Errorf("read %s: %w", query, err)
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// checkDesired refuses duplicate names among the desired collections.
func checkDesired(ds []*Desired) error {
	seen := map[string]*Desired{}
	for _, d := range ds {
		k := strings.ToUpper(d.Name)
		if o, ok := seen[k]; ok {
			return exit.Usagef("make the name templates tell them apart (add {{.Update}}, {{.Variant}} or {{.Month}})",
				"collections %s and %s would both be named %q", o.OwnerTag, d.OwnerTag, d.Name)
		}
		seen[k] = d
	}
	return nil
}

// compare diffs one desired collection against the site.
func compare(d *Desired, act *actualState) (Change, error) {
	c := Change{Family: d.Family, Key: d.Key, Name: d.Name, Members: int64(len(d.Members)), desired: d}
	a := act.owner(d.OwnerTag)
	// The name must be free, or held by this very collection.
	for _, o := range act.byName[strings.ToUpper(d.Name)] {
		if a != nil && o.CollectionID == a.CollectionID {
			continue
		}
		if !o.Owned {
			return c, exit.Usagef("rename that collection, or change the name template of family "+d.Family,
				"collection %q (%s) already exists and is not managed by patchnight (its comment has no [patchnight:...] tag)", o.Name, o.CollectionID)
		}
		return c, exit.Usagef("prune or rename it first, or change the name template of family "+d.Family,
			"collection %q (%s) already exists as patchnight's %s", o.Name, o.CollectionID, collections.OwnerTag(o.Family, o.Key))
	}
	if a == nil {
		c.Action = Create
		c.SetProps, c.Move = true, d.Folder != "/"
		c.SetQuery = d.Query != ""
		if d.Membership == collections.Direct {
			c.AddDirect = memberIDs(d.Members)
		}
		return c, nil
	}
	c.actual = a
	c.CollectionID = a.CollectionID
	c.Current = a.MemberCount
	var why []string
	if a.Name != d.Name {
		why = append(why, "name")
	}
	if a.Comment != d.Comment {
		why = append(why, "comment")
	}
	if !strings.EqualFold(a.Limit, d.Limit) {
		why = append(why, "limiting collection "+a.Limit+" → "+d.Limit)
	}
	if a.RefreshType != d.Refresh.Type {
		why = append(why, "refresh type")
	}
	c.SetProps = len(why) > 0
	if !strings.EqualFold(a.Folder, d.Folder) {
		why = append(why, "folder "+a.Folder+" → "+d.Folder)
		c.Move = true
	}
	switch d.Membership {
	case collections.Query:
		if len(a.Queries) != 1 || !wql.Equivalent(a.Queries[0].Expression, d.Query) {
			c.SetQuery = true
			for _, q := range a.Queries {
				c.RemoveQuery = append(c.RemoveQuery, q.QueryID)
			}
			why = append(why, "query rule")
		}
		c.RemoveDirect = slices.Clone(a.Direct)
		if len(c.RemoveDirect) > 0 {
			why = append(why, fmt.Sprintf("%d direct rules", len(c.RemoveDirect)))
		}
	case collections.Direct:
		for _, q := range a.Queries {
			c.RemoveQuery = append(c.RemoveQuery, q.QueryID)
		}
		if len(c.RemoveQuery) > 0 {
			why = append(why, fmt.Sprintf("%d query rules", len(c.RemoveQuery)))
		}
		c.AddDirect, c.RemoveDirect = diffIDs(memberIDs(d.Members), a.Direct)
	case collections.Manual:
		// Members belong to escalation; patchnight keeps only the collection itself.
	}
	switch {
	case len(why) > 0:
		c.Action = Update
	case len(c.AddDirect) > 0 || len(c.RemoveDirect) > 0:
		c.Action = UpdateMembers
	default:
		c.Action = None
	}
	if len(c.AddDirect) > 0 || len(c.RemoveDirect) > 0 {
		why = append(why, fmt.Sprintf("members +%d -%d", len(c.AddDirect), len(c.RemoveDirect)))
	}
	c.Reasons = why
	return c, nil
}

func memberIDs(ms []Member) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ResourceID
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// diffIDs returns want minus have and have minus want; both inputs sorted.
func diffIDs(want, have []int64) (add, remove []int64) {
	i, j := 0, 0
	for i < len(want) || j < len(have) {
		switch {
		case j == len(have) || i < len(want) && want[i] < have[j]:
			add = append(add, want[i])
			i++
		case i == len(want) || have[j] < want[i]:
			remove = append(remove, have[j])
			j++
		default:
			i++
			j++
		}
	}
	return add, remove
}

// actualState is every collection of the site, with the rules of the owned ones.
type actualState struct {
	list   []*Actual
	byID   map[string]*Actual
	byName map[string][]*Actual // upper-case name
	byTag  map[string][]*Actual // owner tag; the first (lowest CollectionID) is the one in use
}

func (s *actualState) owner(tag string) *Actual {
	if l := s.byTag[tag]; len(l) > 0 {
		return l[0]
	}
	return nil
}

func readActual(ctx context.Context, db *site.DB) (*actualState, error) {
	s := &actualState{byID: map[string]*Actual{}, byName: map[string][]*Actual{}, byTag: map[string][]*Actual{}}
	err := db.Each(ctx, "collection_state", nil, func(r *sql.Rows) error {
		a := &Actual{}
		var builtIn site.Flag // IsBuiltIn: SQL type unconfirmed (bit or int)
		var last site.NullTime
		if err := r.Scan(&a.CollectionID, &a.Name, &a.Comment, &a.Limit, &a.RefreshType, &a.Folder, &builtIn,
			&a.CollectionType, &a.MemberCount, &a.CurrentStatus, &last); err != nil {
			return fmt.Errorf("read collection: %w", err)
		}
		a.BuiltIn = builtIn.Bool()
		a.LastRefresh = last.Ptr()
		if a.Folder == "" {
			a.Folder = "/"
		}
		a.Family, a.Key, a.Owned = collections.ParseOwnerTag(a.Comment)
		s.list = append(s.list, a)
		s.byID[strings.ToUpper(a.CollectionID)] = a
		s.byName[strings.ToUpper(a.Name)] = append(s.byName[strings.ToUpper(a.Name)], a)
		if a.Owned {
			t := collections.OwnerTag(a.Family, a.Key)
			s.byTag[t] = append(s.byTag[t], a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = db.Each(ctx, "collection_rules_query", nil, func(r *sql.Rows) error {
		var id string
		var q QueryRule
		if err := r.Scan(&id, &q.QueryID, &q.RuleName, &q.Expression); err != nil {
			return fmt.Errorf("read query rule: %w", err)
		}
		if a := s.byID[strings.ToUpper(id)]; a != nil && a.Owned {
			a.Queries = append(a.Queries, q)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = db.Each(ctx, "collection_rules_direct", nil, func(r *sql.Rows) error {
		var id, name string
		var rid int64
		if err := r.Scan(&id, &rid, &name); err != nil {
			return fmt.Errorf("read direct rule: %w", err)
		}
		if a := s.byID[strings.ToUpper(id)]; a != nil && a.Owned {
			a.Direct = append(a.Direct, rid)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, a := range s.list {
		slices.Sort(a.Direct)
		a.Direct = slices.Compact(a.Direct)
	}
	// With two collections carrying one tag, the lowest CollectionID is the one in use; the
	// others are matched by nothing and show up as unwanted.
	for _, l := range s.byTag {
		sort.Slice(l, func(i, j int) bool { return l[i].CollectionID < l[j].CollectionID })
	}
	return s, nil
}
