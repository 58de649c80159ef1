package wol

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParseMask(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		bits int
		err  error
	}{
		{"255.0.0.0", 8, nil},
		{"255.255.0.0", 16, nil},
		{"255.255.254.0", 23, nil},
		{" 255.255.255.0 ", 24, nil},
		{"255.255.255.128", 25, nil},
		{"255.255.255.192", 26, nil},
		{"255.255.255.252", 30, nil},
		{"255.255.255.254", 31, nil},
		{"255.255.255.255", 32, nil},
		{"255.0.255.0", 0, ErrNonContiguous},
		{"255.255.0.255", 0, ErrNonContiguous},
		{"255.255.255.64", 0, ErrNonContiguous},
		{"0.255.255.255", 0, ErrNonContiguous},
		{"254.0.0.0", 0, ErrShortMask},
		{"0.0.0.0", 0, ErrShortMask},
		{"64", 0, ErrBadMask},
		{"24", 0, ErrBadMask},
		{"ffff:ffff::", 0, ErrBadMask},
		{"255.255.255", 0, ErrBadMask},
		{"", 0, ErrBadMask},
	}
	for _, c := range cases {
		bits, err := ParseMask(c.in)
		if !errors.Is(err, c.err) || (c.err == nil && err != nil) || bits != c.bits {
			t.Errorf("ParseMask(%q) = %d, %v; want %d, %v", c.in, bits, err, c.bits, c.err)
		}
	}
}

func TestDirectedBroadcast(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ip, mask  string
		subnet    string
		broadcast string
		err       error
	}{
		{"10.20.30.40", "255.0.0.0", "10.0.0.0/8", "10.255.255.255", nil},
		{"172.16.5.4", "255.255.0.0", "172.16.0.0/16", "172.16.255.255", nil},
		{"127.3.6.20", "255.255.254.0", "127.3.6.0/23", "127.3.7.255", nil},
		{"127.3.7.20", "255.255.254.0", "127.3.6.0/23", "127.3.7.255", nil},
		{"127.3.7.20", "255.255.255.0", "127.3.7.0/24", "127.3.7.255", nil},
		{"127.3.7.20", "255.255.255.128", "127.3.7.0/25", "127.3.7.127", nil},
		{"127.3.7.200", "255.255.255.128", "127.3.7.128/25", "127.3.7.255", nil},
		{"127.3.7.70", "255.255.255.192", "127.3.7.64/26", "127.3.7.127", nil},
		{"127.3.7.5", "255.255.255.252", "127.3.7.4/30", "127.3.7.7", nil},
		{"127.3.7.5", "255.255.255.254", "127.3.7.4/31", "", ErrNoBroadcast},
		{"127.3.7.5", "255.255.255.255", "127.3.7.5/32", "", ErrNoBroadcast},
		{"127.3.7.5", "255.0.255.0", "", "", ErrNonContiguous},
		{"127.3.7.5", "254.0.0.0", "", "", ErrShortMask},
		{"127.3.7.0", "255.255.255.0", "", "", ErrBadHostIP},   // the network address
		{"127.3.7.255", "255.255.255.0", "", "", ErrBadHostIP}, // the broadcast address
		{"127.3.7.4", "255.255.255.252", "", "", ErrBadHostIP},
		{"169.254.3.4", "255.255.0.0", "", "", ErrBadHostIP},
		{"0.0.0.0", "255.255.255.0", "", "", ErrBadHostIP},
		{"224.0.0.1", "255.255.255.0", "", "", ErrBadHostIP},
		{"255.255.255.255", "255.255.255.0", "", "", ErrBadHostIP},
		{"fe80::1", "64", "", "", ErrBadHostIP},
	}
	for _, c := range cases {
		sn, bc, err := DirectedBroadcast(netip.MustParseAddr(c.ip), c.mask)
		if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Errorf("%s %s: error %v; want %v", c.ip, c.mask, err, c.err)
			continue
		}
		if c.subnet != "" && sn.String() != c.subnet {
			t.Errorf("%s %s: subnet %s; want %s", c.ip, c.mask, sn, c.subnet)
		}
		if c.subnet == "" && sn.IsValid() {
			t.Errorf("%s %s: subnet %s; want none", c.ip, c.mask, sn)
		}
		if (c.broadcast == "" && bc.IsValid()) || (c.broadcast != "" && bc.String() != c.broadcast) {
			t.Errorf("%s %s: broadcast %v; want %q", c.ip, c.mask, bc, c.broadcast)
		}
	}
}

func TestBroadcastRefusesShortAndIPv6(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"10.0.0.0/7", "0.0.0.0/0", "fe80::/64"} {
		if _, err := Broadcast(netip.MustParsePrefix(p)); err == nil {
			t.Errorf("Broadcast(%s) accepted", p)
		}
	}
}

func TestPairLists(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ips, masks string
		v4         []addrPair
		v6, notes  int
	}{
		{"127.3.7.20, fe80::1", "255.255.255.0, 64", []addrPair{{netip.MustParseAddr("127.3.7.20"), "255.255.255.0"}}, 1, 0},
		{"127.3.7.20,127.9.1.5,fe80::1", "255.255.255.0,255.255.254.0,64",
			[]addrPair{{netip.MustParseAddr("127.3.7.20"), "255.255.255.0"}, {netip.MustParseAddr("127.9.1.5"), "255.255.254.0"}}, 1, 0},
		{"fe80::1", "64", nil, 1, 0},
		{"127.3.7.20, fe80::1", "255.255.255.0", []addrPair{{netip.MustParseAddr("127.3.7.20"), ""}}, 1, 1},
		{"", "", nil, 0, 0},
		{"  ", "255.255.255.0", nil, 0, 0},
		{"not-an-ip, fe80::1", "255.255.255.0, 64", nil, 1, 1},
	}
	for _, c := range cases {
		v4, v6, notes := pairLists(c.ips, c.masks)
		if len(v4) != len(c.v4) || v6 != c.v6 || len(notes) != c.notes {
			t.Errorf("pairLists(%q, %q) = %v, %d, %q", c.ips, c.masks, v4, v6, notes)
			continue
		}
		for i := range v4 {
			if v4[i] != c.v4[i] {
				t.Errorf("pairLists(%q, %q)[%d] = %v; want %v", c.ips, c.masks, i, v4[i], c.v4[i])
			}
		}
	}
}

func TestParseSubnet(t *testing.T) {
	t.Parallel()
	if p, err := ParseSubnet(" 127.3.7.9/24 "); err != nil || p.String() != "127.3.7.0/24" {
		t.Fatalf("ParseSubnet = %v, %v", p, err)
	}
	for _, s := range []string{"127.3.7.0", "127.3.7.0/33", "fe80::/64", "10.0.0.0/4", "x/24", ""} {
		if _, err := ParseSubnet(s); err == nil {
			t.Errorf("ParseSubnet(%q) accepted", s)
		}
	}
}

// FuzzDirectedBroadcast: for any address and lists, the pairing and the broadcast never
// panic, and every broadcast returned lies in the adapter's subnet, is that subnet's last
// address, and is not the adapter's own address.
func FuzzDirectedBroadcast(f *testing.F) {
	f.Add("127.3.7.20, fe80::1", "255.255.255.0, 64")
	f.Add("10.0.0.1", "255.255.255.254")
	f.Add("10.0.0.1,10.0.0.2", "255.0.255.0")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, ips, masks string) {
		v4, _, _ := pairLists(ips, masks)
		for _, x := range v4 {
			sn, bc, err := DirectedBroadcast(x.IP, x.Mask)
			if err != nil {
				if bc.IsValid() {
					t.Fatalf("error %v with a broadcast %s", err, bc)
				}
				continue
			}
			if !sn.Contains(x.IP) || !sn.Contains(bc) || bc == x.IP || sn.Bits() < MinPrefix || sn.Bits() > 30 {
				t.Fatalf("%s/%s: subnet %s broadcast %s", x.IP, x.Mask, sn, bc)
			}
			if next := bc.Next(); sn.Contains(next) {
				t.Fatalf("%s is not the last address of %s", bc, sn)
			}
		}
	})
}
