package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a simulated clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// simLab copies the shared lab into the test's directory and opens a simulator on it.
func simLab(t *testing.T, opts ...SimOption) (*Sim, *testClock) {
	t.Helper()
	b, err := os.ReadFile(labPath(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lab.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	clk := &testClock{t: time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)}
	s, err := OpenSim(path, clk.Now, opts...)
	if err != nil {
		t.Fatalf("OpenSim: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

// pick returns the name of the first host matching cond (SQL over lab_host h).
func pick(t *testing.T, s *Sim, cond string, args ...any) string {
	t.Helper()
	var name string
	if err := s.db.QueryRow(`SELECT h.Name FROM lab_host h WHERE `+cond+` ORDER BY h.ResourceID LIMIT 1`, args...).Scan(&name); err != nil {
		t.Fatalf("no lab host with %s: %v", cond, err)
	}
	return name
}

func count(t *testing.T, s *Sim, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

const (
	healthyOn = `h.IsClient = 1 AND h.Power = 'on' AND h.InstallFault = 0 AND h.ScanFault = 0
		AND h.TransientFails = 0 AND h.AwayAt IS NULL AND h.NoComeBack = 0 AND h.InstallPace = 100`
	hasMissing = ` AND EXISTS (SELECT 1 FROM lab_update_state s JOIN lab_update u USING (CI_ID)
		WHERE s.ResourceID = h.ResourceID AND s.Status = 2 AND s.Truth = 0 AND u.IsDeployed = 1)`
)

func TestSimHostLookup(t *testing.T) {
	t.Parallel()
	s, _ := simLab(t)
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.CurrentUser IS NOT NULL`)
	want, err := s.Host(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !want.Online || want.CurrentUser == "" || want.ResourceID == 0 || !strings.HasPrefix(want.Address, "127.") {
		t.Fatalf("Host(%s) = %+v", name, want)
	}
	for _, alias := range []string{strings.ToLower(name), " " + name + " ", want.FQDN, strings.ToUpper(want.FQDN), want.Address} {
		got, err := s.Host(ctx, alias)
		if err != nil || got.ResourceID != want.ResourceID {
			t.Errorf("Host(%q) = %d, %v; want %d", alias, got.ResourceID, err, want.ResourceID)
		}
	}
	for _, bad := range []string{"", "PC-99999", "nosuch.lab.patchnight.test", "127.250.250.250", "PC-%"} {
		if _, err := s.Host(ctx, bad); !errors.Is(err, ErrUnknownHost) {
			t.Errorf("Host(%q): %v, want ErrUnknownHost", bad, err)
		}
	}
	if _, err := s.Scan(ctx, "PC-99999"); !errors.Is(err, ErrUnknownHost) {
		t.Errorf("Scan of an unknown host: %v", err)
	}
}

func TestSimScanMovesBehindHostToCurrent(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t)
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND EXISTS (SELECT 1 FROM lab_scan_status ss WHERE ss.ResourceID = h.ResourceID
		AND ss.UpdateSource_ID = ? AND ss.LastScanPackageVersion = 411)
		AND EXISTS (SELECT 1 FROM lab_update_state s WHERE s.ResourceID = h.ResourceID AND s.Status = 0)`, publishSourceID)
	h, _ := s.Host(ctx, name)
	unknown := count(t, s, `SELECT COUNT(*) FROM lab_update_state WHERE ResourceID = ? AND Status = 0`, h.ResourceID)
	before := count(t, s, `SELECT COUNT(*) FROM v_UpdateComplianceStatus WHERE ResourceID = ?`, h.ResourceID)
	clk.Advance(90 * time.Minute)
	res, err := s.Scan(ctx, name)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if res.State != 3 || res.ErrorCode != 0 || res.PreviousVersion != 411 || res.CatalogVersion != CatalogVersion {
		t.Errorf("Scan result %+v", res)
	}
	if got := res.Required + res.Installed; got != before+unknown {
		t.Errorf("scan reported %d rows, want %d (%d known + %d newly reported)", got, before+unknown, before, unknown)
	}
	// The result waits on the client until state messages are sent (schedule 111).
	if n := count(t, s, `SELECT COUNT(*) FROM lab_update_state WHERE ResourceID = ? AND Status = 0`, h.ResourceID); n != unknown {
		t.Errorf("%d rows unknown before the state messages were sent, want %d", n, unknown)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM v_UpdateScanStatus WHERE ResourceID = ? AND UpdateSource_ID = ?
		AND LastScanPackageVersion = 412`, h.ResourceID, publishSourceID); n != 0 {
		t.Error("the site saw the scan before the client sent its state messages")
	}
	if sent, err := s.SendStateMessages(ctx, name); err != nil || sent != 1 {
		t.Fatalf("SendStateMessages = %d, %v", sent, err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_update_state WHERE ResourceID = ? AND Status = 0`, h.ResourceID); n != 0 {
		t.Errorf("%d rows still unknown after a scan to the current catalog", n)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM v_UpdateScanStatus WHERE ResourceID = ? AND UpdateSource_ID = ?
		AND LastScanPackageVersion = 412 AND LastScanState = 3 AND LastScanTime = '2026-12-08 16:30:00'`, h.ResourceID, publishSourceID); n != 1 {
		t.Error("scan status not moved to the current catalog at the simulated time")
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_event WHERE ResourceID = ? AND Action = 'scan'`, h.ResourceID); n != 1 {
		t.Errorf("%d scan events", n)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_unsent_scan`) + count(t, s, `SELECT COUNT(*) FROM lab_unsent_status`); n != 0 {
		t.Errorf("%d unsent rows left after schedule 111", n)
	}
}

// Without schedule 111 a scan's result reaches the site when the host's state message
// reporting cycle comes round, not before.
func TestSimScanReachesSiteOnReportingCycle(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t)
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND EXISTS (SELECT 1 FROM lab_scan_status ss WHERE ss.ResourceID = h.ResourceID
		AND ss.UpdateSource_ID = ? AND ss.LastScanPackageVersion = 411)`, publishSourceID)
	h, _ := s.Host(ctx, name)
	current := func() int {
		return count(t, s, `SELECT COUNT(*) FROM v_UpdateScanStatus WHERE ResourceID = ? AND UpdateSource_ID = ?
			AND LastScanPackageVersion = 412`, h.ResourceID, publishSourceID)
	}
	if _, err := s.Scan(ctx, name); err != nil {
		t.Fatal(err)
	}
	due := stateDue(h.ResourceID, clk.Now())
	if wait := due.Sub(clk.Now()); wait <= 0 || wait > StateMessageCycle {
		t.Fatalf("next cycle in %v, want within (0, %v]", wait, StateMessageCycle)
	}
	clk.Advance(due.Sub(clk.Now()) - time.Second)
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if current() != 0 {
		t.Fatal("scan result reached the site before the reporting cycle")
	}
	clk.Advance(time.Second)
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if current() != 1 {
		t.Fatal("scan result did not reach the site at the reporting cycle")
	}
}

func TestSimScanNeverScannedAndFailed(t *testing.T) {
	t.Parallel()
	s, _ := simLab(t)
	ctx := context.Background()
	never := pick(t, s, `h.IsClient = 1 AND h.Power = 'on' AND h.ScanFault = 0 AND NOT EXISTS
		(SELECT 1 FROM lab_scan_status ss WHERE ss.ResourceID = h.ResourceID AND ss.UpdateSource_ID = ?)`, publishSourceID)
	res, err := s.Scan(ctx, never)
	if err != nil || res.PreviousVersion != 0 || res.CatalogVersion != CatalogVersion || res.State != 3 {
		t.Fatalf("Scan of a never-scanned host: %+v, %v", res, err)
	}
	h, _ := s.Host(ctx, never)
	if _, err := s.SendStateMessages(ctx, never); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_scan_status WHERE ResourceID = ? AND UpdateSource_ID = ?`, h.ResourceID, publishSourceID); n != 1 {
		t.Error("no scan row inserted for a never-scanned host")
	}

	failing := pick(t, s, `h.IsClient = 1 AND h.Power = 'on' AND h.ScanFault <> 0`)
	h, _ = s.Host(ctx, failing)
	var version int
	if err := s.db.QueryRow(`SELECT LastScanPackageVersion FROM lab_scan_status WHERE ResourceID = ? AND UpdateSource_ID = ?`,
		h.ResourceID, publishSourceID).Scan(&version); err != nil {
		t.Fatal(err)
	}
	res, err = s.Scan(ctx, failing)
	if err != nil || res.State != 5 || res.ErrorCode != h.ScanFault || res.CatalogVersion != version {
		t.Fatalf("Scan with a scan fault: %+v, %v (fault %d, version %d)", res, err, h.ScanFault, version)
	}
	if _, err := s.SendStateMessages(ctx, failing); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM v_UpdateScanStatus WHERE ResourceID = ? AND UpdateSource_ID = ?
		AND LastScanState = 5 AND LastErrorCode = ? AND LastScanPackageVersion = ?`, h.ResourceID, publishSourceID, h.ScanFault, version); n != 1 {
		t.Error("failed scan not recorded")
	}
	assertInvariants(t, s)
}

func TestSimInstallRestartCycle(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t, WithRestartDuration(5*time.Minute))
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.CurrentUser IS NULL AND h.RebootPending = 0`+hasMissing)
	h, _ := s.Host(ctx, name)
	missing := count(t, s, `SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u USING (CI_ID)
		WHERE s.ResourceID = ? AND s.Status = 2 AND s.Truth = 0 AND u.IsDeployed = 1`, h.ResourceID)
	installedBefore := count(t, s, `SELECT COUNT(*) FROM v_UpdateComplianceStatus WHERE ResourceID = ? AND Status = 3`, h.ResourceID)

	if st, err := s.RebootPending(ctx, name); err != nil || st.Pending {
		t.Fatalf("RebootPending before install: %+v, %v", st, err)
	}
	res, err := s.Install(ctx, name)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if res.Queued != missing || len(res.ArticleIDs) != missing || !res.Ends.After(clk.Now()) {
		t.Fatalf("Install = %+v, want %d queued, ending later", res, missing)
	}
	// InstallUpdates only queued the job: nothing is pending a restart yet.
	if st, err := s.RebootPending(ctx, name); err != nil || st.Pending {
		t.Fatalf("RebootPending right after InstallUpdates: %+v, %v", st, err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM v_UpdateComplianceStatus WHERE ResourceID = ? AND LastEnforcementMessageID = 9`, h.ResourceID); n != 0 {
		t.Errorf("%d rows pending restart before the job ran", n)
	}
	clk.Advance(res.Ends.Sub(clk.Now()))
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM v_UpdateComplianceStatus WHERE ResourceID = ? AND Status = 2
		AND LastEnforcementMessageID = 9`, h.ResourceID); n != missing {
		t.Errorf("%d rows pending restart in v_UpdateComplianceStatus, want %d", n, missing)
	}
	st, err := s.RebootPending(ctx, name)
	if err != nil || !st.Pending || !st.Hard || !st.Deadline.Equal(time.Date(2026, 12, 8, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("RebootPending after install: %+v, %v", st, err)
	}
	if again, err := s.Install(ctx, name); err != nil || again.Queued != 0 {
		t.Errorf("second Install = %+v, %v; want nothing to install", again, err)
	}

	rr, err := s.Restart(ctx, name, true)
	if err != nil || !rr.Restarted || rr.Completed != missing {
		t.Fatalf("Restart = %+v, %v", rr, err)
	}
	if want := clk.Now().Add(5 * time.Minute); !rr.BackOnline.Equal(want) {
		t.Errorf("BackOnline %v, want %v", rr.BackOnline, want)
	}
	for _, op := range offlineOps(s) {
		if err := op.run(ctx, name); !errors.Is(err, ErrOffline) {
			t.Errorf("%s while restarting: %v, want ErrOffline", op.name, err)
		}
	}
	if got, _ := s.Host(ctx, name); got.Online || !got.OfflineUntil.Equal(rr.BackOnline) {
		t.Errorf("Host while restarting: %+v", got)
	}
	if n := count(t, s, `SELECT CNIsOnline FROM v_CombinedDeviceResources WHERE MachineID = ?`, h.ResourceID); n != 0 {
		t.Error("CNIsOnline = 1 while restarting")
	}

	clk.Advance(5 * time.Minute)
	if got, _ := s.Host(ctx, name); !got.Online {
		t.Errorf("host not back online after the restart duration: %+v", got)
	}
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT CNIsOnline FROM v_CombinedDeviceResources WHERE MachineID = ?`, h.ResourceID); n != 1 {
		t.Error("CNIsOnline = 0 after Tick")
	}
	if n := count(t, s, `SELECT COUNT(*) FROM v_UpdateComplianceStatus WHERE ResourceID = ? AND Status = 3`, h.ResourceID); n != installedBefore+missing {
		t.Errorf("%d installed rows after restart, want %d", n, installedBefore+missing)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_update_state WHERE ResourceID = ? AND Truth = 1`, h.ResourceID); n != 0 {
		t.Errorf("%d rows still pending restart", n)
	}
	if st, err := s.RebootPending(ctx, name); err != nil || st.Pending {
		t.Errorf("RebootPending after restart: %+v, %v", st, err)
	}
	var events []string
	rows, err := s.db.Query(`SELECT Action FROM lab_event WHERE ResourceID = ? ORDER BY Seq`, h.ResourceID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		rows.Scan(&a)
		events = append(events, a)
	}
	rows.Close()
	if got := strings.Join(events, ","); got != "install,install,restart,scan,evaluate,policy,install,restart,send-state,online" {
		t.Errorf("events %s", got)
	}
	assertInvariants(t, s)
}

type op struct {
	name string
	run  func(context.Context, string) error
}

func offlineOps(s *Sim) []op {
	return []op{
		{"scan", func(ctx context.Context, h string) error { _, err := s.Scan(ctx, h); return err }},
		{"evaluate", s.Evaluate},
		{"policy", s.PolicyRetrieval},
		{"install", func(ctx context.Context, h string) error { _, err := s.Install(ctx, h); return err }},
		{"restart", func(ctx context.Context, h string) error { _, err := s.Restart(ctx, h, false); return err }},
		{"send-state", func(ctx context.Context, h string) error { _, err := s.SendStateMessages(ctx, h); return err }},
		{"reboot-pending", func(ctx context.Context, h string) error { _, err := s.RebootPending(ctx, h); return err }},
		{"logged-on", func(ctx context.Context, h string) error { _, err := s.LoggedOn(ctx, h); return err }},
	}
}

func TestSimOfflineAndNoClient(t *testing.T) {
	t.Parallel()
	s, _ := simLab(t)
	ctx := context.Background()
	off := pick(t, s, `h.IsClient = 1 AND h.Power = 'off'`)
	for _, o := range offlineOps(s) {
		if err := o.run(ctx, off); !errors.Is(err, ErrOffline) {
			t.Errorf("%s on a powered-off host: %v, want ErrOffline", o.name, err)
		}
	}
	h, _ := s.Host(ctx, off)
	if n := count(t, s, `SELECT COUNT(*) FROM lab_event WHERE ResourceID = ? AND Detail = 'refused: offline'`, h.ResourceID); n != 6 {
		t.Errorf("%d refusals recorded, want 6 (one per write action)", n)
	}
	noClient := pick(t, s, `h.IsClient = 0 AND h.Power = 'on'`)
	for _, o := range offlineOps(s)[:6] {
		if err := o.run(ctx, noClient); !errors.Is(err, ErrNoClient) {
			t.Errorf("%s on a host without client: %v, want ErrNoClient", o.name, err)
		}
	}
}

func TestSimInstallFault(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t)
	ctx := context.Background()
	name := pick(t, s, `h.IsClient = 1 AND h.Power = 'on' AND h.InstallFault <> 0`+hasMissing)
	h, _ := s.Host(ctx, name)
	failedBefore := count(t, s, `SELECT COUNT(*) FROM v_UpdateComplianceStatus WHERE ResourceID = ? AND LastEnforcementMessageID = 11
		AND LastErrorCode = ?`, h.ResourceID, installFaultCode)
	res, err := s.Install(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if res.Queued == 0 {
		t.Fatalf("Install with a fault = %+v; InstallUpdates queues the job all the same", res)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM v_UpdateComplianceStatus WHERE ResourceID = ? AND LastEnforcementMessageID = 11
		AND LastErrorCode = ?`, h.ResourceID, installFaultCode); n != failedBefore {
		t.Errorf("%d rows failed before the job ran, want the %d of earlier nights", n, failedBefore)
	}
	clk.Advance(res.Ends.Sub(clk.Now()))
	states, err := s.UpdateStates(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range states {
		if u.EvaluationState != EvalError || u.ErrorCode != installFaultCode {
			t.Errorf("update %s at the end of a failing job: %+v, want error 13 with the fault's code", u.ArticleID, u)
		}
	}
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM v_UpdateComplianceStatus WHERE ResourceID = ? AND Status = 2
		AND LastEnforcementMessageID = 11 AND LastErrorCode = ?`, h.ResourceID, installFaultCode); n != res.Queued {
		t.Errorf("%d failed rows, want %d", n, res.Queued)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_update_state WHERE ResourceID = ? AND Truth = 1`, h.ResourceID); n != 0 {
		t.Errorf("%d updates installed despite the fault", n)
	}
	if st, _ := s.RebootPending(ctx, name); st.Pending {
		t.Error("reboot pending after failed installs")
	}
}

func TestSimRestartWithUserLoggedOn(t *testing.T) {
	t.Parallel()
	s, _ := simLab(t)
	ctx := context.Background()
	name := pick(t, s, healthyOn+` AND h.CurrentUser IS NOT NULL`)
	h, _ := s.Host(ctx, name)
	sessions, err := s.LoggedOn(ctx, name)
	if err != nil || len(sessions) != 1 || sessions[0].User != h.CurrentUser || sessions[0].Kind != "console" {
		t.Fatalf("LoggedOn = %+v, %v", sessions, err)
	}
	rr, err := s.Restart(ctx, name, true)
	if err != nil || rr.Restarted || rr.Reason == "" {
		t.Fatalf("Restart with a user logged on = %+v, %v; want skipped with a reason", rr, err)
	}
	if got, _ := s.Host(ctx, name); !got.Online || got.CurrentUser != h.CurrentUser {
		t.Errorf("host changed by a skipped restart: %+v", got)
	}
	rr, err = s.Restart(ctx, name, false)
	if err != nil || !rr.Restarted {
		t.Fatalf("forced Restart = %+v, %v", rr, err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_host WHERE ResourceID = ? AND CurrentUser IS NULL AND Power = 'off'`, h.ResourceID); n != 1 {
		t.Error("restart did not log the user off and take the host down")
	}

	nobody := pick(t, s, healthyOn+` AND h.CurrentUser IS NULL`)
	if sessions, err := s.LoggedOn(ctx, nobody); err != nil || len(sessions) != 0 {
		t.Errorf("LoggedOn with nobody = %+v, %v", sessions, err)
	}
}

func TestSimWakeMAC(t *testing.T) {
	t.Parallel()
	s, _ := simLab(t)
	ctx := context.Background()
	mac := func(name string) net.HardwareAddr {
		t.Helper()
		var m string
		if err := s.db.QueryRow(`SELECT a.MACAddress FROM lab_adapter a JOIN lab_host h USING (ResourceID)
			WHERE h.Name = ? AND a.AdapterIndex = 1`, name).Scan(&m); err != nil {
			t.Fatal(err)
		}
		hw, err := net.ParseMAC(m)
		if err != nil {
			t.Fatal(err)
		}
		return hw
	}
	unique := ` AND (SELECT COUNT(*) FROM lab_adapter b WHERE b.MACAddress =
		(SELECT a.MACAddress FROM lab_adapter a WHERE a.ResourceID = h.ResourceID AND a.AdapterIndex = 1)) = 1`
	wolOn := pick(t, s, `h.Power = 'off' AND h.WolEnabled = 1 AND h.OfflineUntil IS NULL AND h.FormFactor <> 'virtual'
		AND EXISTS (SELECT 1 FROM lab_adapter a WHERE a.ResourceID = h.ResourceID AND a.AdapterIndex = 1
		AND a.MACAddress GLOB '[0-9A-F][0-9A-F]:[0-9A-F][0-9A-F]:[0-9A-F][0-9A-F]:[0-9A-F][0-9A-F]:[0-9A-F][0-9A-F]:[0-9A-F][0-9A-F]'
		AND a.MACAddress <> '00:00:00:00:00:00')`+unique)
	wolOff := pick(t, s, `h.Power = 'off' AND h.WolEnabled = 0 AND EXISTS (SELECT 1 FROM lab_adapter a WHERE
		a.ResourceID = h.ResourceID AND a.AdapterIndex = 1 AND a.MACAddress NOT LIKE '00:00:00%' AND length(a.MACAddress) = 17)`+unique)

	woke, err := s.WakeMAC(ctx, mac(wolOn))
	if err != nil || !woke {
		t.Fatalf("WakeMAC of a WoL-enabled host = %v, %v", woke, err)
	}
	if h, _ := s.Host(ctx, wolOn); !h.Online {
		t.Error("host not online after a wake")
	}
	woke, err = s.WakeMAC(ctx, mac(wolOn))
	if err != nil || woke {
		t.Errorf("WakeMAC of a host already on = %v, %v; want false", woke, err)
	}
	woke, err = s.WakeMAC(ctx, mac(wolOff))
	if err != nil || woke {
		t.Errorf("WakeMAC of a host with WoL disabled = %v, %v; want false", woke, err)
	}
	if h, _ := s.Host(ctx, wolOff); h.Online {
		t.Error("host with WoL disabled woke")
	}
	if woke, err := s.WakeMAC(ctx, net.HardwareAddr{0x02, 0, 0, 0, 0, 1}); err != nil || woke {
		t.Errorf("WakeMAC of an unknown MAC = %v, %v", woke, err)
	}
	if _, err := s.WakeMAC(ctx, net.HardwareAddr{1, 2, 3}); err == nil {
		t.Error("WakeMAC accepted a 3-byte address")
	}

	// A host without hardware inventory wakes by its discovered MAC.
	var noInv string
	var noInvMAC string
	err = s.db.QueryRow(`SELECT h.Name, m.MAC_Addresses0 FROM lab_host h JOIN lab_ra_mac m USING (ResourceID)
		WHERE NOT EXISTS (SELECT 1 FROM lab_adapter a WHERE a.ResourceID = h.ResourceID)
		ORDER BY h.ResourceID LIMIT 1`).Scan(&noInv, &noInvMAC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`UPDATE lab_host SET Power = 'off', WolEnabled = 1, CurrentUser = NULL WHERE Name = ?`, noInv); err != nil {
		t.Fatal(err)
	}
	hw, _ := net.ParseMAC(noInvMAC)
	if woke, err := s.WakeMAC(ctx, hw); err != nil || !woke {
		t.Errorf("WakeMAC of a host known only from discovery = %v, %v", woke, err)
	}

	// Both machines that share a MAC wake.
	var dup string
	if err := s.db.QueryRow(`SELECT MACAddress FROM lab_adapter WHERE MACAddress <> '00:00:00:00:00:00'
		GROUP BY MACAddress HAVING COUNT(DISTINCT ResourceID) > 1 ORDER BY MACAddress LIMIT 1`).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`UPDATE lab_host SET Power = 'off', WolEnabled = 1, CurrentUser = NULL WHERE ResourceID IN
		(SELECT ResourceID FROM lab_adapter WHERE MACAddress = ?)`, dup); err != nil {
		t.Fatal(err)
	}
	hw, _ = net.ParseMAC(dup)
	if woke, err := s.WakeMAC(ctx, hw); err != nil || !woke {
		t.Fatalf("WakeMAC of a duplicate MAC = %v, %v", woke, err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_host WHERE Power = 'on' AND ResourceID IN
		(SELECT ResourceID FROM lab_adapter WHERE MACAddress = ?)`, dup); n != 2 {
		t.Errorf("%d of the 2 hosts sharing %s woke", n, dup)
	}
}

func TestSimMembers(t *testing.T) {
	t.Parallel()
	s, _ := simLab(t)
	ctx := context.Background()
	m, err := s.Members(ctx, "lab00011")
	if err != nil {
		t.Fatal(err)
	}
	if want := count(t, s, `SELECT MemberCount FROM lab_collection WHERE CollectionID = 'LAB00011'`); len(m) != want || want == 0 {
		t.Errorf("%d members, want %d", len(m), want)
	}
	for _, n := range m {
		if !strings.HasPrefix(n, "LT-") {
			t.Errorf("member %s of the laptop collection", n)
		}
	}
	if _, err := s.Members(ctx, "LAB0FFFF"); !errors.Is(err, ErrUnknownCollection) {
		t.Errorf("Members of an unknown collection: %v", err)
	}
}

func TestOpenSimRefusesNonLab(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := OpenSim(filepath.Join(dir, "missing.db"), nil); err == nil {
		t.Error("OpenSim of a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("OpenSim created a file")
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSim(empty, nil); err == nil || !strings.Contains(err.Error(), "not a patchnight lab") {
		t.Errorf("OpenSim of an empty file: %v", err)
	}
	if _, err := OpenSim(dir, nil); err == nil {
		t.Error("OpenSim of a directory succeeded")
	}
	// Without a clock, the lab's own "now" runs.
	s, err := OpenSim(labPath(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if now := s.Now(); now.Before(time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)) || now.After(time.Date(2026, 12, 8, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("default clock at %v", now)
	}
}

// assertInvariants checks what every state of the lab must keep.
func assertInvariants(t *testing.T, s *Sim) {
	t.Helper()
	for _, q := range []struct{ what, q string }{
		{"Status 0 although scanned", `SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u USING (CI_ID)
			JOIN lab_scan_status ss ON ss.ResourceID = s.ResourceID AND ss.UpdateSource_ID = 16777218
			WHERE s.Status = 0 AND ss.LastScanPackageVersion >= u.MinSourceVersion`},
		{"Status reported without a scan", `SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u USING (CI_ID)
			LEFT JOIN lab_scan_status ss ON ss.ResourceID = s.ResourceID AND ss.UpdateSource_ID = 16777218
			WHERE s.Status <> 0 AND (ss.ResourceID IS NULL OR ss.LastScanPackageVersion < u.MinSourceVersion)`},
		{"RebootPending disagrees with pending updates", `SELECT COUNT(*) FROM lab_host h WHERE RebootPending <>
			EXISTS (SELECT 1 FROM lab_update_state s WHERE s.ResourceID = h.ResourceID AND s.Truth = 1)`},
		{"installed but reported missing after a restart", `SELECT COUNT(*) FROM lab_update_state WHERE Truth = 2
			AND Status = 2 AND LastEnforcementMessageID = 10 AND EnforcementSource = 1 AND LastStatusChangeTime > '2026-12-08 15:00:00'`},
		{"restarting host marked on", `SELECT COUNT(*) FROM lab_host WHERE OfflineUntil IS NOT NULL AND Power = 'on'`},
	} {
		if n := count(t, s, q.q); n != 0 {
			t.Errorf("%s: %d", q.what, n)
		}
	}
}

func TestSimConcurrent(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t, WithRestartDuration(time.Minute))
	ctx := context.Background()
	rows, err := s.db.Query(`SELECT h.Name, a.MACAddress FROM lab_host h
		LEFT JOIN lab_adapter a ON a.ResourceID = h.ResourceID AND a.AdapterIndex = 1
		ORDER BY h.ResourceID LIMIT 100`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var macs []net.HardwareAddr
	for rows.Next() {
		var n string
		var m *string
		if err := rows.Scan(&n, &m); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
		if m != nil {
			if hw, err := net.ParseMAC(*m); err == nil && len(hw) == 6 {
				macs = append(macs, hw)
			}
		}
	}
	rows.Close()

	const workers = 32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range 8 {
				// Workers overlap on hosts: worker w starts at host 3w and shares hosts with its neighbours.
				name := names[(w*3+i)%len(names)]
				var err error
				switch i % 8 {
				case 0:
					_, err = s.Scan(ctx, name)
				case 1:
					_, err = s.Install(ctx, name)
				case 2:
					_, err = s.Host(ctx, name)
				case 3:
					_, err = s.Restart(ctx, name, w%2 == 0)
				case 4:
					_, err = s.WakeMAC(ctx, macs[(w+i)%len(macs)])
				case 5:
					_, err = s.RebootPending(ctx, name)
				case 6:
					err = s.Tick(ctx)
					clk.Advance(20 * time.Second)
				case 7:
					_, err = s.LoggedOn(ctx, name)
				}
				if err != nil && !errors.Is(err, ErrOffline) && !errors.Is(err, ErrNoClient) {
					errs <- fmt.Errorf("worker %d step %d on %s: %w", w, i, name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_event`); n < workers*4 {
		t.Errorf("only %d events recorded", n)
	}
	assertInvariants(t, s)
}

// BenchmarkSimScan measures simulated scans per second from 64 goroutines (writes are
// serialised, so this is the lab's ceiling for a fleet-wide scan).
func BenchmarkSimScan(b *testing.B) {
	path := filepath.Join(b.TempDir(), "lab.db")
	if _, err := Generate(context.Background(), path, Options{Hosts: 5000, Updates: 50, Seed: 3}); err != nil {
		b.Fatal(err)
	}
	s, err := OpenSim(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var names []string
	rows, err := s.db.Query(`SELECT Name FROM lab_host WHERE IsClient = 1 AND Power = 'on' ORDER BY ResourceID`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	var next sync.Mutex
	i := 0
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			next.Lock()
			name := names[i%len(names)]
			i++
			next.Unlock()
			if _, err := s.Scan(context.Background(), name); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestSimNoComeBack: a host with the NoComeBack fault goes down on a restart and stays
// down, while a host without it is back after the restart duration.
func TestSimNoComeBack(t *testing.T) {
	t.Parallel()
	s, clk := simLab(t)
	ctx := context.Background()
	stuck := pick(t, s, healthyOn)
	fine := pick(t, s, healthyOn+` AND h.Name <> ?`, stuck)
	if _, err := s.db.Exec(`UPDATE lab_host SET NoComeBack = 1 WHERE Name = ?`, stuck); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{stuck, fine} {
		if rr, err := s.Restart(ctx, name, false); err != nil || !rr.Restarted {
			t.Fatalf("Restart %s = %+v, %v", name, rr, err)
		}
	}
	clk.Advance(time.Hour)
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Host(ctx, fine); !h.Online {
		t.Errorf("%s is not back an hour after its restart", fine)
	}
	if h, _ := s.Host(ctx, stuck); h.Online {
		t.Errorf("%s has the NoComeBack fault and came back: %+v", stuck, h)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM lab_host WHERE Name = ? AND Power = 'off'`, stuck); n != 1 {
		t.Errorf("%s is not powered off after its restart", stuck)
	}
}
