package runner_test

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/runner"
)

// TestFollowUpTwoWeeks runs the default plan's night and then two weeks of its follow-up
// (issue 17) on a lab with the default fault model, on the simulated clock, and checks the
// acceptance items: the patched share afterwards, a reason for every machine still
// unpatched, and, from the notice ledger, that no machine was told more often than the
// notice policy allows across the night and the follow-up together.
func TestFollowUpTwoWeeks(t *testing.T) {
	t.Parallel()
	path := buildLab(t, followUpHosts)
	state := filepath.Join(t.TempDir(), "state")
	p := night.Default()
	fu := *p.FollowUp
	fu.EndBefore = 20 // Patch Tuesday 8 Dec 2026, next 12 Jan: the follow-up runs until PT+15, two weeks
	p.FollowUp = &fu
	e := newEnvEarly(t, path, state, shortPlan, 10*time.Minute, nil) // the wiring; the plan is replaced below
	defer e.close()
	ctx := context.Background()
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	lc := e.run.Env.Clock.(labClock)
	lc.c.Set(night.Timeline(p, month, time.UTC)[0].Time.Add(-10 * time.Minute))
	dc := &dayClock{c: lc.c, site: e.site}
	env := e.run.Env
	env.Clock, env.AfterAction = dc, dc.settle
	env.Concurrency = 32
	r, err := runner.New(ctx, p, time.UTC, month, env)
	if err != nil {
		t.Fatal(err)
	}
	settings := notify.DefaultSettings(time.UTC)
	r.Env.Notifier = &notify.Notices{Site: e.db, Journal: e.j, Hosts: env.Hosts, Provider: env.Provider, Settings: settings,
		Now: dc.Now, Concurrency: 32, Threshold: settings.Threshold, Scope: r.Scope().ID}
	if err := r.Night(ctx); err != nil {
		t.Fatal(err)
	}
	night1, err := r.Morning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.FollowUp(ctx); err != nil {
		t.Fatal(err)
	}
	if end := night.FollowUpEnd(p, month, time.UTC); dc.Now().Before(end.Add(-night.Default().FollowUpSteps()[len(night.Default().FollowUpSteps())-1].Limit)) {
		t.Fatalf("the clock stopped at %s, before the follow-up's end %s", dc.Now(), end)
	}
	after, err := r.Morning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("night: %d of %d patched (%.1f%%); after two weeks of follow-up: %d of %d (%.1f%%)",
		night1.Patched, night1.Eligible, night1.PatchedPct, after.Patched, after.Eligible, after.PatchedPct)
	for _, s := range after.Stopped {
		t.Logf("still unpatched: %d: %s", s.Count, s.Reason)
	}
	if after.Patched < night1.Patched {
		t.Errorf("the follow-up lost patched machines: %d before, %d after", night1.Patched, after.Patched)
	}
	var stopped int64
	for _, c := range after.Stopped {
		stopped += c.Count
		if strings.TrimSpace(c.Reason) == "" {
			t.Errorf("%d unpatched machines without a reason", c.Count)
		}
	}
	if stopped != after.Unpatched() {
		t.Errorf("reasons count %d machines, %d are unpatched", stopped, after.Unpatched())
	}

	// Messed-up machines: the same install error on at least 3 attempts over at least 2
	// days, listed with their history, and added to the needs-attention collection.
	messed, err := r.MessedUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(messed) == 0 {
		t.Error("no messed-up machine: the lab's permanent install faults should give some")
	}
	for _, m := range messed {
		h := m.History
		if len(h) < 3 || h[len(h)-1].ErrorCode != m.ErrorCode || m.ErrorCode == 0 ||
			h[len(h)-1].At.Sub(h[len(h)-3].At) < 24*time.Hour {
			t.Errorf("%s listed as messed up with history %+v", m.Host, h)
		}
		t.Logf("messed up: %s 0x%08X, %d failed installs", m.Host, uint32(m.ErrorCode), len(h))
	}

	// The follow-up's steps are in the journal, one per day and time.
	steps, err := e.j.Steps(ctx, r.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	follow := 0
	for _, s := range steps {
		if strings.HasPrefix(s.Occurrence, "follow-up-") {
			follow++
			if strings.Contains(s.Note, "messed up") && !strings.Contains(s.Note, "in needs-attention collection") {
				t.Errorf("%s: messed-up machines not added to the needs-attention collection: %s", s.Occurrence, s.Note)
			}
		}
	}
	if want := len(night.FollowUpTimeline(p, month, time.UTC)); follow != want {
		t.Errorf("%d follow-up steps in the journal, want %d", follow, want)
	}

	// The long-tail report's daily figures agree with the journal: each day's figure is the
	// last measurement recorded before the day's end.
	rep, err := runner.BuildFollowUp(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := e.j.Metrics(ctx, r.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Days) != runner.FollowUpDays+1 {
		t.Fatalf("%d days in the report, want D0..D+%d", len(rep.Days), runner.FollowUpDays)
	}
	for _, d := range rep.Days {
		y, mo, dd := month.Date(d.Day)
		end := time.Date(y, mo, dd+1, 0, 0, 0, 0, time.UTC)
		var want, latest journal.Metric
		for _, m := range metrics {
			if m.At.Before(end) && (want.At.IsZero() || m.At.After(want.At) || m.At.Equal(want.At) && m.Step > want.Step) {
				want = m
			}
			if m.At.After(latest.At) {
				latest = m
			}
		}
		if latest.At.Before(time.Date(y, mo, dd, 0, 0, 0, 0, time.UTC)) {
			want = journal.Metric{} // a day the journal has not reached: no figure
		}
		if d.Measured != !want.At.IsZero() || d.Patched != want.Patched || d.Eligible != want.Eligible {
			t.Errorf("D+%d (%s): report %d of %d (measured %v), the journal's last measurement %d of %d at %s",
				d.Day, d.Date, d.Patched, d.Eligible, d.Measured, want.Patched, want.Eligible, want.At)
		}
		if d.Day <= 15 && !d.Measured || d.Day > 16 && d.Measured {
			t.Errorf("D+%d measured %v: the follow-up ran until D+15", d.Day, d.Measured)
		}
	}
	if last := rep.Days[15]; last.Patched != after.Patched || last.Patched <= rep.Days[1].Patched {
		t.Errorf("D+15 %d patched, the morning report now %d, D+1 %d", last.Patched, after.Patched, rep.Days[1].Patched)
	}
	if len(rep.MessedUp) != len(messed) {
		t.Errorf("report lists %d messed-up machines, MessedUp %d", len(rep.MessedUp), len(messed))
	}
	for _, d := range rep.Days {
		if d.Day <= 15 {
			t.Logf("D+%d %s %d of %d (%.1f%%)", d.Day, d.Date, d.Patched, d.Eligible, d.PatchedPct)
		}
	}

	// The notice ledger: per machine and update, at most Threshold delivered "missing"
	// notices; per machine, no two delivered notices within MinInterval.
	all, err := e.j.Notices(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	perUpdate := map[string]map[time.Time]bool{}
	perHost := map[string]map[time.Time]bool{}
	delivered := 0
	for _, n := range all {
		if !n.Delivered {
			continue
		}
		delivered++
		h := strings.ToUpper(n.Host)
		if perHost[h] == nil {
			perHost[h] = map[time.Time]bool{}
		}
		perHost[h][n.At] = true
		if n.Kind == journal.NoticeKind("missing") {
			k := h + "|" + strings.ToUpper(n.Update)
			if perUpdate[k] == nil {
				perUpdate[k] = map[time.Time]bool{}
			}
			perUpdate[k][n.At] = true
		}
	}
	if delivered == 0 {
		t.Fatal("no notice was delivered: the ledger check proves nothing")
	}
	for k, times := range perUpdate {
		if len(times) > settings.Threshold {
			t.Errorf("%s: told %d times about one update, the policy allows %d", k, len(times), settings.Threshold)
		}
	}
	for h, set := range perHost {
		var times []time.Time
		for at := range set {
			times = append(times, at)
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		for i := 1; i < len(times); i++ {
			if times[i].Sub(times[i-1]) < settings.MinInterval {
				t.Errorf("%s: told at %s and again at %s, within the minimum interval %s", h, times[i-1], times[i], settings.MinInterval)
			}
		}
	}
}
