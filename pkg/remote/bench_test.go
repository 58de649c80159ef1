package remote_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
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
// machine's cores; KB/action and allocs/action count both sides. Run with:
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
			// Client and lab together (one process); the client's share is in a
			// -memprofile focused on remote.FanOut.
			actions := float64(tc.hosts) * float64(b.N)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/actions/1024, "KB/action")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/actions, "allocs/action")
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
