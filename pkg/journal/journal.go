// Package journal is patchnight's state: an embedded SQLite database in the state directory
// that records each month's run of a plan, its steps, one row per host per action attempt
// (outcome, reason, error code, time), wake results and user notices. It stores and reads
// state only: the runner's single-instance lock is pkg/lock, and the history tables are
// rendered by pkg/report.
//
// It is built for a step that can be killed and run again: BeginStep returns the existing
// step when resuming, Done and DoneHosts say which hosts already completed an action in the
// step, and RecordSync writes an intent ("started") durably before a non-idempotent action
// such as a restart, so that a resumed step never restarts a host twice. Host outcomes are
// written in batches (Record, Flush) so that 20,000 hosts cost a few hundred transactions.
//
// The database uses WAL with synchronous=FULL (a committed batch survives a crash or a power
// cut), a busy timeout, and BEGIN IMMEDIATE transactions. On Unix the state directory is 0700
// and the database files 0600, fixed on open if they are wider. Nothing secret is stored:
// callers must not put credentials in reasons or notes.
package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lock"
)

// FileName is the database file in the state directory.
const FileName = "journal.db"

// Options tune a journal. Zero values take the defaults.
type Options struct {
	BatchRows   int              // buffered rows that trigger a write; default 500
	BatchDelay  time.Duration    // longest a buffered row waits before it is written; default 250ms
	BusyTimeout time.Duration    // how long a writer waits for another; default 15s
	Now         func() time.Time // clock for rows without a time; default time.Now

	afterWrite func(rows int) // tests: called after each batch is committed
}

func (o *Options) defaults() {
	if o.BatchRows <= 0 {
		o.BatchRows = 500
	}
	if o.BatchDelay <= 0 {
		o.BatchDelay = 250 * time.Millisecond
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DB is an open journal. It is safe for concurrent use.
type DB struct {
	db   *sql.DB
	path string
	opt  Options

	mu       sync.Mutex // guards the fields below
	pending  []HostOutcome
	wakes    []Wake
	timer    *time.Timer
	asyncErr error // a background flush failed: returned by the next call
	closed   bool

	flushMu sync.Mutex // one flush at a time
}

// Open opens (creating if needed) the journal in the state directory dir.
func Open(ctx context.Context, dir string) (*DB, error) {
	return OpenWith(ctx, dir, Options{})
}

// OpenWith opens the journal with options.
func OpenWith(ctx context.Context, dir string, opt Options) (*DB, error) {
	opt.defaults()
	if dir == "" {
		return nil, exit.Usagef("set state_dir in the profile", "no state directory for the journal")
	}
	if strings.ContainsAny(dir, "?#") {
		return nil, exit.Usagef("choose a state directory without '?' or '#'", "state directory %q cannot hold the journal", dir)
	}
	if err := lock.EnsureDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	// Create the file ourselves so that it is born owner-only; SQLite gives the -wal and
	// -shm files the database file's permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, exit.Wrap(exit.NoPerm, err, "check the state directory's permissions", "open journal %s", path)
	}
	f.Close()
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate",
		path, opt.BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, exit.Wrap(exit.Failed, err, "", "open journal %s", path)
	}
	db.SetMaxOpenConns(4)
	j := &DB{db: db, path: path, opt: opt}
	if err := j.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := fixFileModes(path); err != nil {
		db.Close()
		return nil, err
	}
	return j, nil
}

// Path is the database file.
func (j *DB) Path() string { return j.path }

// fixFileModes narrows the database, WAL and shared-memory files to 0600 (Unix).
func fixFileModes(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return exit.Wrap(exit.NoPerm, err, "", "journal file %s", p)
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return exit.Wrap(exit.NoPerm, err, "make it readable by its owner only (chmod 600)", "journal file %s is readable by others", p)
			}
		}
	}
	return nil
}

func (j *DB) migrate(ctx context.Context) error {
	var version int
	if err := j.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return exit.Wrap(exit.Failed, err, "the file may not be a patchnight journal; move it away to start a new one", "read journal %s", j.path)
	}
	if version > len(migrations) {
		return exit.Usagef("use the newer patchnight, or move the journal away to start a new one",
			"journal %s has schema version %d, written by a newer patchnight (this one knows %d)", j.path, version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		tx, err := j.db.BeginTx(ctx, nil)
		if err != nil {
			return exit.Wrap(exit.Failed, err, "", "migrate journal %s", j.path)
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return exit.Wrap(exit.Failed, err, "", "migrate journal %s to version %d", j.path, v+1)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return exit.Wrap(exit.Failed, err, "", "migrate journal %s to version %d", j.path, v+1)
		}
		if err := tx.Commit(); err != nil {
			return exit.Wrap(exit.Failed, err, "", "migrate journal %s to version %d", j.path, v+1)
		}
	}
	return nil
}

// Close writes what is buffered and closes the database.
func (j *DB) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
	j.mu.Unlock()
	ferr := j.Flush(context.Background())
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	cerr := j.db.Close()
	if ferr != nil {
		return ferr
	}
	if cerr != nil {
		return fmt.Errorf("close journal %s: %w", j.path, cerr)
	}
	return nil
}

// Check runs SQLite's integrity check.
func (j *DB) Check(ctx context.Context) error {
	var res string
	if err := j.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("journal integrity check: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("journal %s is damaged: %s", j.path, res)
	}
	return nil
}

// Times are stored as UTC text with milliseconds, which sorts in time order.
const timeLayout = "2006-01-02 15:04:05.000"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func parseTS(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	t, err := time.ParseInLocation(timeLayout, s.String, time.UTC)
	if err != nil {
		return time.Time{}
	}
	return t
}

// clip keeps stored text bounded and valid: at most n runes, no invalid UTF-8.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
