package wol

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/site"
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

// BenchmarkPlanAll plans a wake of every machine of a 20,000-machine lab (Options.Plan:
// the one set-based read of queries/wol_targets.sql and the planning), as `wol --all`
// does before it sends, and reports machines planned per second. Run with:
// go test -run x -bench PlanAll -benchmem ./pkg/wol/ (the lab takes a few seconds to build).
func BenchmarkPlanAll(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "lab.db")
	if _, err := lab.Generate(ctx, path, lab.Options{Hosts: 20_000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	o := DefaultOptions()
	o.All = true
	var hosts int
	for b.Loop() {
		p, err := o.Plan(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		hosts = len(p.Awake) + len(p.Skipped)
		for _, s := range p.Subnets {
			hosts += s.Hosts()
		}
	}
	b.ReportMetric(float64(hosts)*float64(b.N)/b.Elapsed().Seconds(), "machines/s")
}
