package report

import (
	"math"
	"strconv"
	"time"
)

// This file holds the small formatting helpers that the text forms (Grids) and the HTML
// renderer share, so that every form prints the same figures the same way.

// Thousands formats n with a comma between groups of three digits: 1912 → "1,912".
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := 0; i < len(s); i++ {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// FormatPercent formats a share already in percent with one decimal: 93.4 → "93.4%".
// NaN and infinities (which only a broken producer could give) print as "-".
func FormatPercent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

// FormatBenchmark formats a benchmark share without a needless decimal: 80 → "80%",
// 82.5 → "82.5%".
func FormatBenchmark(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + "%"
}

// FormatPoints formats the difference of two shares in percentage points with a sign:
// "+13.4 pts", "-2.0 pts".
func FormatPoints(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	v = math.Round(v*10) / 10
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if v >= 0 {
		s = "+" + s
	}
	return s + " pts"
}

// FormatTime formats a report time in its own location as "2026-12-08 20:00"; the zero
// time is "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02 15:04")
}

// Describe says in words what a compliance scope covers, e.g. "update group 2026-12 in
// All Workstations (PN100012)".
func (s Scope) Describe() string { return s.describe() }

// ShareOf returns 100·num/den, or 0 when den is 0: a share that never divides by zero.
func ShareOf(num, den int64) float64 {
	if den <= 0 {
		return 0
	}
	return 100 * float64(num) / float64(den)
}
