package journal

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRecord100k records 100,000 host outcomes (one step of a large night, two rows
// per host: the install and the restart) through the buffered writer and reports rows per
// second and the database size.
func BenchmarkRecord100k(b *testing.B) {
	const rows = 100_000
	ctx := context.Background()
	at := time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)
	var size int64
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		j, err := Open(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		run, st := beginStep(b, j, "install-logged-off")
		b.StartTimer()
		for i := range rows {
			o := HostOutcome{Run: run.ID, Step: st.ID, Host: host(i / 2), ResourceID: int64(16777216 + i/2),
				Action: "install", Outcome: OutcomeOK, Channel: "winrm", At: at.Add(time.Duration(i) * time.Millisecond)}
			if i%2 == 1 {
				o.Action = "restart"
			}
			if i%37 == 0 {
				o.Outcome, o.Reason, o.ErrorCode = OutcomeFailed, "install failed: 0x80240016 (another install or a pending restart)", 0x80240016
			}
			if err := j.Record(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
		if err := j.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
		st2, err := os.Stat(filepath.Join(dir, FileName))
		if err != nil {
			b.Fatal(err)
		}
		size = st2.Size()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/(1<<20), "MiB-db")
	b.ReportMetric(float64(size)/rows, "bytes/row")
}
