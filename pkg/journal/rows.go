package journal

import (
	"context"
	"database/sql"
	"fmt"
)

// eachRow runs the query q on the journal and hands every row, in order, to row, which
// scans it; what names the read in every error ("journal: what: ..."), so each reader
// states its query and its scan and nothing else.
func (j *DB) eachRow(ctx context.Context, what, q string, args []any, row func(*sql.Rows) error) error {
	rows, err := j.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("journal: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return fmt.Errorf("journal: %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journal: %s: %w", what, err)
	}
	return nil
}

// listRows runs q and returns what scan makes of every row, in the query's order.
func listRows[T any](ctx context.Context, j *DB, what, q string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	var out []T
	err := j.eachRow(ctx, what, q, args, func(r *sql.Rows) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countRows runs q, whose rows are (key, count), and returns the counts by key.
func countRows[K ~string](ctx context.Context, j *DB, what, q string, args ...any) (map[K]int, error) {
	out := map[K]int{}
	err := j.eachRow(ctx, what, q, args, func(rows *sql.Rows) error {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		out[K(k)] = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
