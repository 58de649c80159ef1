// Package report builds patchnight's reports from the site database (and, for the morning
// report, the journal): compliance per update, machines missing an update, one machine's
// updates, and scan state against the current catalog. Each report is one set-based query;
// rows stream and only the result rows are kept. It also renders the journal's run history
// (History, RunHistory). Site lookups (collections, update groups) are pkg/site's.
package report

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

// Scope narrows a report to a collection and/or a set of updates.
type Scope struct {
	Collection *site.CollectionRef `json:"collection,omitempty"` // nil = every client machine
	Group      *site.UpdateGroup   `json:"update_group,omitempty"`
	Update     *fleet.UpdateRef    `json:"update,omitempty"`
	All        bool                `json:"all_updates,omitempty"` // every update CI, not only those some client requires or has
	// Eligible keeps only the night's eligible machines (active, passing the client check):
	// the morning report's per-update rows are over its denominator, not the collection.
	Eligible bool `json:"eligible_only,omitempty"`
	// Exclude lists the CollectionIDs of excluded collections (at most
	// queries.MaxExcluded): their members are out of scope. The morning report passes the
	// night's, so that its per-update rows leave out the machines its denominator leaves out.
	Exclude []string `json:"excluded_collections,omitempty"`
}

// scanCompliance reads one row of queries/compliance.sql. IsSuperseded is bit on SQL
// Server (go-mssqldb returns bool; reference 1.2 "Types"), so it is scanned as a Flag.
func scanCompliance(r *sql.Rows) (UpdateCompliance, error) {
	var u UpdateCompliance
	var sup site.Flag
	if err := r.Scan(&u.CIID, &u.ArticleID, &u.BulletinID, &u.Title, &u.Severity, &sup,
		&u.Required, &u.Installed, &u.NotRequired, &u.Clients); err != nil {
		return u, fmt.Errorf("read compliance row: %w", err)
	}
	u.Superseded = sup.Bool()
	return u, nil
}

// UpdateCompliance is one update's line of the compliance report.
type UpdateCompliance struct {
	CIID        int64   `json:"ci_id"`
	ArticleID   string  `json:"article_id"`
	BulletinID  string  `json:"bulletin_id"`
	Title       string  `json:"title"`
	Severity    int     `json:"severity"`
	Superseded  bool    `json:"superseded"`
	Required    int64   `json:"required"`
	Installed   int64   `json:"installed"`
	NotRequired int64   `json:"not_required"`
	Unknown     int64   `json:"unknown"`
	Clients     int64   `json:"clients"`
	Compliant   float64 `json:"percent_compliant"` // (installed + not required) / clients
}

// ComplianceTotals sums the update lines.
type ComplianceTotals struct {
	Required    int64   `json:"required"`
	Installed   int64   `json:"installed"`
	NotRequired int64   `json:"not_required"`
	Unknown     int64   `json:"unknown"`
	Compliant   float64 `json:"percent_compliant"`
}

// Compliance is the compliance report.
type Compliance struct {
	Scope   Scope              `json:"scope"`
	Clients int64              `json:"clients_in_scope"` // the denominator: client machines in scope
	Updates []UpdateCompliance `json:"updates"`
	Total   ComplianceTotals   `json:"total"`
}

// ComplianceReport runs the compliance query for scope.
func ComplianceReport(ctx context.Context, db *site.DB, scope Scope) (*Compliance, error) {
	p := site.Params{"collection": "", "group": int64(0), "article": "", "bulletin": "", "all": int64(0), "eligible": int64(0)}
	if scope.Eligible {
		p["eligible"] = int64(1)
	}
	if scope.Collection != nil {
		p["collection"] = scope.Collection.ID
	}
	if scope.Group != nil {
		p["group"] = scope.Group.CIID
	}
	if scope.Update != nil {
		p["article"], p["bulletin"] = scope.Update.ArticleID, scope.Update.BulletinID
	}
	if scope.All {
		p["all"] = int64(1)
	}
	if len(scope.Exclude) > queries.MaxExcluded {
		return nil, fmt.Errorf("compliance report: %d excluded collections, the query takes at most %d", len(scope.Exclude), queries.MaxExcluded)
	}
	for i := 1; i <= queries.MaxExcluded; i++ {
		p[queries.ExcludeParam(i)] = ""
		if i <= len(scope.Exclude) {
			p[queries.ExcludeParam(i)] = scope.Exclude[i-1]
		}
	}
	rep := &Compliance{Scope: scope, Updates: []UpdateCompliance{}}
	err := db.Each(ctx, "compliance", p, func(r *sql.Rows) error {
		u, err := scanCompliance(r)
		if err != nil {
			return err
		}
		u.Unknown = u.Clients - u.Required - u.Installed - u.NotRequired
		u.Compliant = percent(u.Installed+u.NotRequired, u.Clients)
		rep.Clients = u.Clients
		rep.Updates = append(rep.Updates, u)
		rep.Total.Required += u.Required
		rep.Total.Installed += u.Installed
		rep.Total.NotRequired += u.NotRequired
		rep.Total.Unknown += u.Unknown
		return nil
	})
	if err != nil {
		return nil, err
	}
	t := rep.Total
	rep.Total.Compliant = percent(t.Installed+t.NotRequired, t.Required+t.Installed+t.NotRequired+t.Unknown)
	if scope.Update != nil && len(rep.Updates) == 0 {
		return nil, exit.Usagef("check the number; list updates with: patchnight report compliance --all", "update %s is not in the site database", scope.Update)
	}
	return rep, nil
}

func percent(num, den int64) float64 {
	if den == 0 {
		return 0
	}
	return float64(int64(1000*float64(num)/float64(den)+0.5)) / 10
}

func pct(v float64, den int64) string {
	if den == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

// clip shortens s to at most max runes for table cells; JSON keeps the whole text.
func clip(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-3]) + "..."
}

func n(v int64) string { return strconv.FormatInt(v, 10) }

// Grids renders the report as a table with a total line.
func (c *Compliance) Grids() []output.Grid {
	g := output.Grid{
		Title:   "Compliance of " + c.Scope.describe() + ": " + n(c.Clients) + " client machines in scope",
		Header:  []string{"Article", "Bulletin", "Title", "Required", "Installed", "Not required", "Unknown", "Compliant"},
		Numeric: []bool{false, false, false, true, true, true, true, true},
	}
	for _, u := range c.Updates {
		art := ""
		if u.ArticleID != "" {
			art = "KB" + u.ArticleID
		}
		title := clip(u.Title, 90)
		if u.Superseded {
			title += " (superseded)"
		}
		g.Rows = append(g.Rows, []string{art, u.BulletinID, title, n(u.Required), n(u.Installed),
			n(u.NotRequired), n(u.Unknown), pct(u.Compliant, u.Clients)})
	}
	t := c.Total
	g.Footer = []string{"Total", "", n(int64(len(c.Updates))) + " updates", n(t.Required), n(t.Installed),
		n(t.NotRequired), n(t.Unknown), pct(t.Compliant, t.Required+t.Installed+t.NotRequired+t.Unknown)}
	return []output.Grid{g}
}

func (s Scope) describe() string {
	what := "all updates with state"
	switch {
	case s.Update != nil:
		what = s.Update.String()
	case s.Group != nil:
		what = "update group " + s.Group.Title
	case s.All:
		what = "all updates"
	}
	if s.Collection != nil {
		what += " in " + s.Collection.Name + " (" + s.Collection.ID + ")"
	}
	if len(s.Exclude) > 0 {
		what += " outside " + strings.Join(s.Exclude, ", ")
	}
	return what
}
