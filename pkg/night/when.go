package night

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Offsets a step may have, in days from Patch Tuesday. The range is 28 days wide, so the
// nights of two consecutive months never overlap (Patch Tuesdays are 28 or 35 days apart):
// any calendar date belongs to at most one month's plan, which is what the day check of
// `patchnight run` relies on.
const (
	MinDay = -6
	MaxDay = 21
)

// When is a time relative to Patch Tuesday, written `PT 16:30`, `PT+1 01:00` or `PT-1 09:00`:
// a day offset from Patch Tuesday and a wall-clock time of day in the site's time zone.
type When struct {
	Day    int // days after Patch Tuesday (MinDay..MaxDay); 0 is Patch Tuesday itself
	Minute int // minutes after midnight on that day, 0..1439
}

// ErrWhen is wrapped by every ParseWhen error.
var ErrWhen = errors.New("not a plan time")

// ParseWhen parses `PT HH:MM`, `PT+N HH:MM` or `PT-N HH:MM` (case-insensitive, hours may
// have one digit, one or more spaces between the parts).
func ParseWhen(s string) (When, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return When{}, fmt.Errorf("%w: %q: write PT 16:30, PT+1 01:00 or PT-1 09:00", ErrWhen, s)
	}
	day, err := parseDay(fields[0])
	if err != nil {
		return When{}, fmt.Errorf("%w: %q: %v", ErrWhen, s, err)
	}
	minute, err := parseClock(fields[1])
	if err != nil {
		return When{}, fmt.Errorf("%w: %q: %v", ErrWhen, s, err)
	}
	return When{Day: day, Minute: minute}, nil
}

func parseDay(s string) (int, error) {
	if len(s) < 2 || !strings.EqualFold(s[:2], "PT") {
		return 0, errors.New("the day must start with PT (Patch Tuesday)")
	}
	rest := s[2:]
	if rest == "" {
		return 0, nil
	}
	sign := 1
	switch rest[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return 0, errors.New("write the day as PT, PT+N or PT-N")
	}
	digits := rest[1:]
	if digits == "" || len(digits) > 2 || !allDigits(digits) {
		return 0, errors.New("the day offset must be a number of days, e.g. PT+1")
	}
	n, _ := strconv.Atoi(digits)
	d := sign * n
	if d < MinDay || d > MaxDay {
		return 0, fmt.Errorf("the day offset must be from PT%d to PT+%d", MinDay, MaxDay)
	}
	return d, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || !allDigits(h) || !allDigits(m) {
		return 0, errors.New("the time must be HH:MM on a 24-hour clock")
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	if hh > 23 || mm > 59 {
		return 0, errors.New("the time must be from 00:00 to 23:59")
	}
	return hh*60 + mm, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// String writes the canonical form: `PT 16:30`, `PT+1 01:00`, `PT-1 09:00`.
func (w When) String() string {
	day := "PT"
	switch {
	case w.Day > 0:
		day = fmt.Sprintf("PT+%d", w.Day)
	case w.Day < 0:
		day = fmt.Sprintf("PT%d", w.Day)
	}
	return fmt.Sprintf("%s %s", day, w.Clock())
}

// Clock is the time of day, HH:MM.
func (w When) Clock() string { return fmt.Sprintf("%02d:%02d", w.Minute/60, w.Minute%60) }

// Compare orders two plan times: -1, 0 or +1.
func (w When) Compare(o When) int {
	a, b := w.minutes(), o.minutes()
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (w When) minutes() int { return w.Day*24*60 + w.Minute }

// add moves the plan time by d on the wall clock (whole minutes), carrying into days.
func (w When) add(d time.Duration) When {
	total := w.minutes() + int(d/time.Minute)
	day := total / (24 * 60)
	rem := total % (24 * 60)
	if rem < 0 {
		rem += 24 * 60
		day--
	}
	return When{Day: day, Minute: rem}
}

// sub is the wall-clock distance from o to w.
func (w When) sub(o When) time.Duration {
	return time.Duration(w.minutes()-o.minutes()) * time.Minute
}

// MarshalText writes the canonical form (for JSON).
func (w When) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText parses the plan time syntax.
func (w *When) UnmarshalText(b []byte) error {
	v, err := ParseWhen(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// Month is a calendar month, the unit of a patch night: each month has one Patch Tuesday
// and one run of the plan.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth parses YYYY-MM.
func ParseMonth(s string) (Month, error) {
	y, m, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok || len(y) != 4 || len(m) != 2 || !allDigits(y) || !allDigits(m) {
		return Month{}, exit.Usagef("write it as YYYY-MM, e.g. 2026-12", "month %q is not valid", s)
	}
	yy, _ := strconv.Atoi(y)
	mm, _ := strconv.Atoi(m)
	if mm < 1 || mm > 12 || yy < 1900 {
		return Month{}, exit.Usagef("write it as YYYY-MM, e.g. 2026-12", "month %q is not valid", s)
	}
	return Month{Year: yy, Month: time.Month(mm)}, nil
}

// MonthOf is the month of t's date in t's location.
func MonthOf(t time.Time) Month { return Month{Year: t.Year(), Month: t.Month()} }

// String writes YYYY-MM.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// IsZero reports whether m is the zero Month.
func (m Month) IsZero() bool { return m.Year == 0 && m.Month == 0 }

// AddMonths returns the month n months later (n may be negative).
func (m Month) AddMonths(n int) Month {
	t := time.Date(m.Year, m.Month+time.Month(n), 1, 12, 0, 0, 0, time.UTC)
	return Month{Year: t.Year(), Month: t.Month()}
}

// MarshalText writes YYYY-MM (for JSON).
func (m Month) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses YYYY-MM.
func (m *Month) UnmarshalText(b []byte) error {
	v, err := ParseMonth(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// PatchTuesdayDay is the day of the month of the month's second Tuesday (8 to 14). The
// calendar does not depend on the time zone; only the instants do.
func (m Month) PatchTuesdayDay() int {
	first := time.Date(m.Year, m.Month, 1, 12, 0, 0, 0, time.UTC).Weekday()
	firstTuesday := 1 + (int(time.Tuesday)-int(first)+7)%7
	return firstTuesday + 7
}

// PatchTuesday is midnight at the start of the month's second Tuesday in loc (or the first
// instant of that day, should midnight fall in a daylight-saving gap).
func (m Month) PatchTuesday(loc *time.Location) time.Time {
	t, _ := wallTime(m.Year, m.Month, m.PatchTuesdayDay(), 0, 0, loc)
	return t
}

// Date is the calendar date of plan day offset `day` in month m: year, month, day.
// Offsets past the month's end carry into the next month.
func (m Month) Date(day int) (int, time.Month, int) {
	t := time.Date(m.Year, m.Month, m.PatchTuesdayDay()+day, 12, 0, 0, 0, time.UTC)
	return t.Year(), t.Month(), t.Day()
}

// At is the instant of plan time w in month m in loc, and whether the wall-clock time did not
// exist that day (a daylight-saving gap) and the instant was moved; see wallTime.
func (w When) At(m Month, loc *time.Location) (time.Time, bool) {
	y, mo, d := m.Date(w.Day)
	return wallTime(y, mo, d, w.Minute/60, w.Minute%60, loc)
}

// wallTime is the instant at which clocks in loc show the given date and time.
//
// Daylight-saving rules, chosen to match what an admin reads in the plan:
//   - A time that happens twice (clocks go back, e.g. 01:30 on 2026-11-01 in New York) runs
//     at its first occurrence (the earlier instant, still on summer time).
//   - A time that does not exist (clocks go forward, e.g. 01:30 on 2027-03-28 in London or
//     02:30 on 2027-03-14 in New York) runs at the first instant after the gap, which clocks
//     show as the end of the gap (02:00 BST in London, 03:00 EDT in New York); moved is true.
//
// Every time is computed from the calendar date and the wall clock with the zone's rules,
// never by adding 24-hour days, so steps stay at their written local times across changes.
func wallTime(y int, mo time.Month, d, h, mi int, loc *time.Location) (time.Time, bool) {
	if loc == nil {
		loc = time.UTC
	}
	naive := time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
	want := naive.Unix()
	localUnix := func(t time.Time) int64 {
		_, off := t.In(loc).Zone()
		return t.Unix() + int64(off)
	}
	// Offsets in force around that day: a transition is at most one per day in every zone.
	offsets := map[int]bool{}
	for _, probe := range []time.Duration{-36 * time.Hour, -12 * time.Hour, 0, 12 * time.Hour, 36 * time.Hour} {
		_, off := naive.Add(probe).In(loc).Zone()
		offsets[off] = true
	}
	var best time.Time
	found := false
	minOff, maxOff := 0, 0
	first := true
	for off := range offsets {
		if first || off < minOff {
			minOff = off
		}
		if first || off > maxOff {
			maxOff = off
		}
		first = false
		t := time.Unix(want-int64(off), 0).In(loc)
		if localUnix(t) == want && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	if found {
		return best, false
	}
	// A gap: find the first instant whose local wall clock is at or after the wanted one.
	lo, hi := want-int64(maxOff), want-int64(minOff)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if localUnix(time.Unix(mid, 0)) >= want {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return time.Unix(lo, 0).In(loc), true
}
