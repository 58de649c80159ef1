package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	mwol "github.com/mdlayher/wol"
)

// Waker wakes the simulated machine that owns mac, reporting whether it woke (false when
// it was on already or its NIC has Wake-on-LAN disabled). The lab's Sim implements it.
type Waker interface {
	WakeMAC(ctx context.Context, mac net.HardwareAddr) (bool, error)
}

// WakeHost is one lab adapter as the wake listener's network model sees it: which subnet
// it hangs on, at which address, and the SecureOn password its NIC requires (nil = none).
type WakeHost struct {
	ResourceID int64
	Name       string
	MAC        net.HardwareAddr
	IP         netip.Addr   // invalid when the adapter's IPv4 address is not known
	Subnet     netip.Prefix // the lab subnet the adapter is on (truth, not inventory)
	Password   []byte       // SecureOn password configured in the NIC, 4 or 6 bytes; nil = none
}

// WakeSubnetStats counts what one destination subnet received.
type WakeSubnetStats struct {
	Packets     int `json:"packets"`     // datagrams addressed into the subnet (broadcast or unicast)
	Delivered   int `json:"delivered"`   // valid and addressed to a host of the subnet that owns the MAC
	Misdirected int `json:"misdirected"` // valid, but the MAC's adapter is not reachable at that address
	Woke        int `json:"woke"`        // machines woken by packets into this subnet
}

// WakeStats are the listener's counters.
type WakeStats struct {
	Received    int `json:"received"`     // every datagram read or delivered
	Valid       int `json:"valid"`        // well-formed magic packets
	Invalid     int `json:"invalid"`      // anything else
	Unknown     int `json:"unknown"`      // valid, for a MAC no lab adapter has
	Misdirected int `json:"misdirected"`  // valid, known MAC, wrong destination
	BadPassword int `json:"bad_password"` // right destination, SecureOn password missing or wrong
	Delivered   int `json:"delivered"`    // right destination (and password): the machine is asked to wake
	WakeCalls   int `json:"wake_calls"`   // Waker.WakeMAC calls made
	Woke        int `json:"woke"`         // calls that woke a machine
	WakeErrors  int `json:"wake_errors"`  // calls that failed
	Pending     int `json:"pending"`      // wake calls queued or running

	Subnets map[netip.Prefix]WakeSubnetStats `json:"subnets"`
}

// WakeListener is the lab's network for Wake-on-LAN: a UDP listener on 127.0.0.1 that
// receives magic packets, decides as a routed network would whether each reaches the
// adapter it names, and wakes the simulated machine through a Waker.
//
// Every lab address is in 127.0.0.0/8, so a packet sent to a lab subnet's broadcast never
// reaches this listener by itself: senders write through Redirect, which forwards each
// packet, unchanged, to the listener's address and tells the listener (in process) where it
// was meant to go and when it entered the network. A packet wakes its MAC's machine only
// when that destination is the directed broadcast of the subnet the adapter is on, or the
// adapter's own address (unicast); anything else is counted as misdirected.
type WakeListener struct {
	conn    *net.UDPConn
	addr    *net.UDPAddr
	waker   Waker
	byMAC   map[[6]byte][]WakeHost
	subnets map[netip.Prefix]netip.Addr // lab subnet -> its directed broadcast
	lengths []int                       // distinct prefix lengths of the lab subnets, longest first

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	stats    WakeStats
	arrivals map[netip.Prefix][]time.Time
	pending  map[pendKey][]pendDst
	changed  chan struct{}
	queue    []wakeReq
	queued   map[[6]byte]bool
	kick     chan struct{}
	wokeAt   map[[6]byte]time.Time // wall clock when a wake of the MAC last woke a machine
}

type pendKey struct {
	port    int
	payload string
}

type pendDst struct {
	dst netip.Addr
	at  time.Time
}

type wakeReq struct {
	mac    [6]byte
	subnet netip.Prefix
}

// NewWakeListener starts a listener on 127.0.0.1 (an ephemeral port) for the given lab
// adapters. It stops when ctx ends or Close is called.
func NewWakeListener(ctx context.Context, waker Waker, hosts []WakeHost) (*WakeListener, error) {
	if waker == nil {
		return nil, errors.New("lab wake listener: no waker")
	}
	l := &WakeListener{
		waker:    waker,
		byMAC:    map[[6]byte][]WakeHost{},
		subnets:  map[netip.Prefix]netip.Addr{},
		arrivals: map[netip.Prefix][]time.Time{},
		pending:  map[pendKey][]pendDst{},
		changed:  make(chan struct{}),
		queued:   map[[6]byte]bool{},
		kick:     make(chan struct{}, 1),
		wokeAt:   map[[6]byte]time.Time{},
	}
	l.stats.Subnets = map[netip.Prefix]WakeSubnetStats{}
	for _, h := range hosts {
		if len(h.MAC) != 6 {
			return nil, fmt.Errorf("lab wake listener: host %s: MAC %v is not 6 bytes", h.Name, h.MAC)
		}
		if pl := len(h.Password); pl != 0 && pl != 4 && pl != 6 {
			return nil, fmt.Errorf("lab wake listener: host %s: SecureOn password must be 4 or 6 bytes", h.Name)
		}
		if h.Subnet.IsValid() {
			p := h.Subnet.Masked()
			h.Subnet = p
			if _, ok := l.subnets[p]; !ok {
				l.subnets[p] = broadcastOf(p)
				if !slices.Contains(l.lengths, p.Bits()) {
					l.lengths = append(l.lengths, p.Bits())
				}
			}
		}
		l.byMAC[[6]byte(h.MAC)] = append(l.byMAC[[6]byte(h.MAC)], h)
	}
	slices.SortFunc(l.lengths, func(a, b int) int { return b - a })

	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lab wake listener: %w", err)
	}
	l.conn = pc.(*net.UDPConn)
	_ = l.conn.SetReadBuffer(4 << 20) // best effort: fewer drops under unpaced floods
	l.addr = l.conn.LocalAddr().(*net.UDPAddr)
	l.ctx, l.cancel = context.WithCancel(ctx)
	l.wg.Add(3)
	go l.read()
	go l.wakeLoop()
	go func() { // stop with ctx
		defer l.wg.Done()
		<-l.ctx.Done()
		l.conn.Close()
	}()
	return l, nil
}

// broadcastOf is the directed broadcast of an IPv4 prefix (the prefix itself for /31, /32).
func broadcastOf(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	bits := p.Bits()
	for i := range 4 {
		hostBits := min(8, max(0, 32-bits-8*(3-i)))
		a[i] |= byte(1<<hostBits - 1)
	}
	return netip.AddrFrom4(a)
}

// Addr is the listener's UDP address on 127.0.0.1.
func (l *WakeListener) Addr() *net.UDPAddr { return l.addr }

// Close stops the listener and waits for its goroutines.
func (l *WakeListener) Close() error {
	l.cancel()
	l.wg.Wait()
	return nil
}

// read receives datagrams until the socket closes.
func (l *WakeListener) read() {
	defer l.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		b := buf[:n]
		dst, at := l.addrPortDst(), now
		l.mu.Lock()
		k := pendKey{port: int(from.Port()), payload: string(b)}
		if q := l.pending[k]; len(q) > 0 {
			dst, at = q[0].dst, q[0].at
			if len(q) == 1 {
				delete(l.pending, k)
			} else {
				l.pending[k] = q[1:]
			}
		}
		l.mu.Unlock()
		l.handle(b, dst, at)
	}
}

func (l *WakeListener) addrPortDst() netip.Addr {
	return l.addr.AddrPort().Addr().Unmap()
}

// Deliver hands the listener a packet that entered the lab network in process (for
// example from the lab's answer to scripts/wol-relay.ps1), addressed to dst.
func (l *WakeListener) Deliver(b []byte, dst netip.Addr) {
	l.handle(b, dst.Unmap(), time.Now())
}

// subnetOf finds the lab subnet an address falls in (broadcast or host).
func (l *WakeListener) subnetOf(a netip.Addr) (netip.Prefix, bool) {
	if !a.Is4() {
		return netip.Prefix{}, false
	}
	for _, bits := range l.lengths {
		p := netip.PrefixFrom(a, bits).Masked()
		if _, ok := l.subnets[p]; ok {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// handle applies the network model to one packet.
func (l *WakeListener) handle(b []byte, dst netip.Addr, at time.Time) {
	sn, inLab := l.subnetOf(dst)
	var mp mwol.MagicPacket
	perr := mp.UnmarshalBinary(b)

	l.mu.Lock()
	defer l.notify()
	defer l.mu.Unlock()
	l.stats.Received++
	var ss WakeSubnetStats
	if inLab {
		ss = l.stats.Subnets[sn]
		ss.Packets++
		l.arrivals[sn] = append(l.arrivals[sn], at)
		defer func() { l.stats.Subnets[sn] = ss }()
	}
	if perr != nil {
		l.stats.Invalid++
		return
	}
	l.stats.Valid++
	mac := [6]byte(mp.Target)
	hosts := l.byMAC[mac]
	if len(hosts) == 0 {
		l.stats.Unknown++
		return
	}
	var reached *WakeHost
	for i := range hosts {
		h := &hosts[i]
		if (h.IP.IsValid() && dst == h.IP) || (h.Subnet.IsValid() && inLab && sn == h.Subnet && dst == l.subnets[sn]) {
			reached = h
			break
		}
	}
	if reached == nil {
		l.stats.Misdirected++
		if inLab {
			ss.Misdirected++
		}
		return
	}
	if len(reached.Password) > 0 && string(mp.Password) != string(reached.Password) {
		l.stats.BadPassword++
		return
	}
	l.stats.Delivered++
	if inLab {
		ss.Delivered++
	}
	if !l.queued[mac] {
		l.queued[mac] = true
		l.queue = append(l.queue, wakeReq{mac: mac, subnet: sn})
		l.stats.Pending++
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// notify wakes WaitFor callers; call it with l.mu not held.
func (l *WakeListener) notify() {
	l.mu.Lock()
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// wakeLoop calls the Waker for queued MACs, one at a time, off the read path.
func (l *WakeListener) wakeLoop() {
	defer l.wg.Done()
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.mu.Unlock()
			select {
			case <-l.kick:
				continue
			case <-l.ctx.Done():
				return
			}
		}
		req := l.queue[0]
		l.queue = l.queue[1:]
		delete(l.queued, req.mac)
		l.mu.Unlock()

		woke, err := l.waker.WakeMAC(l.ctx, net.HardwareAddr(req.mac[:]))

		l.mu.Lock()
		l.stats.Pending--
		l.stats.WakeCalls++
		switch {
		case err != nil:
			l.stats.WakeErrors++
		case woke:
			l.stats.Woke++
			l.wokeAt[req.mac] = time.Now()
			if req.subnet.IsValid() {
				ss := l.stats.Subnets[req.subnet]
				ss.Woke++
				l.stats.Subnets[req.subnet] = ss
			}
		}
		l.mu.Unlock()
		l.notify()
	}
}

// WokeAt is the wall-clock time a wake of mac last woke a machine, once the lab's state
// says so, and false when none did. Wakes run after the packet arrives, off the read
// path: a sender that reads the site's view at a given time can tell from it whether a
// machine was woken before or after that read.
func (l *WakeListener) WokeAt(mac net.HardwareAddr) (time.Time, bool) {
	if len(mac) != 6 {
		return time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.wokeAt[[6]byte(mac)]
	return at, ok
}

// Stats returns a copy of the counters.
func (l *WakeListener) Stats() WakeStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snapshot()
}

func (l *WakeListener) snapshot() WakeStats {
	s := l.stats
	s.Subnets = make(map[netip.Prefix]WakeSubnetStats, len(l.stats.Subnets))
	for k, v := range l.stats.Subnets {
		s.Subnets[k] = v
	}
	return s
}

// WaitFor blocks until cond holds for the counters or ctx ends.
func (l *WakeListener) WaitFor(ctx context.Context, cond func(WakeStats) bool) error {
	for {
		l.mu.Lock()
		s, ch := l.snapshot(), l.changed
		l.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("lab wake listener: waiting: %w", ctx.Err())
		}
	}
}

// MaxInWindow is the largest number of packets that entered subnet within any window of
// the given length (half-open: [t, t+window)). Arrival is the moment the packet entered
// the lab network: when the sender wrote it through Redirect, or when the listener read
// it (or Deliver got it) otherwise.
func (l *WakeListener) MaxInWindow(subnet netip.Prefix, window time.Duration) int {
	l.mu.Lock()
	ts := slices.Clone(l.arrivals[subnet.Masked()])
	l.mu.Unlock()
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, i := 0, 0
	for j := range ts {
		for ts[j].Sub(ts[i]) >= window {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

// Redirect wraps conn (the sender's socket) so that every packet written to any address
// goes to the listener instead, unchanged, with its intended destination and the time it
// was written passed to the listener in process. It satisfies the WriteTo interface of
// pkg/wol's sender.
func (l *WakeListener) Redirect(conn net.PacketConn) *RedirectConn {
	port := 0
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		port = ua.Port
	}
	return &RedirectConn{l: l, conn: conn, port: port}
}

// RedirectConn is a sender socket whose packets all go to one WakeListener.
type RedirectConn struct {
	l    *WakeListener
	conn net.PacketConn
	port int
	mu   sync.Mutex // keeps the in-process note and the datagram in the same order
}

// WriteTo sends b to the listener and notes addr as its intended destination.
func (r *RedirectConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("lab redirect: %v is not a UDP address", addr)
	}
	dst := ua.AddrPort().Addr().Unmap()
	k := pendKey{port: r.port, payload: string(b)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.l.mu.Lock()
	r.l.pending[k] = append(r.l.pending[k], pendDst{dst: dst, at: time.Now()})
	r.l.mu.Unlock()
	n, err := r.conn.WriteTo(b, r.l.addr)
	if err != nil {
		r.l.mu.Lock()
		if q := r.l.pending[k]; len(q) > 0 {
			r.l.pending[k] = q[:len(q)-1]
		}
		r.l.mu.Unlock()
	}
	return n, err
}

// LocalAddr is the wrapped socket's address.
func (r *RedirectConn) LocalAddr() net.Addr { return r.conn.LocalAddr() }
