package html

import (
	htmltemplate "html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/chart"
	"github.com/patchnight/patchnight/pkg/report"
)

// fullListHint says where the uncapped lists are.
const fullListHint = "the full list: patchnight report morning --output csv"

// morningPage is what the morning template shows; every figure is formatted here so the
// template only places text.
type morningPage struct {
	CSS        htmltemplate.CSS
	Title      string
	Heading    string
	Meta       []string
	Banner     *banner
	Percent    string // report.HeadlinePercent
	NoShare    bool   // Percent is words, not a share
	Caption    string
	Headline   string // report.Headline
	Definition string
	Excluded   string
	Installs   string // how the install waves' jobs ended
	KPIs       []kv

	BurnLede  string
	BurnSVG   htmltemplate.HTML
	Steps     []stepRow
	StepsMore *more

	UpdatesSVG  htmltemplate.HTML
	Updates     []updateRow
	UpdatesMore *more

	Locations     []locationRow // the least patched, beside the stopped chart
	LocationsNote string        // says when Locations is a part of all locations
	LocationsAll  []locationRow // every location (up to LocationLimit) under Details, when Locations is a part
	Tick          bool          // the table bars carry a benchmark tick
	LocationsMore *more

	StoppedLede string
	StoppedSVG  htmltemplate.HTML
	Stopped     []countRow

	NeedsCount string
	Needs      []needRow
	NeedsMore  *more

	Generated string
}

type stepRow struct {
	Label, At, Hosts, Failed, Patched, Percent, Against string
	Below                                               bool
}

type updateRow struct {
	Article, Title, Required, Installed, NotRequired, Unknown, Compliant string
}

type locationRow struct {
	Name, Eligible, Patched, Percent string
	Bar, Tick                        htmltemplate.CSS // bar width; benchmark tick position ("" = none)
	Below                            bool
}

type countRow struct {
	Reason, Count, Share string
}

type needRow struct {
	Name, Location, Missing, Codes, Notices, LastSeen string
	Reasons                                           []string
}

// Morning writes the morning report m as one self-contained HTML document.
func Morning(w io.Writer, m *report.Morning) error {
	if m == nil {
		return errNoReport
	}
	return execute(w, "morning.tmpl", buildMorning(m))
}

func buildMorning(m *report.Morning) *morningPage {
	p := &morningPage{
		CSS:        htmltemplate.CSS(cssText),
		Percent:    report.HeadlinePercent(m),
		Headline:   report.Headline(m),
		Definition: report.EligibleDefinition,
		Generated:  report.FormatTime(m.Generated),
	}
	r := m.Run
	p.Heading = "Patch night"
	if r.Month != "" {
		p.Heading += " " + r.Month
	}
	if r.Site != "" {
		p.Heading += " · site " + r.Site
	}
	p.Title = "Morning report: " + p.Heading
	if r.ID != 0 {
		p.Meta = append(p.Meta, "run #"+strconv.FormatInt(r.ID, 10))
	}
	if r.Plan != "" {
		p.Meta = append(p.Meta, "plan "+r.Plan)
	}
	if !r.PatchTuesday.IsZero() {
		p.Meta = append(p.Meta, "Patch Tuesday "+r.PatchTuesday.Format("Mon 2 Jan 2006"))
	}
	if !r.Started.IsZero() {
		span := "started " + r.Started.Format("Mon 15:04")
		if r.Finished != nil && !r.Finished.IsZero() {
			span += ", finished " + r.Finished.Format("Mon 15:04")
		}
		p.Meta = append(p.Meta, span)
	}
	if r.Status != "" {
		p.Meta = append(p.Meta, "status: "+r.Status)
	}
	switch r.Status {
	case report.RunFailed:
		p.Banner = &banner{Kind: "failed", Head: "This run failed.",
			Text: "The burn-down shows the steps that finished before it stopped; the other figures are the machines' state when this report was made. Find the failed step with: patchnight history " + strconv.FormatInt(r.ID, 10)}
	case report.RunRunning:
		p.Banner = &banner{Kind: "running", Head: "This night is still running.",
			Text: "The figures are the state so far; run the report again after the last step."}
	}

	if n := len(m.Halts); n > 0 {
		h := m.Halts[n-1]
		text := h.Reason + ". "
		if h.Resumed != nil {
			text += "An operator resumed the night at " + h.Resumed.Format("Mon 15:04") + "."
		} else {
			text += "Every later install and restart step was held; patchnight night --resume continues the night."
		}
		if n > 1 {
			text += " The night halted " + strconv.Itoa(n) + " times: patchnight history " + strconv.FormatInt(r.ID, 10) + " lists them."
		}
		p.Banner = &banner{Kind: "failed", Head: "This night halted in " + h.Step + " at " + h.At.Format("Mon 15:04") + ".", Text: text}
	}

	p.NoShare = m.Eligible <= 0
	if m.Eligible > 0 {
		p.Caption = "patched on the night, of " + report.Thousands(m.Eligible) + " eligible " + plural(m.Eligible, "machine", "machines")
		onNight := m.PatchedPct
		if a := m.AfterNight; a != nil {
			// Built during the follow-up: the share is now's; the benchmark is the night's.
			onNight = a.PatchedPct
			p.Caption = "patched now, with " + strconv.Itoa(a.FollowUpSteps) + " follow-up steps since the night, of " +
				report.Thousands(m.Eligible) + " eligible " + plural(m.Eligible, "machine", "machines")
		}
		p.KPIs = append(p.KPIs,
			kv{Label: "Patched", Value: report.Thousands(m.Patched)},
			kv{Label: "Not patched", Value: report.Thousands(m.Unpatched())},
			kv{Label: "Need a person", Value: report.Thousands(int64(len(m.NeedsPerson)))},
			kv{Label: "Before the night", Value: report.FormatPercent(m.BeforePct)})
		if a := m.AfterNight; a != nil {
			p.KPIs = append(p.KPIs, kv{Label: "At the night's end", Value: report.FormatPercent(a.PatchedPct)})
		}
		if m.Benchmark > 0 {
			p.KPIs = append(p.KPIs, kv{Label: "vs benchmark " + report.FormatBenchmark(m.Benchmark), Value: report.FormatPoints(onNight - m.Benchmark)})
		}
	} else {
		p.Caption = "The night had no eligible machine: nothing to patch and no share to show."
	}
	if len(m.Excluded) > 0 {
		var parts []string
		var total int64
		for _, c := range m.Excluded {
			parts = append(parts, report.Thousands(c.Count)+" "+c.Reason)
			total += c.Count
		}
		p.Excluded = "Left out of the denominator: " + report.Thousands(total) + " " + plural(total, "machine", "machines") +
			" (" + strings.Join(parts, ", ") + ")."
	}

	if len(m.Installs) > 0 {
		var parts []string
		for _, c := range m.Installs {
			parts = append(parts, report.Thousands(c.Count)+" "+c.Reason)
		}
		p.Installs = "Install waves, one per machine and wave: " + strings.Join(parts, "; ") + "."
	}

	p.buildBurn(m)
	p.buildUpdates(m)
	p.buildLocations(m)
	p.buildStopped(m)
	p.buildNeeds(m)
	return p
}

func (p *morningPage) buildBurn(m *report.Morning) {
	bench := ""
	if m.Benchmark > 0 {
		bench = "benchmark " + report.FormatBenchmark(m.Benchmark)
	}
	p.BurnLede = "Patched share of the eligible machines after each step of the night"
	if bench != "" {
		p.BurnLede += ", against the " + bench + " reached on the night by the manual restart method"
	}
	p.BurnLede += "."
	c := chart.Line{
		ID:        "burn",
		Title:     "Burn-down: patched share after each step",
		XAxis:     "Step of the night (planned time)",
		YAxis:     "Patched % of eligible machines",
		Series:    "patched % after the step",
		Reference: m.Benchmark,
		RefLabel:  bench,
		Empty:     "No steps recorded in the journal for this run",
	}
	desc := []string{}
	if len(m.BurnDown) > 0 {
		before := chart.Point{X: "before", X2: "the night", Value: m.BeforePct, Title: "Before the night: " + report.FormatPercent(m.BeforePct)}
		if m.Eligible <= 0 {
			before.Value, before.Label = 0, "-"
		}
		c.Points = append(c.Points, before)
		desc = append(desc, "before the night "+pctText(m.BeforePct, m.Eligible))
		p.Steps = append(p.Steps, stepRow{Label: "before the night", At: report.FormatTime(m.Run.Started),
			Percent: pctText(m.BeforePct, m.Eligible), Against: against(m, m.BeforePct, m.Eligible), Below: m.Eligible > 0 && m.BeforePct < m.Benchmark})
	}
	for i, b := range m.BurnDown {
		label := b.Label
		if label == "" {
			label = b.Step
		}
		x, x2 := splitStep(b)
		pt := chart.Point{X: x, X2: x2, Value: b.PatchedPct, Title: label + ": " + pctText(b.PatchedPct, b.Eligible)}
		if b.Eligible <= 0 {
			pt.Value, pt.Label = 0, "-"
		}
		c.Points = append(c.Points, pt)
		desc = append(desc, label+" "+pctText(b.PatchedPct, b.Eligible))
		if i < StepTableLimit {
			p.Steps = append(p.Steps, stepRow{Label: label, At: report.FormatTime(b.At), Hosts: report.Thousands(b.Hosts),
				Failed: report.Thousands(b.Failed), Patched: report.Thousands(b.Patched), Percent: pctText(b.PatchedPct, b.Eligible),
				Against: against(m, b.PatchedPct, b.Eligible), Below: b.Eligible > 0 && m.Benchmark > 0 && b.PatchedPct < m.Benchmark})
		}
	}
	if n := len(m.BurnDown) - StepTableLimit; n > 0 {
		p.StepsMore = &more{Count: n, What: "steps", Where: "the full list: patchnight report morning --output csv"}
	}
	switch m.Run.Status {
	case report.RunFailed:
		c.EndNote = "run failed after this step"
	case report.RunRunning:
		c.EndNote = "night still running"
	}
	if len(desc) == 0 {
		c.Desc = "No steps were recorded for this run."
	} else {
		c.Desc = "Patched share: " + strings.Join(desc, "; ") + "."
		if bench != "" {
			c.Desc += " The dashed line is the " + bench + "."
		}
	}
	p.BurnSVG = htmltemplate.HTML(c.SVG())
}

func (p *morningPage) buildUpdates(m *report.Morning) {
	ups := leastCompliant(m.ByUpdate, UpdateChartLimit)
	bench := ""
	if m.Benchmark > 0 {
		bench = "benchmark " + report.FormatBenchmark(m.Benchmark)
	}
	c := chart.Bars{
		ID:         "updates",
		Title:      "Compliance by update",
		Desc:       "Share of the eligible machines that have each update installed or do not need it.",
		Percent:    true,
		Reference:  m.Benchmark,
		RefLabel:   bench,
		Axis:       "% of eligible machines with the update installed or not required",
		LabelWidth: 330,
		Empty:      "No update of the night's software update group was found",
	}
	for _, u := range ups {
		c.Bars = append(c.Bars, updateBar(u))
	}
	p.UpdatesSVG = htmltemplate.HTML(c.SVG())
	for i, u := range m.ByUpdate {
		if i >= UpdateTableLimit {
			p.UpdatesMore = &more{Count: len(m.ByUpdate) - i, What: "updates", Where: fullListHint}
			break
		}
		p.Updates = append(p.Updates, updateLine(u))
	}
}

func (p *morningPage) buildLocations(m *report.Morning) {
	var tick htmltemplate.CSS
	if m.Benchmark > 0 && m.Benchmark <= 100 {
		tick = htmltemplate.CSS("left:" + strconv.FormatFloat(math.Round(m.Benchmark*10)/10, 'f', -1, 64) + "%")
		p.Tick = true
	}
	locs := append([]report.GroupShare(nil), m.ByLocation...)
	sort.SliceStable(locs, func(i, j int) bool {
		a, b := locs[i], locs[j]
		// Locations with no eligible machine have no share: they go last.
		if (a.Eligible > 0) != (b.Eligible > 0) {
			return a.Eligible > 0
		}
		if a.PatchedPct != b.PatchedPct {
			return a.PatchedPct < b.PatchedPct
		}
		return a.Name < b.Name
	})
	for i, l := range locs {
		if i >= LocationLimit {
			p.LocationsMore = &more{Count: len(locs) - i, What: "better patched locations", Where: fullListHint}
			break
		}
		row := locationRow{Name: l.Name, Eligible: report.Thousands(l.Eligible), Patched: report.Thousands(l.Patched),
			Percent: pctText(l.PatchedPct, l.Eligible), Bar: barStyle(0), Tick: tick}
		if l.Eligible > 0 {
			row.Bar = barStyle(l.PatchedPct)
			row.Below = m.Benchmark > 0 && l.PatchedPct < m.Benchmark
		}
		p.LocationsAll = append(p.LocationsAll, row)
	}
	if len(locs) <= LocationTop {
		p.Locations, p.LocationsAll = p.LocationsAll, nil
		return
	}
	p.Locations = p.LocationsAll[:LocationTop]
	p.LocationsNote = "The " + strconv.Itoa(LocationTop) + " least patched of " + report.Thousands(int64(len(locs))) +
		" locations; Details below lists them all."
}

func (p *morningPage) buildStopped(m *report.Morning) {
	total := m.StoppedTotal()
	p.StoppedLede = "Each unpatched eligible machine is counted once, under the first reason that applies."
	c := chart.Bars{
		ID:         "stopped",
		Title:      "What stopped the unpatched machines",
		Style:      chart.Hatched,
		Width:      440,
		LabelWidth: 182,
		Empty:      "Nothing stopped any eligible machine",
	}
	var desc []string
	for _, s := range m.Stopped {
		share := pctText(report.ShareOf(s.Count, total), total)
		c.Bars = append(c.Bars, chart.Bar{Label: s.Reason, Value: float64(s.Count),
			Text: report.Thousands(s.Count) + " (" + share + ")", Title: s.Reason + ": " + report.Thousands(s.Count) + " machines"})
		p.Stopped = append(p.Stopped, countRow{Reason: s.Reason, Count: report.Thousands(s.Count), Share: share})
		desc = append(desc, s.Reason+" "+report.Thousands(s.Count))
	}
	c.Desc = "Unpatched machines by what stopped them"
	if len(desc) > 0 {
		c.Desc += ": " + strings.Join(desc, "; ")
	}
	c.Desc += "."
	p.StoppedSVG = htmltemplate.HTML(c.SVG())
}

func (p *morningPage) buildNeeds(m *report.Morning) {
	p.NeedsCount = report.Thousands(int64(len(m.NeedsPerson)))
	for i, h := range m.NeedsPerson {
		if i >= NeedsPersonLimit {
			p.NeedsMore = &more{Count: len(m.NeedsPerson) - i, What: "machines", Where: fullListHint}
			break
		}
		row := needRow{Name: h.Name, Location: h.Location, Reasons: h.Reasons, Missing: strings.Join(h.Missing, ", "),
			Codes: strings.Join(h.ErrorCodes, ", ")}
		if h.Notices > 0 {
			row.Notices = strconv.Itoa(h.Notices)
		}
		if h.LastSeen != nil {
			row.LastSeen = report.FormatTime(*h.LastSeen)
		}
		p.Needs = append(p.Needs, row)
	}
}

// splitStep gives the two x axis lines of a step: its time and a short action word.
func splitStep(b report.BurnPoint) (string, string) {
	label := b.Label
	if label == "" {
		label = b.Step
	}
	x, rest := "", label
	// Labels start with the step's planned time ("20:00 install + restart ..."): that time
	// goes on the first line, the action words on the second. Without one, the time the
	// step finished stands in.
	if f := strings.Fields(label); len(f) > 1 && len(f[0]) == 5 && f[0][2] == ':' {
		x, rest = f[0], strings.Join(f[1:], " ")
	} else if !b.At.IsZero() {
		x = b.At.Format("15:04")
	}
	if x == "" {
		return rest, ""
	}
	if i := strings.IndexAny(rest, "(,"); i > 0 {
		rest = strings.TrimSpace(rest[:i])
	}
	return x, rest
}

func leastCompliant(ups []report.UpdateCompliance, limit int) []report.UpdateCompliance {
	if len(ups) <= limit {
		return ups
	}
	s := append([]report.UpdateCompliance(nil), ups...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Compliant < s[j].Compliant })
	return s[:limit]
}

func updateBar(u report.UpdateCompliance) chart.Bar {
	label := report.Article(u)
	if label == "" {
		label = u.BulletinID
	}
	if label == "" {
		label = "CI " + strconv.FormatInt(u.CIID, 10)
	}
	title := u.Title
	if u.Superseded {
		title += " (superseded)"
	}
	b := chart.Bar{Label: label, Sub: title, Value: u.Compliant, Text: pctText(u.Compliant, u.Clients),
		Title: label + " " + title + ": " + pctText(u.Compliant, u.Clients) + " compliant, " + report.Thousands(u.Required) + " still required"}
	if u.Clients <= 0 {
		b.Value = 0
	}
	return b
}

func updateLine(u report.UpdateCompliance) updateRow {
	title := u.Title
	if u.Superseded {
		title += " (superseded)"
	}
	art := report.Article(u)
	if art == "" {
		art = u.BulletinID
	}
	return updateRow{Article: art, Title: title, Required: report.Thousands(u.Required), Installed: report.Thousands(u.Installed),
		NotRequired: report.Thousands(u.NotRequired), Unknown: report.Thousands(u.Unknown), Compliant: pctText(u.Compliant, u.Clients)}
}

func against(m *report.Morning, v float64, den int64) string {
	if m.Benchmark <= 0 || den <= 0 {
		return ""
	}
	return report.FormatPoints(v - m.Benchmark)
}

func pctText(v float64, den int64) string {
	if den <= 0 {
		return "-"
	}
	return report.FormatPercent(v)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
