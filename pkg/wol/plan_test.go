package wol

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	base := DefaultOptions()
	base.Collection = "LAB00012"
	if err := base.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"nothing selected", func(o *Options) { o.Collection = "" }, "no machines selected"},
		{"all and collection", func(o *Options) { o.All = true }, "--all and --collection"},
		{"rate zero", func(o *Options) { o.Rate = 0 }, "rate 0 is not a positive number"},
		{"rate negative", func(o *Options) { o.Rate = -5 }, "rate -5"},
		{"rate NaN", func(o *Options) { o.Rate = math.NaN() }, "rate NaN"},
		{"rate inf", func(o *Options) { o.Rate = math.Inf(1) }, "rate +Inf"},
		{"subnet rate zero", func(o *Options) { o.SubnetRate = 0 }, "subnet rate 0"},
		{"subnet rate negative", func(o *Options) { o.SubnetRate = -1 }, "subnet rate -1"},
		{"port zero", func(o *Options) { o.Port = 0 }, "port 0"},
		{"port high", func(o *Options) { o.Port = 70000 }, "port 70000"},
		{"repeat zero", func(o *Options) { o.Repeat = 0 }, "repeat 0"},
		{"repeat huge", func(o *Options) { o.Repeat = 1000 }, "repeat 1000"},
		{"batch zero", func(o *Options) { o.Batch = 0 }, "batch 0"},
		{"negative spacing", func(o *Options) { o.Spacing = -time.Second }, "spacing"},
		{"negative pause", func(o *Options) { o.BatchPause = -time.Second }, "batch pause"},
		{"subnet does not parse", func(o *Options) { o.Subnets = []string{"127.3.7.0/24", "10.1.2.0/33"} }, "not an IPv4 CIDR"},
		{"subnet no prefix", func(o *Options) { o.Subnets = []string{"10.1.2.0"} }, "not an IPv4 CIDR"},
		{"subnet too wide", func(o *Options) { o.Subnets = []string{"10.0.0.0/4"} }, "shorter than /8"},
		{"unknown mode", func(o *Options) { o.Mode = "smoke-signals" }, "unknown mode"},
		{"bad host", func(o *Options) { o.Hosts = []string{"PC1", "rm -rf"} }, "host name"},
		{"bad password", func(o *Options) { o.SecureOn = "0102" }, "SecureOn password is not valid"},
		{"password with relay", func(o *Options) { o.SecureOn = "01:02:03:04"; o.Mode = ModeRelay }, "cannot carry a SecureOn"},
		{"password with site", func(o *Options) { o.SecureOn = "01:02:03:04"; o.Mode = ModeSite }, "cannot carry a SecureOn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := base
			c.mod(&o)
			err := o.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			var e *exit.Error
			if !errors.As(err, &e) || e.Code != exit.Usage || e.Hint == "" {
				t.Fatalf("error %v is not a usage error with a hint", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
	// The SecureOn password never appears in an error.
	o := base
	o.SecureOn = "DE:AD:BE:EF:99"
	if err := o.Validate(); err == nil || strings.Contains(strings.ToUpper(err.Error()), "DE:AD") {
		t.Fatalf("password error: %v", err)
	}
}

func TestParsePassword(t *testing.T) {
	t.Parallel()
	for in, n := range map[string]int{"": 0, "01:02:03:04": 4, "01-02-03-04-05-06": 6, "010203040506": 6, "DEADBEEF": 4} {
		pw, err := ParsePassword(in)
		if err != nil || len(pw) != n {
			t.Errorf("ParsePassword(%q) = %x, %v", in, pw, err)
		}
	}
	for _, in := range []string{"01:02:03", "0102030405", "01:02:03:04:", "01:02-03:04", "zz:zz:zz:zz", "01020304050607"} {
		if _, err := ParsePassword(in); !errors.Is(err, ErrBadPassword) {
			t.Errorf("ParsePassword(%q) accepted", in)
		}
	}
}

// planFixture: three /24 subnets; 127.3.7.0 has an online client (relay), 127.3.8.0 has none,
// plus a /32 host, an unknown-mask host and a skipped (virtual) host.
func planFixture() *Targets {
	return buildTargets([]row{
		sys(1, "PC1", false), hinv(1, "3C:52:82:00:00:01", "127.3.7.20", "255.255.255.0"),
		sys(2, "PC2", false), hinv(2, "3C:52:82:00:00:02", "127.3.7.21", "255.255.255.0"),
		sys(3, "RELAY-B", true), hinv(3, "3C:52:82:00:00:03", "127.3.7.22", "255.255.255.0"),
		sys(4, "RELAY-A", true), hinv(4, "3C:52:82:00:00:04", "127.3.7.23", "255.255.255.0"),
		sys(5, "PC5", false), hinv(5, "3C:52:82:00:00:05", "127.3.8.20", "255.255.255.0"),
		sys(6, "PC6", false), hinv(6, "3C:52:82:00:00:06", "127.3.10.9", "255.255.255.255"),
		sys(7, "PC7", false), hinv(7, "3C:52:82:00:00:07", "127.3.11.9", "255.0.255.0"),
		sys(8, "VM8", false), hinv(8, "00:15:5D:00:00:08", "127.3.8.30", "255.255.255.0"),
	}, Selection{})
}

func subnetPlan(p *Plan, s string) *SubnetPlan {
	for i := range p.Subnets {
		if p.Subnets[i].Subnet == s {
			return &p.Subnets[i]
		}
	}
	return nil
}

func TestPlanModes(t *testing.T) {
	t.Parallel()
	type expect struct {
		method Method
		dest   string // destination of the subnet's first wake
		via    string
	}
	cases := []struct {
		mode     Mode
		password string
		want     map[string]expect
		skipped  int
	}{
		{ModeAuto, "", map[string]expect{
			"127.3.7.0/24":  {MethodRelay, "127.3.7.255", "RELAY-A,RELAY-B"},
			"127.3.8.0/24":  {MethodDirected, "127.3.8.255", ""},
			"127.3.10.9/32": {MethodUnicast, "127.3.10.9", ""},
			NoSubnet:        {MethodUnicast, "127.3.11.9", ""},
		}, 1},
		{ModeAuto, "01:02:03:04", map[string]expect{
			"127.3.7.0/24": {MethodDirected, "127.3.7.255", ""},
			"127.3.8.0/24": {MethodDirected, "127.3.8.255", ""},
		}, 1},
		{ModeDirected, "", map[string]expect{
			"127.3.7.0/24":  {MethodDirected, "127.3.7.255", ""},
			"127.3.8.0/24":  {MethodDirected, "127.3.8.255", ""},
			"127.3.10.9/32": {MethodUnicast, "127.3.10.9", ""},
		}, 1},
		{ModeUnicast, "", map[string]expect{
			"127.3.7.0/24": {MethodUnicast, "127.3.7.20", ""},
			"127.3.8.0/24": {MethodUnicast, "127.3.8.20", ""},
		}, 1},
		{ModeRelay, "", map[string]expect{
			"127.3.7.0/24":  {MethodRelay, "127.3.7.255", "RELAY-A,RELAY-B"},
			"127.3.8.0/24":  {MethodNone, "", ""},
			"127.3.10.9/32": {MethodUnicast, "127.3.10.9", ""},
		}, 2}, // VM8 and PC5 (no relay)
		{ModeSite, "", map[string]expect{
			"127.3.7.0/24": {MethodSite, "", ""},
			NoSubnet:       {MethodSite, "", ""},
		}, 1},
	}
	for _, c := range cases {
		t.Run(string(c.mode)+c.password, func(t *testing.T) {
			t.Parallel()
			o := DefaultOptions()
			o.All, o.Mode, o.SecureOn = true, c.mode, c.password
			p, err := o.PlanTargets(planFixture())
			if err != nil {
				t.Fatal(err)
			}
			for s, w := range c.want {
				g := subnetPlan(p, s)
				if g == nil {
					t.Fatalf("no plan for %s: %+v", s, p.Subnets)
				}
				if g.Method != w.method || strings.Join(g.Via, ",") != w.via || g.Reason == "" {
					t.Errorf("%s: %s via %v (%s); want %s via %s", s, g.Method, g.Via, g.Reason, w.method, w.via)
				}
				if w.dest == "" {
					if len(g.Wakes) > 0 && g.Wakes[0].Dest.IsValid() {
						t.Errorf("%s: dest %s; want none", s, g.Wakes[0].Dest)
					}
				} else if len(g.Wakes) == 0 || g.Wakes[0].Dest.String() != w.dest {
					t.Errorf("%s: wakes %+v; want dest %s", s, g.Wakes, w.dest)
				}
			}
			if len(p.Skipped) != c.skipped {
				t.Errorf("skipped %+v; want %d", p.Skipped, c.skipped)
			}
			if len(p.Awake) != 2 {
				t.Errorf("awake %+v; want the two relays", p.Awake)
			}
			// Nothing is ever planned to the limited broadcast or a non-IPv4 address.
			for _, g := range p.Subnets {
				for _, w := range g.Wakes {
					if w.Dest.IsValid() && (!w.Dest.Is4() || w.Dest.String() == "255.255.255.255") {
						t.Errorf("bad destination %s", w.Dest)
					}
				}
			}
		})
	}
}

func TestPlanSummariesAndTable(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	o.All, o.Mode = true, ModeRelay
	p, err := o.PlanTargets(planFixture())
	if err != nil {
		t.Fatal(err)
	}
	sum := map[string]Summary{}
	for _, s := range p.Summaries() {
		sum[s.Subnet] = s
	}
	if s := sum["127.3.7.0/24"]; s.Wake != 2 || s.Awake != 2 || s.Method != MethodRelay {
		t.Errorf("127.3.7.0/24: %+v", s)
	}
	if s := sum["127.3.8.0/24"]; s.Wake != 0 || s.NoRoute != 1 || s.NoMAC != 1 || s.Method != MethodNone {
		t.Errorf("127.3.8.0/24: %+v", s)
	}
	h, rows := p.Table()
	if len(h) != 8 || len(rows) != len(sum) {
		t.Errorf("table %v %v", h, rows)
	}
	local, relayed := p.Packets()
	if local != 2*DefaultRepeat || relayed != 2*DefaultRepeat { // /32 and unknown-mask unicast; two relayed
		t.Errorf("packets local %d relayed %d", local, relayed)
	}
	if p.Estimate() <= 0 {
		t.Error("no estimate")
	}
}

func TestPlanWakeOnline(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	o.All, o.WakeOnline = true, true
	p, err := o.PlanTargets(planFixture())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Awake) != 0 || subnetPlan(p, "127.3.7.0/24").Hosts() != 4 {
		t.Fatalf("WakeOnline: awake %d, hosts %d", len(p.Awake), subnetPlan(p, "127.3.7.0/24").Hosts())
	}
}
