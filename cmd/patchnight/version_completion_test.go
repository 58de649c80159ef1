package main

import (
	"runtime/debug"
	"strings"
	"testing"
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
