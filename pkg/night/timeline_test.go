package night

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
)

func mustParse(t *testing.T, text string) *Plan {
	t.Helper()
	p, err := Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func TestRepeatExpansion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		repeat string
		want   []string
	}{
		{"{every: 3h, until: PT+1 05:00}", []string{"r-0100", "r-0400"}},
		{"{every: 3h, until: PT+1 04:00}", []string{"r-0100", "r-0400"}},
		{"{every: 2h, until: PT+1 05:00}", []string{"r-0100", "r-0300", "r-0500"}},
		{"{every: 3h, until: PT+1 01:00}", []string{"r-0100"}},
		{"{every: 45m, until: PT+1 03:00}", []string{"r-0100", "r-0145", "r-0230"}},
	}
	for _, tc := range cases {
		p := mustParse(t, plan("  - id: r\n    at: PT+1 01:00\n    action: restart\n    target: all\n    limit: 15m\n    repeat: "+tc.repeat+"\n"))
		var got []string
		for _, o := range p.Occurrences() {
			got = append(got, o.ID)
			if o.StepID != "r" || o.Count != len(tc.want) {
				t.Errorf("%s: occurrence %+v", tc.repeat, o)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("repeat %s: %v, want %v", tc.repeat, got, tc.want)
		}
	}
	// A series that crosses midnight keeps its wall-clock times on the next day.
	p := mustParse(t, plan("  - id: w\n    at: PT 22:00\n    action: scan\n    target: all\n    limit: 20m\n    repeat: {every: 2h, until: PT+1 02:00}\n"))
	var at []string
	for _, o := range p.Occurrences() {
		at = append(at, o.ID+"@"+o.At.String())
	}
	if got := strings.Join(at, ","); got != "w-2200@PT 22:00,w-0000@PT+1 00:00,w-0200@PT+1 02:00" {
		t.Errorf("series over midnight: %s", got)
	}
}

func TestTimelineAcceptanceMonths(t *testing.T) {
	t.Parallel()
	p := Default()
	loc := mustLoc(t, "Europe/London")
	for _, tc := range []struct {
		month, pt, next string
	}{{"2026-12", "2026-12-08", "2026-12-09"}, {"2027-03", "2027-03-09", "2027-03-10"}} {
		m, _ := ParseMonth(tc.month)
		tl := Timeline(p, m, loc)
		if len(tl) == 0 {
			t.Fatal("empty timeline")
		}
		retry := 0
		for i, o := range tl {
			if i > 0 && o.Time.Before(tl[i-1].Time) {
				t.Errorf("%s: %s before %s", tc.month, o.ID, tl[i-1].ID)
			}
			lt := o.Time.In(loc)
			date := lt.Format("2006-01-02")
			switch o.At.Day {
			case 0:
				if date != tc.pt {
					t.Errorf("%s: %s on %s, want %s", tc.month, o.ID, date, tc.pt)
				}
			case 1:
				if date != tc.next {
					t.Errorf("%s: %s on %s, want %s", tc.month, o.ID, date, tc.next)
				}
			}
			if strings.HasPrefix(o.StepID, "retry-") {
				retry++
				if date != tc.next || lt.Hour() < 1 || lt.Hour() > 5 {
					t.Errorf("%s: %s at %s, want between 01:00 and 05:00 on %s", tc.month, o.ID, lt, tc.next)
				}
			}
			if lt.Format("15:04") != o.At.Clock() {
				t.Errorf("%s: %s at %s, written %s", tc.month, o.ID, lt.Format("15:04"), o.At)
			}
		}
		if retry != 6 {
			t.Errorf("%s: %d retry occurrences, want 6 (restart, scan, install at 01:xx and 04:xx)", tc.month, retry)
		}
		cal := NewCalendar(p, m, loc)
		if cal.PatchTuesday != tc.pt {
			t.Errorf("calendar Patch Tuesday %s, want %s", cal.PatchTuesday, tc.pt)
		}
		var buf bytes.Buffer
		if err := output.Write(&buf, output.Table, cal); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "Patch Tuesday "+tc.pt) || !strings.Contains(buf.String(), "retry-restart-0400") {
			t.Errorf("table lacks the date or a step:\n%s", buf.String())
		}
		buf.Reset()
		if err := output.Write(&buf, output.JSON, cal); err != nil {
			t.Fatal(err)
		}
		var back struct {
			PatchTuesday string `json:"patch_tuesday"`
			Steps        []struct {
				ID    string    `json:"id"`
				At    string    `json:"at"`
				Start time.Time `json:"start"`
			} `json:"steps"`
		}
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
			t.Fatalf("json: %v", err)
		}
		if back.PatchTuesday != tc.pt || len(back.Steps) != len(tl) || back.Steps[0].At != "PT 16:00" || !back.Steps[0].Start.Equal(tl[0].Time) {
			t.Errorf("json = %+v", back)
		}
	}
}

func TestCalendarNotesDaylightSavingGap(t *testing.T) {
	t.Parallel()
	p := mustParse(t, plan("  - id: early\n    at: PT+19 01:30\n    action: report\n"))
	cal := NewCalendar(p, Month{2027, time.March}, mustLoc(t, "Europe/London"))
	e := cal.Steps[0]
	if e.Clock != "02:00" || e.Date != "2027-03-28" || !strings.Contains(e.Note, "01:30 does not exist") {
		t.Errorf("entry = %+v", e)
	}
}

func TestStepFor(t *testing.T) {
	t.Parallel()
	p := Default()
	loc := mustLoc(t, "Europe/London")
	at := func(s string) time.Time {
		tt, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	cases := []struct {
		id, now  string
		due      bool
		early    bool
		occ      string
		reason   string
		nextDate string
	}{
		{"scan-1630", "2026-12-08 16:30", true, false, "scan-1630", "running scan-1630", ""},
		{"scan-1630", "2026-12-08 17:10", true, false, "scan-1630", "running scan-1630", ""},
		{"scan-1630", "2026-12-08 15:00", true, true, "scan-1630", "ahead of its time", ""},
		{"scan-1630", "2026-12-09 16:30", false, false, "scan-1630", "not due today (Wed 2026-12-09", "2027-01-12"},
		{"scan-1630", "2026-12-01 16:30", false, false, "scan-1630", "not due today", "2026-12-08"},
		{"retry-restart", "2026-12-09 04:00", true, false, "retry-restart-0400", "running retry-restart-0400", ""},
		{"retry-restart", "2026-12-09 03:59", true, false, "retry-restart-0400", "", ""}, // 2 minutes' tolerance
		{"retry-restart", "2026-12-09 02:10", true, false, "retry-restart-0100", "", ""},
		{"retry-restart", "2026-12-09 00:30", true, true, "retry-restart-0100", "ahead of its time", ""},
		{"retry-restart-0400", "2026-12-09 04:00", true, false, "retry-restart-0400", "", ""},
		{"retry-restart-0400", "2026-12-16 04:00", false, false, "retry-restart-0400", "not due today", "2027-01-13"},
		// 2027-09: the 1st is a Wednesday, PT+1 is the 15th (the third Wednesday).
		{"install-prompt", "2027-09-08 10:00", false, false, "install-prompt", "not due today", "2027-09-15"},
		{"install-prompt", "2027-09-15 10:00", true, false, "install-prompt", "", ""},
		{"thursday-notice", "2027-09-16 10:00", true, false, "thursday-notice", "", ""},
	}
	for _, tc := range cases {
		d, err := StepFor(p, tc.id, at(tc.now), loc)
		if err != nil {
			t.Fatalf("%s at %s: %v", tc.id, tc.now, err)
		}
		if d.Due != tc.due || d.Early != tc.early || d.Occurrence.ID != tc.occ || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s at %s: due %v early %v occ %s reason %q; want due %v early %v occ %s reason ~%q",
				tc.id, tc.now, d.Due, d.Early, d.Occurrence.ID, d.Reason, tc.due, tc.early, tc.occ, tc.reason)
		}
		if tc.nextDate != "" && d.Occurrence.Time.In(loc).Format("2006-01-02") != tc.nextDate {
			t.Errorf("%s at %s: next run %s, want %s", tc.id, tc.now, d.Occurrence.Time, tc.nextDate)
		}
		if d.Due && !d.Occurrence.Time.IsZero() && d.Occurrence.Month.IsZero() {
			t.Errorf("%s: due occurrence has no month", tc.id)
		}
		if strings.Contains(d.Reason, "\n") {
			t.Errorf("reason is not one line: %q", d.Reason)
		}
	}
	if _, err := StepFor(p, "no-such-step", at("2026-12-08 16:30"), loc); exit.Code(err) != exit.Usage {
		t.Errorf("unknown step: %v", err)
	}
}

// A step at PT+21 reaches into the next month; on that date the day check finds it in the
// previous month's night.
func TestStepForAcrossMonthEnd(t *testing.T) {
	t.Parallel()
	p := mustParse(t, plan("  - id: late\n    at: PT+21 09:00\n    action: report\n"))
	now := time.Date(2027, time.October, 5, 9, 0, 0, 0, time.UTC) // 2027-09 PT is the 14th
	d, err := StepFor(p, "late", now, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Due || d.Occurrence.Month != (Month{2027, time.September}) {
		t.Errorf("decision %+v, want due in the 2027-09 night", d)
	}
}

func TestDueNextAndNightMonth(t *testing.T) {
	t.Parallel()
	p := Default()
	loc := mustLoc(t, "Europe/London")
	m := Month{2026, time.December}
	tl := Timeline(p, m, loc)
	now := time.Date(2026, 12, 8, 20, 30, 0, 0, loc)
	due := Due(tl, now)
	if len(due) != 6 || due[len(due)-1].ID != "install-logged-off" {
		t.Errorf("due at 20:30: %d, last %s", len(due), due[len(due)-1].ID)
	}
	next, ok := Next(tl, now)
	if !ok || next.ID != "install-logged-on" {
		t.Errorf("next = %s, %v", next.ID, ok)
	}
	if _, ok := Next(tl, time.Date(2026, 12, 31, 0, 0, 0, 0, loc)); ok {
		t.Error("next after the night")
	}
	noFollowUp := *p
	noFollowUp.FollowUp = nil
	for _, tc := range []struct {
		plan *Plan
		now  time.Time
		want Month
	}{
		{&noFollowUp, time.Date(2026, 12, 1, 0, 0, 0, 0, loc), Month{2026, time.December}},
		{&noFollowUp, time.Date(2026, 12, 9, 3, 0, 0, 0, loc), Month{2026, time.December}},
		{&noFollowUp, time.Date(2026, 12, 20, 0, 0, 0, 0, loc), Month{2027, time.January}},
		// The follow-up does not move the night: NightMonth is the next night during it
		// (FollowUpMonth is the follow-up's month, for run of a follow-up step).
		{p, time.Date(2026, 12, 1, 12, 0, 0, 0, loc), Month{2026, time.December}},
		{p, time.Date(2026, 12, 20, 0, 0, 0, 0, loc), Month{2027, time.January}},
	} {
		if got := NightMonth(tc.plan, tc.now, loc); got != tc.want {
			t.Errorf("NightMonth(%s, follow-up %v) = %s, want %s", tc.now, tc.plan.FollowUp != nil, got, tc.want)
		}
	}
	late := mustParse(t, plan("  - id: late\n    at: PT+21 09:00\n    action: report\n"))
	if got := NightMonth(late, time.Date(2027, 10, 2, 0, 0, 0, 0, time.UTC), time.UTC); got != (Month{2027, time.September}) {
		t.Errorf("NightMonth while a PT+21 step is pending = %s", got)
	}
}
