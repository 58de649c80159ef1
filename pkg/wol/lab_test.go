package wol

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/site"
)

// TestWakeGeneratedLab is the acceptance in one test: a generated lab, its
// simulator behind the wake listener, a wake of the lab's patch collection through the
// product socket, and the confirmation from the site views. Every machine that got
// packets and has Wake-on-LAN enabled is on afterwards (lab truth), every one with it
// disabled is still off, nothing is misdirected, and the confirmation reports as woke
// exactly the machines with Wake-on-LAN enabled (all members are clients, which the fast
// channel sees once they are up) and as no answer the rest. A machine away for days (a
// laptop at home, a desktop in a closet or off for a holiday, docs/lab.md) answers no
// magic packet: it stays off and is no answer, whatever its Wake-on-LAN setting.
func TestWakeGeneratedLab(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "lab.db")
	if _, err := lab.Generate(ctx, path, lab.Options{Hosts: 400, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	sim, err := lab.OpenSim(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	truth, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer truth.Close()
	model, err := lab.LoadWakeHosts(ctx, truth)
	if err != nil {
		t.Fatal(err)
	}
	l, conn := labNet(t, ctx, model, sim)
	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	o := DefaultOptions()
	o.Collection, o.Spacing, o.BatchPause, o.Rate, o.SubnetRate = "Patch - All Workstations", 0, 0, 5000, 2000
	p, err := o.Plan(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Send(ctx, p, Transports{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 0 {
		t.Fatalf("%d machines failed to send", rep.Failed())
	}
	if err := l.WaitFor(ctx, func(s lab.WakeStats) bool { return s.Received == rep.Local && s.Pending == 0 }); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Misdirected != 0 || st.Invalid != 0 || st.Unknown != 0 || st.WakeErrors != 0 {
		t.Fatalf("listener %+v", st)
	}
	c, err := Confirm(ctx, db, p, ConfirmOptions{Sent: rep})
	if err != nil {
		t.Fatal(err)
	}

	type fact struct {
		power             string
		wol, client, away bool
	}
	facts := map[int64]fact{}
	rows, err := truth.QueryContext(ctx, `SELECT ResourceID, Power, WolEnabled, IsClient, OfflineUntil IS NOT NULL FROM lab_host`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var f fact
		if err := rows.Scan(&id, &f.power, &f.wol, &f.client, &f.away); err != nil {
			t.Fatal(err)
		}
		facts[id] = f
	}
	rows.Close()
	counts := map[Outcome]int{}
	away := 0
	for _, h := range c.Hosts {
		counts[h.Outcome]++
		f := facts[h.ResourceID]
		switch {
		case f.away && (h.Outcome == OutcomeWoke || h.Outcome == OutcomeNoAnswer):
			away++
			if f.power != "off" || h.Outcome != OutcomeNoAnswer {
				t.Errorf("%s: away for days, but %s and %s", h.Name, f.power, h.Outcome)
			}
		case h.Outcome == OutcomeWoke, h.Outcome == OutcomeNoAnswer:
			if f.wol && f.power != "on" {
				t.Errorf("%s: Wake-on-LAN enabled, sent to, but still %s", h.Name, f.power)
			}
			if !f.wol && f.power != "off" {
				t.Errorf("%s: Wake-on-LAN disabled but %s", h.Name, f.power)
			}
			if !f.client || (h.Outcome == OutcomeWoke) != f.wol {
				t.Errorf("%s: %s; Wake-on-LAN enabled %v, client %v", h.Name, h.Outcome, f.wol, f.client)
			}
		}
	}
	t.Logf("plan: %d subnets; sent %d packets; outcomes %v; %d sent to while away for days", len(p.Subnets), rep.Local, counts, away)
	if counts[OutcomeWoke] == 0 || counts[OutcomeNoAnswer] == 0 || counts[OutcomeNoMAC] == 0 || away == 0 {
		t.Errorf("the lab should show every outcome and a machine away for days: %v, %d away", counts, away)
	}
}
