package journal

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Halted is the status of the step in which the night halted: finished (a resumed night
// goes on with the next step), its other machines not acted on.
const Halted Status = "halted"

// Halt is one halt of a run: the runner stopped every later install and restart step.
type Halt struct {
	ID         int64     `json:"id"`
	Run        RunID     `json:"run"`
	Step       StepID    `json:"step"`
	Occurrence string    `json:"occurrence"`
	Kind       string    `json:"kind"` // not-back, same-error
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
	Resumed    time.Time `json:"resumed,omitzero"` // zero while the halt holds
}

// Active reports whether the halt still holds.
func (h Halt) Active() bool { return h.Resumed.IsZero() }

// RecordHalt writes a halt durably (it is what stops the next steps, also in another process).
func (j *DB) RecordHalt(ctx context.Context, h Halt) (Halt, error) {
	if err := j.Flush(ctx); err != nil {
		return h, err
	}
	if h.At.IsZero() {
		h.At = j.opt.Now()
	}
	res, err := j.db.ExecContext(ctx, `INSERT INTO halts (run, step, occurrence, kind, reason, at) VALUES (?, ?, ?, ?, ?, ?)`,
		int64(h.Run), int64(h.Step), clip(h.Occurrence, 200), clip(h.Kind, 40), clip(h.Reason, 2000), ts(h.At))
	if err != nil {
		return h, fmt.Errorf("journal: record halt: %w", err)
	}
	h.ID, err = res.LastInsertId()
	if err != nil {
		return h, fmt.Errorf("journal: record halt: %w", err)
	}
	return h, nil
}

// Halts lists the run's halts, oldest first.
func (j *DB) Halts(ctx context.Context, run RunID) ([]Halt, error) {
	return listRows(ctx, j, "halts", `SELECT id, run, step, occurrence, kind, reason, at, resumed FROM halts WHERE run = ? ORDER BY id`,
		[]any{int64(run)}, func(r *sql.Rows) (Halt, error) {
			var h Halt
			var at, resumed sql.NullString
			if err := r.Scan(&h.ID, &h.Run, &h.Step, &h.Occurrence, &h.Kind, &h.Reason, &at, &resumed); err != nil {
				return h, err
			}
			h.At, h.Resumed = parseTS(at), parseTS(resumed)
			return h, nil
		})
}

// ActiveHalt returns the run's halt that still holds, if any (the latest).
func (j *DB) ActiveHalt(ctx context.Context, run RunID) (Halt, bool, error) {
	hs, err := j.Halts(ctx, run)
	if err != nil {
		return Halt{}, false, err
	}
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Active() {
			return hs[i], true, nil
		}
	}
	return Halt{}, false, nil
}

// ResumeRun lifts every halt of the run that still holds and reports how many it lifted.
func (j *DB) ResumeRun(ctx context.Context, run RunID, at time.Time) (int, error) {
	res, err := j.db.ExecContext(ctx, `UPDATE halts SET resumed = ? WHERE run = ? AND resumed IS NULL`, ts(at), int64(run))
	if err != nil {
		return 0, fmt.Errorf("journal: resume run: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("journal: resume run: %w", err)
	}
	return int(n), nil
}
