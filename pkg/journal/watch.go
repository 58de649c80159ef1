package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The state of user notices beyond the notices themselves (issue 7): the scan-behind
// watcher's passes, the machines it saw online at its last pass (so that a machine that
// comes online is noticed within one pass, and once), what each pass did to each machine,
// and the machines escalated after repeated notices.

// WatchPass is one pass of the scan-behind watcher, with its counts.
type WatchPass struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Behind     int       `json:"behind"`      // scan-behind machines in scope
	Online     int       `json:"online"`      // ... of them online
	CameOnline int       `json:"came_online"` // ... online now and not at the last pass
	Noticed    int       `json:"noticed"`     // machines told
	Scanned    int       `json:"scanned"`     // scans triggered
	Failed     int       `json:"failed"`      // machines not reached
}

// WatchHost is a machine the watcher saw online (and dealt with) at its last pass.
type WatchHost struct {
	Host       string    `json:"host"`
	ResourceID int64     `json:"resource_id,omitempty"`
	Since      time.Time `json:"since"` // the pass that first saw it online in this stretch
}

// WatchAction is what one pass did to one machine.
type WatchAction struct {
	Pass       int64     `json:"pass"`
	Host       string    `json:"host"`
	ResourceID int64     `json:"resource_id,omitempty"`
	Noticed    bool      `json:"noticed"`
	NoticeNote string    `json:"notice_note,omitempty"` // why not told: nobody-logged-on, quiet-hours, too-soon, ...
	Scanned    bool      `json:"scanned"`
	ScanNote   string    `json:"scan_note,omitempty"`
	At         time.Time `json:"at"`
}

// WatchOnline returns the machines the last pass saw online, keyed by upper-case name.
func (j *DB) WatchOnline(ctx context.Context) (map[string]WatchHost, error) {
	out := map[string]WatchHost{}
	err := j.eachRow(ctx, "watcher state", `SELECT host, resource_id, since FROM watch_online`, nil, func(rows *sql.Rows) error {
		var h WatchHost
		var since sql.NullString
		if err := rows.Scan(&h.Host, &h.ResourceID, &since); err != nil {
			return err
		}
		h.Since = parseTS(since)
		out[strings.ToUpper(h.Host)] = h
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LastWatchPass returns the watcher's last pass; ok is false before the first.
func (j *DB) LastWatchPass(ctx context.Context) (WatchPass, bool, error) {
	var p WatchPass
	var at sql.NullString
	err := j.db.QueryRowContext(ctx, `SELECT id, at, behind, online, came_online, noticed, scanned, failed
		FROM watch_passes ORDER BY id DESC LIMIT 1`).Scan(&p.ID, &at, &p.Behind, &p.Online, &p.CameOnline, &p.Noticed, &p.Scanned, &p.Failed)
	if errors.Is(err, sql.ErrNoRows) {
		return WatchPass{}, false, nil
	}
	if err != nil {
		return WatchPass{}, false, fmt.Errorf("journal: last watcher pass: %w", err)
	}
	p.At = parseTS(at)
	return p, true, nil
}

// RecordWatchPass writes a pass, what it did to each machine, and the machines it saw
// online (replacing the previous pass's set), in one transaction. It returns the pass ID.
func (j *DB) RecordWatchPass(ctx context.Context, p WatchPass, actions []WatchAction, online []WatchHost) (int64, error) {
	if p.At.IsZero() {
		p.At = j.opt.Now()
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("journal: record watcher pass: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO watch_passes (at, behind, online, came_online, noticed, scanned, failed)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, ts(p.At), p.Behind, p.Online, p.CameOnline, p.Noticed, p.Scanned, p.Failed)
	if err != nil {
		return 0, fmt.Errorf("journal: record watcher pass: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("journal: record watcher pass: %w", err)
	}
	for _, a := range actions {
		if strings.TrimSpace(a.Host) == "" {
			return 0, errors.New("journal: a watcher action needs a host")
		}
		at := a.At
		if at.IsZero() {
			at = p.At
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO watch_hosts (pass, host, resource_id, noticed, notice_note, scanned, scan_note, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, clip(a.Host, 255), a.ResourceID, a.Noticed, clip(oneLine(a.NoticeNote), 500),
			a.Scanned, clip(oneLine(a.ScanNote), 500), ts(at)); err != nil {
			return 0, fmt.Errorf("journal: record watcher action on %s: %w", a.Host, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM watch_online`); err != nil {
		return 0, fmt.Errorf("journal: record watcher state: %w", err)
	}
	for _, h := range online {
		since := h.Since
		if since.IsZero() {
			since = p.At
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO watch_online (host, resource_id, since, pass) VALUES (?, ?, ?, ?)
			ON CONFLICT (host) DO UPDATE SET resource_id = excluded.resource_id, pass = excluded.pass`,
			clip(h.Host, 255), h.ResourceID, ts(since), id); err != nil {
			return 0, fmt.Errorf("journal: record watcher state of %s: %w", h.Host, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("journal: record watcher pass: %w", err)
	}
	return id, nil
}

// WatchActions lists what the watcher did to a host (every host when host is ""), oldest
// first.
func (j *DB) WatchActions(ctx context.Context, host string) ([]WatchAction, error) {
	if host == "" {
		return j.watchActions(ctx, "", nil)
	}
	return j.watchActions(ctx, ` WHERE host = ?`, []any{host})
}

// WatchActionsSince lists what the watcher did to every host at or after since, oldest
// first: a pass reads the day's actions in one query.
func (j *DB) WatchActionsSince(ctx context.Context, since time.Time) ([]WatchAction, error) {
	return j.watchActions(ctx, ` WHERE at >= ?`, []any{ts(since)})
}

func (j *DB) watchActions(ctx context.Context, where string, args []any) ([]WatchAction, error) {
	q := `SELECT pass, host, resource_id, noticed, notice_note, scanned, scan_note, at FROM watch_hosts` + where
	return listRows(ctx, j, "watcher actions", q+` ORDER BY at, id`, args, func(rows *sql.Rows) (WatchAction, error) {
		var a WatchAction
		var at sql.NullString
		err := rows.Scan(&a.Pass, &a.Host, &a.ResourceID, &a.Noticed, &a.NoticeNote, &a.Scanned, &a.ScanNote, &at)
		a.At = parseTS(at)
		return a, err
	})
}

// LastNotices returns, per machine (upper-case name), the time of the last notice of any
// kind delivered to it: the minimum interval between notices, for a whole run in one query.
func (j *DB) LastNotices(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := j.eachRow(ctx, "last notices", `SELECT UPPER(host), MAX(at) FROM notices WHERE delivered = 1 GROUP BY UPPER(host)`, nil,
		func(rows *sql.Rows) error {
			var h string
			var at sql.NullString
			if err := rows.Scan(&h, &at); err != nil {
				return err
			}
			out[h] = parseTS(at)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Escalation is a machine escalated to a person after repeated notices about an update
// it still misses.
type Escalation struct {
	Run          RunID     `json:"run,omitempty"`
	Host         string    `json:"host"`
	ResourceID   int64     `json:"resource_id,omitempty"`
	Update       string    `json:"update"` // ArticleID or BulletinID
	ArticleID    string    `json:"article_id,omitempty"`
	BulletinID   string    `json:"bulletin_id,omitempty"`
	Title        string    `json:"title,omitempty"`
	Notices      int       `json:"notices"`              // notices delivered before the escalation
	ErrorCode    int64     `json:"error_code,omitempty"` // LastErrorCode at the escalation
	CollectionID string    `json:"collection_id,omitempty"`
	At           time.Time `json:"at"`
}

// RecordEscalations writes escalations; a (host, update) pair already escalated is kept
// as it was. It returns how many were new.
func (j *DB) RecordEscalations(ctx context.Context, es ...Escalation) (int, error) {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("journal: record escalations: %w", err)
	}
	defer tx.Rollback()
	added := 0
	for _, e := range es {
		if strings.TrimSpace(e.Host) == "" || strings.TrimSpace(e.Update) == "" {
			return 0, errors.New("journal: an escalation needs a host and an update")
		}
		if e.At.IsZero() {
			e.At = j.opt.Now()
		}
		var run any
		if e.Run != 0 {
			run = e.Run
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO escalations (run, host, resource_id, update_id, article_id, bulletin_id, title, notices, error_code, collection_id, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host, update_id) DO NOTHING`,
			run, clip(e.Host, 255), e.ResourceID, clip(e.Update, 64), clip(e.ArticleID, 32), clip(e.BulletinID, 32),
			clip(oneLine(e.Title), 500), e.Notices, e.ErrorCode, clip(e.CollectionID, 16), ts(e.At))
		if err != nil {
			return 0, fmt.Errorf("journal: record escalation of %s: %w", e.Host, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			added++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("journal: record escalations: %w", err)
	}
	return added, nil
}

// SetEscalationCollection notes that the hosts' escalations were added to the collection.
func (j *DB) SetEscalationCollection(ctx context.Context, collectionID string, hosts ...string) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: escalation collection: %w", err)
	}
	defer tx.Rollback()
	for _, h := range hosts {
		if _, err := tx.ExecContext(ctx, `UPDATE escalations SET collection_id = ? WHERE host = ? AND collection_id = ''`,
			clip(collectionID, 16), h); err != nil {
			return fmt.Errorf("journal: escalation collection of %s: %w", h, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: escalation collection: %w", err)
	}
	return nil
}

// Escalations lists every escalation, oldest first.
func (j *DB) Escalations(ctx context.Context) ([]Escalation, error) {
	return listRows(ctx, j, "escalations", `SELECT COALESCE(run, 0), host, resource_id, update_id, article_id, bulletin_id, title,
		notices, error_code, collection_id, at FROM escalations ORDER BY at, id`, nil, func(rows *sql.Rows) (Escalation, error) {
		var e Escalation
		var at sql.NullString
		err := rows.Scan(&e.Run, &e.Host, &e.ResourceID, &e.Update, &e.ArticleID, &e.BulletinID, &e.Title,
			&e.Notices, &e.ErrorCode, &e.CollectionID, &at)
		e.At = parseTS(at)
		return e, err
	})
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
