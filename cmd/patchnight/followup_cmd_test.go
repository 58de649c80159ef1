package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPlanValidateFollowUp: plan validate reports the follow-up, and warns (exit 0) that
// client repair is unconfirmed when a plan opts in.
func TestPlanValidateFollowUp(t *testing.T) {
	t.Parallel()
	def := filepath.Join("..", "..", "pkg", "night", "default-plan.yaml")
	b, err := os.ReadFile(def)
	if err != nil {
		t.Fatal(err)
	}
	repair := filepath.Join(t.TempDir(), "repair.yaml")
	if err := os.WriteFile(repair, []byte(strings.Replace(string(b), "repair_client: false", "repair_client: true", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		warn bool
	}{{def, false}, {repair, true}} {
		out, stderr, code := run(t, nil, "plan", "validate", tc.file, "-o", "json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.file, code, stderr)
		}
		var res struct {
			FollowUpSteps int      `json:"follow_up_steps"`
			Warnings      []string `json:"warnings"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: %v: %s", tc.file, err, out)
		}
		if res.FollowUpSteps != 7 {
			t.Errorf("%s: %d follow-up steps, want 7", tc.file, res.FollowUpSteps)
		}
		if got := strings.Contains(stderr, "unconfirmed") && len(res.Warnings) == 1; got != tc.warn {
			t.Errorf("%s: warning %v (stderr %q, json %q), want %v", tc.file, got, stderr, res.Warnings, tc.warn)
		}
	}
}

// TestDemoFollowUp: demo --follow-up runs two weeks of the follow-up after the night and
// prints the follow-up report with a figure for every day up to D+14.
func TestDemoFollowUp(t *testing.T) {
	t.Parallel()
	out, stderr, code := run(t, nil, "demo", "--hosts", "100", "--concurrency", "16", "--follow-up")
	if code != 0 {
		t.Fatalf("demo --follow-up: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"The follow-up, two weeks: until Tue 2026-12-22", "follow-up-notice-1030-d02", "follow-up-night-2000-d14",
		"Follow-up of the night of 2026-12", "| D+14 | 2026-12-22 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo --follow-up prints no %q", want)
		}
	}
	if strings.Contains(out, "-d15") {
		t.Error("demo --follow-up ran past two weeks")
	}
	// With --follow-up the lab has machines away for days (docs/lab.md's suggested rates),
	// and some of them (holidays) are not seen again before the report.
	away := regexp.MustCompile(`Machines away for days \(docs/lab.md\): (\d+) laptops taken home, (\d+) in a closet, (\d+) switched off for a holiday`).FindStringSubmatch(out)
	if away == nil || away[1]+away[2]+away[3] == "000" {
		t.Errorf("demo --follow-up built a lab without machines away for days (%v)", away)
	}
	m := regexp.MustCompile(`Not seen online since the night began \([^)]*\): (\d+) machines`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Errorf("demo --follow-up lists no machine not seen since the night (%v)", m)
	}
}
