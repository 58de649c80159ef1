package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// RunID identifies a run (one plan, one month).
type RunID int64

// StepID identifies one occurrence of a step in a run.
type StepID int64

// Status of a run or a step.
type Status string

// Statuses.
const (
	Running Status = "running" // started, not finished (or stopped and not resumed yet)
	OK      Status = "ok"      // finished; every host ended ok or skipped
	Partial Status = "partial" // finished; some hosts failed
	Failed  Status = "failed"  // finished; nothing worked, or the step itself failed
	Aborted Status = "aborted" // stopped before its end (time limit, interrupted)
)

// RunSpec names a run: the plan and the month of its night.
type RunSpec struct {
	Plan         string // plan name
	Month        string // YYYY-MM
	PatchTuesday string // YYYY-MM-DD
	TimeZone     string // the plan's zone
}

// Run is one month's run of a plan.
type Run struct {
	ID           RunID     `json:"id"`
	Plan         string    `json:"plan"`
	Month        string    `json:"month"`
	PatchTuesday string    `json:"patch_tuesday"`
	TimeZone     string    `json:"time_zone"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished,omitzero"`
	Status       Status    `json:"status"`
}

// BeginRun returns the run of spec.Plan for spec.Month, creating it if needed; resumed is
// true when it existed (scheduled tasks of one night all share one run).
func (j *DB) BeginRun(ctx context.Context, spec RunSpec) (run Run, resumed bool, err error) {
	if spec.Plan == "" || len(spec.Month) != 7 {
		return Run{}, false, exit.Usagef("", "journal: a run needs a plan name and a month (YYYY-MM), got %q %q", spec.Plan, spec.Month)
	}
	if r, ok, err := j.FindRun(ctx, spec.Plan, spec.Month); err != nil || ok {
		return r, ok, err
	}
	_, err = j.db.ExecContext(ctx, `INSERT INTO runs (plan, month, patch_tuesday, time_zone, started, status)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (plan, month) DO NOTHING`,
		clip(spec.Plan, 200), spec.Month, spec.PatchTuesday, clip(spec.TimeZone, 100), ts(j.opt.Now()), string(Running))
	if err != nil {
		return Run{}, false, fmt.Errorf("journal: begin run %s %s: %w", spec.Plan, spec.Month, err)
	}
	r, ok, err := j.FindRun(ctx, spec.Plan, spec.Month)
	if err == nil && !ok {
		err = fmt.Errorf("journal: run %s %s vanished", spec.Plan, spec.Month)
	}
	return r, false, err
}

const runCols = `id, plan, month, patch_tuesday, time_zone, started, finished, status`

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var started, finished sql.NullString
	var status string
	if err := sc.Scan(&r.ID, &r.Plan, &r.Month, &r.PatchTuesday, &r.TimeZone, &started, &finished, &status); err != nil {
		return Run{}, err
	}
	r.Started, r.Finished, r.Status = parseTS(started), parseTS(finished), Status(status)
	return r, nil
}

// FindRun returns the run of a plan for a month, if there is one.
func (j *DB) FindRun(ctx context.Context, plan, month string) (Run, bool, error) {
	r, err := scanRun(j.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE plan = ? AND month = ?`, plan, month))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("journal: find run %s %s: %w", plan, month, err)
	}
	return r, true, nil
}

// Run returns a run by ID.
func (j *DB) Run(ctx context.Context, id RunID) (Run, error) {
	r, err := scanRun(j.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, exit.Usagef("patchnight history lists the runs", "no run %d in the journal", id)
	}
	if err != nil {
		return Run{}, fmt.Errorf("journal: run %d: %w", id, err)
	}
	return r, nil
}

// Runs lists every run, newest first.
func (j *DB) Runs(ctx context.Context) ([]Run, error) {
	return listRows(ctx, j, "list runs", `SELECT `+runCols+` FROM runs ORDER BY month DESC, id DESC`, nil,
		func(rows *sql.Rows) (Run, error) { return scanRun(rows) })
}

// FinishRun marks a run finished with a status. Steps may still be run again later (a
// resumed or repeated step reopens nothing: the run's status is the runner's summary).
func (j *DB) FinishRun(ctx context.Context, id RunID, status Status) error {
	if err := j.Flush(ctx); err != nil {
		return err
	}
	res, err := j.db.ExecContext(ctx, `UPDATE runs SET finished = ?, status = ? WHERE id = ?`, ts(j.opt.Now()), string(status), id)
	if err != nil {
		return fmt.Errorf("journal: finish run %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("journal: finish run %d: no such run", id)
	}
	return nil
}

// StepSpec names one occurrence of a step in a run.
type StepSpec struct {
	Run        RunID
	Step       string    // step ID of the plan
	Occurrence string    // occurrence ID (the step ID, or STEP-HHMM for a repeating step)
	Action     string    // the step's action
	Planned    time.Time // planned start
}

// Counts are the hosts of a step by their final outcome in it (the outcome of each host's
// last row).
type Counts struct {
	Hosts       int `json:"hosts"`
	OK          int `json:"ok"`
	Failed      int `json:"failed"`      // failed, unreachable, timeout, auth, script, retries-exhausted
	Skipped     int `json:"skipped"`     // skipped, deferred, still running
	Unconfirmed int `json:"unconfirmed"` // started, never confirmed (the process stopped)
}

// Step is one occurrence of a step in a run.
type Step struct {
	ID         StepID    `json:"id"`
	Run        RunID     `json:"run"`
	Step       string    `json:"step"`
	Occurrence string    `json:"occurrence"`
	Action     string    `json:"action"`
	Planned    time.Time `json:"planned"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished,omitzero"`
	Status     Status    `json:"status"`
	Resumes    int       `json:"resumes"` // times it was started again after a stop
	Counts     Counts    `json:"counts"`
	Note       string    `json:"note,omitempty"`
}

// Done reports whether the step has finished.
func (s Step) Done() bool { return !s.Finished.IsZero() }

// BeginStep starts an occurrence of a step, or returns the existing one (resumed true). A
// resumed unfinished step has its Resumes count raised; a finished one is returned as it is,
// and the runner decides (normally: nothing to do).
func (j *DB) BeginStep(ctx context.Context, spec StepSpec) (step Step, resumed bool, err error) {
	if spec.Run == 0 || spec.Occurrence == "" || spec.Step == "" {
		return Step{}, false, fmt.Errorf("journal: begin step: run, step and occurrence are required")
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return Step{}, false, fmt.Errorf("journal: begin step %s: %w", spec.Occurrence, err)
	}
	defer tx.Rollback()
	st, err := scanStep(tx.QueryRowContext(ctx, `SELECT `+stepCols+` FROM steps WHERE run = ? AND occurrence = ?`, spec.Run, spec.Occurrence))
	switch {
	case err == nil:
		if !st.Done() {
			if _, err := tx.ExecContext(ctx, `UPDATE steps SET resumes = resumes + 1 WHERE id = ?`, st.ID); err != nil {
				return Step{}, false, fmt.Errorf("journal: resume step %s: %w", spec.Occurrence, err)
			}
			st.Resumes++
		}
		resumed = true
	case errors.Is(err, sql.ErrNoRows):
		res, err := tx.ExecContext(ctx, `INSERT INTO steps (run, step, occurrence, action, planned, started, status) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			spec.Run, spec.Step, spec.Occurrence, spec.Action, ts(spec.Planned), ts(j.opt.Now()), string(Running))
		if err != nil {
			return Step{}, false, fmt.Errorf("journal: begin step %s: %w", spec.Occurrence, err)
		}
		id, _ := res.LastInsertId()
		st, err = scanStep(tx.QueryRowContext(ctx, `SELECT `+stepCols+` FROM steps WHERE id = ?`, id))
		if err != nil {
			return Step{}, false, fmt.Errorf("journal: begin step %s: %w", spec.Occurrence, err)
		}
	default:
		return Step{}, false, fmt.Errorf("journal: begin step %s: %w", spec.Occurrence, err)
	}
	if err := tx.Commit(); err != nil {
		return Step{}, false, fmt.Errorf("journal: begin step %s: %w", spec.Occurrence, err)
	}
	return st, resumed, nil
}

const stepCols = `id, run, step, occurrence, action, planned, started, finished, status, resumes, hosts, ok, failed, skipped, unconfirmed, note`

func scanStep(sc interface{ Scan(...any) error }) (Step, error) {
	var s Step
	var planned, started, finished sql.NullString
	var status string
	err := sc.Scan(&s.ID, &s.Run, &s.Step, &s.Occurrence, &s.Action, &planned, &started, &finished, &status, &s.Resumes,
		&s.Counts.Hosts, &s.Counts.OK, &s.Counts.Failed, &s.Counts.Skipped, &s.Counts.Unconfirmed, &s.Note)
	if err != nil {
		return Step{}, err
	}
	s.Planned, s.Started, s.Finished, s.Status = parseTS(planned), parseTS(started), parseTS(finished), Status(status)
	return s, nil
}

// GetStep returns a step by ID.
func (j *DB) GetStep(ctx context.Context, id StepID) (Step, error) {
	s, err := scanStep(j.db.QueryRowContext(ctx, `SELECT `+stepCols+` FROM steps WHERE id = ?`, id))
	if err != nil {
		return Step{}, fmt.Errorf("journal: step %d: %w", id, err)
	}
	return s, nil
}

// Steps lists the steps of a run in the order they started.
func (j *DB) Steps(ctx context.Context, run RunID) ([]Step, error) {
	return listRows(ctx, j, fmt.Sprintf("steps of run %d", run), `SELECT `+stepCols+` FROM steps WHERE run = ? ORDER BY planned, id`,
		[]any{run}, func(rows *sql.Rows) (Step, error) { return scanStep(rows) })
}

// StepCounts counts a step's hosts by their last outcome, from the rows written so far.
func (j *DB) StepCounts(ctx context.Context, id StepID) (Counts, error) {
	if err := j.Flush(ctx); err != nil {
		return Counts{}, err
	}
	return stepCounts(ctx, j.db, id)
}

// ActionRepair is the host action of a client repair (the follow-up's, issue 17). It is
// journaled in the step it follows and never counted in that step's counts: a repair is
// not an outcome of the step's own action, and never a fix by itself.
const ActionRepair = "repair"

func stepCounts(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, id StepID) (Counts, error) {
	// The last row of each host (highest id) holds its final outcome in the step.
	rows, err := q.QueryContext(ctx, `SELECT h.outcome, COUNT(*) FROM host_actions h
		JOIN (SELECT MAX(id) AS id FROM host_actions WHERE step = ? AND action <> ? GROUP BY host) last ON last.id = h.id
		GROUP BY h.outcome`, id, ActionRepair)
	if err != nil {
		return Counts{}, fmt.Errorf("journal: count step %d: %w", id, err)
	}
	defer rows.Close()
	var c Counts
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			return Counts{}, fmt.Errorf("journal: count step %d: %w", id, err)
		}
		c.Hosts += n
		switch oc := Outcome(o); {
		case oc == OutcomeOK || oc == PendingRestart:
			c.OK += n
		case oc == Started:
			c.Unconfirmed += n
		case oc == Skipped || oc == Deferred || oc == StillRunning:
			c.Skipped += n
		default:
			c.Failed += n
		}
	}
	return c, rows.Err()
}

// FinishStep marks a step finished, storing its counts. An empty status is derived from the
// counts: ok when no host failed, failed when hosts failed and none succeeded, else partial.
func (j *DB) FinishStep(ctx context.Context, id StepID, status Status, note string) (Step, error) {
	if err := j.Flush(ctx); err != nil {
		return Step{}, err
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return Step{}, fmt.Errorf("journal: finish step %d: %w", id, err)
	}
	defer tx.Rollback()
	c, err := stepCounts(ctx, tx, id)
	if err != nil {
		return Step{}, err
	}
	if status == "" {
		switch {
		case c.Failed == 0:
			status = OK
		case c.OK == 0:
			status = Failed
		default:
			status = Partial
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE steps SET finished = ?, status = ?, hosts = ?, ok = ?, failed = ?, skipped = ?, unconfirmed = ?, note = ? WHERE id = ?`,
		ts(j.opt.Now()), string(status), c.Hosts, c.OK, c.Failed, c.Skipped, c.Unconfirmed, clip(note, 1000), id)
	if err != nil {
		return Step{}, fmt.Errorf("journal: finish step %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Step{}, fmt.Errorf("journal: finish step %d: no such step", id)
	}
	if err := tx.Commit(); err != nil {
		return Step{}, fmt.Errorf("journal: finish step %d: %w", id, err)
	}
	return j.GetStep(ctx, id)
}

// ReopenStep marks a finished step running again (for a run the admin forces); its host
// rows stay, so Done still protects hosts already handled.
func (j *DB) ReopenStep(ctx context.Context, id StepID) error {
	if _, err := j.db.ExecContext(ctx, `UPDATE steps SET finished = NULL, status = ?, resumes = resumes + 1 WHERE id = ?`, string(Running), id); err != nil {
		return fmt.Errorf("journal: reopen step %d: %w", id, err)
	}
	return nil
}
