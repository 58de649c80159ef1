package html

import (
	htmltemplate "html/template"
	"io"
	"strconv"

	"github.com/patchnight/patchnight/pkg/chart"
	"github.com/patchnight/patchnight/pkg/report"
)

// compliancePage is what the compliance template shows.
type compliancePage struct {
	CSS        htmltemplate.CSS
	Title      string
	Scope      string
	Percent    string
	NoShare    bool
	Caption    string
	Definition string
	KPIs       []kv
	ChartLede  string
	ChartSVG   htmltemplate.HTML
	Updates    []updateRow
	More       *more
	Total      updateRow
}

// Compliance writes the compliance report c as one self-contained HTML document.
func Compliance(w io.Writer, c *report.Compliance) error {
	if c == nil {
		return errNoReport
	}
	return execute(w, "compliance.tmpl", buildCompliance(c))
}

// CompliancePercent is the compliance report's headline figure as the HTML prints it: the
// share of update states that are installed or not required, e.g. "97.1%", or "no client
// machines in scope".
func CompliancePercent(c *report.Compliance) string {
	if c == nil || c.Clients <= 0 {
		return "no client machines in scope"
	}
	if len(c.Updates) == 0 {
		return "no updates in scope"
	}
	return report.FormatPercent(c.Total.Compliant)
}

func buildCompliance(c *report.Compliance) *compliancePage {
	scope := c.Scope.Describe()
	p := &compliancePage{
		CSS:     htmltemplate.CSS(cssText),
		Title:   "Compliance report: " + scope,
		Scope:   scope,
		Percent: CompliancePercent(c),
		Definition: "Client machines in scope (the denominator): active ConfigMgr clients, not obsolete or decommissioned" +
			inCollection(c) + ". Compliant means installed or not required by the machine's last scan; unknown (no current scan) is never compliant.",
	}
	nUpd := int64(len(c.Updates))
	p.NoShare = c.Clients <= 0 || nUpd == 0
	if c.Clients > 0 && nUpd > 0 {
		p.Caption = "compliant, over " + report.Thousands(nUpd) + " " + plural(nUpd, "update", "updates") + " × " +
			report.Thousands(c.Clients) + " client " + plural(c.Clients, "machine", "machines") + " in scope"
	}
	t := c.Total
	p.KPIs = []kv{
		{Label: "Clients in scope", Value: report.Thousands(c.Clients)},
		{Label: "Updates", Value: report.Thousands(nUpd)},
		{Label: "Required", Value: report.Thousands(t.Required)},
		{Label: "Installed", Value: report.Thousands(t.Installed)},
		{Label: "Not required", Value: report.Thousands(t.NotRequired)},
		{Label: "Unknown", Value: report.Thousands(t.Unknown)},
	}
	shown := leastCompliant(c.Updates, UpdateChartLimit)
	p.ChartLede = "Share of the client machines in scope that have each update installed or do not need it"
	if len(shown) < len(c.Updates) {
		p.ChartLede += "; the " + strconv.Itoa(len(shown)) + " least compliant of " + report.Thousands(nUpd) + " updates"
	}
	p.ChartLede += "."
	ch := chart.Bars{
		ID:         "compliance",
		Title:      "Compliance by update",
		Desc:       p.ChartLede,
		Percent:    true,
		Axis:       "% of client machines with the update installed or not required",
		LabelWidth: 330,
		Empty:      "No update in scope",
	}
	for _, u := range shown {
		ch.Bars = append(ch.Bars, updateBar(u))
	}
	p.ChartSVG = htmltemplate.HTML(ch.SVG())
	for i, u := range c.Updates {
		if i >= UpdateTableLimit {
			p.More = &more{Count: len(c.Updates) - i, What: "updates", Where: "the full list: patchnight report compliance --output csv"}
			break
		}
		p.Updates = append(p.Updates, updateLine(u))
	}
	den := t.Required + t.Installed + t.NotRequired + t.Unknown
	p.Total = updateRow{Article: "Total", Title: report.Thousands(nUpd) + " " + plural(nUpd, "update", "updates"),
		Required: report.Thousands(t.Required), Installed: report.Thousands(t.Installed), NotRequired: report.Thousands(t.NotRequired),
		Unknown: report.Thousands(t.Unknown), Compliant: pctText(t.Compliant, den)}
	return p
}

func inCollection(c *report.Compliance) string {
	if c.Scope.Collection == nil {
		return ""
	}
	return ", members of " + c.Scope.Collection.Name + " (" + c.Scope.Collection.ID + ")"
}
