package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
)

// TestWhyNotNightReasons: the morning's reasons for the lab's night faults, derived from the
// site's state of the machine and the journal's outcomes of the night only.
func TestWhyNotNightReasons(t *testing.T) {
	t.Parallel()
	r := &Runner{group: &site.UpdateGroup{Title: "Patch Tuesday 2026-12"}}
	at := func(h, m int) time.Time { return time.Date(2026, 12, 9, h, m, 0, 0, time.UTC) }
	seen := func(tm time.Time) site.NullTime { return site.NullTime{Time: tm, Valid: true} }
	o := func(action string, out journal.Outcome, tm time.Time, reason string) journal.HostOutcome {
		return journal.HostOutcome{Host: "PC-1", Action: action, Outcome: out, At: tm, Reason: reason}
	}
	base := hostState{Name: "PC-1", Eligible: true, Active: true, Healthy: true, Online: true,
		ScanBucket: "current", Known: true, Required: 2}
	tests := []struct {
		name     string
		state    func(h *hostState)
		outcomes []journal.HostOutcome
		want     string
	}{
		{"restarted and never seen since", func(h *hostState) { h.Online, h.LastOnline = false, seen(at(0, 50)) },
			[]journal.HostOutcome{o(actInstall, journal.PendingRestart, at(0, 30), "installed, pending restart"),
				o(actRestart, journal.OutcomeOK, at(1, 0), "restarting"),
				o(actRestart, journal.Unreachable, at(4, 0), "")},
			"did not come back after restart"},
		{"restarted, back, then off", func(h *hostState) { h.Online, h.LastOnline = false, seen(at(1, 5)) },
			[]journal.HostOutcome{o(actRestart, journal.OutcomeOK, at(1, 0), "restarting"),
				o(actInstall, journal.Unreachable, at(4, 45), "")},
			"offline at the wave"},
		{"offline, never acted on", func(h *hostState) { h.Online = false }, nil, "offline"},
		{"back in the morning after missing the waves", nil,
			[]journal.HostOutcome{o(actInstall, journal.Unreachable, at(1, 45), ""),
				o(actInstall, journal.Unreachable, at(4, 45), "")},
			"offline at the wave"},
		{"required again after the night's install and restart", nil,
			[]journal.HostOutcome{o(actInstall, journal.PendingRestart, at(1, 50), "installed, pending restart"),
				o(actRestart, journal.OutcomeOK, at(2, 50), "restarting")},
			"chained update waiting for a restart"},
		{"installed but the restart came before the install ended", nil,
			[]journal.HostOutcome{o(actRestart, journal.OutcomeOK, at(1, 0), "restarting"),
				o(actInstall, journal.PendingRestart, at(1, 50), "installed, pending restart")},
			"install not finished"},
		{"wake failed, not seen since", func(h *hostState) { h.Online, h.LastOnline = false, seen(at(0, 0).AddDate(0, 0, -4)) },
			[]journal.HostOutcome{o(actWake, journal.OutcomeFailed, at(0, 0).Add(-5*time.Hour-15*time.Minute), "no answer")},
			"never woke"},
		{"wake failed, up later in the night, off now", func(h *hostState) { h.Online, h.LastOnline = false, seen(at(2, 0)) },
			[]journal.HostOutcome{o(actWake, journal.OutcomeFailed, at(0, 0).Add(-5*time.Hour-15*time.Minute), "no answer"),
				o(actRestart, journal.OutcomeOK, at(1, 0), "restarting")},
			"offline"},
		{"pending restart comes first", func(h *hostState) { h.PendingRestart = 2 },
			[]journal.HostOutcome{o(actInstall, journal.PendingRestart, at(1, 50), "installed, pending restart"),
				o(actRestart, journal.OutcomeOK, at(2, 50), "restarting")},
			"pending restart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := base
			if tc.state != nil {
				tc.state(&h)
			}
			last := map[string]journal.HostOutcome{}
			var hn hostNight
			for _, x := range tc.outcomes {
				last[x.Action] = x
				hn = hn.add(x)
			}
			if got, _ := r.whyNot(h, last, 0, journal.HostOutcome{}, journal.HostOutcome{}, hn); got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWhyNotScanFailedErrorCode: a machine whose scan failed lists the scan's error code in
// its error codes, the code its reason names (the column was empty for these machines).
func TestWhyNotScanFailedErrorCode(t *testing.T) {
	t.Parallel()
	r := &Runner{group: &site.UpdateGroup{Title: "Patch Tuesday 2026-12"}}
	tests := []struct {
		name      string
		scanError int64
		errorCode int64
		want      []string
	}{
		{"scan error only", 0x8024401E, 0, []string{"0x8024401E"}},
		{"scan error and an older install error", 0x80072EE2, 0x80070643, []string{"0x80070643", "0x80072EE2"}},
		{"same code once", 0x80070643, 0x80070643, []string{"0x80070643"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := hostState{Name: "PC-1", Eligible: true, Active: true, Healthy: true, Online: true,
				ScanBucket: "failed", ScanError: tc.scanError, ErrorCode: tc.errorCode}
			reason, issue := r.whyNot(h, map[string]journal.HostOutcome{}, 0, journal.HostOutcome{}, journal.HostOutcome{}, hostNight{})
			if issue == nil {
				t.Fatalf("reason %q: not listed as needing a person", reason)
			}
			if !slices.Equal(issue.ErrorCodes, tc.want) {
				t.Errorf("reason %q: error codes %q, want %q", reason, issue.ErrorCodes, tc.want)
			}
		})
	}
}

// TestWhyNotExhaustedNamesItsAction: "retries exhausted" names the failure of the action
// whose retries ran out, with its code among the error codes, not the night's last failure
// of another action (a restart the machine missed after its scans had failed three times).
func TestWhyNotExhaustedNamesItsAction(t *testing.T) {
	t.Parallel()
	r := &Runner{group: &site.UpdateGroup{Title: "Patch Tuesday 2026-12"}}
	at := func(h, m int) time.Time { return time.Date(2026, 12, 9, h, m, 0, 0, time.UTC) }
	scanFail := journal.HostOutcome{Host: "PC-1", Action: actScan, Outcome: journal.Timeout, At: at(1, 15),
		Reason: "scan timed out", ErrorCode: 0x80072EE2}
	restartFail := journal.HostOutcome{Host: "PC-1", Action: actRestart, Outcome: journal.Unreachable, At: at(4, 0),
		Reason: "connection refused"}
	last := map[string]journal.HostOutcome{
		actScan:    {Host: "PC-1", Action: actScan, Outcome: journal.RetriesExhausted, At: at(4, 15)},
		actRestart: restartFail,
	}
	h := hostState{Name: "PC-1", Eligible: true, Active: true, Healthy: true, Online: true, ScanBucket: "behind"}
	reason, issue := r.whyNot(h, last, 0, restartFail, scanFail, hostNight{})
	if issue == nil {
		t.Fatalf("reason %q: not listed as needing a person", reason)
	}
	want := []string{"scan not current", "retries exhausted; last failure: scan timeout: scan timed out (0x80072EE2)"}
	if !slices.Equal(issue.Reasons, want) {
		t.Errorf("reasons %q, want %q", issue.Reasons, want)
	}
	if !slices.Equal(issue.ErrorCodes, []string{"0x80072EE2"}) {
		t.Errorf("error codes %q, want the scan's 0x80072EE2", issue.ErrorCodes)
	}
}

// TestWhyNotWakeSkipped: a machine the wake step skipped (no usable MAC, no route to its
// subnet) or sent nothing to is "not woken" with the wake's own words, a data or network
// problem to fix; "never woke" is kept for a machine that was sent packets and did not
// come up. The journal rows are written as the wake step writes them.
func TestWhyNotWakeSkipped(t *testing.T) {
	t.Parallel()
	r := &Runner{group: &site.UpdateGroup{Title: "Patch Tuesday 2026-12"}}
	woke := time.Date(2026, 12, 8, 18, 45, 0, 0, time.UTC)
	skipped := func(o wol.Outcome, h wol.Host) journal.HostOutcome {
		return journal.HostOutcome{Host: "PC-1", Action: actWake, Outcome: journal.Skipped, At: woke,
			Reason: joinNote(string(o), h.SkipText())}
	}
	tests := []struct {
		name       string
		wake       journal.HostOutcome
		want, line string
	}{
		{"no MAC known", skipped(wol.OutcomeNoMAC, wol.Host{Skip: wol.ReasonNoMACData}),
			"not woken: no usable MAC address", "not woken: no usable MAC address (no MAC in inventory or discovery)"},
		{"MAC shared", skipped(wol.OutcomeNoMAC, wol.Host{Skip: wol.ReasonDuplicateMAC, Detail: "with PC-2"}),
			"not woken: no usable MAC address", "not woken: no usable MAC address (MAC shared by several machines: with PC-2)"},
		{"no relay on the subnet", skipped(wol.OutcomeNoRoute, wol.Host{Skip: wol.ReasonNoRelay}),
			"not woken: no route to its subnet", "not woken: no route to its subnet (no online client on the subnet to relay)"},
		{"every send failed", journal.HostOutcome{Host: "PC-1", Action: actWake, Outcome: journal.OutcomeFailed, At: woke,
			Reason: joinNote(string(wol.OutcomeNotSent), "sendto: network is unreachable")},
			"not woken: packets not sent", "not woken: packets not sent (sendto: network is unreachable)"},
		{"sent, no answer", journal.HostOutcome{Host: "PC-1", Action: actWake, Outcome: journal.OutcomeFailed, At: woke,
			Reason: string(wol.OutcomeNoAnswer)}, "never woke", "never woke"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := hostState{Name: "PC-1", Eligible: true, Active: true, Healthy: true, ScanBucket: "current", Known: true,
				Required: 2, LastOnline: site.NullTime{Time: woke.AddDate(0, 0, -3), Valid: true}}
			last := map[string]journal.HostOutcome{actWake: tc.wake}
			reason, issue := r.whyNot(h, last, 0, journal.HostOutcome{}, journal.HostOutcome{}, hostNight{})
			if reason != tc.want {
				t.Errorf("reason %q, want %q", reason, tc.want)
			}
			if issue == nil {
				t.Fatalf("reason %q: not listed as needing a person", reason)
			}
			if !slices.Equal(issue.Reasons, []string{tc.line}) {
				t.Errorf("the machine's line says %q, want %q", issue.Reasons, tc.line)
			}
		})
	}
}

// TestWhyNotExhaustedSaysEachThingOnce: the "retries exhausted" reason names the failure
// behind it once: the journal's reason of a failed install ("install failed 0x80070643:
// 2 installed, 1 failed 0x80070643", as the install step writes it) or of an unreachable
// host ("install: dial tcp ...") repeats the action, the outcome and the code, and the
// machine's line already says "install failed 0x80070643" when the site shows the failure.
func TestWhyNotExhaustedSaysEachThingOnce(t *testing.T) {
	t.Parallel()
	r := &Runner{group: &site.UpdateGroup{Title: "Patch Tuesday 2026-12"}}
	at := time.Date(2026, 12, 9, 4, 30, 0, 0, time.UTC)
	const code = 0x80070643
	b := client.Batch{Total: 3, Installed: 2, Failed: 1, ErrorCode: code}
	installFail := journal.HostOutcome{Host: "PC-1", Action: actInstall, Outcome: journal.OutcomeFailed, At: at,
		Reason: fmt.Sprintf("install failed %s: %s", fleet.HResult(code), b.Describe()), ErrorCode: code}
	unreachable := journal.HostOutcome{Host: "PC-1", Action: actInstall, Outcome: journal.Unreachable, At: at,
		Reason: (&stepError{action: actInstall, err: errors.New("dial tcp 10.1.2.3:5985: connect: connection refused")}).Error()}
	exhaustedRow := map[string]journal.HostOutcome{
		actInstall: {Host: "PC-1", Action: actInstall, Outcome: journal.RetriesExhausted, At: at.Add(time.Hour)}}
	base := hostState{Name: "PC-1", Eligible: true, Active: true, Healthy: true, Online: true, ScanBucket: "current",
		Known: true, Required: 1}
	tests := []struct {
		name   string
		state  func(h *hostState)
		behind journal.HostOutcome
		want   []string
	}{
		{"the site shows the same install failure", func(h *hostState) { h.Failed, h.ErrorCode = 1, code }, installFail,
			[]string{"install failed 0x80070643", "retries exhausted on the same failure: 2 installed, 1 failed"}},
		{"the site shows another code", func(h *hostState) { h.Failed, h.ErrorCode = 1, 0x80240022 }, installFail,
			[]string{"install failed 0x80240022", "retries exhausted; last failure: install failed: 2 installed, 1 failed (0x80070643)"}},
		{"retries exhausted is the reason", nil, installFail,
			[]string{"retries exhausted; last failure: install failed: 2 installed, 1 failed (0x80070643)"}},
		{"unreachable", func(h *hostState) { h.ScanBucket, h.Known = "behind", false }, unreachable,
			[]string{"scan not current", "retries exhausted; last failure: install unreachable: dial tcp 10.1.2.3:5985: connect: connection refused"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := base
			if tc.state != nil {
				tc.state(&h)
			}
			reason, issue := r.whyNot(h, exhaustedRow, 0, tc.behind, tc.behind, hostNight{})
			if issue == nil {
				t.Fatalf("reason %q: not listed as needing a person", reason)
			}
			if !slices.Equal(issue.Reasons, tc.want) {
				t.Errorf("reasons %q, want %q", issue.Reasons, tc.want)
			}
			for _, line := range issue.Reasons {
				for _, once := range []string{"install failed", "0x80070643", "install unreachable", "install: "} {
					if n := strings.Count(line, once); n > 1 {
						t.Errorf("%q says %q %d times", line, once, n)
					}
				}
			}
		})
	}
}

// TestWhyNotScanStillRunning: a scan still running (LastScanState 2) with no error is not
// reported as a failed scan with an empty code; it still counts as not scanned OK
// (reference section 3), and any error code or other state is a failed scan.
func TestWhyNotScanStillRunning(t *testing.T) {
	t.Parallel()
	r := &Runner{group: &site.UpdateGroup{Title: "Patch Tuesday 2026-12"}}
	tests := []struct {
		name       string
		state      int64
		scanError  int64
		want       string
		needPerson bool
	}{
		{"running", 2, 0, "scan still running", false},
		{"running with an error code", 2, 0x8024401E, "scan failed 0x8024401E", true},
		{"failed", 5, 0x80072EE2, "scan failed 0x80072EE2", true},
		{"pending retry", 4, 0, "scan failed", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := hostState{Name: "PC-1", Eligible: true, Active: true, Healthy: true, Online: true,
				ScanBucket: "failed", ScanState: tc.state, ScanError: tc.scanError, Required: 1}
			reason, issue := r.whyNot(h, map[string]journal.HostOutcome{}, 0, journal.HostOutcome{}, journal.HostOutcome{}, hostNight{})
			if reason != tc.want {
				t.Errorf("reason %q, want %q", reason, tc.want)
			}
			if (issue != nil) != tc.needPerson {
				t.Errorf("reason %q: needs a person %v, want %v", reason, issue != nil, tc.needPerson)
			}
		})
	}
}

// TestWhyNotEscalationCount: the escalation's count is labelled as the count over every
// run (the escalation rule's), apart from the Notices column's notices of this run, also
// when the escalation is the machine's first reason (it had no count at all).
func TestWhyNotEscalationCount(t *testing.T) {
	t.Parallel()
	r := &Runner{group: &site.UpdateGroup{Title: "Patch Tuesday 2026-12"}}
	tests := []struct {
		name  string
		state func(h *hostState)
		want  []string
	}{
		{"escalated is the reason", nil, []string{"escalated after 4 notices (all runs)"}},
		{"after an install failure", func(h *hostState) { h.Failed, h.ErrorCode = 1, 0x80070643 },
			[]string{"install failed 0x80070643", "escalated after 4 notices (all runs)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := hostState{Name: "PC-1", Eligible: true, Active: true, Healthy: true, Online: true,
				ScanBucket: "current", Known: true, Required: 1}
			if tc.state != nil {
				tc.state(&h)
			}
			reason, issue := r.whyNot(h, map[string]journal.HostOutcome{}, 4, journal.HostOutcome{}, journal.HostOutcome{}, hostNight{})
			if issue == nil {
				t.Fatalf("reason %q: not listed as needing a person", reason)
			}
			if !slices.Equal(issue.Reasons, tc.want) {
				t.Errorf("reasons %q, want %q", issue.Reasons, tc.want)
			}
		})
	}
}

// TestHostStateReadsScanState: the host state carries the publishing source's
// LastScanState (queries/night_host_state.sql), so the morning report can tell a scan
// still running from a failed one; the bucket keeps the reference's rule and counts both
// as failed.
func TestHostStateReadsScanState(t *testing.T) {
	t.Parallel()
	var running, failed int64
	r, _, _ := siteLab(t, false, func(raw *sql.DB) {
		var pub int64
		if err := raw.QueryRow(`SELECT MIN(UpdateSource_ID) FROM v_SoftwareUpdateSource WHERE IsPublishingEnabled = 1`).Scan(&pub); err != nil {
			t.Fatal(err)
		}
		hosts := ids(t, raw, `SELECT ResourceID FROM lab_scan_status WHERE UpdateSource_ID = ? AND LastScanState = 3 AND LastErrorCode = 0`, pub)
		if len(hosts) < 2 {
			t.Fatalf("the lab has %d machines with a complete scan", len(hosts))
		}
		running, failed = hosts[0], hosts[1]
		for _, x := range []struct {
			id          int64
			state, code int64
		}{{running, 2, 0}, {failed, 5, 0x8024401E}} {
			if _, err := raw.Exec(`UPDATE lab_scan_status SET LastScanState = ?, LastErrorCode = ? WHERE ResourceID = ? AND UpdateSource_ID = ?`,
				x.state, x.code, x.id, pub); err != nil {
				t.Fatal(err)
			}
		}
	})
	got := map[int64]hostState{}
	if err := r.eachState(context.Background(), func(h hostState) error {
		got[h.ResourceID] = h
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		id     int64
		state  int64
		reason string
	}{{running, 2, "scan still running"}, {failed, 5, "scan failed 0x8024401E"}} {
		h := got[want.id]
		if h.ScanState != want.state || h.ScanBucket != "failed" {
			t.Errorf("machine %d: scan state %d in bucket %q, want %d in %q", want.id, h.ScanState, h.ScanBucket, want.state, "failed")
		}
		h.Online, h.Eligible = true, true
		if reason, _ := r.whyNot(h, map[string]journal.HostOutcome{}, 0, journal.HostOutcome{}, journal.HostOutcome{}, hostNight{}); reason != want.reason {
			t.Errorf("machine %d: reason %q, want %q", want.id, reason, want.reason)
		}
	}
	var complete int
	for _, h := range got {
		if h.ScanBucket == "current" && h.ScanState == 3 {
			complete++
		}
	}
	if complete == 0 {
		t.Error("no machine with a current scan reads scan state 3")
	}
}
