package journal

import (
	"context"
	"fmt"
)

// RunList is the list of runs for `patchnight history` (report.History renders it).
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

// RunDetail is one run with its steps, for `patchnight history RUN` (report.RunHistory
// renders it).
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
