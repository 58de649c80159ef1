// Command wolbench measures pkg/wol on loopback and prints the figures for the README:
//
//	go run ./pkg/wol/internal/wolbench                 unpaced: pkg/wol against Debian's wakeonlan
//	go run ./pkg/wol/internal/wolbench -pace 10s       pacing accuracy: actual against configured
//
// Unpaced: the same list of N MACs (default 100,000) is sent to 127.0.0.1 on a high port by
// pkg/wol's Sender (one socket, one packet built per MAC) and by
// `wakeonlan -i 127.0.0.1 -p PORT -f macs.txt` (apt-get install wakeonlan); it prints both
// rates and their ratio.
//
// Pacing: Send runs real plans whose packets all go to a counting UDP socket on
// 127.0.0.1 (whatever the planned destination), once capped by the global rate (eight
// subnets, -rate) and once by the per-subnet rate (one subnet, -subnet-rate), each for the
// given duration; it prints configured and measured rates and the largest count seen in
// any one-second window. Every packet stays on 127.0.0.1.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/patchnight/patchnight/pkg/wol"
)

func main() {
	n := flag.Int("n", 100_000, "MACs for the unpaced comparison")
	port := flag.Int("port", 40009, "UDP port on 127.0.0.1 for the unpaced comparison")
	tool := flag.String("wakeonlan", "wakeonlan", "path of Debian's wakeonlan")
	pace := flag.Duration("pace", 0, "measure pacing for this long per run instead (e.g. 10s)")
	rateFlag := flag.Float64("rate", 500, "global rate for the pacing run, packets/s")
	subnetRate := flag.Float64("subnet-rate", wol.DefaultSubnetRate, "per-subnet rate for the pacing run, packets/s")
	flag.Parse()
	ctx := context.Background()
	var err error
	if *pace > 0 {
		err = pacing(ctx, *pace, *rateFlag, *subnetRate)
	} else {
		err = unpaced(ctx, *n, *port, *tool)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wolbench:", err)
		os.Exit(1)
	}
}

func macOf(i int) wol.MAC { return wol.MAC{0x3C, 0x52, 0x82, byte(i >> 16), byte(i >> 8), byte(i)} }

func unpaced(ctx context.Context, n, port int, tool string) error {
	conn, err := wol.Listen(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	s, err := wol.NewSender(conn, port)
	if err != nil {
		return err
	}
	dst := netip.MustParseAddr("127.0.0.1")
	start := time.Now()
	for i := range n {
		pkt, err := wol.Packet(macOf(i), nil)
		if err != nil {
			return err
		}
		if err := s.Send(pkt, dst); err != nil {
			return err
		}
	}
	goTime := time.Since(start)
	goRate := float64(n) / goTime.Seconds()
	fmt.Printf("pkg/wol:   %d packets in %v = %.0f packets/s\n", n, goTime.Round(time.Millisecond), goRate)

	path, err := exec.LookPath(tool)
	if err != nil {
		fmt.Println("wakeonlan: not installed (apt-get install wakeonlan); no ratio")
		return nil
	}
	dir, err := os.MkdirTemp("", "wolbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	list := filepath.Join(dir, "macs.txt")
	f, err := os.Create(list)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintln(w, macOf(i))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	f.Close()
	cmd := exec.CommandContext(ctx, path, "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-f", list)
	start = time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wakeonlan: %w", err)
	}
	wTime := time.Since(start)
	wRate := float64(n) / wTime.Seconds()
	fmt.Printf("wakeonlan: %d packets in %v = %.0f packets/s\n", n, wTime.Round(time.Millisecond), wRate)
	fmt.Printf("ratio pkg/wol / wakeonlan = %.1f\n", goRate/wRate)
	return nil
}

// counter forwards every packet to a UDP socket on 127.0.0.1 and, on the other side,
// records when each arrives.
type counter struct {
	out   net.PacketConn
	in    *net.UDPConn
	mu    sync.Mutex
	when  []time.Time // when each packet was read on the receiving side
	wrote []time.Time // when each packet was written (as the lab listener counts)
	done  chan struct{}
}

func newCounter(ctx context.Context) (*counter, error) {
	out, err := wol.Listen(ctx)
	if err != nil {
		return nil, err
	}
	in, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		out.Close()
		return nil, err
	}
	c := &counter{out: out, in: in, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		buf := make([]byte, 2048)
		for {
			if _, _, err := in.ReadFrom(buf); err != nil {
				return
			}
			c.mu.Lock()
			c.when = append(c.when, time.Now())
			c.mu.Unlock()
		}
	}()
	return c, nil
}

func (c *counter) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	c.wrote = append(c.wrote, time.Now())
	c.mu.Unlock()
	return c.out.WriteTo(b, c.in.LocalAddr())
}

func (c *counter) close() (read, wrote []time.Time) {
	c.out.Close()
	time.Sleep(200 * time.Millisecond) // let the last datagrams arrive
	c.in.Close()
	<-c.done
	return c.when, c.wrote
}

// maxInSecond is the largest number of times in any half-open one-second window.
func maxInSecond(ts []time.Time) int {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, i := 0, 0
	for j := range ts {
		for ts[j].Sub(ts[i]) >= time.Second {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

// targets builds subnets x hosts machines on 127.20.x.0/24.
func targets(subnets, hosts int) *wol.Targets {
	t := &wol.Targets{}
	id := int64(1)
	for s := range subnets {
		pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 20, byte(s), 0}), 24)
		bc, _ := wol.Broadcast(pfx)
		for h := range hosts {
			ip := netip.AddrFrom4([4]byte{127, 20, byte(s), byte(2 + h%250)})
			t.Hosts = append(t.Hosts, wol.Host{ResourceID: id, Name: fmt.Sprintf("H%d-%d", s, h),
				NICs: []wol.NIC{{MAC: macOf(int(id)), IP: ip, Subnet: pfx, Broadcast: bc, Source: wol.FromInventory}}})
			id++
		}
	}
	return t
}

func pacing(ctx context.Context, d time.Duration, global, perSubnet float64) error {
	runs := []struct {
		name       string
		subnets    int
		rate, sub  float64
		configured float64
	}{
		{"global cap", 8, global, wol.MaxRate, global},
		{"per-subnet cap", 1, wol.MaxRate, perSubnet, perSubnet},
	}
	for _, r := range runs {
		hosts := int(r.configured*d.Seconds())/r.subnets + 1
		o := wol.DefaultOptions()
		o.All, o.Rate, o.SubnetRate, o.Repeat, o.Spacing, o.Batch, o.BatchPause = true, r.rate, r.sub, 1, 0, 1_000_000, 0
		p, err := o.PlanTargets(targets(r.subnets, hosts))
		if err != nil {
			return err
		}
		c, err := newCounter(ctx)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, d)
		start := time.Now()
		rep, _ := wol.Send(rctx, p, wol.Transports{Conn: c})
		elapsed := time.Since(start)
		cancel()
		read, wrote := c.close()
		actual := float64(rep.Local) / elapsed.Seconds()
		fmt.Printf("%-14s configured %7.1f packets/s; sent %d in %v = %7.1f packets/s (%+.2f%%); received %d;"+
			" max in any 1 s window: %d by write time, %d by read time\n",
			r.name, r.configured, rep.Local, elapsed.Round(time.Millisecond), actual, 100*(actual-r.configured)/r.configured,
			len(read), maxInSecond(wrote), maxInSecond(read))
	}
	return nil
}
