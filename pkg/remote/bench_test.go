package remote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/remote"
)

// BenchmarkFanOut runs one scan action (client-trigger-schedule) on 5,000 lab hosts, each
// request delayed 50 ms by the lab, at concurrency 64 and 256, and reports the wall time
// against the ideal bound hosts / concurrency × requests per action × latency, the HTTP
// requests per action the lab counted, and the peak heap. Client and lab share the
// machine's cores and one process: KB/action and allocs/action count both sides (and the
// runtime's own), client-KB/action and client-allocs/action the client's share alone, and
// lab-KB/action the lab's (split by stack from the heap profile, see allocSplit). Run with:
// go test -run x -bench FanOut -benchtime 1x -benchmem ./pkg/remote/ (skipped with -short).
func BenchmarkFanOut(b *testing.B) {
	if testing.Short() {
		b.Log("BenchmarkFanOut needs minutes; skipped with -short")
		return
	}
	const (
		hosts   = 5000
		latency = 50 * time.Millisecond
	)
	for _, tc := range []struct {
		auth  string
		conc  int
		hosts int
	}{
		{"ntlm-http", 64, hosts},
		{"ntlm-http", 256, hosts},
		{"basic-https", 64, hosts},
		{"basic-https", 256, hosts},
		{"kerberos-https", 256, hosts},
		{"kerberos-http", 256, hosts},
		{"ntlm-http", 1024, hosts},
		{"basic-https", 1024, hosts},
		{"kerberos-https", 1024, hosts},
	} {
		b.Run(fmt.Sprintf("%s/c%d/%d-hosts", tc.auth, tc.conc, tc.hosts), func(b *testing.B) {
			https := tc.auth != "ntlm-http" && tc.auth != "kerberos-http"
			opts := lab.WSManOptions{Faults: func(string) lab.Fault { return lab.Fault{Latency: latency} }}
			krb := tc.auth == "kerberos-https" || tc.auth == "kerberos-http"
			if krb {
				// One service principal for every host (a host-independent acceptor): 5,000
				// principals would take the KDC minutes to create.
				if err := testKDC.AddService(b.Context(), benchSPNHost); err != nil {
					b.Fatal(err)
				}
				opts.Kerberos = &lab.WSManKerberos{Keytab: testKDC.Keytab, Principal: "HTTP/" + benchSPNHost}
			}
			s := startLab(b, lab.OpHandlerFunc(labHandler), opts, https, lab.TestPKIOptions{})
			var cfg remote.Config
			creds := labCreds
			switch tc.auth {
			case "ntlm-http":
				cfg = s.config(remote.AuthNTLM)
			case "basic-https":
				cfg, creds = s.config(remote.AuthBasic), remote.Credentials{User: "localadmin", Password: labPass}
			case "kerberos-https", "kerberos-http":
				cfg, creds = s.config(remote.AuthKerberos), remote.Credentials{User: testKDC.Principal(), Password: testKDC.Password}
				cfg.Kerberos = remote.KerberosConfig{Krb5Conf: testKDC.Krb5Conf, SPN: "HTTP/" + benchSPNHost}
			}
			cfg.OperationTimeout = 5 * time.Minute
			k, err := remote.NewConnector(cfg, creds)
			if err != nil {
				b.Fatal(err)
			}
			names := make([]string, tc.hosts)
			for i := range names {
				names[i] = fmt.Sprintf("pc%05d.lab.test", i)
			}
			peak := &peakHeap{}
			stop := peak.sample(10 * time.Millisecond)
			defer stop()
			var before, after runtime.MemStats
			splitBefore := readAllocSplit()
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			var sum remote.Summary
			for b.Loop() {
				s.w.ResetStats()
				sum = remote.FanOut(context.Background(), func(yield func(string) bool) {
					for _, h := range names {
						if !yield(h) {
							return
						}
					}
				}, remote.FanOutOptions{Concurrency: tc.conc}, func(ctx context.Context, host string) (struct{}, error) {
					c, err := k.Client(host)
					if err != nil {
						return struct{}{}, err
					}
					defer c.Close()
					return struct{}{}, c.Run(ctx, "client-trigger-schedule", json.RawMessage(scanParams), nil)
				}, nil)
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			split := readAllocSplit().minus(splitBefore)
			st := s.w.Stats()
			if sum.OK != tc.hosts {
				b.Fatalf("summary %s", sum)
			}
			perAction := float64(st.Requests) / float64(st.Commands)
			ideal := time.Duration(float64(tc.hosts) / float64(tc.conc) * perAction * float64(latency))
			b.ReportMetric(sum.Elapsed.Seconds(), "wall-s")
			b.ReportMetric(ideal.Seconds(), "ideal-s")
			b.ReportMetric(sum.Elapsed.Seconds()/ideal.Seconds(), "wall/ideal")
			b.ReportMetric(perAction, "req/action")
			b.ReportMetric(float64(tc.hosts)/sum.Elapsed.Seconds(), "hosts/s")
			b.ReportMetric(float64(peak.max())/(1<<20), "peak-heap-MiB")
			// Client and lab together (one process), then each side's share.
			actions := float64(tc.hosts) * float64(b.N)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/actions/1024, "KB/action")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/actions, "allocs/action")
			b.ReportMetric(split.client.bytes/actions/1024, "client-KB/action")
			b.ReportMetric(split.client.objects/actions, "client-allocs/action")
			b.ReportMetric(split.lab.bytes/actions/1024, "lab-KB/action")
		})
	}
}

// benchSPNHost names the one service principal the Kerberos benchmarks use for every host.
const benchSPNHost = "winrm.lab.test"

// peakHeap samples the heap in use.
type peakHeap struct {
	mu  sync.Mutex
	top uint64
}

func (p *peakHeap) sample(every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				p.mu.Lock()
				p.top = max(p.top, m.HeapInuse)
				p.mu.Unlock()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (p *peakHeap) max() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.top
}

// allocSplit is what the heap profile says was allocated so far, split by who allocated
// it: the lab (its HTTP server, TLS server handshakes, WinRM double, the test's handlers),
// the client (pkg/remote, net/http's client transport, TLS client handshakes, the
// libraries the client calls), and the rest (runtime, benchmark harness, stacks the
// profile cut short). The profile samples allocations (runtime.MemProfileRate, 512 KB by
// default; -test.memprofilerate sets it): each record is scaled back up to an estimate of
// what it stands for, so the split is an estimate whose error falls with the number of
// actions (thousands of samples for a 5,000-host run).
type allocSplit struct {
	client, lab, other allocSide
}

type allocSide struct{ bytes, objects float64 }

// labFrames and clientFrames are the function-name prefixes that place a stack on a side;
// the lab's are tested first (the lab's goroutines never run client code, but the client's
// TLS and HTTP packages are the lab's too).
var (
	labFrames = []string{
		"github.com/patchnight/patchnight/pkg/lab",
		"github.com/patchnight/patchnight/pkg/remote_test.labHandler",
		"net/http.(*conn).",
		"net/http.(*Server).",
		"net/http.(*response).",
		"net/http.serverHandler.",
		"crypto/tls.(*Conn).serverHandshake",
		"crypto/tls.(*serverHandshakeState",
	}
	clientFrames = []string{
		"github.com/patchnight/patchnight/pkg/remote.",
		"github.com/patchnight/patchnight/scripts.",
		"github.com/masterzen/",
		"net/http.(*persistConn).",
		"net/http.(*Transport).",
		"crypto/tls.(*Conn).clientHandshake",
		"crypto/tls.(*clientHandshakeState",
	}
)

// readAllocSplit reads the heap profile after a collection (the profile is complete as of
// the last finished cycle).
func readAllocSplit() allocSplit {
	runtime.GC()
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	rate := float64(runtime.MemProfileRate)
	var s allocSplit
	for i := range recs {
		r := &recs[i]
		if r.AllocObjects == 0 || r.AllocBytes == 0 {
			continue
		}
		// A sample stands for 1/(1-exp(-size/rate)) allocations of its size.
		objs, bytes := float64(r.AllocObjects), float64(r.AllocBytes)
		if rate > 1 {
			f := 1 / (1 - math.Exp(-bytes/objs/rate))
			objs, bytes = objs*f, bytes*f
		}
		side := &s.other
		switch stackSide(r.Stack()) {
		case "lab":
			side = &s.lab
		case "client":
			side = &s.client
		}
		side.bytes += bytes
		side.objects += objs
	}
	return s
}

// stackSide places a stack on the lab's side, the client's, or neither ("").
func stackSide(stack []uintptr) string {
	client := false
	frames := runtime.CallersFrames(stack)
	for {
		f, more := frames.Next()
		for _, p := range labFrames {
			if strings.HasPrefix(f.Function, p) {
				return "lab"
			}
		}
		for _, p := range clientFrames {
			if strings.HasPrefix(f.Function, p) {
				client = true
			}
		}
		if !more {
			break
		}
	}
	if client {
		return "client"
	}
	return ""
}

// minus is what was allocated between two readings.
func (s allocSplit) minus(o allocSplit) allocSplit {
	sub := func(a, b allocSide) allocSide { return allocSide{a.bytes - b.bytes, a.objects - b.objects} }
	return allocSplit{client: sub(s.client, o.client), lab: sub(s.lab, o.lab), other: sub(s.other, o.other)}
}
