package journal

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/patchnight/patchnight/pkg/output"
)

// RunList is the list of runs for `patchnight history`.
type RunList struct {
	Runs []RunSummary `json:"runs"`
}

// RunSummary is a run with its step totals.
type RunSummary struct {
	Run
	StepsStarted  int `json:"steps_started"`  // occurrences started
	StepsFinished int `json:"steps_finished"` // occurrences finished
	StepsNotOK    int `json:"steps_not_ok"`   // occurrences finished failed, partial or aborted
}

// History lists every run, newest first, with step totals.
func (j *DB) History(ctx context.Context) (RunList, error) {
	runs, err := j.Runs(ctx)
	if err != nil {
		return RunList{}, err
	}
	list := RunList{Runs: []RunSummary{}}
	for _, r := range runs {
		s := RunSummary{Run: r}
		err := j.db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(finished), COALESCE(SUM(CASE WHEN status IN ('failed', 'partial', 'aborted') THEN 1 ELSE 0 END), 0)
			FROM steps WHERE run = ?`, r.ID).Scan(&s.StepsStarted, &s.StepsFinished, &s.StepsNotOK)
		if err != nil {
			return RunList{}, fmt.Errorf("journal: history of run %d: %w", r.ID, err)
		}
		list.Runs = append(list.Runs, s)
	}
	return list, nil
}

// Grids renders the run list.
func (l RunList) Grids() []output.Grid {
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

// RunDetail is one run with its steps, for `patchnight history RUN`.
type RunDetail struct {
	Run   Run    `json:"run"`
	Steps []Step `json:"steps"`
}

// Detail returns a run and its steps.
func (j *DB) Detail(ctx context.Context, id RunID) (RunDetail, error) {
	r, err := j.Run(ctx, id)
	if err != nil {
		return RunDetail{}, err
	}
	steps, err := j.Steps(ctx, id)
	if err != nil {
		return RunDetail{}, err
	}
	// Steps still running show live counts.
	for i := range steps {
		if !steps[i].Done() {
			if steps[i].Counts, err = j.StepCounts(ctx, steps[i].ID); err != nil {
				return RunDetail{}, err
			}
		}
	}
	if steps == nil {
		steps = []Step{}
	}
	return RunDetail{Run: r, Steps: steps}, nil
}

// Grids renders the run's steps and their outcomes.
func (d RunDetail) Grids() []output.Grid {
	g := output.Grid{
		Title: fmt.Sprintf("Run %d: plan %s, %s (Patch Tuesday %s, %s), %s", d.Run.ID, d.Run.Plan, d.Run.Month,
			d.Run.PatchTuesday, d.Run.TimeZone, d.Run.Status),
		Header:  []string{"Step", "Action", "Planned", "Started", "Finished", "Status", "Hosts", "OK", "Failed", "Skipped", "Unconfirmed", "Resumed", "Note"},
		Numeric: []bool{false, false, false, false, false, false, true, true, true, true, true, true, false},
	}
	var tot Counts
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
