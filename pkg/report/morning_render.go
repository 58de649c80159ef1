package report

import (
	"math"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/output"
)

// EligibleDefinition says in words who the morning report's denominator is. Every form of
// the report prints it next to the headline.
const EligibleDefinition = "Eligible machines (the denominator): client machines that are active, " +
	"passed the client health check (reachable and healthy) and are in the plan's target collection. " +
	"Machines left out are listed as excluded and never counted as patched or unpatched."

// NoEligible is what the headline says when the night had no eligible machine, instead of
// a share of zero machines.
const NoEligible = "no eligible machines"

// Run states of MorningRun.Status.
const (
	RunRunning  = "running"
	RunFinished = "finished"
	RunFailed   = "failed"
)

// HeadlinePercent is the patched share of the eligible machines as the reports print it,
// e.g. "93.4%", or "no eligible machines" when the denominator is 0. The text and the HTML
// forms both print exactly this string, so one can be checked against the other.
func HeadlinePercent(m *Morning) string {
	if m == nil || m.Eligible <= 0 {
		return NoEligible
	}
	p := m.PatchedPct
	if math.IsNaN(p) || math.IsInf(p, 0) {
		p = ShareOf(m.Patched, m.Eligible)
	}
	return FormatPercent(p)
}

// Headline is the one line the CLI prints above the morning report, e.g.
// "Patched on the night: 93.4% of 1,912 eligible machines (benchmark 80%)". A night that
// did not finish says so at the end.
func Headline(m *Morning) string {
	var b strings.Builder
	if m != nil {
		for _, h := range m.Halts {
			b.WriteString(h.HaltLine())
			b.WriteString(". ")
		}
	}
	if m != nil && m.AfterNight != nil {
		b.WriteString("Patched now, with the follow-up: ")
	} else {
		b.WriteString("Patched on the night: ")
	}
	b.WriteString(HeadlinePercent(m))
	if m != nil && m.Eligible > 0 {
		b.WriteString(" of ")
		b.WriteString(Thousands(m.Eligible))
		if m.Eligible == 1 {
			b.WriteString(" eligible machine")
		} else {
			b.WriteString(" eligible machines")
		}
	}
	var notes []string
	if m != nil && m.AfterNight != nil {
		notes = append(notes, "on the night "+FormatPercent(m.AfterNight.PatchedPct))
	}
	if m != nil && m.Benchmark > 0 {
		notes = append(notes, "benchmark "+FormatBenchmark(m.Benchmark))
	}
	if m != nil {
		switch m.Run.Status {
		case "", RunFinished:
		case RunRunning:
			notes = append(notes, "night still running")
		default:
			notes = append(notes, "run "+m.Run.Status)
		}
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, "; ") + ")")
	}
	return b.String()
}

// Unpatched is how many eligible machines are not patched (never negative).
func (m *Morning) Unpatched() int64 {
	if m.Eligible <= m.Patched {
		return 0
	}
	return m.Eligible - m.Patched
}

// StoppedTotal sums the Stopped counts.
func (m *Morning) StoppedTotal() int64 {
	var t int64
	for _, c := range m.Stopped {
		t += c.Count
	}
	return t
}

// Grids renders the morning report as six tables: the headline figures, the burn-down per
// step, compliance by update, the share by location, what stopped the unpatched machines,
// and every machine that needs a person (uncapped: this is the full list the HTML form
// points to). JSON marshals Morning itself.
func (m *Morning) Grids() []output.Grid {
	return []output.Grid{m.summaryGrid(), m.burnGrid(), m.updateGrid(), m.locationGrid(),
		m.stoppedGrid(), m.needsGrid()}
}

func (m *Morning) summaryGrid() output.Grid {
	g := output.Grid{Title: Headline(m), Header: []string{"Item", "Value"}}
	add := func(k, v string) { g.Rows = append(g.Rows, []string{k, v}) }
	r := m.Run
	run := "#" + n(r.ID)
	var of []string
	if r.Plan != "" {
		of = append(of, "plan "+r.Plan)
	}
	if r.Site != "" {
		of = append(of, "site "+r.Site)
	}
	if len(of) > 0 {
		run += " (" + strings.Join(of, ", ") + ")"
	}
	add("Run", run)
	month := r.Month
	if !r.PatchTuesday.IsZero() {
		month = strings.TrimSpace(month + " (Patch Tuesday " + r.PatchTuesday.Format("2006-01-02") + ")")
	}
	add("Month", month)
	add("Status", r.Status)
	add("Started", FormatTime(r.Started))
	if r.Finished != nil {
		add("Finished", FormatTime(*r.Finished))
	}
	add("Eligible machines (active, healthy clients in the target collection)", n(m.Eligible))
	add("Patched", n(m.Patched))
	add("Not patched", n(m.Unpatched()))
	add("Patched %", pctOf(m.PatchedPct, m.Eligible))
	add("Patched % before the night", pctOf(m.BeforePct, m.Eligible))
	onNight := m.PatchedPct
	if a := m.AfterNight; a != nil {
		// Built during the follow-up: the figures above are now; the benchmark is the night's.
		onNight = a.PatchedPct
		add("Patched % at the night's end ("+FormatTime(a.At)+")", pctOf(a.PatchedPct, a.Eligible))
		add("Follow-up steps run since", n(int64(a.FollowUpSteps)))
	}
	if m.Benchmark > 0 {
		add("Benchmark (manual restart method, on the night)", FormatBenchmark(m.Benchmark))
		if m.Eligible > 0 {
			add("Against the benchmark", FormatPoints(onNight-m.Benchmark))
		}
	}
	for _, c := range m.Excluded {
		add("Excluded: "+c.Reason, n(c.Count))
	}
	add("Needs a person", n(int64(len(m.NeedsPerson))))
	for _, c := range m.Installs {
		add("Install waves: "+c.Reason, n(c.Count))
	}
	return g
}

func (m *Morning) burnGrid() output.Grid {
	title := "Burn-down: patched share after each step"
	if m.Benchmark > 0 {
		title += " (benchmark " + FormatBenchmark(m.Benchmark) + ")"
	}
	if len(m.BurnDown) == 0 {
		title += ": no steps recorded"
	}
	g := output.Grid{
		Title:   title,
		Header:  []string{"Step", "Finished", "Hosts acted on", "Failed", "Patched", "Eligible", "Patched %", "Against benchmark"},
		Numeric: []bool{false, false, true, true, true, true, true, true},
	}
	against := func(p float64, den int64) string {
		if m.Benchmark <= 0 || den <= 0 {
			return ""
		}
		return FormatPoints(p - m.Benchmark)
	}
	if len(m.BurnDown) > 0 {
		g.Rows = append(g.Rows, []string{"before the night", FormatTime(m.Run.Started), "", "", "", n(m.Eligible),
			pctOf(m.BeforePct, m.Eligible), against(m.BeforePct, m.Eligible)})
	}
	for _, b := range m.BurnDown {
		label := b.Label
		if label == "" {
			label = b.Step
		}
		g.Rows = append(g.Rows, []string{label, FormatTime(b.At), n(b.Hosts), n(b.Failed), n(b.Patched),
			n(b.Eligible), pctOf(b.PatchedPct, b.Eligible), against(b.PatchedPct, b.Eligible)})
	}
	return g
}

func (m *Morning) updateGrid() output.Grid {
	g := output.Grid{
		Title:   "Compliance by update over the eligible machines",
		Header:  []string{"Article", "Bulletin", "Title", "Required", "Installed", "Not required", "Unknown", "Compliant"},
		Numeric: []bool{false, false, false, true, true, true, true, true},
	}
	for _, u := range m.ByUpdate {
		g.Rows = append(g.Rows, []string{Article(u), u.BulletinID, updateTitle(u), n(u.Required), n(u.Installed),
			n(u.NotRequired), n(u.Unknown), pctOf(u.Compliant, u.Clients)})
	}
	return g
}

func (m *Morning) locationGrid() output.Grid {
	g := output.Grid{
		Title:   "Patched share by location",
		Header:  []string{"Location", "Eligible", "Patched", "Patched %"},
		Numeric: []bool{false, true, true, true},
	}
	for _, l := range m.ByLocation {
		g.Rows = append(g.Rows, []string{l.Name, n(l.Eligible), n(l.Patched), pctOf(l.PatchedPct, l.Eligible)})
	}
	return g
}

func (m *Morning) stoppedGrid() output.Grid {
	total := m.StoppedTotal()
	g := output.Grid{
		Title:   "What stopped the " + n(m.Unpatched()) + " unpatched machines (first reason that applies)",
		Header:  []string{"Reason", "Machines", "Share"},
		Numeric: []bool{false, true, true},
	}
	for _, c := range m.Stopped {
		g.Rows = append(g.Rows, []string{c.Reason, n(c.Count), pctOf(ShareOf(c.Count, total), total)})
	}
	if len(m.Stopped) > 0 {
		g.Footer = []string{"Total", n(total), ""}
	}
	return g
}

func (m *Morning) needsGrid() output.Grid {
	g := output.Grid{
		Title:   "Needs a person today: " + n(int64(len(m.NeedsPerson))) + " machines",
		Header:  []string{"Machine", "Location", "Reasons", "Missing updates", "Error codes", "Notices this run", "Last seen"},
		Numeric: []bool{false, false, false, false, false, true, false},
	}
	for _, h := range m.NeedsPerson {
		seen := ""
		if h.LastSeen != nil {
			seen = FormatTime(*h.LastSeen)
		}
		g.Rows = append(g.Rows, []string{h.Name, h.Location, strings.Join(h.Reasons, "; "),
			strings.Join(h.Missing, ", "), strings.Join(h.ErrorCodes, ", "), strconv.Itoa(h.Notices), seen})
	}
	return g
}

// Article is an update's KB number as admins write it ("KB5071234"), or "" when the update
// has none.
func Article(u UpdateCompliance) string {
	if u.ArticleID == "" {
		return ""
	}
	return "KB" + u.ArticleID
}

func updateTitle(u UpdateCompliance) string {
	if u.Superseded {
		return u.Title + " (superseded)"
	}
	return u.Title
}

// pctOf formats a share whose denominator is den: "-" when there is nothing to divide.
func pctOf(v float64, den int64) string {
	if den <= 0 {
		return "-"
	}
	return FormatPercent(v)
}
