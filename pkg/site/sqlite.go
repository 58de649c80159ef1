package site

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
)

// The lab reads bit columns as SQL Server does.
//
// On SQL Server a bit column comes back from go-mssqldb as a Go bool, and database/sql
// refuses to scan a bool into an integer (reference 1.2, "Types"). SQLite has no bool: a
// lab on plain modernc hands back int64 and hides a scan that fails on the first row of a
// real site. So the lab declares the columns that are bit on a site with the type BIT, and
// this connector turns every result column whose declared type is BIT into a bool.
//
// SQLite reports a declared type only for a result column that is a plain column reference
// (through views, CTEs and subqueries), not for an expression: COALESCE(b, 0), CASE and
// CAST come back as integers, exactly as they are int on SQL Server (int outranks bit).

// bitType is the declared type the lab gives to columns that are bit on a site.
const bitType = "BIT"

// bitConnector opens modernc sqlite connections whose result rows carry bool for BIT
// columns. It registers nothing globally (sql.OpenDB takes it directly).
type bitConnector struct {
	base driver.Connector
	// bools says which declared types read as bool. Nil means BIT only.
	bools func(declType string) bool
}

func newBitConnector(dsn string, bools func(string) bool) (*bitConnector, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	if bools == nil {
		bools = func(t string) bool { return strings.EqualFold(t, bitType) }
	}
	return &bitConnector{base: base, bools: bools}, nil
}

func (c *bitConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &bitConn{Conn: conn, bools: c.bools}, nil
}

func (c *bitConnector) Driver() driver.Driver { return c.base.Driver() }

// bitConn forwards every optional interface modernc's connection implements and wraps the
// rows of queries.
type bitConn struct {
	driver.Conn
	bools func(string) bool
}

var errNotSupported = errors.New("site: the sqlite connection does not support this")

// Unwrap returns the modernc connection (sqlite.Limit looks through wrappers this way).
func (c *bitConn) Unwrap() driver.Conn { return c.Conn }

func (c *bitConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return newBitRows(rows, c.bools), nil
}

func (c *bitConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &bitStmt{Stmt: st, bools: c.bools}, nil
}

func (c *bitConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return e.ExecContext(ctx, query, args)
}

func (c *bitConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.Conn.(driver.ConnBeginTx)
	if !ok {
		return nil, errNotSupported
	}
	return b.BeginTx(ctx, opts)
}

func (c *bitConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *bitConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *bitConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// bitStmt wraps the rows of a prepared statement.
type bitStmt struct {
	driver.Stmt
	bools func(string) bool
}

func (s *bitStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.Stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, fmt.Errorf("%w: statement without QueryContext", errNotSupported)
	}
	rows, err := q.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	return newBitRows(rows, s.bools), nil
}

func (s *bitStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.Stmt.(driver.StmtExecContext)
	if !ok {
		return nil, fmt.Errorf("%w: statement without ExecContext", errNotSupported)
	}
	return e.ExecContext(ctx, args)
}

// bitRows turns the integer values of bool columns into bool.
type bitRows struct {
	driver.Rows
	isBool []bool // per column; nil when no column is bool
}

func newBitRows(rows driver.Rows, bools func(string) bool) *bitRows {
	r := &bitRows{Rows: rows}
	t, ok := rows.(driver.RowsColumnTypeDatabaseTypeName)
	if !ok {
		return r
	}
	n := len(rows.Columns())
	for i := range n {
		if bools(t.ColumnTypeDatabaseTypeName(i)) {
			if r.isBool == nil {
				r.isBool = make([]bool, n)
			}
			r.isBool[i] = true
		}
	}
	return r
}

func (r *bitRows) Next(dest []driver.Value) error {
	if err := r.Rows.Next(dest); err != nil {
		return err
	}
	for i, b := range r.isBool {
		if !b {
			continue
		}
		switch v := dest[i].(type) {
		case int64:
			dest[i] = v != 0
		case nil, bool:
		default:
			// A bit column holds 0, 1 or NULL on a site; anything else is a lab defect.
			return fmt.Errorf("site: bit column %d holds %T %v", i, v, v)
		}
	}
	return nil
}

// ColumnTypeDatabaseTypeName reports the declared type, as modernc does.
func (r *bitRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}
