package html_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/internal/browsertest"
	"github.com/patchnight/patchnight/pkg/output"
	phtml "github.com/patchnight/patchnight/pkg/report/html"
)

// sampleFollowUp is a follow-up of two weeks: measured D+0..D+15, a location named with
// markup, kinds, a note and two tables.
func sampleFollowUp(name string) *phtml.FollowUp {
	f := &phtml.FollowUp{Plan: "restart-method", Month: "2026-12", PatchTuesday: "2026-12-08",
		Note: "the site lacks v_GS_SYSTEM_ENCLOSURE, needed to tell laptops from desktops: run patchnight doctor"}
	for d := 0; d <= 21; d++ {
		day := phtml.FollowUpDay{Day: d, Date: fmt.Sprintf("2026-12-%02d", 8+d)}
		if d <= 15 {
			day.Measured, day.Eligible = true, 284
			day.Patched = min(284, 200+int64(d)*5)
			day.PatchedPct = float64(int(1000*float64(day.Patched)/284)) / 10
		}
		f.Days = append(f.Days, day)
	}
	f.ByKind = []phtml.FollowUpGroup{{Name: "virtual", Eligible: 20, Patched: 20, PatchedPct: 100}, {Name: "unknown", Eligible: 264, Patched: 250, PatchedPct: 94.7}}
	f.ByLocation = []phtml.FollowUpGroup{{Name: name, Eligible: 200, Patched: 190, PatchedPct: 95}, {Name: "(no AD site)", Eligible: 84, Patched: 80, PatchedPct: 95.2}}
	f.Tables = []output.Grid{
		{Title: "Patched share by day and location (AD site)", Header: []string{"Day", "Date", name + " (200)"}, Rows: [][]string{{"D+0", "2026-12-08", "70.4%"}}},
		{Title: "Messed-up machines (1): the same install error again and again", Header: []string{"Host", "Error"}, Rows: [][]string{{name, "0x80070643"}}},
	}
	return f
}

// TestFollowUpDocument: the follow-up document (issue 17) is self-contained, draws the
// daily share as a line chart and the breakdown as bars, keeps names as text, and says so
// when nothing was measured.
func TestFollowUpDocument(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		doc      *phtml.FollowUp
		charts   int
		headline string
		want     []string
	}{
		{"two weeks", sampleFollowUp("London"), 3, "96.8%", []string{"D+15", "275 of 284 eligible machines patched at the end of D+15",
			"the site lacks v_GS_SYSTEM_ENCLOSURE", "Messed-up machines (1)", "0x80070643", "By machine kind", "London"}},
		{"hostile names", sampleFollowUp(hostile), 3, "96.8%", []string{hostile}},
		{"nothing measured", &phtml.FollowUp{Month: "2027-01"}, 1, "-", []string{"No measurement in the journal for this month",
			"No breakdown by machine kind in the journal."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := phtml.FollowUpDocument(&buf, tc.doc); err != nil {
				t.Fatal(err)
			}
			doc := buf.Bytes()
			root := parse(t, doc)
			checkSelfContained(t, doc, root)
			if n := len(svgs(t, doc)); n != tc.charts {
				t.Errorf("%d charts, want %d", n, tc.charts)
			}
			if byID(root, "by-day") == nil || len(elements(byID(root, "by-day"), "svg")) != 1 {
				t.Error("no line chart in #by-day")
			}
			if got := text(byID(root, "headline-percent")); got != tc.headline {
				t.Errorf("headline %q, want %q", got, tc.headline)
			}
			body := text(root)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("document lacks %q", w)
				}
			}
		})
	}
	if err := phtml.FollowUpDocument(&bytes.Buffer{}, nil); err == nil {
		t.Error("a nil report rendered")
	}
}

// TestBrowserFollowUpReport loads the follow-up document in Chromium: no console message,
// the line chart and the breakdown laid out, hostile names kept as text.
func TestBrowserFollowUpReport(t *testing.T) {
	bin, ok := browsertest.Need(t)
	if !ok {
		return
	}
	dir := t.TempDir()
	b := browsertest.Browser{Bin: bin, Dir: dir}
	for _, name := range []string{"London", hostile} {
		page := filepath.Join(dir, "followup.html")
		writeFile(t, page, func(f *os.File) error { return phtml.FollowUpDocument(f, sampleFollowUp(name)) })
		dom, _ := b.Run(t, page, "--dump-dom") // fails on any console message
		root := parse(t, dom)
		if s := elements(root, "script"); len(s) > 0 {
			t.Errorf("%s: the rendered DOM has %d script elements", name, len(s))
		}
		chart := byID(root, "by-day")
		if chart == nil || len(elements(chart, "svg")) != 1 || len(elements(chart, "polyline"))+len(elements(chart, "path")) == 0 {
			t.Errorf("%s: the rendered page has no line chart in #by-day", name)
		}
		if n := len(elements(root, "svg")); n != 3 {
			t.Errorf("%s: %d svg charts, want 3", name, n)
		}
		if got := text(byID(root, "headline-percent")); got != "96.8%" {
			t.Errorf("%s: rendered headline %q", name, got)
		}
		if !strings.Contains(text(root), name) {
			t.Errorf("rendered text lacks %q", name)
		}
	}
	shot := filepath.Join(dir, "followup.png")
	b.Run(t, filepath.Join(dir, "followup.html"), "--screenshot="+shot)
	browsertest.CheckPNG(t, shot)
}
