package html_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	xhtml "golang.org/x/net/html"

	"github.com/patchnight/patchnight/pkg/report"
	phtml "github.com/patchnight/patchnight/pkg/report/html"
	"github.com/patchnight/patchnight/pkg/site"
)

// sampleMorning is the realistic demo-sized night kept in the report package's testdata
// (2,000 lab hosts, 1,912 eligible, the default plan).
func sampleMorning(t testing.TB) *report.Morning {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "morning-sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m report.Morning
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("morning-sample.json: %v", err)
	}
	return &m
}

// failedMorning is the sample night stopped after its fifth step.
func failedMorning(t testing.TB) *report.Morning {
	m := sampleMorning(t)
	m.Run.Status = report.RunFailed
	m.Run.Finished = nil
	m.BurnDown = m.BurnDown[:5]
	last := m.BurnDown[4]
	m.Patched, m.PatchedPct = last.Patched, last.PatchedPct
	return m
}

// emptyMorning is a run whose journal holds no step and whose target had no eligible
// machine: the zero denominator.
func emptyMorning() *report.Morning {
	return &report.Morning{
		Run:       report.MorningRun{ID: 3, Plan: "default", Month: "2027-01", Status: report.RunFinished, Site: "LAB"},
		Generated: time.Date(2027, 1, 13, 9, 30, 0, 0, time.UTC),
		Benchmark: 80,
	}
}

// hostile is text with every character HTML treats specially.
const hostile = `<script>alert("x")</script> & 'quoted' "double" </td><img src=x onerror=alert(1)>`

// hostileMorning puts hostile text into every string a site database or plan can supply.
func hostileMorning(t testing.TB) *report.Morning {
	m := sampleMorning(t)
	m.Run.Plan = hostile
	m.Run.Site = "<b>"
	m.Excluded = append(m.Excluded, report.Count{Reason: hostile, Count: 1})
	m.BurnDown[3].Label = hostile
	m.ByUpdate[0].Title = hostile
	m.ByUpdate[1].ArticleID = `1"><script>`
	m.ByLocation[0].Name = hostile
	m.Stopped[0].Reason = hostile
	m.NeedsPerson[0].Name = hostile
	m.NeedsPerson[0].Location = `Q&A "lab"`
	m.NeedsPerson[0].Reasons = []string{hostile, "told 4 times"}
	m.NeedsPerson[0].Missing = []string{"<KB>"}
	return m
}

// bigMorning is a night of a fleet of hosts machines with realistic shares: about 7% of
// them need a person, spread over 250 subnets and 40 updates.
func bigMorning(hosts int) *report.Morning {
	m := &report.Morning{
		Run: report.MorningRun{ID: 99, Plan: "default", Month: "2026-12", Status: report.RunFinished, Site: "BIG",
			PatchTuesday: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), Started: time.Date(2026, 12, 8, 16, 0, 0, 0, time.UTC)},
		Generated: time.Date(2026, 12, 9, 9, 45, 0, 0, time.UTC),
		Eligible:  int64(hosts),
		Benchmark: 80,
		BeforePct: 2.1,
	}
	m.Patched = int64(float64(hosts) * 0.913)
	m.PatchedPct = report.ShareOf(m.Patched, m.Eligible)
	for i, share := range []float64{2.1, 2.1, 2.2, 2.5, 58, 77, 85, 89, 91.3} {
		at := m.Run.Started.Add(time.Duration(i) * 2 * time.Hour)
		m.BurnDown = append(m.BurnDown, report.BurnPoint{Step: fmt.Sprintf("step-%d", i), Label: at.Format("15:04") + " step",
			At: at, Eligible: m.Eligible, Patched: int64(share * float64(hosts) / 100), PatchedPct: share, Hosts: int64(hosts), Failed: int64(hosts / 50)})
	}
	for u := range 40 {
		req := int64(hosts / (20 + u))
		m.ByUpdate = append(m.ByUpdate, report.UpdateCompliance{CIID: int64(16800000 + u), ArticleID: fmt.Sprint(5071000 + u),
			Title: fmt.Sprintf("2026-12 Update %d for Windows (KB%d)", u, 5071000+u), Required: req, Installed: int64(hosts) - req,
			Clients: int64(hosts), Compliant: report.ShareOf(int64(hosts)-req, int64(hosts))})
	}
	per := hosts / 250
	for s := range 250 {
		p := int64(float64(per) * (0.8 + 0.2*math.Sin(float64(s))*math.Sin(float64(s))))
		m.ByLocation = append(m.ByLocation, report.GroupShare{Name: fmt.Sprintf("10.%d.%d.0/24", s/200, s%200), Eligible: int64(per),
			Patched: p, PatchedPct: report.ShareOf(p, int64(per))})
	}
	m.Stopped = []report.Count{{Reason: "never woke", Count: int64(hosts / 40)}, {Reason: "install failed 0x80070643", Count: int64(hosts / 90)}}
	seen := time.Date(2026, 12, 8, 18, 0, 0, 0, time.UTC)
	for i := range hosts * 7 / 100 {
		m.NeedsPerson = append(m.NeedsPerson, report.HostIssue{Name: fmt.Sprintf("DT-%05d", i), Location: fmt.Sprintf("10.0.%d.0/24", i%200),
			Reasons: []string{"install failed 0x80070643", "retries exhausted (3 of 3)"}, Missing: []string{"KB5071234", "KB5071310"},
			ErrorCodes: []string{"0x80070643"}, Notices: 2, LastSeen: &seen})
	}
	return m
}

// render renders m and fails the test on error.
func render(t testing.TB, m *report.Morning) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := phtml.Morning(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parse parses an HTML document.
func parse(t testing.TB, doc []byte) *xhtml.Node {
	t.Helper()
	n, err := xhtml.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("parse html: %v", err)
	}
	return n
}

// walk calls f for every node under n, depth first.
func walk(n *xhtml.Node, f func(*xhtml.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

// byID finds the element with the id.
func byID(root *xhtml.Node, id string) *xhtml.Node {
	var found *xhtml.Node
	walk(root, func(n *xhtml.Node) {
		if found == nil && n.Type == xhtml.ElementNode && attr(n, "id") == id {
			found = n
		}
	})
	return found
}

func attr(n *xhtml.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text is the text content of n (like DOM textContent), with runs of white space folded.
func text(n *xhtml.Node) string {
	var b strings.Builder
	walk(n, func(c *xhtml.Node) {
		if c.Type == xhtml.TextNode {
			b.WriteString(c.Data)
			b.WriteByte(' ')
		}
	})
	return strings.Join(strings.Fields(b.String()), " ")
}

// elements lists the elements named tag (in the HTML or SVG namespace).
func elements(root *xhtml.Node, tag string) []*xhtml.Node {
	var out []*xhtml.Node
	walk(root, func(n *xhtml.Node) {
		if n.Type == xhtml.ElementNode && n.Data == tag {
			out = append(out, n)
		}
	})
	return out
}

// sampleCompliance is a compliance report of the sample night's update group.
func sampleCompliance() *report.Compliance {
	c := &report.Compliance{
		Scope: report.Scope{Collection: &site.CollectionRef{ID: "LAB00012", Name: "All Workstations", Members: 1912},
			Group: &site.UpdateGroup{CIID: 16819400, Title: "2026-12 Patch Tuesday", Updates: 3}},
		Clients: 1912,
	}
	for i, u := range []struct {
		art, title                 string
		req, inst, notReq, unknown int64
	}{
		{"5071234", "2026-12 Cumulative Update for Windows 11 Version 24H2 for x64-based Systems (KB5071234)", 97, 1761, 44, 10},
		{"5071310", "2026-12 Cumulative Update for .NET Framework 3.5 and 4.8.1 (KB5071310)", 58, 1712, 132, 10},
		{"890830", "Windows Malicious Software Removal Tool x64 - v5.136 (KB890830)", 12, 1890, 0, 10},
	} {
		uc := report.UpdateCompliance{CIID: int64(16819411 + i), ArticleID: u.art, Title: u.title, Required: u.req,
			Installed: u.inst, NotRequired: u.notReq, Unknown: u.unknown, Clients: 1912}
		uc.Compliant = report.ShareOf(u.inst+u.notReq, 1912)
		c.Updates = append(c.Updates, uc)
		c.Total.Required += u.req
		c.Total.Installed += u.inst
		c.Total.NotRequired += u.notReq
		c.Total.Unknown += u.unknown
	}
	t := c.Total
	c.Total.Compliant = report.ShareOf(t.Installed+t.NotRequired, t.Required+t.Installed+t.NotRequired+t.Unknown)
	return c
}
