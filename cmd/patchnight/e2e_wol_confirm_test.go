package main

import (
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
)

// TestE2EWakeConfirmForms: every way of writing --confirm gives the method asked for, and
// the result says which one confirmed: the README's space form (--confirm probe), the =
// form, bare --confirm (site). A word after --confirm that is not a method, or any other
// argument, is a usage error. The probe is asked for in the default (directed) mode,
// which sends nothing over WinRM: it used to fall back to the site's view and label it
// "confirmed by site".
func TestE2EWakeConfirmForms(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 120, seed: 67, broadcasts: true})
	coll := "Patch - Laptops"
	fast := []string{"--wait", "1s", "--repeat", "1", "--batch-pause", "0", "--subnet-rate", "1000", "--rate", "5000"}
	for _, tc := range []struct {
		name string
		args []string
		by   string
	}{
		{"space form probe", []string{"--confirm", "probe"}, "probe"},
		{"= form probe", []string{"--confirm=probe"}, "probe"},
		{"space form site", []string{"--confirm", "site"}, "site"},
		{"bare", []string{"--confirm"}, "site"},
		{"probe before another flag", []string{"--confirm", "probe", "--mode", "directed"}, "probe"},
	} {
		args := append(append([]string{"wol", "--collection", coll}, tc.args...), fast...)
		var conf wolConfirmation
		e.runJSON(&conf, 0, args...)
		if conf.By != tc.by || len(conf.Hosts) == 0 {
			t.Errorf("%s: confirmed by %q over %d hosts, want %q", tc.name, conf.By, len(conf.Hosts), tc.by)
		}
	}
	// The table's title names the method too.
	out, stderr, code := e.run(append([]string{"wol", "--collection", coll, "--confirm", "probe"}, fast...)...)
	if code != 0 || !strings.Contains(out, "Who woke (confirmed by probe") {
		t.Errorf("wol --confirm probe: exit %d, %s\n%s", code, stderr, out)
	}
	for _, args := range [][]string{
		{"--confirm", "ping"},
		{"--confirm=site", "probe"},
		{"probe"},
		{"--confirm", "probe", "probe"},
	} {
		_, stderr, code := e.run(append([]string{"wol", "--collection", coll}, args...)...)
		if code != exit.Usage || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("wol %v: exit %d, %q; want 64 and one line", args, code, stderr)
		}
	}
}
