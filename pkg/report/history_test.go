package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
)

// The history tables (rendered here since issue 13; they were journal's) show the runs and
// one run's steps with their counts, note and totals; the JSON is the journal's, unchanged.
func TestHistoryTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j, err := journal.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	run, _, err := j.BeginRun(ctx, journal.RunSpec{Plan: "restart-method", Month: "2026-12", PatchTuesday: "2026-12-08", TimeZone: "Europe/London"})
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := j.BeginStep(ctx, journal.StepSpec{Run: run.ID, Step: "install-logged-off", Occurrence: "install-logged-off",
		Action: "install-and-restart", Planned: time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range []journal.Outcome{journal.OutcomeOK, journal.OutcomeOK, journal.OutcomeFailed} {
		if err := j.RecordSync(ctx, journal.HostOutcome{Run: run.ID, Step: st.ID, Host: "PC" + string(rune('1'+i)), Action: "install", Outcome: o}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.FinishStep(ctx, st.ID, "", "1 host needs a person"); err != nil {
		t.Fatal(err)
	}
	if err := j.FinishRun(ctx, run.ID, journal.Partial); err != nil {
		t.Fatal(err)
	}
	list, err := j.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	det, err := j.Detail(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		v    output.Tabular
		want []string
	}{
		{"history", report.History(list), []string{"Runs", "restart-method", "2026-12", "2026-12-08", "partial", "1/1"}},
		{"run", report.RunHistory(det), []string{"Run 1: plan restart-method, 2026-12 (Patch Tuesday 2026-12-08, Europe/London), partial",
			"install-logged-off", "install-and-restart", "1 host needs a person", "total"}},
	} {
		var buf bytes.Buffer
		if err := output.Write(&buf, output.Table, tc.v); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("%s table lacks %q:\n%s", tc.name, w, buf.String())
			}
		}
	}
	g := report.RunHistory(det).Grids()[0]
	if len(g.Rows) != 1 || strings.Join(g.Rows[0][6:9], " ") != "3 2 1" || strings.Join(g.Footer[6:9], " ") != "3 2 1" {
		t.Errorf("run table rows %q, footer %q: want 3 hosts, 2 ok, 1 failed", g.Rows, g.Footer)
	}

	for _, tc := range []struct {
		name      string
		v         output.Tabular
		journalOf any
	}{
		{"history", report.History(list), list},
		{"run", report.RunHistory(det), det},
	} {
		var buf bytes.Buffer
		if err := output.Write(&buf, output.JSON, tc.v); err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(tc.journalOf)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := json.Compact(&got, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want) {
			t.Errorf("%s JSON %s, want the journal's %s", tc.name, got.String(), want)
		}
	}
}
