package main

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/site"
)

// publishSource is the lab's publishing update source, as the product's queries pick it.
const publishSource = `(SELECT MIN(UpdateSource_ID) FROM lab_update_source WHERE IsPublishingEnabled = 1)`

// currentCatalog is the current catalog version as the lab stores it.
const currentCatalog = `(SELECT MAX(SyncCatalogVersion) FROM lab_sup_sync WHERE WSUSSourceServer = 'Microsoft Update')`

// scanSnapshot is every host's scan row against the publishing source, by name.
const scanSnapshot = `SELECT UPPER(h.Name), COALESCE(s.LastScanState, -1), COALESCE(s.LastScanTime, ''),
	COALESCE(s.LastScanPackageVersion, -1), COALESCE(s.LastErrorCode, 0)
	FROM lab_host h LEFT JOIN lab_scan_status s ON s.ResourceID = h.ResourceID AND s.UpdateSource_ID = ` + publishSource

// pickLocation returns the ID of the lab's location collection whose size is closest to
// n, with its client members (upper-case names) split into online and offline.
func pickLocation(t *testing.T, e *labEnv, n int) (id string, online, offline map[string]bool) {
	t.Helper()
	rows := e.rows(`SELECT CollectionID FROM lab_collection WHERE Name LIKE 'Location - %'
		ORDER BY ABS(MemberCount - ?), CollectionID LIMIT 1`, n)
	if len(rows) == 0 {
		t.Fatal("the lab has no location collection")
	}
	id = rows[0][0]
	online, offline = e.members(id)
	if len(online) < 5 || len(offline) == 0 {
		t.Fatalf("collection %s: %d online and %d offline clients; pick another seed", id, len(online), len(offline))
	}
	return id, online, offline
}

// members returns a collection's client members (upper-case names) that answer now and
// those that do not, from the lab tables.
func (e *labEnv) members(id string) (online, offline map[string]bool) {
	q := `SELECT UPPER(h.Name) FROM lab_collection_member m JOIN lab_host h ON h.ResourceID = m.ResourceID
		WHERE m.CollectionID = ? AND h.IsClient = 1 AND `
	return e.set(q+`h.Power = 'on' AND h.OfflineUntil IS NULL`, id), e.set(q+`NOT (h.Power = 'on' AND h.OfflineUntil IS NULL)`, id)
}

func union(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// expectOutcomes checks a client result: exactly the online hosts ok at the first
// attempt, exactly the offline ones failed as unreachable after all attempts (1 +
// retries), and the summary adds up.
func expectOutcomes(t *testing.T, what string, r *clientResult, online, offline map[string]bool, retries int) {
	t.Helper()
	if d := diffSets(r.byOutcome("ok", ""), online); d != "" {
		t.Errorf("%s: hosts ok vs online members: %s", what, d)
	}
	if d := diffSets(r.byOutcome("failed", "unreachable"), offline); d != "" {
		t.Errorf("%s: hosts unreachable vs offline members: %s", what, d)
	}
	if len(r.Hosts) != len(online)+len(offline) {
		t.Errorf("%s: %d host results for %d targets", what, len(r.Hosts), len(online)+len(offline))
	}
	s := r.Summary
	if s.Total != len(online)+len(offline) || s.OK != len(online) || s.Failed != len(offline) || s.ByReason["unreachable"] != len(offline) {
		t.Errorf("%s: summary %+v, want %d ok and %d unreachable", what, s, len(online), len(offline))
	}
	for _, h := range r.Hosts {
		if want := map[bool]int{true: 1, false: 1 + retries}[h.Outcome == "ok"]; h.Attempts != want {
			t.Errorf("%s: %s (%s) took %d attempts, want %d", what, h.Host, h.Outcome, h.Attempts, want)
		}
		if h.Outcome == "failed" && !strings.Contains(h.Error, h.Host) {
			t.Errorf("%s: %s: error %q does not name the host", what, h.Host, h.Error)
		}
	}
}

// values decodes each ok host's value, by upper-case host name. The output's keys are
// snake_case and T's are the scripts' camelCase: with the underscores taken out they
// match, as encoding/json matches keys without regard to case.
func values[T any](t *testing.T, r *clientResult) map[string]T {
	t.Helper()
	out := map[string]T{}
	for _, h := range r.Hosts {
		if h.Outcome != "ok" {
			continue
		}
		var snake any
		if err := json.Unmarshal(h.Value, &snake); err != nil {
			t.Fatalf("%s: value %s: %v", h.Host, h.Value, err)
		}
		b, err := json.Marshal(withoutUnderscores(snake))
		if err != nil {
			t.Fatal(err)
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: value %s: %v", h.Host, h.Value, err)
		}
		out[strings.ToUpper(h.Host)] = v
	}
	return out
}

// withoutUnderscores is a decoded JSON value with the underscores taken out of its keys.
func withoutUnderscores(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			out[strings.ReplaceAll(k, "_", "")] = withoutUnderscores(c)
		}
		return out
	case []any:
		for i, c := range x {
			x[i] = withoutUnderscores(c)
		}
	}
	return v
}

// TestE2EClientActions runs every client action against a lab collection through the
// lab's WS-Man endpoint and checks each per-host result against the simulator's state,
// read from the lab tables: scan moves exactly the collection's online clients to the
// current catalog (visible in report scan), install starts exactly the missing deployed
// updates, reboot-pending, logged-on and restart --only-if-nobody-logged-on agree with
// the lab, and run-schedule 021 records a policy request. Offline members are reported
// unreachable and left unchanged every time.
func TestE2EClientActions(t *testing.T) {
	t.Parallel()
	// The lab's clock stands still unless the test moves it: install jobs take simulated time.
	clock := labsite.NewClock(time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC))
	e := newLabEnv(t, labSpec{hosts: 300, seed: 11, clock: clock})
	coll, online, offline := pickLocation(t, e, 50)
	targets := union(online, offline)
	want := exit.Partial

	// scan
	before := e.keyed(scanSnapshot)
	var repBefore scanReport
	e.runJSON(&repBefore, 0, "report", "scan", "--collection", coll)
	var scan clientResult
	e.runJSON(&scan, want, "client", "scan", "--collection", coll)
	expectOutcomes(t, "scan", &scan, online, offline, 1)
	// The scan's result reaches the site database at once because the same script run
	// sent the state messages (schedule 111), not at the client's reporting cycle.
	for name, v := range values[client.Triggered](t, &scan) {
		if !v.StateMessagesSent {
			t.Errorf("scan %s: state messages not sent after the scan", name)
		}
	}
	after := e.keyed(scanSnapshot)
	faulty := e.set(`SELECT UPPER(Name) FROM lab_host WHERE ScanFault <> 0`)
	cur := strconv.Itoa(e.count(`SELECT ` + currentCatalog))
	for name, row := range after {
		f := strings.Split(row, "|")
		switch {
		case online[name] && faulty[name]:
			if f[0] != "5" || f[1] == strings.Split(before[name], "|")[1] {
				t.Errorf("%s (scan fault) after scan: %s, want a new failed scan (state 5)", name, row)
			}
		case online[name]:
			if f[0] != "3" || f[2] != cur || f[3] != "0" || f[1] == strings.Split(before[name], "|")[1] {
				t.Errorf("%s after scan: %s, want a new completed scan of catalog %s", name, row, cur)
			}
		default:
			if row != before[name] {
				t.Errorf("%s is offline or not in %s but its scan state changed: %s -> %s", name, coll, before[name], row)
			}
		}
	}
	if d := diffSets(e.set(`SELECT UPPER(h.Name) FROM lab_event v JOIN lab_host h ON h.ResourceID = v.ResourceID WHERE v.Action = 'scan'`), online); d != "" {
		t.Errorf("hosts the lab scanned vs online members: %s", d)
	}
	var rep scanReport
	e.runJSON(&rep, 0, "report", "scan", "--collection", coll)
	labBuckets := e.scanBuckets(coll)
	for _, b := range rep.Buckets {
		if b.Clients != labBuckets[b.Bucket] {
			t.Errorf("report scan: %s %d clients, the lab tables say %d", b.Bucket, b.Clients, labBuckets[b.Bucket])
		}
	}
	if rep.Clients != int64(len(targets)) {
		t.Errorf("report scan: %d clients in scope, the collection has %d client members", rep.Clients, len(targets))
	}
	movedToCurrent := 0
	for name := range online {
		if f := strings.Split(before[name], "|"); !faulty[name] && !(f[0] == "3" && f[2] == cur && f[3] == "0") {
			movedToCurrent++
		}
	}
	if bucket(rep, "current")-bucket(repBefore, "current") != int64(movedToCurrent) || movedToCurrent == 0 {
		t.Errorf("report scan: current went from %d to %d; %d members moved to the current catalog",
			bucket(repBefore, "current"), bucket(rep, "current"), movedToCurrent)
	}

	// install: the missing deployed updates the last scan reported required
	missing := e.keyed(`SELECT UPPER(h.Name), COUNT(x.CI_ID), COALESCE(GROUP_CONCAT(x.ArticleID, ','), '')
		FROM lab_host h LEFT JOIN (SELECT s.ResourceID, s.CI_ID, u.ArticleID FROM lab_update_state s
			JOIN lab_update u ON u.CI_ID = s.CI_ID
			WHERE s.Status = 2 AND s.Truth = 0 AND u.IsDeployed = 1 AND u.CIType_ID = 1) x ON x.ResourceID = h.ResourceID
		GROUP BY h.ResourceID`)
	pendingBefore := e.set(`SELECT UPPER(Name) FROM lab_host WHERE RebootPending = 1`)
	var inst clientResult
	e.runJSON(&inst, want, "client", "install", "--yes", "--collection", coll)
	expectOutcomes(t, "install", &inst, online, offline, 1)
	started := 0
	for name, v := range values[client.Installed](t, &inst) {
		f := strings.Split(missing[name], "|")
		if pendingBefore[name] {
			// A machine waiting for a restart installs nothing more until it restarts
			// (docs/lab.md): the client queues nothing.
			f = []string{"0", ""}
		}
		if strconv.Itoa(v.Started) != f[0] || sortedList(strings.Join(v.ArticleIDs, ",")) != sortedList(f[1]) {
			t.Errorf("install %s: started %d %v; the lab had %s missing deployed updates (%s)", name, v.Started, v.ArticleIDs, f[0], f[1])
		}
		started += v.Started
	}
	if started == 0 {
		t.Error("install started nothing on the whole collection")
	}
	// InstallUpdates only queued the jobs: nothing waits for a restart until they end.
	for _, row := range inst.Hosts {
		if row.Outcome == "ok" && !strings.Contains(row.Result, "queued") && row.Result != "nothing to install" {
			t.Errorf("install %s says %q; the job is only queued", row.Host, row.Result)
		}
	}
	if d := diffSets(e.set(`SELECT UPPER(Name) FROM lab_host WHERE RebootPending = 1`), pendingBefore); d != "" {
		t.Errorf("hosts waiting for a restart before their install jobs ran vs before the install: %s", d)
	}
	clock.Advance(4 * time.Hour)
	if err := e.site.Sim.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	pendingNow := e.set(`SELECT UPPER(Name) FROM lab_host WHERE RebootPending = 1`)
	for name := range online {
		if n, _ := strconv.Atoi(strings.Split(missing[name], "|")[0]); n > 0 && !pendingBefore[name] &&
			e.count(`SELECT InstallFault FROM lab_host WHERE UPPER(Name) = ?`, name) == 0 && !pendingNow[name] {
			t.Errorf("install %s: %d updates started but the lab has no restart pending", name, n)
		}
	}

	// reboot-pending agrees with the lab, deadline included
	var rp clientResult
	e.runJSON(&rp, want, "client", "reboot-pending", "--collection", coll)
	expectOutcomes(t, "reboot-pending", &rp, online, offline, 1)
	deadlines := e.keyed(`SELECT UPPER(h.Name), COALESCE(MIN(a.EnforcementDeadline), '') FROM lab_host h
		JOIN lab_update_state s ON s.ResourceID = h.ResourceID AND s.Truth = 1
		JOIN lab_assignment_ci ac ON ac.CI_ID = s.CI_ID
		JOIN lab_assignment a ON a.AssignmentID = ac.AssignmentID AND a.AssignmentEnabled = 1
		GROUP BY h.ResourceID`)
	nPending := 0
	for name, v := range values[client.RebootState](t, &rp) {
		if v.Pending != pendingNow[name] || v.Hard != pendingNow[name] {
			t.Errorf("reboot-pending %s: pending %v hard %v; the lab says %v", name, v.Pending, v.Hard, pendingNow[name])
		}
		if v.Pending {
			nPending++
			got := ""
			if v.Deadline != nil {
				got = v.Deadline.UTC().Format(site.SQLiteTimeLayout)
			}
			if got != deadlines[name] {
				t.Errorf("reboot-pending %s: deadline %q, the lab's earliest deployment deadline is %q", name, got, deadlines[name])
			}
		}
	}
	if nPending == 0 {
		t.Error("no member has a restart pending after install")
	}

	// logged-on agrees with the lab's console users
	users := e.keyed(`SELECT UPPER(Name), COALESCE(CurrentUser, '') FROM lab_host`)
	var lo clientResult
	e.runJSON(&lo, want, "client", "logged-on", "--collection", coll)
	expectOutcomes(t, "logged-on", &lo, online, offline, 1)
	withUser := map[string]bool{}
	for name, v := range values[client.Sessions](t, &lo) {
		if u := users[name]; u != "" {
			withUser[name] = true
			if v.Count != 1 || v.Users() != u {
				t.Errorf("logged-on %s: %d sessions (%s); the lab has %s on the console", name, v.Count, v.Users(), u)
			}
		} else if v.Count != 0 {
			t.Errorf("logged-on %s: %d sessions (%s); nobody is logged on in the lab", name, v.Count, v.Users())
		}
	}
	if len(withUser) == 0 || len(withUser) == len(online) {
		t.Fatalf("the collection should have online members with and without a user: %d of %d", len(withUser), len(online))
	}

	// restart --only-if-nobody-logged-on: only the machines nobody uses go down
	var rs clientResult
	e.runJSON(&rs, want, "client", "restart", "--yes", "--only-if-nobody-logged-on", "--collection", coll)
	expectOutcomes(t, "restart", &rs, online, offline, 0) // a restart is never retried
	power := e.keyed(`SELECT UPPER(Name), Power, COALESCE(OfflineUntil, ''), RebootPending FROM lab_host`)
	restarted := map[string]bool{}
	for name, v := range values[client.Restarted](t, &rs) {
		f := strings.Split(power[name], "|")
		if withUser[name] {
			if v.Restarted || v.Reason != "users-logged-on" || strings.Join(v.Users, ",") != users[name] || f[0] != "on" {
				t.Errorf("restart %s with %s logged on: %+v, lab power %s", name, users[name], v, f[0])
			}
			continue
		}
		restarted[name] = true
		if !v.Restarted || f[0] != "off" || f[1] == "" || f[2] != "0" {
			t.Errorf("restart %s (nobody logged on): %+v; lab power %s, back at %q, reboot pending %s", name, v, f[0], f[1], f[2])
		}
	}
	for name := range online {
		if pendingNow[name] && restarted[name] {
			if n := e.count(`SELECT COUNT(*) FROM lab_update_state s JOIN lab_host h ON h.ResourceID = s.ResourceID
				WHERE UPPER(h.Name) = ? AND s.Truth = 1`, name); n != 0 {
				t.Errorf("restart %s: %d installs still wait for a restart", name, n)
			}
		}
	}

	// run-schedule 021 (machine policy): the restarted machines are away now
	stillOn, gone := map[string]bool{}, union(offline, restarted)
	for name := range online {
		if !restarted[name] {
			stillOn[name] = true
		}
	}
	var pol clientResult
	e.runJSON(&pol, want, "client", "run-schedule", "021", "--collection", coll)
	expectOutcomes(t, "run-schedule 021", &pol, stillOn, gone, 1)
	for name, v := range values[client.Triggered](t, &pol) {
		if v.ScheduleID != client.ScheduleMachinePolicy {
			t.Errorf("run-schedule 021 %s: triggered %s", name, v.ScheduleID)
		}
	}
	if d := diffSets(e.set(`SELECT UPPER(h.Name) FROM lab_event v JOIN lab_host h ON h.ResourceID = v.ResourceID WHERE v.Action = 'policy'`), stillOn); d != "" {
		t.Errorf("hosts the lab ran a policy retrieval on vs members still online: %s", d)
	}
}

// scanReport is the JSON of report scan.
type scanReport struct {
	Clients int64 `json:"clients_in_scope"`
	Buckets []struct {
		Bucket  string `json:"bucket"`
		Clients int64  `json:"clients"`
	} `json:"buckets"`
}

func bucket(r scanReport, name string) int64 {
	for _, b := range r.Buckets {
		if b.Bucket == name {
			return b.Clients
		}
	}
	return -1
}

// scanBuckets counts a collection's clients by scan bucket straight from the lab tables.
func (e *labEnv) scanBuckets(coll string) map[string]int64 {
	out := map[string]int64{}
	for _, r := range e.rows(`SELECT CASE WHEN s.ResourceID IS NULL THEN 'never'
			WHEN s.LastScanState <> 3 OR s.LastErrorCode <> 0 THEN 'failed'
			WHEN s.LastScanPackageVersion >= `+currentCatalog+` THEN 'current'
			WHEN s.LastScanPackageVersion = `+currentCatalog+` - 1 THEN 'behind1'
			ELSE 'behind' END, COUNT(*)
		FROM lab_collection_member m JOIN lab_host h ON h.ResourceID = m.ResourceID
		LEFT JOIN lab_scan_status s ON s.ResourceID = h.ResourceID AND s.UpdateSource_ID = `+publishSource+`
		WHERE m.CollectionID = ? AND h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0
		GROUP BY 1`, coll) {
		n, _ := strconv.ParseInt(r[1], 10, 64)
		out[r[0]] = n
	}
	return out
}

// sortedList sorts a comma-separated list.
func sortedList(s string) string {
	l := strings.Split(s, ",")
	slices.Sort(l)
	return strings.Join(l, ",")
}
