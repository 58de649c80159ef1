package night

import (
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

func TestDefaultFollowUp(t *testing.T) {
	t.Parallel()
	p := Default()
	f := p.FollowUp
	if f == nil {
		t.Fatal("the default plan has no follow_up")
	}
	if f.From != 2 || f.EndBefore != 7 || !f.Weekdays || f.WorkStart != 8*60 || f.WorkEnd != 17*60 {
		t.Errorf("default follow-up %+v", f)
	}
	if f.RepairClient {
		t.Error("repair_client (unconfirmed) is on by default")
	}
	var ids []string
	for _, s := range p.FollowUpSteps() {
		ids = append(ids, s.ID+"@"+s.At.Clock()+"="+string(s.Action))
	}
	want := "follow-up-notice-1030@10:30=notify-missing follow-up-scan-1040@10:40=scan follow-up-install-1110@11:10=install " +
		"follow-up-notice-1430@14:30=notify-missing follow-up-scan-1440@14:40=scan follow-up-install-1510@15:10=install follow-up-night-2000@20:00=install-and-restart"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("follow-up steps\n got %s\nwant %s", got, want)
	}
	for _, s := range p.FollowUpSteps() {
		if s.Action == Install && !s.RestartPrompt {
			t.Errorf("%s installs without the restart prompt", s.ID)
		}
		if s.Action == InstallAndRestart && (s.At.Minute < 17*60 || s.At.Minute > 22*60) {
			t.Errorf("%s restarts machines at %s, not outside working hours", s.ID, s.At.Clock())
		}
		if s.Target != MissingUpdates {
			t.Errorf("%s targets %s", s.ID, s.Target)
		}
	}
}

func TestFollowUpDays(t *testing.T) {
	t.Parallel()
	p := Default()
	for _, tc := range []struct {
		m           Month
		first, last string // dates
		n           int
	}{
		// Patch Tuesday 8 Dec 2026, next 12 Jan 2027 (35 days): until 5 Jan, PT+28.
		{Month{2026, time.December}, "2026-12-10", "2027-01-05", 19},
		// Patch Tuesday 12 Jan 2027, next 9 Feb (28 days): until 2 Feb, PT+21.
		{Month{2027, time.January}, "2027-01-14", "2027-02-02", 14},
	} {
		days := p.FollowUpDays(tc.m)
		if len(days) != tc.n {
			t.Errorf("%s: %d days %v, want %d", tc.m, len(days), days, tc.n)
			continue
		}
		date := func(d int) string {
			y, mo, dd := tc.m.Date(d)
			return time.Date(y, mo, dd, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
		}
		if date(days[0]) != tc.first || date(days[len(days)-1]) != tc.last {
			t.Errorf("%s: %s..%s, want %s..%s", tc.m, date(days[0]), date(days[len(days)-1]), tc.first, tc.last)
		}
		for _, d := range days {
			y, mo, dd := tc.m.Date(d)
			if wd := time.Date(y, mo, dd, 0, 0, 0, 0, time.UTC).Weekday(); wd == time.Saturday || wd == time.Sunday {
				t.Errorf("%s: follow-up on a %s", tc.m, wd)
			}
		}
		// The follow-up never reaches into the next month's night (PT-6 on).
		n := tc.m.AddMonths(1)
		ny, nm, nd := n.Date(MinDay)
		ly, lm, ld := tc.m.Date(days[len(days)-1])
		if !time.Date(ly, lm, ld, 0, 0, 0, 0, time.UTC).Before(time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: follow-up reaches the next night", tc.m)
		}
	}
}

func TestFollowUpStepFor(t *testing.T) {
	t.Parallel()
	p := Default()
	loc := mustLoc(t, "Europe/London")
	for _, tc := range []struct {
		id     string
		now    time.Time
		due    bool
		occ    string
		month  Month
		reason string
	}{
		{"follow-up-notice-1030", time.Date(2026, 12, 15, 10, 30, 0, 0, loc), true, "follow-up-notice-1030-d07", Month{2026, time.December}, "running"},
		{"follow-up-install-1110", time.Date(2027, 1, 5, 11, 10, 0, 0, loc), true, "follow-up-install-1110-d28", Month{2026, time.December}, "running"},
		{"follow-up-notice-1030", time.Date(2026, 12, 12, 10, 30, 0, 0, loc), false, "", Month{}, "not due today"}, // Saturday
		{"follow-up-notice-1030", time.Date(2027, 1, 6, 10, 30, 0, 0, loc), false, "", Month{}, "not due today"},   // after the follow-up
		{"follow-up-night-2000-d09", time.Date(2026, 12, 17, 20, 0, 0, 0, loc), true, "follow-up-night-2000-d09", Month{2026, time.December}, "running"},
	} {
		d, err := StepFor(p, tc.id, tc.now, loc)
		if err != nil {
			t.Fatalf("%s at %s: %v", tc.id, tc.now, err)
		}
		if d.Due != tc.due || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s at %s: due %v (%s), want %v", tc.id, tc.now, d.Due, d.Reason, tc.due)
			continue
		}
		if tc.due && (d.Occurrence.ID != tc.occ || d.Occurrence.Month != tc.month) {
			t.Errorf("%s at %s: occurrence %s of %s, want %s of %s", tc.id, tc.now, d.Occurrence.ID, d.Occurrence.Month, tc.occ, tc.month)
		}
		// The day's run belongs to the month FollowUpMonth picks, so `run` opens the right night.
		if m, ok := FollowUpMonth(p, tc.now, loc); tc.due && (!ok || m != tc.month) {
			t.Errorf("%s at %s: FollowUpMonth %s %v", tc.id, tc.now, m, ok)
		}
	}
	if _, err := StepFor(p, "follow-up-notice-0900", time.Now(), loc); err == nil {
		t.Error("an unknown follow-up time was accepted")
	}
}

func TestFollowUpValidation(t *testing.T) {
	t.Parallel()
	base := "name: p\nsteps:\n  - id: scan\n    at: PT 16:30\n    action: scan\n    target: all\n"
	for _, tc := range []struct {
		name, follow, want string
	}{
		{"ok defaults", "follow_up: {}\n", ""},
		{"ok full", "follow_up:\n  from: PT+3\n  end_before_next_pt: 5\n  days: every-day\n  working_hours: 07:00-18:00\n  times: [\"09:00\", \"13:00\"]\n  after_hours: \"20:00\"\n  messed_up: {same_error_attempts: 4, over_days: 3}\n", ""},
		{"from too early", "follow_up: {from: PT+1}\n", "before PT+2"},
		{"end range", "follow_up: {end_before_next_pt: 0}\n", "outside 1..20"},
		{"days", "follow_up: {days: sometimes}\n", "neither weekdays nor every-day"},
		{"hours", "follow_up: {working_hours: 17:00-08:00}\n", "not a range"},
		{"time outside hours", "follow_up: {times: [\"07:00\"]}\n", "not in working hours"},
		{"time too late", "follow_up: {times: [\"16:30\"]}\n", "not in working hours"},
		{"times too close", "follow_up: {times: [\"10:00\", \"10:30\"]}\n", "apart"},
		{"no times", "follow_up: {times: []}\n", "has no times"},
		{"after hours in the day", "follow_up: {after_hours: \"12:00\"}\n", "overlaps working hours"},
		{"after hours past midnight", "follow_up: {after_hours: \"23:00\"}\n", "past midnight"},
		{"messed up one attempt", "follow_up: {messed_up: {same_error_attempts: 1}}\n", "outside 2..20"},
		{"messed up one day", "follow_up: {messed_up: {over_days: 1}}\n", "two days"},
		{"unknown key", "follow_up: {often: true}\n", "unknown key"},
		// Patch Tuesdays 4 weeks apart: the follow-up ends at PT+8 (PT+28-20), before it starts.
		{"from after the end", "follow_up: {from: PT+10, end_before_next_pt: 20}\n", "no follow-up day"},
		// PT+18 and PT+19 are a Saturday and a Sunday.
		{"weekend only", "follow_up: {from: PT+18, end_before_next_pt: 9}\n", "no follow-up day"},
		{"weekend, every day", "follow_up: {from: PT+18, end_before_next_pt: 9, days: every-day}\n", ""},
		{"last day", "follow_up: {from: PT+21, end_before_next_pt: 7}\n", ""},
		{"step clash", "follow_up: {}\n", ""},
	} {
		_, probs := Check("p.yaml", []byte(base+tc.follow))
		got := ""
		if len(probs) > 0 {
			got = probs[0].String()
		}
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want %q", tc.name, got, tc.want)
		}
	}
	// A night step named like a follow-up step, or on the follow-up's first day after its
	// first run, is refused.
	for _, text := range []string{
		"name: p\nsteps:\n  - id: follow-up-scan-1040\n    at: PT 16:30\n    action: scan\n    target: all\nfollow_up: {}\n",
		"name: p\nsteps:\n  - id: late\n    at: PT+2 12:00\n    action: report\nfollow_up: {}\n",
		// A plan's own step may not take a follow-up name: the runner treats follow-up-* as the follow-up's.
		"name: p\nsteps:\n  - id: follow-up-extra\n    at: PT 16:00\n    action: report\n",
		// A repeating step whose first run is before the follow-up's, its last after it.
		"name: p\nsteps:\n  - id: watch\n    at: PT+2 08:15\n    action: notify-scan\n    target: scan-behind\n    repeat: {every: 30m, until: PT+2 16:45}\nfollow_up: {}\n",
	} {
		if _, probs := Check("p.yaml", []byte(text)); len(probs) == 0 {
			t.Errorf("accepted:\n%s", text)
		}
	}
	p := mustParse(t, base+"follow_up: {repair_client: true}\n")
	if w := p.Warnings(); len(w) != 1 || !strings.Contains(w[0], "unconfirmed") {
		t.Errorf("repair_client warnings %q", w)
	}
}

func TestMessedUpRule(t *testing.T) {
	t.Parallel()
	loc := time.UTC
	day := func(d, h int) time.Time { return time.Date(2026, 12, d, h, 0, 0, 0, loc) }
	rule := Messed{Attempts: 3, Days: 2}
	for _, tc := range []struct {
		name  string
		codes []int64
		at    []time.Time
		want  bool
	}{
		{"same error three times over two days", []int64{-2016409844, -2016409844, -2016409844}, []time.Time{day(10, 10), day(11, 10), day(12, 10)}, true},
		{"same error three times in one day", []int64{5, 5, 5}, []time.Time{day(10, 9), day(10, 12), day(10, 15)}, false},
		{"same error over one day apart", []int64{5, 5, 5}, []time.Time{day(10, 10), day(10, 15), day(11, 10)}, false},
		// Tried twice a day: the run of the same error spans three days, its last three one.
		{"same error twice a day for three days", []int64{5, 5, 5, 5, 5, 5}, []time.Time{day(10, 10), day(10, 15), day(11, 10), day(11, 15), day(12, 10), day(12, 15)}, true},
		{"a run broken by another error", []int64{5, 5, 6, 5, 5, 5}, []time.Time{day(8, 10), day(9, 10), day(10, 10), day(11, 10), day(11, 15), day(12, 9)}, false},
		{"last error differs", []int64{5, 5, 5, 6}, []time.Time{day(10, 10), day(11, 10), day(12, 10), day(13, 10)}, false},
		{"errors differ", []int64{5, 6, 5}, []time.Time{day(10, 10), day(12, 10), day(14, 10)}, false},
		{"last three agree after an other", []int64{6, 5, 5, 5}, []time.Time{day(9, 10), day(10, 10), day(11, 10), day(12, 10)}, true},
		{"two attempts only", []int64{5, 5}, []time.Time{day(10, 10), day(14, 10)}, false},
		{"no error code", []int64{0, 0, 0}, []time.Time{day(10, 10), day(12, 10), day(14, 10)}, false},
	} {
		if got := rule.IsMessedUp(tc.codes, tc.at, loc); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFollowUpTasks(t *testing.T) {
	t.Parallel()
	p := Default()
	loc := mustLoc(t, "Europe/London")
	ts, err := Tasks(p, TaskOptions{Binary: testBinary, From: Month{2026, time.December}, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, task := range ts.Tasks {
		if !strings.HasPrefix(task.Name, "follow-up-") {
			continue
		}
		found++
		pt := readTask(t, task.XML)
		if len(pt.Triggers.Calendar) != 1 || len(pt.Triggers.Time) != 0 {
			t.Fatalf("%s: triggers %+v", task.Name, pt.Triggers)
		}
		in := string(pt.Triggers.Calendar[0].Inner)
		flat := strings.Join(strings.Fields(in), "")
		if !strings.Contains(flat, "<ScheduleByWeek><WeeksInterval>1</WeeksInterval><DaysOfWeek><Monday></Monday><Tuesday></Tuesday><Wednesday></Wednesday><Thursday></Thursday><Friday></Friday></DaysOfWeek></ScheduleByWeek>") {
			t.Errorf("%s: trigger %s", task.Name, in)
		}
		if strings.Contains(in, "Saturday") || strings.Contains(in, "Sunday") {
			t.Errorf("%s: weekend trigger %s", task.Name, in)
		}
		if task.Arguments != "run "+task.Name {
			t.Errorf("%s: arguments %s", task.Name, task.Arguments)
		}
	}
	if found != len(p.FollowUpSteps()) {
		t.Errorf("%d follow-up tasks, want %d", found, len(p.FollowUpSteps()))
	}
	// With a month: one one-off trigger per follow-up day.
	ts, err = Tasks(p, TaskOptions{Binary: testBinary, Month: Month{2026, time.December}, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range ts.Tasks {
		if task.Name != "follow-up-notice-1030" {
			continue
		}
		pt := readTask(t, task.XML)
		if len(pt.Triggers.Time) != 19 || pt.Triggers.Time[0].StartBoundary != "2026-12-10T10:30:00" || pt.Triggers.Time[18].StartBoundary != "2027-01-05T10:30:00" {
			t.Errorf("one-off triggers %+v", pt.Triggers.Time)
		}
	}
}

func TestFollowUpCalendar(t *testing.T) {
	t.Parallel()
	c := NewCalendar(Default(), Month{2026, time.December}, mustLoc(t, "Europe/London"))
	if len(c.FollowUp) != 7 {
		t.Fatalf("%d follow-up entries, want 7", len(c.FollowUp))
	}
	for _, e := range c.FollowUp {
		if e.Of != 19 || e.Date != "2026-12-10" || !strings.Contains(e.Repeat, "Tue 01-05") {
			t.Errorf("%s: %d days from %s (%s)", e.ID, e.Of, e.Date, e.Repeat)
		}
	}
	if g := c.Grids(); len(g) != 2 || len(g[1].Rows) != 7 {
		t.Errorf("plan show prints %d tables", len(g))
	}
	noFollowUp := *Default()
	noFollowUp.FollowUp = nil
	if c := NewCalendar(&noFollowUp, Month{2026, time.December}, time.UTC); len(c.FollowUp) != 0 || len(c.Grids()) != 1 {
		t.Error("a plan without follow-up shows one")
	}
}

func TestFollowUpMonth(t *testing.T) {
	t.Parallel()
	p := Default()
	loc := mustLoc(t, "Europe/London")
	for _, tc := range []struct {
		now  time.Time
		want Month
		ok   bool
	}{
		{time.Date(2026, 12, 1, 12, 0, 0, 0, loc), Month{2026, time.November}, true}, // November's last follow-up day
		{time.Date(2026, 12, 2, 12, 0, 0, 0, loc), Month{}, false},                   // between the follow-up and the night
		{time.Date(2026, 12, 9, 12, 0, 0, 0, loc), Month{}, false},                   // the day after the night
		{time.Date(2026, 12, 10, 0, 0, 0, 0, loc), Month{2026, time.December}, true},
		{time.Date(2027, 1, 5, 21, 0, 0, 0, loc), Month{2026, time.December}, true},
		{time.Date(2027, 1, 6, 0, 0, 0, 0, loc), Month{}, false},
	} {
		m, ok := FollowUpMonth(p, tc.now, loc)
		if m != tc.want || ok != tc.ok {
			t.Errorf("FollowUpMonth(%s) = %s %v, want %s %v", tc.now, m, ok, tc.want, tc.ok)
		}
	}
	if !p.IsFollowUp("follow-up-scan-1040") || !p.IsFollowUp("follow-up-scan-1040-d06") || p.IsFollowUp("scan-1630") {
		t.Error("IsFollowUp")
	}
	// PT+d falls on the same weekday every month: a weekend day, a day before the follow-up
	// begins or past the latest it can end is no occurrence, and `run` refuses it.
	for _, id := range []string{"follow-up-scan-1040-d04", "follow-up-scan-1040-d05", "follow-up-scan-1040-d01", "follow-up-scan-1040-d29", "follow-up-scan-1040-d99"} {
		if p.IsFollowUp(id) {
			t.Errorf("IsFollowUp(%s) = true", id)
		}
		if _, err := StepFor(p, id, time.Date(2026, 12, 12, 10, 40, 0, 0, loc), loc); exit.Code(err) != exit.Usage {
			t.Errorf("StepFor(%s): %v, want a usage error", id, err)
		}
	}
	if !p.IsFollowUp("follow-up-scan-1040-d28") {
		t.Error("IsFollowUp(d28): a five-week month's follow-up runs until PT+28")
	}
}
