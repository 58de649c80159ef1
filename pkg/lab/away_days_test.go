package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// span is one stretch a host is away, [from, to), as the generator planned it.
type span struct{ from, to time.Time }

func (x span) String() string { return timeText(x.from) + " to " + timeText(x.to) }

// awayPlan reads, before the simulation runs, every host's absences of kind: the one under
// way at generation (lab_host: off since LastOffline until OfflineUntil) and those to come
// (lab_away). With only this kind's rate set, every host off at generation is of this kind.
func awayPlan(t *testing.T, s *Sim, kind string) map[string][]span {
	t.Helper()
	plan := map[string][]span{}
	parse := func(v string) time.Time {
		x, err := time.Parse(timeLayout, v)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	rows, err := s.db.Query(`SELECT h.Name, h.LastOffline, h.OfflineUntil FROM lab_host h
		WHERE h.OfflineUntil IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, from, to string
		if err := rows.Scan(&name, &from, &to); err != nil {
			t.Fatal(err)
		}
		plan[name] = append(plan[name], span{parse(from), parse(to)})
	}
	rows.Close()
	rows, err = s.db.Query(`SELECT h.Name, a.Kind, a.AwayAt, a.AwayUntil FROM lab_away a
		JOIN lab_host h ON h.ResourceID = a.ResourceID ORDER BY a.ResourceID, a.AwayAt`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, k, from, to string
		if err := rows.Scan(&name, &k, &from, &to); err != nil {
			t.Fatal(err)
		}
		if k != kind {
			t.Fatalf("%s has an absence of kind %s in a lab with only %s", name, k, kind)
		}
		plan[name] = append(plan[name], span{parse(from), parse(to)})
	}
	return plan
}

// awayAt reports whether spans (in time order) hold t.
func awayAt(spans []span, t time.Time) bool {
	for _, x := range spans {
		if !t.Before(x.from) && t.Before(x.to) {
			return true
		}
	}
	return false
}

// faultDump is every host's night faults and away-for-days plan of kind, as text.
func faultDump(t *testing.T, path, kind string) string {
	t.Helper()
	db := openRO(t, path)
	var b strings.Builder
	rows, err := db.Query(`SELECT ResourceID, InstallFault, TransientFails, COALESCE(AwayAt, ''), InstallPace, NoComeBack
		FROM lab_host ORDER BY ResourceID`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var rid, fault, transient, pace, noBack int64
		var at string
		if err := rows.Scan(&rid, &fault, &transient, &at, &pace, &noBack); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, rid, fault, transient, at, pace, noBack)
	}
	rows.Close()
	b.WriteString("--\n")
	rows, err = db.Query(`SELECT ResourceID, AwayAt, AwayUntil FROM lab_away WHERE Kind = ? ORDER BY ResourceID, AwayAt`, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var rid int64
		var at, until string
		if err := rows.Scan(&rid, &at, &until); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, rid, at, until)
	}
	return b.String()
}

// TestSimAwayForDays checks each kind of machine away for days (docs/lab.md) over four
// weeks of the simulated clock: drawn only among the machines of its form factors, away
// exactly when its plan says (no answer, no action, no wake, last-online time stopped) and
// back on when it ends, the same plan for the same seed, and a kind's rate moving neither
// another kind's machines nor the night's faults.
func TestSimAwayForDays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		kind  string
		rates FaultRates
		forms string // FormFactor values the kind may take, SQL list
		// atStart: the kind's machines are away at the lab's now (before the night).
		atStart bool
	}{
		{awayHome, FaultRates{Home: 0.5}, `'laptop'`, false},
		{awayCloset, FaultRates{Closet: 0.15}, `'desktop'`, true},
		{awayHoliday, FaultRates{Holiday: 0.1}, `'desktop', 'laptop'`, true},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			gen := func(name string, rates FaultRates) string {
				path := filepath.Join(dir, tc.kind+"-"+name+".db")
				if _, err := Generate(ctx, path, Options{Hosts: 200, Seed: 11, Updates: 10, Faults: &rates}); err != nil {
					t.Fatal(err)
				}
				return path
			}
			path := gen("a", tc.rates)
			// Deterministic per seed; other rates (every other kind, every night fault)
			// move none of this kind's machines, and this kind's rate moves no night fault.
			plans := func(p string) (night, own string) {
				night, own, _ = strings.Cut(faultDump(t, p, tc.kind), "--\n")
				return night, own
			}
			_, own := plans(path)
			if _, again := plans(gen("again", tc.rates)); again != own {
				t.Error("the same seed and rates gave another plan")
			}
			all := DefaultFaults()
			all.Home, all.Closet, all.Holiday = 0.5, 0.5, 0.5
			base := DefaultFaults()
			base.Home, base.Closet, base.Holiday = 0, 0, 0
			with := base
			switch tc.kind {
			case awayHome:
				all.Home, with.Home = tc.rates.Home, tc.rates.Home
			case awayCloset:
				all.Closet, with.Closet = tc.rates.Closet, tc.rates.Closet
			case awayHoliday:
				all.Holiday, with.Holiday = tc.rates.Holiday, tc.rates.Holiday
			}
			if _, mixed := plans(gen("all", all)); mixed != own {
				t.Error("other rates moved this kind's machines")
			}
			nightBase, _ := plans(gen("base", base))
			if nightWith, _ := plans(gen("with", with)); nightWith != nightBase {
				t.Error("this kind's rate moved the night's faults")
			}

			clk := &testClock{t: time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)}
			s, err := OpenSim(path, clk.Now)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			plan := awayPlan(t, s, tc.kind)
			if len(plan) < 3 {
				t.Fatalf("%d machines of kind %s in a lab of 200, want several", len(plan), tc.kind)
			}
			if n := count(t, s, `SELECT COUNT(*) FROM lab_host h WHERE (h.OfflineUntil IS NOT NULL
				OR h.ResourceID IN (SELECT ResourceID FROM lab_away)) AND (h.FormFactor NOT IN (`+tc.forms+`)
				OR h.Active = 0 OR h.IsClient = 0)`); n != 0 {
				t.Errorf("%d machines of kind %s outside its form factors (%s) or not active clients", n, tc.kind, tc.forms)
			}
			startAway := 0
			for _, spans := range plan {
				if awayAt(spans, clk.Now()) {
					startAway++
				}
			}
			if tc.atStart != (startAway > 0) {
				t.Errorf("%d machines of kind %s away at the lab's now", startAway, tc.kind)
			}

			// Four weeks in steps of 77 minutes 13 seconds (off the plans' minutes).
			end := clk.Now().AddDate(0, 0, awayHorizon)
			woken, wakes := map[string]bool{}, 0
			back := map[string]bool{} // an absence of it has ended: it is on from then on when not away
			for clk.Now().Before(end) {
				clk.Advance(77*time.Minute + 13*time.Second)
				if err := s.Tick(ctx); err != nil {
					t.Fatal(err)
				}
				now := clk.Now()
				// The site's view of every host at once: online (the fast channel) and the
				// last time it came online.
				type seen struct {
					online bool
					last   string
				}
				view := map[string]seen{}
				rows, err := s.db.QueryContext(ctx, `SELECT Name, CNIsOnline, COALESCE(CNLastOnlineTime, '')
					FROM v_CombinedDeviceResources`)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var name string
					var v seen
					if err := rows.Scan(&name, &v.online, &v.last); err != nil {
						t.Fatal(err)
					}
					view[name] = v
				}
				rows.Close()
				for name, spans := range plan {
					h := view[name]
					away := awayAt(spans, now)
					if !back[name] && spans[0].to.Before(now) {
						back[name] = true
					}
					switch {
					case away && h.online:
						t.Fatalf("%s online at %s inside an absence %v", name, now, spans)
					case !away && back[name] && !h.online:
						t.Fatalf("%s offline at %s outside its absences %v", name, now, spans)
					}
					if !away {
						continue
					}
					// While away: last online before the absence, no action, no wake.
					for _, x := range spans {
						if awayAt([]span{x}, now) && h.last > timeText(x.from) {
							t.Fatalf("%s away since %s shows last online %s", name, x.from, h.last)
						}
					}
					if woken[name] {
						continue
					}
					woken[name] = true
					if _, err := s.Scan(ctx, name); !errors.Is(err, ErrOffline) {
						t.Errorf("Scan of %s while away: %v, want ErrOffline", name, err)
					}
					var mac string
					if err := s.db.QueryRow(`SELECT COALESCE(MIN(a.MACAddress), '') FROM lab_adapter a
						JOIN lab_host h USING (ResourceID) WHERE h.Name = ? AND a.IPEnabled = 1`, name).Scan(&mac); err != nil {
						t.Fatal(err)
					}
					hw, err := net.ParseMAC(mac)
					if err != nil || len(hw) != 6 {
						continue // an inventory defect (docs/lab.md): no MAC to send to
					}
					wakes++
					if _, err := s.WakeMAC(ctx, hw); err != nil {
						t.Fatal(err)
					}
					if h, err := s.Host(ctx, name); err != nil || h.Online {
						t.Errorf("a magic packet woke %s while away (%v)", name, err)
					}
				}
			}
			if wakes == 0 {
				t.Error("no magic packet sent to a machine away")
			}
			for name := range plan {
				if !back[name] {
					t.Errorf("%s never came back in four weeks", name)
				}
			}
			if n := count(t, s, `SELECT COUNT(*) FROM lab_away WHERE AwayAt <= ?`, timeText(clk.Now())); n != 0 {
				t.Errorf("%d absences due and not applied", n)
			}
			assertInvariants(t, s)
		})
	}
}
