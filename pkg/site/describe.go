package site

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/patchnight/patchnight/queries"
)

// Info is what the site database says about itself: the engine's version, the database and
// the login patchnight is connected as.
type Info struct {
	Engine   Kind   `json:"engine"`
	Version  string `json:"version"`  // SERVERPROPERTY('ProductVersion'); sqlite_version() in the lab
	Database string `json:"database"` // DB_NAME(); the file in the lab
	Login    string `json:"login,omitempty"`
}

// The engine-specific statements below are fixed text: nothing of the user's goes into
// them; the query being described travels as a parameter (SQL Server) or is one of the
// embedded queries (SQLite).
const (
	sqlServerInfo = `SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)), DB_NAME(), SUSER_SNAME()`
	sqliteInfo    = `SELECT sqlite_version()`
	// sp_describe_first_result_set returns the result columns of @tsql without running
	// it; @params declares every parameter @tsql names.
	sqlServerDescribe = `EXEC sp_describe_first_result_set @tsql = @tsql, @params = @params, @browse_information_mode = 0`
)

// Info reads the engine version, the database name and the login.
func (d *DB) Info(ctx context.Context) (Info, error) {
	in := Info{Engine: d.kind}
	switch d.kind {
	case SQLServer:
		var v, db, login sql.NullString
		if err := d.db.QueryRowContext(ctx, sqlServerInfo).Scan(&v, &db, &login); err != nil {
			return in, fmt.Errorf("read the server version on %s: %w", d.redacted, err)
		}
		in.Version, in.Database, in.Login = v.String, db.String, login.String
	default:
		var v string
		if err := d.db.QueryRowContext(ctx, sqliteInfo).Scan(&v); err != nil {
			return in, fmt.Errorf("read the SQLite version of %s: %w", d.redacted, err)
		}
		in.Version, in.Database = v, strings.TrimPrefix(d.redacted, "sqlite:")
	}
	return in, nil
}

// DescribedColumn is one result column as the engine describes it.
type DescribedColumn struct {
	Name string `json:"name"`
	// Type is the engine's type name: "bit", "int", "nvarchar(256)", "datetime" on SQL
	// Server; the declared type of the column ("INTEGER", "TEXT", or "" for an expression)
	// in the lab.
	Type string `json:"type"`
	// Fits lists the kinds the Go code can read from the column; nil when the engine
	// does not say (a SQLite expression), and then the type is not checked.
	Fits []queries.Kind `json:"fits,omitempty"`
}

// Describe returns the result columns of the contract's query without running it: SQL
// Server's sp_describe_first_result_set; in the lab, the statement wrapped in
// SELECT * FROM (...) WHERE 1 = 0 (modernc's Query steps the statement once, so the
// wrapper makes sure no row is computed) with its declared column types.
func (d *DB) Describe(ctx context.Context, c queries.Contract) ([]DescribedColumn, error) {
	text, err := queries.Get(c.Query)
	if err != nil {
		return nil, err
	}
	if d.kind == SQLServer {
		return d.describeSQLServer(ctx, text, c)
	}
	return d.describeSQLite(ctx, text, c)
}

func (d *DB) describeSQLServer(ctx context.Context, text string, c queries.Contract) ([]DescribedColumn, error) {
	rows, err := d.db.QueryContext(ctx, sqlServerDescribe, sql.Named("tsql", text), sql.Named("params", c.ParamList()))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	for _, n := range []string{"is_hidden", "name", "system_type_name"} {
		if _, ok := idx[n]; !ok {
			return nil, fmt.Errorf("sp_describe_first_result_set returned no %s column", n)
		}
	}
	var out []DescribedColumn
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		if hidden, _ := vals[idx["is_hidden"]].(bool); hidden {
			continue
		}
		name, _ := vals[idx["name"]].(string)
		typ, _ := vals[idx["system_type_name"]].(string)
		out = append(out, DescribedColumn{Name: name, Type: typ, Fits: sqlServerFits(typ)})
	}
	return out, rows.Err()
}

// sqlServerFits says which kinds the Go code can read from a SQL Server type: go-mssqldb
// returns bool for bit (which database/sql cannot put into an int64: reference 1.2),
// int64 for the integer types, time.Time for the date and time types, string for text.
func sqlServerFits(typ string) []queries.Kind {
	base := strings.ToLower(typ)
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = base[:i]
	}
	switch strings.TrimSpace(base) {
	case "bit":
		return []queries.Kind{queries.Flag}
	case "tinyint", "smallint", "int", "bigint":
		return []queries.Kind{queries.Int, queries.Flag, queries.String}
	case "char", "varchar", "nchar", "nvarchar", "text", "ntext", "sysname":
		return []queries.Kind{queries.String}
	case "date", "datetime", "datetime2", "smalldatetime", "datetimeoffset":
		return []queries.Kind{queries.Time}
	}
	return []queries.Kind{} // a type the Go code reads as none of its kinds
}

func (d *DB) describeSQLite(ctx context.Context, text string, c queries.Contract) ([]DescribedColumn, error) {
	wrapped := "SELECT * FROM (\n" + strings.TrimRight(strings.TrimSpace(text), ";") + "\n) WHERE 1 = 0"
	var args []any
	for _, p := range c.Params {
		var v any
		switch p.Kind {
		case queries.Int, queries.Flag:
			v = int64(0)
		case queries.Time:
			v = time.Unix(0, 0).UTC().Format(SQLiteTimeLayout)
		default:
			v = ""
		}
		args = append(args, sql.Named(p.Name, v))
	}
	rows, err := d.db.QueryContext(ctx, wrapped, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	out := make([]DescribedColumn, len(types))
	for i, t := range types {
		typ := t.DatabaseTypeName()
		out[i] = DescribedColumn{Name: t.Name(), Type: typ}
		switch strings.ToUpper(typ) {
		case "INTEGER":
			out[i].Fits = []queries.Kind{queries.Int, queries.Flag, queries.String}
		case "TEXT":
			// The lab stores times as UTC text (SQLiteTimeLayout), which NullTime reads.
			out[i].Fits = []queries.Kind{queries.String, queries.Time}
		}
	}
	return out, nil
}

// SchemaProblem says what kind of schema error a query met.
type SchemaProblem string

// The schema problems.
const (
	MissingObject SchemaProblem = "missing-object" // a view or table that does not exist
	MissingColumn SchemaProblem = "missing-column" // a column the view does not have
	Denied        SchemaProblem = "denied"         // SELECT permission denied (SQL Server error 229)
)

// SchemaError is a query that failed on the site's schema or permissions.
type SchemaError struct {
	Problem SchemaProblem
	Name    string // the object or column
	Err     error
}

func (e *SchemaError) Error() string { return e.Err.Error() }
func (e *SchemaError) Unwrap() error { return e.Err }

var schemaREs = []struct {
	re      *regexp.Regexp
	problem SchemaProblem
}{
	{regexp.MustCompile(`permission was denied on the object '([^']+)'`), Denied}, // SQL Server 229 (and the lab)
	{regexp.MustCompile(`Invalid object name '([^']+)'`), MissingObject},          // SQL Server 208
	{regexp.MustCompile(`Invalid column name '([^']+)'`), MissingColumn},          // SQL Server 207
	{regexp.MustCompile(`no such table: (\S+)`), MissingObject},                   // SQLite
	{regexp.MustCompile(`no such column: (\S+)`), MissingColumn},                  // SQLite
}

// ClassifySchemaError finds a missing view, a missing column or a denied SELECT in err;
// nil when err is none of these.
func ClassifySchemaError(err error) *SchemaError {
	if err == nil {
		return nil
	}
	var se *SchemaError
	if errors.As(err, &se) {
		return se
	}
	msg := err.Error()
	for _, s := range schemaREs {
		if m := s.re.FindStringSubmatch(msg); m != nil {
			name := strings.Trim(m[1], `"[]`)
			if s.problem == MissingColumn {
				// SQLite names the column with its alias ("uc.MinSourceVersion").
				if i := strings.LastIndexByte(name, '.'); i >= 0 {
					name = name[i+1:]
				}
			}
			return &SchemaError{Problem: s.problem, Name: name, Err: err}
		}
	}
	return nil
}

// FitsKind reports whether the Go code can read kind k from c (true when the engine did not
// say).
func (c DescribedColumn) FitsKind(k queries.Kind) bool {
	return c.Fits == nil || slices.Contains(c.Fits, k)
}
