package wol

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/patchnight/patchnight/pkg/clock"
	"github.com/patchnight/patchnight/pkg/exit"
)

// RelayRequest is the JSON parameter object of scripts/wol-relay.ps1: the relay sends
// Repeat rounds of one magic packet per MAC to Broadcast:Port on its own subnet,
// IntervalMS apart, with SpacingMS between rounds.
type RelayRequest struct {
	MACs       []string `json:"macs"`        // 00:15:5D:01:02:03 spelling
	Broadcast  string   `json:"broadcast"`   // the subnet-directed broadcast of the relay's subnet
	Port       int      `json:"port"`        // UDP port
	Repeat     int      `json:"repeat"`      // rounds
	IntervalMS int      `json:"interval_ms"` // between packets (the per-subnet cap)
	SpacingMS  int      `json:"spacing_ms"`  // between rounds
}

// Relayer asks an online client (via, a host name) to send magic packets on its own
// subnet, and returns how many it sent. The lead backs it with pkg/remote running
// scripts/wol-relay.ps1.
type Relayer interface {
	Relay(ctx context.Context, via string, req RelayRequest) (int, error)
}

// SiteRequest asks the site to wake machines by client notification
// (SMS_SleepServer.MachinesToWakeup(MachineIDs, CollectionID, out NumSleepers)).
type SiteRequest struct {
	CollectionID string  `json:"collection_id,omitempty"` // the selection's collection, if any
	ResourceIDs  []int64 `json:"resource_ids"`
}

// SiteWaker wakes machines through the SMS Provider and returns how many sleepers the
// site targeted: NumSleepers as the site reports it, never a count assumed from the
// request (0 means no awake client on their subnets). The command line backs it with
// pkg/provider's MachinesToWakeup.
type SiteWaker interface {
	WakeSite(ctx context.Context, req SiteRequest) (int, error)
}

// Transports are what Send sends through. Only the ones the plan's methods need must be
// set: Conn for directed and unicast subnets, Relayer for relay subnets (and auto), Site
// for site mode.
type Transports struct {
	Conn    PacketConn // the socket from Listen (or the lab's redirect)
	Relayer Relayer
	Site    SiteWaker
	// OnHost, when set, is called once per machine with the outcome of its sends, as
	// each subnet finishes (from several goroutines: it must be safe for concurrent use).
	OnHost func(HostSend)
}

// HostSend is what was sent for one machine.
type HostSend struct {
	ResourceID int64  `json:"resource_id"`
	Name       string `json:"name"`
	Subnet     string `json:"subnet"`
	Method     Method `json:"method"` // the method that finally carried its packets
	Packets    int    `json:"packets"`
	Via        string `json:"via,omitempty"`   // the relay that sent them
	Error      string `json:"error,omitempty"` // why nothing was sent
}

// SubnetSend is what was sent to one subnet.
type SubnetSend struct {
	Subnet   string   `json:"subnet"`
	Method   Method   `json:"method"`
	Packets  int      `json:"packets"`            // sent from here, or reported by the relay
	Errors   int      `json:"errors"`             // failed sends or relay calls
	Via      []string `json:"via,omitempty"`      // relays that sent
	Fallback string   `json:"fallback,omitempty"` // what happened when no relay answered
}

// SendReport is the outcome of Send.
type SendReport struct {
	Started  time.Time    `json:"started"`
	Finished time.Time    `json:"finished"`
	Local    int          `json:"local_packets"`   // written from this machine
	Relayed  int          `json:"relayed_packets"` // reported by relays
	Site     int          `json:"site_sleepers"`   // sleepers the site targeted
	Subnets  []SubnetSend `json:"subnets"`
	Hosts    []HostSend   `json:"hosts"`
}

// Failed says whether some machine got nothing.
func (r *SendReport) Failed() int {
	n := 0
	for _, h := range r.Hosts {
		if h.Error != "" {
			n++
		}
	}
	return n
}

// Send runs the plan: every subnet in parallel, each at most SubnetRate packets per second,
// all together at most Rate packets per second (both also in any one-second window of
// write times), Batch machines per subnet at a time with BatchPause between batches, and
// each machine Repeat times, Spacing apart. It returns when everything is sent or ctx ends
// (then with ctx's error and the report so far).
func Send(ctx context.Context, p *Plan, tr Transports) (*SendReport, error) {
	o := p.opts
	if err := o.Validate(); err != nil {
		return nil, err
	}
	needs := map[Method]bool{}
	for _, g := range p.Subnets {
		if len(g.Wakes) > 0 {
			needs[g.Method] = true
		}
	}
	if (needs[MethodDirected] || needs[MethodUnicast] || (needs[MethodRelay] && p.Mode == ModeAuto)) && tr.Conn == nil {
		return nil, errors.New("wol: the plan sends from this machine but no socket was given")
	}
	if needs[MethodRelay] && tr.Relayer == nil {
		return nil, exit.Usagef("configure WinRM for the clients, or use --mode directed", "the plan relays through online clients but no WinRM relay is available")
	}
	if needs[MethodSite] && tr.Site == nil {
		return nil, exit.Usagef("configure the SMS Provider, or use --mode directed", "site mode needs the SMS Provider")
	}
	var snd *Sender
	if tr.Conn != nil {
		s, err := NewSender(tr.Conn, o.Port)
		if err != nil {
			return nil, err
		}
		snd = s
	}

	e := &engine{
		o: o, p: p, tr: tr, snd: snd,
		global: newPacer(o.Rate),
		rep:    &SendReport{Started: time.Now()},
	}
	var wg sync.WaitGroup
	var site []int
	for i, g := range p.Subnets {
		switch g.Method {
		case MethodDirected, MethodUnicast, MethodRelay:
			if len(g.Wakes) == 0 {
				continue
			}
			wg.Go(func() { e.subnet(ctx, g) })
		case MethodSite:
			site = append(site, i)
		}
	}
	if len(site) > 0 {
		e.site(ctx, site)
	}
	wg.Wait()
	e.rep.Finished = time.Now()
	slices.SortFunc(e.rep.Subnets, func(a, b SubnetSend) int { return compareSubnets(a.Subnet, b.Subnet) })
	return e.rep, ctx.Err()
}

// engine is one Send in progress.
type engine struct {
	o      Options
	p      *Plan
	tr     Transports
	snd    *Sender
	global *pacer     // Rate, shared by all subnets: used under gmu
	gmu    sync.Mutex // one packet at a time through the global pacer and the socket

	mu  sync.Mutex
	rep *SendReport
}

// pacer caps one subnet (or, shared under a lock, all of them): a token bucket of the rate
// with a burst of 1, and a sliding window over the times the last n packets finished
// writing (n = the rate rounded down, at least 1): a packet is written only when the one
// n places before it finished at least a second ago. The bucket alone would allow n+1 packets in a closed one-second window and
// lets writes that were delayed (a descheduled goroutine) bunch up; the window does not.
// The window grows with the packets actually sent, so a high cap costs no memory up front.
type pacer struct {
	lim  *rate.Limiter
	n    int
	ring []time.Time
	next int
}

func newPacer(perSecond float64) *pacer {
	n := max(1, int(math.Floor(perSecond)))
	return &pacer{lim: rate.NewLimiter(rate.Limit(perSecond), max(1, n/catchUp)), n: n}
}

// catchUp sets the bucket's burst to 1/catchUp of a second's packets (20 ms worth; 1 at the
// default 50 packets/s per subnet): a writer that woke late may catch up by that much, so
// the achieved rate stays near the configured one on a busy machine, while the window
// still holds every second to the cap.
const catchUp = 50

// wait blocks until the subnet may take another packet.
func (p *pacer) wait(ctx context.Context) error {
	if err := p.lim.Wait(ctx); err != nil {
		return err
	}
	if len(p.ring) == p.n {
		if err := clock.Sleep(ctx, time.Until(p.ring[p.next].Add(time.Second))); err != nil {
			return err
		}
	}
	return nil
}

// sent records that a packet finished writing now.
func (p *pacer) sent() {
	now := time.Now()
	if len(p.ring) < p.n {
		p.ring = append(p.ring, now)
		return
	}
	p.ring[p.next] = now
	p.next = (p.next + 1) % p.n
}

// hostState accumulates one machine's sends in a subnet.
type hostState struct {
	send HostSend
	errs int
}

// subnet wakes one subnet's machines, batch by batch.
func (e *engine) subnet(ctx context.Context, g SubnetPlan) {
	o := e.o
	ss := SubnetSend{Subnet: g.Subnet, Method: g.Method}
	hosts := map[int64]*hostState{}
	var order []int64
	for _, w := range g.Wakes {
		if hosts[w.ResourceID] == nil {
			hosts[w.ResourceID] = &hostState{send: HostSend{ResourceID: w.ResourceID, Name: w.Name, Subnet: g.Subnet, Method: g.Method}}
			order = append(order, w.ResourceID)
		}
	}
	pc := newPacer(o.SubnetRate)
	for start := 0; start < len(g.Wakes) && ctx.Err() == nil; start += o.Batch {
		if start > 0 {
			if clock.Sleep(ctx, o.BatchPause) != nil {
				break
			}
		}
		batch := g.Wakes[start:min(start+o.Batch, len(g.Wakes))]
		if g.Method == MethodRelay {
			if e.relayBatch(ctx, g, batch, hosts, &ss) {
				continue
			}
			// No relay answered: in auto mode, fall back to a directed broadcast.
			if e.p.Mode != ModeAuto || e.snd == nil {
				for _, w := range batch {
					hosts[w.ResourceID].errs++
					if hosts[w.ResourceID].send.Error == "" {
						hosts[w.ResourceID].send.Error = "no relay answered"
					}
				}
				continue
			}
			ss.Fallback = "no relay answered: directed broadcast from this machine"
			for _, w := range batch {
				hosts[w.ResourceID].send.Method = MethodDirected
			}
		}
		e.localBatch(ctx, pc, batch, hosts, &ss)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rep.Subnets = append(e.rep.Subnets, ss)
	if g.Method == MethodRelay {
		e.rep.Relayed += ss.Packets
	}
	for _, id := range order {
		h := hosts[id]
		if h.send.Packets > 0 {
			h.send.Error = ""
		} else if h.send.Error == "" {
			h.send.Error = "not sent: " + errString(ctx.Err(), "stopped")
		}
		e.rep.Hosts = append(e.rep.Hosts, h.send)
		if e.tr.OnHost != nil {
			e.tr.OnHost(h.send)
		}
	}
}

func errString(err error, def string) string {
	if err != nil {
		return err.Error()
	}
	return def
}

// localBatch sends one batch from this machine: Repeat rounds over the batch's machines,
// Spacing between rounds, every packet through the subnet's pacer and then the global one.
func (e *engine) localBatch(ctx context.Context, pc *pacer, batch []Wake, hosts map[int64]*hostState, ss *SubnetSend) {
	pkts := make([][]byte, len(batch))
	for i, w := range batch {
		b, err := Packet(w.MAC, e.p.password)
		if err != nil {
			hosts[w.ResourceID].send.Error = err.Error()
			continue
		}
		pkts[i] = b
	}
	for round := 0; round < e.o.Repeat; round++ {
		if round > 0 && clock.Sleep(ctx, e.o.Spacing) != nil {
			return
		}
		for i, w := range batch {
			if pkts[i] == nil || !w.Dest.IsValid() {
				continue
			}
			if pc.wait(ctx) != nil {
				return
			}
			written, err := e.sendGlobal(ctx, pkts[i], w.Dest)
			if !written {
				return // stopped while waiting
			}
			pc.sent()
			h := hosts[w.ResourceID]
			if err != nil {
				ss.Errors++
				h.errs++
				h.send.Error = err.Error()
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			ss.Packets++
			h.send.Packets++
			e.mu.Lock()
			e.rep.Local++
			e.mu.Unlock()
		}
	}
}

// sendGlobal writes one packet once the global pacer allows it. The pacer's window is
// shared by every subnet, so the wait and the write happen under one lock.
// It reports whether the write was attempted (false when ctx ended while waiting).
func (e *engine) sendGlobal(ctx context.Context, pkt []byte, dst netip.Addr) (bool, error) {
	e.gmu.Lock()
	defer e.gmu.Unlock()
	if err := e.global.wait(ctx); err != nil {
		return false, err
	}
	err := e.snd.Send(pkt, dst)
	e.global.sent()
	return true, err
}

// relayBatch asks the subnet's relays, in order, to send one batch. It reports whether
// one of them did.
func (e *engine) relayBatch(ctx context.Context, g SubnetPlan, batch []Wake, hosts map[int64]*hostState, ss *SubnetSend) bool {
	req := RelayRequest{
		Broadcast:  g.Broadcast.String(),
		Port:       e.o.Port,
		Repeat:     e.o.Repeat,
		IntervalMS: int(math.Ceil(1000 / e.o.SubnetRate)),
		SpacingMS:  int(e.o.Spacing / time.Millisecond),
	}
	for _, w := range batch {
		if !slices.Contains(req.MACs, w.MAC.String()) {
			req.MACs = append(req.MACs, w.MAC.String())
		}
	}
	for _, via := range g.Via {
		n, err := e.tr.Relayer.Relay(ctx, via, req)
		if err != nil {
			ss.Errors++
			for _, w := range batch {
				hosts[w.ResourceID].send.Error = fmt.Sprintf("relay %s: %v", via, err)
			}
			if ctx.Err() != nil {
				return true // stopping; do not fall back
			}
			continue
		}
		ss.Packets += n
		if !slices.Contains(ss.Via, via) {
			ss.Via = append(ss.Via, via)
		}
		per := 0
		if len(req.MACs) > 0 {
			per = n / len(req.MACs)
		}
		for _, w := range batch {
			h := hosts[w.ResourceID]
			h.send.Packets += per
			h.send.Via = via
			h.send.Error = ""
			if per == 0 {
				h.send.Error = fmt.Sprintf("relay %s sent %d packets for %d machines", via, n, len(req.MACs))
			}
		}
		return true
	}
	return false
}

// site makes one SMS Provider call for every site-mode machine.
func (e *engine) site(ctx context.Context, idx []int) {
	req := SiteRequest{CollectionID: e.p.Collection}
	var sends []HostSend
	seen := map[int64]bool{}
	for _, i := range idx {
		g := e.p.Subnets[i]
		for _, w := range g.Wakes {
			if seen[w.ResourceID] {
				continue
			}
			seen[w.ResourceID] = true
			req.ResourceIDs = append(req.ResourceIDs, w.ResourceID)
			sends = append(sends, HostSend{ResourceID: w.ResourceID, Name: w.Name, Subnet: g.Subnet, Method: MethodSite})
		}
	}
	n, err := e.tr.Site.WakeSite(ctx, req)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rep.Site = n
	for _, i := range idx {
		e.rep.Subnets = append(e.rep.Subnets, SubnetSend{Subnet: e.p.Subnets[i].Subnet, Method: MethodSite, Errors: boolInt(err != nil)})
	}
	for _, s := range sends {
		if err != nil {
			s.Error = "site wake: " + err.Error()
		} else if n == 0 {
			s.Error = "the site found no awake client to send on the subnet"
		}
		e.rep.Hosts = append(e.rep.Hosts, s)
		if e.tr.OnHost != nil {
			e.tr.OnHost(s)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
