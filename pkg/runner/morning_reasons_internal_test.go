package runner

import (
	"slices"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/site"
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
