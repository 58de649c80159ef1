package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/site"
)

func loadSampleMorning(t *testing.T) *report.Morning {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "morning-sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m report.Morning
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestHeadline(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		m        *report.Morning
		pct, all string
	}{
		{"sample", &report.Morning{Eligible: 1912, Patched: 1786, PatchedPct: 93.4, Benchmark: 80, Run: report.MorningRun{Status: report.RunFinished}},
			"93.4%", "Patched on the night: 93.4% of 1,912 eligible machines (benchmark 80%)"},
		{"no eligible machine", &report.Morning{Benchmark: 80}, report.NoEligible, "Patched on the night: no eligible machines (benchmark 80%)"},
		{"nil", nil, report.NoEligible, "Patched on the night: no eligible machines"},
		{"one machine, failed run", &report.Morning{Eligible: 1, Patched: 0, Benchmark: 82.5, Run: report.MorningRun{Status: report.RunFailed}},
			"0.0%", "Patched on the night: 0.0% of 1 eligible machine (benchmark 82.5%; run failed)"},
		{"NaN share falls back to the counts", &report.Morning{Eligible: 3, Patched: 2, PatchedPct: math.NaN()},
			"66.7%", "Patched on the night: 66.7% of 3 eligible machines"},
		{"large fleet, running", &report.Morning{Eligible: 1234567, Patched: 1000000, PatchedPct: 81, Benchmark: 80, Run: report.MorningRun{Status: report.RunRunning}},
			"81.0%", "Patched on the night: 81.0% of 1,234,567 eligible machines (benchmark 80%; night still running)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := report.HeadlinePercent(tc.m); got != tc.pct {
				t.Errorf("HeadlinePercent = %q, want %q", got, tc.pct)
			}
			if got := report.Headline(tc.m); got != tc.all {
				t.Errorf("Headline = %q, want %q", got, tc.all)
			}
		})
	}
}

func TestFormatHelpers(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1912: "1,912", 20000: "20,000",
		1234567: "1,234,567", -1234: "-1,234", math.MinInt64: "-9,223,372,036,854,775,808"} {
		if got := report.Thousands(in); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", in, got, want)
		}
	}
	checks := []struct{ got, want string }{
		{report.FormatPercent(93.44), "93.4%"},
		{report.FormatPercent(math.NaN()), "-"},
		{report.FormatPercent(math.Inf(1)), "-"},
		{report.FormatBenchmark(80), "80%"},
		{report.FormatBenchmark(82.54), "82.5%"},
		{report.FormatPoints(13.4), "+13.4 pts"},
		{report.FormatPoints(-77.6), "-77.6 pts"},
		{report.FormatPoints(0), "+0.0 pts"},
		{report.FormatTime(time.Time{}), ""},
		{report.FormatTime(time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)), "2026-12-08 20:00"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: %q, want %q", i, c.got, c.want)
		}
	}
	if report.ShareOf(1, 0) != 0 || report.ShareOf(1, 4) != 25 {
		t.Error("ShareOf")
	}
}

func TestMorningGrids(t *testing.T) {
	t.Parallel()
	m := loadSampleMorning(t)
	g := m.Grids()
	if len(g) != 6 {
		t.Fatalf("%d grids, want 6", len(g))
	}
	for i, grid := range g {
		for _, r := range grid.Rows {
			if len(r) != len(grid.Header) {
				t.Errorf("grid %d (%s): row %q has %d cells for %d columns", i, grid.Title, r, len(r), len(grid.Header))
			}
		}
	}
	if g[0].Title != report.Headline(m) {
		t.Errorf("first grid's title %q is not the headline", g[0].Title)
	}
	summary := map[string]string{}
	for _, r := range g[0].Rows {
		summary[r[0]] = r[1]
	}
	for k, want := range map[string]string{
		"Eligible machines (active, healthy clients in the target collection)": "1912",
		"Patched": "1786", "Not patched": "126", "Patched %": "93.4%", "Patched % before the night": "2.4%",
		"Against the benchmark": "+13.4 pts", "Excluded: no client": "18", "Needs a person": "42", "Status": "finished",
		"Month": "2026-12 (Patch Tuesday 2026-12-08)", "Run": "#12 (plan default (restart method), site LAB)",
	} {
		if summary[k] != want {
			t.Errorf("summary %q = %q, want %q", k, summary[k], want)
		}
	}
	burn := g[1]
	if len(burn.Rows) != len(m.BurnDown)+1 || burn.Rows[0][0] != "before the night" {
		t.Fatalf("burn-down rows: %q", burn.Rows)
	}
	if r := burn.Rows[5]; r[0] != "20:00 install + restart (nobody logged on)" || r[1] != "2026-12-08 21:37" || r[6] != "59.7%" || r[7] != "-20.3 pts" {
		t.Errorf("20:00 row = %q", r)
	}
	if len(g[2].Rows) != len(m.ByUpdate) || g[2].Rows[0][0] != "KB5071234" {
		t.Errorf("update rows: %q", g[2].Rows)
	}
	if len(g[3].Rows) != len(m.ByLocation) {
		t.Errorf("location rows: %q", g[3].Rows)
	}
	stopped := g[4]
	if stopped.Footer[1] != "126" || stopped.Rows[0][0] != "never woke" || stopped.Rows[0][2] != "24.6%" {
		t.Errorf("stopped grid: %q / %q", stopped.Rows, stopped.Footer)
	}
	needs := g[5]
	if len(needs.Rows) != 42 || needs.Rows[1][2] != strings.Join(m.NeedsPerson[1].Reasons, "; ") {
		t.Errorf("needs-person grid: %d rows, first %q", len(needs.Rows), needs.Rows[0])
	}
	// The column counts the notices of this run; an escalation's "after N notices" counts
	// every run's: the header says which.
	if needs.Header[5] != "Notices this run" {
		t.Errorf("needs-person notices column %q, want %q", needs.Header[5], "Notices this run")
	}
}

func TestMorningGridsEdgeCases(t *testing.T) {
	t.Parallel()
	empty := &report.Morning{Benchmark: 80}
	g := empty.Grids()
	if len(g) != 6 {
		t.Fatalf("%d grids", len(g))
	}
	if !strings.HasSuffix(g[1].Title, "no steps recorded") || len(g[1].Rows) != 0 {
		t.Errorf("empty burn-down: %q %q", g[1].Title, g[1].Rows)
	}
	for _, r := range g[0].Rows {
		if strings.Contains(r[1], "NaN") || r[0] == "Against the benchmark" {
			t.Errorf("zero denominator row %q", r)
		}
		if r[0] == "Patched %" && r[1] != "-" {
			t.Errorf("zero denominator share %q, want -", r[1])
		}
	}
	// Points without eligible machines print no share.
	odd := &report.Morning{Eligible: 10, Patched: 12, BurnDown: []report.BurnPoint{{Step: "scan", PatchedPct: math.NaN()}}}
	g = odd.Grids()
	if r := g[1].Rows[1]; r[0] != "scan" || r[6] != "-" {
		t.Errorf("step without eligible machines: %q", r)
	}
	if odd.Unpatched() != 0 {
		t.Errorf("Unpatched() = %d with more patched than eligible", odd.Unpatched())
	}
}

// TestMorningOutputForms writes the sample in every text form through package output.
func TestMorningOutputForms(t *testing.T) {
	t.Parallel()
	m := loadSampleMorning(t)
	m.NeedsPerson[0].Name = `PC|01 <b>`
	for _, f := range []output.Format{output.Table, output.Markdown, output.CSV, output.JSON} {
		var buf bytes.Buffer
		if err := output.Write(&buf, f, m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		s := buf.String()
		switch f {
		case output.Table:
			if !strings.HasPrefix(s, report.Headline(m)+"\n") {
				t.Errorf("table does not start with the headline:\n%.200s", s)
			}
		case output.Markdown:
			if !strings.Contains(s, "**Patched on the night: 93.4% of 1,912 eligible machines (benchmark 80%)**") ||
				!strings.Contains(s, `PC\|01`) {
				t.Errorf("markdown lacks the headline or escaping:\n%.400s", s)
			}
		case output.CSV:
			r := csv.NewReader(strings.NewReader(s))
			r.FieldsPerRecord = -1 // the grids differ in width
			recs, err := r.ReadAll()
			if err != nil {
				t.Fatalf("csv: %v", err)
			}
			names := 0
			for _, rec := range recs {
				if len(rec) == 7 && rec[0] != "Machine" {
					names++
				}
			}
			if names != len(m.NeedsPerson) {
				t.Errorf("csv lists %d machines, want all %d", names, len(m.NeedsPerson))
			}
		case output.JSON:
			var back report.Morning
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			if len(back.BurnDown) != len(m.BurnDown) || back.BurnDown[4].PatchedPct != m.BurnDown[4].PatchedPct ||
				!back.BurnDown[4].At.Equal(m.BurnDown[4].At) {
				t.Error("json burn-down differs")
			}
			if back.PatchedPct != m.PatchedPct || len(back.NeedsPerson) != 42 || back.NeedsPerson[0].Name != `PC|01 <b>` {
				t.Error("json does not round-trip")
			}
		}
	}
}

func TestScopeDescribe(t *testing.T) {
	t.Parallel()
	s := report.Scope{Group: &site.UpdateGroup{Title: "2026-12"}, Collection: &site.CollectionRef{ID: "LAB00012", Name: "All Workstations"}}
	if got := s.Describe(); got != "update group 2026-12 in All Workstations (LAB00012)" {
		t.Errorf("Describe() = %q", got)
	}
}
