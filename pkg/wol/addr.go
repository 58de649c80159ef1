package wol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Errors of the address helpers, for errors.Is.
var (
	ErrBadMask       = errors.New("not an IPv4 subnet mask")
	ErrNonContiguous = errors.New("subnet mask is not contiguous")
	ErrShortMask     = errors.New("subnet mask is shorter than /8")
	ErrNoBroadcast   = errors.New("no directed broadcast on a /31 or /32")
	ErrBadHostIP     = errors.New("not a usable IPv4 host address")
)

// MinPrefix is the shortest prefix accepted for a directed broadcast. Anything shorter is
// corrupt inventory, and a directed broadcast there would address a huge range.
const MinPrefix = 8

// ParseMask reads an IPv4 subnet mask in dotted form ("255.255.254.0") and returns its
// prefix length. It refuses non-contiguous masks (ErrNonContiguous, e.g. 255.0.255.0),
// masks shorter than /8 (ErrShortMask) and anything that is not a dotted IPv4 mask
// (ErrBadMask; an IPv6 prefix length such as "64" is not an IPv4 mask).
func ParseMask(s string) (int, error) {
	t := strings.TrimSpace(s)
	a, err := netip.ParseAddr(t)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("%w: %q", ErrBadMask, clip(s))
	}
	b := a.As4()
	m := binary.BigEndian.Uint32(b[:])
	inv := ^m
	if inv&(inv+1) != 0 { // the host part must be 0...01...1
		return 0, fmt.Errorf("%w: %s", ErrNonContiguous, t)
	}
	bits := 32
	for inv != 0 {
		inv >>= 1
		bits--
	}
	if bits < MinPrefix {
		return 0, fmt.Errorf("%w: %s", ErrShortMask, t)
	}
	return bits, nil
}

// Broadcast returns the subnet-directed broadcast of the IPv4 prefix p,
// (IP AND mask) OR NOT mask. A /31 or /32 has none (ErrNoBroadcast); prefixes shorter than
// MinPrefix are refused (ErrShortMask).
func Broadcast(p netip.Prefix) (netip.Addr, error) {
	if !p.IsValid() || !p.Addr().Is4() {
		return netip.Addr{}, fmt.Errorf("%w: %s", ErrBadMask, p)
	}
	bits := p.Bits()
	switch {
	case bits >= 31:
		return netip.Addr{}, fmt.Errorf("%w (/%d)", ErrNoBroadcast, bits)
	case bits < MinPrefix:
		return netip.Addr{}, fmt.Errorf("%w (/%d)", ErrShortMask, bits)
	}
	a := p.Addr().As4()
	ip := binary.BigEndian.Uint32(a[:])
	mask := ^uint32(0) << (32 - bits)
	binary.BigEndian.PutUint32(a[:], (ip&mask)|^mask)
	return netip.AddrFrom4(a), nil
}

// DirectedBroadcast computes, for an adapter address and its dotted mask, the subnet
// (masked prefix) and its directed broadcast. It fails on a bad or unusable mask, on /31
// and /32 (ErrNoBroadcast: the prefix is still returned, so the caller may unicast), and
// on an address that cannot be a host of that subnet (ErrBadHostIP: the network or the
// broadcast address itself).
func DirectedBroadcast(ip netip.Addr, mask string) (netip.Prefix, netip.Addr, error) {
	if err := checkHostIP(ip); err != nil {
		return netip.Prefix{}, netip.Addr{}, err
	}
	bits, err := ParseMask(mask)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, err
	}
	p := netip.PrefixFrom(ip, bits).Masked()
	bc, err := Broadcast(p)
	if err != nil {
		return p, netip.Addr{}, err
	}
	if ip == p.Addr() || ip == bc {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("%w: %s is the network or broadcast address of %s", ErrBadHostIP, ip, p)
	}
	return p, bc, nil
}

// checkHostIP refuses addresses that no adapter can be reached at: not IPv4, unspecified,
// link-local (169.254/16, APIPA), multicast, the limited broadcast. Loopback is accepted:
// the lab maps every address to 127.0.0.0/8, and real inventory never reports it.
func checkHostIP(ip netip.Addr) error {
	switch {
	case !ip.Is4():
		return fmt.Errorf("%w: %s is not IPv4", ErrBadHostIP, ip)
	case ip.IsUnspecified(), ip.IsLinkLocalUnicast(), ip.IsMulticast(),
		ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%w: %s", ErrBadHostIP, ip)
	}
	return nil
}

// addrPair is one entry of an adapter's address list paired by position with its mask.
type addrPair struct {
	IP   netip.Addr
	Mask string // "" when the lists do not pair
}

// pairLists splits IPAddress0 and IPSubnet0 (comma lists, IPv4 first then IPv6, e.g.
// "10.1.2.3, fe80::1" and "255.255.255.0, 64") and pairs them by position. It returns the
// IPv4 entries with their masks, how many IPv6 entries there were, and notes on entries it
// could not read. When the two lists differ in length, no mask is trusted (Mask "").
// That the lists pair by position is inferred, not documented (configmgr.md section 7,
// "inputs"): `patchnight doctor` (check adapter-masks) tests it on a site's inventory.
func pairLists(ips, masks string) (v4 []addrPair, v6 int, notes []string) {
	return appendPairs(nil, ips, masks)
}

// appendPairs is pairLists appending the IPv4 entries to v4: with a buffer on the
// caller's stack, reading an adapter allocates nothing.
func appendPairs(v4 []addrPair, ips, masks string) (_ []addrPair, v6 int, notes []string) {
	var ib, mb [8]string
	il := appendList(ib[:0], ips)
	ml := appendList(mb[:0], masks)
	pair := len(il) == len(ml)
	if !pair && len(il) > 0 {
		notes = append(notes, fmt.Sprintf("address and mask lists differ in length (%d and %d): masks ignored", len(il), len(ml)))
	}
	for i, s := range il {
		a, err := netip.ParseAddr(s)
		if err != nil {
			notes = append(notes, fmt.Sprintf("address %q does not parse", clip(s)))
			continue
		}
		if !a.Is4() {
			v6++
			continue
		}
		p := addrPair{IP: a}
		if pair {
			p.Mask = ml[i]
		}
		v4 = append(v4, p)
	}
	return v4, v6, notes
}

// appendList appends the entries of a comma list to dst, trimmed; an empty or blank
// string is no entries.
func appendList(dst []string, s string) []string {
	if strings.TrimSpace(s) == "" {
		return dst
	}
	for part := range strings.SplitSeq(s, ",") {
		dst = append(dst, strings.TrimSpace(part))
	}
	return dst
}

// ParseSubnet reads a subnet in CIDR form (10.1.2.0/24). The address must be IPv4 and is
// masked; prefixes shorter than MinPrefix are refused.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("subnet %q is not an IPv4 CIDR like 10.1.2.0/24", clip(s))
	}
	if p.Bits() < MinPrefix {
		return netip.Prefix{}, fmt.Errorf("subnet %s is shorter than /%d", p, MinPrefix)
	}
	return p.Masked(), nil
}
