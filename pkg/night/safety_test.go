package night

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSafetySettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		head    string
		want    func(p *Plan) bool
		problem string // "" = valid
	}{
		{"none", "", func(p *Plan) bool { return !p.Guarded() && p.Exclude == nil }, ""},
		{"exclude list", "exclude: [Servers, ABC00042]\n", func(p *Plan) bool {
			return reflect.DeepEqual(p.Exclude, []string{"Servers", "ABC00042"}) && !p.Guarded()
		}, ""},
		{"exclude one", "exclude: Kiosks\n", func(p *Plan) bool { return reflect.DeepEqual(p.Exclude, []string{"Kiosks"}) }, ""},
		{"canary defaults", "canary: {}\n", func(p *Plan) bool {
			h := p.HaltRules()
			return p.Guarded() && p.Canary.PerLocation == DefaultCanaryPerLocation && p.Canary.Timeout == DefaultCanaryTimeout &&
				h.NotBackPercent == DefaultNotBackPercent && h.Window == DefaultHaltWindow && h.MinHosts == DefaultHaltMinHosts
		}, ""},
		{"canary and halt", "canary: {collection: Pilot, timeout: 20m}\nhalt: {not_back_percent: 10, window: 45m, same_error_percent: 30, min_hosts: 3}\n",
			func(p *Plan) bool {
				return p.Canary.Collection == "Pilot" && p.Canary.Timeout == 20*time.Minute &&
					p.HaltRules() == Halt{NotBackPercent: 10, Window: 45 * time.Minute, SameErrorPercent: 30, MinHosts: 3}
			}, ""},
		{"cap", "restart_cap: {per: subnet, max: 20}\n", func(p *Plan) bool { return *p.RestartCap == RestartCap{Per: "subnet", Max: 20} }, ""},
		{"cap without max", "restart_cap: {per: location}\n", nil, "restart_cap has no max"},
		{"cap per rack", "restart_cap: {per: rack, max: 2}\n", nil, `restart_cap per "rack"`},
		{"halt percent", "halt: {not_back_percent: 0}\n", nil, "outside 1..100"},
		{"canary key", "canary: {ring: 5}\n", nil, `unknown key "ring" in canary`},
		{"exclude mapping", "exclude: {a: b}\n", nil, "exclude must be a collection or a list"},
		{"exclude empty name", "exclude: ['']\n", nil, "empty collection"},
		{"exclude at most", "exclude: [C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, c10]\n", func(p *Plan) bool { return len(p.Exclude) == 11 }, ""},
		{"exclude too many", "exclude: [C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11]\n", nil, "exclude lists 11 collections; a night takes at most 10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			text := "name: test\n" + tc.head + "steps:\n  - id: a\n    at: PT 20:00\n    action: restart\n    target: all\n"
			p, probs := Check("plan.yaml", []byte(text))
			if tc.problem != "" {
				if len(probs) == 0 || !strings.Contains(probs.Err().Error(), tc.problem) {
					t.Fatalf("problems %v, want one with %q", probs, tc.problem)
				}
				return
			}
			if len(probs) > 0 {
				t.Fatalf("valid plan refused: %v", probs)
			}
			if !tc.want(p) {
				t.Errorf("plan read as exclude=%v canary=%+v halt=%+v cap=%+v", p.Exclude, p.Canary, p.Halt, p.RestartCap)
			}
		})
	}
}
