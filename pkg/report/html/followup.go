package html

import (
	htmltemplate "html/template"
	"io"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/chart"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
)

// FollowUpLimit caps the rows of each list of the follow-up document; the CSV form of
// `report follow-up` has them all.
const FollowUpLimit = 1000

// FollowUpDay is one day of the follow-up chart: the patched share at the end of day D+Day.
type FollowUpDay struct {
	Day        int
	Date       string // YYYY-MM-DD
	Measured   bool   // false: no figure (before the first measurement, after the last)
	Eligible   int64
	Patched    int64
	PatchedPct float64
}

// FollowUpGroup is one location or machine kind at the last measured day.
type FollowUpGroup struct {
	Name       string
	Eligible   int64
	Patched    int64
	PatchedPct float64
}

// FollowUp is what the follow-up document shows (`patchnight report follow-up -o html`,
// issue 17): the daily patched share D0..D+21 as a line chart, the share by machine kind
// and by location at the last measured day as bars, and the report's tables as they are in
// its table form (the daily figures by location and kind, the machine lists). Package
// runner builds it from its FollowUpReport.
type FollowUp struct {
	Plan, Month, PatchTuesday string
	Days                      []FollowUpDay
	ByKind                    []FollowUpGroup
	ByLocation                []FollowUpGroup
	Note                      string        // about the breakdown: why kinds are unknown
	Tables                    []output.Grid // the report's tables after the daily figures
}

type followUpPage struct {
	CSS      htmltemplate.CSS
	Title    string
	Heading  string
	Meta     []string
	Percent  string
	NoShare  bool
	Caption  string
	LineLede string
	LineSVG  htmltemplate.HTML
	KindSVG  htmltemplate.HTML
	LocSVG   htmltemplate.HTML
	Note     string
	Tables   []followUpTable
}

type followUpTable struct {
	ID     string
	Title  string
	Header []string
	Rows   []followUpRow
	More   *more
}

// followUpRow is a table row; Num marks the cells aligned right.
type followUpRow struct{ Cells []followUpCell }

type followUpCell struct {
	Text string
	Num  bool
}

// FollowUpDocument writes the follow-up report f as one self-contained HTML document.
func FollowUpDocument(w io.Writer, f *FollowUp) error {
	if f == nil {
		return errNoReport
	}
	return execute(w, "followup.tmpl", buildFollowUp(f))
}

func buildFollowUp(f *FollowUp) *followUpPage {
	p := &followUpPage{CSS: htmltemplate.CSS(cssText), Heading: "Follow-up of the night " + f.Month, Note: f.Note,
		Percent: "-", NoShare: true, Caption: "no measurement in the journal yet"}
	p.Title = "Follow-up report: " + p.Heading
	if f.Plan != "" {
		p.Meta = append(p.Meta, "plan "+f.Plan)
	}
	if f.PatchTuesday != "" {
		p.Meta = append(p.Meta, "Patch Tuesday "+f.PatchTuesday)
	}
	c := chart.Line{ID: "followup", Title: "Patched share by day since Patch Tuesday", XAxis: "Day since Patch Tuesday (end of day)",
		YAxis: "Patched % of eligible machines", Series: "patched % at the end of the day",
		Empty: "No measurement in the journal for this month"}
	var desc []string
	for _, d := range f.Days {
		if !d.Measured {
			continue
		}
		label := "D+" + strconv.Itoa(d.Day)
		pt := chart.Point{X: label, X2: shortDate(d.Date), Value: d.PatchedPct, Title: label + " (" + d.Date + "): " + pctText(d.PatchedPct, d.Eligible)}
		if d.Eligible <= 0 {
			pt.Value, pt.Label = 0, "-"
		}
		c.Points = append(c.Points, pt)
		desc = append(desc, label+" "+pctText(d.PatchedPct, d.Eligible))
		p.Percent, p.NoShare = pctText(d.PatchedPct, d.Eligible), d.Eligible <= 0
		p.Caption = report.Thousands(d.Patched) + " of " + report.Thousands(d.Eligible) + " eligible machines patched at the end of " +
			label + " (" + d.Date + ")"
	}
	if len(desc) == 0 {
		c.Desc = "No measurement was recorded for this month."
	} else {
		c.Desc = "Patched share at the end of each day: " + strings.Join(desc, "; ") + "."
	}
	p.LineLede = "Patched share of the eligible machines at the end of each day from Patch Tuesday (D+0) to D+21: " +
		"the last measurement of the day (the night and the follow-up measure after every step). Days without a measurement are left out."
	p.LineSVG = htmltemplate.HTML(c.SVG())
	p.KindSVG = groupBars("kinds", "Patched share by machine kind", f.ByKind)
	p.LocSVG = groupBars("locations", "Patched share by location", f.ByLocation)
	for i, g := range f.Tables {
		t := followUpTable{ID: "list-" + strconv.Itoa(i+1), Title: g.Title, Header: g.Header}
		for k, r := range g.Rows {
			if k == FollowUpLimit {
				t.More = &more{Count: len(g.Rows) - k, What: "rows", Where: "the full list: patchnight report follow-up --output csv"}
				break
			}
			row := followUpRow{}
			for c, v := range r {
				row.Cells = append(row.Cells, followUpCell{Text: v, Num: c < len(g.Numeric) && g.Numeric[c]})
			}
			t.Rows = append(t.Rows, row)
		}
		p.Tables = append(p.Tables, t)
	}
	return p
}

// groupBars draws the groups' shares at the last measured day; nil without groups.
func groupBars(id, title string, gs []FollowUpGroup) htmltemplate.HTML {
	if len(gs) == 0 {
		return ""
	}
	c := chart.Bars{ID: id, Title: title, Percent: true, Axis: "Patched % at the last measured day",
		Width: 440, LabelWidth: 150}
	var desc []string
	for _, g := range gs {
		b := chart.Bar{Label: g.Name, Sub: report.Thousands(g.Patched) + " of " + report.Thousands(g.Eligible),
			Value: g.PatchedPct, Text: pctText(g.PatchedPct, g.Eligible), Title: g.Name + ": " + pctText(g.PatchedPct, g.Eligible)}
		if g.Eligible <= 0 {
			b.Value = 0
		}
		c.Bars = append(c.Bars, b)
		desc = append(desc, g.Name+" "+pctText(g.PatchedPct, g.Eligible))
	}
	c.Desc = title + ": " + strings.Join(desc, "; ") + "."
	return htmltemplate.HTML(c.SVG())
}

// shortDate is "10 Dec" for 2026-12-10; the text itself when it is no date.
func shortDate(s string) string {
	if len(s) != 10 {
		return s
	}
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	m, err1 := strconv.Atoi(s[5:7])
	d, err2 := strconv.Atoi(s[8:10])
	if err1 != nil || err2 != nil || m < 1 || m > 12 {
		return s
	}
	return strconv.Itoa(d) + " " + months[m-1]
}
