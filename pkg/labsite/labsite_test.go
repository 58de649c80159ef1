package labsite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/pkg/lab"
)

// With Options.Tick the site ticks by itself: a scan result waiting on its client reaches
// the site's views when the state message reporting cycle comes round, with nobody acting
// on the host (what lab serve relies on).
func TestSiteTicksByItself(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lab.db")
	opt := lab.DefaultOptions()
	opt.Hosts, opt.Seed = 40, 3
	if _, err := lab.Generate(ctx, path, opt); err != nil {
		t.Fatal(err)
	}
	clock := NewClock(time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC))
	s, err := Start(ctx, path, Options{HTTP: true, Clock: clock, Tick: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var name string
	var rid int64
	if err := s.DB.QueryRow(`SELECT Name, ResourceID FROM lab_host WHERE IsClient = 1 AND Power = 'on' AND ScanFault = 0
		ORDER BY ResourceID LIMIT 1`).Scan(&name, &rid); err != nil {
		t.Fatal(err)
	}
	res, err := s.Sim.Scan(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	seen := func() bool {
		var n int
		err := s.DB.QueryRow(`SELECT COUNT(*) FROM v_UpdateScanStatus WHERE ResourceID = ? AND LastScanTime = ?`,
			rid, res.Time.UTC().Format("2006-01-02 15:04:05")).Scan(&n)
		if err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return n == 1
	}
	if seen() {
		t.Fatal("the scan reached the site before its state messages were sent")
	}
	clock.Advance(lab.StateMessageCycle)
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !seen() {
		select {
		case <-wait.Done():
			t.Fatal("the site never ticked the scan result through")
		case <-tick.C:
		}
	}
}
