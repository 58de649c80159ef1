package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/site"
)

// fixedClock is a clock that stays at one instant.
type fixedClock time.Time

func (c fixedClock) Now() time.Time                                   { return time.Time(c) }
func (c fixedClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// TestMessedUpRules checks the follow-up's messed-up list (MessedUp) on a small lab with a
// journal written by hand: which machines it names, and as what.
//   - A machine with one failed install on the night whose scan then fails on every
//     follow-up scan is messed up by its scan: the install rule does not name it, so the
//     scan rule must (before, any failed install kept it off the list altogether, and the
//     machine was unpatched without a reason).
//   - A machine the install rule names is not named a second time by the scan rule.
//   - A machine in the plan's excluded collections is left out, as the night's counts, the
//     seen share and the not-seen list leave it out (before, it was named, and added to the
//     needs-attention collection).
func TestMessedUpRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _, raw := siteLab(t, false, nil)
	j, err := journal.Open(ctx, filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	day := func(d, hh, mm int) time.Time { return time.Date(2026, 12, 8+d, hh, mm, 0, 0, time.UTC) }
	r.Plan, r.Loc, r.Month = night.Default(), time.UTC, month
	r.Env.Journal, r.Env.Clock = j, fixedClock(day(6, 11, 50))
	run, _, err := j.BeginRun(ctx, journal.RunSpec{Plan: r.Plan.Name, Month: "2026-12", PatchTuesday: "2026-12-08", TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	r.run = run

	// Eligible machines the site shows not patched, with no scan failed yet.
	var cand []hostState
	if err := r.eachState(ctx, func(h hostState) error {
		if h.Eligible && !h.Patched() && h.ScanBucket != "failed" {
			cand = append(cand, h)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(cand) < 4 {
		t.Fatalf("the lab has %d unpatched machines, the test needs 4", len(cand))
	}
	// The excluded machine and the smallest collection it is in; the others outside it.
	excluded := cand[0]
	var coll string
	if err := raw.QueryRow(`SELECT f.CollectionID FROM v_FullCollectionMembership f WHERE f.ResourceID = ?
		ORDER BY (SELECT COUNT(*) FROM v_FullCollectionMembership g WHERE g.CollectionID = f.CollectionID), f.CollectionID`,
		excluded.ResourceID).Scan(&coll); err != nil {
		t.Fatal(err)
	}
	inColl := map[int64]bool{}
	for _, id := range ids(t, raw, `SELECT ResourceID FROM v_FullCollectionMembership WHERE CollectionID = ?`, coll) {
		inColl[id] = true
	}
	var others []hostState
	for _, h := range cand[1:] {
		if !inColl[h.ResourceID] {
			others = append(others, h)
		}
	}
	if len(others) < 3 {
		t.Fatalf("only %d unpatched machines outside %s", len(others), coll)
	}
	r.exclusions = []site.CollectionRef{{ID: coll, Name: "excluded"}}
	scanThenFail, installs, both := others[0], others[1], others[2]

	const hopeless, proxy = int64(-2147023293), int64(-2145107938) // 0x80070643, 0x8024401E
	step := func(occ, action string, at time.Time) journal.StepID {
		st, _, err := j.BeginStep(ctx, journal.StepSpec{Run: run.ID, Step: strings.SplitN(occ, "-d", 2)[0], Occurrence: occ, Action: action, Planned: at})
		if err != nil {
			t.Fatal(err)
		}
		return st.ID
	}
	record := func(st journal.StepID, h hostState, action string, out journal.Outcome, code int64, at time.Time) {
		t.Helper()
		if err := j.Record(ctx, journal.HostOutcome{Run: run.ID, Step: st, Host: h.Name, ResourceID: h.ResourceID, Action: action,
			Outcome: out, ErrorCode: code, Channel: "winrm", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	// The night: one failed install for scanThenFail; installs, both and the excluded
	// machine fail the same way on the night and on the follow-up's evenings.
	nightInstall := step("install-logged-off", "install-and-restart", day(0, 20, 0))
	record(nightInstall, scanThenFail, actInstall, journal.OutcomeFailed, hopeless, day(0, 21, 7))
	for _, h := range []hostState{installs, both, excluded} {
		record(nightInstall, h, actInstall, journal.OutcomeFailed, hopeless, day(0, 21, 7))
	}
	for _, d := range []int{2, 3} {
		st := step(fmt.Sprintf("follow-up-night-2000-d%02d", d), "install-and-restart", day(d, 20, 0))
		for _, h := range []hostState{installs, both, excluded} {
			record(st, h, actInstall, journal.OutcomeFailed, hopeless, day(d, 21, 7))
		}
	}
	// The follow-up's scans: asked for (ok) on D+2, D+3 and D+6 of scanThenFail, both and
	// the excluded machine.
	for _, at := range []time.Time{day(2, 10, 40), day(2, 14, 40), day(3, 10, 40), day(6, 10, 40)} {
		st := step(fmt.Sprintf("follow-up-scan-%s-d%02d", at.Format("1504"), at.Day()-8), "scan", at)
		for _, h := range []hostState{scanThenFail, both, excluded} {
			record(st, h, actScan, journal.OutcomeOK, 0, at)
		}
	}
	if err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The site shows their scans failed now.
	for _, h := range []hostState{scanThenFail, both, excluded} {
		if _, err := raw.Exec(`UPDATE lab_scan_status SET LastScanState = 5, LastErrorCode = ? WHERE ResourceID = ?`, proxy, h.ResourceID); err != nil {
			t.Fatal(err)
		}
	}

	got, err := r.MessedUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string][]string{}
	for _, m := range got {
		kinds[strings.ToUpper(m.Host)] = append(kinds[strings.ToUpper(m.Host)], m.Kind)
	}
	for _, tc := range []struct {
		name string
		host hostState
		want []string // the kinds it is named with; nil = not named
	}{
		{"scan fails after one failed install", scanThenFail, []string{actScan}},
		{"install rule", installs, []string{actInstall}},
		{"install rule, scan failing too: named once", both, []string{actInstall}},
		{"excluded", excluded, nil},
	} {
		if k := kinds[strings.ToUpper(tc.host.Name)]; !slices.Equal(k, tc.want) {
			t.Errorf("%s: %s named as %v, want %v", tc.name, tc.host.Name, k, tc.want)
		}
	}
}
