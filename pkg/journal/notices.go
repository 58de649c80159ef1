package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NoticeKind is the kind of user notice (issue 7).
type NoticeKind string

// Notice kinds.
const (
	ScanNotice    NoticeKind = "scan"    // "a scan is about to start, then a patch will install" (the watcher)
	MissingNotice NoticeKind = "missing" // the Thursday notice: this machine still misses an update
)

// Notice is one notice to the user of a machine, delivered or not.
type Notice struct {
	Run        RunID      `json:"run,omitempty"` // 0 outside a night
	Host       string     `json:"host"`
	ResourceID int64      `json:"resource_id,omitempty"`
	User       string     `json:"user,omitempty"` // the logged-on user told; empty when nobody was
	Kind       NoticeKind `json:"kind"`
	Update     string     `json:"update,omitempty"` // ArticleID or BulletinID the notice is about ("" for scan notices)
	ArticleID  string     `json:"article_id,omitempty"`
	BulletinID string     `json:"bulletin_id,omitempty"`
	Delivered  bool       `json:"delivered"`
	Channel    string     `json:"channel,omitempty"` // msg, hta
	Reason     string     `json:"reason,omitempty"`  // why not delivered: no user logged on, quiet hours, too soon, ...
	At         time.Time  `json:"at"`
}

// RecordNotice writes notices now (not buffered: the counting of issue 7 must see them).
func (j *DB) RecordNotice(ctx context.Context, notices ...Notice) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: record notice: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO notices (run, host, resource_id, user_name, kind, update_id, article_id, bulletin_id, delivered, channel, reason, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("journal: record notice: %w", err)
	}
	defer stmt.Close()
	for _, n := range notices {
		if strings.TrimSpace(n.Host) == "" || (n.Kind != ScanNotice && n.Kind != MissingNotice) {
			return errors.New("journal: a notice needs a host and a kind (scan or missing)")
		}
		if n.At.IsZero() {
			n.At = j.opt.Now()
		}
		var run any
		if n.Run != 0 {
			run = n.Run
		}
		_, err := stmt.ExecContext(ctx, run, clip(n.Host, 255), n.ResourceID, clip(n.User, 256), string(n.Kind), clip(n.Update, 64),
			clip(n.ArticleID, 32), clip(n.BulletinID, 32), n.Delivered, clip(n.Channel, 16), clip(strings.Join(strings.Fields(n.Reason), " "), 500), ts(n.At))
		if err != nil {
			return fmt.Errorf("journal: record notice to %s: %w", n.Host, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: record notice: %w", err)
	}
	return nil
}

// NoticeCount counts the notices of a kind delivered to host about update, over all time
// (the "told more than 3 times" rule). update is compared case-insensitively. A notice
// shown to several users of the machine at once is one row per user with the same time,
// and counts once.
func (j *DB) NoticeCount(ctx context.Context, host, update string, kind NoticeKind) (int, error) {
	var n int
	err := j.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT at) FROM notices WHERE host = ? AND update_id = ? AND kind = ? AND delivered = 1`,
		host, update, string(kind)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("journal: notice count of %s: %w", host, err)
	}
	return n, nil
}

const noticeCols = `COALESCE(run, 0), host, resource_id, user_name, kind, update_id, article_id, bulletin_id, delivered, channel, reason, at`

func scanNotice(sc interface{ Scan(...any) error }) (Notice, error) {
	var n Notice
	var kind string
	var at sql.NullString
	err := sc.Scan(&n.Run, &n.Host, &n.ResourceID, &n.User, &kind, &n.Update, &n.ArticleID, &n.BulletinID, &n.Delivered, &n.Channel, &n.Reason, &at)
	n.Kind, n.At = NoticeKind(kind), parseTS(at)
	return n, err
}

// LastNotice returns the last notice delivered to host (any kind, any update), for the
// minimum interval between notices to one machine.
func (j *DB) LastNotice(ctx context.Context, host string) (Notice, bool, error) {
	n, err := scanNotice(j.db.QueryRowContext(ctx, `SELECT `+noticeCols+` FROM notices WHERE host = ? AND delivered = 1 ORDER BY at DESC, id DESC LIMIT 1`, host))
	if errors.Is(err, sql.ErrNoRows) {
		return Notice{}, false, nil
	}
	if err != nil {
		return Notice{}, false, fmt.Errorf("journal: last notice to %s: %w", host, err)
	}
	return n, true, nil
}

// NoticeTally is how often one machine was told about one update.
type NoticeTally struct {
	Host       string    `json:"host"`
	ResourceID int64     `json:"resource_id,omitempty"`
	Update     string    `json:"update"`
	Count      int       `json:"count"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
}

// NoticeTallies lists (host, update) pairs with at least min delivered notices of kind,
// most told first: `notify escalations --threshold N` lists those above N. Notices are
// counted as NoticeCount counts them.
func (j *DB) NoticeTallies(ctx context.Context, kind NoticeKind, min int) ([]NoticeTally, error) {
	return listRows(ctx, j, "notice tallies", `SELECT UPPER(host), MAX(resource_id), UPPER(update_id), COUNT(DISTINCT at), MIN(at), MAX(at)
		FROM notices WHERE kind = ? AND delivered = 1
		GROUP BY UPPER(host), UPPER(update_id) HAVING COUNT(DISTINCT at) >= ?
		ORDER BY COUNT(DISTINCT at) DESC, UPPER(host), UPPER(update_id)`, []any{string(kind), min},
		func(rows *sql.Rows) (NoticeTally, error) {
			var t NoticeTally
			var first, last sql.NullString
			err := rows.Scan(&t.Host, &t.ResourceID, &t.Update, &t.Count, &first, &last)
			t.First, t.Last = parseTS(first), parseTS(last)
			return t, err
		})
}

// Notices lists the notices to a host (all of them when host is empty), oldest first.
func (j *DB) Notices(ctx context.Context, host string) ([]Notice, error) {
	q := `SELECT ` + noticeCols + ` FROM notices`
	var args []any
	if host != "" {
		q += ` WHERE host = ?`
		args = append(args, host)
	}
	return listRows(ctx, j, "notices", q+` ORDER BY at, id`, args, func(rows *sql.Rows) (Notice, error) { return scanNotice(rows) })
}

// DeliveredNotices counts the notices delivered in run per machine (upper-cased name), of
// both kinds: what the morning report's Notices column shows. A notice shown at one time
// (to several users, or about several updates) counts once, as NoticeCount counts.
func (j *DB) DeliveredNotices(ctx context.Context, run RunID) (map[string]int, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT UPPER(host), COUNT(DISTINCT at) FROM notices
		WHERE run = ? AND delivered = 1 GROUP BY UPPER(host)`, run)
	if err != nil {
		return nil, fmt.Errorf("journal: delivered notices of run %d: %w", run, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var host string
		var n int
		if err := rows.Scan(&host, &n); err != nil {
			return nil, fmt.Errorf("journal: delivered notices of run %d: %w", run, err)
		}
		out[host] = n
	}
	return out, rows.Err()
}
