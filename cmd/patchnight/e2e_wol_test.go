package main

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
)

// wolConfirmation is the JSON of wol --confirm.
type wolConfirmation struct {
	By    string    `json:"confirmed_by"`
	At    time.Time `json:"at"` // when the confirmation read who is online
	Total struct {
		Woke          int `json:"woke"`
		NoAnswer      int `json:"no_answer"`
		NoMAC         int `json:"no_mac"`
		NoRoute       int `json:"no_route"`
		AlreadyOnline int `json:"already_online"`
		NotSent       int `json:"not_sent"`
	} `json:"total"`
	Subnets []struct {
		Subnet string `json:"subnet"`
		Woke   int    `json:"woke"`
	} `json:"subnets"`
	Hosts []struct {
		ResourceID int64  `json:"resource_id"`
		Name       string `json:"name"`
		Outcome    string `json:"outcome"`
		Reason     string `json:"reason"`
	} `json:"hosts"`
}

// TestE2EWakeOnLAN is issue 5's acceptance against a lab served with its Wake-on-LAN
// sockets (real UDP sockets on the lab's loopback subnet broadcasts and host addresses,
// the profile's wol.port pointing at them): bad input is refused with exit 64; --dry-run
// prints the per-subnet plan and sends nothing; wol --collection --confirm --wait 1s
// sends real magic packets from the product's own udp4 socket and reports as woke exactly
// the members that were off and have Wake-on-LAN enabled, as no answer those with it
// disabled, and the rest as already online or skipped, all checked against the lab tables.
func TestE2EWakeOnLAN(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 300, seed: 67, broadcasts: true})
	const coll = "Patch - Laptops"
	collID := e.rows(`SELECT CollectionID FROM lab_collection WHERE Name = ?`, coll)[0][0]
	members := e.keyed(`SELECT h.ResourceID, UPPER(h.Name), h.Power, h.WolEnabled FROM lab_collection_member m
		JOIN lab_host h ON h.ResourceID = m.ResourceID WHERE m.CollectionID = ?`, collID)
	powerBefore := e.keyed(`SELECT ResourceID, Power FROM lab_host`)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "0"}, "rate 0 is not a positive number"},
		{[]string{"--subnet", "10.0.0.0/33"}, "10.0.0.0/33"},
		{[]string{"--mode", "warp"}, `unknown mode "warp"`},
		{[]string{"--confirm", "--wait", "-1s"}, "negative"},
		{[]string{"--confirm=maybe"}, "not a confirmation method"},
	} {
		_, stderr, code := e.run(append([]string{"wol", "--collection", coll}, tc.args...)...)
		if code != exit.Usage || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("wol %v: exit %d, stderr %q; want 64 and one line with %q", tc.args, code, stderr, tc.want)
		}
	}

	// --dry-run: the plan, per subnet; nothing is sent.
	table, stderr, code := e.run("wol", "--collection", coll, "--dry-run")
	if code != 0 || !strings.Contains(table, "Wake-on-LAN plan (directed)") || !strings.Contains(table, "/2") {
		t.Fatalf("wol --dry-run: exit %d %s\n%s", code, stderr, table)
	}
	var plan struct {
		Mode    string `json:"mode"`
		Subnets []struct {
			Subnet string `json:"subnet"`
			Method string `json:"method"`
			Wakes  []struct {
				ResourceID int64 `json:"resource_id"`
			} `json:"wakes"`
		} `json:"subnets"`
	}
	e.runJSON(&plan, 0, "wol", "--collection", coll, "--dry-run")
	planned, adapters := map[string]bool{}, 0
	for _, s := range plan.Subnets {
		for _, w := range s.Wakes {
			adapters++
			id := strconv.FormatInt(w.ResourceID, 10)
			planned[id] = true
			if f := strings.Split(members[id], "|"); len(f) < 3 || f[1] != "off" {
				t.Errorf("the plan wakes %s (subnet %s), which is not an offline member: %q", id, s.Subnet, members[id])
			}
		}
	}
	if len(plan.Subnets) < 2 || len(planned) < 5 {
		t.Fatalf("the plan wakes %d machines on %d subnets: too few to test", len(planned), len(plan.Subnets))
	}
	if st := e.site.Wake.Stats(); st.Received != 0 {
		t.Errorf("after --dry-run the lab network received %d packets", st.Received)
	}

	// The wake, confirmed from the site database after 1 s.
	var conf wolConfirmation
	_, stderr = e.runJSON(&conf, 0, "wol", "--collection", coll, "--confirm", "--wait", "1s",
		"--repeat", "1", "--batch-pause", "0", "--subnet-rate", "1000", "--rate", "5000")
	m := regexp.MustCompile(`sent (\d+) packets from here and 0 through relays`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no send summary on stderr: %q", stderr)
	}
	sent, _ := strconv.Atoi(m[1])
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.site.Wake.WaitFor(ctx, func(s lab.WakeStats) bool { return s.Received >= sent && s.Pending == 0 }); err != nil {
		t.Fatalf("the lab did not receive the %d packets sent: %v (%+v)", sent, err, e.site.Wake.Stats())
	}
	st := e.site.Wake.Stats()
	if st.Received != sent || st.Invalid != 0 || st.Unknown != 0 || st.Misdirected != 0 || st.WakeErrors != 0 {
		t.Errorf("lab network: %+v; %d packets were sent (a --dry-run that sent would show here)", st, sent)
	}
	if sent != adapters {
		t.Errorf("%d packets sent with --repeat 1 for %d planned adapters", sent, adapters)
	}

	counts := checkWake(t, e, &conf, coll, members, powerBefore, planned)
	t.Logf("%d members: %v; %d packets sent", len(members), counts, sent)
}

// checkWake checks a wol --confirm result against the lab tables: every member of the
// collection is reported once; woke means it was off, has Wake-on-LAN enabled and is on
// now; no answer means it was off, has it disabled and is still off; already online means
// it was on; skipped machines stay off; machines outside the collection are untouched;
// the totals add up. planned, when not nil, is the set of machines the plan sent to.
func checkWake(t *testing.T, e *labEnv, conf *wolConfirmation, coll string, members, powerBefore map[string]string, planned map[string]bool) map[string]int {
	t.Helper()
	after := e.keyed(`SELECT ResourceID, Power FROM lab_host`)
	if conf.At.IsZero() {
		t.Fatal("the confirmation does not say when it read the site (at)")
	}
	late := lateWakes(t, e, conf.At)
	seen := map[string]bool{}
	counts := map[string]int{}
	for _, h := range conf.Hosts {
		id := strconv.FormatInt(h.ResourceID, 10)
		f := strings.Split(members[id], "|")
		if len(f) < 3 {
			t.Errorf("%s (%s) in the confirmation is not a member of %s", h.Name, id, coll)
			continue
		}
		if seen[id] {
			t.Errorf("%s reported twice", h.Name)
		}
		seen[id] = true
		counts[h.Outcome]++
		wasOff, wolOn, nowOn := f[1] == "off", f[2] == "1", after[id] == "on"
		sent := planned == nil || planned[id]
		switch h.Outcome {
		case "woke":
			if !wasOff || !wolOn || !nowOn || !sent {
				t.Errorf("%s reported woke: was %s, Wake-on-LAN %v, now %s", h.Name, f[1], wolOn, after[id])
			}
		case "no answer":
			// Wake-on-LAN off and still off; or Wake-on-LAN on and the lab woke it only after
			// the confirmation read the site (wakes run off the packet path, and on a busy
			// machine the lab can take longer than --wait to get to them).
			if !wasOff || !sent || !(!wolOn && !nowOn || wolOn && late(id)) {
				t.Errorf("%s reported no answer: was %s, Wake-on-LAN %v, now %s", h.Name, f[1], wolOn, after[id])
			}
		case "already online":
			if wasOff || (planned != nil && planned[id]) {
				t.Errorf("%s reported already online but was %s", h.Name, f[1])
			}
		case "no MAC", "no route":
			if !wasOff || nowOn || (planned != nil && planned[id]) {
				t.Errorf("%s skipped (%s: %s) but was %s and is %s now", h.Name, h.Outcome, h.Reason, f[1], after[id])
			}
		default:
			t.Errorf("%s: outcome %q (%s)", h.Name, h.Outcome, h.Reason)
		}
	}
	if len(seen) != len(members) {
		t.Errorf("the confirmation covers %d of %d members", len(seen), len(members))
	}
	if counts["woke"] == 0 || counts["no answer"] == 0 {
		t.Errorf("the lab should give both woke and no answer: %v", counts)
	}
	tot := conf.Total
	if tot.Woke != counts["woke"] || tot.NoAnswer != counts["no answer"] || tot.AlreadyOnline != counts["already online"] ||
		tot.NoMAC != counts["no MAC"] || tot.NoRoute != counts["no route"] || tot.NotSent != 0 || conf.By != "site" {
		t.Errorf("totals %+v (by %s) do not match the hosts %v", tot, conf.By, counts)
	}
	for id, p := range powerBefore {
		if _, member := members[id]; !member && after[id] != p {
			t.Errorf("machine %s outside the collection changed from %s to %s", id, p, after[id])
		}
	}
	return counts
}

// lateWakes waits until the lab's network has no wake left to run, then tells which
// machines (by ResourceID) a wake through it woke after at: the confirmation, reading the
// site at at, rightly saw them offline. Wakes the site channel asks for run inside its
// call, before the confirmation, and are never late.
func lateWakes(t *testing.T, e *labEnv, at time.Time) func(id string) bool {
	t.Helper()
	if e.site.Wake == nil {
		return func(string) bool { return false }
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.site.Wake.WaitFor(ctx, func(s lab.WakeStats) bool { return s.Pending == 0 }); err != nil {
		t.Fatalf("the lab's wakes did not finish: %v (%+v)", err, e.site.Wake.Stats())
	}
	macs := map[string][]string{}
	for _, row := range e.rows(`SELECT ResourceID, MACAddress FROM lab_adapter WHERE MACAddress IS NOT NULL
		UNION SELECT ResourceID, MAC_Addresses0 FROM lab_ra_mac`) {
		macs[row[0]] = append(macs[row[0]], row[1])
	}
	return func(id string) bool {
		for _, m := range macs[id] {
			mac, err := net.ParseMAC(m)
			if err != nil {
				continue
			}
			if woke, ok := e.site.Wake.WokeAt(mac); ok && woke.After(at) {
				return true
			}
		}
		return false
	}
}

// TestE2EWakeRelayAndSite wakes a lab collection, named by its name, through the two
// channels that go over WinRM: relay (an online client on each subnet sends the packets,
// scripts/wol-relay.ps1 on the lab endpoint) and site (SMS_SleepServer.MachinesToWakeup
// through the SMS Provider double), and checks the confirmation against the lab tables
// as TestE2EWakeOnLAN does.
func TestE2EWakeRelayAndSite(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"relay", "site"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newLabEnv(t, labSpec{hosts: 300, seed: 67, broadcasts: true}) // a /32 adapter gets unicast from here
			const coll = "Patch - Laptops"
			members := e.keyed(`SELECT h.ResourceID, UPPER(h.Name), h.Power, h.WolEnabled FROM lab_collection_member m
				JOIN lab_host h ON h.ResourceID = m.ResourceID JOIN lab_collection c ON c.CollectionID = m.CollectionID
				WHERE c.Name = ?`, coll)
			powerBefore := e.keyed(`SELECT ResourceID, Power FROM lab_host`)
			var conf wolConfirmation
			_, stderr := e.runJSON(&conf, 0, "wol", "--collection", coll, "--mode", mode, "--confirm", "--wait", "1s",
				"--repeat", "1", "--batch-pause", "0", "--subnet-rate", "1000")
			if mode == "relay" && !regexp.MustCompile(`and [1-9]\d* through relays`).MatchString(stderr) {
				t.Errorf("nothing went through relays: %q", stderr)
			}
			counts := checkWake(t, e, &conf, coll, members, powerBefore, nil)
			t.Logf("%s: %v", mode, counts)
		})
	}
}
