package wol

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
)

// recWaker stands in for the lab simulator behind the listener: it wakes every MAC once,
// except those with Wake-on-LAN disabled.
type recWaker struct {
	mu       sync.Mutex
	woke     map[string]bool
	disabled map[string]bool
}

func (w *recWaker) WakeMAC(_ context.Context, mac net.HardwareAddr) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := mac.String()
	if w.disabled[k] || w.woke[k] {
		return false, nil
	}
	w.woke[k] = true
	return true, nil
}

// fleet is a synthetic estate: n hosts on each of the given /24 subnets, with MACs
// 3C:52:82:ss:hh:hh. It returns the inventory rows and the listener's model of the same
// machines.
func fleet(n int, subnets ...string) ([]row, []lab.WakeHost) {
	var rows []row
	var hosts []lab.WakeHost
	id := int64(1)
	for si, s := range subnets {
		p := netip.MustParsePrefix(s)
		a := p.Addr().As4()
		for k := range n {
			ip := netip.AddrFrom4([4]byte{a[0], a[1], a[2], byte(10 + k)})
			mac := MAC{0x3C, 0x52, 0x82, byte(si), byte(k >> 8), byte(k)}
			name := fmt.Sprintf("PC-%d-%03d", si, k)
			rows = append(rows, sys(id, name, false), hinv(id, mac.String(), ip.String()+", fe80::1", "255.255.255.0, 64"))
			hosts = append(hosts, lab.WakeHost{ResourceID: id, Name: name, MAC: mac.HardwareAddr(), IP: ip, Subnet: p})
			id++
		}
	}
	return rows, hosts
}

// labNet starts the lab's wake listener and the product socket redirected to it.
func labNet(t *testing.T, ctx context.Context, hosts []lab.WakeHost, w lab.Waker) (*lab.WakeListener, PacketConn) {
	t.Helper()
	l, err := lab.NewWakeListener(ctx, w, hosts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conn, err := Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return l, l.Redirect(conn)
}

// TestSendSubnetCap is the pacing acceptance: with a per-subnet cap of R packets/s, no
// subnet receives more than R packets in any one-second window, as the lab listener
// measures it. Two subnets of 100 machines at R = 50 take about two seconds.
func TestSendSubnetCap(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const R = 50
	subnets := []string{"127.3.7.0/24", "127.3.8.0/24"}
	rows, hosts := fleet(100, subnets...)
	w := &recWaker{woke: map[string]bool{}}
	l, conn := labNet(t, ctx, hosts, w)

	o := DefaultOptions()
	o.All, o.SubnetRate, o.Rate, o.Repeat, o.Batch, o.Spacing, o.BatchPause = true, R, 1000, 1, 1000, 0, 0
	p, err := o.PlanTargets(buildTargets(rows, Selection{}))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Send(ctx, p, Transports{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Local != 200 || rep.Failed() != 0 {
		t.Fatalf("report: local %d, failed %d", rep.Local, rep.Failed())
	}
	if err := l.WaitFor(ctx, func(s lab.WakeStats) bool { return s.Received == 200 && s.Pending == 0 }); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Delivered != 200 || st.Misdirected != 0 || st.Invalid != 0 || st.Woke != 200 {
		t.Fatalf("listener: %+v", st)
	}
	for _, s := range subnets {
		sn := netip.MustParsePrefix(s)
		if got := l.MaxInWindow(sn, time.Second); got > R {
			t.Errorf("%s received %d packets in one second; cap %d", s, got, R)
		} else {
			t.Logf("%s: at most %d packets in any one-second window (cap %d)", s, got, R)
		}
		if st.Subnets[sn].Delivered != 100 {
			t.Errorf("%s: %+v", s, st.Subnets[sn])
		}
	}
}

// orderConn records the order of packets and their destinations, and forwards each to a
// plain UDP socket on loopback.
type orderConn struct {
	conn *net.UDPConn
	to   *net.UDPAddr
	mu   sync.Mutex
	seq  []string // "MAC>dest"
}

func (c *orderConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m MAC
	copy(m[:], b[6:12])
	c.seq = append(c.seq, m.String()[12:]+">"+addr.(*net.UDPAddr).IP.String())
	return c.conn.WriteTo(b, c.to)
}

// TestSendBatchesAndRepeats: each batch goes out Repeat rounds before the next batch.
func TestSendBatchesAndRepeats(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, _ := fleet(5, "127.3.7.0/24")
	conn, err := Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cap := capture(t)
	oc := &orderConn{conn: conn, to: cap.LocalAddr().(*net.UDPAddr)}

	o := DefaultOptions()
	o.All, o.Repeat, o.Batch, o.Spacing, o.BatchPause, o.SubnetRate = true, 3, 2, 5*time.Millisecond, 10*time.Millisecond, 1000
	p, err := o.PlanTargets(buildTargets(rows, Selection{}))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var streamed []HostSend
	rep, err := Send(ctx, p, Transports{Conn: oc, OnHost: func(h HostSend) { mu.Lock(); streamed = append(streamed, h); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	h := func(k int) string { return fmt.Sprintf("00:%02X>127.3.7.255", k) }
	want := []string{
		h(0), h(1), h(0), h(1), h(0), h(1), // batch 1, three rounds
		h(2), h(3), h(2), h(3), h(2), h(3), // batch 2
		h(4), h(4), h(4), // batch 3
	}
	if !slices.Equal(oc.seq, want) {
		t.Fatalf("sequence\n%v\nwant\n%v", oc.seq, want)
	}
	if len(rep.Hosts) != 5 || len(streamed) != 5 {
		t.Fatalf("hosts %d, streamed %d", len(rep.Hosts), len(streamed))
	}
	for _, hs := range rep.Hosts {
		if hs.Packets != 3 || hs.Error != "" || hs.Method != MethodDirected {
			t.Errorf("%+v", hs)
		}
	}
}

// relayFunc adapts a function to Relayer.
type relayFunc func(ctx context.Context, via string, req RelayRequest) (int, error)

func (f relayFunc) Relay(ctx context.Context, via string, req RelayRequest) (int, error) {
	return f(ctx, via, req)
}

// TestSendAutoThroughLab runs a mixed auto plan against the lab network: a subnet with an
// online client is relayed (the relay delivers in process, as the lab's answer to
// wol-relay.ps1 will), another gets directed broadcasts, a /32 host unicast. Nothing is
// misdirected, and exactly the machines with Wake-on-LAN enabled wake.
func TestSendAutoThroughLab(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, hosts := fleet(4, "127.3.7.0/24", "127.3.8.0/24")
	// An online client on 127.3.7.0/24 that can relay.
	rows = append(rows, sys(100, "RELAY", true), hinv(100, "3C:52:82:77:00:01", "127.3.7.200", "255.255.255.0"))
	// A /32 host on 127.3.9.0/24 (truth), reachable unicast only.
	mac32 := MAC{0x3C, 0x52, 0x82, 0x99, 0, 1}
	rows = append(rows, sys(101, "P32", false), hinv(101, mac32.String(), "127.3.9.20", "255.255.255.255"))
	hosts = append(hosts, lab.WakeHost{ResourceID: 101, Name: "P32", MAC: mac32.HardwareAddr(),
		IP: netip.MustParseAddr("127.3.9.20"), Subnet: netip.MustParsePrefix("127.3.9.0/24")})
	disabled := map[string]bool{hosts[1].MAC.String(): true, hosts[5].MAC.String(): true}
	w := &recWaker{woke: map[string]bool{}, disabled: disabled}
	l, conn := labNet(t, ctx, hosts, w)

	var mu sync.Mutex
	var reqs []RelayRequest
	relay := relayFunc(func(ctx context.Context, via string, req RelayRequest) (int, error) {
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		if via != "RELAY" {
			return 0, fmt.Errorf("unknown relay %s", via)
		}
		bc := netip.MustParseAddr(req.Broadcast)
		n := 0
		for range req.Repeat {
			for _, s := range req.MACs {
				m, err := ParseMAC(s)
				if err != nil {
					return n, err
				}
				pkt, _ := Packet(m, nil)
				l.Deliver(pkt, bc)
				n++
			}
		}
		return n, nil
	})

	o := DefaultOptions()
	o.All, o.Mode, o.Repeat, o.Spacing, o.BatchPause, o.SubnetRate = true, ModeAuto, 2, 0, 0, 1000
	p, err := o.PlanTargets(buildTargets(rows, Selection{}))
	if err != nil {
		t.Fatal(err)
	}
	if g := subnetPlan(p, "127.3.7.0/24"); g == nil || g.Method != MethodRelay {
		t.Fatalf("127.3.7.0/24 plan: %+v", g)
	}
	if g := subnetPlan(p, "127.3.8.0/24"); g == nil || g.Method != MethodDirected {
		t.Fatalf("127.3.8.0/24 plan: %+v", g)
	}
	rep, err := Send(ctx, p, Transports{Conn: conn, Relayer: relay})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Relayed != 8 || rep.Local != 10 || rep.Failed() != 0 {
		t.Fatalf("report: relayed %d local %d failed %d", rep.Relayed, rep.Local, rep.Failed())
	}
	if len(reqs) != 1 || len(reqs[0].MACs) != 4 || reqs[0].Broadcast != "127.3.7.255" || reqs[0].Port != DefaultPort ||
		reqs[0].Repeat != 2 || reqs[0].IntervalMS != 1 {
		t.Fatalf("relay requests %+v", reqs)
	}
	if err := l.WaitFor(ctx, func(s lab.WakeStats) bool { return s.Received == 18 && s.Pending == 0 }); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Misdirected != 0 || st.Delivered != 18 || st.Woke != 7 {
		t.Fatalf("listener %+v", st)
	}
	for _, h := range hosts {
		if want := !disabled[h.MAC.String()]; w.woke[h.MAC.String()] != want {
			t.Errorf("%s woke %v; want %v", h.Name, w.woke[h.MAC.String()], want)
		}
	}
}

func TestSendRelayFailures(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, _ := fleet(3, "127.3.7.0/24")
	rows = append(rows, sys(100, "R1", true), hinv(100, "3C:52:82:77:00:01", "127.3.7.200", "255.255.255.0"),
		sys(101, "R2", true), hinv(101, "3C:52:82:77:00:02", "127.3.7.201", "255.255.255.0"))
	var mu sync.Mutex
	var tried []string
	broken := relayFunc(func(_ context.Context, via string, _ RelayRequest) (int, error) {
		mu.Lock()
		tried = append(tried, via)
		mu.Unlock()
		return 0, errors.New("WinRM: connection refused")
	})
	for _, mode := range []Mode{ModeAuto, ModeRelay} {
		tried = nil
		conn, err := Listen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cap := capture(t)
		oc := &orderConn{conn: conn, to: cap.LocalAddr().(*net.UDPAddr)}
		o := DefaultOptions()
		o.All, o.Mode, o.Repeat, o.Spacing, o.SubnetRate = true, mode, 1, 0, 1000
		p, err := o.PlanTargets(buildTargets(rows, Selection{}))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Send(ctx, p, Transports{Conn: oc, Relayer: broken})
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tried, []string{"R1", "R2"}) {
			t.Errorf("%s: relays tried %v", mode, tried)
		}
		switch mode {
		case ModeAuto: // falls back to directed broadcasts from here
			if rep.Local != 3 || rep.Failed() != 0 || rep.Subnets[0].Fallback == "" || len(oc.seq) != 3 {
				t.Errorf("auto: %+v seq %v", rep, oc.seq)
			}
			for _, h := range rep.Hosts {
				if h.Method != MethodDirected {
					t.Errorf("auto fallback host %+v", h)
				}
			}
		case ModeRelay: // nothing sent, every host says why
			if rep.Local != 0 || rep.Failed() != 3 || len(oc.seq) != 0 {
				t.Errorf("relay: %+v seq %v", rep, oc.seq)
			}
		}
	}
}

type siteFunc func(ctx context.Context, req SiteRequest) (int, error)

func (f siteFunc) WakeSite(ctx context.Context, req SiteRequest) (int, error) { return f(ctx, req) }

func TestSendSite(t *testing.T) {
	t.Parallel()
	rows, _ := fleet(3, "127.3.7.0/24", "127.3.8.0/24")
	o := DefaultOptions()
	o.Collection, o.Mode = "LAB00012", ModeSite
	p, err := o.PlanTargets(buildTargets(rows, Selection{}))
	if err != nil {
		t.Fatal(err)
	}
	var got []SiteRequest
	rep, err := Send(context.Background(), p, Transports{Site: siteFunc(func(_ context.Context, req SiteRequest) (int, error) {
		got = append(got, req)
		return len(req.ResourceIDs), nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].CollectionID != "LAB00012" || len(got[0].ResourceIDs) != 6 || rep.Site != 6 || rep.Failed() != 0 {
		t.Fatalf("site requests %+v report %+v", got, rep)
	}
}

func TestSendNeedsTransports(t *testing.T) {
	t.Parallel()
	rows, _ := fleet(2, "127.3.7.0/24")
	rows = append(rows, sys(100, "R1", true), hinv(100, "3C:52:82:77:00:01", "127.3.7.200", "255.255.255.0"))
	for _, c := range []struct {
		mode Mode
		tr   Transports
		code int
	}{
		{ModeDirected, Transports{}, exit.Failed},
		{ModeRelay, Transports{}, exit.Usage},
		{ModeSite, Transports{}, exit.Usage},
	} {
		o := DefaultOptions()
		o.All, o.Mode = true, c.mode
		p, err := o.PlanTargets(buildTargets(rows, Selection{}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Send(context.Background(), p, c.tr); err == nil || exit.Code(err) != c.code {
			t.Errorf("%s without transports: %v (code %d)", c.mode, err, exit.Code(err))
		}
	}
}

// TestSendStopsWithContext: a cancelled send returns with the context's error and reports
// the machines it did not reach.
func TestSendStopsWithContext(t *testing.T) {
	t.Parallel()
	rows, _ := fleet(20, "127.3.7.0/24")
	conn, err := Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cap := capture(t)
	oc := &orderConn{conn: conn, to: cap.LocalAddr().(*net.UDPAddr)}
	o := DefaultOptions()
	o.All, o.Batch, o.Repeat, o.BatchPause = true, 1, 1, 10*time.Minute
	p, err := o.PlanTargets(buildTargets(rows, Selection{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // cancel once the first packet is on the wire; the send is then in a ten-minute pause
		buf := make([]byte, 2048)
		_, _, _ = cap.ReadFrom(buf)
		cancel()
	}()
	rep, err := Send(ctx, p, Transports{Conn: oc})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send: %v", err)
	}
	if rep.Local != 1 || len(rep.Hosts) != 20 || rep.Failed() != 19 {
		t.Fatalf("report: local %d hosts %d failed %d", rep.Local, len(rep.Hosts), rep.Failed())
	}
}
