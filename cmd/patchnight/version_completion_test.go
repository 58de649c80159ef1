package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/night"
)

func TestVersionFrom(t *testing.T) {
	t.Parallel()
	rev := "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"no module version", debug.BuildInfo{}, "(devel)"},
		{"commit", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}},
			"(devel), commit 0123456789ab"},
		{"modified", debug.BuildInfo{Main: debug.Module{Version: "v1.4.1-0.20261206113904-0123456789ab"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}},
			"v1.4.1-0.20261206113904-0123456789ab, commit 0123456789ab, modified"},
	} {
		if got := versionFrom(&tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// --version says what the build info says, never the placeholder "dev".
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	out, _, code := run(t, nil, "--version")
	want := "patchnight version " + versionString() + "\n"
	if code != 0 || out != want || strings.Contains(out, "version dev") {
		t.Errorf("--version: exit %d, %q, want %q", code, out, want)
	}
}

// Shell completion offers the values of flags that take a fixed set.
func TestCompletionValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "report", "scan", "--output", ""}, []string{"table", "json", "csv", "md", "html"}},
		{[]string{"__complete", "-o", ""}, []string{"json"}},
		{[]string{"__complete", "wol", "--mode", ""}, []string{"directed", "unicast", "relay", "site", "auto"}},
	} {
		out, stderr, code := run(t, nil, tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d, %s", tc.args, code, stderr)
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, w := range tc.want {
			found := false
			for _, l := range lines {
				if strings.SplitN(l, "\t", 2)[0] == w {
					found = true
				}
			}
			if !found {
				t.Errorf("%v: %q not offered in %q", tc.args, w, out)
			}
		}
		if last := lines[len(lines)-1]; last != ":4" { // ShellCompDirectiveNoFileComp
			t.Errorf("%v: directive %q, want :4 (no file names)", tc.args, last)
		}
	}
}

// Shell completion offers values that come from files: the step ids of the plan in force
// for run STEP (--plan FILE, else the built-in plan, with the occurrences of repeating
// steps), and the profile names of the configuration file in force for --profile
// (--config, else PATCHNIGHT_CONFIG).
func TestCompletionFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	custom := strings.Replace(string(night.DefaultYAML()), "id: scan-1630", "id: early-scan", 1)
	if err := os.WriteFile(plan, []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	conf := "default_profile: london\nprofiles:\n  london:\n    site_code: LON\n  paris:\n    site_code: PAR\n  lab:\n    site_code: LAB\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		want    []string // offered, in this order among the offers
		notWant []string
	}{
		{"built-in plan", nil, []string{"run", ""},
			[]string{"check-deployments", "scan-1630", "wake", "retry-restart-0100", "retry-restart-0400", "morning-report"}, nil},
		{"prefix", nil, []string{"run", "retry-re"},
			[]string{"retry-restart", "retry-restart-0100", "retry-restart-0400"}, []string{"wake", "scan-1630"}},
		{"--plan FILE", nil, []string{"run", "--plan", plan, ""}, []string{"check-deployments", "early-scan"}, []string{"scan-1630"}},
		{"--plan after the step's place", nil, []string{"run", "--plan=" + plan, "ea"}, []string{"early-scan"}, []string{"scan-1630"}},
		{"one step only", nil, []string{"run", "wake", ""}, nil, []string{"wake", "scan-1630"}},
		{"profiles from --config", nil, []string{"--config", cfg, "report", "scan", "--profile", ""},
			[]string{"london", "lab", "paris"}, nil},
		{"profiles from PATCHNIGHT_CONFIG", map[string]string{"PATCHNIGHT_CONFIG": cfg}, []string{"client", "scan", "--profile", "pa"},
			[]string{"paris"}, []string{"london", "lab"}},
		{"no configuration file", nil, []string{"--config", filepath.Join(dir, "none.yaml"), "--profile", ""}, nil, []string{"london"}},
	} {
		out, stderr, code := run(t, tc.env, append([]string{"__complete"}, tc.args...)...)
		if code != 0 {
			t.Errorf("%s: exit %d, %s", tc.name, code, stderr)
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var offered []string
		for _, l := range lines[:len(lines)-1] {
			offered = append(offered, strings.SplitN(l, "\t", 2)[0])
		}
		last := -1
		for _, w := range tc.want {
			i := slices.Index(offered, w)
			if i < 0 || i < last {
				t.Errorf("%s: %q not offered (in order) in %q", tc.name, w, offered)
			}
			last = i
		}
		for _, w := range tc.notWant {
			if slices.Contains(offered, w) {
				t.Errorf("%s: %q offered in %q", tc.name, w, offered)
			}
		}
		if d := lines[len(lines)-1]; d != ":4" {
			t.Errorf("%s: directive %q, want :4 (no file names)", tc.name, d)
		}
	}
}
