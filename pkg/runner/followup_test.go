package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/runner"
)

// TestFollowUpTwoWeeks runs the default plan's night and then two weeks of its follow-up
// (issue 17) on a lab with the default fault model, on the simulated clock, and checks the
// acceptance items: the patched share afterwards, a reason for every machine still
// unpatched, and, from the notice ledger, that no machine was told more often than the
// notice policy allows across the night and the follow-up together.
//
// The plan opts into client repair (follow_up.repair_client; the default plan does not:
// SMS_Client.RepairClient is unconfirmed), on a lab whose clients have the method (the lab's
// default) and on one whose clients have not: then every repair is "not available", and
// the rest of the follow-up runs as without repair.
func TestFollowUpTwoWeeks(t *testing.T) {
	t.Parallel()
	absent := lab.DefaultFaults()
	absent.NoRepairMethod = true
	for _, tc := range []struct {
		name   string
		faults *lab.FaultRates
	}{
		{"repair", nil},
		{"repair-method-absent", &absent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			followUpTwoWeeks(t, tc.faults)
		})
	}
}

func followUpTwoWeeks(t *testing.T, faults *lab.FaultRates) {
	path := buildLabWith(t, followUpHosts, faults)
	state := filepath.Join(t.TempDir(), "state")
	p := night.Default()
	fu := *p.FollowUp
	fu.EndBefore = 20 // Patch Tuesday 8 Dec 2026, next 12 Jan: the follow-up runs until PT+15, two weeks
	fu.RepairClient = true
	p.FollowUp = &fu
	methodAbsent := faults != nil && faults.NoRepairMethod
	e := newEnvEarly(t, path, state, shortPlan, 10*time.Minute, nil) // the wiring; the plan is replaced below
	defer e.close()
	ctx := context.Background()
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	lc := e.run.Env.Clock.(labClock)
	lc.c.Set(night.Timeline(p, month, time.UTC)[0].Time.Add(-10 * time.Minute))
	dc := &dayClock{c: lc.c, site: e.site}
	r := dayRunner(t, e, p, month, dc, nil)
	settings := r.Env.Notifier.(*notify.Notices).Settings // the policy the ledger is checked against
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
	// The morning report built after the follow-up says so: its headline is now's share,
	// the night's own share beside it; the burn-down and install waves keep to the night.
	if night1.AfterNight != nil || after.AfterNight == nil || after.AfterNight.Patched != night1.Patched || after.AfterNight.FollowUpSteps == 0 {
		t.Errorf("after the night %+v, after the follow-up %+v; the night patched %d", night1.AfterNight, after.AfterNight, night1.Patched)
	}
	if h := report.Headline(after); !strings.HasPrefix(h, "Patched now, with the follow-up: ") || !strings.Contains(h, "on the night "+report.FormatPercent(night1.PatchedPct)) {
		t.Errorf("headline after the follow-up: %q", h)
	}
	if len(after.BurnDown) != len(night1.BurnDown) || fmt.Sprint(after.Installs) != fmt.Sprint(night1.Installs) {
		t.Errorf("the follow-up's steps reached the night's burn-down (%d points, %d on the night) or install waves (%v, %v on the night)",
			len(after.BurnDown), len(night1.BurnDown), after.Installs, night1.Installs)
	}
	var stopped int64
	for _, c := range after.Stopped {
		stopped += c.Count
		if strings.TrimSpace(c.Reason) == "" {
			t.Errorf("%d unpatched machines without a reason", c.Count)
		}
	}
	for _, is := range after.NeedsPerson {
		// A machine whose site shows a failed install is "install failed" with its code,
		// even when another update's job was still running at a step's limit.
		if len(is.Reasons) > 0 && strings.HasPrefix(is.Reasons[0], "install still running") && len(is.ErrorCodes) > 0 {
			t.Errorf("%s: first reason %q, but its installs failed with %v", is.Name, is.Reasons[0], is.ErrorCodes)
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
	unpatched := map[string]bool{} // the morning report names every unpatched machine with an issue
	for _, is := range after.NeedsPerson {
		unpatched[strings.ToUpper(is.Name)] = true
	}
	for _, m := range messed {
		// A machine patched since (a repair cleared its fault) is no longer messed up.
		if !unpatched[strings.ToUpper(m.Host)] {
			t.Errorf("%s listed as messed up, but the site shows it patched", m.Host)
		}
		h := m.History
		// A scan's rule counts the follow-up's scans asked for, and now (the site still shows
		// it failed): the whole run of them, not only the last three.
		run := len(h) - 1 // the start of the last run of one install error
		for run > 0 && h[run-1].ErrorCode == h[len(h)-1].ErrorCode {
			run--
		}
		if m.Kind == "install" && (len(h)-run < 3 || h[len(h)-1].ErrorCode != m.ErrorCode || h[len(h)-1].At.Sub(h[run].At) < 24*time.Hour) ||
			m.Kind == "scan" && (len(h) < 2 || dc.Now().Sub(h[0].At) < 24*time.Hour || h[0].At.Before(night.FollowUpTimeline(p, month, time.UTC)[0].Time)) ||
			m.ErrorCode == 0 || m.Kind != "install" && m.Kind != "scan" {
			t.Errorf("%s listed as messed up (%s) with history %+v", m.Host, m.Kind, h)
		}
		t.Logf("messed up: %s %s 0x%08X, %d times", m.Host, m.Kind, uint32(m.ErrorCode), len(h))
	}

	// Client repair: every request journaled (action repair), at most once per machine
	// in runner.RepairEvery, only to messed-up machines; "not available" where the
	// clients have no RepairClient method.
	repairs := map[string][]journal.HostOutcome{}
	if err := e.j.EachHostOutcome(ctx, journal.Filter{Run: r.Run().ID, Action: journal.ActionRepair}, func(o journal.HostOutcome) error {
		repairs[o.Host] = append(repairs[o.Host], o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(repairs) == 0 {
		t.Error("no client repair was asked for")
	}
	for h, rs := range repairs {
		for i, o := range rs {
			wantOut := journal.OutcomeOK
			if methodAbsent {
				wantOut = journal.Skipped
			}
			if o.Outcome != wantOut || methodAbsent && !strings.Contains(o.Reason, "not available") {
				t.Errorf("%s: repair %s (%s), want %s", h, o.Outcome, o.Reason, wantOut)
			}
			if i > 0 && o.At.Sub(rs[i-1].At) < runner.RepairEvery {
				t.Errorf("%s: repaired at %s and again at %s", h, rs[i-1].At, o.At)
			}
		}
		t.Logf("repair: %s %d times, first %s", h, len(rs), rs[0].At.Format("01-02 15:04"))
	}

	// The acceptance figure (issue 17): the patched share of the machines seen online
	// since the night began, and a reason for every eligible machine not patched.
	notSeen, err := r.NotSeen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen, err := r.SeenSinceNight(ctx, notSeen)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seen since the night (%s): %d of %d eligible; patched %d of them (%.1f%%); %d not seen",
		seen.Since, seen.Seen, seen.Eligible, seen.Patched, seen.PatchedPct, seen.NotSeen)
	// Issue 17 asks for >= 99%. It is not asserted: with the lab's default fault model
	// and its assumed repair fix rate (lab.DefaultRepairFix, docs/lab.md) the lab ends at
	// 273 of 283 seen machines (96.5%): the hopeless installs and failed scans a repair
	// did not clear stay unpatched, each listed with its reason. Raising the assumed rate
	// until the test passes would tune the lab to the test.
	if seen.Eligible != after.Eligible || seen.Patched > after.Patched || seen.Seen+seen.NotSeen != seen.Eligible {
		t.Errorf("seen-since-night figures %+v disagree with the morning report (%d of %d patched)", seen, after.Patched, after.Eligible)
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

	// Retries count per follow-up day: a machine whose installs failed all night (and
	// used up its retries) is tried again with an install on later follow-up days, not
	// given up with "retries exhausted".
	occOf := map[journal.StepID]string{}
	for _, s := range steps {
		occOf[s.ID] = s.Occurrence
	}
	nightGaveUp, laterTried, laterExhausted := map[string]bool{}, map[string]bool{}, map[string]bool{}
	if err := e.j.EachHostOutcome(ctx, journal.Filter{Run: r.Run().ID, Action: "install"}, func(o journal.HostOutcome) error {
		h, follow := strings.ToUpper(o.Host), strings.HasPrefix(occOf[o.Step], "follow-up-")
		switch {
		case !follow && o.Outcome == journal.RetriesExhausted:
			nightGaveUp[h] = true
		case follow && o.Outcome == journal.RetriesExhausted:
			laterExhausted[h] = true
		case follow:
			laterTried[h] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for h := range nightGaveUp {
		if laterExhausted[h] && !laterTried[h] {
			t.Errorf("%s: the night used up its retries, and no follow-up day tried it again", h)
		}
	}
	for _, m := range messed {
		if m.Kind != "install" {
			continue
		}
		days := map[string]bool{}
		if err := e.j.EachHostOutcome(ctx, journal.Filter{Run: r.Run().ID, Host: m.Host, Action: "install"}, func(o journal.HostOutcome) error {
			if occ := occOf[o.Step]; strings.HasPrefix(occ, "follow-up-") && o.Outcome != journal.RetriesExhausted {
				days[o.At.Format("2006-01-02")] = true
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(days) < 2 {
			t.Errorf("%s: install tried on %d follow-up days, want every follow-up day it was online (retries per day)", m.Host, len(days))
		}
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
	// Every eligible machine not patched is listed with a reason: not seen since the night,
	// or seen and still unpatched (messed up with its error, escalated, ...).
	if s := rep.SeenSinceNight; s == nil || int64(len(rep.Unpatched)) != s.Seen-s.Patched || int64(len(rep.NotSeen)) != s.NotSeen {
		t.Errorf("the report lists %d unpatched seen and %d not seen machines; the seen share says %+v", len(rep.Unpatched), len(rep.NotSeen), rep.SeenSinceNight)
	}
	isMessed := map[string]bool{}
	for _, m := range messed {
		isMessed[m.Host] = true
	}
	for _, u := range rep.Unpatched {
		if strings.TrimSpace(u.Reason) == "" || isMessed[u.Host] != strings.HasPrefix(u.Reason, "messed up: ") {
			t.Errorf("unpatched %s: reason %q (messed up %v)", u.Host, u.Reason, isMessed[u.Host])
		}
		t.Logf("still unpatched, seen: %s: %s", u.Host, u.Reason)
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
