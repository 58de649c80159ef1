package lab

import (
	"bytes"
	"context"
	"database/sql"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testWaker stands in for the simulator: it records calls and wakes each MAC once, unless
// the MAC's NIC has Wake-on-LAN disabled.
type testWaker struct {
	mu       sync.Mutex
	calls    map[string]int
	on       map[string]bool
	disabled map[string]bool
}

func newTestWaker(disabled ...string) *testWaker {
	w := &testWaker{calls: map[string]int{}, on: map[string]bool{}, disabled: map[string]bool{}}
	for _, m := range disabled {
		w.disabled[m] = true
	}
	return w
}

func (w *testWaker) WakeMAC(_ context.Context, mac net.HardwareAddr) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := mac.String()
	w.calls[k]++
	if w.disabled[k] || w.on[k] {
		return false, nil
	}
	w.on[k] = true
	return true, nil
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// magic builds a magic packet by hand, independently of the code under test.
func magic(mac net.HardwareAddr, pw []byte) []byte {
	b := bytes.Repeat([]byte{0xFF}, 6)
	for range 16 {
		b = append(b, mac...)
	}
	return append(b, pw...)
}

func udpTo(ip string, port int) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port)))
}

func TestWakeListenerNetworkModel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	macA := mustMAC(t, "3c:52:82:00:00:0a")
	macB := mustMAC(t, "3c:52:82:00:00:0b")
	macC := mustMAC(t, "3c:52:82:00:00:0c")
	macD := mustMAC(t, "3c:52:82:00:00:0d")
	macE := mustMAC(t, "3c:52:82:00:00:0e")
	pw4 := []byte{1, 2, 3, 4}
	pw6 := []byte{1, 2, 3, 4, 5, 6}
	hosts := []WakeHost{
		{ResourceID: 1, Name: "A", MAC: macA, IP: netip.MustParseAddr("127.3.7.20"), Subnet: netip.MustParsePrefix("127.3.7.0/24")},
		{ResourceID: 2, Name: "B", MAC: macB, IP: netip.MustParseAddr("127.3.9.20"), Subnet: netip.MustParsePrefix("127.3.8.0/23")},
		{ResourceID: 3, Name: "C", MAC: macC, IP: netip.MustParseAddr("127.3.10.5"), Subnet: netip.MustParsePrefix("127.3.10.0/26"), Password: pw4},
		{ResourceID: 4, Name: "D", MAC: macD, IP: netip.MustParseAddr("127.3.10.6"), Subnet: netip.MustParsePrefix("127.3.10.0/26"), Password: pw6},
		{ResourceID: 5, Name: "E", MAC: macE, IP: netip.MustParseAddr("127.3.7.30"), Subnet: netip.MustParsePrefix("127.3.7.0/24")},
	}
	w := newTestWaker(macE.String())
	l, err := NewWakeListener(ctx, w, hosts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	r := l.Redirect(sock)
	sent := time.Now()

	sends := []struct {
		pkt []byte
		dst string
	}{
		{magic(macA, nil), "127.3.7.255"}, // directed: delivered, woke
		{magic(macA, nil), "127.3.7.20"},  // unicast: delivered (already on)
		{magic(macA, nil), "127.3.9.255"}, // another subnet's broadcast: misdirected
		{magic(macA, nil), "127.3.7.254"}, // someone else's address: misdirected
		{magic(macA, nil), "127.3.7.127"}, // a /25 broadcast inside the /24: misdirected
		{magic(macB, nil), "127.3.9.255"}, // /23 broadcast: delivered, woke
		{magic(macC, nil), "127.3.10.63"}, // password missing: bad password
		{magic(macC, []byte{9, 9, 9, 9}), "127.3.10.63"},
		{magic(macC, pw4), "127.3.10.63"},                            // delivered, woke
		{magic(macD, pw6), "127.3.10.6"},                             // delivered (unicast), woke
		{magic(macE, nil), "127.3.7.255"},                            // delivered, WoL disabled: no wake
		{magic(mustMAC(t, "3c:52:82:99:99:99"), nil), "127.3.7.255"}, // unknown MAC
		{[]byte("not a magic packet"), "127.3.7.255"},
		{magic(macA, nil)[:101], "127.3.7.255"},
		{magic(macA, []byte{1, 2, 3}), "127.3.7.255"}, // password of a length no NIC takes
	}
	for _, s := range sends {
		if _, err := r.WriteTo(s.pkt, udpTo(s.dst, 9)); err != nil {
			t.Fatal(err)
		}
	}
	// A packet that did not pass through Redirect reaches the listener as sent to
	// 127.0.0.1, which is no lab subnet: misdirected.
	if _, err := sock.WriteTo(magic(macA, nil), l.Addr()); err != nil {
		t.Fatal(err)
	}
	// In-process delivery, as the lab's relay uses.
	l.Deliver(magic(macA, nil), netip.MustParseAddr("127.3.7.255"))

	total := len(sends) + 2
	if err := l.WaitFor(ctx, func(s WakeStats) bool { return s.Received == total && s.Pending == 0 }); err != nil {
		t.Fatalf("%v; stats %+v", err, l.Stats())
	}
	s := l.Stats()
	want := WakeStats{Received: total, Valid: 14, Invalid: 3, Unknown: 1, Misdirected: 4, BadPassword: 2, Delivered: 7, Woke: 4}
	if s.Valid != want.Valid || s.Invalid != want.Invalid || s.Unknown != want.Unknown || s.Misdirected != want.Misdirected ||
		s.BadPassword != want.BadPassword || s.Delivered != want.Delivered || s.Woke != want.Woke || s.WakeErrors != 0 {
		t.Fatalf("stats %+v\nwant %+v", s, want)
	}
	sn := s.Subnets[netip.MustParsePrefix("127.3.7.0/24")]
	if sn.Packets != 10 || sn.Delivered != 4 || sn.Misdirected != 2 || sn.Woke != 1 {
		t.Errorf("127.3.7.0/24: %+v", sn)
	}
	if sn := s.Subnets[netip.MustParsePrefix("127.3.10.0/26")]; sn.Packets != 4 || sn.Delivered != 2 || sn.Woke != 2 {
		t.Errorf("127.3.10.0/26: %+v", sn)
	}
	if w.calls[macE.String()] != 1 || w.on[macE.String()] {
		t.Errorf("E (WoL disabled): calls %d", w.calls[macE.String()])
	}
	// WokeAt: the machines a wake woke, with the time it did; none for the others.
	for _, tc := range []struct {
		mac  net.HardwareAddr
		woke bool
	}{{macA, true}, {macB, true}, {macC, true}, {macD, true}, {macE, false}, {mustMAC(t, "3c:52:82:99:99:99"), false}} {
		at, ok := l.WokeAt(tc.mac)
		if ok != tc.woke || ok && (at.Before(sent) || at.After(time.Now())) {
			t.Errorf("WokeAt(%s) = %v, %v; want woke %v after %v", tc.mac, at, ok, tc.woke, sent)
		}
	}
}

func TestWakeListenerRefusesBadHosts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := NewWakeListener(ctx, nil, nil); err == nil {
		t.Error("nil waker accepted")
	}
	if _, err := NewWakeListener(ctx, newTestWaker(), []WakeHost{{Name: "X", MAC: net.HardwareAddr{1, 2, 3}}}); err == nil {
		t.Error("3-byte MAC accepted")
	}
	if _, err := NewWakeListener(ctx, newTestWaker(), []WakeHost{{Name: "X", MAC: mustMAC(t, "3c:52:82:00:00:01"), Password: []byte{1}}}); err == nil {
		t.Error("1-byte password accepted")
	}
}

func TestMaxInWindow(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := NewWakeListener(ctx, newTestWaker(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sn := netip.MustParsePrefix("127.3.7.0/24")
	t0 := time.Date(2026, 12, 8, 18, 0, 0, 0, time.UTC)
	var ts []time.Time
	for i := range 50 { // 50 at 20 ms: exactly 50 in [0, 1s)
		ts = append(ts, t0.Add(time.Duration(i)*20*time.Millisecond))
	}
	ts = append(ts, t0.Add(time.Second)) // the 51st at exactly 1 s: not in [0, 1s)
	// Shuffled order, as concurrent writers may record them.
	ts[3], ts[40] = ts[40], ts[3]
	l.mu.Lock()
	l.arrivals[sn] = ts
	l.mu.Unlock()
	if got := l.MaxInWindow(sn, time.Second); got != 50 {
		t.Fatalf("MaxInWindow = %d; want 50", got)
	}
	l.mu.Lock()
	l.arrivals[sn] = append(l.arrivals[sn], t0.Add(999*time.Millisecond))
	l.mu.Unlock()
	if got := l.MaxInWindow(sn, time.Second); got != 51 {
		t.Fatalf("MaxInWindow = %d; want 51", got)
	}
	if got := l.MaxInWindow(netip.MustParsePrefix("127.9.9.0/24"), time.Second); got != 0 {
		t.Fatalf("empty subnet: %d", got)
	}
}

func TestBroadcastOf(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]string{
		"127.3.7.0/24": "127.3.7.255", "127.3.6.0/23": "127.3.7.255", "127.3.7.128/25": "127.3.7.255",
		"127.3.7.64/26": "127.3.7.127", "10.0.0.0/8": "10.255.255.255", "127.3.7.4/30": "127.3.7.7",
	} {
		if got := broadcastOf(netip.MustParsePrefix(p)); got.String() != want {
			t.Errorf("broadcastOf(%s) = %s; want %s", p, got, want)
		}
	}
}

// TestLoadWakeHosts reads the model from a lab database built from schema.sql: inventory
// adapters on their true subnet whatever their inventory mask says, discovery MACs paired
// with discovery addresses, malformed MACs and disabled adapters left out (as the
// simulator ignores them).
func TestLoadWakeHosts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "lab.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	create, _ := schemaParts()
	stmts := append(create,
		`INSERT INTO lab_subnet VALUES ('127.3.7.0', 24, 'X'), ('127.3.8.0', 23, 'X'), ('127.3.10.0', 26, 'X')`,
		`INSERT INTO lab_host (ResourceID, Name, Domain, SMSGuid, Location, Subnet, FormFactor, Model, Manufacturer,
		   OSName, Build, IsClient, Active, ClientCheckPass, Power, WolEnabled) VALUES
		 (1, 'PC1', 'LAB', 'g1', 'X', '127.3.7.0', 'desktop', 'm', 'v', 'os', '10.0.19045', 1, 1, 1, 'off', 1),
		 (2, 'PC2', 'LAB', 'g2', 'X', '127.3.8.0', 'desktop', 'm', 'v', 'os', '10.0.19045', 1, 1, 1, 'off', 1),
		 (3, 'PC3', 'LAB', 'g3', 'X', '127.3.10.0', 'desktop', 'm', 'v', 'os', '10.0.19045', 0, 0, 2, 'off', 1),
		 (4, 'PC4', 'LAB', 'g4', 'X', '127.3.7.0', 'desktop', 'm', 'v', 'os', '10.0.19045', 1, 1, 1, 'off', 1)`,
		`INSERT INTO lab_adapter VALUES
		 (1, 1, '3C:52:82:00:00:01', '127.3.7.20, fe80::1', '255.255.255.255, 64', '127.3.7.1', 1),
		 (1, 2, 'A4:C3:F0:00:00:01', NULL, NULL, NULL, 0),
		 (2, 1, '3C:52:82:00:00:02', '127.3.9.20, fe80::2', '255.255.254.0, 64', '127.3.8.1', 1),
		 (4, 1, '3C:52:82:00:00', '127.3.7.40', '255.255.255.0', '127.3.7.1', 1)`,
		`INSERT INTO lab_ra_mac VALUES (3, '3C:52:82:00:00:03'), (3, 'A4:C3:F0:00:00:03'), (3, '00:E0:4C:00:00:03')`,
		`INSERT INTO lab_ra_ip VALUES (3, '127.3.10.5'), (3, 'fe80::3'), (3, '127.3.9.77')`,
	)
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
	}
	hosts, err := LoadWakeHosts(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]WakeHost{}
	for _, h := range hosts {
		got[h.MAC.String()] = h
	}
	want := map[string][2]string{ // MAC -> IP, subnet
		"3c:52:82:00:00:01": {"127.3.7.20", "127.3.7.0/24"}, // inventory says /32; truth is /24
		"3c:52:82:00:00:02": {"127.3.9.20", "127.3.8.0/23"},
		"3c:52:82:00:00:03": {"127.3.10.5", "127.3.10.0/26"}, // discovery only

		"a4:c3:f0:00:00:03": {"127.3.9.77", "127.3.8.0/23"},
		"00:e0:4c:00:00:03": {"invalid IP", "127.3.10.0/26"}, // no address of its own: the primary subnet
	}
	if len(got) != len(want) {
		t.Fatalf("hosts %+v", hosts)
	}
	for mac, w := range want {
		h, ok := got[mac]
		if !ok || h.IP.String() != w[0] || h.Subnet.String() != w[1] {
			t.Errorf("%s: %+v; want %v", mac, h, w)
		}
	}
}
