package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/output"
)

// maxListed is how many updates a table row names (JSON has them all).
const maxListed = 3

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

// Grids renders a watcher pass.
func (r PassResult) Grids() []output.Grid {
	p := r.Pass
	title := fmt.Sprintf("watcher pass %d at %s: %d scan-behind, %d online, %d came online, %d told, %d scanned, %d not reached",
		p.ID, stamp(p.At), p.Behind, p.Online, p.CameOnline, p.Noticed, p.Scanned, p.Failed)
	if r.First {
		title += " (first pass: every online machine counts as come online)"
	}
	g := output.Grid{Title: title, Header: []string{"Host", "Scan", "Told", "Users", "Why not told", "Scanned", "Scan note"}}
	for _, h := range r.Hosts {
		g.Rows = append(g.Rows, []string{h.Host, h.Bucket, yesNo(h.Noticed), strings.Join(h.Users, ", "), h.NoticeNote, yesNo(h.Scanned), h.ScanNote})
	}
	return []output.Grid{g}
}

// Grids renders a Thursday notice run.
func (r MissingResult) Grids() []output.Grid {
	title := fmt.Sprintf("Thursday notice about %s: %d machines, %d told, %d escalated, %d not told, %d failed (threshold %d)",
		strings.Join(r.Updates, ", "), len(r.Hosts), r.Notified, r.Escalated, r.Skipped, r.Failed, r.Threshold)
	if r.DryRun {
		title += " [dry run: nothing sent or recorded]"
	}
	g := output.Grid{Title: title, Header: []string{"Host", "Outcome", "Updates (times told before)", "Escalated", "Users", "Note"}}
	for _, h := range r.Hosts {
		var ups []string
		for i, u := range h.Updates {
			if i == maxListed {
				ups = append(ups, fmt.Sprintf("+%d more", len(h.Updates)-maxListed))
				break
			}
			ups = append(ups, u.Ref+" ("+strconv.Itoa(u.Told)+")")
		}
		g.Rows = append(g.Rows, []string{h.Host, h.Outcome, strings.Join(ups, ", "), strings.Join(h.Escalated, ", "), strings.Join(h.Users, ", "), h.Note})
	}
	grids := []output.Grid{g}
	if r.Collection != "" || r.CollectionError != "" {
		c := output.Grid{Title: "Needs-attention collection", Header: []string{"Collection", "Problem"}}
		c.Rows = [][]string{{r.Collection, r.CollectionError}}
		grids = append(grids, c)
	}
	return grids
}

// Grids renders the escalation list.
func (l EscalationList) Grids() []output.Grid {
	g := output.Grid{
		Title:   fmt.Sprintf("%d machines told about a missing update at least %d times", len(l.Escalations), l.Threshold),
		Header:  []string{"Host", "Escalated", "Update", "Title", "Notices", "Still missing", "Enforcement", "Error", "Users", "First notice", "Last notice", "Collection"},
		Numeric: []bool{false, false, false, false, true},
	}
	for _, e := range l.Escalations {
		esc := "due"
		if e.EscalatedAt != nil {
			esc = stamp(*e.EscalatedAt)
		}
		for _, u := range e.Updates {
			state := ""
			if u.EnforcementState != 0 {
				state = strconv.Itoa(u.EnforcementState)
			}
			g.Rows = append(g.Rows, []string{e.Host, esc, u.Ref, u.Title, strconv.Itoa(u.Notices), yesNo(u.StillMissing), state, u.Error,
				strings.Join(e.Users, ", "), stamp(e.First), stamp(e.Last), e.CollectionID})
		}
	}
	return []output.Grid{g}
}
