package sitecoll

import (
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/output"
)

func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

// Grids renders the plan: one line per collection with the action, the members it
// will have (from the SQL twin) and has now, and what differs.
func (p *Plan) Grids() []output.Grid {
	title := "Collections plan for patch month " + p.Month
	if p.Group != nil {
		title += ", software update group " + p.Group.Title
	}
	title += ": " + strconv.Itoa(p.Pending()) + " to change"
	if p.Pending() == 0 {
		title += " (no changes)"
	}
	g := output.Grid{
		Title:   title,
		Header:  []string{"Action", "Collection", "CollectionID", "Family", "Members", "Now", "Details"},
		Numeric: []bool{false, false, false, false, true, true, false},
	}
	for _, c := range p.Changes {
		id := c.CollectionID
		if id == "" {
			id = "(new)"
		}
		g.Rows = append(g.Rows, []string{string(c.Action), c.Name, id, c.Family, count(c.Members),
			count(c.Current), strings.Join(c.Reasons, "; ")})
	}
	out := []output.Grid{g}
	if len(p.Notes) > 0 {
		n := output.Grid{Title: "Notes", Header: []string{"Note"}}
		for _, s := range p.Notes {
			n.Rows = append(n.Rows, []string{s})
		}
		out = append(out, n)
	}
	return out
}

// Grids renders what Apply did.
func (r *Result) Grids() []output.Grid {
	var title string
	switch {
	case r.NoOp:
		title = "Nothing to change: the collections are as defined"
	case r.Cancelled:
		title = "Cancelled: nothing was changed"
	default:
		title = strconv.Itoa(len(r.Collections)) + " collections written, " + strconv.Itoa(len(r.Deleted)) + " deleted"
		if len(r.NotEvaluated) > 0 {
			title += "; not yet evaluated: " + strings.Join(r.NotEvaluated, ", ")
		}
	}
	g := output.Grid{
		Title:   title,
		Header:  []string{"Action", "Collection", "CollectionID", "Expected", "Members", "Evaluated"},
		Numeric: []bool{false, false, false, true, true, false},
	}
	for _, a := range r.Collections {
		ev := "no"
		if a.Evaluated {
			ev = "yes"
		}
		g.Rows = append(g.Rows, []string{string(a.Action), a.Name, a.CollectionID, count(a.Expected), count(a.Members), ev})
	}
	for _, id := range r.Deleted {
		g.Rows = append(g.Rows, []string{string(Delete), "", id, "", "", ""})
	}
	return []output.Grid{g}
}
