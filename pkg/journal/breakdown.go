package journal

import (
	"context"
	"database/sql"
	"fmt"
)

// The dimensions of a breakdown.
const (
	DimLocation = "location" // the machine's AD site, "" when unknown
	DimKind     = "kind"     // laptop, desktop, virtual or unknown
)

// Group is the patched share of one location or machine kind in a measurement.
type Group struct {
	Dim      string `json:"dim"`
	Name     string `json:"name"`
	Eligible int64  `json:"eligible"`
	Patched  int64  `json:"patched"`
}

// Breakdown is a measurement's patched share by location and by machine kind: the same
// machines the step's Metric counts, split. Note says why kinds are unknown (the site
// lacks a column), "" when nothing is missing.
type Breakdown struct {
	Step   StepID  `json:"step"`
	Note   string  `json:"note,omitempty"`
	Groups []Group `json:"groups"`
}

// RecordBreakdown stores (or replaces, when a resumed step ends again) a step's breakdown.
func (j *DB) RecordBreakdown(ctx context.Context, b Breakdown) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: record breakdown: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `INSERT INTO step_breakdowns (step, note) VALUES (?, ?)
		ON CONFLICT (step) DO UPDATE SET note = excluded.note`, int64(b.Step), b.Note); err != nil {
		return fmt.Errorf("journal: record breakdown: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM step_breakdown_groups WHERE step = ?`, int64(b.Step)); err != nil {
		return fmt.Errorf("journal: record breakdown: %w", err)
	}
	for _, g := range b.Groups {
		if _, err := tx.ExecContext(ctx, `INSERT INTO step_breakdown_groups (step, dim, name, eligible, patched) VALUES (?, ?, ?, ?, ?)`,
			int64(b.Step), g.Dim, g.Name, g.Eligible, g.Patched); err != nil {
			return fmt.Errorf("journal: record breakdown: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: record breakdown: %w", err)
	}
	return nil
}

// Breakdowns returns the breakdowns of a run's steps, keyed by step; a step measured
// without one (a journal from before schema version 5) is absent.
func (j *DB) Breakdowns(ctx context.Context, run RunID) (map[StepID]Breakdown, error) {
	out := map[StepID]Breakdown{}
	err := j.eachRow(ctx, "breakdowns", `SELECT b.step, b.note FROM step_breakdowns b
		JOIN steps s ON s.id = b.step WHERE s.run = ?`, []any{int64(run)}, func(rows *sql.Rows) error {
		var b Breakdown
		var id int64
		if err := rows.Scan(&id, &b.Note); err != nil {
			return err
		}
		b.Step, b.Groups = StepID(id), []Group{}
		out[b.Step] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = j.eachRow(ctx, "breakdown groups", `SELECT g.step, g.dim, g.name, g.eligible, g.patched FROM step_breakdown_groups g
		JOIN steps s ON s.id = g.step WHERE s.run = ? ORDER BY g.step, g.dim, g.name`, []any{int64(run)}, func(rows *sql.Rows) error {
		var g Group
		var id int64
		if err := rows.Scan(&id, &g.Dim, &g.Name, &g.Eligible, &g.Patched); err != nil {
			return err
		}
		if b, ok := out[StepID(id)]; ok {
			b.Groups = append(b.Groups, g)
			out[StepID(id)] = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
