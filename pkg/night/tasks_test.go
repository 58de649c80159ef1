package night

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/pwsh"
)

const testBinary = `C:\Program Files\patchnight\patchnight.exe`

// parsedTask is what the tests read back from a task file.
type parsedTask struct {
	XMLName          xml.Name
	Version          string `xml:"version,attr"`
	RegistrationInfo struct {
		URI string `xml:"URI"`
	}
	Triggers struct {
		Calendar []struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"CalendarTrigger"`
		Time []struct {
			StartBoundary string `xml:"StartBoundary"`
		} `xml:"TimeTrigger"`
	}
	Principals struct {
		Principal struct {
			ID        string `xml:"id,attr"`
			UserID    string `xml:"UserId"`
			LogonType string `xml:"LogonType"`
			RunLevel  string `xml:"RunLevel"`
		}
	}
	Settings struct {
		MultipleInstancesPolicy    string
		DisallowStartIfOnBatteries bool
		StartWhenAvailable         bool
		ExecutionTimeLimit         string
	}
	Actions struct {
		Context string `xml:"Context,attr"`
		Exec    struct {
			Command   string
			Arguments string
		}
	}
}

func readTask(t *testing.T, b []byte) parsedTask {
	t.Helper()
	if !bytes.HasPrefix(b, []byte{0xff, 0xfe, '<', 0}) {
		t.Fatalf("task file starts with % x, want ff fe 3c 00", b[:min(4, len(b))])
	}
	text, err := DecodeTaskXML(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, `<?xml version="1.0" encoding="UTF-16"?>`) {
		t.Fatalf("declaration: %.60q", text)
	}
	dec := xml.NewDecoder(strings.NewReader(text))
	// The text is already decoded; the declaration still says UTF-16.
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		if !strings.EqualFold(label, "UTF-16") {
			return nil, fmt.Errorf("unexpected encoding %q", label)
		}
		return r, nil
	}
	var pt parsedTask
	if err := dec.Decode(&pt); err != nil {
		t.Fatalf("parse task xml: %v\n%s", err, text)
	}
	if pt.XMLName.Space != TaskNamespace || pt.XMLName.Local != "Task" || pt.Version != "1.2" {
		t.Fatalf("root %v version %s", pt.XMLName, pt.Version)
	}
	return pt
}

// childOrder lists the element names directly inside a fragment.
func childOrder(t *testing.T, inner []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(inner))
	var names []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				names = append(names, v.Name.Local)
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

func TestExportTasksDefaultPlan(t *testing.T) {
	t.Parallel()
	p := Default()
	dir := t.TempDir()
	loc := mustLoc(t, "Europe/London")
	ts, err := ExportTasks(p, TaskOptions{Binary: testBinary, Profile: "prod", RunAs: `CONTOSO\patchnight$`, From: Month{2026, time.December}, Location: loc}, dir)
	if err != nil {
		t.Fatal(err)
	}
	occ := p.Occurrences()
	entries, _ := os.ReadDir(dir)
	var xmls []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".xml") {
			xmls = append(xmls, e.Name())
		}
	}
	// One task per night occurrence, and one per follow-up step (it fires every follow-up day).
	if n := len(occ) + len(p.FollowUpSteps()); len(xmls) != n || len(ts.Tasks) != n {
		t.Fatalf("%d files, %d tasks for %d occurrences and %d follow-up steps", len(xmls), len(ts.Tasks), len(occ), len(p.FollowUpSteps()))
	}
	for _, o := range occ {
		b, err := os.ReadFile(filepath.Join(dir, o.ID+".xml"))
		if err != nil {
			t.Fatalf("task file for %s: %v", o.ID, err)
		}
		pt := readTask(t, b)
		if pt.RegistrationInfo.URI != `\patchnight\`+o.ID {
			t.Errorf("%s: URI %s", o.ID, pt.RegistrationInfo.URI)
		}
		pr := pt.Principals.Principal
		if pr.UserID != `CONTOSO\patchnight$` || pr.LogonType != "Password" || pr.RunLevel != "HighestAvailable" || pr.ID != pt.Actions.Context {
			t.Errorf("%s: principal %+v, actions context %s", o.ID, pr, pt.Actions.Context)
		}
		s := pt.Settings
		if s.MultipleInstancesPolicy != "IgnoreNew" || s.DisallowStartIfOnBatteries || !s.StartWhenAvailable || s.ExecutionTimeLimit != isoDuration(o.Step.Limit+taskGrace) {
			t.Errorf("%s: settings %+v", o.ID, s)
		}
		if pt.Actions.Exec.Command != testBinary || pt.Actions.Exec.Arguments != "run "+o.ID+" --profile prod" {
			t.Errorf("%s: exec %+v", o.ID, pt.Actions.Exec)
		}
		if len(pt.Triggers.Calendar) != 1 || len(pt.Triggers.Time) != 0 {
			t.Fatalf("%s: triggers %+v", o.ID, pt.Triggers)
		}
		order := childOrder(t, pt.Triggers.Calendar[0].Inner)
		if strings.Join(order, ",") != "Enabled,StartBoundary,ScheduleByMonthDayOfWeek" {
			t.Errorf("%s: trigger children %v", o.ID, order)
		}
		inner := string(pt.Triggers.Calendar[0].Inner)
		if !strings.Contains(inner, "<StartBoundary>2026-12-01T"+o.At.Clock()+":00</StartBoundary>") ||
			!strings.Contains(inner, "<"+weekdayFor(o.At.Day).String()+">") || !strings.Contains(inner, "<December>") {
			t.Errorf("%s: trigger %s", o.ID, inner)
		}
		if o.At.Day == 0 && !strings.Contains(strings.Join(strings.Fields(inner), ""), "<Weeks><Week>2</Week></Weeks>") {
			t.Errorf("%s: a PT step must fire in week 2 only: %s", o.ID, inner)
		}
	}
	script, err := os.ReadFile(filepath.Join(dir, ScriptName))
	if err != nil {
		t.Fatal(err)
	}
	checkScript(t, script, ts)
	if d := os.Getenv("PATCHNIGHT_PSLINT_DIR"); d != "" {
		if err := os.WriteFile(filepath.Join(d, "night-register-tasks-gmsa.ps1"), script, 0o644); err != nil {
			t.Fatalf("write script for the PowerShell lint: %v", err)
		}
	}
}

func checkScript(t *testing.T, script []byte, ts *TaskSet) {
	t.Helper()
	for i, c := range script {
		if c > 0x7e && c != '\r' && c != '\n' || c < 0x20 && c != '\r' && c != '\n' {
			t.Fatalf("script byte %d is %#x: the script must be plain ASCII", i, c)
		}
	}
	text := string(script)
	if strings.Contains(strings.ReplaceAll(text, "\r\n", ""), "\n") {
		t.Error("script has bare LF line ends")
	}
	for _, task := range ts.Tasks {
		if !strings.Contains(text, "@{ Name = "+pwsh.Quote(task.Name)+"; File = "+pwsh.Quote(task.File)+" }") {
			t.Errorf("script does not register %s", task.Name)
		}
	}
	for _, want := range []string{"Register-ScheduledTask", "-Xml $xml", "-Encoding Unicode", "$TaskPath = " + pwsh.Quote(ts.Folder)} {
		if !strings.Contains(text, want) {
			t.Errorf("script lacks %q", want)
		}
	}
}

func TestExportTasksPrincipalsAndMonth(t *testing.T) {
	t.Parallel()
	p := Default()
	loc := mustLoc(t, "Europe/London")
	cases := []struct {
		runAs, user, logon, kind string
		passwordPrompt           bool
	}{
		{"", "S-1-5-18", "", "system", false},
		{"SYSTEM", "S-1-5-18", "", "system", false},
		{`NT AUTHORITY\SYSTEM`, "S-1-5-18", "", "system", false},
		{`CONTOSO\svc-patch`, `CONTOSO\svc-patch`, "Password", "password", true},
		{`svc.patch@contoso.com`, `svc.patch@contoso.com`, "Password", "password", true},
		{`CONTOSO\gmsa-patch$`, `CONTOSO\gmsa-patch$`, "Password", "gmsa", false},
	}
	for _, tc := range cases {
		ts, err := Tasks(p, TaskOptions{Binary: testBinary, RunAs: tc.runAs, Month: Month{2026, time.December}, Location: loc,
			PlanFile: `C:\ProgramData\patch night\plan.yaml`, Config: `C:\ProgramData\patchnight\config.yaml`})
		if err != nil {
			t.Fatalf("%q: %v", tc.runAs, err)
		}
		if ts.Principal.UserID != tc.user || ts.Principal.LogonType != tc.logon || ts.Principal.Kind != tc.kind {
			t.Errorf("%q: principal %+v", tc.runAs, ts.Principal)
		}
		pt := readTask(t, ts.Tasks[0].XML)
		if pt.Principals.Principal.UserID != tc.user || pt.Principals.Principal.LogonType != tc.logon {
			t.Errorf("%q: xml principal %+v", tc.runAs, pt.Principals.Principal)
		}
		if got := strings.Contains(string(ts.Script), "Get-Credential"); got != tc.passwordPrompt {
			t.Errorf("%q: password prompt in script = %v", tc.runAs, got)
		}
		if strings.Contains(string(ts.Script), "-Password") != tc.passwordPrompt {
			t.Errorf("%q: -Password use does not match the principal", tc.runAs)
		}
		checkScript(t, ts.Script, ts)
		if d := os.Getenv("PATCHNIGHT_PSLINT_DIR"); d != "" {
			if err := os.WriteFile(filepath.Join(d, "night-register-tasks-"+tc.kind+".ps1"), ts.Script, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One-off triggers carry the night's real dates.
	ts, err := Tasks(p, TaskOptions{Binary: testBinary, Month: Month{2026, time.December}, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"scan-1630":          "2026-12-08T16:30:00",
		"retry-restart-0100": "2026-12-09T01:00:00",
		"retry-install-0445": "2026-12-09T04:45:00",
		"thursday-notice":    "2026-12-10T10:00:00",
	}
	for _, task := range ts.Tasks {
		pt := readTask(t, task.XML)
		if strings.HasPrefix(task.Name, "follow-up-") {
			continue // TestFollowUpTasks
		}
		if len(pt.Triggers.Time) != 1 || len(pt.Triggers.Calendar) != 0 {
			t.Fatalf("%s: triggers %+v", task.Name, pt.Triggers)
		}
		if w, ok := want[task.Name]; ok && pt.Triggers.Time[0].StartBoundary != w {
			t.Errorf("%s: start %s, want %s", task.Name, pt.Triggers.Time[0].StartBoundary, w)
		}
	}
	// Paths with spaces are quoted on the command line; the XML escapes the quotes.
	ts, _ = Tasks(p, TaskOptions{Binary: testBinary, From: Month{2026, 1}, PlanFile: `C:\Program Data\plan.yaml`, Config: `C:\my cfg\`})
	if got := ts.Tasks[0].Arguments; got != `run check-deployments --config "C:\my cfg\\" --plan "C:\Program Data\plan.yaml"` {
		t.Errorf("arguments %s", got)
	}
}

func TestExportTasksCheckTable(t *testing.T) {
	t.Parallel()
	ts, err := Tasks(Default(), TaskOptions{Binary: testBinary, From: Month{2026, 12}, Location: mustLoc(t, "Europe/London")})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := output.WriteWidth(&buf, output.Table, ts, 0); err != nil { // the cells' text, unwrapped
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`\patchnight\scan-1630`, "monthly, 2nd Tuesday at 16:30", "monthly, 2nd/3rd Wednesday at 01:00 (runs only on PT+1; other days exit 0)",
		"SYSTEM", "Europe/London", "run retry-restart-0400"} {
		if !strings.Contains(out, want) {
			t.Errorf("--check table lacks %q:\n%s", want, out)
		}
	}
}

func TestExportTasksRefusesBadOptions(t *testing.T) {
	t.Parallel()
	p := Default()
	base := TaskOptions{Binary: testBinary, From: Month{2026, 12}}
	cases := []struct {
		name string
		mod  func(*TaskOptions)
		want string
	}{
		{"no binary", func(o *TaskOptions) { o.Binary = "" }, "needs the path of the patchnight binary"},
		{"relative binary", func(o *TaskOptions) { o.Binary = `patchnight.exe` }, "not a full Windows path"},
		{"quote in binary", func(o *TaskOptions) { o.Binary = `C:\a"b\patchnight.exe` }, "double quote"},
		{"newline in plan path", func(o *TaskOptions) { o.PlanFile = "C:\\plan\n.yaml" }, "control character"},
		{"profile with space", func(o *TaskOptions) { o.Profile = "my site" }, "cannot be passed to a task"},
		{"bad folder", func(o *TaskOptions) { o.Folder = `patchnight` }, "task folder"},
		{"folder injection", func(o *TaskOptions) { o.Folder = `\patch'night\` }, "task folder"},
		{"no month", func(o *TaskOptions) { o.From = Month{} }, "start month"},
		{"account without domain", func(o *TaskOptions) { o.RunAs = "svc" }, "has no domain"},
		{"account with quote", func(o *TaskOptions) { o.RunAs = `CONTOSO\sv'c` }, "not a valid account name"},
		{"account with semicolon", func(o *TaskOptions) { o.RunAs = `CONTOSO\a;b` }, "not a valid account name"},
		{"account with dollar inside", func(o *TaskOptions) { o.RunAs = `CONTOSO\a$b` }, "not a valid account name"},
	}
	for _, tc := range cases {
		opt := base
		tc.mod(&opt)
		_, err := Tasks(p, opt)
		if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a usage error with %q", tc.name, err, tc.want)
		}
	}
}

// The monthly day-of-week trigger of every offset fires on the step's real day in every
// month, and on every day it fires, the runner's day check says "due" exactly on that day.
func TestTriggersAgreeWithTheDayCheck(t *testing.T) {
	t.Parallel()
	for day := MinDay; day <= MaxDay; day++ {
		w := When{Day: day, Minute: 9 * 60}
		p := &Plan{Name: "t", Steps: []Step{{ID: "s", At: w, Action: Report, Limit: 10 * time.Minute}}}
		weeks, wd := weeksFor(day), weekdayFor(day)
		maxFires := 0
		for y := 2024; y < 2024+28; y++ { // a full 28-year calendar cycle
			for mo := time.January; mo <= time.December; mo++ {
				real, _ := w.At(Month{y, mo}, time.UTC)
				if !triggerFires(weeks, wd, real) {
					t.Fatalf("PT%+d of %d-%02d (%s) is not matched by weeks %v %s", day, y, mo, real.Format("2006-01-02"), weeks, wd)
				}
				fires := 0
				for d := time.Date(y, mo, 1, 9, 0, 0, 0, time.UTC); d.Month() == mo; d = d.AddDate(0, 0, 1) {
					if !triggerFires(weeks, wd, d) {
						continue
					}
					fires++
					dec, err := StepFor(p, "s", d, time.UTC)
					if err != nil {
						t.Fatal(err)
					}
					// The step's days near d: this month's night and the previous one's.
					isDay := sameDate(mustAt(w, Month{y, mo}), d) || sameDate(mustAt(w, Month{y, mo}.AddMonths(-1)), d)
					if dec.Due != isDay {
						t.Fatalf("PT%+d: fires on %s: due %v, but that is the step's day: %v", day, d.Format("2006-01-02"), dec.Due, isDay)
					}
					if dec.Due && !sameDate(dec.Occurrence.Time, d) {
						t.Fatalf("PT%+d: fires on %s and runs the occurrence of %s", day, d.Format("2006-01-02"), dec.Occurrence.Time)
					}
				}
				maxFires = max(maxFires, fires)
			}
		}
		if maxFires > 3 {
			t.Errorf("PT%+d: the trigger fires up to %d days a month", day, maxFires)
		}
		if day == 0 && (len(weeks) != 1 || weeks[0] != "2" || wd != time.Tuesday) {
			t.Errorf("PT: weeks %v %s, want week 2 Tuesday", weeks, wd)
		}
		if day == 1 && strings.Join(weeks, ",") != "2,3" {
			t.Errorf("PT+1: weeks %v, want 2,3", weeks)
		}
	}
}

func mustAt(w When, m Month) time.Time {
	t, _ := w.At(m, time.UTC)
	return t
}

func sameDate(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

func TestISODuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		2 * time.Hour: "PT2H", 75 * time.Minute: "PT1H15M", 45 * time.Minute: "PT45M", 0: "PT0M",
	} {
		if got := isoDuration(d); got != want {
			t.Errorf("isoDuration(%s) = %s, want %s", d, got, want)
		}
	}
}
