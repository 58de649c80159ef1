// Package site opens a ConfigMgr site database and runs the named queries of package
// queries against it, streaming rows.
//
// Two kinds of DSN are accepted:
//
//	sqlserver://host[:port][/instance]?database=CM_ABC[&encrypt=...]   a real site (go-mssqldb)
//	sqlite:PATH                                                       a lab site (modernc sqlite)
//
// For SQL Server, encrypt=true is added when the DSN does not say otherwise. With no user in
// the DSN, go-mssqldb logs on as the current Windows account (SSPI) on Windows; on Linux a
// DOMAIN\user in the DSN selects NTLM and authenticator=krb5 selects Kerberos.
package site

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	_ "github.com/microsoft/go-mssqldb/integratedauth/krb5" // authenticator=krb5 on Linux
	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/queries"
)

// Kind is the database engine behind a DB.
type Kind string

// Engines.
const (
	SQLServer Kind = "sqlserver"
	SQLite    Kind = "sqlite"
)

// DB is an open site database.
type DB struct {
	db       *sql.DB
	kind     Kind
	redacted string

	mu  sync.Mutex
	ran map[string]bool // names of the queries run, for Ran
}

// Params are the named parameters of a query. Only those the query text names (@name) are
// passed to the driver; a name the query needs but Params lacks is an error.
type Params map[string]any

// SQLiteTimeLayout is how the lab stores times: UTC text that sorts in time order.
const SQLiteTimeLayout = "2006-01-02 15:04:05"

// Open parses dsn, opens the database and checks that it answers. Errors carry exit codes:
// Usage for a DSN that does not parse or a missing lab file, Unavailable for a server that
// cannot be reached, NoPerm for a refused login.
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"), LabOptions{})
	case strings.HasPrefix(dsn, "sqlserver://"):
		return openSQLServer(ctx, dsn)
	case dsn == "":
		return nil, exit.Usagef("pass --sql, set PATCHNIGHT_SQL, or set sql in the profile",
			"no site database configured")
	default:
		return nil, exit.Usagef("use sqlserver://HOST?database=CM_ABC or sqlite:PATH",
			"site database DSN %q is neither sqlserver:// nor sqlite:", Redact(dsn))
	}
}

// LabOptions tune how a lab database reads. The zero value is what Open uses.
type LabOptions struct {
	// FlagsAsBool also reads as bool the lab columns declared FLAG: flag columns whose SQL
	// type on a site is unconfirmed (bit or int). Open reads them as the integers the lab
	// stores; tests open the lab both ways to prove the product reads either.
	FlagsAsBool bool
}

// flagType is the declared type the lab gives to flag columns whose type on a site is
// unconfirmed.
const flagType = "FLAG"

func (o LabOptions) bools() func(string) bool {
	return func(t string) bool {
		return strings.EqualFold(t, bitType) || (o.FlagsAsBool && strings.EqualFold(t, flagType))
	}
}

// OpenLab opens the lab database at path like Open("sqlite:"+path), with options.
func OpenLab(ctx context.Context, path string, o LabOptions) (*DB, error) {
	return openSQLite(ctx, path, o)
}

func openSQLite(ctx context.Context, path string, o LabOptions) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, exit.Usagef("give a plain file path after sqlite:", "lab database path %q is not a plain file path", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, exit.Wrap(exit.Usage, err, "build one with: patchnight lab init --db "+path, "lab database %s", path)
	}
	if st.IsDir() {
		return nil, exit.Usagef("give the database file, not a directory", "lab database %s is a directory", path)
	}
	conn, err := newBitConnector("file:"+path+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)", o.bools())
	if err != nil {
		return nil, fmt.Errorf("open lab database %s: %w", path, err)
	}
	db := sql.OpenDB(conn)
	d := &DB{db: db, kind: SQLite, redacted: "sqlite:" + path}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, exit.Wrap(exit.Usage, err, "rebuild it with patchnight lab init", "lab database %s does not open", path)
	}
	return d, nil
}

func openSQLServer(ctx context.Context, dsn string) (*DB, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return nil, exit.Usagef("use sqlserver://HOST[:PORT][/INSTANCE]?database=CM_ABC",
			"site database DSN %s does not parse", Redact(dsn))
	}
	q := u.Query()
	if q.Get("database") == "" {
		return nil, exit.Usagef("add ?database=CM_<SITECODE>", "site database DSN %s names no database", Redact(dsn))
	}
	if q.Get("encrypt") == "" {
		q.Set("encrypt", "true")
	}
	if q.Get("app name") == "" {
		q.Set("app name", "patchnight")
	}
	u.RawQuery = q.Encode()
	conn, err := mssql.NewConnector(u.String())
	if err != nil {
		return nil, exit.Wrap(exit.Usage, errors.New(scrub(err.Error(), u)), "check the DSN's options", "site database DSN %s is not valid", Redact(dsn))
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	d := &DB{db: db, kind: SQLServer, redacted: Redact(dsn)}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, classify(err, d.redacted, u)
	}
	return d, nil
}

// unreachableReason says in a few words why SQL Server could not be reached: the driver's
// text repeats the address and the socket library's words ("unable to open tcp connection
// with host ...: dial tcp ...: connect: connection refused"). Other causes keep the
// (scrubbed) driver text.
func unreachableReason(err error, scrubbed string) string {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dns):
		return "the host name does not resolve"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer in time"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "no answer in time"
	}
	return scrubbed
}

// classify turns a connection error into an exit-coded error without leaking secrets.
func classify(err error, where string, u *url.URL) error {
	msg := errors.New(scrub(err.Error(), u))
	var me mssql.Error
	if errors.As(err, &me) && (me.Number == 18456 || me.Number == 18452) {
		return exit.Wrap(exit.NoPerm, msg, "check the account and its db_datareader rights on the site database", "SQL login refused at %s", where)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), "unable to open tcp connection") {
		return exit.Wrap(exit.Unavailable, errors.New(unreachableReason(err, msg.Error())), "check the host, port, firewall and that SQL Server is running", "cannot reach SQL Server at %s", where)
	}
	if strings.Contains(strings.ToLower(err.Error()), "login") {
		return exit.Wrap(exit.NoPerm, msg, "check the account and its rights on the site database", "SQL login failed at %s", where)
	}
	return exit.Wrap(exit.Unavailable, msg, "check the DSN and the server", "cannot open the site database at %s", where)
}

// scrub removes the password of u from s.
func scrub(s string, u *url.URL) string {
	if u == nil || u.User == nil {
		return s
	}
	if p, ok := u.User.Password(); ok && p != "" {
		s = strings.ReplaceAll(s, p, "xxxxx")
		s = strings.ReplaceAll(s, url.QueryEscape(p), "xxxxx")
	}
	return s
}

// Redact returns dsn with any password replaced by xxxxx, for messages and logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		if strings.Contains(strings.ToLower(dsn), "password") {
			return "(a DSN with a password; not shown)"
		}
		return dsn
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "pwd") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Kind reports the engine behind d.
func (d *DB) Kind() Kind { return d.kind }

// String is the redacted DSN.
func (d *DB) String() string { return d.redacted }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

var paramRE = regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]*)`)

// args turns p into driver arguments for the query text: exactly the names it uses, with
// times converted for the engine.
func (d *DB) args(name, text string, p Params) ([]any, error) {
	seen := map[string]bool{}
	var out []any
	var missing []string
	for _, m := range paramRE.FindAllStringSubmatch(stripComments(text), -1) {
		n := m[1]
		if seen[n] {
			continue
		}
		seen[n] = true
		v, ok := p[n]
		if !ok {
			missing = append(missing, "@"+n)
			continue
		}
		out = append(out, sql.Named(n, d.value(v)))
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("query %s needs %s", name, strings.Join(missing, ", "))
	}
	return out, nil
}

func (d *DB) value(v any) any {
	switch t := v.(type) {
	case time.Time:
		if d.kind == SQLite {
			return t.UTC().Format(SQLiteTimeLayout)
		}
		return t.UTC()
	case int:
		return int64(t)
	}
	return v
}

// stripComments drops -- comments so that @words in them are not taken for parameters.
func stripComments(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// Query runs the named query and returns its rows; the caller must close them.
func (d *DB) Query(ctx context.Context, name string, p Params) (*sql.Rows, error) {
	text, err := queries.Get(name)
	if err != nil {
		return nil, err
	}
	args, err := d.args(name, text, p)
	if err != nil {
		return nil, err
	}
	rows, err := d.db.QueryContext(ctx, d.final(text), args...)
	if err != nil {
		return nil, d.queryError(name, err)
	}
	d.mu.Lock()
	if d.ran == nil {
		d.ran = map[string]bool{}
	}
	d.ran[name] = true
	d.mu.Unlock()
	return rows, nil
}

// Ran lists, sorted, the named queries d has run (started without error). Tests use it to
// prove that they exercised every query a package reads.
func (d *DB) Ran() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.ran))
	for n := range d.ran {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// RecompileDirective is the header line that asks for a fresh plan per execution on SQL
// Server. Queries with catch-all predicates (@x = ” OR ...) carry it: a cached plan built
// for one branch scans for every other (reference 12, Collation).
const RecompileDirective = "-- patchnight: recompile"

// Recompile reports whether the query text carries RecompileDirective on a line of its own.
func Recompile(text string) bool {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) == RecompileDirective {
			return true
		}
	}
	return false
}

// final is the text sent to the engine: OPTION (RECOMPILE) is appended on SQL Server when
// the query asks for it; SQLite has no such hint and plans every statement anew anyway.
func (d *DB) final(text string) string {
	if d.kind != SQLServer || !Recompile(text) {
		return text
	}
	return strings.TrimRight(text, " \t\r\n;") + "\nOPTION (RECOMPILE)"
}

// Each runs the named query and calls fn for each row, streaming: no more than one row is
// held at a time. fn scans the row; an error from fn stops the iteration and is returned.
func (d *DB) Each(ctx context.Context, name string, p Params, fn func(*sql.Rows) error) error {
	rows, err := d.Query(ctx, name, p)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return d.queryError(name, err)
	}
	return nil
}

func (d *DB) queryError(name string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("query %s on %s: %w", name, d.redacted, err)
	}
	if v := missingObject(err.Error()); v != "" {
		return exit.Wrap(exit.Usage, err, "point --sql at the CM_<SITECODE> database and grant SELECT on "+v,
			"%s is not a ConfigMgr site database or lacks %s", d.redacted, v)
	}
	return fmt.Errorf("query %s on %s: %w", name, d.redacted, err)
}

var missingRE = []*regexp.Regexp{
	regexp.MustCompile(`no such table: (\S+)`),                          // SQLite
	regexp.MustCompile(`Invalid object name '([^']+)'`),                 // SQL Server 208
	regexp.MustCompile(`permission was denied on the object '([^']+)'`), // SQL Server 229
}

func missingObject(msg string) string {
	for _, re := range missingRE {
		if m := re.FindStringSubmatch(msg); m != nil {
			return m[1]
		}
	}
	return ""
}

// Check verifies that the database carries the views patchnight reads, so that a DSN
// pointing at the wrong database fails early with one clear line.
func (d *DB) Check(ctx context.Context) error {
	rows, err := d.Query(ctx, "check_site", nil)
	if err != nil {
		return err
	}
	return rows.Close()
}
