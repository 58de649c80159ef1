package wol

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/site"
)

// Method is how one subnet's machines are woken.
type Method string

// Methods.
const (
	MethodDirected Method = "directed" // subnet-directed broadcast from this machine
	MethodUnicast  Method = "unicast"  // to each machine's last known IP, from this machine
	MethodRelay    Method = "relay"    // an online client on the subnet sends (WinRM)
	MethodSite     Method = "site"     // the site's client notification wake
	MethodNone     Method = "none"     // nothing is sent (relay mode, no online client)
)

// NoSubnet is the group of adapters whose subnet is not known (mask unknown or unusable):
// they can only be reached unicast.
const NoSubnet = "(mask unknown)"

// MaxRelays is how many online clients of a subnet are named as relays, best first; the
// next is tried when one fails.
const MaxRelays = 3

// Wake is one magic packet target: a machine's adapter and where its packets go.
type Wake struct {
	ResourceID int64      `json:"resource_id"`
	Name       string     `json:"name"`
	MAC        MAC        `json:"mac"`
	IP         netip.Addr `json:"ip"`            // the adapter's last known address
	Dest       netip.Addr `json:"dest,omitzero"` // packet destination; the subnet broadcast for relays; none for site
}

// SubnetPlan is what happens on one subnet.
type SubnetPlan struct {
	Subnet    string     `json:"subnet"`             // CIDR, or NoSubnet
	Method    Method     `json:"method"`             // how its machines are woken
	Reason    string     `json:"reason"`             // why this method
	Broadcast netip.Addr `json:"broadcast,omitzero"` // the subnet-directed broadcast, when there is one
	Via       []string   `json:"via,omitempty"`      // relay candidates (online clients), best first
	Wakes     []Wake     `json:"wakes"`
}

// Hosts counts the distinct machines of the subnet.
func (s SubnetPlan) Hosts() int {
	ids := map[int64]bool{}
	for _, w := range s.Wakes {
		ids[w.ResourceID] = true
	}
	return len(ids)
}

// Plan says, per subnet, which machines are woken, which way and why, and which are not
// and why. Build it with Options.Plan or Options.PlanTargets; run it with Send.
type Plan struct {
	Mode       Mode         `json:"mode"`
	Collection string       `json:"collection,omitempty"`
	Subnets    []SubnetPlan `json:"subnets"`             // sorted by subnet
	Skipped    []Host       `json:"skipped,omitempty"`   // no usable MAC or no route (Host.Skip says which)
	Awake      []Host       `json:"awake,omitempty"`     // online already; not sent to (Options.WakeOnline)
	NotFound   []string     `json:"not_found,omitempty"` // --host names the site does not know

	opts     Options
	password []byte
}

// Options returns the options the plan was built with.
func (p *Plan) Options() Options { return p.opts }

// Plan validates the options, reads the targets from the site database and plans them.
func (o Options) Plan(ctx context.Context, db *site.DB) (*Plan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	sel, err := o.selection()
	if err != nil {
		return nil, err
	}
	t, err := LoadTargets(ctx, db, sel)
	if err != nil {
		return nil, err
	}
	return o.PlanTargets(t)
}

// PlanTargets plans targets already read (Options.Plan without the database read).
func (o Options) PlanTargets(t *Targets) (*Plan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	pw, err := ParsePassword(o.SecureOn)
	if err != nil {
		return nil, err
	}
	mode := o.mode()
	p := &Plan{Mode: mode, Collection: o.Collection, NotFound: t.NotFound, opts: o, password: pw}
	if t.CollectionID != "" {
		p.Collection = t.CollectionID // the ID the site calls and queries take
	}

	groups := map[string]*SubnetPlan{}
	relays := map[string][]string{} // subnet -> online clients on it
	type seenKey struct {
		mac MAC
		ip  netip.Addr // zero for broadcast groups: one packet per MAC and subnet
	}
	seen := map[string]map[seenKey]bool{}
	for _, h := range t.Hosts {
		if h.Online {
			for _, k := range relayKeys(h) {
				if !slices.Contains(relays[k], h.Name) {
					relays[k] = append(relays[k], h.Name)
				}
			}
		}
		// A machine that is up needs no packet, whatever its inventory says: it is
		// reported already online, not skipped for a MAC or route it does not need.
		if h.Online && !o.WakeOnline {
			p.Awake = append(p.Awake, h)
			continue
		}
		if h.Skip != "" {
			p.Skipped = append(p.Skipped, h)
			continue
		}
		for _, n := range h.NICs {
			key := groupKey(n)
			g := groups[key]
			if g == nil {
				g = &SubnetPlan{Subnet: key, Broadcast: n.Broadcast}
				groups[key] = g
				seen[key] = map[seenKey]bool{}
			}
			w := Wake{ResourceID: h.ResourceID, Name: h.Name, MAC: n.MAC, IP: n.IP}
			sk := seenKey{mac: n.MAC, ip: n.IP}
			if n.Broadcast.IsValid() {
				sk.ip = netip.Addr{} // one broadcast per MAC and subnet is enough
			}
			if seen[key][sk] {
				continue
			}
			seen[key][sk] = true
			g.Wakes = append(g.Wakes, w)
			if g.Reason == "" && n.Note != "" {
				g.Reason = n.Note
			}
		}
	}

	for _, g := range groups {
		via := relays[g.Subnet]
		slices.Sort(via)
		if len(via) > MaxRelays {
			via = via[:MaxRelays]
		}
		note := g.Reason
		if note == "" {
			note = "no directed broadcast"
		}
		hasBC := g.Broadcast.IsValid()
		switch {
		case mode == ModeSite:
			g.Method, g.Reason = MethodSite, "client notification wake through the SMS Provider: an awake client on the subnet sends"
		case mode == ModeUnicast:
			g.Method, g.Reason = MethodUnicast, "unicast to each machine's last known IP (misses machines that moved subnet since the last inventory)"
		case !hasBC:
			g.Method, g.Reason = MethodUnicast, note+": unicast to the last known IP"
		case mode == ModeDirected:
			g.Method, g.Reason = MethodDirected, "subnet-directed broadcast to "+g.Broadcast.String()+" from this machine"
		case mode == ModeRelay && len(via) == 0:
			g.Method, g.Reason = MethodNone, string(ReasonNoRelay)
		case mode == ModeRelay:
			g.Method, g.Via = MethodRelay, via
			g.Reason = fmt.Sprintf("relay by an online client on the subnet (%d candidate%s)", len(via), plural(len(via)))
		case len(p.password) > 0:
			g.Method, g.Reason = MethodDirected, "auto: a SecureOn password is set and relays cannot carry it: directed broadcast to "+g.Broadcast.String()
		case len(via) > 0:
			g.Method, g.Via = MethodRelay, via
			g.Reason = fmt.Sprintf("auto: %d online client%s on the subnet can relay", len(via), plural(len(via)))
		default:
			g.Method, g.Reason = MethodDirected, "auto: no online client on the subnet: directed broadcast to "+g.Broadcast.String()+" from this machine"
		}
	}
	skipped := map[int64]bool{}
	for _, g := range groups {
		for i := range g.Wakes {
			switch g.Method {
			case MethodDirected, MethodRelay:
				g.Wakes[i].Dest = g.Broadcast
			case MethodUnicast:
				g.Wakes[i].Dest = g.Wakes[i].IP
			}
		}
		slices.SortFunc(g.Wakes, func(a, b Wake) int {
			return cmp.Or(cmp.Compare(strings.ToUpper(a.Name), strings.ToUpper(b.Name)), a.IP.Compare(b.IP))
		})
		if g.Method == MethodNone {
			// Nothing is sent: the subnet's machines are reported as skipped, no route,
			// unless another of their adapters is woken elsewhere.
			ids := map[int64]bool{}
			for _, w := range g.Wakes {
				ids[w.ResourceID] = true
			}
			for _, h := range t.Hosts {
				if ids[h.ResourceID] && !skipped[h.ResourceID] && !hasOtherGroup(h, g.Subnet, groups) {
					skipped[h.ResourceID] = true
					h.Skip, h.SubnetHint, h.Detail = ReasonNoRelay, g.Subnet, "relay mode and no online client on "+g.Subnet
					h.NICs = nil
					p.Skipped = append(p.Skipped, h)
				}
			}
			g.Wakes = nil
		}
		p.Subnets = append(p.Subnets, *g)
	}
	slices.SortFunc(p.Subnets, func(a, b SubnetPlan) int { return compareSubnets(a.Subnet, b.Subnet) })
	slices.SortFunc(p.Skipped, func(a, b Host) int { return cmp.Compare(strings.ToUpper(a.Name), strings.ToUpper(b.Name)) })
	return p, nil
}

// hasOtherGroup says whether h has a NIC in a group other than subnet that sends.
func hasOtherGroup(h Host, subnet string, groups map[string]*SubnetPlan) bool {
	for _, n := range h.NICs {
		k := groupKey(n)
		if g := groups[k]; k != subnet && g != nil && g.Method != MethodNone {
			return true
		}
	}
	return false
}

// groupKey is the subnet a NIC is planned under.
func groupKey(n NIC) string {
	if n.Subnet.IsValid() {
		return n.Subnet.String()
	}
	return NoSubnet
}

// relayKeys are the subnets an online host can relay for.
func relayKeys(h Host) []string {
	var out []string
	for _, n := range h.NICs {
		if n.Broadcast.IsValid() {
			out = append(out, n.Subnet.String())
		}
	}
	if h.SubnetHint != "" {
		out = append(out, h.SubnetHint)
	}
	return out
}

// compareSubnets orders CIDRs by address then length, with NoSubnet and other keys last.
func compareSubnets(a, b string) int {
	pa, ea := netip.ParsePrefix(a)
	pb, eb := netip.ParsePrefix(b)
	switch {
	case ea == nil && eb == nil:
		return cmp.Or(pa.Addr().Compare(pb.Addr()), cmp.Compare(pa.Bits(), pb.Bits()))
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Packets is how many magic packets the plan sends from this machine (directed and
// unicast) and asks relays to send.
func (p *Plan) Packets() (local, relayed int) {
	for _, g := range p.Subnets {
		switch g.Method {
		case MethodDirected, MethodUnicast:
			local += len(g.Wakes) * p.opts.Repeat
		case MethodRelay:
			relayed += len(g.Wakes) * p.opts.Repeat
		}
	}
	return local, relayed
}

// Estimate is how long Send should take at the plan's pacing (relay and site calls not
// counted): the slowest subnet, or the global rate, whichever is longer.
func (p *Plan) Estimate() time.Duration {
	o := p.opts
	var slowest time.Duration
	total := 0
	for _, g := range p.Subnets {
		if g.Method != MethodDirected && g.Method != MethodUnicast && g.Method != MethodRelay {
			continue
		}
		n := len(g.Wakes)
		if g.Method != MethodRelay {
			total += n * o.Repeat
		}
		batches := (n + o.Batch - 1) / o.Batch
		if batches == 0 {
			continue
		}
		d := time.Duration(float64(n*o.Repeat)/o.SubnetRate*float64(time.Second)) +
			time.Duration(batches*(o.Repeat-1))*o.Spacing + time.Duration(batches-1)*o.BatchPause
		slowest = max(slowest, d)
	}
	return max(slowest, time.Duration(float64(total)/o.Rate*float64(time.Second)))
}

// Summary is one line of the per-subnet plan table.
type Summary struct {
	Subnet  string   `json:"subnet"`
	Method  Method   `json:"method,omitempty"` // "" when nothing is sent to the subnet
	Wake    int      `json:"wake"`             // machines that get packets
	Awake   int      `json:"awake"`            // online already, not sent to
	NoMAC   int      `json:"no_mac"`           // skipped: no usable MAC
	NoRoute int      `json:"no_route"`         // skipped: no address or no relay
	Via     []string `json:"via,omitempty"`
	Reason  string   `json:"reason"`
}

// hostSubnet is where a host not in a sending group is counted.
func hostSubnet(h Host) string {
	if len(h.NICs) > 0 {
		return groupKey(h.NICs[0])
	}
	if h.SubnetHint != "" {
		return h.SubnetHint
	}
	return "unknown"
}

// Summaries returns the plan per subnet, with the machines that are not sent to counted
// under their subnet ("unknown" when it cannot be told).
func (p *Plan) Summaries() []Summary {
	rows := map[string]*Summary{}
	get := func(k string) *Summary {
		if rows[k] == nil {
			rows[k] = &Summary{Subnet: k}
		}
		return rows[k]
	}
	for _, g := range p.Subnets {
		s := get(g.Subnet)
		s.Method, s.Wake, s.Via, s.Reason = g.Method, g.Hosts(), g.Via, g.Reason
	}
	for _, h := range p.Awake {
		get(hostSubnet(h)).Awake++
	}
	for _, h := range p.Skipped {
		s := get(hostSubnet(h))
		if h.Skip.Class() == ClassNoMAC {
			s.NoMAC++
		} else {
			s.NoRoute++
		}
	}
	out := make([]Summary, 0, len(rows))
	for _, s := range rows {
		switch {
		case s.Reason != "":
		case s.NoMAC+s.NoRoute > 0:
			s.Reason = "nothing to send: no usable MAC or route"
		default:
			s.Reason = "nothing to send: online already"
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Summary) int { return compareSubnets(a.Subnet, b.Subnet) })
	return out
}

// Table returns the per-subnet plan as a header and rows of text, for a table or CSV.
func (p *Plan) Table() (header []string, rows [][]string) {
	header = []string{"SUBNET", "METHOD", "WAKE", "AWAKE", "NO MAC", "NO ROUTE", "VIA", "REASON"}
	for _, s := range p.Summaries() {
		m := string(s.Method)
		if m == "" {
			m = "-"
		}
		rows = append(rows, []string{s.Subnet, m, strconv.Itoa(s.Wake), strconv.Itoa(s.Awake),
			strconv.Itoa(s.NoMAC), strconv.Itoa(s.NoRoute), strings.Join(s.Via, ","), s.Reason})
	}
	return header, rows
}
