package notify

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/site"
)

// MissingOptions say which updates the Thursday notice is about, and where.
type MissingOptions struct {
	// Updates names updates (KB5071234, 5071234, MS17-010); Group a software update group
	// (title or CI_ID). One of them is needed.
	Updates []string
	Group   string
	// Collection limits the machines to a collection's members (CollectionID or name); ""
	// = every client.
	Collection string
	// Skip names machines (ResourceID) left alone: members of the night's excluded
	// collections. They are not told, escalated or counted, nor added to the
	// needs-attention collection when an earlier run escalated them (that escalation stays
	// recorded, pending).
	Skip map[int64]bool
	// DryRun computes who would be told and who escalated, and sends, records and writes
	// nothing.
	DryRun bool
}

// Validate checks the options without reading anything: updates or a group (not both),
// and every update a KB article or bulletin.
func (o MissingOptions) Validate() error {
	switch {
	case len(o.Updates) > 0 && o.Group != "":
		return exit.Usagef("pass --update or --group, not both", "both updates and an update group were named")
	case len(o.Updates) == 0 && o.Group == "":
		return exit.Usagef("pass --update KB5071234|MS17-010 or --group SUG", "name the updates the notice is about")
	}
	for _, s := range o.Updates {
		if _, err := fleet.ParseUpdateRef(s); err != nil {
			return err
		}
	}
	return nil
}

// MissingUpdate is one update a machine misses.
type MissingUpdate struct {
	Update           string `json:"update"` // the journal key: ArticleID, or BulletinID when there is none
	Ref              string `json:"ref"`    // KB5071234 or MS17-010
	ArticleID        string `json:"article_id,omitempty"`
	BulletinID       string `json:"bulletin_id,omitempty"`
	Title            string `json:"title"`
	EnforcementState int    `json:"enforcement_state"`
	ErrorCode        int64  `json:"error_code,omitempty"`
	Told             int    `json:"told"` // notices delivered about it before this run
}

// MissingHost is what the Thursday notice did to one machine.
type MissingHost struct {
	Host       string          `json:"host"`
	ResourceID int64           `json:"resource_id"`
	Online     bool            `json:"online"`
	Outcome    string          `json:"outcome"` // notified, escalated, not-notified, failed
	Note       string          `json:"note,omitempty"`
	Users      []string        `json:"users,omitempty"`
	Updates    []MissingUpdate `json:"updates"`   // every update it misses in scope
	Escalated  []string        `json:"escalated"` // updates escalated by this run
	Count      int             `json:"count"`     // the notice's number (the most told update), when told
}

// Outcomes of MissingHost.
const (
	OutcomeNotified    = "notified"
	OutcomeEscalated   = "escalated"
	OutcomeNotNotified = "not-notified"
	OutcomeFailed      = "failed"
	OutcomeAlready     = "already-escalated"
)

// MissingResult is what a Thursday notice run did.
type MissingResult struct {
	At        time.Time     `json:"at"`
	DryRun    bool          `json:"dry_run"`
	Threshold int           `json:"threshold"`
	Updates   []string      `json:"updates"` // the updates in scope (KB5071234, MS17-010)
	Hosts     []MissingHost `json:"hosts"`
	// The totals count each machine once: escalated (by this run, whatever was done about
	// its other updates), or else by its outcome.
	Notified  int `json:"notified"`
	Escalated int `json:"escalated"` // machines escalated by this run
	Skipped   int `json:"skipped"`   // not told by policy, nobody logged on, offline, already escalated
	Failed    int `json:"failed"`
	// Collection is the needs-attention collection escalated machines were added to;
	// CollectionError says why they were not ("" when they were, or none was escalated).
	Collection      string `json:"collection,omitempty"`
	CollectionError string `json:"collection_error,omitempty"`
}

type missingRow struct {
	rid    int64
	name   string
	online bool
	u      MissingUpdate
}

// scanMissing reads one row of queries/notify_missing.sql. The online state is an integer
// there (COALESCE), read as a Flag all the same: CNIsOnline's SQL type is unconfirmed.
func scanMissing(r *sql.Rows) (missingRow, error) {
	var m missingRow
	var ci int64
	var online site.Flag
	var user string
	if err := r.Scan(&m.rid, &m.name, &ci, &m.u.ArticleID, &m.u.BulletinID, &m.u.Title,
		&m.u.EnforcementState, &m.u.ErrorCode, &online, &user); err != nil {
		return m, fmt.Errorf("read machine missing an update: %w", err)
	}
	m.online = online.Bool()
	return m, nil
}

// updateKey is the journal's key of an update: the ArticleID, or the BulletinID.
func updateKey(article, bulletin string) string {
	if article != "" {
		return article
	}
	return strings.ToUpper(bulletin)
}

func updateRef(article, bulletin string) string {
	if article != "" {
		return "KB" + article
	}
	return strings.ToUpper(bulletin)
}

// loadMissing reads the machines missing the updates in scope, grouped by machine, in name
// order: one set-based query per named update, or one for a group.
func loadMissing(ctx context.Context, db *site.DB, opt MissingOptions) (hosts [][]missingRow, scope []string, err error) {
	collection := ""
	if opt.Collection != "" {
		c, err := db.ResolveCollection(ctx, opt.Collection)
		if err != nil {
			return nil, nil, err
		}
		collection = c.ID
	}
	if err := opt.Validate(); err != nil {
		return nil, nil, err
	}
	var params []site.Params
	switch {
	case len(opt.Updates) > 0:
		for _, s := range opt.Updates {
			ref, err := fleet.ParseUpdateRef(s)
			if err != nil {
				return nil, nil, err
			}
			params = append(params, site.Params{"article": ref.ArticleID, "bulletin": ref.BulletinID, "group": int64(0), "collection": collection})
			scope = append(scope, ref.String())
		}
	case opt.Group != "":
		g, err := db.ResolveGroup(ctx, opt.Group)
		if err != nil {
			return nil, nil, err
		}
		params = append(params, site.Params{"article": "", "bulletin": "", "group": g.CIID, "collection": collection})
		scope = append(scope, "group "+g.Title)
	}
	byHost := map[int64][]missingRow{}
	var order []int64
	seen := map[string]bool{}
	for _, p := range params {
		err := db.Each(ctx, "notify_missing", p, func(r *sql.Rows) error {
			m, err := scanMissing(r)
			if err != nil {
				return err
			}
			if opt.Skip[m.rid] {
				return nil
			}
			m.u.Update = updateKey(m.u.ArticleID, m.u.BulletinID)
			m.u.Ref = updateRef(m.u.ArticleID, m.u.BulletinID)
			if m.u.Update == "" {
				return nil // an update without KB or bulletin cannot be counted
			}
			k := strconv.FormatInt(m.rid, 10) + "|" + strings.ToUpper(m.u.Update)
			if seen[k] {
				return nil // one article, several CIs
			}
			seen[k] = true
			if _, ok := byHost[m.rid]; !ok {
				order = append(order, m.rid)
			}
			byHost[m.rid] = append(byHost[m.rid], m)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	for _, id := range order {
		hosts = append(hosts, byHost[id])
	}
	slices.SortStableFunc(hosts, func(a, b []missingRow) int {
		return strings.Compare(strings.ToUpper(a[0].name), strings.ToUpper(b[0].name))
	})
	return hosts, scope, nil
}

// Missing is the Thursday notice: for every machine still missing an update in scope (the
// SQL twin of the per-update collections: Status 2), it counts the notices its users had
// about each update. Updates told Threshold times are escalated (recorded, and the machine
// added to the needs-attention collection) instead of told again; an update escalated
// before is left alone. The machine's users are then told about the rest in one notice,
// unless policy says no (quiet hours, told within the minimum interval), the site says the
// machine is offline, or nobody is logged on. Every notice, delivered or not, is recorded
// per machine, user and update.
func Missing(ctx context.Context, env Env, opt MissingOptions) (MissingResult, error) {
	if err := env.check(); err != nil {
		return MissingResult{}, err
	}
	now := env.now()
	hosts, scope, err := loadMissing(ctx, env.Site, opt)
	if err != nil {
		return MissingResult{}, err
	}
	res := MissingResult{At: now, DryRun: opt.DryRun, Threshold: env.Settings.Threshold, Updates: scope, Hosts: []MissingHost{}}
	tallies, err := env.Journal.NoticeTallies(ctx, missingKind, 1)
	if err != nil {
		return MissingResult{}, err
	}
	told := map[string]int{}
	for _, t := range tallies {
		told[t.Host+"|"+t.Update] = t.Count
	}
	done, err := env.Journal.Escalations(ctx)
	if err != nil {
		return MissingResult{}, err
	}
	escalated := map[string]bool{}
	for _, e := range done {
		escalated[strings.ToUpper(e.Host)+"|"+strings.ToUpper(e.Update)] = true
	}
	last, err := env.Journal.LastNotices(ctx)
	if err != nil {
		return MissingResult{}, err
	}
	quiet := env.Settings.QuietAt(now)

	// Classify: escalate, tell, or leave each machine's updates.
	type plan struct {
		h      MissingHost
		tell   []MissingUpdate
		addr   string
		escals []journal.Escalation
	}
	plans := make([]*plan, 0, len(hosts))
	byAddr := map[string]*plan{}
	var toEscalate []journal.Escalation
	for _, rows := range hosts {
		p := &plan{h: MissingHost{Host: rows[0].name, ResourceID: rows[0].rid, Online: rows[0].online, Updates: []MissingUpdate{}, Escalated: []string{}}}
		hk := strings.ToUpper(p.h.Host)
		already := 0
		for _, m := range rows {
			u := m.u
			u.Told = told[hk+"|"+strings.ToUpper(u.Update)]
			p.h.Updates = append(p.h.Updates, u)
			switch {
			case escalated[hk+"|"+strings.ToUpper(u.Update)]:
				already++
			case u.Told >= env.Settings.Threshold:
				p.h.Escalated = append(p.h.Escalated, u.Ref)
				p.escals = append(p.escals, journal.Escalation{Run: env.Run, Host: p.h.Host, ResourceID: p.h.ResourceID, Update: u.Update,
					ArticleID: u.ArticleID, BulletinID: u.BulletinID, Title: u.Title, Notices: u.Told, ErrorCode: u.ErrorCode, At: now})
			default:
				p.tell = append(p.tell, u)
			}
		}
		toEscalate = append(toEscalate, p.escals...)
		switch {
		case len(p.tell) == 0 && len(p.escals) > 0:
			most := 0
			for _, e := range p.escals {
				most = max(most, e.Notices)
			}
			p.h.Outcome, p.h.Note = OutcomeEscalated, "told "+strconv.Itoa(most)+" times"
		case len(p.tell) == 0:
			p.h.Outcome, p.h.Note = OutcomeAlready, NoteEscalated
		case quiet:
			p.h.Outcome, p.h.Note = OutcomeNotNotified, NoteQuietHours
		case env.Settings.TooSoon(last[hk], now):
			p.h.Outcome, p.h.Note = OutcomeNotNotified, NoteTooSoon
		case !p.h.Online:
			p.h.Outcome, p.h.Note = OutcomeNotNotified, NoteOffline
		case opt.DryRun: // after the policy: a dry run says who would be told
			p.h.Outcome, p.h.Note = OutcomeNotNotified, NoteDryRun
		default:
			p.addr = env.address(p.h.Host)
			byAddr[strings.ToUpper(p.addr)] = p
		}
		if p.h.Outcome == "" && len(p.escals) > 0 {
			p.h.Note = "also escalated: " + strings.Join(p.h.Escalated, ", ")
		}
		plans = append(plans, p)
	}
	if opt.DryRun {
		for _, p := range plans {
			res.Hosts = append(res.Hosts, p.h)
		}
		res.count()
		return res, nil
	}

	// Escalate first: a failure to tell must not hold back the escalation.
	if len(toEscalate) > 0 {
		if _, err := env.Journal.RecordEscalations(ctx, toEscalate...); err != nil {
			return MissingResult{}, err
		}
	}
	if err := addPendingToCollection(ctx, env, opt.Skip, &res); err != nil {
		return MissingResult{}, err
	}

	// Tell.
	var addrs []string
	for _, p := range plans {
		if p.addr != "" {
			addrs = append(addrs, p.addr)
		}
	}
	type told1 struct {
		d       Result
		count   int
		err     error
		channel string
	}
	got := map[string]told1{}
	remote.FanOut(ctx, slices.Values(addrs), remote.FanOutOptions{Concurrency: env.concurrency(), Label: "notify"},
		func(ctx context.Context, addr string) (told1, error) {
			p := byAddr[strings.ToUpper(addr)]
			msg, count, err := missingMessage(env.Settings, p.h.Host, p.tell)
			if err != nil {
				return told1{err: err}, nil
			}
			r, release, err := env.Connect(addr)
			if err != nil {
				return told1{err: err, count: count, channel: msg.Method}, nil
			}
			defer release()
			d, err := Deliver(ctx, r, msg)
			return told1{d: d, count: count, err: err, channel: msg.Method}, nil
		},
		func(r remote.HostResult[told1]) {
			v := r.Value
			if r.Outcome != remote.OutcomeOK {
				v.err = r.Err
			}
			got[strings.ToUpper(r.Host)] = v
		})
	if err := ctx.Err(); err != nil {
		return MissingResult{}, fmt.Errorf("missing-update notice: %w", err)
	}

	var notices []journal.Notice
	for _, p := range plans {
		h := &p.h
		note := func(reason string, ups []MissingUpdate, channel string) {
			for _, u := range ups {
				notices = append(notices, journal.Notice{Run: env.Run, Host: h.Host, ResourceID: h.ResourceID, Kind: missingKind,
					Update: u.Update, ArticleID: u.ArticleID, BulletinID: u.BulletinID, Channel: channel, Reason: reason, At: now})
			}
		}
		if p.addr == "" {
			if h.Outcome == OutcomeNotNotified {
				note(h.Note, p.tell, "")
			}
		} else {
			v := got[strings.ToUpper(p.addr)]
			switch {
			case v.err != nil:
				h.Outcome, h.Note = OutcomeFailed, oneLine(v.err)
				note("not reached: "+h.Note, p.tell, v.channel)
			case v.d.Delivered:
				h.Outcome, h.Users, h.Count = OutcomeNotified, v.d.Users, v.count
				if len(p.escals) > 0 {
					h.Note = "also escalated: " + strings.Join(h.Escalated, ", ")
				}
				for _, u := range p.tell {
					for _, user := range v.d.Users {
						notices = append(notices, journal.Notice{Run: env.Run, Host: h.Host, ResourceID: h.ResourceID, User: user, Kind: missingKind,
							Update: u.Update, ArticleID: u.ArticleID, BulletinID: u.BulletinID, Delivered: true, Channel: v.channel, At: now})
					}
				}
			default:
				h.Outcome, h.Note = OutcomeNotNotified, v.d.Reason
				note(v.d.Reason, p.tell, v.channel)
			}
		}
		res.Hosts = append(res.Hosts, *h)
		outcome, reason := journal.Skipped, h.Note
		switch {
		case len(h.Escalated) > 0:
			// Escalated by this run: ok, as escalated, as the run's totals count it, whatever
			// was done about its other updates (the reason says).
			outcome, reason = journal.OutcomeOK, OutcomeEscalated
			switch h.Outcome {
			case OutcomeEscalated:
			case OutcomeNotified:
				reason += "; the rest notified"
			default:
				reason += "; the rest " + h.Outcome + ": " + h.Note
			}
		case h.Outcome == OutcomeNotified:
			outcome, reason = journal.OutcomeOK, h.Outcome
		case h.Outcome == OutcomeFailed:
			outcome = journal.Unreachable
			if remote.KindOf(got[strings.ToUpper(p.addr)].err) == remote.KindScript {
				outcome = journal.Script
			}
		}
		if err := env.record(ctx, ActionNotifyMissing, h.Host, h.ResourceID, outcome, reason); err != nil {
			return MissingResult{}, err
		}
	}
	if len(notices) > 0 {
		if err := env.Journal.RecordNotice(ctx, notices...); err != nil {
			return MissingResult{}, err
		}
	}
	if env.Run != 0 && env.Step != 0 {
		if err := env.Journal.Flush(ctx); err != nil {
			return MissingResult{}, err
		}
	}
	res.count()
	env.log().Info("Thursday notice", "machines", len(res.Hosts), "notified", res.Notified, "escalated", res.Escalated,
		"skipped", res.Skipped, "failed", res.Failed)
	return res, nil
}

// count computes the totals. Each machine counts once: a machine this run escalated
// counts as escalated, also when it was told (or not told, or failed) about its other
// updates in the same run; the others count by their outcome.
func (r *MissingResult) count() {
	r.Notified, r.Escalated, r.Skipped, r.Failed = 0, 0, 0, 0
	for _, h := range r.Hosts {
		switch {
		case len(h.Escalated) > 0:
			r.Escalated++
		case h.Outcome == OutcomeNotified:
			r.Notified++
		case h.Outcome == OutcomeFailed:
			r.Failed++
		case h.Outcome == OutcomeNotNotified, h.Outcome == OutcomeAlready:
			r.Skipped++
		}
	}
}

// missingMessage renders one machine's Thursday notice about the updates to tell: the most
// told update gives {{.Update}}, {{.Title}} and {{.Count}}; {{.Updates}} lists them all.
func missingMessage(s *Settings, machine string, ups []MissingUpdate) (Message, int, error) {
	lead := ups[0]
	for _, u := range ups[1:] {
		if u.Told > lead.Told {
			lead = u
		}
	}
	lines := make([]string, len(ups))
	for i, u := range ups {
		lines[i] = strings.TrimSpace(u.Ref + " " + PlainLine(u.Title))
	}
	count := lead.Told + 1
	m, err := s.Message(missingKind, Values{ArticleID: lead.ArticleID, BulletinID: lead.BulletinID, Update: lead.Ref,
		Title: PlainLine(lead.Title), Updates: strings.Join(lines, "\n"), Count: count, Machine: machine})
	return m, count, err
}
