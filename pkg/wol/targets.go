package wol

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/site"
)

// Source tells where an adapter's data came from.
type Source string

// Sources of adapter data.
const (
	FromInventory Source = "inventory" // v_GS_NETWORK_ADAPTER_CONFIGURATION, IPEnabled0 = 1
	FromDiscovery Source = "discovery" // v_RA_System_* (machines without inventory)
)

// NIC is one adapter of a host that a magic packet can be addressed to.
type NIC struct {
	MAC       MAC          `json:"mac"`                // the adapter's hardware address
	IP        netip.Addr   `json:"ip"`                 // last known IPv4 address
	Subnet    netip.Prefix `json:"subnet,omitzero"`    // masked prefix; invalid when the mask is unknown or unusable
	Broadcast netip.Addr   `json:"broadcast,omitzero"` // subnet-directed broadcast; invalid on /31, /32 or unknown masks
	Source    Source       `json:"source"`             // inventory or discovery
	Note      string       `json:"note,omitempty"`     // why there is no Broadcast, when there is none
}

// Reason says why a host gets no magic packet.
type Reason string

// Reasons for skipping a host. Each belongs to a Class (see Reason.Class).
const (
	ReasonNoMACData    Reason = "no MAC in inventory or discovery"
	ReasonMalformedMAC Reason = "malformed MAC"
	ReasonZeroMAC      Reason = "MAC is 00:00:00:00:00:00"
	ReasonBroadcastMAC Reason = "MAC is the broadcast address"
	ReasonMulticastMAC Reason = "MAC is a multicast address"
	ReasonVirtualMAC   Reason = "virtual adapter (hypervisor MAC prefix)"
	ReasonDuplicateMAC Reason = "MAC shared by several machines"
	ReasonIPv6Only     Reason = "IPv6 only: no IPv4 address to send to"
	ReasonNoAddress    Reason = "no usable IPv4 address known"
	ReasonNoRelay      Reason = "no online client on the subnet to relay"
)

// Class groups reasons the way the confirmation reports them.
type Class string

// Classes of skipped hosts.
const (
	ClassNoMAC   Class = "no MAC"
	ClassNoRoute Class = "no route"
)

// Class returns ClassNoMAC for reasons about the MAC and ClassNoRoute for reasons about
// the address.
func (r Reason) Class() Class {
	switch r {
	case ReasonIPv6Only, ReasonNoAddress, ReasonNoRelay:
		return ClassNoRoute
	}
	return ClassNoMAC
}

// Host is one machine selected for waking.
type Host struct {
	ResourceID int64  `json:"resource_id"` // v_R_System.ResourceID
	Name       string `json:"name"`        // v_R_System.Name0
	Online     bool   `json:"online"`      // v_CombinedDeviceResources.CNIsOnline when read
	NICs       []NIC  `json:"nics,omitempty"`
	Skip       Reason `json:"skip,omitempty"`   // set when the host has no usable NIC
	Detail     string `json:"detail,omitempty"` // the adapters' problems, for the skip line
	// SubnetHint places a skipped host in the per-subnet report: the subnet of an adapter
	// whose MAC was unusable, when that adapter's address and mask were readable.
	SubnetHint string `json:"subnet_hint,omitempty"`
}

// Targets is the outcome of reading the site database for a Selection.
type Targets struct {
	Hosts    []Host   `json:"hosts"`               // sorted by name; skipped hosts have Skip set
	NotFound []string `json:"not_found,omitempty"` // --host names the site database does not know
	// CollectionID is the selection's collection resolved to its ID ("" without one).
	CollectionID string `json:"collection_id,omitempty"`
}

// Selection chooses the machines to read. Filters combine (AND).
type Selection struct {
	Collection string         // CollectionID or name, resolved to the ID once; "" = no collection filter
	Hosts      []string       // NetBIOS names (or FQDNs, matched on the first label); nil = no filter
	Subnets    []netip.Prefix // keep adapters whose address lies in one of these; nil = no filter
}

// row is one row of queries/wol_targets.sql.
type row struct {
	ResourceID int64
	Name       string
	Online     bool
	Source     string // sys | hinv | ra_mac | ra_ip | ra_subnet
	MAC        string
	IPs        string
	Masks      string
}

// LoadTargets runs queries/wol_targets.sql (one set-based query) and turns its rows into
// hosts with their usable adapters, skipping with a reason what cannot be woken.
func LoadTargets(ctx context.Context, db *site.DB, sel Selection) (*Targets, error) {
	// Resolve the collection once, so that the set-based query compares one CollectionID
	// (an OR over ID and name defeats index seeks on SQL Server; reference 12).
	id := ""
	if sel.Collection != "" {
		c, err := db.ResolveCollection(ctx, sel.Collection)
		if err != nil {
			return nil, err
		}
		id = c.ID
	}
	// Rows are grouped into machines as they stream in (the query orders them by machine):
	// no copy of the result set is kept.
	var g grouper
	var x row
	var name, mac, ips, masks sql.NullString
	var online site.Flag // CNIsOnline (through CASE); its SQL type is unconfirmed
	err := db.Each(ctx, "wol_targets", site.Params{"collection": id}, func(r *sql.Rows) error {
		if err := r.Scan(&x.ResourceID, &name, &online, &x.Source, &mac, &ips, &masks); err != nil {
			return fmt.Errorf("read wol_targets row: %w", err)
		}
		x.Name, x.Online, x.MAC, x.IPs, x.Masks = name.String, online.Bool(), mac.String, ips.String, masks.String
		g.add(x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read wake targets: %w", err)
	}
	if sel.Collection != "" && g.rows == 0 {
		return nil, exit.Usagef("check the ID or name with patchnight collections list",
			"collection %q does not exist or has no members", sel.Collection)
	}
	t := g.targets(sel)
	t.CollectionID = id
	return t, nil
}

// machine gathers one ResourceID's rows.
type machine struct {
	id      int64
	name    string
	online  bool
	hinv    []row
	raMAC   []string
	raIP    []string
	raSubnt []string
}

// grouper gathers rows into machines. Rows of one machine normally arrive together (the
// query orders by ResourceID); the index also copes with rows that do not.
type grouper struct {
	machines []machine
	index    map[int64]int // ResourceID -> position in machines
	rows     int
}

func (g *grouper) add(r row) {
	g.rows++
	i := len(g.machines) - 1
	if i < 0 || g.machines[i].id != r.ResourceID {
		if g.index == nil {
			g.index = map[int64]int{}
		}
		var ok bool
		if i, ok = g.index[r.ResourceID]; !ok {
			i = len(g.machines)
			g.index[r.ResourceID] = i
			g.machines = append(g.machines, machine{id: r.ResourceID})
		}
	}
	m := &g.machines[i]
	switch r.Source {
	case "sys":
		m.name, m.online = r.Name, r.Online
	case "hinv":
		m.hinv = append(m.hinv, r)
	case "ra_mac":
		m.raMAC = append(m.raMAC, r.MAC)
	case "ra_ip":
		m.raIP = append(m.raIP, r.IPs)
	case "ra_subnet":
		m.raSubnt = append(m.raSubnt, r.Masks)
	}
}

// macOwners counts the distinct machines that report a MAC. Machines are counted one
// after the other, so the last one seen tells whether this machine was counted already.
type macOwners struct {
	last int64
	n    int
}

// buildTargets is the pure part of LoadTargets: group rows by machine, filter, parse,
// find duplicate MACs and discovery masks, and classify.
func buildTargets(rows []row, sel Selection) *Targets {
	var g grouper
	for _, r := range rows {
		g.add(r)
	}
	return g.targets(sel)
}

// targets filters, parses and classifies the machines gathered.
func (g *grouper) targets(sel Selection) *Targets {
	order := g.machines
	// First pass over every machine read (before the host filter, so that a MAC shared
	// with an unselected machine is still a duplicate): parse adapters, count MAC owners,
	// learn subnet prefixes from inventory.
	parsed := make([]parsedMachine, len(order))
	owners := make(map[MAC]macOwners, len(order))
	learned := map[netip.Addr]int{} // network address -> prefix length; -1 = ambiguous
	for i := range order {
		m := &order[i]
		parsed[i] = parseMachine(m)
		for _, mac := range parsed[i].macs {
			if o := owners[mac]; o.n == 0 || o.last != m.id {
				owners[mac] = macOwners{last: m.id, n: o.n + 1}
			}
		}
		for _, c := range parsed[i].cands {
			if c.source == FromInventory && c.subnet.IsValid() {
				id := c.subnet.Addr()
				if b, ok := learned[id]; !ok {
					learned[id] = c.subnet.Bits()
				} else if b != c.subnet.Bits() {
					learned[id] = -1
				}
			}
		}
	}

	t := &Targets{Hosts: make([]Host, 0, len(order))}
	want := map[string]string{}
	for _, h := range sel.Hosts {
		want[hostKey(h)] = strings.TrimSpace(h)
	}
	found := map[string]bool{}
	for i := range order {
		m := &order[i]
		if len(want) > 0 {
			if _, ok := want[hostKey(m.name)]; !ok {
				continue
			}
			found[hostKey(m.name)] = true
		}
		if h, ok := finishMachine(m, parsed[i], owners, learned, sel.Subnets); ok {
			t.Hosts = append(t.Hosts, h)
		}
	}
	for k, h := range want {
		if !found[k] {
			t.NotFound = append(t.NotFound, h)
		}
	}
	slices.Sort(t.NotFound)
	slices.SortFunc(t.Hosts, func(a, b Host) int {
		return cmp.Or(cmp.Compare(strings.ToUpper(a.Name), strings.ToUpper(b.Name)), cmp.Compare(a.ResourceID, b.ResourceID))
	})
	return t
}

// hostKey is the comparison key of a host name: upper case, first DNS label.
func hostKey(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if i := strings.IndexByte(s, '.'); i > 0 {
		s = s[:i]
	}
	return s
}

// cand is a usable MAC with one address (possibly none yet).
type cand struct {
	mac    MAC
	ip     netip.Addr
	subnet netip.Prefix
	bc     netip.Addr
	note   string
	source Source
	subIDs []string // discovery subnet IDs (IP_Subnets0), for the mask lookup
}

type parsedMachine struct {
	cands      []cand
	macs       []MAC    // every usable MAC, with or without an address (duplicate check)
	reasons    []Reason // MAC problems, one per unusable adapter or value, in order seen
	details    []string
	goodMAC    bool   // some adapter had a usable MAC
	anyV4      bool   // some adapter with a usable MAC had an IPv4 entry
	v6         int    // IPv6 entries seen on adapters with a usable MAC
	subnetHint string // subnet of an adapter with an unusable MAC
}

func (p *parsedMachine) problem(r Reason, detail string) {
	p.reasons = append(p.reasons, r)
	p.details = append(p.details, detail)
}

// macReason maps a MAC error to its Reason.
func macReason(err error) Reason {
	switch {
	case errors.Is(err, ErrZeroMAC):
		return ReasonZeroMAC
	case errors.Is(err, ErrBroadcastMAC):
		return ReasonBroadcastMAC
	case errors.Is(err, ErrMulticastMAC):
		return ReasonMulticastMAC
	case errors.Is(err, ErrVirtualMAC):
		return ReasonVirtualMAC
	}
	return ReasonMalformedMAC
}

// readMAC parses and checks a MAC from inventory or discovery.
func readMAC(s string) (MAC, error) {
	m, err := ParseMAC(s)
	if err != nil {
		return MAC{}, err
	}
	if err := m.Check(); err != nil {
		return MAC{}, err
	}
	return m, nil
}

// parseMachine reads one machine's inventory adapters, or its discovery data when it has
// no inventory adapter.
func parseMachine(m *machine) parsedMachine {
	var p parsedMachine
	if len(m.hinv) > 0 {
		for _, a := range m.hinv {
			p.inventoryAdapter(a)
		}
		return p
	}
	p.discovery(m)
	return p
}

// inventoryAdapter reads one v_GS_NETWORK_ADAPTER_CONFIGURATION row.
func (p *parsedMachine) inventoryAdapter(a row) {
	var buf [4]addrPair
	v4, v6, notes := appendPairs(buf[:0], a.IPs, a.Masks)
	p.details = append(p.details, notes...)
	mac, err := readMAC(a.MAC)
	if err != nil {
		p.problem(macReason(err), err.Error())
		for _, x := range v4 {
			if sn, _, err := DirectedBroadcast(x.IP, x.Mask); err == nil && p.subnetHint == "" {
				p.subnetHint = sn.String()
			}
		}
		return
	}
	p.goodMAC = true
	p.macs = append(p.macs, mac)
	p.v6 += v6
	if len(v4) == 0 {
		if v6 > 0 {
			p.details = append(p.details, mac.String()+": IPv6 addresses only")
		} else {
			p.details = append(p.details, mac.String()+": no address in inventory")
		}
		return
	}
	p.anyV4 = true
	for _, x := range v4 {
		if err := checkHostIP(x.IP); err != nil {
			p.details = append(p.details, err.Error())
			continue
		}
		c := cand{mac: mac, ip: x.IP, source: FromInventory}
		if x.Mask == "" {
			c.note = "mask unknown (address and mask lists do not pair)"
		} else {
			sn, bc, err := DirectedBroadcast(x.IP, x.Mask)
			switch {
			case err == nil:
				c.subnet, c.bc = sn, bc
			case errors.Is(err, ErrNoBroadcast):
				c.subnet, c.note = sn, fmt.Sprintf("/%d has no directed broadcast", sn.Bits())
			case errors.Is(err, ErrBadHostIP):
				p.details = append(p.details, err.Error())
				continue
			default:
				c.note = err.Error()
			}
		}
		p.cands = append(p.cands, c)
	}
}

// discovery reads v_RA_System_* values. MACs and addresses are not linked to each other
// there, so every usable MAC is paired with every usable IPv4 address; masks come from
// inventory of other machines (discoveryMask).
func (p *parsedMachine) discovery(m *machine) {
	var macs []MAC
	for _, s := range m.raMAC {
		mac, err := readMAC(s)
		if err != nil {
			p.problem(macReason(err), err.Error())
			continue
		}
		if !slices.Contains(macs, mac) {
			macs = append(macs, mac)
		}
	}
	var ips []netip.Addr
	v6 := 0
	for _, s := range m.raIP {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		switch {
		case err != nil:
			p.details = append(p.details, fmt.Sprintf("discovery address %q does not parse", clip(s)))
		case !a.Is4():
			v6++
		case checkHostIP(a) != nil:
			p.anyV4 = true // 169.254.x.x and the like: IPv4, but no route
		default:
			p.anyV4 = true
			if !slices.Contains(ips, a) {
				ips = append(ips, a)
			}
		}
	}
	if len(macs) == 0 {
		return
	}
	p.goodMAC = true
	p.macs = append(p.macs, macs...)
	p.v6 += v6
	for _, mac := range macs {
		for _, ip := range ips {
			p.cands = append(p.cands, cand{mac: mac, ip: ip, source: FromDiscovery, subIDs: m.raSubnt,
				note: "mask unknown (discovery data only)"})
		}
	}
}

// finishMachine turns a parsed machine into a Host, or false when the subnet filter
// leaves nothing of it.
func finishMachine(m *machine, p parsedMachine, owners map[MAC]macOwners, learned map[netip.Addr]int, filter []netip.Prefix) (Host, bool) {
	h := Host{ResourceID: m.id, Name: m.name, Online: m.online}
	if h.Name == "" {
		h.Name = fmt.Sprintf("resource-%d", m.id)
	}
	inside := func(a netip.Addr) bool {
		return len(filter) == 0 || slices.ContainsFunc(filter, func(f netip.Prefix) bool { return f.Contains(a) })
	}
	dup, kept := false, false
	for _, c := range p.cands {
		if !inside(c.ip) {
			continue
		}
		kept = true
		if n := owners[c.mac].n; n > 1 {
			if p.subnetHint == "" && c.subnet.IsValid() {
				p.subnetHint = c.subnet.String()
			}
			if !dup {
				p.problem(ReasonDuplicateMAC, fmt.Sprintf("%s is reported by %d machines", c.mac, n))
			}
			dup = true
			continue
		}
		if c.source == FromDiscovery {
			c = discoveryMask(c, learned)
		}
		n := NIC{MAC: c.mac, IP: c.ip, Subnet: c.subnet, Broadcast: c.bc, Source: c.source}
		if !c.bc.IsValid() {
			n.Note = c.note
		}
		if !slices.Contains(h.NICs, n) { // a machine has a handful of adapters
			h.NICs = append(h.NICs, n)
		}
	}
	if !dup && len(h.NICs) == 0 {
		for _, mac := range p.macs {
			if n := owners[mac].n; n > 1 {
				p.problem(ReasonDuplicateMAC, fmt.Sprintf("%s is reported by %d machines", mac, n))
				dup = true
				break
			}
		}
	}
	if len(filter) > 0 && !kept {
		// Under a subnet filter a host without a usable address is kept only when the
		// subnet of its unusable adapter lies inside.
		hint, err := netip.ParsePrefix(p.subnetHint)
		if err != nil || !inside(hint.Addr()) {
			return Host{}, false
		}
	}
	if len(h.NICs) > 0 {
		return h, true
	}
	h.SubnetHint = p.subnetHint
	switch {
	case dup:
		h.Skip = ReasonDuplicateMAC
	case p.goodMAC && !p.anyV4 && p.v6 > 0:
		h.Skip = ReasonIPv6Only
	case p.goodMAC:
		h.Skip = ReasonNoAddress
	case len(p.reasons) > 0:
		h.Skip = p.reasons[0]
	default:
		h.Skip = ReasonNoMACData
	}
	h.Detail = strings.Join(p.details, "; ")
	return h, true
}

// discoveryMask gives a discovery address its subnet when inventory of other machines
// taught one unambiguous prefix for one of this machine's discovery subnet IDs and the
// address lies inside it. Otherwise the address stays unicast-only: guessing a mask could
// send a broadcast to someone else's subnet.
func discoveryMask(c cand, learned map[netip.Addr]int) cand {
	for _, s := range c.subIDs {
		id, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !id.Is4() {
			continue
		}
		bits, ok := learned[id]
		if !ok || bits < 0 {
			continue
		}
		p := netip.PrefixFrom(id, bits)
		if !p.Contains(c.ip) {
			continue
		}
		bc, err := Broadcast(p)
		if err != nil {
			c.subnet, c.note = p, fmt.Sprintf("/%d has no directed broadcast", bits)
			return c
		}
		if c.ip == p.Addr() || c.ip == bc {
			continue
		}
		c.subnet, c.bc, c.note = p, bc, ""
		return c
	}
	return c
}
