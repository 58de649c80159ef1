package runner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report/html"
)

// NoLocation is how the report names machines without an AD site.
const NoLocation = "(no AD site)"

// FollowUpShare is one group's patched share at the end of one day: the same measurement
// as the day's overall figure (FollowUpDay), split. Measured is false before the first
// measurement, after the journal's last, and for a measurement with no breakdown (taken by
// a patchnight from before the breakdown).
type FollowUpShare struct {
	Day        int     `json:"day"`
	Measured   bool    `json:"measured"`
	Eligible   int64   `json:"eligible"`
	Patched    int64   `json:"patched"`
	PatchedPct float64 `json:"patched_pct"`
}

// FollowUpSeries is one location's or one machine kind's share by day, D0..D+21.
type FollowUpSeries struct {
	Name string          `json:"name"`
	Days []FollowUpShare `json:"days"`
}

// followUpBreakdown fills rep.ByLocation, rep.ByKind and rep.BreakdownNote from the
// breakdowns the journal holds for the measurements the days use (metrics sorted by time,
// as BuildFollowUp picks them), so that every day's groups add up to the day's figure.
func (r *Runner) followUpBreakdown(ctx context.Context, rep *FollowUpReport, metrics []journal.Metric) error {
	rep.ByLocation, rep.ByKind = []FollowUpSeries{}, []FollowUpSeries{}
	if len(metrics) == 0 {
		return nil
	}
	bds, err := r.Env.Journal.Breakdowns(ctx, r.run.ID)
	if err != nil {
		return err
	}
	type dayGroups struct {
		ok     bool
		groups map[string]journal.Group // dim + "\x00" + name
	}
	days := make([]dayGroups, len(rep.Days))
	names := map[string]map[string]bool{journal.DimLocation: {}, journal.DimKind: {}}
	var notes []string
	missing := false
	for i, d := range rep.Days {
		if !d.Measured {
			continue
		}
		y, mo, dd := r.Month.Date(d.Day)
		end := time.Date(y, mo, dd+1, 0, 0, 0, 0, r.Loc)
		var used *journal.Metric
		for k := range metrics {
			if !metrics[k].At.Before(end) {
				break
			}
			used = &metrics[k]
		}
		if used == nil {
			continue
		}
		b, ok := bds[used.Step]
		if !ok {
			missing = true
			continue
		}
		days[i] = dayGroups{ok: true, groups: map[string]journal.Group{}}
		for _, g := range b.Groups {
			days[i].groups[g.Dim+"\x00"+g.Name] = g
			if names[g.Dim] != nil {
				names[g.Dim][g.Name] = true
			}
		}
		if b.Note != "" && !slices.Contains(notes, b.Note) {
			notes = append(notes, b.Note)
		}
	}
	if missing {
		notes = append(notes, "measurements taken before the breakdown was recorded (an older patchnight) have none: those days show -")
	}
	rep.BreakdownNote = strings.Join(notes, "; ")
	series := func(dim, name string) FollowUpSeries {
		s := FollowUpSeries{Name: name, Days: []FollowUpShare{}}
		if dim == journal.DimLocation && name == "" {
			s.Name = NoLocation
		}
		for i, d := range rep.Days {
			sh := FollowUpShare{Day: d.Day}
			if days[i].ok {
				g := days[i].groups[dim+"\x00"+name]
				sh.Measured, sh.Eligible, sh.Patched = true, g.Eligible, g.Patched
				if g.Eligible > 0 {
					sh.PatchedPct = math.Round(1000*float64(g.Patched)/float64(g.Eligible)) / 10
				}
			}
			s.Days = append(s.Days, sh)
		}
		return s
	}
	locs := make([]string, 0, len(names[journal.DimLocation]))
	for n := range names[journal.DimLocation] {
		locs = append(locs, n)
	}
	sort.Slice(locs, func(i, k int) bool { return strings.ToUpper(locs[i]) < strings.ToUpper(locs[k]) })
	for _, n := range locs {
		rep.ByLocation = append(rep.ByLocation, series(journal.DimLocation, n))
	}
	for _, k := range KindNames() {
		if names[journal.DimKind][k] {
			rep.ByKind = append(rep.ByKind, series(journal.DimKind, k))
		}
	}
	return nil
}

// breakdownGrids are the share by day of each location and of each machine kind: one
// column per group, headed with its eligible machines at the last measured day.
func (f *FollowUpReport) breakdownGrids() []output.Grid {
	var out []output.Grid
	for _, part := range []struct {
		what   string
		series []FollowUpSeries
	}{{"location (AD site)", f.ByLocation}, {"machine kind", f.ByKind}} {
		if len(part.series) == 0 {
			continue
		}
		title := "Patched share by day and " + part.what
		if part.what == "machine kind" && f.BreakdownNote != "" {
			title += " (" + f.BreakdownNote + ")"
		}
		g := output.Grid{Title: title, Header: []string{"Day", "Date"}}
		for _, s := range part.series {
			g.Header = append(g.Header, fmt.Sprintf("%s (%d)", s.Name, lastEligible(s)))
		}
		for i, d := range f.Days {
			row := []string{fmt.Sprintf("D+%d", d.Day), d.Date}
			for _, s := range part.series {
				cell := "-"
				if i < len(s.Days) && s.Days[i].Measured && s.Days[i].Eligible > 0 {
					cell = fmt.Sprintf("%.1f%%", s.Days[i].PatchedPct)
				}
				row = append(row, cell)
			}
			g.Rows = append(g.Rows, row)
		}
		out = append(out, g)
	}
	return out
}

// lastEligible is a series' eligible machines at its last measured day.
func lastEligible(s FollowUpSeries) int64 {
	for i := len(s.Days) - 1; i >= 0; i-- {
		if s.Days[i].Measured {
			return s.Days[i].Eligible
		}
	}
	return 0
}

// HTMLDocument is the report as package html draws it: the daily share as a line chart,
// the share by machine kind and by location at the last measured day, and every table of
// the report after the daily figures (the breakdown by day and the machine lists).
func (f *FollowUpReport) HTMLDocument() *html.FollowUp {
	doc := &html.FollowUp{Plan: f.Plan, Month: f.Month, PatchTuesday: f.PatchTuesday, Note: f.BreakdownNote}
	for _, d := range f.Days {
		doc.Days = append(doc.Days, html.FollowUpDay{Day: d.Day, Date: d.Date, Measured: d.Measured, Eligible: d.Eligible,
			Patched: d.Patched, PatchedPct: d.PatchedPct})
	}
	last := func(ss []FollowUpSeries) []html.FollowUpGroup {
		var out []html.FollowUpGroup
		for _, s := range ss {
			for i := len(s.Days) - 1; i >= 0; i-- {
				if d := s.Days[i]; d.Measured {
					out = append(out, html.FollowUpGroup{Name: s.Name, Eligible: d.Eligible, Patched: d.Patched, PatchedPct: d.PatchedPct})
					break
				}
			}
		}
		return out
	}
	doc.ByKind, doc.ByLocation = last(f.ByKind), last(f.ByLocation)
	if g := f.Grids(); len(g) > 1 {
		doc.Tables = g[1:]
	}
	return doc
}
