package client

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestPhaseOf(t *testing.T) {
	t.Parallel()
	for st, want := range map[int]Phase{0: PhaseRunning, 1: PhaseRunning, 2: PhaseRunning, 5: PhaseRunning, 7: PhaseRunning,
		8: PhasePendingRestart, 9: PhasePendingRestart, 10: PhasePendingRestart, 11: PhaseRunning, 12: PhaseInstalled,
		13: PhaseFailed, 14: PhaseRunning, 16: PhaseRunning, 21: PhaseRunning, 23: PhaseRunning} {
		if got := PhaseOf(st); got != want {
			t.Errorf("PhaseOf(%d) = %d, want %d", st, got, want)
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	u := func(a string, st int, code int64) UpdateState {
		return UpdateState{ArticleID: a, EvaluationState: st, ErrorCode: code, PercentComplete: 40}
	}
	for _, tc := range []struct {
		name  string
		batch []string
		st    []UpdateState
		phase Phase
		desc  string
	}{
		{"running", []string{"1", "2"}, []UpdateState{u("1", 7, 0), u("2", 9, 0)}, PhaseRunning, "1 still running (40%), 1 pending restart"},
		{"pending and failed restart", []string{"1", "KB2"}, []UpdateState{u("1", 13, 0x80070643), u("2", 8, 0)}, PhasePendingRestart,
			"1 pending restart, 1 failed 0x80070643"},
		{"all failed", []string{"1"}, []UpdateState{u("1", 13, 0x80240016)}, PhaseFailed, "1 failed 0x80240016"},
		{"gone means installed", []string{"1", "2"}, []UpdateState{u("2", 12, 0)}, PhaseInstalled, "2 installed"},
		{"others ignored", []string{"1"}, []UpdateState{u("1", 9, 0), u("3", 5, 0)}, PhasePendingRestart, "1 pending restart"},
		{"empty batch is everything", nil, []UpdateState{u("1", 9, 0), u("3", 5, 0)}, PhaseRunning, "1 still running (40%), 1 pending restart"},
	} {
		b := Summarize(tc.batch, UpdateStates{Updates: tc.st})
		if b.Phase() != tc.phase || b.Describe() != tc.desc {
			t.Errorf("%s: %+v phase %d %q; want %d %q", tc.name, b, b.Phase(), b.Describe(), tc.phase, tc.desc)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	var got []time.Duration
	var d time.Duration
	for range 5 {
		d = Backoff{}.Next(d)
		got = append(got, d)
	}
	if fmt.Sprint(got) != "[2m0s 4m0s 8m0s 10m0s 10m0s]" {
		t.Errorf("default backoff %v", got)
	}
	if d := (Backoff{First: 10 * time.Minute, Max: 15 * time.Minute, Factor: 1.5}).Next(10 * time.Minute); d != 15*time.Minute {
		t.Errorf("custom backoff %v", d)
	}
}

// jobRunner answers client-update-state from a job that ends at a given time on a fake clock.
type jobRunner struct {
	now   *time.Time
	ends  time.Time
	calls int
}

func (j *jobRunner) Run(_ context.Context, script string, _, out any) error {
	if script != "client-update-state" {
		return fmt.Errorf("unexpected %s", script)
	}
	j.calls++
	st := 7
	if !j.now.Before(j.ends) {
		st = 9
	}
	b, _ := json.Marshal(UpdateStates{Updates: []UpdateState{{ArticleID: "5071234", EvaluationState: st}}})
	return json.Unmarshal(b, out)
}

func TestWait(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		ends  time.Duration
		limit time.Duration
		phase Phase
		calls int
		slept time.Duration
	}{
		{"ends in time", 13 * time.Minute, time.Hour, PhasePendingRestart, 4, 14 * time.Minute}, // 0, 2, 6, 14
		{"limit first", 2 * time.Hour, 30 * time.Minute, PhaseRunning, 6, 30 * time.Minute},     // 0, 2, 6, 14, 24, 30
	} {
		now := start
		j := &jobRunner{now: &now, ends: start.Add(tc.ends)}
		b, err := Wait(context.Background(), j, []string{"KB5071234"}, WaitOptions{Until: start.Add(tc.limit),
			Now: func() time.Time { return now }, Sleep: func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }})
		if err != nil || b.Phase() != tc.phase || j.calls != tc.calls || now.Sub(start) != tc.slept {
			t.Errorf("%s: %+v %v after %d looks and %v", tc.name, b, err, j.calls, now.Sub(start))
		}
	}
}
