package night

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/encoding/unicode"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/pwsh"
)

// TaskNamespace is the Task Scheduler task schema namespace.
const TaskNamespace = "http://schemas.microsoft.com/windows/2004/02/mit/task"

// DefaultTaskFolder is the Task Scheduler folder the tasks are registered in.
const DefaultTaskFolder = `\patchnight\`

// ScriptName is the file name of the registration script ExportTasks writes.
const ScriptName = "register-tasks.ps1"

// taskGrace is added to a step's limit for the task's ExecutionTimeLimit, so that the runner
// (which stops itself at the limit and records the hosts it did not reach as timeouts) ends
// before Task Scheduler kills it.
const taskGrace = 5 * time.Minute

// TaskOptions configure ExportTasks.
type TaskOptions struct {
	// Binary is the full path of patchnight.exe on the site server (the task's Command).
	// Environment variables such as %ProgramFiles% are allowed; quotes are not.
	Binary string
	// Profile is passed to every task as --profile; empty = the configuration's default.
	Profile string
	// Config is passed as --config when set (a path on the server).
	Config string
	// PlanFile is passed as --plan when set (a path on the server); empty = the built-in plan.
	PlanFile string
	// RunAs is the account the tasks run as: "" or SYSTEM (the site server's computer
	// account), DOMAIN\name$ (a group managed service account), or DOMAIN\user (the
	// registration script asks for the password once; it is kept by Task Scheduler only).
	RunAs string
	// Folder is the Task Scheduler folder, default \patchnight\.
	Folder string
	// Month, when set, gives each task a one-off trigger at that month's real date and time
	// (computed in Location). When zero, tasks get recurring monthly triggers.
	Month Month
	// From is the first month of recurring triggers (their StartBoundary date); required
	// when Month is zero.
	From Month
	// Location is the plan's time zone (for one-off triggers). Task Scheduler reads trigger
	// times in the site server's local time, which must be the same zone.
	Location *time.Location
}

// Principal is who the tasks run as.
type Principal struct {
	UserID    string `json:"user_id"`              // S-1-5-18, DOMAIN\name$ or DOMAIN\user
	LogonType string `json:"logon_type,omitempty"` // Password, or empty for SYSTEM
	Kind      string `json:"kind"`                 // system, gmsa or password
}

// Task is one scheduled task: one occurrence of a step.
type Task struct {
	Name       string     `json:"name"` // the occurrence ID
	Path       string     `json:"path"` // folder + name
	File       string     `json:"file"` // NAME.xml
	Occurrence Occurrence `json:"-"`
	Trigger    string     `json:"trigger"`   // what the trigger does, in words
	Command    string     `json:"command"`   // Exec Command
	Arguments  string     `json:"arguments"` // Exec Arguments
	TimeLimit  string     `json:"time_limit"`
	XML        []byte     `json:"-"` // UTF-16LE with BOM
}

// TaskSet is the export of a plan: the tasks and the registration script.
type TaskSet struct {
	Plan      string    `json:"plan"`
	Folder    string    `json:"folder"`
	Principal Principal `json:"principal"`
	Month     string    `json:"month,omitempty"` // one-off triggers for this month; empty = recurring
	TimeZone  string    `json:"time_zone"`
	Tasks     []Task    `json:"tasks"`
	Script    []byte    `json:"-"` // register-tasks.ps1, ASCII, CRLF
}

// ExportTasks writes one Task Scheduler XML file per step occurrence into dir, and
// register-tasks.ps1, which registers them all in one task folder. It returns what it wrote.
//
// The tasks (a copy of this comment goes in the README):
//
//   - One task per occurrence, named by its ID (scan-1630, retry-restart-0400) in folder
//     \patchnight\. It runs `patchnight.exe run ID [--profile P] [--config F] [--plan F]`;
//     no secret is ever in a task or in the script.
//   - Triggers. Task Scheduler cannot say "second Tuesday + N days", and PT+1 is not always
//     the second Wednesday (when the 1st is a Wednesday, Patch Tuesday is the 14th and PT+1
//     the 15th, the third Wednesday). So each recurring task has a monthly day-of-week
//     trigger on the weekday of its day (PT+N falls on Tuesday+N) in every week of the month
//     that day can fall in: Week 2 for PT steps (exactly Patch Tuesday), Weeks 2 and 3 for
//     PT+1 and PT+2, and so on. On the one or two days a month where that fires but it is not
//     the step's day, `patchnight run` makes the day check (StepFor), logs "not due today" and
//     exits 0. Nothing needs re-registering from month to month.
//   - With a month (--month), each task instead gets a one-off trigger at that night's real
//     date and time: no wrong-day starts, but the tasks must be exported again every month.
//   - Times are the site server's local time: Task Scheduler reads StartBoundary without an
//     offset in the server's zone, which must be the plan's time zone. On a day when clocks
//     go forward, patchnight runs a step written in the missing hour at the end of the gap;
//     what Task Scheduler does with such a trigger time is unverified.
//   - Principal: RunLevel HighestAvailable. SYSTEM (default) runs as the site server's
//     computer account. A gMSA (DOMAIN\name$) gets LogonType Password and is registered
//     without a password: Task Scheduler fetches the gMSA's password from AD (documented
//     community practice for gMSA tasks; unverified here). Any other account gets LogonType
//     Password and the script asks for its password once (Get-Credential) and hands it to
//     Register-ScheduledTask, which stores it in Task Scheduler's credential store. S4U is not
//     used: it has no network credentials, so WinRM and SQL logons would fail.
//   - Settings: MultipleInstancesPolicy IgnoreNew, StartWhenAvailable true (a missed start
//     runs when the server is back; the day check still applies), DisallowStartIfOnBatteries
//     false, ExecutionTimeLimit = the step's limit + 5 minutes (the runner stops itself at the
//     limit and records what it did not finish).
//   - Files: UTF-16LE with a byte-order mark and encoding="UTF-16", as Task Scheduler exports.
//     register-tasks.ps1 reads each with Get-Content -Raw -Encoding Unicode and calls
//     Register-ScheduledTask -Xml ... -TaskPath '\patchnight\' -Force; every value in it is a
//     single-quoted literal.
func ExportTasks(p *Plan, opt TaskOptions, dir string) (*TaskSet, error) {
	ts, err := Tasks(p, opt)
	if err != nil {
		return nil, err
	}
	if err := ts.Write(dir); err != nil {
		return nil, err
	}
	return ts, nil
}

// Tasks builds the task set of a plan without writing anything (for --check).
func Tasks(p *Plan, opt TaskOptions) (*TaskSet, error) {
	if err := checkTaskOptions(&opt); err != nil {
		return nil, err
	}
	pr, err := principalFor(opt.RunAs)
	if err != nil {
		return nil, err
	}
	ts := &TaskSet{Plan: p.Name, Folder: opt.Folder, Principal: pr, TimeZone: zoneName(opt.Location)}
	var occ []Occurrence
	if opt.Month.IsZero() {
		occ = p.Occurrences()
	} else {
		ts.Month = opt.Month.String()
		occ = Timeline(p, opt.Month, opt.Location)
	}
	args := commonArgs(opt)
	for _, o := range occ {
		t := Task{
			Name: o.ID, Path: opt.Folder + o.ID, File: o.ID + ".xml", Occurrence: o,
			Command: opt.Binary, Arguments: "run " + o.ID + args,
			TimeLimit: durationText(o.Step.Limit + taskGrace),
		}
		x := xTask{
			Version: "1.2", NS: TaskNamespace,
			RegistrationInfo: xRegInfo{Author: "patchnight", Description: taskDescription(p, o), URI: t.Path},
			Principals:       xPrincipals{Principal: xPrincipal{ID: "Author", UserID: pr.UserID, LogonType: pr.LogonType, RunLevel: "HighestAvailable"}},
			Settings:         defaultSettings(o.Step.Limit + taskGrace),
			Actions:          xActions{Context: "Author", Exec: xExec{Command: opt.Binary, Arguments: t.Arguments, WorkingDirectory: windowsDir(opt.Binary)}},
		}
		if opt.Month.IsZero() {
			weeks := weeksFor(o.At.Day)
			day := weekdayFor(o.At.Day)
			x.Triggers.Calendar = []xCalendarTrigger{{
				Enabled:       true,
				StartBoundary: fmt.Sprintf("%04d-%02d-01T%s:00", opt.From.Year, int(opt.From.Month), o.At.Clock()),
				ByMonthDOW: &xByMonthDOW{
					Weeks:      weeks,
					DaysOfWeek: []xEmpty{{XMLName: xml.Name{Local: day.String()}}},
					Months:     allMonths(),
				},
			}}
			t.Trigger = recurringText(o.At, weeks, day)
		} else {
			local := o.Time.In(opt.Location)
			x.Triggers.Time = []xTimeTrigger{{Enabled: true, StartBoundary: local.Format("2006-01-02T15:04:05")}}
			t.Trigger = "once, " + local.Format("Mon 2006-01-02 15:04")
			if o.Moved {
				t.Trigger += fmt.Sprintf(" (%s does not exist that day)", o.At.Clock())
			}
		}
		t.XML, err = encodeTask(x)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", o.ID, err)
		}
		ts.Tasks = append(ts.Tasks, t)
	}
	fts, err := followUpTasks(p, opt, pr, args)
	if err != nil {
		return nil, err
	}
	ts.Tasks = append(ts.Tasks, fts...)
	ts.Script = registrationScript(ts)
	return ts, nil
}

// followUpTasks is one task per follow-up step (follow-up-notice-1030, ...). Recurring: a
// weekly trigger on the follow-up's weekdays; `patchnight run` runs only on the follow-up's
// days (the day check) and exits 0 on the others. With a month: one one-off trigger per
// follow-up day of that month's night.
func followUpTasks(p *Plan, opt TaskOptions, pr Principal, args string) ([]Task, error) {
	steps := p.FollowUpSteps()
	if len(steps) == 0 {
		return nil, nil
	}
	var tl []Occurrence
	if !opt.Month.IsZero() {
		tl = FollowUpTimeline(p, opt.Month, opt.Location)
	}
	days := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	if !p.FollowUp.Weekdays {
		days = append([]time.Weekday{time.Sunday}, append(days, time.Saturday)...)
	}
	var out []Task
	for _, s := range steps {
		o := Occurrence{ID: s.ID, StepID: s.ID, Count: 1, At: s.At, Step: s}
		t := Task{
			Name: s.ID, Path: opt.Folder + s.ID, File: s.ID + ".xml", Occurrence: o,
			Command: opt.Binary, Arguments: "run " + s.ID + args,
			TimeLimit: durationText(s.Limit + taskGrace),
		}
		x := xTask{
			Version: "1.2", NS: TaskNamespace,
			RegistrationInfo: xRegInfo{Author: "patchnight", Description: fmt.Sprintf("patchnight plan %s: follow-up %s %s at %s on the follow-up days. %s",
				p.Name, s.Action, TargetText(s), s.At.Clock(), s.Description), URI: t.Path},
			Principals: xPrincipals{Principal: xPrincipal{ID: "Author", UserID: pr.UserID, LogonType: pr.LogonType, RunLevel: "HighestAvailable"}},
			Settings:   defaultSettings(s.Limit + taskGrace),
			Actions:    xActions{Context: "Author", Exec: xExec{Command: opt.Binary, Arguments: t.Arguments, WorkingDirectory: windowsDir(opt.Binary)}},
		}
		if opt.Month.IsZero() {
			var names []string
			w := &xByWeek{WeeksInterval: 1}
			for _, d := range days {
				w.DaysOfWeek = append(w.DaysOfWeek, xEmpty{XMLName: xml.Name{Local: d.String()}})
				names = append(names, d.String()[:3])
			}
			x.Triggers.Calendar = []xCalendarTrigger{{Enabled: true,
				StartBoundary: fmt.Sprintf("%04d-%02d-01T%s:00", opt.From.Year, int(opt.From.Month), s.At.Clock()), ByWeek: w}}
			t.Trigger = fmt.Sprintf("weekly, %s at %s (runs only on the follow-up's days, PT+%d until %d days before the next Patch Tuesday; other days exit 0)",
				strings.Join(names, "/"), s.At.Clock(), p.FollowUp.From, p.FollowUp.EndBefore)
		} else {
			var dates []string
			for _, fo := range tl {
				if fo.StepID != s.ID {
					continue
				}
				local := fo.Time.In(opt.Location)
				x.Triggers.Time = append(x.Triggers.Time, xTimeTrigger{Enabled: true, StartBoundary: local.Format("2006-01-02T15:04:05")})
				dates = append(dates, local.Format("01-02"))
			}
			t.Trigger = fmt.Sprintf("%d one-off triggers at %s: %s", len(dates), s.At.Clock(), strings.Join(dates, " "))
		}
		var err error
		t.XML, err = encodeTask(x)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", s.ID, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Write writes the task files and the registration script into dir (created if needed).
func (ts *TaskSet) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return exit.Wrap(exit.Usage, err, "choose a folder you can write to", "task export folder %s", dir)
	}
	for _, t := range ts.Tasks {
		if err := os.WriteFile(filepath.Join(dir, t.File), t.XML, 0o644); err != nil {
			return exit.Wrap(exit.Failed, err, "", "write task %s", t.File)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ScriptName), ts.Script, 0o644); err != nil {
		return exit.Wrap(exit.Failed, err, "", "write %s", ScriptName)
	}
	return nil
}

// Grids explains what would be registered (for `plan export-tasks --check`).
func (ts *TaskSet) Grids() []output.Grid {
	runAs := ts.Principal.UserID
	switch ts.Principal.Kind {
	case "system":
		runAs = "SYSTEM (the site server's computer account)"
	case "gmsa":
		runAs += " (gMSA, LogonType Password, registered without a password)"
	case "password":
		runAs += " (LogonType Password; register-tasks.ps1 asks for the password once)"
	}
	trig := "recurring monthly triggers; patchnight run skips days that are not the step's day"
	if ts.Month != "" {
		trig = "one-off triggers for the night of " + ts.Month
	}
	g := output.Grid{
		Title: fmt.Sprintf("Would register %d task(s) of plan %s in %s, running as %s, elevated; %s; times are the site server's local time, which must be %s",
			len(ts.Tasks), ts.Plan, ts.Folder, runAs, trig, ts.TimeZone),
		Header: []string{"Task", "Trigger", "Command line", "Time limit"},
	}
	for _, t := range ts.Tasks {
		g.Rows = append(g.Rows, []string{t.Path, t.Trigger, t.Command + " " + t.Arguments, t.TimeLimit})
	}
	return []output.Grid{g}
}

func checkTaskOptions(opt *TaskOptions) error {
	if opt.Folder == "" {
		opt.Folder = DefaultTaskFolder
	}
	if !validFolder(opt.Folder) {
		return exit.Usagef(`write it like \patchnight\ (letters, digits, '.', '_', '-' between backslashes)`, "task folder %q is not valid", opt.Folder)
	}
	if opt.Location == nil {
		opt.Location = time.Local
	}
	if opt.Month.IsZero() && opt.From.IsZero() {
		return exit.Usagef("pass the first month of the recurring triggers", "task export needs a start month")
	}
	b := strings.TrimSpace(opt.Binary)
	if b == "" {
		return exit.Usagef(`give the full path of patchnight.exe on the site server, e.g. C:\Program Files\patchnight\patchnight.exe`, "task export needs the path of the patchnight binary")
	}
	if msg := badArgText(b); msg != "" || !windowsAbs(b) {
		if msg == "" {
			msg = "is not a full Windows path"
		}
		return exit.Usagef(`give a full path such as C:\Program Files\patchnight\patchnight.exe`, "binary path %q %s", b, msg)
	}
	opt.Binary = b
	if opt.Profile != "" && !validName(opt.Profile) {
		return exit.Usagef("use the profile's name as written in the configuration (letters, digits, '.', '_', '-')", "profile %q cannot be passed to a task", opt.Profile)
	}
	for _, f := range []struct{ what, v string }{{"configuration file", opt.Config}, {"plan file", opt.PlanFile}} {
		if f.v == "" {
			continue
		}
		if msg := badArgText(f.v); msg != "" || !windowsAbs(f.v) {
			if msg == "" {
				msg = "is not a full Windows path (tasks start in the binary's folder)"
			}
			return exit.Usagef("give the full path on the site server", "%s %q %s", f.what, f.v, msg)
		}
	}
	return nil
}

func badArgText(s string) string {
	if strings.ContainsAny(s, `"`) {
		return "contains a double quote"
	}
	if m := badText(s, 260); m != "" {
		return m
	}
	return ""
}

// windowsAbs accepts C:\..., \\server\share\... and paths starting with an environment
// variable such as %ProgramFiles%\...
func windowsAbs(s string) bool {
	switch {
	case len(s) >= 3 && (s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z') && s[1] == ':' && s[2] == '\\':
		return true
	case strings.HasPrefix(s, `\\`) && len(s) > 2:
		return true
	case strings.HasPrefix(s, "%") && strings.Count(s, "%") >= 2:
		return true
	}
	return false
}

func windowsDir(path string) string {
	i := strings.LastIndex(path, `\`)
	if i <= 0 {
		return ""
	}
	dir := path[:i]
	if strings.HasSuffix(dir, ":") {
		dir += `\`
	}
	if strings.Trim(dir, `\`) == "" {
		return ""
	}
	return dir
}

func validFolder(f string) bool {
	if !strings.HasPrefix(f, `\`) || !strings.HasSuffix(f, `\`) || len(f) > 200 {
		return false
	}
	if f == `\` {
		return true
	}
	for _, seg := range strings.Split(f[1:len(f)-1], `\`) {
		if !validName(seg) {
			return false
		}
	}
	return true
}

// quoteArg quotes one command-line argument for the Windows C runtime's parser (no argument
// here contains a double quote: those are refused).
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t") {
		return s
	}
	// Backslashes before the closing quote are doubled so that they stay literal.
	trail := len(s) - len(strings.TrimRight(s, `\`))
	return `"` + s + strings.Repeat(`\`, trail) + `"`
}

func commonArgs(opt TaskOptions) string {
	var b strings.Builder
	if opt.Profile != "" {
		b.WriteString(" --profile " + quoteArg(opt.Profile))
	}
	if opt.Config != "" {
		b.WriteString(" --config " + quoteArg(opt.Config))
	}
	if opt.PlanFile != "" {
		b.WriteString(" --plan " + quoteArg(opt.PlanFile))
	}
	return b.String()
}

// principalFor maps --run-as to a task principal.
func principalFor(runAs string) (Principal, error) {
	a := strings.TrimSpace(runAs)
	switch strings.ToUpper(a) {
	case "", "SYSTEM", `NT AUTHORITY\SYSTEM`, "S-1-5-18":
		return Principal{UserID: "S-1-5-18", Kind: "system"}, nil
	}
	hint := `write the account as DOMAIN\name, DOMAIN\gmsa$ (a group managed service account) or SYSTEM`
	var domain, name string
	if d, n, ok := strings.Cut(a, `\`); ok {
		domain, name = d, n
	} else if n, d, ok := strings.Cut(a, "@"); ok {
		domain, name = d, n
	} else {
		return Principal{}, exit.Usagef(hint, "run-as account %q has no domain", a)
	}
	if !validAccountPart(domain, false) || !validAccountPart(name, true) {
		return Principal{}, exit.Usagef(hint, "run-as account %q is not a valid account name", a)
	}
	if strings.HasSuffix(name, "$") {
		return Principal{UserID: a, LogonType: "Password", Kind: "gmsa"}, nil
	}
	return Principal{UserID: a, LogonType: "Password", Kind: "password"}, nil
}

// validAccountPart allows the characters of NetBIOS/DNS domain names and sAMAccountNames
// that need no quoting anywhere: letters, digits, '.', '-', '_' and (account only) a
// trailing '$' and inner spaces.
func validAccountPart(s string, account bool) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		case account && r == '$' && i == len(s)-1 && i > 0:
		case account && r == ' ' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// weekdayFor is the weekday of PT+day: Patch Tuesday is a Tuesday.
func weekdayFor(day int) time.Weekday {
	return time.Weekday(((int(time.Tuesday)+day)%7 + 7) % 7)
}

// weeksFor is the set of Task Scheduler weeks ("1".."4", "Last") in which the weekday of
// PT+day can fall, found by trying every possible month: the first of the month on each
// weekday, every month length. A date past the month's end falls in the next month's first
// week; a date from the 29th on is its weekday's last week of the month.
func weeksFor(day int) []string {
	set := map[string]bool{}
	for firstWeekday := range 7 {
		pt := 1 + (int(time.Tuesday)-firstWeekday+7)%7 + 7
		for length := 28; length <= 31; length++ {
			d := pt + day
			if d > length {
				d -= length
			}
			if d < 1 { // not reachable with MinDay >= -6; kept for safety
				d += 28
			}
			switch w := (d-1)/7 + 1; {
			case w <= 4:
				set[fmt.Sprint(w)] = true
			default:
				set["Last"] = true
			}
		}
	}
	var out []string
	for _, w := range []string{"1", "2", "3", "4", "Last"} {
		if set[w] {
			out = append(out, w)
		}
	}
	return out
}

// triggerFires reports whether a monthly day-of-week trigger with these weeks and weekday
// fires on date t (used by the tests and by --check explanations).
func triggerFires(weeks []string, day time.Weekday, t time.Time) bool {
	if t.Weekday() != day {
		return false
	}
	w := fmt.Sprint((t.Day()-1)/7 + 1)
	if slices.Contains(weeks, w) {
		return true
	}
	last := t.AddDate(0, 0, 7).Month() != t.Month()
	return last && slices.Contains(weeks, "Last")
}

func recurringText(w When, weeks []string, day time.Weekday) string {
	if w.Day == 0 {
		return fmt.Sprintf("monthly, 2nd Tuesday at %s", w.Clock())
	}
	names := make([]string, len(weeks))
	for i, wk := range weeks {
		names[i] = map[string]string{"1": "1st", "2": "2nd", "3": "3rd", "4": "4th", "Last": "last"}[wk]
	}
	return fmt.Sprintf("monthly, %s %s at %s (runs only on %s; other days exit 0)", strings.Join(names, "/"), day, w.Clock(), strings.Fields(w.String())[0])
}

func allMonths() []xEmpty {
	out := make([]xEmpty, 12)
	for i := range out {
		out[i] = xEmpty{XMLName: xml.Name{Local: time.Month(i + 1).String()}}
	}
	return out
}

func taskDescription(p *Plan, o Occurrence) string {
	var b strings.Builder
	fmt.Fprintf(&b, "patchnight plan %s: %s", p.Name, o.Step.Action)
	if t := TargetText(o.Step); t != "" {
		fmt.Fprintf(&b, " %s", t)
	}
	fmt.Fprintf(&b, " at %s", o.At)
	if o.Count > 1 {
		fmt.Fprintf(&b, " (%d of %d, every %s until %s)", o.Index+1, o.Count, durationText(o.Step.Repeat.Every), o.Step.Repeat.Until)
	}
	if o.Step.Description != "" {
		b.WriteString(". " + o.Step.Description)
	}
	return b.String()
}

// isoDuration writes an xs:duration: PT2H, PT1H15M, PT45M.
func isoDuration(d time.Duration) string {
	h := int(d / time.Hour)
	m := int(d % time.Hour / time.Minute)
	s := "PT"
	if h > 0 {
		s += fmt.Sprintf("%dH", h)
	}
	if m > 0 || h == 0 {
		s += fmt.Sprintf("%dM", m)
	}
	return s
}

// The task XML. Element order follows the schema: in triggers it is a sequence (Enabled,
// StartBoundary, EndBoundary, Repetition, ExecutionTimeLimit, then the schedule).

type xTask struct {
	XMLName          xml.Name    `xml:"Task"`
	Version          string      `xml:"version,attr"`
	NS               string      `xml:"xmlns,attr"`
	RegistrationInfo xRegInfo    `xml:"RegistrationInfo"`
	Triggers         xTriggers   `xml:"Triggers"`
	Principals       xPrincipals `xml:"Principals"`
	Settings         xSettings   `xml:"Settings"`
	Actions          xActions    `xml:"Actions"`
}

type xRegInfo struct {
	Author      string `xml:"Author"`
	Description string `xml:"Description"`
	URI         string `xml:"URI"`
}

type xTriggers struct {
	Calendar []xCalendarTrigger `xml:"CalendarTrigger"`
	Time     []xTimeTrigger     `xml:"TimeTrigger"`
}

type xCalendarTrigger struct {
	Enabled       bool         `xml:"Enabled"`
	StartBoundary string       `xml:"StartBoundary"`
	ByWeek        *xByWeek     `xml:"ScheduleByWeek"`
	ByMonthDOW    *xByMonthDOW `xml:"ScheduleByMonthDayOfWeek"`
}

// xByWeek is a weekly schedule (the follow-up's tasks): WeeksInterval, then DaysOfWeek.
type xByWeek struct {
	WeeksInterval int      `xml:"WeeksInterval"`
	DaysOfWeek    []xEmpty `xml:"DaysOfWeek>Day"`
}

type xByMonthDOW struct {
	Weeks      []string `xml:"Weeks>Week"`
	DaysOfWeek []xEmpty `xml:"DaysOfWeek>Day"`
	Months     []xEmpty `xml:"Months>Month"`
}

// xEmpty is an empty element whose name is its XMLName (<Tuesday />, <January />).
type xEmpty struct {
	XMLName xml.Name
}

type xTimeTrigger struct {
	Enabled       bool   `xml:"Enabled"`
	StartBoundary string `xml:"StartBoundary"`
}

type xPrincipals struct {
	Principal xPrincipal `xml:"Principal"`
}

type xPrincipal struct {
	ID        string `xml:"id,attr"`
	UserID    string `xml:"UserId"`
	LogonType string `xml:"LogonType,omitempty"`
	RunLevel  string `xml:"RunLevel"`
}

type xSettings struct {
	MultipleInstancesPolicy    string `xml:"MultipleInstancesPolicy"`
	DisallowStartIfOnBatteries bool   `xml:"DisallowStartIfOnBatteries"`
	StopIfGoingOnBatteries     bool   `xml:"StopIfGoingOnBatteries"`
	AllowHardTerminate         bool   `xml:"AllowHardTerminate"`
	StartWhenAvailable         bool   `xml:"StartWhenAvailable"`
	RunOnlyIfNetworkAvailable  bool   `xml:"RunOnlyIfNetworkAvailable"`
	IdleSettings               struct {
		StopOnIdleEnd bool `xml:"StopOnIdleEnd"`
		RestartOnIdle bool `xml:"RestartOnIdle"`
	} `xml:"IdleSettings"`
	AllowStartOnDemand bool   `xml:"AllowStartOnDemand"`
	Enabled            bool   `xml:"Enabled"`
	Hidden             bool   `xml:"Hidden"`
	RunOnlyIfIdle      bool   `xml:"RunOnlyIfIdle"`
	WakeToRun          bool   `xml:"WakeToRun"`
	ExecutionTimeLimit string `xml:"ExecutionTimeLimit"`
	Priority           int    `xml:"Priority"`
}

func defaultSettings(limit time.Duration) xSettings {
	return xSettings{
		MultipleInstancesPolicy: "IgnoreNew",
		AllowHardTerminate:      true,
		StartWhenAvailable:      true,
		AllowStartOnDemand:      true,
		Enabled:                 true,
		ExecutionTimeLimit:      isoDuration(limit),
		Priority:                7,
	}
}

type xActions struct {
	Context string `xml:"Context,attr"`
	Exec    xExec  `xml:"Exec"`
}

type xExec struct {
	Command          string `xml:"Command"`
	Arguments        string `xml:"Arguments"`
	WorkingDirectory string `xml:"WorkingDirectory,omitempty"`
}

// encodeTask marshals a task as Task Scheduler writes it: an encoding="UTF-16" declaration,
// CRLF line ends, UTF-16 little-endian with a byte-order mark.
func encodeTask(x xTask) ([]byte, error) {
	body, err := xml.MarshalIndent(x, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal task xml: %w", err)
	}
	text := `<?xml version="1.0" encoding="UTF-16"?>` + "\n" + string(body) + "\n"
	text = strings.ReplaceAll(text, "\n", "\r\n")
	enc := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder()
	out, err := enc.Bytes([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("encode task xml as UTF-16: %w", err)
	}
	return out, nil
}

// DecodeTaskXML turns a UTF-16LE task file (with its byte-order mark) back into UTF-8 text,
// with the declaration's encoding left as written.
func DecodeTaskXML(b []byte) (string, error) {
	if !bytes.HasPrefix(b, []byte{0xff, 0xfe}) {
		return "", errors.New("task file does not start with the UTF-16LE byte-order mark")
	}
	dec := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
	out, err := dec.Bytes(b)
	if err != nil {
		return "", fmt.Errorf("decode UTF-16: %w", err)
	}
	return string(out), nil
}

func registrationScript(ts *TaskSet) []byte {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("<#")
	line(".SYNOPSIS")
	line("Registers the patchnight scheduled tasks of one plan in one Task Scheduler folder.")
	line(".DESCRIPTION")
	line("Generated by patchnight plan export-tasks; do not edit (export again instead).")
	line("Run it elevated on the site server; -Path is the folder holding the task XML files")
	line("(default: this script's folder). Tasks of the same name are replaced. No password is")
	line("written in this script or in the XML files.")
	line("#>")
	line("#Requires -RunAsAdministrator")
	line("[CmdletBinding(SupportsShouldProcess = $true)]")
	line("param(")
	line("    [string] $Path = $PSScriptRoot")
	line(")")
	line("Set-StrictMode -Version 2.0")
	line("$ErrorActionPreference = 'Stop'")
	line("")
	line("$Plan = %s", pwsh.Quote(ts.Plan))
	line("$TaskPath = %s", pwsh.Quote(ts.Folder))
	line("$RunAs = %s", pwsh.Quote(ts.Principal.UserID))
	line("$Tasks = @(")
	for _, t := range ts.Tasks {
		line("    @{ Name = %s; File = %s }", pwsh.Quote(t.Name), pwsh.Quote(t.File))
	}
	line(")")
	line("")
	switch ts.Principal.Kind {
	case "password":
		line("# The account's password is asked for once and handed to Task Scheduler, which keeps it.")
		line("$Credential = Get-Credential -UserName $RunAs -Message 'Password of the account the patchnight tasks run as'")
		line("if ($null -eq $Credential) { throw 'No password given: nothing was registered.' }")
	case "gmsa":
		line("# A group managed service account: Task Scheduler fetches its password from Active")
		line("# Directory. The site server must be allowed to retrieve it (Test-ADServiceAccount).")
	}
	line("")
	line("$registered = 0")
	line("foreach ($t in $Tasks) {")
	line("    $file = Join-Path -Path $Path -ChildPath $t.File")
	line("    $xml = Get-Content -LiteralPath $file -Raw -Encoding Unicode")
	line("    if ($PSCmdlet.ShouldProcess($TaskPath + $t.Name, 'Register-ScheduledTask')) {")
	if ts.Principal.Kind == "password" {
		line("        Register-ScheduledTask -TaskName $t.Name -TaskPath $TaskPath -Xml $xml -User ($Credential.UserName) -Password ($Credential.GetNetworkCredential().Password) -Force | Out-Null")
	} else {
		line("        Register-ScheduledTask -TaskName $t.Name -TaskPath $TaskPath -Xml $xml -Force | Out-Null")
	}
	line("        $registered++")
	line("    }")
	line("}")
	line("")
	line("# Tasks in the folder that this plan no longer has (an older export) are listed, not removed.")
	line("$names = @($Tasks | ForEach-Object { $_.Name })")
	line("Get-ScheduledTask -TaskPath $TaskPath -ErrorAction SilentlyContinue |")
	line("    Where-Object { $names -notcontains $_.TaskName } |")
	line("    ForEach-Object { Write-Warning (\"Task {0}{1} is not in plan {2}: remove it with Unregister-ScheduledTask -TaskPath '{0}' -TaskName '{1}'\" -f $_.TaskPath, $_.TaskName, $Plan) }")
	line("Write-Output (\"Registered {0} task(s) of plan {1} in {2} as {3}\" -f $registered, $Plan, $TaskPath, $RunAs)")
	return []byte(strings.ReplaceAll(b.String(), "\n", "\r\n"))
}
