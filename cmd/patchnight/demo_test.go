package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"

	"github.com/patchnight/patchnight/internal/browsertest"
	"github.com/patchnight/patchnight/pkg/night"
)

// TestDemoNightAndReportInBrowser runs the whole demo night on a small lab and checks the
// morning report it writes in a real headless Chromium: it renders without console errors
// and carries the headline percentage the text report printed for the same run.
func TestDemoNightAndReportInBrowser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	page := filepath.Join(dir, "m.html")
	out, stderr, code := run(t, nil, "demo", "--hosts", "60", "--concurrency", "16", "--report-html", page)
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Compliance of", "Scan state of", "install-logged-off", "retry-restart-0400",
		"thursday-notice", "The night took", "Burn-down", "Install waves: installed, pending restart"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	m := regexp.MustCompile(`(?m)^Patched on the night: ([0-9.]+%) of ([0-9,]+) eligible machines`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no headline in the demo output:\n%s", out)
	}
	pct := m[1]
	// The headline once, above the report (it is the first table's title), not twice.
	if n := len(regexp.MustCompile(`(?m)^Patched on the night: `).FindAllString(out, -1)); n != 1 {
		t.Errorf("the headline starts %d lines, want 1:\n%s", n, out)
	}
	// The report paths the report step printed are in a folder the demo deletes: it says so.
	if !strings.Contains(out, "temporary folder, deleted when the demo ends") {
		t.Errorf("the demo prints report paths in a folder it deletes without saying so")
	}
	bin, ok := browsertest.Need(t)
	if !ok {
		return
	}
	b := browsertest.Browser{Bin: bin, Dir: dir}
	png := filepath.Join(dir, "m.png")
	b.Run(t, page, "--screenshot="+png)
	browsertest.CheckPNG(t, png)
	dom, _ := b.Run(t, page, "--dump-dom")
	if !bytes.Contains(dom, []byte(pct)) {
		t.Errorf("the rendered report does not show the headline %s", pct)
	}
}

func TestPlanShowDates(t *testing.T) {
	t.Parallel()
	tests := []struct{ month, pt, next string }{
		{"2026-12", "Tue 2026-12-08", "Wed 2026-12-09"},
		{"2027-03", "Tue 2027-03-09", "Wed 2027-03-10"},
		{"2027-09", "Tue 2027-09-14", "Wed 2027-09-15"}, // PT+1 is the third Wednesday
	}
	for _, tc := range tests {
		t.Run(tc.month, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"PATCHNIGHT_TIME_ZONE": "UTC"}
			out, stderr, code := run(t, env, "plan", "show", "--month", tc.month)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, line := range strings.Split(out, "\n") {
				switch {
				case strings.Contains(line, "| scan-1630 "), strings.Contains(line, "| install-logged-on "):
					if !strings.Contains(line, tc.pt) {
						t.Errorf("%s: %q is not on Patch Tuesday %s", tc.month, line, tc.pt)
					}
				case strings.Contains(line, "| retry-restart-0100 "), strings.Contains(line, "| retry-install-0445 "):
					if !strings.Contains(line, tc.next) {
						t.Errorf("%s: %q is not on the following day %s", tc.month, line, tc.next)
					}
				}
			}
			if !strings.Contains(out, "Patch Tuesday "+tc.pt[4:]) {
				t.Errorf("%s: the title does not name Patch Tuesday %s", tc.month, tc.pt)
			}
		})
	}
}

func TestExportTasksXML(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, stderr, code := run(t, nil, "plan", "export-tasks", "--out", dir, "--run-as", `CONTOSO\svc-patch$`); code != 0 {
		t.Fatalf("export-tasks: %s", stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	// One per night occurrence, and one per follow-up step (issue 17: it fires on every
	// follow-up weekday; run's day check skips the other days).
	if want := len(night.Default().Occurrences()) + len(night.Default().FollowUpSteps()); len(files) != want {
		t.Fatalf("%d task files, want one per occurrence and follow-up step: %d", len(files), want)
	}
	dec := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(raw, []byte{0xff, 0xfe}) {
			t.Errorf("%s: no UTF-16LE byte-order mark", f)
		}
		text, err := dec.Bytes(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var task struct {
			XMLName xml.Name
			Actions struct {
				Exec struct {
					Arguments string `xml:"Arguments"`
				} `xml:"Exec"`
			} `xml:"Actions"`
		}
		body := regexp.MustCompile(`^<\?xml[^>]*\?>`).ReplaceAll(text, nil)
		if err := xml.Unmarshal(body, &task); err != nil {
			t.Fatalf("%s is not well-formed XML: %v", f, err)
		}
		if task.XMLName.Space != "http://schemas.microsoft.com/windows/2004/02/mit/task" || task.XMLName.Local != "Task" {
			t.Errorf("%s: root element %v", f, task.XMLName)
		}
		id := strings.TrimSuffix(filepath.Base(f), ".xml")
		if !strings.HasPrefix(task.Actions.Exec.Arguments, "run "+id) {
			t.Errorf("%s: the task runs %q, not run %s", f, task.Actions.Exec.Arguments, id)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "register-tasks.ps1")); err != nil {
		t.Errorf("no registration script: %v", err)
	}
}
