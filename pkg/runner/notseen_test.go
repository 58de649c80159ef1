package runner_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/runner"
)

// seenClock is the follow-up test's day clock that also records, after every settle, the
// machines the lab has on: the lab's truth of who was seen online, sampled.
type seenClock struct {
	*dayClock
	db   *sql.DB
	seen map[string]bool
}

func (c *seenClock) Sleep(ctx context.Context, d time.Duration) error {
	c.c.Advance(d)
	return c.settle(ctx)
}

func (c *seenClock) settle(ctx context.Context) error {
	if err := c.dayClock.settle(ctx); err != nil {
		return err
	}
	rows, err := c.db.QueryContext(ctx, `SELECT Name FROM lab_host WHERE Power = 'on'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		c.seen[strings.ToUpper(name)] = true
	}
	return rows.Err()
}

// TestFollowUpNotSeen runs the default plan's night and two weeks of its follow-up on a lab
// with many machines away for days (laptops at home, closet machines, holidays, some of
// them longer than the follow-up), and checks the report's list of machines not seen
// online since the night began against the lab's truth: the eligible machines in scope the
// lab never had on from the night's start on (sampled after every step, and every time it
// brought a machine back in between), each with the last times the fast channel saw it,
// which are those it had before the night.
func TestFollowUpNotSeen(t *testing.T) {
	t.Parallel()
	rates := lab.DefaultFaults()
	rates.Home, rates.Closet, rates.Holiday = 0.3, 0.15, 0.15
	rates.NoComeBack = 0.03 // seen on the night, then gone: not "not seen since"
	path := buildLabWith(t, followUpHosts, &rates)
	// One of the machines away since before the night (a holiday, or a closet machine) is
	// away for three weeks, whatever the lab drew: the list has a machine away for days.
	ldb, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var long string
	if err := ldb.QueryRow(`SELECT Name FROM lab_host WHERE OfflineUntil IS NOT NULL AND Active = 1
		AND ClientCheckPass = 1 ORDER BY ResourceID LIMIT 1`).Scan(&long); err != nil {
		t.Fatalf("no machine away at the lab's start: %v", err)
	}
	for _, q := range []string{`DELETE FROM lab_away WHERE ResourceID = (SELECT ResourceID FROM lab_host WHERE Name = ?1)`,
		`UPDATE lab_host SET OfflineUntil = '2026-12-29 08:00:00', AwayAt = NULL WHERE Name = ?1`} {
		if _, err := ldb.Exec(q, long); err != nil {
			t.Fatal(err)
		}
	}
	ldb.Close()
	state := filepath.Join(t.TempDir(), "state")
	p := night.Default()
	fu := *p.FollowUp
	fu.EndBefore = 20 // until PT+15: two weeks
	p.FollowUp = &fu
	e := newEnvEarly(t, path, state, shortPlan, 10*time.Minute, nil)
	defer e.close()
	ctx := context.Background()
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	start := night.Timeline(p, month, time.UTC)[0].Time

	// The last times before the night, from the lab itself.
	type times struct{ on, off string }
	before := map[string]times{}
	awayAtStart := map[string]bool{}
	rows, err := e.site.DB.QueryContext(ctx, `SELECT Name, COALESCE(LastOnline, ''), COALESCE(LastOffline, ''),
		OfflineUntil IS NOT NULL FROM lab_host`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var x times
		var away bool
		if err := rows.Scan(&name, &x.on, &x.off, &away); err != nil {
			t.Fatal(err)
		}
		before[strings.ToUpper(name)], awayAtStart[strings.ToUpper(name)] = x, away
	}
	rows.Close()

	lc := e.run.Env.Clock.(labClock)
	lc.c.Set(start.Add(-10 * time.Minute))
	sc := &seenClock{dayClock: &dayClock{c: lc.c, site: e.site}, db: e.site.DB, seen: map[string]bool{}}
	r := dayRunner(t, e, p, month, sc, nil)
	if err := r.Night(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.FollowUp(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := runner.BuildFollowUp(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.NotSeenSince.Equal(start) {
		t.Errorf("not seen since %s, the night began at %s", rep.NotSeenSince, start)
	}

	// The lab's truth: also seen are machines it brought back between two samples (lab_event
	// 'online') and machines a magic packet woke.
	rows, err = e.site.DB.QueryContext(ctx, `SELECT DISTINCT h.Name FROM lab_event e JOIN lab_host h USING (ResourceID)
		WHERE e.Time >= ? AND (e.Action = 'online' OR e.Action = 'wake' AND e.Detail LIKE 'woke%')`,
		start.Format("2006-01-02 15:04:05"))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		sc.seen[strings.ToUpper(name)] = true
	}
	rows.Close()
	rows, err = e.site.DB.QueryContext(ctx, `SELECT h.Name FROM lab_host h
		WHERE h.IsClient = 1 AND h.Active = 1 AND h.ClientCheckPass = 1
		  AND h.ResourceID IN (SELECT ResourceID FROM v_FullCollectionMembership WHERE CollectionID = ?)
		ORDER BY h.Name`, r.Scope().ID)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	away := 0
	eligible := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		eligible[strings.ToUpper(name)] = true
		if !sc.seen[strings.ToUpper(name)] {
			want = append(want, strings.ToUpper(name))
			if awayAtStart[strings.ToUpper(name)] {
				away++
			}
		}
	}
	rows.Close()
	var got []string
	for _, h := range rep.NotSeen {
		got = append(got, strings.ToUpper(h.Host))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("not seen since the night: report %v, the lab's truth %v", got, want)
	}
	if !slices.Contains(want, strings.ToUpper(long)) || away == 0 {
		t.Fatalf("%d machines not seen (%v), %d of them away for days, %s not among them", len(want), want, away, long)
	}
	for _, h := range rep.NotSeen {
		b := before[strings.ToUpper(h.Host)]
		text := func(x *time.Time) string {
			if x == nil {
				return ""
			}
			return x.UTC().Format("2006-01-02 15:04:05")
		}
		if text(h.LastOnline) != b.on || text(h.LastOffline) != b.off {
			t.Errorf("%s: last online %q, last offline %q; before the night %q, %q", h.Host,
				text(h.LastOnline), text(h.LastOffline), b.on, b.off)
		}
		if h.LastOnline != nil && !h.LastOnline.Before(start) || h.LastOffline != nil && !h.LastOffline.Before(start) {
			t.Errorf("%s listed, but seen at %v / %v, after the night began at %s", h.Host, h.LastOnline, h.LastOffline, start)
		}
	}
	t.Logf("%d machines not seen since %s, %d of them away for days", len(want), start, away)

	// Every format carries the list: the table (md and csv through the same grids) and json.
	grids := rep.Grids()
	last := grids[len(grids)-1]
	if !strings.Contains(last.Title, "Not seen") || len(last.Rows) != len(rep.NotSeen) {
		t.Errorf("the report's last table %q has %d rows, %d machines not seen", last.Title, len(last.Rows), len(rep.NotSeen))
	}
	for _, f := range []output.Format{output.Table, output.JSON, output.Markdown, output.CSV} {
		var b strings.Builder
		if err := output.Write(&b, f, rep); err != nil {
			t.Fatal(err)
		}
		for _, h := range rep.NotSeen {
			if !strings.Contains(b.String(), h.Host) {
				t.Errorf("%s output leaves out %s", f, h.Host)
			}
		}
		if f == output.JSON && !strings.Contains(b.String(), `"not_seen"`) {
			t.Errorf("json output has no not_seen field")
		}
	}

	// The machines away when the night began that came back during the follow-up are behind
	// on their scan, not "missing updates" on the site: the follow-up's scans must reach
	// them (withScanBehind), or they would never be patched. Most of them, as some come
	// back only between the day's scan times; before withScanBehind none was.
	followUpFrom := month.PatchTuesday(time.UTC).AddDate(0, 0, 2)
	scanned := map[string]bool{}
	if err := e.j.EachHostOutcome(ctx, journal.Filter{Run: r.Run().ID, Action: "scan", Outcome: journal.OutcomeOK},
		func(o journal.HostOutcome) error {
			if !o.At.Before(followUpFrom) {
				scanned[strings.ToUpper(o.Host)] = true
			}
			return nil
		}); err != nil {
		t.Fatal(err)
	}
	var back, reached int
	for name, away := range awayAtStart {
		if !away || !sc.seen[name] || !eligible[name] {
			continue
		}
		back++
		if scanned[name] {
			reached++
		}
	}
	t.Logf("%d machines away when the night began came back during the follow-up; its scans reached %d", back, reached)
	if back == 0 || 2*reached < back {
		t.Errorf("the follow-up scanned %d of the %d machines that came back after being away since before the night", reached, back)
	}

	// The follow-up acts on the machines online now (issue 17: "machines that are online
	// and still miss the night's updates"): it wakes nobody, so none of the machines not
	// seen since the night has a scan, install or restart row from a follow-up step (before,
	// every follow-up step called each of them, and the journal held an "unreachable" row
	// per step and machine).
	steps, err := e.j.Steps(ctx, r.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	followStep := map[journal.StepID]bool{}
	for _, s := range steps {
		followStep[s.ID] = strings.HasPrefix(s.Occurrence, "follow-up-")
	}
	notSeen := map[string]bool{}
	for _, h := range rep.NotSeen {
		notSeen[strings.ToUpper(h.Host)] = true
	}
	tried := map[string]int{}
	if err := e.j.EachHostOutcome(ctx, journal.Filter{Run: r.Run().ID}, func(o journal.HostOutcome) error {
		switch o.Action {
		case "scan", "install", "restart":
			if followStep[o.Step] && notSeen[strings.ToUpper(o.Host)] {
				tried[o.Host+" "+o.Action+" "+string(o.Outcome)]++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(tried) > 0 {
		t.Errorf("the follow-up called machines offline since before the night: %v", tried)
	}
}
