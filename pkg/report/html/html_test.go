package html_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"

	"github.com/patchnight/patchnight/pkg/report"
	phtml "github.com/patchnight/patchnight/pkg/report/html"
	"github.com/patchnight/patchnight/pkg/site"
)

// checkSelfContained asserts what makes the document safe to mail and open offline: no
// script, no event handler, no element that loads anything, and no URL other than the SVG
// namespace.
func checkSelfContained(t *testing.T, doc []byte, root *xhtml.Node) {
	t.Helper()
	walk(root, func(n *xhtml.Node) {
		if n.Type != xhtml.ElementNode {
			return
		}
		switch n.Data {
		case "script", "iframe", "object", "embed", "img", "link", "image", "use", "foreignObject", "base", "form":
			t.Errorf("the document has a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			k := strings.ToLower(a.Key)
			if strings.HasPrefix(k, "on") {
				t.Errorf("<%s> has an event handler %s=%q", n.Data, a.Key, a.Val)
			}
			if k == "src" || k == "href" || k == "xlink:href" || k == "srcset" || k == "action" {
				t.Errorf("<%s> loads %s=%q", n.Data, a.Key, a.Val)
			}
		}
	})
	// The SVG namespace is a name, not a resource: take it out, then look for any URL.
	rest := bytes.ReplaceAll(doc, []byte(`xmlns="http://www.w3.org/2000/svg"`), nil)
	urls := regexp.MustCompile(`(?i)(https?:|ftp://|file://|//[a-z0-9.-]+\.[a-z]{2,}/|url\(\s*['"]?[a-z]+:|@import)`)
	for _, loc := range urls.FindAllIndex(rest, -1) {
		t.Errorf("the document refers to something outside itself: …%s…", rest[max(0, loc[0]-16):min(len(rest), loc[1]+24)])
	}
	if bytes.Contains(doc, []byte("NaN")) || bytes.Contains(doc, []byte("Inf%")) || bytes.Contains(doc, []byte("+Inf")) {
		t.Error("the document holds NaN or an infinity")
	}
}

// svgs cuts the inline <svg> elements out of the document and parses each strictly as XML.
func svgs(t *testing.T, doc []byte) []string {
	t.Helper()
	var out []string
	rest := doc
	for {
		i := bytes.Index(rest, []byte("<svg"))
		if i < 0 {
			return out
		}
		j := bytes.Index(rest[i:], []byte("</svg>"))
		if j < 0 {
			t.Fatal("an <svg> is not closed")
		}
		s := string(rest[i : i+j+len("</svg>")])
		d := xml.NewDecoder(strings.NewReader(s))
		d.Strict = true
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("inline SVG %d is not well-formed: %v", len(out), err)
			}
			if se, ok := tok.(xml.StartElement); ok {
				for _, a := range se.Attr {
					if _, err := strconv.ParseFloat(a.Value, 64); err == nil && (strings.Contains(a.Value, "NaN") || strings.Contains(a.Value, "Inf")) {
						t.Errorf("SVG attribute %s=%q", a.Name.Local, a.Value)
					}
				}
			}
		}
		out = append(out, s)
		rest = rest[i+j:]
	}
}

// rows returns the text of each cell of each body row of the table inside the element id.
func rows(t *testing.T, root *xhtml.Node, id string) [][]string {
	t.Helper()
	sec := byID(root, id)
	if sec == nil {
		t.Fatalf("no element #%s", id)
	}
	var out [][]string
	for _, tb := range elements(sec, "tbody") {
		for _, tr := range elements(tb, "tr") {
			var cells []string
			for _, td := range elements(tr, "td") {
				cells = append(cells, text(td))
			}
			out = append(out, cells)
		}
	}
	return out
}

func TestMorningDocument(t *testing.T) {
	t.Parallel()
	m := sampleMorning(t)
	m.Installs = []report.Count{{Reason: "installed, pending restart", Count: 1756},
		{Reason: "install still running at the step's limit", Count: 192}}
	doc := render(t, m)
	root := parse(t, doc)
	checkSelfContained(t, doc, root)

	if got := text(byID(root, "headline-percent")); got != report.HeadlinePercent(m) || got != "93.4%" {
		t.Errorf("headline percentage %q, want %q", got, report.HeadlinePercent(m))
	}
	body := text(root)
	for _, want := range []string{
		report.Headline(m),
		"Patched on the night: 93.4% of 1,912 eligible machines (benchmark 80%)",
		report.EligibleDefinition,
		"Left out of the denominator: 88 machines (41 inactive client, 29 unhealthy client (client check failed), 18 no client).",
		"1,786", "+13.4 pts", "Needs a person today: 42",
		"20:00 install + restart (nobody logged on)", "2026-12-08 21:37",
		"Install waves, one per machine and wave: 1,756 installed, pending restart; 192 install still running at the step's limit.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("document lacks %q", want)
		}
	}
	if n := len(elements(byID(root, "burn-down"), "circle")); n != 11 { // before + 9 steps + legend
		t.Errorf("burn-down has %d circles, want 11", n)
	}
	charts := svgs(t, doc)
	if len(charts) != 3 {
		t.Fatalf("%d charts, want 3 (burn-down, stopped, updates)", len(charts))
	}
	for i, s := range charts {
		if !strings.Contains(s, "<title") || !strings.Contains(s, "<desc") || !strings.Contains(s, `role="img"`) {
			t.Errorf("chart %d lacks an accessible title or description", i)
		}
	}
	stopped := ""
	for _, c := range charts {
		if strings.Contains(c, `aria-labelledby="stopped-title`) {
			stopped = c
		}
	}
	for _, reason := range m.Stopped {
		if !strings.Contains(stopped, ">"+reason.Reason+"<") {
			t.Errorf("stopped chart lacks %q", reason.Reason)
		}
	}
	// Locations: least patched first, every location, the share written out; with few
	// locations there is no second table under Details.
	if byID(root, "locations") != nil {
		t.Error("8 locations got a second table under Details")
	}
	locs := rows(t, root, "by-location")
	if len(locs) != len(m.ByLocation) {
		t.Fatalf("%d location rows, want %d", len(locs), len(m.ByLocation))
	}
	prev := -1.0
	for _, r := range locs {
		v, err := strconv.ParseFloat(strings.TrimSuffix(r[3], "%"), 64)
		if err != nil || v < prev {
			t.Errorf("location rows are not sorted by share: %q after %.1f", r, prev)
		}
		prev = v
	}
	if locs[0][0] != "Helsinki" || locs[0][3] != "81.9%" {
		t.Errorf("least patched location = %q", locs[0])
	}
	needs := rows(t, root, "needs-person")
	if len(needs) != len(m.NeedsPerson) {
		t.Fatalf("%d needs-person rows, want %d", len(needs), len(m.NeedsPerson))
	}
	h := m.NeedsPerson[1]
	if needs[1][0] != h.Name || needs[1][2] != strings.Join(h.Reasons, "; ") {
		t.Errorf("needs-person row %q, want %s with %q", needs[1], h.Name, h.Reasons)
	}
	// The column counts the notices of this run; an escalation's "after N notices" counts
	// every run's: the header says which.
	if !bytes.Contains(doc, []byte(`<th scope="col" class="num">Notices this run</th>`)) {
		t.Error("the needs-person table's notices column does not say it counts this run's notices")
	}
	if bytes.Contains(doc, []byte("more machines not shown")) {
		t.Error("an uncapped list says it is capped")
	}
	if !bytes.Contains(doc, []byte("@page")) || !bytes.Contains(doc, []byte("size: A4")) || !bytes.Contains(doc, []byte("@media print")) {
		t.Error("the document has no A4 print style")
	}
}

func TestMorningEscapesNames(t *testing.T) {
	t.Parallel()
	m := hostileMorning(t)
	doc := render(t, m)
	if bytes.Contains(bytes.ToLower(doc), []byte("<script")) || bytes.Contains(doc, []byte("<img")) || bytes.Contains(doc, []byte("<b>")) {
		t.Fatal("hostile text reached the document as markup")
	}
	root := parse(t, doc)
	checkSelfContained(t, doc, root)
	svgs(t, doc)
	needs := rows(t, root, "needs-person")
	if needs[0][0] != hostile || needs[0][1] != `Q&A "lab"` || !strings.HasPrefix(needs[0][2], hostile) || needs[0][3] != "<KB>" {
		t.Errorf("hostile names do not read back as text: %q", needs[0])
	}
	body := text(root)
	if !strings.Contains(body, "plan "+hostile) || !strings.Contains(body, "site <b>") {
		t.Error("the run's plan and site do not read back as text")
	}
	if locs := rows(t, root, "by-location"); !containsRow(locs, hostile) {
		t.Error("the hostile location does not read back as text")
	}
}

func containsRow(rows [][]string, cell string) bool {
	for _, r := range rows {
		for _, c := range r {
			if c == cell {
				return true
			}
		}
	}
	return false
}

func TestMorningBadInput(t *testing.T) {
	t.Parallel()
	nanSteps := sampleMorning(t)
	for i := range nanSteps.BurnDown {
		nanSteps.BurnDown[i].PatchedPct = math.NaN()
	}
	nanSteps.PatchedPct = math.Inf(1)
	nanSteps.ByLocation[0].PatchedPct = math.NaN()
	nanSteps.ByUpdate[0].Compliant = math.Inf(-1)

	zeroSteps := emptyMorning()
	zeroSteps.BurnDown = []report.BurnPoint{{Step: "scan-1630", Label: "16:30 scan"}, {Step: "wake-1800"}}
	zeroSteps.ByLocation = []report.GroupShare{{Name: "Empty site"}}
	zeroSteps.Stopped = []report.Count{{Reason: "never woke"}}
	zeroSteps.ByUpdate = []report.UpdateCompliance{{ArticleID: "5071234", Title: "x"}}

	running := sampleMorning(t)
	running.Run.Status = report.RunRunning
	running.Run.Finished = nil

	cases := []struct {
		name string
		m    *report.Morning
		pct  string   // headline percentage
		want []string // texts of the document
	}{
		{"empty journal, no hosts", emptyMorning(), report.NoEligible,
			[]string{"Patched on the night: no eligible machines (benchmark 80%)", "No steps recorded in the journal for this run",
				"Nobody needs a person today.", "No location data for this night.", "Nothing stopped any eligible machine",
				"The night had no eligible machine"}},
		{"failed half-way", failedMorning(t), "59.7%",
			[]string{"This run failed.", "┆ run failed after this step", "(benchmark 80%; run failed)", "patchnight history 12"}},
		{"still running", running, "93.4%", []string{"This night is still running.", "night still running"}},
		{"NaN and infinities", nanSteps, "93.4%", []string{"Burn-down"}},
		{"steps without eligible machines", zeroSteps, report.NoEligible, []string{"16:30", "wake-1800", "Empty site", "never woke"}},
		{"zero value", &report.Morning{}, report.NoEligible, []string{"Patch night", "No steps recorded"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := render(t, tc.m)
			root := parse(t, doc)
			checkSelfContained(t, doc, root)
			svgs(t, doc)
			if got := text(byID(root, "headline-percent")); got != tc.pct || got != report.HeadlinePercent(tc.m) {
				t.Errorf("headline percentage %q, want %q", got, tc.pct)
			}
			body := text(root)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("document lacks %q", w)
				}
			}
		})
	}
	if n := len(elements(byID(parse(t, render(t, failedMorning(t))), "burn-down"), "circle")); n != 7 {
		t.Errorf("failed night's burn-down has %d circles, want 7 (before, 5 steps, legend)", n)
	}
}

func TestNilAndWriteErrors(t *testing.T) {
	t.Parallel()
	if err := phtml.Morning(io.Discard, nil); err == nil {
		t.Error("Morning(nil) gave no error")
	}
	if err := phtml.Compliance(io.Discard, nil); err == nil {
		t.Error("Compliance(nil) gave no error")
	}
	w := failingWriter{}
	err := phtml.Morning(w, sampleMorning(t))
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "write morning") {
		t.Errorf("write error = %v, want it wrapped with context", err)
	}
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

// TestLargeFleetIsCapped renders a 20,000-host night: the lists are capped with a count of
// what is left out and where the full list is, and the file stays small.
func TestLargeFleetIsCapped(t *testing.T) {
	t.Parallel()
	m := bigMorning(20000)
	doc := render(t, m)
	if len(doc) > 2<<20 {
		t.Errorf("20,000-host report is %d bytes, want under 2 MiB", len(doc))
	}
	root := parse(t, doc)
	checkSelfContained(t, doc, root)
	if n := len(rows(t, root, "needs-person")); n != phtml.NeedsPersonLimit {
		t.Errorf("%d needs-person rows, want the cap %d", n, phtml.NeedsPersonLimit)
	}
	left := len(m.NeedsPerson) - phtml.NeedsPersonLimit
	body := text(root)
	want := fmt.Sprintf("… and %d more machines not shown here; the full list: patchnight report morning --output csv", left)
	if !strings.Contains(body, want) {
		t.Errorf("document lacks %q", want)
	}
	if !strings.Contains(body, "Needs a person today: 1,400") {
		t.Error("the heading does not count every machine that needs a person")
	}
	if n := len(rows(t, root, "by-location")); n != phtml.LocationTop {
		t.Errorf("%d location rows beside the chart, want the %d least patched", n, phtml.LocationTop)
	}
	if n := len(rows(t, root, "locations")); n != len(m.ByLocation) {
		t.Errorf("%d location rows under Details, want all %d", n, len(m.ByLocation))
	}
	if !strings.Contains(body, "The 15 least patched of 250 locations; Details below lists them all.") {
		t.Error("the short location table does not say it is a part")
	}

	// Past LocationLimit the Details table is capped as well.
	for i := range 400 {
		m.ByLocation = append(m.ByLocation, report.GroupShare{Name: fmt.Sprintf("site %d", i), Eligible: 10, Patched: 10, PatchedPct: 100})
	}
	root = parse(t, render(t, m))
	if n := len(rows(t, root, "locations")); n != phtml.LocationLimit {
		t.Errorf("%d location rows under Details, want the cap %d", n, phtml.LocationLimit)
	}
	if !strings.Contains(text(root), "… and 350 more better patched locations not shown here") {
		t.Error("the capped location table does not count what it left out")
	}
}

func TestComplianceDocument(t *testing.T) {
	t.Parallel()
	c := sampleCompliance()
	var buf bytes.Buffer
	if err := phtml.Compliance(&buf, c); err != nil {
		t.Fatal(err)
	}
	doc := buf.Bytes()
	root := parse(t, doc)
	checkSelfContained(t, doc, root)
	if n := len(svgs(t, doc)); n != 1 {
		t.Errorf("%d charts, want 1", n)
	}
	if got := text(byID(root, "headline-percent")); got != phtml.CompliancePercent(c) || got != "96.6%" {
		t.Errorf("headline %q, want %q", got, phtml.CompliancePercent(c))
	}
	body := text(root)
	for _, want := range []string{"update group 2026-12 Patch Tuesday in All Workstations (LAB00012)",
		"compliant, over 3 updates × 1,912 client machines in scope", "members of All Workstations (LAB00012)",
		"KB5071234", "Total 3 updates 167 5,363 176 30 96.6%"} {
		if !strings.Contains(body, want) {
			t.Errorf("document lacks %q", want)
		}
	}

	empty := &report.Compliance{Scope: report.Scope{Collection: &site.CollectionRef{ID: "LAB00099", Name: `<i>"Empty"</i> & co`}}}
	buf.Reset()
	if err := phtml.Compliance(&buf, empty); err != nil {
		t.Fatal(err)
	}
	doc = buf.Bytes()
	if bytes.Contains(doc, []byte("<i>")) {
		t.Error("collection name reached the document as markup")
	}
	root = parse(t, doc)
	checkSelfContained(t, doc, root)
	svgs(t, doc)
	if got := text(byID(root, "headline-percent")); got != "no client machines in scope" {
		t.Errorf("empty scope headline %q", got)
	}
	if !strings.Contains(text(root), `in <i>"Empty"</i> & co (LAB00099)`) {
		t.Error("collection name does not read back as text")
	}
}

func TestComplianceCapsLargeScope(t *testing.T) {
	t.Parallel()
	c := &report.Compliance{Clients: 20000}
	for i := range 1500 {
		c.Updates = append(c.Updates, report.UpdateCompliance{ArticleID: strconv.Itoa(4000000 + i), Title: "update " + strconv.Itoa(i),
			Clients: 20000, Installed: int64(20000 - i), Required: int64(i), Compliant: report.ShareOf(int64(20000-i), 20000)})
	}
	var buf bytes.Buffer
	if err := phtml.Compliance(&buf, c); err != nil {
		t.Fatal(err)
	}
	root := parse(t, buf.Bytes())
	if n := len(rows(t, root, "by-update")); n != phtml.UpdateTableLimit {
		t.Errorf("%d update rows, want %d", n, phtml.UpdateTableLimit)
	}
	body := text(root)
	for _, want := range []string{"… and 500 more updates", "the 40 least compliant of 1,500 updates"} {
		if !strings.Contains(body, want) {
			t.Errorf("document lacks %q", want)
		}
	}
	// The chart shows the least compliant: update 1499 is the worst.
	if !strings.Contains(svgs(t, buf.Bytes())[0], ">KB4001499<") {
		t.Error("the chart does not show the least compliant update")
	}
}

// BenchmarkMorning20k renders the morning report of a 20,000-host fleet and reports the
// document's size.
func BenchmarkMorning20k(b *testing.B) {
	m := bigMorning(20000)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := phtml.Morning(&buf, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "html-bytes")
}
