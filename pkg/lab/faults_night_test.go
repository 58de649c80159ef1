package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// installAndSettle runs Install on name, moves the clock to the job's end and ticks.
func installAndSettle(t *testing.T, s *Sim, clk *testClock, name string) InstallResult {
	t.Helper()
	ctx := context.Background()
	res, err := s.Install(ctx, name)
	if err != nil {
		t.Fatalf("Install %s: %v", name, err)
	}
	if res.Queued > 0 {
		clk.Advance(res.Ends.Sub(clk.Now()))
		if err := s.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

func TestSimChainedUpdateAfterRestartAndScan(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t, WithRestartDuration(5*time.Minute))
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.CurrentUser IS NULL AND h.RebootPending = 0 AND EXISTS (SELECT 1
		FROM lab_update_state c WHERE c.ResourceID = h.ResourceID AND c.AfterCI <> 0 AND c.Status = 1)`)
	h, _ := s.Host(ctx, name)
	var b, a int64
	if err := s.db.QueryRow(`SELECT CI_ID, AfterCI FROM lab_update_state WHERE ResourceID = ? AND AfterCI <> 0`,
		h.ResourceID).Scan(&b, &a); err != nil {
		t.Fatal(err)
	}
	status := func() int {
		return count(t, s, `SELECT COALESCE((SELECT Status FROM v_UpdateComplianceStatus WHERE ResourceID = ? AND CI_ID = ?), 1)`,
			h.ResourceID, b)
	}
	// Before A is installed, a scan finds B not required, and an install leaves it out.
	if _, err := s.ScanThenSend(ctx, name); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 1 {
		t.Fatalf("chained update status %d before its predecessor is installed, want 1 (not required)", got)
	}
	installAndSettle(t, s, clk, name)
	if n := count(t, s, `SELECT COUNT(*) FROM lab_update_state WHERE ResourceID = ? AND CI_ID = ? AND Truth = 1`, h.ResourceID, a); n != 1 {
		t.Fatalf("predecessor not installed pending a restart")
	}
	if n := count(t, s, `SELECT Truth FROM lab_update_state WHERE ResourceID = ? AND CI_ID = ?`, h.ResourceID, b); n != 0 {
		t.Fatalf("chained update installed with its predecessor")
	}
	// Installed but not restarted: a scan still finds B not required.
	if _, err := s.ScanThenSend(ctx, name); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 1 {
		t.Fatalf("chained update status %d before the restart, want 1", got)
	}
	if _, err := s.Restart(ctx, name, false); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	// Restarted, not yet scanned: the site still sees it not required.
	if got := status(); got != 1 {
		t.Fatalf("chained update status %d after the restart without a scan, want 1", got)
	}
	if _, err := s.ScanThenSend(ctx, name); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 2 {
		t.Fatalf("chained update status %d after restart and scan, want 2 (required)", got)
	}
	res := installAndSettle(t, s, clk, name)
	if res.Queued != 1 {
		t.Fatalf("second install queued %d, want the chained update only", res.Queued)
	}
	assertInvariants(t, s)
}

func TestSimPendingRestartBlocksInstall(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t, WithRestartDuration(5*time.Minute))
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.RebootPending = 1`+hasMissing)
	res, err := s.Install(ctx, name)
	if err != nil || res.Queued != 0 {
		t.Fatalf("Install on a host waiting for a restart = %+v, %v; want nothing queued", res, err)
	}
	if _, err := s.Restart(ctx, name, false); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	if res := installAndSettle(t, s, clk, name); res.Queued == 0 {
		t.Fatal("nothing queued after the restart")
	}
}

func TestSimTransientInstallFailurePassesLater(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t, WithRestartDuration(5*time.Minute))
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.RebootPending = 0`+hasMissing)
	h, _ := s.Host(ctx, name)
	code := transientCodes[0]
	if _, err := s.db.Exec(`UPDATE lab_host SET TransientFails = 2, TransientCode = ? WHERE ResourceID = ?`, code, h.ResourceID); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		installAndSettle(t, s, clk, name)
		failed := count(t, s, `SELECT COUNT(*) FROM lab_update_state WHERE ResourceID = ? AND LastEnforcementMessageID = 11
			AND LastErrorCode = ? AND Truth = 0`, h.ResourceID, code)
		pending := count(t, s, `SELECT RebootPending FROM lab_host WHERE ResourceID = ?`, h.ResourceID)
		switch {
		case attempt < 3 && (failed == 0 || pending != 0):
			t.Fatalf("attempt %d: %d failed with 0x%08X, pending %d; want a failure", attempt, failed, uint32(code), pending)
		case attempt == 3 && pending != 1:
			t.Fatalf("attempt 3: not installed pending a restart (%d still failed)", failed)
		}
	}
}

func TestSimAwayHostLeavesAndComesBack(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t)
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.WolEnabled = 1 AND h.RebootPending = 0`+hasMissing)
	h, _ := s.Host(ctx, name)
	res, err := s.Install(ctx, name)
	if err != nil || res.Queued == 0 {
		t.Fatalf("Install = %+v, %v", res, err)
	}
	leave, back := clk.Now().Add(2*time.Minute), clk.Now().Add(3*time.Hour)
	if _, err := s.db.Exec(`UPDATE lab_host SET AwayAt = ?, AwayUntil = ? WHERE ResourceID = ?`,
		timeText(leave), timeText(back), h.ResourceID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Host(ctx, name); got.Online {
		t.Fatal("host still online after it left")
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_install_job WHERE ResourceID = ?`, h.ResourceID); n != 0 {
		t.Errorf("%d install job rows survived the host switching off", n)
	}
	var mac string
	if err := s.db.QueryRow(`SELECT MAC_Addresses0 FROM lab_ra_mac WHERE ResourceID = ?`, h.ResourceID).Scan(&mac); err != nil {
		t.Fatal(err)
	}
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	if woke, err := s.WakeMAC(ctx, hw); err != nil || woke {
		t.Errorf("a magic packet woke a host that is away: %v, %v", woke, err)
	}
	if _, err := s.Install(ctx, name); !errors.Is(err, ErrOffline) {
		t.Errorf("Install while away: %v, want ErrOffline", err)
	}
	clk.Advance(back.Sub(clk.Now()))
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Host(ctx, name); !got.Online {
		t.Fatal("host not back at AwayUntil")
	}
	assertInvariants(t, s)
}

func TestSimNoComeBackAfterRestart(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t, WithRestartDuration(5*time.Minute))
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.WolEnabled = 1`)
	h, _ := s.Host(ctx, name)
	if _, err := s.db.Exec(`UPDATE lab_host SET NoComeBack = 1 WHERE ResourceID = ?`, h.ResourceID); err != nil {
		t.Fatal(err)
	}
	rr, err := s.Restart(ctx, name, false)
	if err != nil || !rr.Restarted {
		t.Fatalf("Restart = %+v, %v", rr, err)
	}
	clk.Advance(48 * time.Hour)
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Host(ctx, name); got.Online {
		t.Fatal("a host that does not come back is online two days after its restart")
	}
	var mac string
	if err := s.db.QueryRow(`SELECT MAC_Addresses0 FROM lab_ra_mac WHERE ResourceID = ?`, h.ResourceID).Scan(&mac); err != nil {
		t.Fatal(err)
	}
	hw, _ := net.ParseMAC(mac)
	if woke, err := s.WakeMAC(ctx, hw); err != nil || woke {
		t.Errorf("a magic packet woke a host that did not come back: %v, %v", woke, err)
	}
}

func TestSimSlowInstallTakesLonger(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t)
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.RebootPending = 0`+hasMissing)
	h, _ := s.Host(ctx, name)
	normal := func() time.Duration {
		var d time.Duration
		rows, err := s.db.Query(`SELECT s.CI_ID, u.Title LIKE '%Cumulative Update%' FROM lab_update_state s JOIN lab_update u USING (CI_ID)
			WHERE s.ResourceID = ? AND s.Status = 2 AND s.Truth = 0 AND u.IsDeployed = 1`, h.ResourceID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var ci int64
			var cu bool
			rows.Scan(&ci, &cu)
			dl, in := installDurations(h.ResourceID, ci, cu)
			d += dl + in*250/100
		}
		return d
	}
	want := normal()
	if _, err := s.db.Exec(`UPDATE lab_host SET InstallPace = 250 WHERE ResourceID = ?`, h.ResourceID); err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	res, err := s.Install(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Ends.Sub(start) - jobStartDelay; got != want {
		t.Errorf("slow job takes %v, want %v (installs at 250%%)", got, want)
	}
}

// TestFaultRates checks the rates: zero gives none of the night faults, the defaults give
// each, out-of-range rates are refused, and the same seed gives the same faults.
func TestFaultRates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	faultCounts := func(path string) string {
		db := openRO(t, path)
		defer db.Close()
		return fmt.Sprint(
			scalar(t, db, `SELECT COUNT(*) FROM lab_host WHERE InstallFault <> 0`),
			scalar(t, db, `SELECT COUNT(*) FROM lab_host WHERE TransientFails > 0`),
			scalar(t, db, `SELECT COUNT(DISTINCT ResourceID) FROM lab_update_state WHERE AfterCI <> 0`),
			scalar(t, db, `SELECT COUNT(*) FROM lab_host WHERE AwayAt IS NOT NULL`),
			scalar(t, db, `SELECT COUNT(*) FROM lab_host WHERE InstallPace <> 100`),
			scalar(t, db, `SELECT COUNT(*) FROM lab_host WHERE NoComeBack = 1`))
	}
	none := NoFaults()
	high := FaultRates{InstallFault: 0.05, Transient: 0.2, Chain: 0.3, Away: 0.5, Slow: 0.3, NoComeBack: 0.05}
	tests := []struct {
		name   string
		rates  *FaultRates
		zero   bool
		errOut bool
	}{
		{"none", &none, true, false},
		{"default", nil, false, false},
		{"high", &high, false, false},
		{"negative", &FaultRates{Away: -0.1}, false, true},
		{"above one", &FaultRates{Chain: 1.5}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got [2]string
			for k := range got {
				path := filepath.Join(dir, fmt.Sprintf("%s-%d.db", tc.name, k))
				_, err := Generate(ctx, path, Options{Hosts: 600, Seed: 5, Updates: 30, Faults: tc.rates})
				if tc.errOut {
					if err == nil {
						t.Fatal("out-of-range rate accepted")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got[k] = faultCounts(path)
			}
			if got[0] != got[1] {
				t.Errorf("same seed, different faults: %s vs %s", got[0], got[1])
			}
			if tc.zero && got[0] != "0 0 0 0 0 0" {
				t.Errorf("no-fault lab has faults: %s", got[0])
			}
			if !tc.zero {
				var n [6]int
				fmt.Sscan(got[0], &n[0], &n[1], &n[2], &n[3], &n[4], &n[5])
				for i, v := range n {
					if v == 0 {
						t.Errorf("fault %d absent from a lab of 600 hosts: %s", i, got[0])
					}
				}
			}
		})
	}
}
