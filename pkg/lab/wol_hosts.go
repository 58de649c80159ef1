package lab

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// LoadWakeHosts reads the wake listener's network model from a lab database: every lab
// adapter with a readable MAC, on the lab subnet (lab_subnet, the truth) its IPv4 address
// lies in. Inventory adapters come from lab_adapter; machines without inventory get their
// discovery MACs (lab_ra_mac) paired in order with their discovery IPv4 addresses. An
// adapter whose address is unknown is placed on its machine's primary subnet
// (lab_host.Subnet), reachable by that subnet's broadcast only.
func LoadWakeHosts(ctx context.Context, db *sql.DB) ([]WakeHost, error) {
	subnets := map[netip.Prefix]bool{}
	var lengths []int
	rows, err := db.QueryContext(ctx, `SELECT subnet_id, prefix_len FROM lab_subnet`)
	if err != nil {
		return nil, fmt.Errorf("read lab subnets: %w", err)
	}
	for rows.Next() {
		var id string
		var bits int
		if err := rows.Scan(&id, &bits); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read lab subnets: %w", err)
		}
		a, err := netip.ParseAddr(id)
		if err != nil || !a.Is4() || bits < 8 || bits > 32 {
			rows.Close()
			return nil, fmt.Errorf("lab subnet %q/%d is not an IPv4 prefix", id, bits)
		}
		p := netip.PrefixFrom(a, bits).Masked()
		subnets[p] = true
		if !slices.Contains(lengths, bits) {
			lengths = append(lengths, bits)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lab subnets: %w", err)
	}
	subnetOf := func(a netip.Addr) netip.Prefix {
		for _, bits := range lengths {
			if p := netip.PrefixFrom(a, bits).Masked(); subnets[p] {
				return p
			}
		}
		return netip.Prefix{}
	}
	primary := func(id string, bits sql.NullInt64) netip.Prefix {
		a, err := netip.ParseAddr(id)
		if err != nil || !bits.Valid {
			return netip.Prefix{}
		}
		return netip.PrefixFrom(a, int(bits.Int64)).Masked()
	}
	firstV4 := func(list string) netip.Addr {
		for s := range strings.SplitSeq(list, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil && a.Is4() {
				return a
			}
		}
		return netip.Addr{}
	}

	var hosts []WakeHost
	add := func(rid int64, name, macText string, ip netip.Addr, prim netip.Prefix) {
		mac, err := net.ParseMAC(strings.TrimSpace(macText))
		if err != nil || len(mac) != 6 {
			return // a malformed inventory MAC: no packet can name it
		}
		h := WakeHost{ResourceID: rid, Name: name, MAC: mac, IP: ip, Subnet: prim}
		if ip.IsValid() {
			if p := subnetOf(ip); p.IsValid() {
				h.Subnet = p
			}
		}
		hosts = append(hosts, h)
	}

	// Inventory adapters that are enabled (as the simulator wakes them).
	rows, err = db.QueryContext(ctx, `
SELECT h.ResourceID, h.Name, a.MACAddress, COALESCE(a.IPAddress, ''), h.Subnet, s.prefix_len
FROM lab_adapter a
JOIN lab_host h ON h.ResourceID = a.ResourceID
LEFT JOIN lab_subnet s ON s.subnet_id = h.Subnet
WHERE a.MACAddress IS NOT NULL AND a.IPEnabled = 1
ORDER BY a.ResourceID, a.AdapterIndex`)
	if err != nil {
		return nil, fmt.Errorf("read lab adapters: %w", err)
	}
	for rows.Next() {
		var rid int64
		var name, mac, ips, sub string
		var bits sql.NullInt64
		if err := rows.Scan(&rid, &name, &mac, &ips, &sub, &bits); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read lab adapters: %w", err)
		}
		add(rid, name, mac, firstV4(ips), primary(sub, bits))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lab adapters: %w", err)
	}

	// Machines without inventory: discovery MACs and IPv4 addresses, paired in order.
	type disc struct {
		name string
		prim netip.Prefix
		macs []string
		ips  []netip.Addr
	}
	byID := map[int64]*disc{}
	var order []int64
	rows, err = db.QueryContext(ctx, `
SELECT h.ResourceID, h.Name, h.Subnet, s.prefix_len, 'mac', m.MAC_Addresses0, m.rowid
FROM lab_ra_mac m
JOIN lab_host h ON h.ResourceID = m.ResourceID
LEFT JOIN lab_subnet s ON s.subnet_id = h.Subnet
WHERE NOT EXISTS (SELECT 1 FROM lab_adapter a WHERE a.ResourceID = m.ResourceID)
UNION ALL
SELECT h.ResourceID, h.Name, h.Subnet, s.prefix_len, 'ip', i.IP_Addresses0, i.rowid
FROM lab_ra_ip i
JOIN lab_host h ON h.ResourceID = i.ResourceID
LEFT JOIN lab_subnet s ON s.subnet_id = h.Subnet
WHERE NOT EXISTS (SELECT 1 FROM lab_adapter a WHERE a.ResourceID = i.ResourceID)
ORDER BY 1, 5, 7`)
	if err != nil {
		return nil, fmt.Errorf("read lab discovery data: %w", err)
	}
	for rows.Next() {
		var rid, rowid int64
		var name, sub, kind, val string
		var bits sql.NullInt64
		if err := rows.Scan(&rid, &name, &sub, &bits, &kind, &val, &rowid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read lab discovery data: %w", err)
		}
		d := byID[rid]
		if d == nil {
			d = &disc{name: name, prim: primary(sub, bits)}
			byID[rid] = d
			order = append(order, rid)
		}
		if kind == "mac" {
			d.macs = append(d.macs, val)
		} else if a, err := netip.ParseAddr(strings.TrimSpace(val)); err == nil && a.Is4() {
			d.ips = append(d.ips, a)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lab discovery data: %w", err)
	}
	for _, rid := range order {
		d := byID[rid]
		for k, mac := range d.macs {
			var ip netip.Addr
			if k < len(d.ips) {
				ip = d.ips[k]
			}
			add(rid, d.name, mac, ip, d.prim)
		}
	}
	return hosts, nil
}
