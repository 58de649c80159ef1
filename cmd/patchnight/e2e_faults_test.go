package main

import (
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
)

// TestE2EFaultInjection runs client scan over every client of a 300-host lab whose
// endpoint hangs for 10% of the hosts and answers 5% with the WinRM quota fault (HTTP
// 500), with an 8 s operation timeout, one retry and concurrency 24: the run finishes,
// every client gets exactly one outcome, the exit code is 2, and the JSON summary counts
// match the injection and the lab's offline machines exactly. Only the healthy hosts
// were scanned.
//
// The lab applies scans one at a time (about 50 ms each under -race), so at concurrency
// 24 a healthy host waits about a second at most, well inside the timeout; the timeout is
// wall-clock time, and 8 s leaves room for a loaded machine under -race (3 s did not: a
// healthy host timed out with the load average at 20). The hanging hosts cost 30 x 2
// attempts x 8 s / 24 = 20 s. The test is not parallel, so it runs before the parallel
// tests and does not share the cores with them.
func TestE2EFaultInjection(t *testing.T) {
	// The faults are picked from the lab's own host list, so the counts are exact: of
	// every 20 hosts in ResourceID order, 2 hang and 1 is over its quota.
	const hosts = 300
	path, names := faultLab(t, hosts, 21)
	kind := map[string]lab.FaultKind{}
	for i, n := range names {
		switch i % 20 {
		case 0, 1:
			kind[strings.ToLower(n)] = lab.FaultHang
		case 2:
			kind[strings.ToLower(n)] = lab.FaultQuota
		}
	}
	e := newLabEnvAt(t, path, labSpec{hosts: hosts, faults: func(host string) lab.Fault {
		label, _, _ := strings.Cut(host, ".")
		return lab.Fault{Kind: kind[label]}
	}, winrm: []string{"operation_timeout: 8s", "connect_timeout: 1s", "retries: 1"}})

	online, offline := e.members("SMSDM003")
	want := map[string]map[string]bool{"timeout": {}, "quota": {}, "unreachable": offline, "ok": {}}
	for name := range online {
		switch kind[strings.ToLower(name)] {
		case lab.FaultHang:
			want["timeout"][name] = true
		case lab.FaultQuota:
			want["quota"][name] = true
		default:
			want["ok"][name] = true
		}
	}
	if len(want["timeout"]) < hosts/20 || len(want["quota"]) < hosts/40 || len(offline) == 0 {
		t.Fatalf("the lab gives too few faults to test: %d hang, %d quota, %d offline", len(want["timeout"]), len(want["quota"]), len(offline))
	}

	var r clientResult
	e.runJSON(&r, exit.Partial, "client", "scan", "--collection", "SMSDM003", "--concurrency", "24")
	s := r.Summary
	targets := len(online) + len(offline)
	if s.Total != targets || len(r.Hosts) != targets || s.Canceled != 0 {
		t.Errorf("%d outcomes (%d in the summary, %d canceled) for %d clients", len(r.Hosts), s.Total, s.Canceled, targets)
	}
	if s.OK != len(want["ok"]) || s.Failed != targets-len(want["ok"]) {
		t.Errorf("summary %d ok, %d failed; want %d ok, %d failed", s.OK, s.Failed, len(want["ok"]), targets-len(want["ok"]))
	}
	for _, reason := range []string{"timeout", "quota", "unreachable"} {
		if s.ByReason[reason] != len(want[reason]) {
			t.Errorf("summary: %d hosts failed by %s, %d were injected", s.ByReason[reason], reason, len(want[reason]))
		}
		if d := diffSets(r.byOutcome("failed", reason), want[reason]); d != "" {
			t.Errorf("hosts failed by %s: %s", reason, d)
		}
	}
	if len(s.ByReason) != 3 {
		t.Errorf("failure reasons %v, want only timeout, quota and unreachable", s.ByReason)
	}
	if d := diffSets(r.byOutcome("ok", ""), want["ok"]); d != "" {
		t.Errorf("hosts ok: %s", d)
	}
	for _, h := range r.Hosts {
		// Transient faults are retried exactly once (retries: 1); nothing else is retried.
		if wantAttempts := map[bool]int{true: 1, false: 2}[h.Outcome == "ok"]; h.Attempts != wantAttempts {
			t.Errorf("%s (%s %s): %d attempts, want %d", h.Host, h.Outcome, h.Reason, h.Attempts, wantAttempts)
		}
	}
	if d := diffSets(e.set(`SELECT UPPER(h.Name) FROM lab_event v JOIN lab_host h ON h.ResourceID = v.ResourceID
		WHERE v.Action = 'scan'`), want["ok"]); d != "" {
		t.Errorf("hosts the lab scanned vs hosts ok: %s", d)
	}
}

// faultLab generates a lab and returns its path and host names in ResourceID order.
func faultLab(t *testing.T, hosts int, seed int64) (string, []string) {
	t.Helper()
	path := t.TempDir() + "/lab.db"
	if _, err := lab.Generate(t.Context(), path, lab.Options{Hosts: hosts, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	db := openRO(t, path)
	rows, err := db.QueryContext(t.Context(), `SELECT Name FROM lab_host ORDER BY ResourceID`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return path, names
}
