package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/site"
)

// Host action names recorded in a night step.
const (
	ActionNotifyScan    = "notify-scan"
	ActionNotifyMissing = "notify-missing"
)

// Notes on a host that was not told or not scanned.
const (
	NoteQuietHours = "quiet-hours"  // in the quiet hours
	NoteTooSoon    = "too-soon"     // told within the minimum interval
	NoteOffline    = "offline"      // the site says it is offline
	NoteEscalated  = "escalated"    // escalated instead of told
	NoteDryRun     = "dry-run"      // --dry-run: nothing sent
	NoteNoUpdates  = "no-update-to" // nothing left to tell (all escalated)
	NoteScanRetry  = "scan-retry"   // the pass retried a failed scan trigger: not told again
)

// ScanAttemptsPerDay bounds the scan triggers the watcher makes on one machine in a day
// (the site's zone) when they reach the machine and fail: after a failure the machine is
// tried again at the next passes (spaced by the watcher's interval), without a second
// notice, until this many triggers failed; then it is left alone until the next day.
const ScanAttemptsPerDay = 3

// scanFailedPrefix starts the scan note of a trigger that reached the machine and failed
// (the script returned an error, or the host timed out). The watcher's journal actions
// (WatchAction.ScanNote) carry it, and the next passes of the day count the failures by it.
const scanFailedPrefix = "trigger failed: "

// WatchOptions narrow a watcher pass.
type WatchOptions struct {
	// Collection limits the pass to the members of a collection (CollectionID or name); ""
	// = every client. The watcher keeps one state per journal: use one scope with it.
	Collection string
	// Skip names machines (ResourceID) the pass leaves alone: members of the night's
	// excluded collections. They are not counted, told or scanned.
	Skip map[int64]bool
	// DryRun lists the machines that came online and what policy allows, and sends,
	// triggers and records nothing.
	DryRun bool
}

// PassResult is what one watcher pass did.
type PassResult struct {
	Pass  journal.WatchPass `json:"pass"`
	First bool              `json:"first"` // no earlier pass that day: every online machine counted as come online
	Hosts []WatchedHost     `json:"hosts"` // the machines that came online, and what was done
}

// WatchedHost is one machine a pass dealt with.
type WatchedHost struct {
	Host       string   `json:"host"`
	ResourceID int64    `json:"resource_id"`
	Bucket     string   `json:"bucket"` // never, failed, behind
	Users      []string `json:"users,omitempty"`
	Noticed    bool     `json:"noticed"`
	NoticeNote string   `json:"notice_note,omitempty"`
	Scanned    bool     `json:"scanned"`
	ScanNote   string   `json:"scan_note,omitempty"`
	Reached    bool     `json:"reached"` // false: not reached, tried again at the next pass
	// ScanAttempt numbers this pass's scan trigger on the machine: 1 for a first trigger,
	// 2 and more for the day's retries after failed triggers; 0 when the pass did not
	// trigger the scan (not reached).
	ScanAttempt int `json:"scan_attempt,omitempty"`
}

// triggerFailed reports whether the pass triggered the scan and the trigger failed.
func (w WatchedHost) triggerFailed() bool { return strings.HasPrefix(w.ScanNote, scanFailedPrefix) }

// seen reports whether the machine counts as dealt with while it stays online: its scan
// was triggered, or its trigger failed for the day's last allowed time. A machine not
// reached, or whose trigger failed with attempts left, is tried again at the next pass.
func (w WatchedHost) seen() bool {
	return w.Scanned || w.triggerFailed() && w.ScanAttempt >= ScanAttemptsPerDay
}

type behindHost struct {
	rid         int64
	name        string
	online      bool
	user        string
	bucket      string
	scanVersion int64
}

// WatchPass is one pass of the scan-behind watcher: it reads the scan-behind machines from
// the site database (queries/notify_scan_behind.sql), takes those online now that were not
// online at the last pass (all online ones at the first pass of a day, in the site's
// zone), and on each sends the scan
// notice (unless policy says no: quiet hours, told within the minimum interval, nobody
// logged on) and triggers the update scan (schedule 113). Notices, what was done to each
// machine, and the machines seen online are recorded in the journal. A machine not reached
// is not counted as seen, so the next pass tries it again; a machine seen stays seen while
// it stays online and behind, so it is not notified or scanned again every pass. A machine
// whose scan trigger reached it and failed earlier the same day is not seen either: the
// next passes trigger the scan again without a notice, up to ScanAttemptsPerDay failed
// triggers a day (counted from the journal's watcher actions).
func WatchPass(ctx context.Context, env Env, opt WatchOptions) (PassResult, error) {
	if err := env.check(); err != nil {
		return PassResult{}, err
	}
	now := env.now()
	scope := ""
	if opt.Collection != "" {
		c, err := env.Site.ResolveCollection(ctx, opt.Collection)
		if err != nil {
			return PassResult{}, err
		}
		scope = c.ID
	}
	rows, err := readScanBehind(ctx, env.Site, scope)
	if err != nil {
		return PassResult{}, err
	}
	if len(opt.Skip) > 0 {
		kept := rows[:0]
		for _, h := range rows {
			if !opt.Skip[h.rid] {
				kept = append(kept, h)
			}
		}
		rows = kept
	}
	prev, err := env.Journal.WatchOnline(ctx)
	if err != nil {
		return PassResult{}, err
	}
	lastPass, hadPass, err := env.Journal.LastWatchPass(ctx)
	if err != nil {
		return PassResult{}, err
	}
	// The last pass tells who has stayed online since only when it was the same day: a
	// pass of an earlier day (last month's watcher, yesterday's loop) cannot, since the
	// machines it saw may have been off all night and come online again this morning.
	if hadPass && !sameDay(lastPass.At, now, env.Settings.Location) {
		hadPass, prev = false, map[string]journal.WatchHost{}
	}
	res := PassResult{First: !hadPass, Hosts: []WatchedHost{}, Pass: journal.WatchPass{At: now, Behind: len(rows)}}
	var came []behindHost
	for _, h := range rows {
		if !h.online {
			continue
		}
		res.Pass.Online++
		if _, seen := prev[strings.ToUpper(h.name)]; !seen {
			came = append(came, h)
		}
	}
	// Machines whose scan trigger failed earlier today: retried (scan only), or left alone
	// until tomorrow once out of attempts. The first pass of a day has no earlier actions.
	retry := map[string]int{} // upper-case name: failed triggers today
	var exhausted []behindHost
	if hadPass && len(came) > 0 {
		failedToday, err := failedTriggersToday(ctx, env, now)
		if err != nil {
			return PassResult{}, err
		}
		kept := make([]behindHost, 0, len(came))
		for _, h := range came {
			switch failed := failedToday[strings.ToUpper(h.name)]; {
			case failed == 0:
				kept = append(kept, h)
			case failed < ScanAttemptsPerDay:
				retry[strings.ToUpper(h.name)] = failed
				kept = append(kept, h)
			default:
				exhausted = append(exhausted, h)
			}
		}
		came = kept
	}
	res.Pass.CameOnline = len(came)

	last, err := env.Journal.LastNotices(ctx)
	if err != nil {
		return PassResult{}, err
	}
	tallies, err := env.Journal.NoticeTallies(ctx, scanKind, 1)
	if err != nil {
		return PassResult{}, err
	}
	told := map[string]int{}
	for _, t := range tallies {
		told[t.Host] += t.Count
	}

	byName := map[string]behindHost{}
	names := make([]string, 0, len(came))
	for _, h := range came {
		byName[strings.ToUpper(env.address(h.name))] = h
		names = append(names, env.address(h.name))
	}
	quiet := env.Settings.QuietAt(now)
	if opt.DryRun {
		for _, h := range came {
			w := WatchedHost{Host: h.name, ResourceID: h.rid, Bucket: h.bucket, NoticeNote: NoteDryRun, ScanNote: NoteDryRun}
			_, again := retry[strings.ToUpper(h.name)]
			switch {
			case again:
				w.NoticeNote = NoteScanRetry
			case quiet:
				w.NoticeNote = NoteQuietHours
			case env.Settings.TooSoon(last[strings.ToUpper(h.name)], now):
				w.NoticeNote = NoteTooSoon
			}
			res.Hosts = append(res.Hosts, w)
		}
		return res, nil
	}
	type outcome struct {
		w       WatchedHost
		notices []journal.Notice
	}
	var outs []outcome
	remote.FanOut(ctx, slices.Values(names), remote.FanOutOptions{Concurrency: env.concurrency(), Label: "watch"},
		func(ctx context.Context, addr string) (outcome, error) {
			h := byName[strings.ToUpper(addr)]
			if failed, again := retry[strings.ToUpper(h.name)]; again {
				return outcome{w: retryScan(ctx, env, h, addr, failed+1)}, nil
			}
			w, notices := watchHost(ctx, env, h, addr, now, quiet, last[strings.ToUpper(h.name)], told[strings.ToUpper(h.name)])
			return outcome{w, notices}, nil
		},
		func(r remote.HostResult[outcome]) {
			if r.Outcome != remote.OutcomeOK {
				h := byName[strings.ToUpper(r.Host)]
				r.Value.w = WatchedHost{Host: h.name, ResourceID: h.rid, Bucket: h.bucket, NoticeNote: "canceled", ScanNote: "canceled"}
			}
			outs = append(outs, r.Value)
		})
	if err := ctx.Err(); err != nil {
		return PassResult{}, fmt.Errorf("watcher pass: %w", err)
	}
	slices.SortFunc(outs, func(a, b outcome) int { return strings.Compare(a.w.Host, b.w.Host) })

	var notices []journal.Notice
	var actions []journal.WatchAction
	seen := map[string]bool{}
	for _, h := range exhausted {
		seen[strings.ToUpper(h.name)] = true
	}
	for _, o := range outs {
		w := o.w
		res.Hosts = append(res.Hosts, w)
		notices = append(notices, o.notices...)
		actions = append(actions, journal.WatchAction{Host: w.Host, ResourceID: w.ResourceID, Noticed: w.Noticed,
			NoticeNote: w.NoticeNote, Scanned: w.Scanned, ScanNote: w.ScanNote, At: now})
		if w.Noticed {
			res.Pass.Noticed++
		}
		if w.Scanned {
			res.Pass.Scanned++
		}
		if !w.Reached {
			res.Pass.Failed++
		}
		seen[strings.ToUpper(w.Host)] = w.seen()
		outcome, reason := journal.OutcomeOK, w.ScanNote
		switch {
		case !w.Reached:
			outcome = journal.Unreachable
		case !w.Scanned:
			outcome = journal.OutcomeFailed
		default:
			reason = "noticed"
			if !w.Noticed {
				reason = "not told: " + w.NoticeNote
			}
		}
		if err := env.record(ctx, ActionNotifyScan, w.Host, w.ResourceID, outcome, reason); err != nil {
			return PassResult{}, err
		}
	}
	if len(notices) > 0 {
		if err := env.Journal.RecordNotice(ctx, notices...); err != nil {
			return PassResult{}, err
		}
	}
	// Seen online: online now and either seen before or dealt with now (reached, or out of
	// scan attempts for the day).
	var online []journal.WatchHost
	for _, h := range rows {
		if !h.online {
			continue
		}
		key := strings.ToUpper(h.name)
		if p, ok := prev[key]; ok {
			online = append(online, journal.WatchHost{Host: h.name, ResourceID: h.rid, Since: p.Since})
		} else if seen[key] {
			online = append(online, journal.WatchHost{Host: h.name, ResourceID: h.rid, Since: now})
		}
	}
	id, err := env.Journal.RecordWatchPass(ctx, res.Pass, actions, online)
	if err != nil {
		return PassResult{}, err
	}
	if env.Run != 0 && env.Step != 0 {
		if err := env.Journal.Flush(ctx); err != nil {
			return PassResult{}, err
		}
	}
	res.Pass.ID = id
	env.log().Info("watcher pass", "behind", res.Pass.Behind, "online", res.Pass.Online, "came_online", res.Pass.CameOnline,
		"noticed", res.Pass.Noticed, "scanned", res.Pass.Scanned, "failed", res.Pass.Failed)
	return res, nil
}

// sameDay reports whether a and b fall on the same calendar day in loc.
func sameDay(a, b time.Time, loc *time.Location) bool {
	if loc == nil {
		loc = time.UTC
	}
	ya, ma, da := a.In(loc).Date()
	yb, mb, db := b.In(loc).Date()
	return ya == yb && ma == mb && da == db
}

// watchHost sends the scan notice (when policy allows) and triggers the scan on one machine.
func watchHost(ctx context.Context, env Env, h behindHost, addr string, now time.Time, quiet bool, last time.Time, told int) (WatchedHost, []journal.Notice) {
	w := WatchedHost{Host: h.name, ResourceID: h.rid, Bucket: h.bucket}
	r, release, err := env.Connect(addr)
	if err != nil {
		w.NoticeNote, w.ScanNote = oneLine(err), oneLine(err)
		return w, []journal.Notice{{Run: env.Run, Host: h.name, ResourceID: h.rid, Kind: scanKind, Reason: "not reached: " + oneLine(err), At: now}}
	}
	defer release()
	var notices []journal.Notice
	switch {
	case quiet:
		w.NoticeNote = NoteQuietHours
	case env.Settings.TooSoon(last, now):
		w.NoticeNote = NoteTooSoon
	default:
		msg, err := env.Settings.Message(scanKind, Values{Machine: h.name, Count: told + 1})
		if err != nil {
			w.NoticeNote = oneLine(err)
			break
		}
		d, err := Deliver(ctx, r, msg)
		switch {
		case err != nil && isUnreachable(err):
			w.NoticeNote, w.ScanNote = "not reached: "+oneLine(err), "not reached"
			return w, []journal.Notice{{Run: env.Run, Host: h.name, ResourceID: h.rid, Kind: scanKind, Channel: msg.Method, Reason: w.NoticeNote, At: now}}
		case err != nil:
			w.NoticeNote = oneLine(err)
		case d.Delivered:
			w.Noticed, w.Users = true, d.Users
			for _, u := range d.Users {
				notices = append(notices, journal.Notice{Run: env.Run, Host: h.name, ResourceID: h.rid, User: u, Kind: scanKind,
					Delivered: true, Channel: msg.Method, At: now})
			}
		default:
			w.NoticeNote = d.Reason
		}
		if !w.Noticed {
			notices = append(notices, journal.Notice{Run: env.Run, Host: h.name, ResourceID: h.rid, Kind: scanKind, Channel: msg.Method, Reason: w.NoticeNote, At: now})
		}
	}
	if w.NoticeNote == NoteQuietHours || w.NoticeNote == NoteTooSoon {
		notices = append(notices, journal.Notice{Run: env.Run, Host: h.name, ResourceID: h.rid, Kind: scanKind, Reason: w.NoticeNote, At: now})
	}
	triggerScan(ctx, r, &w, 1)
	return w, notices
}

// retryScan triggers the scan again on a machine whose trigger failed earlier today; the
// trigger is the attempt-th of the day. No notice: its users were dealt with at the first
// attempt, and the notice policy's interval and counts stay as they were.
func retryScan(ctx context.Context, env Env, h behindHost, addr string, attempt int) WatchedHost {
	w := WatchedHost{Host: h.name, ResourceID: h.rid, Bucket: h.bucket, NoticeNote: NoteScanRetry}
	r, release, err := env.Connect(addr)
	if err != nil {
		w.ScanNote = oneLine(err)
		return w
	}
	defer release()
	triggerScan(ctx, r, &w, attempt)
	return w
}

// triggerScan triggers the update scan, the day's attempt-th, and notes the result in w. A
// trigger that fails to connect (unreachable, canceled) leaves the machine not reached; one
// that reached it and failed (the script's error, a timeout) is noted with scanFailedPrefix
// for the retries. A timeout still counts as not reached (Reached false).
func triggerScan(ctx context.Context, r client.Runner, w *WatchedHost, attempt int) {
	_, err := client.TriggerSchedule(ctx, r, client.ScheduleUpdateScan)
	if err == nil {
		w.Scanned, w.Reached, w.ScanNote, w.ScanAttempt = true, true, "", attempt
		return
	}
	w.Reached = !isUnreachable(err)
	switch k := remote.KindOf(err); {
	case k == remote.KindUnreachable, k == remote.KindCanceled, errors.Is(err, context.Canceled):
		w.ScanNote = oneLine(err)
	default:
		w.ScanNote, w.ScanAttempt = scanFailedPrefix+oneLine(err), attempt
	}
}

// failedTriggersToday counts, per machine (upper-case name), the scan triggers that
// reached it and failed today (the site's zone) since its last successful one, from the
// journal's watcher actions of the day, read once for the pass.
func failedTriggersToday(ctx context.Context, env Env, now time.Time) (map[string]int, error) {
	loc := env.Settings.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := now.In(loc).Date()
	actions, err := env.Journal.WatchActionsSince(ctx, time.Date(y, m, d, 0, 0, 0, 0, loc))
	if err != nil {
		return nil, err
	}
	failed := map[string]int{}
	for _, a := range actions {
		k := strings.ToUpper(a.Host)
		switch {
		case a.Scanned:
			delete(failed, k)
		case strings.HasPrefix(a.ScanNote, scanFailedPrefix):
			failed[k]++
		}
	}
	return failed, nil
}

// isUnreachable reports whether err says the host could not be reached at all (so the
// next pass should try it again).
func isUnreachable(err error) bool {
	switch remote.KindOf(err) {
	case remote.KindUnreachable, remote.KindTimeout, remote.KindCanceled:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// readScanBehind reads queries/notify_scan_behind.sql for scope (a CollectionID, "" = every
// client).
func readScanBehind(ctx context.Context, db *site.DB, scope string) ([]behindHost, error) {
	var rows []behindHost
	err := db.Each(ctx, "notify_scan_behind", site.Params{"collection": scope}, func(r *sql.Rows) error {
		var h behindHost
		var online site.Flag // CNIsOnline through COALESCE; its SQL type is unconfirmed
		var catalog sql.NullInt64
		if err := r.Scan(&h.rid, &h.name, &online, &h.user, &h.bucket, &h.scanVersion, &catalog); err != nil {
			return fmt.Errorf("read scan-behind machine: %w", err)
		}
		h.online = online.Bool()
		rows = append(rows, h)
		return nil
	})
	return rows, err
}
