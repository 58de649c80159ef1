package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/notify"
)

// A machine escalated about one update and, in the same run, told (or not told) about
// another counts once in a run's totals, as escalated: the totals add up to the machines.
// It counted as both told and escalated ("1 machines still missing: 1 told, 1 escalated").
func TestMissingTotalsCountEachMachineOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		at      time.Time // of the run that escalates
		dryRun  bool
		outcome string // the machine's outcome in that run
		note    string // its note's start
	}{
		{"told about the other update", time.Date(2026, 12, 14, 10, 0, 0, 0, time.UTC), false, notify.OutcomeNotified, "also escalated: "},
		{"quiet hours for the other update", time.Date(2026, 12, 14, 21, 0, 0, 0, time.UTC), false, notify.OutcomeNotNotified, notify.NoteQuietHours},
		{"dry run", time.Date(2026, 12, 14, 10, 0, 0, 0, time.UTC), true, notify.OutcomeNotNotified, notify.NoteDryRun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, thursday)
			ctx := context.Background()
			// A machine online with a user, missing two updates.
			host, a1, a2 := s.missingTwo(t)
			// Its office, to keep the runs small.
			var office string
			if err := s.lab.DB.QueryRow(`SELECT c.Name FROM v_Collection c
				JOIN v_FullCollectionMembership m ON m.CollectionID = c.CollectionID
				JOIN v_R_System s ON s.ResourceID = m.ResourceID
				WHERE s.Name0 = ? AND c.Name LIKE 'Location - %' ORDER BY c.MemberCount LIMIT 1`, host).Scan(&office); err != nil {
				t.Fatalf("the office of %s: %v", host, err)
			}
			env := s.env(notify.DefaultSettings(time.UTC))
			// Its users are told about the first update three times (the threshold).
			for run := 1; run <= 3; run++ {
				res, err := notify.Missing(ctx, env, notify.MissingOptions{Updates: []string{"KB" + a1}, Collection: office})
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				if h := hostOf(res, host); h == nil || h.Outcome != notify.OutcomeNotified {
					t.Fatalf("run %d did not tell %s: %+v", run, host, h)
				}
				s.clock.Advance(24 * time.Hour)
			}
			// A run about both: the first is escalated, the second told (or not, by policy).
			// It runs in a night step (as the runner's notice steps do), whose host outcomes
			// give the step line's counts.
			s.clock.Set(tc.at)
			if !tc.dryRun {
				run, _, err := s.j.BeginRun(ctx, journal.RunSpec{Plan: "test", Month: "2026-12", PatchTuesday: "2026-12-08", TimeZone: "UTC"})
				if err != nil {
					t.Fatal(err)
				}
				step, _, err := s.j.BeginStep(ctx, journal.StepSpec{Run: run.ID, Step: "thursday-notice", Occurrence: "thursday-notice",
					Action: "notify-missing", Planned: tc.at})
				if err != nil {
					t.Fatal(err)
				}
				env.Run, env.Step = run.ID, step.ID
			}
			res, err := notify.Missing(ctx, env, notify.MissingOptions{Updates: []string{"KB" + a1, "KB" + a2}, Collection: office, DryRun: tc.dryRun})
			if err != nil {
				t.Fatal(err)
			}
			h := hostOf(res, host)
			if h == nil || h.Outcome != tc.outcome || len(h.Escalated) != 1 || h.Escalated[0] != "KB"+a1 || !strings.HasPrefix(h.Note, tc.note) {
				t.Fatalf("%s: %+v; want %s (%s...), escalated KB%s", host, h, tc.outcome, tc.note, a1)
			}
			if sum := res.Notified + res.Escalated + res.Skipped + res.Failed; sum != len(res.Hosts) {
				t.Errorf("totals %d told + %d escalated + %d not told + %d failed = %d, for %d machines",
					res.Notified, res.Escalated, res.Skipped, res.Failed, sum, len(res.Hosts))
			}
			escalated := 0
			for _, x := range res.Hosts {
				if len(x.Escalated) > 0 {
					escalated++
				}
			}
			if res.Escalated != escalated {
				t.Errorf("%d escalated, %d machines escalated by the run", res.Escalated, escalated)
			}
			if tc.dryRun {
				return
			}
			// The step line agrees: ok ("told or escalated") is told plus escalated.
			c, err := s.j.StepCounts(ctx, env.Step)
			if err != nil {
				t.Fatal(err)
			}
			if c.Hosts != len(res.Hosts) || c.OK != res.Notified+res.Escalated || c.Skipped != res.Skipped || c.Failed != res.Failed {
				t.Errorf("step counts %+v; the run: %d machines, %d told, %d escalated, %d not told, %d failed",
					c, len(res.Hosts), res.Notified, res.Escalated, res.Skipped, res.Failed)
			}
		})
	}
}

func hostOf(r notify.MissingResult, host string) *notify.MissingHost {
	for i := range r.Hosts {
		if r.Hosts[i].Host == host {
			return &r.Hosts[i]
		}
	}
	return nil
}
