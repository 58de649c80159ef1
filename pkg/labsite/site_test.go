package labsite_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/internal/labtest"
	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/wol"
)

// labPath is one lab built for the whole test binary; every test serves its own copy.
var labPath string

// labNow is the lab's clock at build time: Patch Tuesday 2026-12-08 15:00 UTC.
var labNow = time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) { labtest.Main(m, &labPath, 120, 5) }

// testSite is a running copy of the lab and a connector to it, as the product holds one.
type testSite struct {
	*labsite.Site
	clock *labsite.Clock
	k     *remote.Connector
}

func start(t *testing.T, opt labsite.Options) *testSite {
	t.Helper()
	path := labtest.Copy(t, labPath)
	if opt.Clock == nil {
		opt.Clock = labsite.NewClock(labNow)
	}
	s, err := labsite.Start(context.Background(), path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k, err := remote.NewConnector(s.RemoteConfig(), s.Credentials())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return &testSite{Site: s, clock: opt.Clock, k: k}
}

// client is a pkg/remote client for host, reaching it through the lab's endpoint.
func (s *testSite) client(t *testing.T, host string) *remote.Client {
	t.Helper()
	c, err := s.k.Client(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// host is the first lab host (ResourceID order) matching where, a condition on lab_host h.
func (s *testSite) host(t *testing.T, where string) lab.HostInfo {
	t.Helper()
	var name string
	if err := s.DB.QueryRow(`SELECT h.Name FROM lab_host h WHERE ` + where + ` ORDER BY h.ResourceID LIMIT 1`).Scan(&name); err != nil {
		t.Fatalf("no lab host where %s: %v", where, err)
	}
	h, err := s.Sim.Host(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A client that answers, has updates to install and nobody at the console.
const readyClient = `h.IsClient = 1 AND h.Power = 'on' AND h.ScanFault = 0 AND h.InstallFault = 0
	AND h.RebootPending = 0 AND h.CurrentUser IS NULL AND h.Subnet <> ''
	AND EXISTS (SELECT 1 FROM lab_update_state s JOIN lab_update u ON u.CI_ID = s.CI_ID
		WHERE s.ResourceID = h.ResourceID AND s.Status = 2 AND s.Truth = 0 AND u.IsDeployed = 1 AND u.CIType_ID = 1)`

// remoteReason is the summary bucket of a pkg/remote error ("" for nil or another error).
func remoteReason(err error) string {
	var re *remote.Error
	if errors.As(err, &re) {
		return re.Reason()
	}
	return ""
}

// The endpoint routes by the HTTP Host header: every name dials the one endpoint, and the
// name the client meant picks the simulated machine (by NetBIOS name, FQDN or address, in
// any case) or the SMS Provider. Hosts the lab does not know, or that are off, refuse the
// connection as an absent machine would; each side answers only its own scripts. Over
// HTTPS and over HTTP.
func TestRoutingByHostHeader(t *testing.T) {
	t.Parallel()
	for _, transport := range []struct {
		name string
		http bool
	}{{"https", false}, {"http", true}} {
		t.Run(transport.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, labsite.Options{HTTP: transport.http})
			on := s.host(t, readyClient)
			off := s.host(t, `h.IsClient = 1 AND h.Power = 'off'`)
			noClient := s.host(t, `h.IsClient = 0 AND h.Power = 'on'`)
			ctx := context.Background()
			for _, tc := range []struct {
				name, host, op string
				reason         string // remote.Error.Reason; "" = answered
			}{
				{"netbios name", on.Name, "client-logged-on", ""},
				{"fqdn upper case", strings.ToUpper(on.FQDN), "client-logged-on", ""},
				{"address", on.Address, "client-logged-on", ""},
				{"provider script on a client", on.Name, provider.ScriptCollectionStatus, "script:unknown-op"},
				{"no client", noClient.Name, "client-reboot-pending", "script:no-client"},
				{"powered off", off.Name, "client-logged-on", "unreachable"},
				{"unknown host", "nobody-here.lab.patchnight.test", "client-logged-on", "unreachable"},
				{"provider", labsite.ProviderHost, provider.ScriptCollectionStatus, ""},
				{"provider in upper case", strings.ToUpper(labsite.ProviderHost), provider.ScriptCollectionStatus, ""},
				{"client script on the provider", labsite.ProviderHost, "client-logged-on", "script:unknown-op"},
			} {
				var out map[string]any
				params := map[string]any{}
				if tc.op == provider.ScriptCollectionStatus {
					params = map[string]any{"SiteCode": "LAB", "CollectionIDs": []string{"SMS00001"}}
				}
				err := s.client(t, tc.host).Run(ctx, tc.op, params, &out)
				if got := remoteReason(err); got != tc.reason || (tc.reason == "" && err != nil) {
					t.Errorf("%s: %s on %s: got %q (%v), want %q", tc.name, tc.op, tc.host, got, err, tc.reason)
				}
			}
			// The provider's answer is the provider's: All Systems is found, with its members.
			p, err := provider.New(s.client(t, labsite.ProviderHost), "LAB")
			if err != nil {
				t.Fatal(err)
			}
			st, err := p.CollectionStatus(ctx, []string{"SMS00001"})
			if err != nil || len(st) != 1 || !st[0].Found || st[0].Name != "All Systems" || st[0].MemberCount == 0 {
				t.Fatalf("All Systems from the provider: %+v, %v", st, err)
			}
		})
	}
}

// Client operations through pkg/client, the way the product calls them: a scan triggered
// with its state messages, an install job queued and followed on the simulated clock until
// it waits for the restart, the restart (the host goes away and comes back on a Tick), the
// logged-on users and the restart a logged-on user holds back.
func TestClientOperationsFromTheSimulator(t *testing.T) {
	t.Parallel()
	s := start(t, labsite.Options{HTTP: true, RestartDuration: 4 * time.Minute})
	ctx := context.Background()
	h := s.host(t, readyClient)
	rc := s.client(t, h.Name)

	// Scan (113) with 111 in the same run: the result reaches the site's views at once.
	tr, err := client.TriggerSchedule(ctx, rc, "113")
	if err != nil || tr.ScheduleID != client.ScheduleUpdateScan || !tr.StateMessagesSent {
		t.Fatalf("scan: %+v, %v", tr, err)
	}
	var scanned int
	if err := s.DB.QueryRow(`SELECT COUNT(*) FROM v_UpdateScanStatus WHERE ResourceID = ? AND LastScanTime = ?`,
		h.ResourceID, labNow.Format("2006-01-02 15:04:05")).Scan(&scanned); err != nil || scanned != 1 {
		t.Fatalf("the scan did not reach the site: %d, %v", scanned, err)
	}
	// Evaluation (108): triggered, no state messages asked for.
	if tr, err := client.TriggerSchedule(ctx, rc, "108"); err != nil || tr.StateMessagesSent {
		t.Fatalf("evaluation: %+v, %v", tr, err)
	}

	// Install: queued, not installed.
	in, err := client.Install(ctx, rc, nil)
	if err != nil || in.Started == 0 || len(in.ArticleIDs) != in.Started {
		t.Fatalf("install: %+v, %v", in, err)
	}
	st, err := client.ReadUpdateStates(ctx, rc, in.ArticleIDs)
	if err != nil {
		t.Fatal(err)
	}
	if b := client.Summarize(in.ArticleIDs, st); b.Total != in.Started || b.Running != in.Started {
		t.Fatalf("just queued: %+v", b)
	}
	if r, err := client.RebootPending(ctx, rc); err != nil || r.Pending {
		t.Fatalf("reboot pending before the job ended: %+v, %v", r, err)
	}
	// Eight simulated hours later the job has ended and waits for the restart.
	s.clock.Advance(8 * time.Hour)
	st, err = client.ReadUpdateStates(ctx, rc, in.ArticleIDs)
	if err != nil {
		t.Fatal(err)
	}
	if b := client.Summarize(in.ArticleIDs, st); b.PendingRestart != in.Started {
		t.Fatalf("after the job: %+v", b)
	}
	if r, err := client.RebootPending(ctx, rc); err != nil || !r.Pending || !r.Hard {
		t.Fatalf("reboot pending after the job: %+v, %v", r, err)
	}

	// Logged on: nobody; then a user logs on and holds back a restart that asks first.
	if ss, err := client.LoggedOn(ctx, rc); err != nil || ss.Count != 0 {
		t.Fatalf("logged on: %+v, %v", ss, err)
	}
	if err := s.LogOn(ctx, h.Name, `LAB\alice`); err != nil {
		t.Fatal(err)
	}
	ss, err := client.LoggedOn(ctx, rc)
	if err != nil || ss.Count != 1 || ss.Active != 1 || ss.Sessions[0].User != `LAB\alice` {
		t.Fatalf("logged on: %+v, %v", ss, err)
	}
	r, err := client.Restart(ctx, rc, true)
	if err != nil || r.Restarted || r.Reason != "users-logged-on" || !slices.Equal(r.Users, []string{`LAB\alice`}) {
		t.Fatalf("restart with a user on: %+v, %v", r, err)
	}

	// The restart: answered, then the host is away until the restart duration has passed.
	if r, err := client.Restart(ctx, rc, false); err != nil || !r.Restarted {
		t.Fatalf("restart: %+v, %v", r, err)
	}
	rc.Close()
	if _, err := client.LoggedOn(ctx, s.client(t, h.Name)); remoteReason(err) != "unreachable" {
		t.Fatalf("right after the restart: %v", err)
	}
	s.clock.Advance(4 * time.Minute)
	if err := s.Sim.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	rc = s.client(t, h.Name)
	if r, err := client.RebootPending(ctx, rc); err != nil || r.Pending {
		t.Fatalf("reboot pending after the restart: %+v, %v", r, err)
	}
	st, err = client.ReadUpdateStates(ctx, rc, in.ArticleIDs)
	if err != nil {
		t.Fatal(err)
	}
	if b := client.Summarize(in.ArticleIDs, st); b.Installed != in.Started {
		t.Fatalf("after the restart: %+v", b)
	}
}

// Notices go through client-notify as the product sends them (pkg/notify.Deliver): recorded
// with what the user reads when someone is logged on, refused to nobody otherwise.
func TestNotices(t *testing.T) {
	t.Parallel()
	s := start(t, labsite.Options{HTTP: true})
	ctx := context.Background()
	h := s.host(t, readyClient)
	rc := s.client(t, h.Name)
	msg := notify.Message{Method: notify.MethodMsg, Title: "Restart tonight", Text: "Save your work.\nThank you.",
		DisplayTime: time.Minute}

	res, err := notify.Deliver(ctx, rc, msg)
	if err != nil || res.Delivered || res.Reason != "nobody-logged-on" || len(s.Notices()) != 0 {
		t.Fatalf("nobody logged on: %+v, %v, %v", res, err, s.Notices())
	}
	if err := s.LogOn(ctx, h.Name, `LAB\bob`); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{notify.MethodMsg, notify.MethodWindow} {
		msg.Method = m
		res, err := notify.Deliver(ctx, rc, msg)
		if err != nil || !res.Delivered || !slices.Equal(res.Users, []string{`LAB\bob`}) {
			t.Fatalf("%s: %+v, %v", m, res, err)
		}
	}
	got := s.Notices()
	if len(got) != 2 {
		t.Fatalf("notices: %+v", got)
	}
	for i, m := range []string{notify.MethodMsg, notify.MethodWindow} {
		n := got[i]
		if n.Host != h.Name || n.User != `LAB\bob` || n.Method != m || n.Title != msg.Title || n.Text != msg.Text || !n.At.Equal(labNow) {
			t.Errorf("notice %d: %+v", i, n)
		}
	}
	// A parameter object whose MsgText says something else than Title and Text is refused.
	req, err := notify.NewRequest(notify.Message{Method: notify.MethodMsg, Title: "a", Text: "b", DisplayTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	req.Text = "c"
	var out map[string]any
	if err := rc.Run(ctx, notify.ScriptNotify, req, &out); remoteReason(err) != "script:bad-parameter" {
		t.Fatalf("mismatched MsgText: %v", err)
	}
}

// A relay (scripts/wol-relay.ps1 on an awake client) sends magic packets into its own
// subnet: a sleeping machine there with Wake-on-LAN on wakes; a broadcast of another
// subnet is refused and sends nothing.
func TestRelay(t *testing.T) {
	t.Parallel()
	s := start(t, labsite.Options{HTTP: true})
	ctx := context.Background()
	hosts, err := lab.LoadWakeHosts(ctx, s.DB)
	if err != nil {
		t.Fatal(err)
	}
	var sleeper, relay, elsewhere lab.WakeHost
	for _, w := range hosts {
		if sleeper.Name != "" || !w.Subnet.IsValid() || len(w.Password) > 0 {
			continue
		}
		h, err := s.Sim.Host(ctx, w.Name)
		if err != nil {
			t.Fatal(err)
		}
		if h.Online || !h.WolEnabled {
			continue
		}
		for _, r := range hosts {
			rh, err := s.Sim.Host(ctx, r.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !rh.Online || !rh.IsClient || !r.IP.IsValid() {
				continue
			}
			switch {
			case r.Subnet == w.Subnet && relay.Name == "":
				sleeper, relay = w, r
			case r.Subnet != w.Subnet && elsewhere.Name == "":
				elsewhere = r
			}
		}
	}
	if sleeper.Name == "" || elsewhere.Name == "" {
		t.Fatal("the lab has no sleeper with an awake client beside it and one elsewhere")
	}
	bcast, err := wol.Broadcast(sleeper.Subnet)
	if err != nil {
		t.Fatal(err)
	}
	req := wol.RelayRequest{MACs: []string{sleeper.MAC.String()}, Broadcast: bcast.String(), Port: 9, Repeat: 2}

	var out struct{ Sent int }
	err = s.client(t, elsewhere.Name).Run(ctx, "wol-relay", req, &out)
	if remoteReason(err) != "script:bad-parameter" || s.Wake.Stats().Received != 0 {
		t.Fatalf("relay from another subnet: %v, %+v", err, s.Wake.Stats())
	}
	if err := s.client(t, relay.Name).Run(ctx, "wol-relay", req, &out); err != nil || out.Sent != 2 {
		t.Fatalf("relay: %+v, %v", out, err)
	}
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.Wake.WaitFor(wait, func(st lab.WakeStats) bool { return st.Woke == 1 && st.Pending == 0 }); err != nil {
		t.Fatal(err, s.Wake.Stats())
	}
	if h, err := s.Sim.Host(ctx, sleeper.Name); err != nil || !h.Online {
		t.Fatalf("the sleeper after the relay: %+v, %v", h, err)
	}
}

// Client notifications through the provider (SMS_ClientOperation): online members act at
// once, offline ones are counted offline, members without a client fail; the status reads
// back what happened, an unknown operation is not found, an unknown collection is refused.
func TestClientOperationAndStatus(t *testing.T) {
	t.Parallel()
	s := start(t, labsite.Options{HTTP: true})
	ctx := context.Background()
	p, err := provider.New(s.client(t, labsite.ProviderHost), "LAB")
	if err != nil {
		t.Fatal(err)
	}
	members, err := s.Sim.Members(ctx, "SMS00001")
	if err != nil {
		t.Fatal(err)
	}
	var want provider.OperationStatus
	for _, m := range members {
		h, err := s.Sim.Host(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		want.Total++
		switch {
		case !h.Online:
			want.Offline++
		case !h.IsClient:
			want.Failed++
		default:
			want.Completed++
		}
	}
	if want.Offline == 0 || want.Completed == 0 {
		t.Fatalf("the lab's All Systems has no mix of online and offline members: %+v", want)
	}
	id, err := p.InitiateClientOperation(ctx, "SMS00001", provider.OpMachinePolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.ClientOperationStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Found || got.Type != uint32(provider.OpMachinePolicy) || got.Total != want.Total || got.Completed != want.Completed ||
		got.Offline != want.Offline || got.Failed != want.Failed || got.LastUpdated == nil || !got.LastUpdated.Equal(labNow) {
		t.Fatalf("status %+v, want %+v", got, want)
	}
	// Only the listed members.
	one := s.host(t, readyClient)
	id2, err := p.InitiateClientOperation(ctx, "SMS00001", provider.OpUpdateEvaluation, []int64{one.ResourceID})
	if err != nil || id2 == id {
		t.Fatalf("second operation: %d, %v", id2, err)
	}
	if got, err := p.ClientOperationStatus(ctx, id2); err != nil || got.Total != 1 || got.Completed != 1 {
		t.Fatalf("status of the listed member: %+v, %v", got, err)
	}
	if got, err := p.ClientOperationStatus(ctx, id2+100); err != nil || got.Found {
		t.Fatalf("unknown operation: %+v, %v", got, err)
	}
	if _, err := p.InitiateClientOperation(ctx, "LAB0FFFF", provider.OpMachinePolicy, nil); remoteReason(err) != "script:not-found" {
		t.Fatalf("unknown collection: %v", err)
	}
}

// The clock stands still until moved, never goes back, and is safe to share.
func TestClock(t *testing.T) {
	t.Parallel()
	t0 := labNow
	for _, tc := range []struct {
		name string
		move func(c *labsite.Clock)
		want time.Time
	}{
		{"stands still", func(*labsite.Clock) {}, t0},
		{"advance", func(c *labsite.Clock) { c.Advance(90 * time.Minute) }, t0.Add(90 * time.Minute)},
		{"advance backwards is ignored", func(c *labsite.Clock) { c.Advance(-time.Hour) }, t0},
		{"set forward", func(c *labsite.Clock) { c.Set(t0.Add(24 * time.Hour)) }, t0.Add(24 * time.Hour)},
		{"set backwards is ignored", func(c *labsite.Clock) { c.Set(t0.Add(-time.Minute)) }, t0},
		{"concurrent advances all count", func(c *labsite.Clock) {
			done := make(chan struct{})
			for range 10 {
				go func() { c.Advance(time.Second); done <- struct{}{} }()
			}
			for range 10 {
				<-done
			}
		}, t0.Add(10 * time.Second)},
	} {
		c := labsite.NewClock(t0)
		tc.move(c)
		if got := c.Now(); !got.Equal(tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// The simulator runs on the site's clock: a restarted machine is away until the clock has
// moved past its restart and a Tick has run; the site's Sim tells the clock's time.
func TestSimulatorFollowsTheClock(t *testing.T) {
	t.Parallel()
	s := start(t, labsite.Options{HTTP: true, RestartDuration: 10 * time.Minute})
	ctx := context.Background()
	if !s.Sim.Now().Equal(labNow) {
		t.Fatalf("Sim.Now %s", s.Sim.Now())
	}
	h := s.host(t, readyClient)
	if _, err := s.Sim.Restart(ctx, h.Name, false); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		advance time.Duration
		online  bool
	}{{0, false}, {9 * time.Minute, false}, {time.Minute, true}} {
		s.clock.Advance(step.advance)
		if err := s.Sim.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := s.Sim.Host(ctx, h.Name)
		if err != nil || got.Online != step.online {
			t.Fatalf("at %s: online %v, want %v (%v)", s.Sim.Now().Sub(labNow), got.Online, step.online, err)
		}
	}
}

// Close stops the tick loop, the endpoint, the simulator and the database: a client that
// reached the site before gets no answer after, and Close returns (the tick loop has ended).
func TestClose(t *testing.T) {
	t.Parallel()
	s, err := labsite.Start(context.Background(), labtest.Copy(t, labPath),
		labsite.Options{HTTP: true, Clock: labsite.NewClock(labNow), Tick: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	k, err := remote.NewConnector(s.RemoteConfig(), s.Credentials())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	rc, err := k.Client(labsite.ProviderHost)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx := context.Background()
	params := map[string]any{"SiteCode": "LAB", "CollectionIDs": []string{"SMS00001"}}
	var out map[string]any
	if err := rc.Run(ctx, provider.ScriptCollectionStatus, params, &out); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Run(ctx, provider.ScriptCollectionStatus, params, &out); err == nil {
		t.Fatal("the provider still answers after Close")
	}
	if err := s.DB.Ping(); err == nil {
		t.Fatal("the database still answers after Close")
	}
	if err := s.Sim.Tick(ctx); err == nil {
		t.Fatal("the simulator still ticks after Close")
	}
}

// TestProviderDoctorFolderItems: the lab answers provider-doctor's console folder part from
// its collections in a folder, each with its own CollectionType, as a site would list what
// sits in folders of ObjectType 5000.
func TestProviderDoctorFolderItems(t *testing.T) {
	t.Parallel()
	s := start(t, labsite.Options{HTTP: true})
	ctx := context.Background()
	var folderID string
	if err := s.DB.QueryRowContext(ctx, `SELECT CollectionID FROM lab_collection WHERE ObjectPath <> '/'
		ORDER BY CollectionID LIMIT 1`).Scan(&folderID); err != nil {
		t.Fatal(err)
	}
	ask := func() (items map[string]*int, total int) {
		var a struct {
			FolderItems []struct {
				InstanceKey    string `json:"instanceKey"`
				CollectionType *int   `json:"collectionType"`
			} `json:"folderItems"`
			FolderTotal int `json:"folderTotal"`
		}
		if err := s.client(t, labsite.ProviderHost).Run(ctx, "provider-doctor", map[string]any{"SiteCode": "LAB", "MaxOwned": 50, "MaxFolderItems": 20}, &a); err != nil {
			t.Fatal(err)
		}
		items = map[string]*int{}
		for _, it := range a.FolderItems {
			items[it.InstanceKey] = it.CollectionType
		}
		return items, a.FolderTotal
	}
	items, total := ask()
	if total == 0 || len(items) == 0 || items[folderID] == nil || *items[folderID] != 2 {
		t.Fatalf("folder items %v (total %d), want %s as a device collection", items, total, folderID)
	}
	if _, err := s.DB.ExecContext(ctx, `UPDATE lab_collection SET CollectionType = 1 WHERE CollectionID = ?`, folderID); err != nil {
		t.Fatal(err)
	}
	if items, _ := ask(); items[folderID] == nil || *items[folderID] != 1 {
		t.Errorf("after the change, %s is %v, want CollectionType 1", folderID, items[folderID])
	}
}
