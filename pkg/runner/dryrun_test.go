package runner_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/runner"
)

// refuseHosts fails the test when a dry run opens a client.
type refuseHosts struct{ t *testing.T }

func (h refuseHosts) Client(host string) (client.Runner, func(), error) {
	h.t.Errorf("the dry run opened a WinRM client for %s", host)
	return nil, nil, errors.New("no clients in a dry run")
}

// stillClock is a clock that stands still and refuses to wait: a dry run never sleeps.
type stillClock struct {
	t   *testing.T
	now time.Time
}

func (c stillClock) Now() time.Time { return c.now }
func (c stillClock) Sleep(context.Context, time.Duration) error {
	c.t.Error("the dry run waited")
	return errors.New("no waiting in a dry run")
}

// dryPlan has one step per action kind.
const dryPlan = `name: dry
steps:
  - id: check
    at: PT 16:00
    action: check-deployments
  - id: refresh
    at: PT 16:10
    action: refresh-collections
  - id: scan
    at: PT 16:30
    action: scan
    target: all
    barrier: {percent: 90, condition: scan-current, timeout: 45m}
    limit: 1h
  - id: wake
    at: PT 18:00
    action: wake
    target: all
    barrier: {percent: 90, condition: online, timeout: 30m}
    limit: 1h
  - id: install-off
    at: PT 20:00
    action: install-and-restart
    target: nobody-logged-on-now
    only_if_nobody_logged_on: true
    limit: 2h45m
  - id: install-on
    at: PT 23:00
    action: install-and-restart
    target: logged-on
    limit: 1h55m
  - id: restart
    at: PT+1 01:00
    action: restart
    target: all
    limit: 15m
  - id: short-scan
    at: PT+1 01:15
    action: scan
    target: all
    limit: 1m
  - id: watch
    at: PT+1 08:15
    action: notify-scan
    target: scan-behind
  - id: report
    at: PT+1 09:50
    action: report
  - id: prompt
    at: PT+1 10:00
    action: install
    target: missing-updates
    restart_prompt: true
  - id: notice
    at: PT+2 10:00
    action: notify-missing
    target: missing-updates
`

// TestDryRunPerAction rehearses a plan with every action kind on a lab with a runner that
// has no journal, no hosts and no wake transports: it must read the site only (a client,
// a sleep or a journal use would fail), and say per action what the step would do.
func TestDryRunPerAction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := buildLab(t, 60)
	db := openLab(t, path)
	truth, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer truth.Close()
	p, err := night.Parse("dry.yaml", []byte(dryPlan))
	if err != nil {
		t.Fatal(err)
	}
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	const conc = 4
	r, err := runner.New(ctx, p, time.UTC, month, runner.Env{Site: db, Hosts: refuseHosts{t},
		Clock: stillClock{t, time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)}, Concurrency: conc, HostTimeout: 20 * time.Second,
		StateDir: "/var/lib/patchnight"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.DryRun(ctx, runner.DryRunOptions{Provider: true})
	if err != nil {
		t.Fatal(err)
	}
	if !d.DryRun || len(d.Steps) != len(p.Steps) || d.Note != runner.LaterStepsNote {
		t.Fatalf("dry run: %d steps for %d, note %q", len(d.Steps), len(p.Steps), d.Note)
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := truth.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The lab's truth: client machines of the night's scope, and the online ones with
	// somebody logged on.
	inScope := `FROM lab_host h WHERE h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0
		AND (? = '' OR h.ResourceID IN (SELECT ResourceID FROM lab_collection_member WHERE CollectionID = ?))`
	clients := count(`SELECT COUNT(*) `+inScope, d.Scope, d.Scope)
	online := count(`SELECT COUNT(*) `+inScope+` AND h.Power = 'on'`, d.Scope, d.Scope)
	loggedOn := count(`SELECT COUNT(*) `+inScope+` AND h.Power = 'on' AND COALESCE(h.CurrentUser, '') <> ''`, d.Scope, d.Scope)
	if clients == 0 || loggedOn == 0 || loggedOn == online {
		t.Fatalf("lab: %d clients, %d online, %d logged on: the test needs some of each", clients, online, loggedOn)
	}
	est := runner.DefaultEstimates()
	waves := int64((clients + conc - 1) / conc)
	byID := map[string]runner.DryStep{}
	for _, s := range d.Steps {
		byID[s.Occurrence] = s
	}
	for _, tc := range []struct {
		step  string
		check func(t *testing.T, s runner.DryStep)
	}{
		{"check", func(t *testing.T, s runner.DryStep) {
			if !strings.HasPrefix(s.Note, "would report: deployed") || s.Problem != "" || s.OnHosts {
				t.Errorf("note %q, problem %q", s.Note, s.Problem)
			}
		}},
		{"refresh", func(t *testing.T, s runner.DryStep) {
			if len(s.Collections) == 0 {
				t.Fatalf("no collections to write on a new lab: %q", s.Note)
			}
			for _, c := range s.Collections {
				if c.Name == "" || c.Action == "" || (c.Membership == "query" && c.Rules != 1) || (c.Membership == "direct" && int64(c.Rules) != c.Members) {
					t.Errorf("collection %+v", c)
				}
			}
			if s.Time.Act != int64(len(s.Collections))*int64(est.Collection/time.Second) || s.Time.Wait != 600 {
				t.Errorf("time %+v", s.Time)
			}
		}},
		{"scan", func(t *testing.T, s runner.DryStep) {
			if s.Targets != clients || len(s.Hosts) != clients || s.Online != online || s.LoggedOn != loggedOn || s.Restarts != nil {
				t.Errorf("targets %d (hosts %d, online %d, logged on %d), want %d (%d, %d)", s.Targets, len(s.Hosts), s.Online, s.LoggedOn,
					clients, online, loggedOn)
			}
			if s.Time.Waves != int(waves) || s.Time.Act != waves*5 || s.Time.Wait != 45*60 || s.Time.Needs != s.Time.Act+s.Time.Wait {
				t.Errorf("time %+v, want %d waves", s.Time, waves)
			}
			if s.Time.Next != "wake" || s.Time.Window != 90*60 || !s.Time.Fits {
				t.Errorf("window %+v", s.Time)
			}
			sum := 0
			for _, l := range s.ByLocation {
				sum += l.Machines
				if n := count(`SELECT COUNT(*) `+inScope+` AND h.Location = ?`, d.Scope, d.Scope, l.Name); n != l.Machines {
					t.Errorf("location %s: %d, lab %d", l.Name, l.Machines, n)
				}
			}
			if sum != clients || len(s.ByCollection) == 0 {
				t.Errorf("by location sums to %d of %d; by collection %+v", sum, clients, s.ByCollection)
			}
		}},
		{"wake", func(t *testing.T, s runner.DryStep) {
			if s.Wake == nil || len(s.Wake.Subnets) == 0 || s.Targets == 0 {
				t.Fatalf("wake plan %+v, %d targets", s.Wake, s.Targets)
			}
			wake, awake := 0, 0
			for _, sn := range s.Wake.Subnets {
				wake, awake = wake+sn.Wake, awake+sn.Awake
			}
			if s.Wake.Packets+s.Wake.Relayed == 0 || wake != s.Targets-s.Online-skipped(s) || awake != s.Online {
				t.Errorf("wake %d, awake %d, targets %d, online %d, packets %d", wake, awake, s.Targets, s.Online, s.Wake.Packets)
			}
			if s.Time.Wait != 30*60 {
				t.Errorf("time %+v", s.Time)
			}
		}},
		{"install-off", func(t *testing.T, s runner.DryStep) {
			if s.Targets != online-loggedOn || s.LoggedOn != 0 || s.Restarts == nil || !s.Restarts.Deferred || s.Restarts.Machines != s.Targets {
				t.Errorf("targets %d, logged on %d, restarts %+v; want %d", s.Targets, s.LoggedOn, s.Restarts, online-loggedOn)
			}
			if s.Time.Wait != int64(est.InstallJob/time.Second) || !s.Time.Fits {
				t.Errorf("time %+v", s.Time)
			}
		}},
		{"install-on", func(t *testing.T, s runner.DryStep) {
			if s.Targets != loggedOn || s.Restarts == nil || s.Restarts.LoggedOn != loggedOn || s.Restarts.Deferred || s.Restarts.Unknown != 0 {
				t.Errorf("targets %d, restarts %+v; want %d logged on", s.Targets, s.Restarts, loggedOn)
			}
		}},
		{"restart", func(t *testing.T, s runner.DryStep) {
			if s.Restarts == nil || s.Restarts.Machines != clients || s.Restarts.LoggedOn != loggedOn || s.Restarts.Unknown != clients-online {
				t.Errorf("restarts %+v; want %d machines, %d logged on, %d unknown", s.Restarts, clients, loggedOn, clients-online)
			}
		}},
		{"short-scan", func(t *testing.T, s runner.DryStep) {
			// 60 s limit, waves x 5 s more than that: flagged.
			if s.Time.Fits || !strings.Contains(s.Time.Warning, "will not fit") || !strings.Contains(s.Time.Warning, "limit") {
				t.Errorf("time %+v", s.Time)
			}
		}},
		{"watch", func(t *testing.T, s runner.DryStep) {
			if !s.OnHosts || !strings.Contains(s.Note, "not configured") || s.Time.Needs != 0 {
				t.Errorf("note %q, time %+v", s.Note, s.Time)
			}
		}},
		{"report", func(t *testing.T, s runner.DryStep) {
			if !strings.Contains(s.Note, "/var/lib/patchnight") || s.OnHosts {
				t.Errorf("note %q", s.Note)
			}
		}},
		{"prompt", func(t *testing.T, s runner.DryStep) {
			if s.Restarts == nil || !s.Restarts.Prompted || s.Time.Act != int64(s.Time.Waves)*10 {
				t.Errorf("restarts %+v, time %+v", s.Restarts, s.Time)
			}
		}},
		{"notice", func(t *testing.T, s runner.DryStep) {
			if s.Time.Next != "" || s.Time.Window != 0 {
				t.Errorf("last step: next %q in %d", s.Time.Next, s.Time.Window)
			}
		}},
	} {
		t.Run(tc.step, func(t *testing.T) {
			s, ok := byID[tc.step]
			if !ok {
				t.Fatalf("no step %s in the dry run", tc.step)
			}
			if s.Excluded != 0 {
				t.Errorf("excluded %d", s.Excluded)
			}
			tc.check(t, s)
		})
	}
	// Only one step, by step ID.
	one, err := r.DryRun(ctx, runner.DryRunOptions{Only: []string{"restart"}})
	if err != nil || len(one.Steps) != 1 || one.Steps[0].Occurrence != "restart" {
		t.Fatalf("only restart: %v, %+v", err, one)
	}
	if _, err := r.DryRun(ctx, runner.DryRunOptions{Only: []string{"nope"}}); err == nil {
		t.Error("a step the plan does not have was rehearsed")
	}
	if len(d.Grids()) < 3 {
		t.Errorf("grids: %d", len(d.Grids()))
	}
}

// skipped counts the wake targets that get no packet for want of a MAC or route.
func skipped(s runner.DryStep) int {
	n := 0
	for _, sn := range s.Wake.Subnets {
		n += sn.NoMAC + sn.NoRoute
	}
	return n
}
