package journal

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Metric is the patched share measured when a step ended: of the eligible machines, how
// many had every update of the night installed or not required.
type Metric struct {
	Step     StepID    `json:"step"`
	Eligible int64     `json:"eligible"`
	Patched  int64     `json:"patched"`
	At       time.Time `json:"at"`
}

// RecordMetric stores (or replaces, when a resumed step ends again) a step's measurement.
func (j *DB) RecordMetric(ctx context.Context, m Metric) error {
	if m.At.IsZero() {
		m.At = j.opt.Now()
	}
	_, err := j.db.ExecContext(ctx, `INSERT INTO step_metrics (step, eligible, patched, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (step) DO UPDATE SET eligible = excluded.eligible, patched = excluded.patched, at = excluded.at`,
		int64(m.Step), m.Eligible, m.Patched, ts(m.At))
	if err != nil {
		return fmt.Errorf("journal: record metric: %w", err)
	}
	return nil
}

// Metrics returns the measurements of a run's steps, keyed by step.
func (j *DB) Metrics(ctx context.Context, run RunID) (map[StepID]Metric, error) {
	out := map[StepID]Metric{}
	err := j.eachRow(ctx, "metrics", `SELECT m.step, m.eligible, m.patched, m.at FROM step_metrics m
		JOIN steps s ON s.id = m.step WHERE s.run = ?`, []any{int64(run)}, func(rows *sql.Rows) error {
		var m Metric
		var at string
		var id int64
		if err := rows.Scan(&id, &m.Eligible, &m.Patched, &at); err != nil {
			return err
		}
		m.Step = StepID(id)
		if t, err := time.ParseInLocation(timeLayout, at, time.UTC); err == nil {
			m.At = t
		}
		out[m.Step] = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
