package journal

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestBreakdownRoundTrip: a step's breakdown by location and kind is stored, replaced when
// the step ends again, and read back per run.
func TestBreakdownRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, filepath.Join(t.TempDir(), "state"), Options{})
	run, st := beginStep(t, j, "install-logged-off")
	first := Breakdown{Step: st.ID, Note: "the site lacks v_GS_SYSTEM_ENCLOSURE", Groups: []Group{
		{Dim: DimKind, Name: "unknown", Eligible: 3, Patched: 1}, {Dim: DimLocation, Name: "London", Eligible: 3, Patched: 1}}}
	if err := j.RecordBreakdown(ctx, first); err != nil {
		t.Fatal(err)
	}
	again := Breakdown{Step: st.ID, Groups: []Group{
		{Dim: DimKind, Name: "laptop", Eligible: 2, Patched: 2}, {Dim: DimKind, Name: "virtual", Eligible: 1, Patched: 0},
		{Dim: DimLocation, Name: "London", Eligible: 3, Patched: 2}}}
	if err := j.RecordBreakdown(ctx, again); err != nil {
		t.Fatal(err)
	}
	got, err := j.Breakdowns(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[st.ID], again) {
		t.Errorf("breakdowns %+v, want %+v", got, again)
	}
}

// TestBreakdownOldJournal: a journal written before schema version 5 opens, keeps its
// measurements, and has no breakdown for them (not an empty one).
func TestBreakdownOldJournal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	j, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	run, st := beginStep(t, j, "install-logged-off")
	at := time.Date(2026, 12, 8, 22, 0, 0, 0, time.UTC)
	if err := j.RecordMetric(ctx, Metric{Step: st.ID, Eligible: 10, Patched: 8, At: at}); err != nil {
		t.Fatal(err)
	}
	// Back to version 4, as a journal of the previous release (version 6's index goes too).
	for _, q := range []string{"DROP INDEX watch_hosts_at", "DROP TABLE step_breakdown_groups", "DROP TABLE step_breakdowns", "PRAGMA user_version = 4"} {
		if _, err := j.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	j = openTest(t, dir, Options{})
	ms, err := j.Metrics(ctx, run.ID)
	if err != nil || ms[st.ID].Patched != 8 || ms[st.ID].Eligible != 10 {
		t.Fatalf("metrics after the migration %+v, %v", ms, err)
	}
	bs, err := j.Breakdowns(ctx, run.ID)
	if err != nil || len(bs) != 0 {
		t.Errorf("breakdowns of an old journal %+v, %v: want none", bs, err)
	}
}
