package wol

import (
	"net/netip"
	"strings"
	"testing"
)

// sys, hinv, ra build rows of queries/wol_targets.sql.
func sys(id int64, name string, online bool) row {
	return row{ResourceID: id, Name: name, Online: online, Source: "sys"}
}
func hinv(id int64, mac, ips, masks string) row {
	return row{ResourceID: id, Source: "hinv", MAC: mac, IPs: ips, Masks: masks}
}
func raMAC(id int64, mac string) row { return row{ResourceID: id, Source: "ra_mac", MAC: mac} }
func raIP(id int64, ip string) row   { return row{ResourceID: id, Source: "ra_ip", IPs: ip} }
func raSub(id int64, sub string) row { return row{ResourceID: id, Source: "ra_subnet", Masks: sub} }
func host(t *Targets, name string) *Host {
	for i := range t.Hosts {
		if t.Hosts[i].Name == name {
			return &t.Hosts[i]
		}
	}
	return nil
}

func TestBuildTargetsSkips(t *testing.T) {
	t.Parallel()
	const mask24 = "255.255.255.0, 64"
	cases := []struct {
		name string
		rows []row
		skip Reason
	}{
		{"malformed five octets", []row{sys(1, "A", false), hinv(1, "3C:52:82:01:02", "127.3.7.20, fe80::1", mask24)}, ReasonMalformedMAC},
		{"malformed not hex", []row{sys(1, "A", false), hinv(1, "3C:52:82:0G:02:03", "127.3.7.20, fe80::1", mask24)}, ReasonMalformedMAC},
		{"malformed seven octets", []row{sys(1, "A", false), hinv(1, "3C:52:82:01:02:03:7F", "127.3.7.20, fe80::1", mask24)}, ReasonMalformedMAC},
		{"malformed mixed separators", []row{sys(1, "A", false), hinv(1, "3C:52:82-01:02:03", "127.3.7.20, fe80::1", mask24)}, ReasonMalformedMAC},
		{"malformed empty", []row{sys(1, "A", false), hinv(1, "", "127.3.7.20, fe80::1", mask24)}, ReasonMalformedMAC},
		{"zero", []row{sys(1, "A", false), hinv(1, "00:00:00:00:00:00", "127.3.7.20, fe80::1", mask24)}, ReasonZeroMAC},
		{"broadcast", []row{sys(1, "A", false), hinv(1, "FF:FF:FF:FF:FF:FF", "127.3.7.20, fe80::1", mask24)}, ReasonBroadcastMAC},
		{"multicast", []row{sys(1, "A", false), hinv(1, "01:00:5E:01:02:03", "127.3.7.20, fe80::1", mask24)}, ReasonMulticastMAC},
		{"hyper-v", []row{sys(1, "A", false), hinv(1, "00:15:5D:01:02:03", "127.3.7.20, fe80::1", mask24)}, ReasonVirtualMAC},
		{"vmware", []row{sys(1, "A", false), hinv(1, "00:50:56:01:02:03", "127.3.7.20, fe80::1", mask24)}, ReasonVirtualMAC},
		{"vmware 0c29", []row{sys(1, "A", false), hinv(1, "00:0C:29:01:02:03", "127.3.7.20, fe80::1", mask24)}, ReasonVirtualMAC},
		{"virtualbox", []row{sys(1, "A", false), hinv(1, "08:00:27:01:02:03", "127.3.7.20, fe80::1", mask24)}, ReasonVirtualMAC},
		{"ipv6 only", []row{sys(1, "A", false), hinv(1, "3C:52:82:01:02:03", "fe80::1", "64")}, ReasonIPv6Only},
		{"no address", []row{sys(1, "A", false), hinv(1, "3C:52:82:01:02:03", "", "")}, ReasonNoAddress},
		{"link-local only", []row{sys(1, "A", false), hinv(1, "3C:52:82:01:02:03", "169.254.7.7, fe80::1", "255.255.0.0, 64")}, ReasonNoAddress},
		{"address is network", []row{sys(1, "A", false), hinv(1, "3C:52:82:01:02:03", "127.3.7.0", "255.255.255.0")}, ReasonNoAddress},
		{"no data at all", []row{sys(1, "A", false)}, ReasonNoMACData},
		{"discovery MAC, no address", []row{sys(1, "A", false), raMAC(1, "3C:52:82:01:02:03")}, ReasonNoAddress},
		{"discovery ipv6 only", []row{sys(1, "A", false), raMAC(1, "3C:52:82:01:02:03"), raIP(1, "fe80::1")}, ReasonIPv6Only},
		{"discovery bad MAC", []row{sys(1, "A", false), raMAC(1, "junk"), raIP(1, "127.3.7.20")}, ReasonMalformedMAC},
		{"discovery addresses, no MAC", []row{sys(1, "A", false), raIP(1, "127.3.7.20"), raSub(1, "127.3.7.0")}, ReasonNoMACData},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tg := buildTargets(c.rows, Selection{})
			if len(tg.Hosts) != 1 {
				t.Fatalf("%d hosts", len(tg.Hosts))
			}
			h := tg.Hosts[0]
			if h.Skip != c.skip || len(h.NICs) != 0 {
				t.Fatalf("skip %q (%s), NICs %v; want %q", h.Skip, h.Detail, h.NICs, c.skip)
			}
		})
	}
}

func TestBuildTargetsDuplicates(t *testing.T) {
	t.Parallel()
	rows := []row{
		sys(1, "A", false), hinv(1, "3C:52:82:01:02:03", "127.3.7.20, fe80::1", "255.255.255.0, 64"),
		sys(2, "B", false), hinv(2, "3c-52-82-01-02-03", "127.3.8.20", "255.255.255.0"), // same MAC, other spelling
		sys(3, "C", false), hinv(3, "3C:52:82:01:02:04", "127.3.7.21", "255.255.255.0"),
		// D shares a MAC with A only through its second adapter; its first one is fine.
		sys(4, "D", false), hinv(4, "3C:52:82:01:02:05", "127.3.7.22", "255.255.255.0"), hinv(4, "3C:52:82:01:02:03", "127.3.9.22", "255.255.255.0"),
	}
	tg := buildTargets(rows, Selection{})
	for _, n := range []string{"A", "B"} {
		if h := host(tg, n); h == nil || h.Skip != ReasonDuplicateMAC || h.Skip.Class() != ClassNoMAC {
			t.Errorf("%s: %+v; want duplicate", n, h)
		}
	}
	if h := host(tg, "A"); h.SubnetHint != "127.3.7.0/24" {
		t.Errorf("A's subnet hint %q", h.SubnetHint)
	}
	if h := host(tg, "C"); h.Skip != "" || len(h.NICs) != 1 {
		t.Errorf("C: %+v", h)
	}
	if h := host(tg, "D"); h.Skip != "" || len(h.NICs) != 1 || h.NICs[0].MAC.String() != "3C:52:82:01:02:05" {
		t.Errorf("D: %+v", h)
	}
	// A duplicate counts even when the other machine is not selected.
	tg = buildTargets(rows, Selection{Hosts: []string{"a"}})
	if len(tg.Hosts) != 1 || tg.Hosts[0].Skip != ReasonDuplicateMAC {
		t.Errorf("host filter: %+v", tg.Hosts)
	}
}

func TestBuildTargetsNICs(t *testing.T) {
	t.Parallel()
	rows := []row{
		// Plain /24 with IPv6 paired by position.
		sys(1, "PC1", false), hinv(1, "3C:52:82:00:00:01", "127.3.7.20, fe80::1", "255.255.255.0, 64"),
		// /23, second address of the range.
		sys(2, "PC2", false), hinv(2, "3C:52:82:00:00:02", "127.3.9.20, fe80::2", "255.255.254.0, 64"),
		// Non-contiguous mask: unicast only, with the reason.
		sys(3, "PC3", false), hinv(3, "3C:52:82:00:00:03", "127.3.7.30, fe80::3", "255.0.255.0, 64"),
		// /31 and /32: unicast only.
		sys(4, "PC4", false), hinv(4, "3C:52:82:00:00:04", "127.3.10.5", "255.255.255.254"),
		sys(5, "PC5", false), hinv(5, "3C:52:82:00:00:05", "127.3.10.9", "255.255.255.255"),
		// Lists that do not pair: no mask trusted.
		sys(6, "PC6", false), hinv(6, "3C:52:82:00:00:06", "127.3.7.40, fe80::6", "255.255.255.0"),
		// Discovery only: the mask of 127.3.7.0 is learned from PC1's inventory.
		sys(7, "PC7", false), raMAC(7, "3C:52:82:00:00:07"), raIP(7, "127.3.7.50"), raIP(7, "fe80::7"), raIP(7, "169.254.1.1"), raSub(7, "127.3.7.0"),
		// Discovery only on a subnet no inventory describes: unicast only.
		sys(8, "PC8", false), raMAC(8, "3C:52:82:00:00:08"), raIP(8, "127.4.1.50"), raSub(8, "127.4.1.0"),
		// Two adapters, the second disabled one absent (IPEnabled filter is in SQL), Wi-Fi on another subnet.
		sys(9, "LT9", true), hinv(9, "3C:52:82:00:00:09", "127.3.7.60", "255.255.255.0"), hinv(9, "A4:C3:F0:00:00:09", "127.3.9.61", "255.255.254.0"),
	}
	tg := buildTargets(rows, Selection{})
	type want struct {
		subnet, broadcast string
		note              string
	}
	wants := map[string][]want{
		"PC1": {{"127.3.7.0/24", "127.3.7.255", ""}},
		"PC2": {{"127.3.8.0/23", "127.3.9.255", ""}},
		"PC3": {{"invalid Prefix", "invalid IP", "not contiguous"}},
		"PC4": {{"127.3.10.4/31", "invalid IP", "/31 has no directed broadcast"}},
		"PC5": {{"127.3.10.9/32", "invalid IP", "/32 has no directed broadcast"}},
		"PC6": {{"invalid Prefix", "invalid IP", "do not pair"}},
		"PC7": {{"127.3.7.0/24", "127.3.7.255", ""}},
		"PC8": {{"invalid Prefix", "invalid IP", "discovery data only"}},
		"LT9": {{"127.3.7.0/24", "127.3.7.255", ""}, {"127.3.8.0/23", "127.3.9.255", ""}},
	}
	for name, ws := range wants {
		h := host(tg, name)
		if h == nil || h.Skip != "" || len(h.NICs) != len(ws) {
			t.Errorf("%s: %+v", name, h)
			continue
		}
		for i, w := range ws {
			n := h.NICs[i]
			if n.Subnet.String() != w.subnet || n.Broadcast.String() != w.broadcast || !strings.Contains(n.Note, w.note) {
				t.Errorf("%s NIC %d: %s %s %q; want %s %s %q", name, i, n.Subnet, n.Broadcast, n.Note, w.subnet, w.broadcast, w.note)
			}
		}
	}
	if h := host(tg, "PC7"); h.NICs[0].Source != FromDiscovery || h.NICs[0].IP.String() != "127.3.7.50" {
		t.Errorf("PC7: %+v", h.NICs)
	}
	if h := host(tg, "LT9"); !h.Online {
		t.Error("LT9 online state lost")
	}
}

func TestBuildTargetsAmbiguousLearnedMask(t *testing.T) {
	t.Parallel()
	// Two inventories disagree about the prefix of 127.3.8.0: a discovery-only machine
	// there must not get a broadcast.
	rows := []row{
		sys(1, "A", false), hinv(1, "3C:52:82:00:00:01", "127.3.8.20", "255.255.255.0"),
		sys(2, "B", false), hinv(2, "3C:52:82:00:00:02", "127.3.8.21", "255.255.254.0"),
		sys(3, "C", false), raMAC(3, "3C:52:82:00:00:03"), raIP(3, "127.3.8.30"), raSub(3, "127.3.8.0"),
	}
	tg := buildTargets(rows, Selection{})
	if h := host(tg, "C"); h == nil || len(h.NICs) != 1 || h.NICs[0].Broadcast.IsValid() {
		t.Fatalf("C: %+v", h)
	}
}

func TestBuildTargetsFilters(t *testing.T) {
	t.Parallel()
	rows := []row{
		sys(1, "PC1", false), hinv(1, "3C:52:82:00:00:01", "127.3.7.20", "255.255.255.0"),
		sys(2, "PC2", false), hinv(2, "3C:52:82:00:00:02", "127.3.9.20", "255.255.254.0"),
		sys(3, "VM3", false), hinv(3, "00:15:5D:00:00:03", "127.3.7.30", "255.255.255.0"),
		sys(4, "PC4", false), hinv(4, "3C:52:82:00:00:04", "fe80::4", "64"),
	}
	tg := buildTargets(rows, Selection{Hosts: []string{"pc1", "PC2.lab.patchnight.test", "NOPE"}})
	if len(tg.Hosts) != 2 || tg.Hosts[0].Name != "PC1" || tg.Hosts[1].Name != "PC2" {
		t.Errorf("host filter: %+v", tg.Hosts)
	}
	if len(tg.NotFound) != 1 || tg.NotFound[0] != "NOPE" {
		t.Errorf("not found: %v", tg.NotFound)
	}
	tg = buildTargets(rows, Selection{Subnets: []netip.Prefix{netip.MustParsePrefix("127.3.7.0/24")}})
	if len(tg.Hosts) != 2 || host(tg, "PC1") == nil || host(tg, "VM3") == nil || host(tg, "VM3").Skip != ReasonVirtualMAC {
		t.Errorf("subnet filter: %+v", tg.Hosts)
	}
}

// FuzzBuildTargets feeds arbitrary inventory and discovery text through target building:
// it never panics, every host is either skipped with a reason or has NICs, and every
// planned destination is an IPv4 address of the NIC's own subnet (its broadcast) or the
// NIC's own address, never the limited broadcast.
func FuzzBuildTargets(f *testing.F) {
	f.Add("3C:52:82:00:00:01", "127.3.7.20, fe80::1", "255.255.255.0, 64", "127.3.7.30", "127.3.7.0")
	f.Add("00:15:5D:00:00:01", "127.3.7.20", "255.0.255.0", "fe80::1", "")
	f.Add("3C-52-82-00-00-01", "127.3.7.20,127.3.7.21", "255.255.255.254", "169.254.1.1", "x")
	f.Fuzz(func(t *testing.T, mac, ips, masks, raip, rasub string) {
		rows := []row{
			sys(1, "A", false), hinv(1, mac, ips, masks),
			sys(2, "B", true), raMAC(2, mac), raIP(2, raip), raSub(2, rasub),
			sys(3, "C", false), hinv(3, "3C:52:82:00:00:03", raip, masks),
		}
		tg := buildTargets(rows, Selection{})
		if len(tg.Hosts) != 3 {
			t.Fatalf("%d hosts", len(tg.Hosts))
		}
		o := DefaultOptions()
		o.All, o.WakeOnline = true, true
		for _, mode := range []Mode{ModeDirected, ModeUnicast, ModeAuto} {
			o.Mode = mode
			p, err := o.PlanTargets(tg)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range p.Subnets {
				for _, w := range g.Wakes {
					if !w.Dest.IsValid() {
						continue
					}
					if !w.Dest.Is4() || w.Dest.String() == "255.255.255.255" {
						t.Fatalf("destination %s", w.Dest)
					}
					if w.Dest != w.IP {
						pfx, err := netip.ParsePrefix(g.Subnet)
						if err != nil || !pfx.Contains(w.Dest) || !pfx.Contains(w.IP) {
							t.Fatalf("%s sends to %s for %s", g.Subnet, w.Dest, w.IP)
						}
					}
				}
			}
		}
		for _, h := range tg.Hosts {
			if (h.Skip == "") == (len(h.NICs) == 0) {
				t.Fatalf("host %+v", h)
			}
		}
	})
}

// Rows are grouped into machines as they stream in (issue 18): a machine whose rows do not
// arrive together is still one machine, and a MAC that one machine reports on two adapters
// is not a duplicate; a MAC that two machines report is, however the rows interleave.
func TestBuildTargetsGroupsInterleavedRows(t *testing.T) {
	t.Parallel()
	const mask = "255.255.255.0"
	rows := []row{
		sys(1, "A", false), hinv(1, "3C:52:82:01:02:03", "127.3.7.20", mask),
		sys(2, "B", false), hinv(2, "3C:52:82:01:02:09", "127.3.8.20", mask),
		hinv(1, "3C:52:82:01:02:03", "127.3.9.20", mask), // A again, after B: same MAC, second adapter
		sys(3, "C", false), hinv(3, "3C:52:82:01:02:0A", "127.3.7.21", mask),
		hinv(2, "3C:52:82:01:02:0A", "127.3.8.21", mask), // B again: C's MAC
	}
	tg := buildTargets(rows, Selection{})
	if len(tg.Hosts) != 3 {
		t.Fatalf("%d hosts, want 3: %+v", len(tg.Hosts), tg.Hosts)
	}
	if h := host(tg, "A"); h == nil || h.Skip != "" || len(h.NICs) != 2 {
		t.Errorf("A: %+v; want two NICs of one MAC, not a duplicate", h)
	}
	if h := host(tg, "C"); h == nil || h.Skip != ReasonDuplicateMAC {
		t.Errorf("C: %+v; want duplicate", h)
	}
	if h := host(tg, "B"); h == nil || h.Skip != "" || len(h.NICs) != 1 || h.NICs[0].MAC.String() != "3C:52:82:01:02:09" {
		t.Errorf("B: %+v; want its own MAC only", h)
	}
}
