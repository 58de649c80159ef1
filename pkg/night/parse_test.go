package night

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

func TestDefaultPlanIsTheRestartMethod(t *testing.T) {
	t.Parallel()
	p := Default()
	if p.Name != "restart-method" || p.Source != DefaultSource {
		t.Fatalf("default plan %q from %q", p.Name, p.Source)
	}
	type want struct {
		at       string
		action   Action
		target   Selector
		check    func(Step) bool
		whatElse string
	}
	find := func(at string) []Step {
		var out []Step
		for _, s := range p.Steps {
			if s.At.String() == at {
				out = append(out, s)
			}
		}
		return out
	}
	cases := []want{
		{"PT 16:00", CheckDeployments, "", nil, ""},
		{"PT 16:30", Scan, All, func(s Step) bool {
			return s.Barrier != nil && s.Barrier.Condition == ScanCurrent && s.Barrier.Percent == 90 && s.Barrier.Timeout == 45*time.Minute
		}, "barrier 90% scan-current 45m"},
		{"PT 18:00", Wake, All, nil, ""},
		{"PT 19:30", Scan, All, nil, ""},
		{"PT 20:00", InstallAndRestart, NobodyLoggedOn(), func(s Step) bool { return s.OnlyIfNobodyLoggedOn }, "only if nobody logged on"},
		{"PT 23:00", InstallAndRestart, LoggedOn, nil, ""},
		{"PT+1 01:00", Restart, All, func(s Step) bool {
			return s.Repeat != nil && s.Repeat.Every == 3*time.Hour && s.Repeat.Until.String() == "PT+1 05:00"
		}, "every 3h until PT+1 05:00"},
		{"PT+1 01:15", Scan, All, func(s Step) bool { return s.Repeat != nil }, "repeats"},
		{"PT+1 01:45", InstallAndRestart, MissingUpdates, func(s Step) bool { return s.Repeat != nil }, "repeats"},
		{"PT+1 09:30", Scan, All, nil, ""},
		{"PT+1 10:00", Install, MissingUpdates, func(s Step) bool { return s.RestartPrompt }, "restart prompt"},
		{"PT+1 08:15", NotifyScan, ScanBehind, func(s Step) bool { return s.Repeat != nil && s.Repeat.Until.Compare(When{1, 17 * 60}) <= 0 }, "repeats in the working day"},
		{"PT+2 10:00", NotifyMissing, MissingUpdates, nil, ""},
	}
	for _, tc := range cases {
		steps := find(tc.at)
		if len(steps) != 1 {
			t.Errorf("%s: %d steps, want 1", tc.at, len(steps))
			continue
		}
		s := steps[0]
		if s.Action != tc.action || s.Target != tc.target {
			t.Errorf("%s: %s %s, want %s %s", tc.at, s.Action, s.Target, tc.action, tc.target)
		}
		if tc.check != nil && !tc.check(s) {
			t.Errorf("%s: want %s, got %+v", tc.at, tc.whatElse, s)
		}
	}
	// Collections are refreshed before the first scan and before the Thursday notice; the
	// morning report comes after the 09:30 scan.
	order := func(a, b string) {
		sa, _ := p.Step(a)
		sb, _ := p.Step(b)
		if sa == nil || sb == nil || sa.At.Compare(sb.At) >= 0 {
			t.Errorf("%s must come before %s", a, b)
		}
	}
	order("refresh-collections", "scan-1630")
	order("scan-0930", "morning-report")
	order("refresh-thursday", "thursday-notice")
	if !strings.Contains(string(DefaultYAML()), "name: restart-method") {
		t.Error("DefaultYAML is not the plan text")
	}
}

// NobodyLoggedOn names the selector (keeps the table above aligned).
func NobodyLoggedOn() Selector { return NobodyLoggedOnNow }

const goodPlan = `name: test
steps:
  - id: scan
    at: PT 16:30
    action: scan
    target: all
`

// plan builds a plan text from step lines (each already indented as a list item).
func plan(steps ...string) string {
	return "name: test\nsteps:\n" + strings.Join(steps, "")
}

func TestValidationProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		text string
		line int
		step string
		want string
	}{
		{"unknown action", plan("  - id: a\n    at: PT 16:30\n    action: scna\n    target: all\n"), 3 + 2, "a", `unknown action "scna"`},
		{"unknown selector", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: everybody\n"), 6, "a", `unknown target selector "everybody"`},
		{"out of order", plan("  - id: a\n    at: PT 18:00\n    action: scan\n    target: all\n", "  - id: b\n    at: PT 16:30\n    action: wake\n    target: all\n"), 7, "b", "steps out of order"},
		{"repeat never ends", plan("  - id: a\n    at: PT+1 01:00\n    action: restart\n    target: all\n    repeat: {every: 3h}\n"), 7, "a", "the repeat never ends"},
		{"zero interval", plan("  - id: a\n    at: PT+1 01:00\n    action: restart\n    target: all\n    repeat: {every: 0s, until: PT+1 05:00}\n"), 7, "a", "not a positive interval"},
		{"negative interval", plan("  - id: a\n    at: PT+1 01:00\n    action: restart\n    target: all\n    repeat:\n      every: -3h\n      until: PT+1 05:00\n"), 8, "a", "not a positive interval"},
		{"duplicate ids", plan("  - id: a\n    at: PT 16:00\n    action: scan\n    target: all\n", "  - id: a\n    at: PT 17:00\n    action: wake\n    target: all\n"), 7, "a", "duplicate step ID a (also on line 3)"},
		{"bad time", plan("  - id: a\n    at: 16:30\n    action: scan\n    target: all\n"), 4, "a", "not a plan time"},
		{"bad offset", plan("  - id: a\n    at: PT+30 16:30\n    action: scan\n    target: all\n"), 4, "a", "day offset must be from"},
		{"barrier percent 0", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n    barrier: {percent: 0, condition: scan-current, timeout: 10m}\n"), 7, "a", "outside 1..100"},
		{"barrier percent 101", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n    barrier: {percent: 101, condition: scan-current, timeout: 10m}\n"), 7, "a", "outside 1..100"},
		{"barrier condition", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n    barrier: {percent: 90, condition: happy, timeout: 10m}\n"), 7, "a", `unknown barrier condition "happy"`},
		{"barrier too long", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n    limit: 10m\n    barrier: {percent: 90, condition: scan-current, timeout: 10m}\n"), 3, "a", "not shorter than the step's limit"},
		{"missing target", plan("  - id: a\n    at: PT 16:30\n    action: install\n"), 3, "a", "action install needs a target"},
		{"target on report", plan("  - id: a\n    at: PT 16:30\n    action: report\n    target: all\n"), 3, "a", "takes no target"},
		{"bad time zone", "name: test\ntime_zone: Mars/Olympus\nsteps:\n  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n", 2, "", `time_zone "Mars/Olympus" is not a known time zone`},
		{"unknown key", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n    retries: 3\n"), 7, "a", `unknown key "retries"`},
		{"same start", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n", "  - id: b\n    at: PT 16:30\n    action: wake\n    target: all\n"), 7, "b", "the same time as a"},
		{"repeat hits another step", plan("  - id: a\n    at: PT+1 01:00\n    action: restart\n    target: all\n    repeat: {every: 3h, until: PT+1 05:00}\n", "  - id: b\n    at: PT+1 04:00\n    action: scan\n    target: all\n"), 8, "b", "the same time as a-0400"},
		{"limit over interval", plan("  - id: a\n    at: PT+1 01:00\n    action: restart\n    target: all\n    limit: 2h\n    repeat: {every: 1h, until: PT+1 05:00}\n"), 3, "a", "occurrences would overlap"},
		{"until before at", plan("  - id: a\n    at: PT+1 05:00\n    action: restart\n    target: all\n    repeat: {every: 1h, until: PT+1 01:00}\n"), 3, "a", "is before the step's time"},
		{"repeat over a day", plan("  - id: a\n    at: PT 01:00\n    action: restart\n    target: all\n    repeat: {every: 1h, until: PT+1 01:00}\n"), 3, "a", "spans 24 hours"},
		{"restart prompt on scan", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n    restart_prompt: true\n"), 3, "a", "restart_prompt applies to action install only"},
		{"logged-on contradiction", plan("  - id: a\n    at: PT 23:00\n    action: install-and-restart\n    target: logged-on\n    only_if_nobody_logged_on: true\n"), 3, "a", "contradicts target logged-on"},
		{"bad id", plan("  - id: Scan_1\n    at: PT 16:30\n    action: scan\n    target: all\n"), 3, "#1", `id "Scan_1" is not a valid step ID`},
		{"no id", plan("  - at: PT 16:30\n    action: scan\n    target: all\n"), 3, "#1", "the step has no id"},
		{"no steps", "name: test\n", 1, "", "the plan has no steps"},
		{"no name", "steps:\n  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n", 1, "", "the plan has no name"},
		{"bad via", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n    via: carrier-pigeon\n"), 7, "a", `via "carrier-pigeon" is not a channel`},
		{"retries out of range", plan("  - id: a\n    at: PT 16:30\n    action: install\n    target: all\n    max_retries: 99\n"), 7, "a", "max_retries 99 is out of range"},
		{"bad limit", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n    limit: 90s\n"), 7, "a", "not a whole number of minutes"},
		{"not yaml", "name: [unclosed\n", 1, "", "not valid YAML"},
		{"two documents", goodPlan + "---\n" + goodPlan, 0, "", "more than one YAML document"},
		{"empty", "", 0, "", "the plan is empty"},
		{"steps not a list", "name: test\nsteps: scan\n", 2, "", "steps must be a list"},
		{"control character", plan("  - id: a\n    at: PT 16:30\n    action: scan\n    target: all\n    description: \"bad\\u0007bell\"\n"), 7, "a", "control character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, probs := Check("plan.yaml", []byte(tc.text))
			if len(probs) == 0 {
				t.Fatalf("no problem found in:\n%s", tc.text)
			}
			var hit *Problem
			for i := range probs {
				if strings.Contains(probs[i].Msg, tc.want) {
					hit = &probs[i]
					break
				}
			}
			if hit == nil {
				t.Fatalf("no problem mentions %q: %v", tc.want, probs)
			}
			if hit.Line != tc.line || hit.Step != tc.step {
				t.Errorf("problem %q at line %d step %q, want line %d step %q", hit, hit.Line, hit.Step, tc.line, tc.step)
			}
			line := hit.String()
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "plan.yaml") {
				t.Errorf("problem is not one line starting with the file: %q", line)
			}
			if tc.step != "" && !strings.Contains(line, "step "+tc.step+": ") {
				t.Errorf("problem does not name the step: %q", line)
			}
			if tc.line > 0 && !strings.HasPrefix(line, fmt.Sprintf("plan.yaml:%d: ", tc.line)) {
				t.Errorf("problem does not name the line: %q", line)
			}
			err := probs.Err()
			if exit.Code(err) != exit.Usage || strings.Contains(err.Error(), "\n") {
				t.Errorf("Err() = %v (code %d), want a one-line usage error", err, exit.Code(err))
			}
			if _, perr := Parse("plan.yaml", []byte(tc.text)); perr == nil {
				t.Error("Parse accepted the plan")
			}
		})
	}
}

func TestValidPlansPass(t *testing.T) {
	t.Parallel()
	texts := []string{
		goodPlan,
		string(DefaultYAML()),
		plan("  - id: a\n    at: PT-1 09:00\n    action: check-deployments\n    collection: ABC00042\n",
			"  - id: b\n    at: PT 16:30\n    action: scan\n    collection: Pilot machines\n    via: site\n",
			"  - id: c\n    at: PT+1 01:00\n    action: install-and-restart\n    target: pending-restart\n    collection: ABC00042\n    max_retries: 0\n    repeat: {every: 2h, until: PT+1 05:00}\n    limit: 1h\n"),
	}
	for i, text := range texts {
		p, err := Parse(fmt.Sprintf("plan%d.yaml", i), []byte(text))
		if err != nil {
			t.Errorf("plan %d: %v", i, err)
			continue
		}
		if len(p.Steps) == 0 {
			t.Errorf("plan %d has no steps", i)
		}
	}
	p, _ := Parse("p.yaml", []byte(texts[2]))
	c, _ := p.Step("c")
	if c.MaxRetries != 0 || c.Limit != time.Hour || c.Collection != "ABC00042" || c.Target != PendingRestart {
		t.Errorf("step c = %+v", c)
	}
	a, _ := p.Step("a")
	if a.MaxRetries != DefaultMaxRetries || a.Limit != CheckDeployments.DefaultLimit() {
		t.Errorf("defaults not applied: %+v", a)
	}
}

func TestLoadAndCheckFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(path, []byte(goodPlan), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil || p.Source != path {
		t.Fatalf("Load: %v, %+v", err, p)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); exit.Code(err) != exit.Usage {
		t.Errorf("missing file: %v", err)
	}
	if _, probs := CheckFile(filepath.Join(dir, "missing.yaml")); len(probs) != 1 {
		t.Errorf("CheckFile of a missing file: %v", probs)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxPlanBytes+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); exit.Code(err) != exit.Usage {
		t.Errorf("oversized file: %v", err)
	}
	if p, err := LoadOrDefault(""); err != nil || p.Name != "restart-method" {
		t.Errorf("LoadOrDefault(\"\") = %v, %v", p, err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(goodPlan))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, probs := Check("fuzz.yaml", data)
		if len(probs) > 0 {
			for _, pr := range probs {
				if strings.ContainsAny(pr.String(), "\r\n") {
					t.Fatalf("multi-line problem: %q", pr.String())
				}
			}
			return
		}
		// A valid plan expands, and every occurrence has a distinct ID and start.
		seen := map[string]bool{}
		for _, o := range p.Occurrences() {
			if seen[o.ID] {
				t.Fatalf("duplicate occurrence %s", o.ID)
			}
			seen[o.ID] = true
		}
	})
}
