package journal

import (
	"context"
	"testing"
)

// The outcomes of a followed install job: pending-restart is done and counts as ok;
// still-running is neither done nor a failure and counts as skipped.
func TestInstallJobOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, t.TempDir(), Options{})
	run, st := beginStep(t, j, "install-logged-on")
	for _, r := range []HostOutcome{
		{Host: "A", Action: "install", Outcome: PendingRestart},
		{Host: "B", Action: "install", Outcome: StillRunning},
		{Host: "C", Action: "install", Outcome: OutcomeFailed, ErrorCode: 0x80070643},
	} {
		r.Run, r.Step = run.ID, st.ID
		if err := j.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	done, err := j.DoneHosts(ctx, st.ID, "install")
	if err != nil {
		t.Fatal(err)
	}
	if !done.Has("A") || done.Has("B") || done.Has("C") {
		t.Errorf("done hosts %v: want A only", done)
	}
	fails, err := j.FailedCounts(ctx, run.ID, "install")
	if err != nil {
		t.Fatal(err)
	}
	if fails["B"] != 0 || fails["C"] != 1 {
		t.Errorf("failed counts %v: still-running is no failure", fails)
	}
	c, err := j.StepCounts(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c != (Counts{Hosts: 3, OK: 1, Failed: 1, Skipped: 1}) {
		t.Errorf("counts %+v", c)
	}
}
