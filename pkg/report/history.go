package report

import (
	"fmt"
	"strconv"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/output"
)

// History is `patchnight history`: every run the journal holds, newest first, with step
// totals (journal.DB.History reads it). Its JSON is the journal's RunList.
type History journal.RunList

// Grids renders the run list.
func (l History) Grids() []output.Grid {
	g := output.Grid{
		Title:   "Runs",
		Header:  []string{"Run", "Plan", "Month", "Patch Tuesday", "Started", "Finished", "Status", "Steps", "Not ok"},
		Numeric: []bool{true, false, false, false, false, false, false, true, true},
	}
	for _, r := range l.Runs {
		g.Rows = append(g.Rows, []string{strconv.FormatInt(int64(r.ID), 10), r.Plan, r.Month, r.PatchTuesday,
			when(r.Started), when(r.Finished), string(r.Status), fmt.Sprintf("%d/%d", r.StepsFinished, r.StepsStarted), strconv.Itoa(r.StepsNotOK)})
	}
	return []output.Grid{g}
}

// RunHistory is `patchnight history RUN`: one run with its steps and their outcomes
// (journal.DB.Detail reads it). Its JSON is the journal's RunDetail.
type RunHistory journal.RunDetail

// Grids renders the run's steps and their outcomes.
func (d RunHistory) Grids() []output.Grid {
	g := output.Grid{
		Title: fmt.Sprintf("Run %d: plan %s, %s (Patch Tuesday %s, %s), %s", d.Run.ID, d.Run.Plan, d.Run.Month,
			d.Run.PatchTuesday, d.Run.TimeZone, d.Run.Status),
		Header:  []string{"Step", "Action", "Planned", "Started", "Finished", "Status", "Hosts", "OK", "Failed", "Skipped", "Unconfirmed", "Resumed", "Note"},
		Numeric: []bool{false, false, false, false, false, false, true, true, true, true, true, true, false},
	}
	var tot journal.Counts
	for _, s := range d.Steps {
		c := s.Counts
		tot.Hosts += c.Hosts
		tot.OK += c.OK
		tot.Failed += c.Failed
		tot.Skipped += c.Skipped
		tot.Unconfirmed += c.Unconfirmed
		g.Rows = append(g.Rows, []string{s.Occurrence, s.Action, when(s.Planned), when(s.Started), when(s.Finished), string(s.Status),
			strconv.Itoa(c.Hosts), strconv.Itoa(c.OK), strconv.Itoa(c.Failed), strconv.Itoa(c.Skipped), strconv.Itoa(c.Unconfirmed),
			strconv.Itoa(s.Resumes), s.Note})
	}
	g.Footer = []string{"total", "", "", "", "", "", strconv.Itoa(tot.Hosts), strconv.Itoa(tot.OK), strconv.Itoa(tot.Failed),
		strconv.Itoa(tot.Skipped), strconv.Itoa(tot.Unconfirmed), "", ""}
	return []output.Grid{g}
}

// when formats a time in the local zone for tables; "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
