package lab

import (
	"context"
	"strings"
	"testing"
	"time"
)

// An install job moves each update through queued, downloading, installing and pending
// restart on the simulated clock; nothing is pending a restart before the job ends.
func TestSimInstallJobProgress(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t)
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.RebootPending = 0`+hasMissing)
	res, err := s.Install(ctx, name)
	if err != nil || res.Queued == 0 {
		t.Fatalf("Install = %+v, %v", res, err)
	}
	seen := map[int]bool{}
	for !clk.Now().After(res.Ends) {
		states, err := s.UpdateStates(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(states) != res.Queued {
			t.Fatalf("%d CCM_SoftwareUpdate instances, want %d", len(states), res.Queued)
		}
		for _, u := range states {
			seen[u.EvaluationState] = true
			if u.PercentComplete < 0 || u.PercentComplete > 100 {
				t.Errorf("%s: PercentComplete %d", u.ArticleID, u.PercentComplete)
			}
		}
		pending, err := s.RebootPending(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ended := !clk.Now().Before(res.Ends)
		if pending.Pending && !ended && !anyState(states, EvalPendingHardReboot) {
			t.Fatalf("restart pending at %v with no update ended", clk.Now())
		}
		clk.Advance(30 * time.Second)
	}
	for _, want := range []int{EvalSubmitted, EvalDownloading, EvalInstalling, EvalPendingHardReboot} {
		if !seen[want] {
			t.Errorf("EvaluationState %d never seen (saw %v)", want, seen)
		}
	}
	states, _ := s.UpdateStates(ctx, name)
	for _, u := range states {
		if u.EvaluationState != EvalPendingHardReboot || u.PercentComplete != 100 {
			t.Errorf("%s after the job: %+v", u.ArticleID, u)
		}
	}
	// Deterministic: the same host and updates give the same job.
	s2, _ := simLab(t)
	again, err := s2.Install(ctx, name)
	if err != nil || !again.Ends.Equal(res.Ends) {
		t.Errorf("second lab's job ends %v, want %v (%v)", again.Ends, res.Ends, err)
	}
}

func anyState(us []UpdateState, st int) bool {
	for _, u := range us {
		if u.EvaluationState == st {
			return true
		}
	}
	return false
}

// A restart before the job ends loses the updates whose install had not ended: they are
// missing again, the lab's event log says so, and only the ended ones complete.
func TestSimRestartLosesRunningJob(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t)
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.RebootPending = 0 AND (SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u USING (CI_ID)
		WHERE s.ResourceID = h.ResourceID AND s.Status = 2 AND s.Truth = 0 AND u.IsDeployed = 1) >= 3`)
	h, _ := s.Host(ctx, name)
	res, err := s.Install(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	// Move to just after the first update ended.
	var first string
	if err := s.db.QueryRow(`SELECT MIN(DoneAt) FROM lab_install_job WHERE ResourceID = ?`, h.ResourceID).Scan(&first); err != nil {
		t.Fatal(err)
	}
	at, _ := time.Parse(timeLayout, first)
	clk.Advance(at.Sub(clk.Now()))
	rr, err := s.Restart(ctx, name, false)
	if err != nil || !rr.Restarted {
		t.Fatalf("Restart = %+v, %v", rr, err)
	}
	if rr.Completed != 1 || rr.Interrupted != res.Queued-1 {
		t.Errorf("Restart = %+v, want 1 completed and %d interrupted", rr, res.Queued-1)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u USING (CI_ID)
		WHERE s.ResourceID = ? AND s.Truth = 0 AND s.Status = 2 AND u.IsDeployed = 1`, h.ResourceID); n != res.Queued-1 {
		t.Errorf("%d updates missing after the restart, want %d", n, res.Queued-1)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_install_job WHERE ResourceID = ?`, h.ResourceID); n != 0 {
		t.Errorf("%d job rows survived the restart", n)
	}
	var detail string
	if err := s.db.QueryRow(`SELECT Detail FROM lab_event WHERE ResourceID = ? AND Action = 'restart'`, h.ResourceID).Scan(&detail); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "interrupted installs lost") {
		t.Errorf("restart event %q does not record the lost installs", detail)
	}
	assertInvariants(t, s)
}
