package lab

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// Machines away for days (docs/lab.md): laptops taken home and brought back on a later
// day, desktops in a closet that are on only a few hours on some days, and physical
// machines switched off for a holiday. Each kind is drawn per host from its own stream, so
// that one kind's rate moves neither another kind's machines nor the night's faults.
const (
	streamHome    = 0x686f6d6500000006
	streamCloset  = 0x636c6f7365740007
	streamHoliday = 0x686f6c6964790008
)

// Kinds of absence (lab_away.Kind).
const (
	awayHome    = "home"
	awayCloset  = "closet"
	awayHoliday = "holiday"
)

// awayHorizon is how far after Patch Tuesday the lab plans absences: past the follow-up
// (until the next Patch Tuesday minus a week) and the long-tail report (D+21).
const awayHorizon = 28

// absence is one stretch a host is off the network: it leaves at at and is back on at
// until (unix seconds).
type absence struct {
	kind      string
	at, until int64
}

// drawAwayDays draws host h's absences of every kind (h is host number i; now is the lab's
// now, Patch Tuesday 15:00). An absence under way at now makes the host off at generation;
// its times on the fast channel (last online, last offline) and its last scan are then from
// before it left.
func drawAwayDays(h *hostSpec, seed int64, i int, now time.Time, rates FaultRates) {
	if !h.client {
		return
	}
	pt := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	at := func(day int, minutes, spread int64, r interface{ Int64N(int64) int64 }) int64 {
		t := pt.AddDate(0, 0, day).Unix() + 60*minutes
		if spread > 0 {
			t += r.Int64N(60 * spread)
		}
		return t
	}
	// The selection draw comes first and is always made: a rate changes which hosts are
	// drawn, never the draws of the hosts' other faults.
	if r := newRand(seed, streamHome, uint64(i)); r.Float64() < rates.Home && h.active && h.form == formLaptop {
		// Taken home on an evening from Patch Tuesday to PT+9, back on a later weekday
		// morning; half of them go home a second time, two to six days later.
		day := r.IntN(10)
		trips := 1 + r.IntN(2)
		for range trips {
			leave := at(day, 17*60, 120, r)
			day = weekday(pt, day+1+r.IntN(3))
			h.absences = append(h.absences, absence{awayHome, leave, at(day, 7*60+30, 120, r)})
			day += 2 + r.IntN(5)
		}
	}
	if r := newRand(seed, streamCloset, uint64(i)); r.Float64() < rates.Closet && h.active && h.form == formDesktop {
		// On a few hours on some weekdays (two in five), from a morning between 08:30 and
		// 11:30 for three to six hours; off in between. The last time before Patch Tuesday
		// was one to five days before it.
		prev := at(-1-r.IntN(5), 9*60, 180, r)
		end := prev + 3*3600 + r.Int64N(3*3600)
		h.closetLast = [2]int64{prev, end}
		for day := 1; day < awayHorizon; day++ {
			if wd := pt.AddDate(0, 0, day).Weekday(); wd == time.Saturday || wd == time.Sunday || r.Float64() >= 0.4 {
				continue
			}
			on := at(day, 8*60+30, 180, r)
			h.absences = append(h.absences, absence{awayCloset, end, on})
			end = on + 3*3600 + r.Int64N(3*3600)
		}
		h.absences = append(h.absences, absence{awayCloset, end, at(awayHorizon+7, 8*60+30, 0, r)})
	}
	if r := newRand(seed, streamHoliday, uint64(i)); r.Float64() < rates.Holiday && h.active && h.form != formVirtual {
		// Switched off on an evening one to six days before Patch Tuesday, back on a
		// weekday morning two to sixteen days after it (some after the follow-up's two weeks).
		leave := at(-1-r.IntN(6), 16*60, 180, r)
		h.absences = append(h.absences, absence{awayHoliday, leave, at(weekday(pt, 2+r.IntN(15)), 8*60, 90, r)})
	}
	if len(h.absences) == 0 {
		return
	}
	slices.SortFunc(h.absences, func(a, b absence) int { return cmp.Compare(a.at, b.at) })
	t := now.Unix()
	for _, a := range h.absences {
		if a.at <= t && a.until > t {
			h.offUntil = max(h.offUntil, a.until)
			if h.offSince == 0 {
				h.offSince = a.at
			}
		}
	}
	if h.offSince == 0 {
		return
	}
	// Off at generation: nobody logged on, installs that waited for a restart completed
	// when it was shut down, and nothing seen of it since it left.
	left := h.offSince
	h.on, h.currentUser, h.earlyPending = false, -1, false
	h.lastOffline = left
	h.lastOnline = min(h.lastOnline, left-3600)
	if h.closetLast[0] != 0 && h.closetLast[1] == left {
		h.lastOnline = h.closetLast[0]
	}
	h.lastPolicy = min(h.lastPolicy, left-600)
	h.lastDDR = min(h.lastDDR, left-600)
	h.lastHW = min(h.lastHW, left-600)
	if h.scan != scanNever && h.scanTime > left-1800 {
		h.scanTime = left - 1800
	}
	// A scan from before a catalog version was synced cannot have seen it (the lab syncs
	// version 412 three hours before now and 411 a day before that; see drawHost).
	if h.scan != scanNever && h.scan != scanFailed {
		if h.scanVer >= CatalogVersion && h.scanTime < t-3*3600 {
			h.scanVer, h.scan = CatalogVersion-1, scanBehind1
		}
		if h.scanVer >= CatalogVersion-1 && h.scanTime < t-27*3600 {
			h.scanVer, h.scan = CatalogVersion-2, scanBehind
		}
	}
}

// weekday is day (days after Patch Tuesday pt), or the Monday after it when it falls on a
// weekend.
func weekday(pt time.Time, day int) int {
	switch pt.AddDate(0, 0, day).Weekday() {
	case time.Saturday:
		return day + 2
	case time.Sunday:
		return day + 1
	}
	return day
}

// goAwayDays applies the absences of lab_away whose time has come (the host's when rid >
// 0), in time order per host: a host whose previous absence (or restart) had ended by then
// was back on in between (LastOnline is when it came back); one that is on leaves as with
// goAway (a shutdown: what waited for a restart completes, install job updates not yet
// ended are lost, LastOffline is when it left). An absence that starts while the host is
// already off or away makes its absence last until the later of the two ends. Every row
// applied is deleted.
func goAwayDays(ctx context.Context, tx *sql.Tx, now string, rid int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT rowid, ResourceID, Kind, AwayAt, AwayUntil FROM lab_away
		WHERE AwayAt <= ?1 AND (?2 = 0 OR ResourceID = ?2) ORDER BY ResourceID, AwayAt`, now, rid)
	if err != nil {
		return fmt.Errorf("hosts leaving for days: %w", err)
	}
	type due struct {
		row, rid        int64
		kind, at, until string
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.row, &d.rid, &d.kind, &d.at, &d.until); err != nil {
			rows.Close()
			return fmt.Errorf("hosts leaving for days: %w", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("hosts leaving for days: %w", err)
	}
	for _, d := range list {
		if err := leaveFor(ctx, tx, now, d.rid, d.kind, d.at, d.until); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM lab_away WHERE rowid = ?`, d.row); err != nil {
			return fmt.Errorf("hosts leaving for days: %w", err)
		}
	}
	return nil
}

// leaveFor is one absence of goAwayDays.
func leaveFor(ctx context.Context, tx *sql.Tx, now string, rid int64, kind, at, until string) error {
	wrap := func(err error) error { return fmt.Errorf("host %d leaving (%s): %w", rid, kind, err) }
	// Back in between: its last absence or restart ended before this one began.
	r, err := tx.ExecContext(ctx, `UPDATE lab_host SET Power = 'on', LastOnline = OfflineUntil, OfflineUntil = NULL
		WHERE ResourceID = ?1 AND OfflineUntil IS NOT NULL AND OfflineUntil <= ?2`, rid, at)
	if err != nil {
		return wrap(err)
	}
	if n, _ := r.RowsAffected(); n > 0 {
		if err := logEvent(ctx, tx, now, rid, "online", "back on until "+at); err != nil {
			return err
		}
	}
	var power string
	if err := tx.QueryRowContext(ctx, `SELECT Power FROM lab_host WHERE ResourceID = ?`, rid).Scan(&power); err != nil {
		return wrap(err)
	}
	if power == "on" {
		// A shutdown at the time it left.
		if err := settleJobs(ctx, tx, rid, at); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM lab_install_job WHERE ResourceID = ?1`,
			`DELETE FROM lab_unsent_status WHERE ResourceID = ?1 AND CI_ID IN (SELECT CI_ID FROM lab_update_state
				WHERE ResourceID = ?1 AND Truth = 1)`,
			`UPDATE lab_update_state SET Truth = 2, Status = CASE WHEN Status = 0 THEN 0 ELSE 3 END,
				LastStatusChangeTime = ?2, EnforcementSource = 1, LastEnforcementMessageID = 10, LastErrorCode = 0
				WHERE ResourceID = ?1 AND Truth = 1`,
			`UPDATE lab_host SET Power = 'off', CurrentUser = NULL, RebootPending = 0, LastOffline = ?2
				WHERE ResourceID = ?1`,
		} {
			if _, err := tx.ExecContext(ctx, q, rid, at); err != nil {
				return wrap(err)
			}
		}
	}
	// Away until the later end: one that does not come back after a restart stays down.
	if _, err := tx.ExecContext(ctx, `UPDATE lab_host SET OfflineUntil = CASE WHEN OfflineUntil > ?2 THEN OfflineUntil ELSE ?2 END
		WHERE ResourceID = ?1`, rid, until); err != nil {
		return wrap(err)
	}
	return logEvent(ctx, tx, now, rid, "away", kind+", switched off, back at "+until)
}

// writeAway writes host h's absences still to come (those that began by now are in its
// lab_host row).
func (w *hostWriter) writeAway(ctx context.Context, h *hostSpec) error {
	t := w.g.fleet.now.Unix()
	for _, a := range h.absences {
		if a.at <= t {
			continue
		}
		if err := w.away.add(ctx, h.rid, a.kind, unixText(a.at), unixText(a.until)); err != nil {
			return err
		}
	}
	return nil
}
