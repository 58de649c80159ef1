package main

import (
	"database/sql"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// wol --mode site wakes through SMS_SleepServer.MachinesToWakeup and reports NumSleepers
// as the (lab's) site answers it: the sleepers that have an awake client on their subnet,
// not the number of machines asked for.
func TestE2EWakeThroughSiteReportsNumSleepers(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 300, seed: 67})
	const coll = "Patch - Laptops"
	collID := e.rows(`SELECT CollectionID FROM lab_collection WHERE Name = ?`, coll)[0][0]
	if n := e.count(`SELECT COUNT(*) FROM lab_host WHERE OfflineUntil IS NOT NULL`); n != 0 {
		t.Fatalf("%d hosts are restarting in a fresh lab", n)
	}
	// One subnet with a sleeping member and no awake client left: its sleepers cannot be
	// woken through the site (notification wake needs an awake client beside them).
	sub := e.rows(`SELECT h.Subnet FROM lab_collection_member m JOIN lab_host h ON h.ResourceID = m.ResourceID
		WHERE m.CollectionID = ? AND h.Power <> 'on' AND h.IsClient = 1 ORDER BY h.ResourceID`, collID)[0][0]
	rw, err := sql.Open("sqlite", e.path+"?_pragma=busy_timeout(20000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.Exec(`UPDATE lab_host SET Power = 'off', CurrentUser = NULL WHERE Subnet = ?`, sub); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	var plan struct {
		Subnets []struct {
			Method string `json:"method"`
			Wakes  []struct {
				ResourceID int64 `json:"resource_id"`
			} `json:"wakes"`
		} `json:"subnets"`
	}
	e.runJSON(&plan, 0, "wol", "--collection", coll, "--mode", "site", "--dry-run")
	var ids []string // one per machine (the plan lists each adapter)
	seen := map[string]bool{}
	for _, s := range plan.Subnets {
		if s.Method != "site" {
			t.Fatalf("site mode planned %q", s.Method)
		}
		for _, w := range s.Wakes {
			if id := strconv.FormatInt(w.ResourceID, 10); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	// What the site can wake: asleep clients with an awake client on their subnet.
	canWake := e.set(`SELECT h.ResourceID FROM lab_host h WHERE h.Power <> 'on' AND h.IsClient = 1
		AND EXISTS (SELECT 1 FROM lab_host o WHERE o.Subnet = h.Subnet AND o.IsClient = 1 AND o.Power = 'on')`)
	want := 0
	for _, id := range ids {
		if canWake[id] {
			want++
		}
	}
	if want == 0 || want == len(ids) {
		t.Fatalf("the lab gives %d wakeable of %d requested: the test needs both kinds", want, len(ids))
	}
	_, stderr, code := e.run("wol", "--collection", coll, "--mode", "site")
	m := regexp.MustCompile(`the site woke through awake clients: (\d+) sleepers`).FindStringSubmatch(stderr)
	if code != 0 && code != 2 || m == nil {
		t.Fatalf("wol --mode site: exit %d, stderr %q", code, stderr)
	}
	if got, _ := strconv.Atoi(m[1]); got != want {
		t.Errorf("reported %d sleepers; the site could wake %d of the %d requested", got, want, len(ids))

	}
	if !strings.Contains(stderr, "NumSleepers") {
		t.Errorf("stderr does not name where the count comes from: %q", stderr)
	}
}
