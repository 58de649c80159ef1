package notify

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/output"
)

func TestGridsRender(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 10, 10, 0, 0, 0, time.UTC)
	pass := PassResult{First: true, Pass: journal.WatchPass{ID: 1, At: at, Behind: 3, Online: 2, CameOnline: 2, Noticed: 1, Scanned: 2},
		Hosts: []WatchedHost{{Host: "PC1", Bucket: "behind", Users: []string{`LAB\ann`}, Noticed: true, Scanned: true, Reached: true},
			{Host: "PC2", Bucket: "never", NoticeNote: NobodyLoggedOn, Scanned: true, Reached: true}}}
	var ups []MissingUpdate
	for _, r := range []string{"KB1000001", "KB1000002", "KB1000003", "KB1000004", "MS17-010"} {
		ups = append(ups, MissingUpdate{Ref: r, Told: 1})
	}
	miss := MissingResult{At: at, Threshold: 3, Updates: []string{"group G"}, Notified: 1, Escalated: 1, Collection: "LAB00042",
		Hosts: []MissingHost{{Host: "PC1", Outcome: OutcomeNotified, Users: []string{`LAB\ann`}, Updates: ups, Escalated: []string{"KB1000009"}, Note: "also escalated: KB1000009"}}}
	esc := at.Add(24 * time.Hour)
	list := EscalationList{Threshold: 3, Escalations: []Escalation{{Host: "PC1", Users: []string{`LAB\ann`}, Escalated: true, EscalatedAt: &esc,
		Updates: []EscalatedUpdate{{Ref: "KB1000009", Title: "Update, \"quoted\"", Notices: 3, StillMissing: true, EnforcementState: 11, Error: "0x80070643"}}}}}
	for _, v := range []output.Tabular{pass, miss, list} {
		for _, f := range []output.Format{output.Table, output.CSV, output.JSON, output.Markdown} {
			var b bytes.Buffer
			if err := output.Write(&b, f, v); err != nil {
				t.Fatalf("%T as %s: %v", v, f, err)
			}
			if !strings.Contains(b.String(), "PC1") {
				t.Errorf("%T as %s lacks the host:\n%s", v, f, b.String())
			}
		}
	}
	var b bytes.Buffer
	output.Write(&b, output.Table, miss)
	if !strings.Contains(b.String(), "+2 more") || strings.Contains(b.String(), "MS17-010") {
		t.Errorf("long update lists are not shortened:\n%s", b.String())
	}
	b.Reset()
	output.Write(&b, output.CSV, list)
	if !strings.Contains(b.String(), `"Update, ""quoted"""`) || !strings.Contains(b.String(), "0x80070643") {
		t.Errorf("escalations CSV:\n%s", b.String())
	}
}
