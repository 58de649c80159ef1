package journal

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestFailedCountsSince: the follow-up counts a day's failures only (issue 17), FailedCounts
// the whole run's.
func TestFailedCountsSince(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, filepath.Join(t.TempDir(), "state"), Options{})
	run, st := beginStep(t, j, "install-logged-off")
	night := time.Date(2026, 12, 8, 21, 0, 0, 0, time.UTC)
	day := time.Date(2026, 12, 10, 11, 0, 0, 0, time.UTC)
	for _, o := range []HostOutcome{
		{Host: "PC1", At: night, Outcome: OutcomeFailed},
		{Host: "PC1", At: night.Add(4 * time.Hour), Outcome: OutcomeFailed},
		{Host: "pc1", At: day, Outcome: OutcomeFailed},
		{Host: "PC2", At: night, Outcome: OutcomeFailed},
		{Host: "PC3", At: day, Outcome: OutcomeOK},
	} {
		o.Run, o.Step, o.Action = run.ID, st.ID, "install"
		if err := j.Record(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	all, err := j.FailedCounts(ctx, run.ID, "install")
	if err != nil {
		t.Fatal(err)
	}
	since, err := j.FailedCountsSince(ctx, run.ID, "install", time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if all["PC1"] != 3 || all["PC2"] != 1 || len(all) != 2 {
		t.Errorf("whole run: %v", all)
	}
	if since["PC1"] != 1 || len(since) != 1 {
		t.Errorf("since the follow-up day began: %v", since)
	}
}
