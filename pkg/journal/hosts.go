package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Outcome is what happened to one host in one action attempt.
type Outcome string

// Outcomes.
const (
	OutcomeOK        Outcome = "ok"                // the action succeeded
	Started          Outcome = "started"           // intent, written before a non-idempotent action (restart); counts as done
	Skipped          Outcome = "skipped"           // nothing to do (e.g. no missing update); counts as done
	Deferred         Outcome = "deferred"          // not now (a user is logged on); may be tried again
	OutcomeFailed    Outcome = "failed"            // the action ran and failed (error code in ErrorCode)
	Unreachable      Outcome = "unreachable"       // no connection (offline, WinRM closed)
	Timeout          Outcome = "timeout"           // no answer in time, or the step's limit was reached
	Auth             Outcome = "auth"              // authentication or permission refused
	Script           Outcome = "script"            // the remote script failed or answered nonsense
	RetriesExhausted Outcome = "retries-exhausted" // not tried again: it failed too often this night; needs a person
	// PendingRestart: the install job ended and its updates wait for a restart (a restart
	// row follows when the step restarts); counts as done.
	PendingRestart Outcome = "pending-restart"
	// StillRunning: the install job had not ended at the step's time limit, so the host was
	// not restarted (that would lose the unfinished installs); neither done nor a failure.
	StillRunning Outcome = "still-running"
)

// Outcomes lists every outcome.
func Outcomes() []Outcome {
	return []Outcome{OutcomeOK, Started, Skipped, Deferred, OutcomeFailed, Unreachable, Timeout, Auth, Script, RetriesExhausted,
		PendingRestart, StillRunning}
}

// Done reports whether the outcome ends the host's action in the step: a resumed step does
// not act on the host again (ok, started, skipped, retries-exhausted).
func (o Outcome) Done() bool {
	switch o {
	case OutcomeOK, Started, Skipped, RetriesExhausted, PendingRestart:
		return true
	}
	return false
}

// Failure reports whether the outcome is a failed attempt (counted against max_retries).
func (o Outcome) Failure() bool {
	switch o {
	case OutcomeFailed, Unreachable, Timeout, Auth, Script:
		return true
	}
	return false
}

// Valid reports whether o is a known outcome.
func (o Outcome) Valid() bool {
	for _, v := range Outcomes() {
		if v == o {
			return true
		}
	}
	return false
}

// HostOutcome is one row: one host, one action attempt in one step.
type HostOutcome struct {
	Run        RunID     `json:"run"`
	Step       StepID    `json:"step"`
	Host       string    `json:"host"`                  // computer name (compared case-insensitively)
	ResourceID int64     `json:"resource_id,omitempty"` // ConfigMgr ResourceID
	Action     string    `json:"action"`                // scan, wake, install, restart, notify, ...
	Attempt    int       `json:"attempt"`               // 1 for the first try of the night
	Outcome    Outcome   `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`     // one line: why (never a secret)
	ErrorCode  int64     `json:"error_code,omitempty"` // e.g. 0x80240016 as a number
	Channel    string    `json:"channel,omitempty"`    // winrm or site
	At         time.Time `json:"at"`                   // when; zero = now
}

func (j *DB) prepare(o *HostOutcome) error {
	if o.Run == 0 || o.Step == 0 {
		return errors.New("journal: a host outcome needs its run and step")
	}
	if strings.TrimSpace(o.Host) == "" || o.Action == "" {
		return errors.New("journal: a host outcome needs a host and an action")
	}
	if !o.Outcome.Valid() {
		return fmt.Errorf("journal: unknown outcome %q", o.Outcome)
	}
	if o.At.IsZero() {
		o.At = j.opt.Now()
	}
	if o.Attempt <= 0 {
		o.Attempt = 1
	}
	o.Host = clip(o.Host, 255)
	o.Action = clip(o.Action, 64)
	o.Reason = clip(strings.Join(strings.Fields(o.Reason), " "), 500)
	o.Channel = clip(o.Channel, 16)
	return nil
}

// Record buffers a host outcome. Rows are written in one transaction when BatchRows are
// waiting or BatchDelay has passed since the first of them, and by Flush and Close; a row
// is durable only then. An error of an earlier background write is returned here.
func (j *DB) Record(ctx context.Context, o HostOutcome) error {
	if err := j.prepare(&o); err != nil {
		return err
	}
	return j.enqueue(ctx, func() { j.pending = append(j.pending, o) })
}

// enqueue adds rows to the write buffer (add runs under the lock) and writes the buffer
// when it is full, or starts the timer that writes it after BatchDelay. An error of an
// earlier background write is returned here.
func (j *DB) enqueue(ctx context.Context, add func()) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return errors.New("journal: closed")
	}
	if err := j.asyncErr; err != nil {
		j.asyncErr = nil
		j.mu.Unlock()
		return err
	}
	add()
	full := len(j.pending)+len(j.wakes) >= j.opt.BatchRows
	if !full && j.timer == nil {
		j.timer = time.AfterFunc(j.opt.BatchDelay, j.backgroundFlush)
	}
	j.mu.Unlock()
	if full {
		return j.Flush(ctx)
	}
	return nil
}

// RecordSync writes outcomes now, after everything buffered, in one transaction: use it for
// the intent row (Started) before a restart, so that a resumed step knows the host may
// already be restarting.
func (j *DB) RecordSync(ctx context.Context, rows ...HostOutcome) error {
	rows = append([]HostOutcome(nil), rows...)
	for i := range rows {
		if err := j.prepare(&rows[i]); err != nil {
			return err
		}
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return errors.New("journal: closed")
	}
	j.pending = append(j.pending, rows...)
	j.mu.Unlock()
	return j.Flush(ctx)
}

func (j *DB) backgroundFlush() {
	ctx, cancel := context.WithTimeout(context.Background(), j.opt.BusyTimeout+30*time.Second)
	defer cancel()
	if err := j.Flush(ctx); err != nil {
		j.mu.Lock()
		if j.asyncErr == nil {
			j.asyncErr = err
		}
		j.mu.Unlock()
	}
}

// Flush writes every buffered row now.
func (j *DB) Flush(ctx context.Context) error {
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	j.mu.Lock()
	rows, wakes := j.pending, j.wakes
	j.pending, j.wakes = nil, nil
	if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
	closed := j.closed
	j.mu.Unlock()
	if len(rows) == 0 && len(wakes) == 0 {
		return nil
	}
	if closed {
		return errors.New("journal: closed with unwritten rows")
	}
	if err := j.write(ctx, rows, wakes); err != nil {
		// Keep the rows for the next attempt, ahead of newer ones.
		j.mu.Lock()
		j.pending = append(rows, j.pending...)
		j.wakes = append(wakes, j.wakes...)
		j.mu.Unlock()
		return err
	}
	return nil
}

func (j *DB) write(ctx context.Context, rows []HostOutcome, wakes []Wake) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: write %d rows: %w", len(rows)+len(wakes), err)
	}
	defer tx.Rollback()
	if len(rows) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO host_actions (run, step, host, resource_id, action, attempt, outcome, reason, error_code, channel, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("journal: write host outcomes: %w", err)
		}
		defer stmt.Close()
		for _, o := range rows {
			if _, err := stmt.ExecContext(ctx, o.Run, o.Step, o.Host, o.ResourceID, o.Action, o.Attempt, string(o.Outcome), o.Reason, o.ErrorCode, o.Channel, ts(o.At)); err != nil {
				return fmt.Errorf("journal: write outcome of %s: %w", o.Host, err)
			}
		}
	}
	if len(wakes) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO wakes (run, step, host, resource_id, mac, method, packets, sent, online_before, woke)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("journal: write wakes: %w", err)
		}
		defer stmt.Close()
		for _, w := range wakes {
			if _, err := stmt.ExecContext(ctx, w.Run, w.Step, w.Host, w.ResourceID, w.MAC, w.Method, w.Packets, ts(w.Sent), w.OnlineBefore, nullTS(w.Woke)); err != nil {
				return fmt.Errorf("journal: write wake of %s: %w", w.Host, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: write %d rows: %w", len(rows)+len(wakes), err)
	}
	if j.opt.afterWrite != nil {
		j.opt.afterWrite(len(rows) + len(wakes))
	}
	return nil
}

// HostSet is a set of computer names, compared case-insensitively.
type HostSet map[string]struct{}

// Has reports whether name is in the set.
func (s HostSet) Has(name string) bool {
	_, ok := s[strings.ToUpper(name)]
	return ok
}

// Len is the number of hosts.
func (s HostSet) Len() int { return len(s) }

// Done reports whether host already completed action in the step (a Done outcome), so a
// resumed step leaves it alone.
func (j *DB) Done(ctx context.Context, step StepID, host, action string) (bool, error) {
	if err := j.Flush(ctx); err != nil {
		return false, err
	}
	var n int
	err := j.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM host_actions WHERE step = ? AND host = ? AND action = ? AND outcome IN `+doneList(),
		step, host, action).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("journal: done %s: %w", host, err)
	}
	return n > 0, nil
}

// DoneHosts returns the hosts that completed action in the step: one query for a whole
// step being resumed.
func (j *DB) DoneHosts(ctx context.Context, step StepID, action string) (HostSet, error) {
	if err := j.Flush(ctx); err != nil {
		return nil, err
	}
	set := HostSet{}
	err := j.eachRow(ctx, fmt.Sprintf("done hosts of step %d", step),
		`SELECT DISTINCT host FROM host_actions WHERE step = ? AND action = ? AND outcome IN `+doneList(), []any{step, action},
		func(rows *sql.Rows) error {
			var h string
			if err := rows.Scan(&h); err != nil {
				return err
			}
			set[strings.ToUpper(h)] = struct{}{}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return set, nil
}

func doneList() string    { return outcomeList(Outcome.Done) }
func failureList() string { return outcomeList(Outcome.Failure) }

// outcomeList is the SQL list "('a', 'b')" of the outcomes keep selects: constants of
// this package, never user input.
func outcomeList(keep func(Outcome) bool) string {
	var q []string
	for _, o := range Outcomes() {
		if keep(o) {
			q = append(q, "'"+string(o)+"'")
		}
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// FailedAttempts counts the failed attempts of action on host during the run (every step):
// compare with the step's max_retries + 1 before trying again.
func (j *DB) FailedAttempts(ctx context.Context, run RunID, host, action string) (int, error) {
	if err := j.Flush(ctx); err != nil {
		return 0, err
	}
	var n int
	err := j.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM host_actions WHERE run = ? AND host = ? AND action = ? AND outcome IN `+failureList(),
		run, host, action).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("journal: failed attempts of %s: %w", host, err)
	}
	return n, nil
}

// FailedCounts returns, for every host with failed attempts of action during the run, how
// many (keys upper-cased): one query for a whole step.
func (j *DB) FailedCounts(ctx context.Context, run RunID, action string) (map[string]int, error) {
	if err := j.Flush(ctx); err != nil {
		return nil, err
	}
	return countRows[string](ctx, j, "failed counts",
		`SELECT UPPER(host), COUNT(*) FROM host_actions WHERE run = ? AND action = ? AND outcome IN `+failureList()+` GROUP BY UPPER(host)`,
		run, action)
}

// FailedCountsSince is FailedCounts over the rows recorded at or after since: the follow-up
// (issue 17) counts a day's attempts, so that a machine the night gave up on is tried again
// on a later day.
func (j *DB) FailedCountsSince(ctx context.Context, run RunID, action string, since time.Time) (map[string]int, error) {
	if err := j.Flush(ctx); err != nil {
		return nil, err
	}
	return countRows[string](ctx, j, "failed counts",
		`SELECT UPPER(host), COUNT(*) FROM host_actions WHERE run = ? AND action = ? AND at >= ? AND outcome IN `+failureList()+` GROUP BY UPPER(host)`,
		run, action, ts(since))
}

// Filter selects host outcomes; zero fields select everything.
type Filter struct {
	Run     RunID
	Step    StepID
	Host    string
	Action  string
	Outcome Outcome
}

// EachHostOutcome calls fn for every matching row in time order, streaming (a 20,000-host
// night is not held in memory).
func (j *DB) EachHostOutcome(ctx context.Context, f Filter, fn func(HostOutcome) error) error {
	if err := j.Flush(ctx); err != nil {
		return err
	}
	q := `SELECT run, step, host, resource_id, action, attempt, outcome, reason, error_code, channel, at FROM host_actions WHERE 1 = 1`
	var args []any
	if f.Run != 0 {
		q += " AND run = ?"
		args = append(args, f.Run)
	}
	if f.Step != 0 {
		q += " AND step = ?"
		args = append(args, f.Step)
	}
	if f.Host != "" {
		q += " AND host = ?"
		args = append(args, f.Host)
	}
	if f.Action != "" {
		q += " AND action = ?"
		args = append(args, f.Action)
	}
	if f.Outcome != "" {
		q += " AND outcome = ?"
		args = append(args, string(f.Outcome))
	}
	rows, err := j.db.QueryContext(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return fmt.Errorf("journal: host outcomes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o HostOutcome
		var outcome string
		var at sql.NullString
		if err := rows.Scan(&o.Run, &o.Step, &o.Host, &o.ResourceID, &o.Action, &o.Attempt, &outcome, &o.Reason, &o.ErrorCode, &o.Channel, &at); err != nil {
			return fmt.Errorf("journal: host outcomes: %w", err)
		}
		o.Outcome, o.At = Outcome(outcome), parseTS(at)
		if err := fn(o); err != nil {
			return err
		}
	}
	return rows.Err()
}

// HostOutcomes returns the matching rows in time order.
func (j *DB) HostOutcomes(ctx context.Context, f Filter) ([]HostOutcome, error) {
	var out []HostOutcome
	err := j.EachHostOutcome(ctx, f, func(o HostOutcome) error {
		out = append(out, o)
		return nil
	})
	return out, err
}

// OutcomeCounts counts the rows of a step by outcome (every attempt, not only the last).
func (j *DB) OutcomeCounts(ctx context.Context, step StepID) (map[Outcome]int, error) {
	if err := j.Flush(ctx); err != nil {
		return nil, err
	}
	return countRows[Outcome](ctx, j, "outcome counts", `SELECT outcome, COUNT(*) FROM host_actions WHERE step = ? GROUP BY outcome`, step)
}

// Wake is the result of waking one host in a wake step.
type Wake struct {
	Run          RunID     `json:"run"`
	Step         StepID    `json:"step"`
	Host         string    `json:"host"`
	ResourceID   int64     `json:"resource_id,omitempty"`
	MAC          string    `json:"mac,omitempty"`
	Method       string    `json:"method,omitempty"` // directed, unicast, relay, site
	Packets      int       `json:"packets"`
	Sent         time.Time `json:"sent"`
	OnlineBefore bool      `json:"online_before"` // already online: no packet needed
	Woke         time.Time `json:"woke,omitzero"` // first seen online after the packet; zero = never
}

// RecordWake buffers a wake result like Record.
func (j *DB) RecordWake(ctx context.Context, w Wake) error {
	if w.Run == 0 || w.Step == 0 || strings.TrimSpace(w.Host) == "" {
		return errors.New("journal: a wake result needs its run, step and host")
	}
	if w.Sent.IsZero() {
		w.Sent = j.opt.Now()
	}
	w.Host, w.MAC, w.Method = clip(w.Host, 255), clip(w.MAC, 64), clip(w.Method, 16)
	return j.enqueue(ctx, func() { j.wakes = append(j.wakes, w) })
}

// Wakes returns the wake results of a step.
func (j *DB) Wakes(ctx context.Context, step StepID) ([]Wake, error) {
	if err := j.Flush(ctx); err != nil {
		return nil, err
	}
	return listRows(ctx, j, "wakes", `SELECT run, step, host, resource_id, mac, method, packets, sent, online_before, woke FROM wakes WHERE step = ? ORDER BY id`,
		[]any{step}, func(rows *sql.Rows) (Wake, error) {
			var w Wake
			var sent, woke sql.NullString
			err := rows.Scan(&w.Run, &w.Step, &w.Host, &w.ResourceID, &w.MAC, &w.Method, &w.Packets, &sent, &w.OnlineBefore, &woke)
			w.Sent, w.Woke = parseTS(sent), parseTS(woke)
			return w, err
		})
}
