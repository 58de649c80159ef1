package lab

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// maxBatchArgs keeps a multi-row INSERT below SQLite's limit of 32766 parameters.
const maxBatchArgs = 8000

// inserter writes rows into one table with multi-row INSERT statements: a prepared
// statement for full batches, and a one-off statement for the last, partial one.
type inserter struct {
	conn  *sql.Conn
	table string
	cols  []string
	per   int // rows per full batch
	full  *sql.Stmt
	args  []any
	rows  int
	total int64
}

func newInserter(ctx context.Context, conn *sql.Conn, table string, cols ...string) (*inserter, error) {
	b := &inserter{conn: conn, table: table, cols: cols, per: max(1, min(1000, maxBatchArgs/len(cols)))}
	stmt, err := conn.PrepareContext(ctx, b.text(b.per))
	if err != nil {
		return nil, fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	b.full = stmt
	b.args = make([]any, 0, b.per*len(cols))
	return b, nil
}

func (b *inserter) text(rows int) string {
	var s strings.Builder
	s.WriteString("INSERT INTO " + b.table + " (" + strings.Join(b.cols, ", ") + ") VALUES ")
	row := "(" + strings.Repeat("?, ", len(b.cols)-1) + "?)"
	for i := range rows {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(row)
	}
	return s.String()
}

// add queues one row (one value per column) and writes a batch when it is full.
func (b *inserter) add(ctx context.Context, vals ...any) error {
	if len(vals) != len(b.cols) {
		return fmt.Errorf("insert into %s: %d values for %d columns", b.table, len(vals), len(b.cols))
	}
	b.args = append(b.args, vals...)
	b.rows++
	if b.rows == b.per {
		return b.flush(ctx)
	}
	return nil
}

// flush writes the queued rows.
func (b *inserter) flush(ctx context.Context) error {
	if b.rows == 0 {
		return nil
	}
	var err error
	if b.rows == b.per {
		_, err = b.full.ExecContext(ctx, b.args...)
	} else {
		_, err = b.conn.ExecContext(ctx, b.text(b.rows), b.args...)
	}
	if err != nil {
		return fmt.Errorf("insert into %s: %w", b.table, err)
	}
	b.total += int64(b.rows)
	clear(b.args)
	b.args, b.rows = b.args[:0], 0
	return nil
}

// close flushes what is left and releases the prepared statement.
func (b *inserter) close(ctx context.Context) error {
	err := b.flush(ctx)
	if cerr := b.full.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("insert into %s: %w", b.table, cerr)
	}
	return err
}
