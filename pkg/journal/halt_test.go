package journal

import (
	"context"
	"testing"
	"time"
)

func TestHaltRecordAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, t.TempDir(), Options{})
	run, _, err := j.BeginRun(ctx, RunSpec{Plan: "p", Month: "2026-12", PatchTuesday: "2026-12-08", TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := j.ActiveHalt(ctx, run.ID); err != nil || ok {
		t.Fatalf("a new run has an active halt: %v %v", ok, err)
	}
	at := time.Date(2026, 12, 8, 20, 30, 0, 0, time.UTC)
	h, err := j.RecordHalt(ctx, Halt{Run: run.ID, Occurrence: "install-logged-off", Kind: "not-back", Reason: "4 of 10 not back", At: at})
	if err != nil || h.ID == 0 {
		t.Fatalf("RecordHalt = %+v, %v", h, err)
	}
	got, ok, err := j.ActiveHalt(ctx, run.ID)
	if err != nil || !ok || got.Reason != "4 of 10 not back" || !got.At.Equal(at) || got.Occurrence != "install-logged-off" {
		t.Fatalf("ActiveHalt = %+v %v %v", got, ok, err)
	}
	if n, err := j.ResumeRun(ctx, run.ID, at.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("ResumeRun = %d, %v", n, err)
	}
	if _, ok, _ := j.ActiveHalt(ctx, run.ID); ok {
		t.Error("the halt still holds after ResumeRun")
	}
	hs, err := j.Halts(ctx, run.ID)
	if err != nil || len(hs) != 1 || hs[0].Active() || !hs[0].Resumed.Equal(at.Add(time.Hour)) {
		t.Errorf("Halts = %+v, %v", hs, err)
	}
}
