package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"time"
)

// StateMessageCycle is the lab client's state message reporting cycle: scan results wait
// on the client until it is told to send them (schedule 111) or until its next cycle. The
// setting exists (client settings, State messaging; SMS_StateSystemConfig.BulkSendInterval
// in minutes); its default of 15 minutes is an assumption: no primary source confirmed it.
// Each host's cycle has its own phase (from its ResourceID), as clients are not in step.
const StateMessageCycle = 15 * time.Minute

// EvaluationState values of CCM_SoftwareUpdate that the lab's install jobs go through
// (configmgr.md section 2).
const (
	EvalNone              = 0
	EvalSubmitted         = 2
	EvalDownloading       = 5
	EvalInstalling        = 7
	EvalPendingHardReboot = 9
	EvalError             = 13
)

// installDurations is how long one update of an install job takes in the lab: it is the
// lab's assumption, not a measured figure, deterministic per host and update (FNV of both
// IDs). Cumulative updates download 3 to 8 minutes and install 8 to 20; other updates
// download 0 to 2 and install 1 to 4. A job starts one minute after it is queued and runs
// its updates one after the other.
func installDurations(rid, ciID int64, cumulative bool) (download, install time.Duration) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d", rid, ciID)
	x := h.Sum64()
	if cumulative {
		return time.Duration(3+x%6) * time.Minute, time.Duration(8+(x>>8)%13) * time.Minute
	}
	return time.Duration(x%3) * time.Minute, time.Duration(1+(x>>8)%4) * time.Minute
}

// jobStartDelay is how long a queued job waits before its first update downloads.
const jobStartDelay = time.Minute

// stateDue is when the host's next state message reporting cycle after t comes round.
func stateDue(rid int64, t time.Time) time.Time {
	cycle := int64(StateMessageCycle / time.Second)
	phase := (rid * 7919) % cycle
	if phase < 0 {
		phase += cycle
	}
	u := t.Unix()
	next := u - ((u-phase)%cycle+cycle)%cycle + cycle
	return time.Unix(next, 0).UTC()
}

// sendStateMessages moves unsent scan results into the site's tables: the host's (rid > 0)
// or every host's whose cycle is due (rid 0, due = now). It returns how many scan results
// it sent. Each statement has its own text per case, so that SQLite can use the keys (an
// "?1 = 0 OR ..." filter would make it scan lab_update_state on every host action).
func sendStateMessages(ctx context.Context, tx *sql.Tx, rid int64, due string) (int64, error) {
	sel, arg := `Due <= ?1`, any(due)
	if rid > 0 {
		sel, arg = `ResourceID = ?1`, rid
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO lab_scan_status (ResourceID, UpdateSource_ID, LastScanState,
			LastScanTime, LastErrorCode, LastStatusMessageID, LastScanPackageLocation, LastScanPackageVersion, LastWUAVersion)
		SELECT ResourceID, UpdateSource_ID, LastScanState, LastScanTime, LastErrorCode, 0, LastScanPackageLocation,
			LastScanPackageVersion, LastWUAVersion FROM lab_unsent_scan WHERE `+sel+`
		ON CONFLICT (ResourceID, UpdateSource_ID) DO UPDATE SET LastScanState = excluded.LastScanState,
			LastScanTime = excluded.LastScanTime, LastErrorCode = excluded.LastErrorCode,
			LastScanPackageVersion = excluded.LastScanPackageVersion`, arg); err != nil {
		return 0, fmt.Errorf("send state messages: %w", err)
	}
	const unsent = `(SELECT u.%s FROM lab_unsent_status u WHERE u.ResourceID = lab_update_state.ResourceID
		AND u.CI_ID = lab_update_state.CI_ID)`
	if _, err := tx.ExecContext(ctx, `UPDATE lab_update_state SET Status = `+fmt.Sprintf(unsent, "Status")+`,
			LastStatusChangeTime = `+fmt.Sprintf(unsent, "Time")+`
		WHERE (ResourceID, CI_ID) IN (SELECT ResourceID, CI_ID FROM lab_unsent_status WHERE `+sel+`)
		  AND Status <> `+fmt.Sprintf(unsent, "Status"), arg); err != nil {
		return 0, fmt.Errorf("send state messages: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM lab_unsent_status WHERE `+sel, arg); err != nil {
		return 0, fmt.Errorf("send state messages: %w", err)
	}
	r, err := tx.ExecContext(ctx, `DELETE FROM lab_unsent_scan WHERE `+sel, arg)
	if err != nil {
		return 0, fmt.Errorf("send state messages: %w", err)
	}
	return r.RowsAffected()
}

// settleJobs applies the end of every install job update that has ended by now (the
// host's when rid > 0, else every host's): an error leaves the update missing with
// enforcement state 11 and the error code; otherwise it is installed pending a restart
// (Truth 1, enforcement state 9) and the host waits for a restart.
func settleJobs(ctx context.Context, tx *sql.Tx, rid int64, now string) error {
	sel := `Settled = 0 AND DoneAt <= ?1 AND ?2 = 0`
	if rid > 0 {
		sel = `ResourceID = ?2 AND Settled = 0 AND DoneAt <= ?1`
	}
	if _, err := tx.ExecContext(ctx, `UPDATE lab_update_state AS s SET EnforcementSource = 1,
			LastEnforcementMessageID = CASE WHEN j.ErrorCode <> 0 THEN 11 ELSE 9 END,
			LastErrorCode = j.ErrorCode, Truth = CASE WHEN j.ErrorCode <> 0 THEN s.Truth ELSE 1 END
		FROM (SELECT ResourceID, CI_ID, ErrorCode FROM lab_install_job WHERE `+sel+`) AS j
		WHERE s.ResourceID = j.ResourceID AND s.CI_ID = j.CI_ID`, now, rid); err != nil {
		return fmt.Errorf("settle install jobs: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE lab_host SET RebootPending = 1 WHERE ResourceID IN
		(SELECT ResourceID FROM lab_install_job WHERE ErrorCode = 0 AND `+sel+`)`, now, rid); err != nil {
		return fmt.Errorf("settle install jobs: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE lab_install_job SET Settled = 1 WHERE `+sel, now, rid); err != nil {
		return fmt.Errorf("settle install jobs: %w", err)
	}
	return nil
}

// SendStateMessages sends the host's unsent state messages (schedule 111): its scan
// results reach the site's views now instead of at its next reporting cycle.
func (s *Sim) SendStateMessages(ctx context.Context, host string) (int, error) {
	var sent int64
	err := s.action(ctx, host, "send-state", func(tx *sql.Tx, h HostInfo, now string) (string, error) {
		var err error
		if sent, err = sendStateMessages(ctx, tx, h.ResourceID, now); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d scan results sent", sent), nil
	})
	return int(sent), err
}

// UpdateState is one CCM_SoftwareUpdate instance as the client reports it.
type UpdateState struct {
	ArticleID       string
	CI_ID           int64
	EvaluationState int   // see the Eval constants
	ErrorCode       int32 // HRESULT when EvaluationState is 13
	PercentComplete int
}

// UpdateStates lists what CCM_SoftwareUpdate shows on the host now: the deployed updates
// its own last scan found required and that are not installed (a pending restart counts as
// not installed yet), with their install job's progress. It changes nothing.
func (s *Sim) UpdateStates(ctx context.Context, host string) ([]UpdateState, error) {
	h, err := s.Host(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("update-state: %w", err)
	}
	switch {
	case !h.Online:
		return nil, fmt.Errorf("update-state %s: %w", h.Name, ErrOffline)
	case !h.IsClient:
		return nil, fmt.Errorf("update-state %s: %w", h.Name, ErrNoClient)
	}
	now := s.Now()
	rows, err := s.db.QueryContext(ctx, `SELECT u.CI_ID, COALESCE(u.ArticleID, ''), s.Truth,
			j.DownloadAt, j.InstallAt, j.DoneAt, COALESCE(j.ErrorCode, 0)
		FROM lab_update_state s
		JOIN lab_update u ON u.CI_ID = s.CI_ID
		LEFT JOIN lab_unsent_status us ON us.ResourceID = s.ResourceID AND us.CI_ID = s.CI_ID
		LEFT JOIN lab_install_job j ON j.ResourceID = s.ResourceID AND j.CI_ID = s.CI_ID
		WHERE s.ResourceID = ? AND s.Truth IN (0, 1) AND COALESCE(us.Status, s.Status) = 2
		  AND u.IsDeployed = 1 AND u.CIType_ID = 1
		ORDER BY u.CI_ID`, h.ResourceID)
	if err != nil {
		return nil, fmt.Errorf("update-state %s: %w", h.Name, err)
	}
	defer rows.Close()
	out := []UpdateState{}
	for rows.Next() {
		var u UpdateState
		var truth int
		var dl, in, done sql.NullString
		if err := rows.Scan(&u.CI_ID, &u.ArticleID, &truth, &dl, &in, &done, &u.ErrorCode); err != nil {
			return nil, fmt.Errorf("update-state %s: %w", h.Name, err)
		}
		switch {
		case done.Valid:
			if err := u.progress(now, dl.String, in.String, done.String); err != nil {
				return nil, fmt.Errorf("update-state %s: %w", h.Name, err)
			}
		case truth == 1:
			u.EvaluationState, u.PercentComplete = EvalPendingHardReboot, 100
		default:
			u.ErrorCode = 0
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// progress sets the state of an update in a job at now.
func (u *UpdateState) progress(now time.Time, dlText, inText, doneText string) error {
	var ts [3]time.Time
	for i, x := range []string{dlText, inText, doneText} {
		t, err := time.Parse(timeLayout, x)
		if err != nil {
			return fmt.Errorf("bad job time %q: %w", x, err)
		}
		ts[i] = t
	}
	dl, in, done := ts[0], ts[1], ts[2]
	pct := func(from, to time.Time) int {
		if !to.After(from) {
			return 100
		}
		return int(100 * now.Sub(from) / to.Sub(from))
	}
	switch {
	case now.Before(dl):
		u.EvaluationState, u.ErrorCode = EvalSubmitted, 0
	case now.Before(in):
		u.EvaluationState, u.PercentComplete, u.ErrorCode = EvalDownloading, pct(dl, in)/2, 0
	case now.Before(done):
		u.EvaluationState, u.PercentComplete, u.ErrorCode = EvalInstalling, 50+pct(in, done)/2, 0
	case u.ErrorCode != 0:
		u.EvaluationState, u.PercentComplete = EvalError, 100
	default:
		u.EvaluationState, u.PercentComplete = EvalPendingHardReboot, 100
	}
	return nil
}

// queueJob queues an install job for the updates in cis (CI_ID order) on host rid: each
// starts when the one before it ends, the first one minute from now or after the host's
// unfinished job. pace stretches each install (InstallPace, in % of installDurations); the
// job ends in error with fault when fault is not 0. Updates already in a job are left as they are. It returns when the job
// ends.
func queueJob(ctx context.Context, tx *sql.Tx, rid int64, cis []int64, cumulative map[int64]bool, now time.Time, fault int32, pace int) (time.Time, error) {
	start := now.Truncate(time.Second).Add(jobStartDelay)
	var last sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT MAX(DoneAt) FROM lab_install_job WHERE ResourceID = ? AND Settled = 0`, rid).Scan(&last); err != nil {
		return time.Time{}, fmt.Errorf("queue install job: %w", err)
	}
	if last.Valid {
		t, err := time.Parse(timeLayout, last.String)
		if err != nil {
			return time.Time{}, fmt.Errorf("queue install job: bad DoneAt %q: %w", last.String, err)
		}
		if t.After(start) {
			start = t
		}
	}
	end := start
	for _, ci := range cis {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM lab_install_job WHERE ResourceID = ? AND CI_ID = ? AND Settled = 0`, rid, ci).Scan(&n)
		if err != nil {
			return time.Time{}, fmt.Errorf("queue install job: %w", err)
		}
		if n > 0 {
			continue
		}
		dl, in := installDurations(rid, ci, cumulative[ci])
		if pace > 0 && pace != 100 {
			in = in * time.Duration(pace) / 100
		}
		inAt := end.Add(dl)
		done := inAt.Add(in)
		if _, err := tx.ExecContext(ctx, `INSERT INTO lab_install_job (ResourceID, CI_ID, Queued, DownloadAt, InstallAt, DoneAt, ErrorCode, Settled)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0)
			ON CONFLICT (ResourceID, CI_ID) DO UPDATE SET Queued = excluded.Queued, DownloadAt = excluded.DownloadAt,
				InstallAt = excluded.InstallAt, DoneAt = excluded.DoneAt, ErrorCode = excluded.ErrorCode, Settled = 0`,
			rid, ci, timeText(now), timeText(end), timeText(inAt), timeText(done), fault); err != nil {
			return time.Time{}, fmt.Errorf("queue install job: %w", err)
		}
		end = done
	}
	if last.Valid {
		t, _ := time.Parse(timeLayout, last.String)
		if t.After(end) {
			end = t
		}
	}
	return end, nil
}

// loseJob ends the host's install job at a restart: updates whose install had not ended
// go back to missing (they never got further than the job), and every job row goes.
func loseJob(ctx context.Context, tx *sql.Tx, rid int64) (int64, error) {
	var lost int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM lab_install_job WHERE ResourceID = ? AND Settled = 0`, rid).Scan(&lost); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("restart: install job: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM lab_install_job WHERE ResourceID = ?`, rid); err != nil {
		return 0, fmt.Errorf("restart: install job: %w", err)
	}
	return lost, nil
}
