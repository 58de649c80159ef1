package runner_test

import (
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/runner"
)

// TestFollowUpGridTimes: the report's tables show every time in the plan's zone (the zone
// of the night's start): the messed-up machines' first and last failures as the machines
// not seen since the night (the journal keeps UTC; before, the messed-up table printed it
// as UTC, an hour off for a site in Berlin).
func TestFollowUpGridTimes(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	first, last := time.Date(2026, 12, 8, 20, 7, 0, 0, time.UTC), time.Date(2026, 12, 10, 19, 30, 0, 0, time.UTC)
	seen := time.Date(2026, 12, 6, 8, 15, 0, 0, time.UTC)
	rep := &runner.FollowUpReport{Plan: "p", Month: "2026-12", PatchTuesday: "2026-12-08",
		NotSeenSince: time.Date(2026, 12, 8, 16, 0, 0, 0, cet),
		MessedUp: []runner.MessedHost{{Host: "PC-1", ErrorCode: -2147023293, Kind: "install",
			History: []journal.HostOutcome{{Host: "PC-1", At: first}, {Host: "PC-1", At: last}}}},
		NotSeen: []runner.NotSeenHost{{Host: "PC-2", LastOnline: &seen, LastOffline: &seen}}}
	rows := map[string][]string{}
	for _, g := range rep.Grids() {
		for _, r := range g.Rows {
			rows[r[0]] = r
		}
	}
	for _, tc := range []struct {
		host string
		want []string
	}{
		{"PC-1", []string{"2026-12-08 21:07", "2026-12-10 20:30"}},
		{"PC-2", []string{"2026-12-06 09:15", "2026-12-06 09:15"}},
	} {
		r := rows[tc.host]
		if len(r) < len(tc.want) {
			t.Fatalf("%s: row %q", tc.host, r)
		}
		if got := r[len(r)-len(tc.want):]; strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: times %q, want %q in the plan's zone", tc.host, got, tc.want)
		}
	}
}

// TestReportDays: the long-tail report covers D0..D+21, and a follow-up that runs later
// (five weeks between Patch Tuesdays) to its last day.
func TestReportDays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		pt        time.Time
		endBefore int
		want      int
	}{
		{"December 2026: next Patch Tuesday in five weeks", time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), 7, 28},  // 12 Jan 2027 - 7 days
		{"November 2026: next Patch Tuesday in four weeks", time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC), 7, 21}, // 8 Dec - 7 = D+21
		{"a follow-up ending early", time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), 20, 21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := night.Default()
			fu := *p.FollowUp
			fu.EndBefore = tc.endBefore
			p.FollowUp = &fu
			r := &runner.Runner{Plan: p, Month: night.MonthOf(tc.pt)}
			if got := r.ReportDays(); got != tc.want {
				t.Errorf("ReportDays = %d, want %d (follow-up days %v)", got, tc.want, p.FollowUpDays(r.Month))
			}
		})
	}
}
