package night

import (
	"errors"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func TestParseWhen(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want When
		out  string
	}{
		{"PT 16:30", When{0, 16*60 + 30}, "PT 16:30"},
		{"PT+1 01:00", When{1, 60}, "PT+1 01:00"},
		{"pt+2 9:00", When{2, 9 * 60}, "PT+2 09:00"},
		{"PT-1 23:59", When{-1, 23*60 + 59}, "PT-1 23:59"},
		{"PT+0 00:00", When{0, 0}, "PT 00:00"},
		{"  PT+21   12:05 ", When{21, 12*60 + 5}, "PT+21 12:05"},
		{"PT-6 06:00", When{-6, 360}, "PT-6 06:00"},
	}
	for _, tc := range good {
		w, err := ParseWhen(tc.in)
		if err != nil {
			t.Errorf("ParseWhen(%q): %v", tc.in, err)
			continue
		}
		if w != tc.want || w.String() != tc.out {
			t.Errorf("ParseWhen(%q) = %+v %q, want %+v %q", tc.in, w, w.String(), tc.want, tc.out)
		}
		if back, err := ParseWhen(w.String()); err != nil || back != w {
			t.Errorf("round trip of %q: %+v, %v", tc.in, back, err)
		}
	}
	bad := []string{"", "16:30", "PT", "PT 24:00", "PT 12:60", "PT+ 01:00", "PT+1 1:0", "PT+22 01:00",
		"PT-7 01:00", "PT*1 01:00", "XT 01:00", "PT 01:00 extra", "PT+1a 01:00", "PT 1:000", "PT +1 01:00",
		"PT+100 01:00", "PT 01-00", "PT １:00"}
	for _, in := range bad {
		if _, err := ParseWhen(in); err == nil || !errors.Is(err, ErrWhen) {
			t.Errorf("ParseWhen(%q) = %v, want an ErrWhen error", in, err)
		}
	}
}

// secondTuesday counts Tuesdays the slow way, independently of PatchTuesdayDay.
func secondTuesday(y int, m time.Month) int {
	n := 0
	for d := 1; d <= 14; d++ {
		if time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday() == time.Tuesday {
			n++
			if n == 2 {
				return d
			}
		}
	}
	return -1
}

func TestPatchTuesday(t *testing.T) {
	t.Parallel()
	london := mustLoc(t, "Europe/London")
	cases := []struct {
		month string
		want  string
	}{
		{"2026-12", "2026-12-08"},
		{"2027-03", "2027-03-09"},
		{"2027-09", "2027-09-14"},
		{"2026-10", "2026-10-13"},
		{"2026-11", "2026-11-10"},
		{"2027-02", "2027-02-09"},
		{"2024-10", "2024-10-08"},
	}
	for _, tc := range cases {
		m, err := ParseMonth(tc.month)
		if err != nil {
			t.Fatal(err)
		}
		pt := m.PatchTuesday(london)
		if got := pt.Format("2006-01-02"); got != tc.want || pt.Weekday() != time.Tuesday || pt.Hour() != 0 {
			t.Errorf("%s: Patch Tuesday %s (%s), want %s", tc.month, pt, pt.Weekday(), tc.want)
		}
	}
	for y := 1990; y <= 2100; y++ {
		for mo := time.January; mo <= time.December; mo++ {
			if got, want := (Month{y, mo}).PatchTuesdayDay(), secondTuesday(y, mo); got != want {
				t.Fatalf("%d-%02d: %d, want %d", y, mo, got, want)
			}
		}
	}
}

// PT+1 is the third Wednesday when the month starts on a Wednesday.
func TestPTPlusOneIsNotAlwaysSecondWednesday(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	found := 0
	for y := 2020; y <= 2040; y++ {
		for mo := time.January; mo <= time.December; mo++ {
			m := Month{y, mo}
			at, _ := (When{Day: 1, Minute: 60}).At(m, utc)
			nth := (at.Day()-1)/7 + 1
			first := time.Date(y, mo, 1, 0, 0, 0, 0, utc).Weekday()
			if at.Weekday() != time.Wednesday {
				t.Fatalf("%s: PT+1 is a %s", m, at.Weekday())
			}
			if first == time.Wednesday {
				found++
				if at.Day() != 15 || nth != 3 {
					t.Errorf("%s: 1st is a Wednesday, PT+1 = %s (week %d), want the 15th, third Wednesday", m, at.Format("2006-01-02"), nth)
				}
			} else if nth != 2 {
				t.Errorf("%s: PT+1 = %s is Wednesday number %d, want 2", m, at.Format("2006-01-02"), nth)
			}
		}
	}
	if found == 0 {
		t.Fatal("no month starting on a Wednesday was tried")
	}
	sep, _ := (When{Day: 1, Minute: 60}).At(Month{2027, time.September}, utc)
	if sep.Format("2006-01-02 15:04") != "2027-09-15 01:00" {
		t.Errorf("2027-09 PT+1 01:00 = %s, want 2027-09-15 01:00", sep)
	}
}

// Every offset lands on PT + N calendar days, across month ends, at the written wall time.
func TestOffsetsAcrossMonthEnds(t *testing.T) {
	t.Parallel()
	zones := []*time.Location{time.UTC, mustLoc(t, "Europe/London"), mustLoc(t, "America/New_York"), mustLoc(t, "Australia/Sydney")}
	crossed := 0
	for _, loc := range zones {
		for y := 2024; y <= 2030; y++ {
			for mo := time.January; mo <= time.December; mo++ {
				m := Month{y, mo}
				base := time.Date(y, mo, m.PatchTuesdayDay(), 12, 0, 0, 0, time.UTC)
				for day := MinDay; day <= MaxDay; day++ {
					w := When{Day: day, Minute: 10*60 + 15}
					got, moved := w.At(m, loc)
					want := base.AddDate(0, 0, day)
					lt := got.In(loc)
					if moved || lt.Year() != want.Year() || lt.Month() != want.Month() || lt.Day() != want.Day() || lt.Hour() != 10 || lt.Minute() != 15 {
						t.Fatalf("%s %s in %s = %s, want %s 10:15", m, w, loc, lt, want.Format("2006-01-02"))
					}
					if lt.Month() != mo {
						crossed++
					}
				}
			}
		}
	}
	if crossed == 0 {
		t.Fatal("no offset crossed a month end")
	}
	// PT+21 when Patch Tuesday is the 14th lands in the next month.
	got, _ := (When{Day: 21, Minute: 0}).At(Month{2027, time.September}, time.UTC)
	if got.Format("2006-01-02") != "2027-10-05" {
		t.Errorf("2027-09 PT+21 = %s, want 2027-10-05", got.Format("2006-01-02"))
	}
}

func TestDaylightSavingChanges(t *testing.T) {
	t.Parallel()
	london := mustLoc(t, "Europe/London")
	ny := mustLoc(t, "America/New_York")
	cases := []struct {
		name      string
		loc       *time.Location
		month     Month
		when      string
		wantUTC   string
		wantLocal string
		moved     bool
	}{
		// London springs forward 2027-03-28 01:00 GMT -> 02:00 BST; 2027-03 PT is the 9th, +19 = 28th.
		{"london gap", london, Month{2027, time.March}, "PT+19 01:30", "2027-03-28T01:00:00Z", "02:00 BST", true},
		{"london before gap", london, Month{2027, time.March}, "PT+19 00:30", "2027-03-28T00:30:00Z", "00:30 GMT", false},
		{"london after gap", london, Month{2027, time.March}, "PT+19 03:00", "2027-03-28T02:00:00Z", "03:00 BST", false},
		// New York springs forward 2027-03-14 02:00 EST -> 03:00 EDT; PT 9th + 5.
		{"new york gap", ny, Month{2027, time.March}, "PT+5 02:30", "2027-03-14T07:00:00Z", "03:00 EDT", true},
		{"new york gap start", ny, Month{2027, time.March}, "PT+5 02:00", "2027-03-14T07:00:00Z", "03:00 EDT", true},
		{"new york after gap", ny, Month{2027, time.March}, "PT+5 04:00", "2027-03-14T08:00:00Z", "04:00 EDT", false},
		// New York falls back 2026-11-01 02:00 EDT -> 01:00 EST; 2026-10 PT is the 13th, +19 = Nov 1st.
		{"new york repeated hour", ny, Month{2026, time.October}, "PT+19 01:30", "2026-11-01T05:30:00Z", "01:30 EDT", false},
		{"new york after fall back", ny, Month{2026, time.October}, "PT+19 02:30", "2026-11-01T07:30:00Z", "02:30 EST", false},
		{"new york before fall back", ny, Month{2026, time.October}, "PT+19 00:30", "2026-11-01T04:30:00Z", "00:30 EDT", false},
	}
	for _, tc := range cases {
		w, err := ParseWhen(tc.when)
		if err != nil {
			t.Fatal(err)
		}
		got, moved := w.At(tc.month, tc.loc)
		if got.UTC().Format(time.RFC3339) != tc.wantUTC || got.In(tc.loc).Format("15:04 MST") != tc.wantLocal || moved != tc.moved {
			t.Errorf("%s: %s = %s (%s, moved %v), want %s (%s, moved %v)", tc.name, tc.when,
				got.UTC().Format(time.RFC3339), got.In(tc.loc).Format("15:04 MST"), moved, tc.wantUTC, tc.wantLocal, tc.moved)
		}
	}
	// Wall-clock arithmetic: from 00:00 to 03:00 on the spring-forward day is two real hours,
	// because each time is computed from the calendar, not by adding durations.
	a, _ := (When{19, 0}).At(Month{2027, time.March}, london)
	b, _ := (When{19, 180}).At(Month{2027, time.March}, london)
	if d := b.Sub(a); d != 2*time.Hour {
		t.Errorf("00:00 to 03:00 on 2027-03-28 in London = %s, want 2h", d)
	}
}

func TestNilLocationIsUTC(t *testing.T) {
	t.Parallel()
	got, _ := (When{1, 60}).At(Month{2026, time.December}, nil)
	if got.Location() != time.UTC || got.Format("2006-01-02 15:04") != "2026-12-09 01:00" {
		t.Errorf("nil location: %s", got)
	}
}

func TestParseMonth(t *testing.T) {
	t.Parallel()
	m, err := ParseMonth("2026-12")
	if err != nil || m != (Month{2026, time.December}) || m.String() != "2026-12" {
		t.Fatalf("ParseMonth = %v, %v", m, err)
	}
	if got := m.AddMonths(1); got != (Month{2027, time.January}) {
		t.Errorf("AddMonths(1) = %v", got)
	}
	if got := m.AddMonths(-12); got != (Month{2025, time.December}) {
		t.Errorf("AddMonths(-12) = %v", got)
	}
	for _, bad := range []string{"", "2026-13", "2026-00", "26-12", "2026/12", "2026-1", "abcd-ef", "2026-12-01"} {
		if _, err := ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) accepted", bad)
		} else if exit.Code(err) != exit.Usage {
			t.Errorf("ParseMonth(%q): exit code %d, want %d (bad input)", bad, exit.Code(err), exit.Usage)
		}
	}
}

func TestLoadLocation(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"Mars/Olympus", "../../etc/passwd", "/etc/localtime", `Europe\London`} {
		if _, err := LoadLocation(bad); err == nil {
			t.Errorf("LoadLocation(%q) accepted", bad)
		}
	}
	for _, good := range []string{"", "Local", "UTC", "Europe/London", "America/Chicago"} {
		if _, err := LoadLocation(good); err != nil {
			t.Errorf("LoadLocation(%q): %v", good, err)
		}
	}
}

func FuzzParseWhen(f *testing.F) {
	f.Add("PT 16:30")
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWhen(s)
		if err != nil {
			return
		}
		if w.Day < MinDay || w.Day > MaxDay || w.Minute < 0 || w.Minute >= 24*60 {
			t.Fatalf("ParseWhen(%q) = %+v out of range", s, w)
		}
		back, err := ParseWhen(w.String())
		if err != nil || back != w {
			t.Fatalf("round trip of %q via %q: %+v, %v", s, w.String(), back, err)
		}
	})
}
