package wol

import (
	"context"
	"net/netip"
	"testing"
)

// BenchmarkSendUnpaced writes 100,000 magic packets per iteration from the product socket
// (Listen) to 127.0.0.1:40009, building each packet as Send does, with no pacing, and
// reports packets per second. Compare with Debian's wakeonlan: go run ./pkg/wol/internal/wolbench.
func BenchmarkSendUnpaced(b *testing.B) {
	conn, err := Listen(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	s, err := NewSender(conn, 40009)
	if err != nil {
		b.Fatal(err)
	}
	macs := make([]MAC, 1000)
	for i := range macs {
		macs[i] = MAC{0x3C, 0x52, 0x82, 0, byte(i >> 8), byte(i)}
	}
	dst := netip.MustParseAddr("127.0.0.1")
	const perIter = 100_000
	iters := 0
	for b.Loop() {
		for i := range perIter {
			pkt, err := Packet(macs[i%len(macs)], nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Send(pkt, dst); err != nil {
				b.Fatal(err)
			}
		}
		iters++
	}
	b.ReportMetric(float64(perIter*iters)/b.Elapsed().Seconds(), "packets/s")
}
