package notify_test

import (
	"context"
	"database/sql"
	"errors"
	"github.com/patchnight/patchnight/internal/labtest"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/session"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/sitecoll"
)

// templatePath is one lab built for the test binary; each test serves its own copy.
var templatePath string

func TestMain(m *testing.M) { labtest.Main(m, &templatePath, 400, 3) }

// Thursday after the lab's Patch Tuesday (2026-12-08), 10:00 in the site's zone (UTC).
var thursday = time.Date(2026, 12, 10, 10, 0, 0, 0, time.UTC)

// testSite is a served lab: the WS-Man endpoint on loopback, the real WinRM client, the
// site database read through pkg/site, and a journal in a temporary directory.
type testSite struct {
	t     *testing.T
	lab   *labsite.Site
	clock *labsite.Clock
	db    *site.DB
	j     *journal.DB
	k     *remote.Connector
	hosts *session.Hosts
	prov  *provider.Provider
}

func newSite(t *testing.T, start time.Time) *testSite {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "lab.db")
	copyFile(t, templatePath, path)
	ctx := context.Background()
	clock := labsite.NewClock(start)
	s, err := labsite.Start(ctx, path, labsite.Options{Clock: clock, RestartDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// The lab session opens what the notify commands open, as they do.
	sess := s.NewSession(labsite.SessionOptions{SiteCode: "LAB", StateDir: filepath.Join(dir, "state"),
		Concurrency: 8, DNSSuffix: lab.DNSSuffix})
	t.Cleanup(sess.Close)
	db, err := sess.Site(ctx)
	if err != nil {
		t.Fatal(err)
	}
	j, err := sess.Journal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sess.Connector(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := sess.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := sess.Provider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &testSite{t: t, lab: s, clock: clock, db: db, j: j, k: k, hosts: hosts, prov: prov}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func (s *testSite) env(settings *notify.Settings) notify.Env {
	return notify.Env{Site: s.db, Journal: s.j, Connect: s.hosts.Client, Provider: s.prov,
		Settings: settings, Now: s.clock.Now, Concurrency: 8, DNSSuffix: lab.DNSSuffix}
}

// names runs a query on the lab database and returns the first column, sorted.
func (s *testSite) names(query string, args ...any) []string {
	s.t.Helper()
	rows, err := s.lab.DB.Query(query, args...)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// noticesTo counts the notices the lab showed, by host.
func (s *testSite) noticesTo() map[string]int {
	out := map[string]int{}
	for _, n := range s.lab.Notices() {
		out[n.Host]++
	}
	return out
}

// Acceptance (issue 7): three Thursday runs tell the same failing machines three times; the
// fourth escalates exactly the machines still missing the update and puts them in the
// needs-attention collection; later runs neither tell nor escalate them again.
func TestThursdayNoticesThenEscalation(t *testing.T) {
	t.Parallel()
	s := newSite(t, thursday)
	ctx := context.Background()

	// A deployed update that a handful of online machines with a user miss in one office,
	// one of which fails to install it.
	var article, office string
	err := s.lab.DB.QueryRow(`SELECT ui.ArticleID, fcm.CollectionID FROM v_UpdateComplianceStatus ucs
		JOIN v_UpdateInfo ui ON ui.CI_ID = ucs.CI_ID
		JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = ucs.ResourceID
		JOIN v_R_System s ON s.ResourceID = ucs.ResourceID
		JOIN lab_host h ON h.ResourceID = ucs.ResourceID
		JOIN v_FullCollectionMembership fcm ON fcm.ResourceID = ucs.ResourceID
		JOIN v_Collection c ON c.CollectionID = fcm.CollectionID AND c.Name LIKE 'Location - %'
		WHERE ucs.Status = 2 AND ui.IsDeployed = 1 AND COALESCE(ui.ArticleID, '') <> '' AND s.Client0 = 1
		  AND cdr.CNIsOnline = 1 AND cdr.CurrentLogonUser IS NOT NULL
		GROUP BY ui.ArticleID, fcm.CollectionID
		HAVING COUNT(DISTINCT ucs.ResourceID) >= 5 AND MAX(h.InstallFault <> 0) = 1
		ORDER BY COUNT(DISTINCT ucs.ResourceID), ui.ArticleID, fcm.CollectionID LIMIT 1`).Scan(&article, &office)
	if err != nil {
		t.Fatalf("no update fits the test: %v", err)
	}
	toldQuery := `SELECT DISTINCT s.Name0 FROM v_UpdateComplianceStatus ucs
		JOIN v_UpdateInfo ui ON ui.CI_ID = ucs.CI_ID
		JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = ucs.ResourceID
		JOIN v_R_System s ON s.ResourceID = ucs.ResourceID
		WHERE ucs.Status = 2 AND ui.ArticleID = ? AND s.Client0 = 1 AND cdr.CNIsOnline = 1 AND cdr.CurrentLogonUser IS NOT NULL
		  AND ucs.ResourceID IN (SELECT ResourceID FROM v_FullCollectionMembership WHERE CollectionID = ?)`
	told := s.names(toldQuery, article, office)
	// Two of them will install the update before the fourth run (no install fault).
	fixable := s.names(`SELECT h.Name FROM lab_host h WHERE h.InstallFault = 0 AND h.Name IN (`+placeholders(len(told))+`)`, anySlice(told)...)
	if len(fixable) < 2 {
		t.Fatalf("only %d of %v can install", len(fixable), told)
	}
	fixed := fixable[:2]
	still := slices.DeleteFunc(slices.Clone(told), func(n string) bool { return slices.Contains(fixed, n) })
	failing := s.names(`SELECT h.Name FROM lab_host h WHERE h.InstallFault <> 0 AND h.Name IN (`+placeholders(len(told))+`)`, anySlice(told)...)
	t.Logf("KB%s in %s: %d machines told, %d will install, %d fail to install (%v)", article, office, len(told), len(fixed), len(failing), failing)
	if len(failing) == 0 {
		t.Fatal("no machine fails to install the update")
	}

	settings := notify.DefaultSettings(time.UTC)
	env := s.env(settings)
	opt := notify.MissingOptions{Updates: []string{"KB" + article}, Collection: office}
	for run := 1; run <= 3; run++ {
		res, err := notify.Missing(ctx, env, opt)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if got := outcomes(res, notify.OutcomeNotified); !slices.Equal(got, told) {
			t.Fatalf("run %d told %v, want %v", run, got, told)
		}
		if res.Escalated != 0 {
			t.Fatalf("run %d escalated %d machines", run, res.Escalated)
		}
		for _, h := range res.Hosts {
			if h.Outcome == notify.OutcomeNotified && h.Count != run {
				t.Errorf("run %d: %s got notice number %d", run, h.Host, h.Count)
			}
		}
		got := s.noticesTo()
		for _, h := range told {
			if got[h] != run {
				t.Fatalf("run %d: the lab showed %s %d notices", run, h, got[h])
			}
			if n, _ := s.j.NoticeCount(ctx, h, article, journal.MissingNotice); n != run {
				t.Errorf("run %d: journal counts %d notices to %s", run, n, h)
			}
		}
		// A second run inside the minimum interval tells nobody.
		if run == 1 {
			s.clock.Advance(time.Hour)
			again, err := notify.Missing(ctx, env, opt)
			if err != nil {
				t.Fatal(err)
			}
			if again.Notified != 0 || len(outcomes(again, notify.OutcomeNotNotified)) < len(told) {
				t.Fatalf("a run an hour later told %d machines", again.Notified)
			}
			if n := len(s.lab.Notices()); n != len(told) {
				t.Fatalf("the lab showed %d notices, want %d", n, len(told))
			}
		}
		s.clock.Advance(24 * time.Hour)
	}

	// Told three times and still missing: due for escalation, not yet escalated.
	due, err := notify.Escalations(ctx, s.j, s.db, 3)
	if err != nil {
		t.Fatal(err)
	}
	var dueHosts []string
	for _, e := range due {
		dueHosts = append(dueHosts, e.Host)
		if e.Escalated || e.EscalatedAt != nil || e.Notices != 3 || !e.Updates[0].StillMissing {
			t.Errorf("due %s: %+v", e.Host, e)
		}
	}
	if !slices.Equal(dueHosts, told) {
		t.Errorf("due %v, want %v", dueHosts, told)
	}
	if more, err := notify.Escalations(ctx, s.j, s.db, 4); err != nil || len(more) != 0 {
		t.Errorf("threshold 4 lists %d machines, %v", len(more), err)
	}

	// Two machines install the update and restart before the fourth run.
	for _, h := range fixed {
		r, err := s.lab.Sim.Install(ctx, h)
		if err != nil || r.Queued == 0 {
			t.Fatalf("install on %s: %+v %v", h, r, err)
		}
		// InstallUpdates only queues the job: restart once it has ended.
		s.clock.Advance(r.Ends.Sub(s.clock.Now()))
		if _, err := s.lab.Sim.Restart(ctx, h, false); err != nil {
			t.Fatal(err)
		}
	}
	s.clock.Advance(time.Hour)
	if err := s.lab.Sim.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	before := len(s.lab.Notices())
	res, err := notify.Missing(ctx, env, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(res, notify.OutcomeEscalated); !slices.Equal(got, still) {
		t.Fatalf("fourth run escalated %v, want %v", got, still)
	}
	if res.Escalated != len(still) || res.Collection == "" || res.CollectionError != "" {
		t.Fatalf("fourth run: %d escalated, collection %q %q", res.Escalated, res.Collection, res.CollectionError)
	}
	for _, h := range res.Hosts {
		if slices.Contains(fixed, h.Host) {
			t.Errorf("%s installed the update but is still listed: %+v", h.Host, h)
		}
	}
	if n := len(s.lab.Notices()); n != before {
		t.Errorf("the fourth run showed %d notices; escalation replaces the notice", n-before)
	}
	attention := res.Collection
	// The needs-attention collection holds exactly the escalated machines.
	members := needsAttention(t, s)
	if !slices.Equal(members, still) {
		t.Fatalf("needs-attention members %v, want %v", members, still)
	}

	// A fifth run leaves them alone: no notice, no second escalation.
	s.clock.Advance(24 * time.Hour)
	res, err = notify.Missing(ctx, env, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Escalated != 0 || res.Notified != 0 || len(outcomes(res, notify.OutcomeAlready)) != len(still) {
		t.Errorf("fifth run: %d escalated, %d told, %v already", res.Escalated, res.Notified, outcomes(res, notify.OutcomeAlready))
	}
	if n := len(s.lab.Notices()); n != before {
		t.Errorf("the fifth run showed %d notices", n-before)
	}
	if m := needsAttention(t, s); !slices.Equal(m, still) {
		t.Errorf("members changed: %v", m)
	}

	// The list for `notify escalations` and the morning report.
	list, err := notify.Escalations(ctx, s.j, s.db, 3)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	withCode := 0
	for _, e := range list {
		hosts = append(hosts, e.Host)
		if !e.Escalated || e.CollectionID != attention || e.EscalatedAt == nil || len(e.Users) == 0 || e.Notices != 3 || len(e.History) < 3 {
			t.Errorf("escalation %s: %+v", e.Host, e)
		}
		if len(e.Updates) != 1 || e.Updates[0].Ref != "KB"+article || !e.Updates[0].StillMissing || e.Updates[0].Notices != 3 {
			t.Errorf("escalation %s updates %+v", e.Host, e.Updates)
		}
		var fault int64
		if err := s.lab.DB.QueryRow(`SELECT InstallFault FROM lab_host WHERE Name = ?`, e.Host).Scan(&fault); err != nil {
			t.Fatal(err)
		}
		if fault != 0 && (e.Updates[0].ErrorCode != fault || e.Updates[0].Error != "0x80070643" || e.Updates[0].EnforcementState != 11) {
			t.Errorf("%s: error %d %s state %d, want the install fault %d", e.Host, e.Updates[0].ErrorCode, e.Updates[0].Error, e.Updates[0].EnforcementState, fault)
		}
		if fault != 0 {
			withCode++
		}
	}
	if !slices.Equal(hosts, still) || withCode != len(failing) {
		t.Errorf("escalations list %v (%d with an install error), want %v (%d)", hosts, withCode, still, len(failing))
	}
	// A lower threshold lists nobody new here (everyone told 3 times is escalated); a
	// threshold below 1 is refused.
	if _, err := notify.Escalations(ctx, s.j, s.db, 0); err == nil {
		t.Error("threshold 0 accepted")
	}
}

// needsAttention returns the members of the owned needs-attention collection, which must
// exist.
func needsAttention(t *testing.T, s *testSite) []string {
	t.Helper()
	m, ok := attentionMembers(t, s)
	if !ok {
		t.Fatal("no needs-attention collection")
	}
	return m
}

// attentionMembers returns the members of the owned needs-attention collection, sorted,
// and whether the site has that collection.
func attentionMembers(t *testing.T, s *testSite) ([]string, bool) {
	t.Helper()
	ctx := context.Background()
	l, err := sitecoll.List(ctx, s.db, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range l.Collections {
		if c.Owner == "[patchnight:needs-attention]" {
			m, err := sitecoll.Members(ctx, s.db, c.CollectionID)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, x := range m.Members {
				out = append(out, x.Name)
			}
			sort.Strings(out)
			return out, true
		}
	}
	return nil, false
}

// groupAndOffice returns the lab's first software update group and its smallest office
// collection ("Location - ..."), to keep a notice run small.
func (s *testSite) groupAndOffice(t *testing.T) (group, office string) {
	t.Helper()
	if err := s.lab.DB.QueryRow(`SELECT Title FROM v_AuthListInfo ORDER BY CI_ID LIMIT 1`).Scan(&group); err != nil {
		t.Fatal(err)
	}
	if err := s.lab.DB.QueryRow(`SELECT Name FROM v_Collection WHERE Name LIKE 'Location - %' ORDER BY MemberCount, Name LIMIT 1`).Scan(&office); err != nil {
		t.Fatal(err)
	}
	return group, office
}

// missingTwo returns a client online with a user logged on that misses at least two
// deployed updates, and the ArticleIDs of two of them.
func (s *testSite) missingTwo(t *testing.T) (host, a1, a2 string) {
	t.Helper()
	err := s.lab.DB.QueryRow(`SELECT s.Name0, MIN(ui.ArticleID), MAX(ui.ArticleID) FROM v_UpdateComplianceStatus ucs
		JOIN v_UpdateInfo ui ON ui.CI_ID = ucs.CI_ID
		JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = ucs.ResourceID
		JOIN v_R_System s ON s.ResourceID = ucs.ResourceID
		WHERE ucs.Status = 2 AND ui.IsDeployed = 1 AND COALESCE(ui.ArticleID, '') <> '' AND s.Client0 = 1
		  AND cdr.CNIsOnline = 1 AND cdr.CurrentLogonUser IS NOT NULL
		GROUP BY s.Name0 HAVING COUNT(DISTINCT ui.ArticleID) >= 2
		ORDER BY s.Name0 LIMIT 1`).Scan(&host, &a1, &a2)
	if err != nil {
		t.Fatalf("no machine fits the test: %v", err)
	}
	return host, a1, a2
}

func outcomes(r notify.MissingResult, outcome string) []string {
	var out []string
	for _, h := range r.Hosts {
		if h.Outcome == outcome {
			out = append(out, h.Host)
		}
	}
	sort.Strings(out)
	return out
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// pick returns one lab host matching a condition on lab_host h and the scan status u
// (publishing source), for the watcher scenarios.
func (s *testSite) pick(where string) (name, mac string) {
	s.t.Helper()
	var m sql.NullString
	err := s.lab.DB.QueryRow(`SELECT h.Name, cdr.MACAddress FROM lab_host h
		JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = h.ResourceID
		LEFT JOIN lab_scan_status u ON u.ResourceID = h.ResourceID
		     AND u.UpdateSource_ID = (SELECT MIN(UpdateSource_ID) FROM lab_update_source WHERE IsPublishingEnabled = 1)
		WHERE h.IsClient = 1 AND h.Active = 1 AND `+where+` ORDER BY h.ResourceID LIMIT 1`).Scan(&name, &m)
	if err != nil {
		s.t.Fatalf("no lab host where %s: %v", where, err)
	}
	return name, m.String
}

// Acceptance (issue 7): the watcher notices and scans a scan-behind machine within one
// pass of it coming online, and never tells a machine twice inside the minimum interval.
func TestWatcherNoticesMachinesComingOnline(t *testing.T) {
	t.Parallel()
	wednesday := time.Date(2026, 12, 9, 8, 15, 0, 0, time.UTC)
	s := newSite(t, wednesday)
	ctx := context.Background()
	behind := `(u.ResourceID IS NULL OR u.LastScanPackageVersion < (SELECT MAX(SyncCatalogVersion) FROM lab_sup_sync WHERE WSUSSourceServer = 'Microsoft Update'))`
	// W: behind, switched off, wakes on LAN. F: online, its scans always fail, so it stays behind.
	w, mac := s.pick(`h.Power = 'off' AND h.WolEnabled = 1 AND h.ScanFault = 0 AND cdr.MACAddress IS NOT NULL AND ` + behind)
	f, _ := s.pick(`h.Power = 'on' AND h.ScanFault <> 0`)
	if err := s.lab.LogOn(ctx, f, `LAB\frank`); err != nil {
		t.Fatal(err)
	}
	env := s.env(notify.DefaultSettings(time.UTC))

	// A dry run shows who would be handled and leaves no trace.
	dry, err := notify.WatchPass(ctx, env, notify.WatchOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.j.LastWatchPass(ctx); ok || len(s.lab.Notices()) != 0 || len(dry.Hosts) == 0 {
		t.Fatalf("dry run: %d hosts, pass recorded %v, %d notices", len(dry.Hosts), ok, len(s.lab.Notices()))
	}
	if _, err := notify.WatchPass(ctx, env, notify.WatchOptions{Collection: "no such collection"}); err == nil {
		t.Error("an unknown collection was accepted")
	}

	// Pass 1, the first: every online machine that is behind counts as come online.
	p1, err := notify.WatchPass(ctx, env, notify.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Hosts) != len(dry.Hosts) {
		t.Errorf("the pass handled %d machines, the dry run listed %d", len(p1.Hosts), len(dry.Hosts))
	}
	if !p1.First || p1.Pass.CameOnline == 0 || p1.Pass.CameOnline != p1.Pass.Online || p1.Pass.Scanned != p1.Pass.CameOnline {
		t.Fatalf("first pass %+v", p1.Pass)
	}
	if h := watched(p1, w); h != nil {
		t.Fatalf("the switched-off %s was handled: %+v", w, h)
	}
	if h := watched(p1, f); h == nil || !h.Noticed || !h.Scanned || h.Bucket != "failed" || !slices.Equal(h.Users, []string{`LAB\frank`}) {
		t.Fatalf("%s in the first pass: %+v", f, h)
	}
	told := map[string]bool{}
	for _, h := range p1.Hosts {
		if h.Noticed {
			told[h.Host] = true
		} else if h.NoticeNote != notify.NobodyLoggedOn {
			t.Errorf("%s not told: %s", h.Host, h.NoticeNote)
		}
	}
	if n := len(s.lab.Notices()); n != len(told) || n != p1.Pass.Noticed {
		t.Fatalf("the lab showed %d notices; the pass told %d", n, p1.Pass.Noticed)
	}

	// W comes online (Wake-on-LAN) and someone with an awkward name logs on.
	odd := `LAB\o'brien "$(whoami)" %USERNAME% ` + "`x"
	s.clock.Advance(5 * time.Minute)
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	if woke, err := s.lab.Sim.WakeMAC(ctx, hw); err != nil || !woke {
		t.Fatalf("wake %s: %v %v", w, woke, err)
	}
	if err := s.lab.LogOn(ctx, w, odd); err != nil {
		t.Fatal(err)
	}
	p2, err := notify.WatchPass(ctx, env, notify.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p2.First || p2.Pass.CameOnline != 1 || len(p2.Hosts) != 1 || p2.Hosts[0].Host != w {
		t.Fatalf("second pass handled %+v (%+v), want only %s", p2.Hosts, p2.Pass, w)
	}
	if h := p2.Hosts[0]; !h.Noticed || !h.Scanned || !slices.Equal(h.Users, []string{odd}) {
		t.Fatalf("%s: %+v", w, h)
	}
	last := s.lab.Notices()[len(s.lab.Notices())-1]
	if last.Host != w || last.User != odd || last.Method != notify.MethodWindow || !strings.Contains(last.Text, w) {
		t.Errorf("lab notice %+v", last)
	}
	ns, err := s.j.Notices(ctx, w)
	if err != nil || len(ns) != 1 || !ns[0].Delivered || ns[0].User != odd || ns[0].Kind != journal.ScanNotice || !ns[0].At.Equal(s.clock.Now()) {
		t.Errorf("journal notices of %s: %+v, %v", w, ns, err)
	}
	// The scan ran: W is no longer behind, and the lab logged the scan.
	var scans int
	if err := s.lab.DB.QueryRow(`SELECT COUNT(*) FROM lab_event e JOIN lab_host h ON h.ResourceID = e.ResourceID
		WHERE h.Name = ? AND e.Action = 'scan'`, w).Scan(&scans); err != nil || scans != 1 {
		t.Errorf("%s scanned %d times, %v", w, scans, err)
	}
	// Nothing came online since: the next pass does nothing.
	s.clock.Advance(5 * time.Minute)
	if p, err := notify.WatchPass(ctx, env, notify.WatchOptions{}); err != nil || len(p.Hosts) != 0 || p.Pass.CameOnline != 0 {
		t.Fatalf("idle pass %+v, %v", p, err)
	}

	// F restarts and comes back within the minimum interval: scanned again, not told again.
	cycle := func() *notify.WatchedHost {
		t.Helper()
		if _, err := s.lab.Sim.Restart(ctx, f, false); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(30 * time.Second)
		p, err := notify.WatchPass(ctx, env, notify.WatchOptions{}) // F is away
		if err != nil || watched(p, f) != nil {
			t.Fatalf("pass while %s restarts: %+v, %v", f, p.Hosts, err)
		}
		s.clock.Advance(5 * time.Minute)
		if err := s.lab.Sim.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.lab.LogOn(ctx, f, `LAB\frank`); err != nil {
			t.Fatal(err)
		}
		p, err = notify.WatchPass(ctx, env, notify.WatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := watched(p, f)
		if h == nil || len(p.Hosts) != 1 {
			t.Fatalf("%s came back and the pass handled %+v", f, p.Hosts)
		}
		return h
	}
	h := cycle()
	if h.Noticed || h.NoticeNote != notify.NoteTooSoon || !h.Scanned {
		t.Errorf("inside the interval: %+v", h)
	}
	if got := s.noticesTo()[f]; got != 1 {
		t.Errorf("%s was shown %d notices inside the interval", f, got)
	}
	// After the interval it is told again.
	s.clock.Advance(4 * time.Hour)
	if h := cycle(); !h.Noticed || !h.Scanned {
		t.Errorf("after the interval: %+v", h)
	}
	if got := s.noticesTo()[f]; got != 2 {
		t.Errorf("%s was shown %d notices", f, got)
	}
	// In the quiet hours (19:00-07:00) it is scanned but not told.
	s.clock.Set(time.Date(2026, 12, 9, 20, 0, 0, 0, time.UTC))
	if h := cycle(); h.Noticed || h.NoticeNote != notify.NoteQuietHours || !h.Scanned {
		t.Errorf("quiet hours: %+v", h)
	}
	if got := s.noticesTo()[f]; got != 2 {
		t.Errorf("%s was shown %d notices", f, got)
	}
	// Every lab notice is in the journal, delivered, per user.
	all, err := s.j.Notices(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, n := range all {
		if n.Delivered {
			delivered++
		}
	}
	if delivered != len(s.lab.Notices()) {
		t.Errorf("journal has %d delivered notices, the lab showed %d", delivered, len(s.lab.Notices()))
	}
}

func watched(p notify.PassResult, host string) *notify.WatchedHost {
	for i := range p.Hosts {
		if strings.EqualFold(p.Hosts[i].Host, host) {
			return &p.Hosts[i]
		}
	}
	return nil
}

// Text that would break out of msg.exe's command line, cmd.exe, PowerShell or an HTA
// arrives as plain text by both delivery methods: what the lab records (after checking
// msg.exe's input and the window's payload against it) equals the input.
func TestHostileTextArrivesAsPlainText(t *testing.T) {
	t.Parallel()
	s := newSite(t, thursday)
	ctx := context.Background()
	host, _ := s.pick(`h.Power = 'on' AND h.CurrentUser IS NOT NULL`)
	r, err := s.k.Client(host + "." + lab.DNSSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	title := `Contoso "IT" & <b>Co</b> $(whoami) %PATH% ` + "`t'"
	text := "Quotes \" and ' and `backticks`\n$(Remove-Item -Recurse C:\\) ${env:TEMP} @(1)\n%COMSPEC% %% ^& | > nul\n<script>alert(\"x\")</script> <b>bold</b> &amp;\n\n\ttabbed ; exit 1 & echo pwned\n\u00e9t\u00e9 \u4e2d\u6587"
	org, contact := `R&D "Ops"`, `call %HELPDESK% <x> $(y)`
	for _, method := range []string{notify.MethodMsg, notify.MethodWindow} {
		res, err := notify.Deliver(ctx, r, notify.Message{Method: method, Title: title, Text: text, Organisation: org, Contact: contact, DisplayTime: time.Minute})
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if !res.Delivered || len(res.Users) != 1 {
			t.Fatalf("%s: %+v", method, res)
		}
		ns := s.lab.Notices()
		got := ns[len(ns)-1]
		if got.Method != method || got.Text != text || got.Title != title || got.Host != host {
			t.Errorf("%s: the lab recorded\n%q / %q\nwant\n%q / %q", method, got.Title, got.Text, title, text)
		}
		if method == notify.MethodWindow && (got.Organisation != org || got.Contact != contact) {
			t.Errorf("window header/footer %q / %q", got.Organisation, got.Contact)
		}
	}
	// A request that does not hold together is refused by the script (the lab checks as
	// client-notify.ps1 does): msg.exe's input must be the notice, the payload base64.
	req, err := notify.NewRequest(notify.Message{Method: notify.MethodMsg, Title: "t", Text: "x", DisplayTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(q *notify.Request){
		func(q *notify.Request) { q.MsgText = "t\r\n\r\nsomething else" },
		func(q *notify.Request) { q.MsgText += "\x07" },
		func(q *notify.Request) { q.Method = "window"; q.Payload = "'; Remove-Item x; '" },
		func(q *notify.Request) { q.Method = "hta" },
		func(q *notify.Request) { q.TimeoutSeconds = 0 },
	} {
		q := req
		bad(&q)
		var out notify.Result
		err := r.Run(ctx, notify.ScriptNotify, q, &out)
		var re *remote.Error
		if !errors.As(err, &re) || re.Reason() != "script:bad-parameter" {
			t.Errorf("tampered request %+v: %v", q, err)
		}
	}
	// Nobody logged on: no notice, and the reason says so.
	empty, _ := s.pick(`h.Power = 'on' AND h.CurrentUser IS NULL`)
	r2, err := s.k.Client(empty)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	n := len(s.lab.Notices())
	res, err := notify.Deliver(ctx, r2, notify.Message{Method: notify.MethodMsg, Title: "t", Text: "x", DisplayTime: time.Minute})
	if err != nil || res.Delivered || res.Reason != notify.NobodyLoggedOn || len(s.lab.Notices()) != n {
		t.Errorf("nobody logged on: %+v, %v", res, err)
	}
}

// The Thursday notice by msg.exe, a dry run, and the refusals of bad options.
func TestMissingOptionsAndDryRun(t *testing.T) {
	t.Parallel()
	s := newSite(t, thursday)
	ctx := context.Background()
	settings := notify.DefaultSettings(time.UTC)
	env := s.env(settings)
	for _, tc := range []struct {
		opt  notify.MissingOptions
		want string
	}{
		{notify.MissingOptions{}, "name the updates"},
		{notify.MissingOptions{Updates: []string{"KB12"}}, "not an update id"},
		{notify.MissingOptions{Updates: []string{"KB5071234'; DROP TABLE x; --"}}, "not an update id"},
		{notify.MissingOptions{Updates: []string{"KB5071234"}, Group: "x"}, "not both"},
		{notify.MissingOptions{Group: "no such group"}, "no such group"},
		{notify.MissingOptions{Updates: []string{"KB5071234"}, Collection: "NOPE0001"}, "NOPE0001"},
	} {
		if _, err := notify.Missing(ctx, env, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opt, err, tc.want)
		}
	}
	// The group of the lab's Patch Tuesday, as the night runner passes it, and one office,
	// by name, to keep the test short.
	group, office := s.groupAndOffice(t)
	dry, err := notify.Missing(ctx, env, notify.MissingOptions{Group: group, Collection: office, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Hosts) == 0 || dry.Notified != 0 || len(s.lab.Notices()) != 0 {
		t.Fatalf("dry run: %d hosts, %d told, lab %d", len(dry.Hosts), dry.Notified, len(s.lab.Notices()))
	}
	if ns, _ := s.j.Notices(ctx, ""); len(ns) != 0 {
		t.Errorf("a dry run recorded %d notices", len(ns))
	}
	settings.Method = notify.MethodMsg
	res, err := notify.Missing(ctx, env, notify.MissingOptions{Group: group, Collection: office})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hosts) != len(dry.Hosts) {
		t.Errorf("the run saw %d machines, the dry run %d", len(res.Hosts), len(dry.Hosts))
	}
	if res.Notified == 0 || res.Notified != len(s.noticesTo()) {
		t.Fatalf("told %d machines, the lab showed %d", res.Notified, len(s.noticesTo()))
	}
	for _, n := range s.lab.Notices() {
		if n.Method != notify.MethodMsg || !strings.Contains(n.Text, "It will try to install it again") {
			t.Errorf("lab notice %+v", n)
		}
	}
	// A machine missing several updates of the group gets one notice, counted per update.
	for _, h := range res.Hosts {
		if h.Outcome != notify.OutcomeNotified {
			continue
		}
		if s.noticesTo()[h.Host] != 1 {
			t.Errorf("%s shown %d notices", h.Host, s.noticesTo()[h.Host])
		}
		for _, u := range h.Updates {
			if n, _ := s.j.NoticeCount(ctx, h.Host, u.Update, journal.MissingNotice); n != 1 {
				t.Errorf("%s %s counted %d", h.Host, u.Ref, n)
			}
		}
	}
	// Offline machines and machines nobody is logged on to are recorded, not told.
	for _, h := range res.Hosts {
		switch h.Note {
		case notify.NoteOffline, notify.NobodyLoggedOn:
			ns, _ := s.j.Notices(ctx, h.Host)
			if len(ns) != len(h.Updates) || ns[0].Delivered || ns[0].Reason != h.Note {
				t.Errorf("%s (%s): journal %+v", h.Host, h.Note, ns)
			}
		}
	}
	// Quiet hours: nobody is told.
	s.clock.Set(time.Date(2026, 12, 11, 21, 0, 0, 0, time.UTC))
	res, err = notify.Missing(ctx, env, notify.MissingOptions{Group: group, Collection: office})
	if err != nil || res.Notified != 0 || len(outcomes(res, notify.OutcomeNotNotified)) == 0 {
		t.Errorf("quiet hours: told %d, %v", res.Notified, err)
	}
}

// One Thursday notice names every update a machine misses: a machine told three times
// about two updates had three notices, not six, in `notify escalations` and in the
// morning report ("escalated after N notices").
func TestEscalationCountsNoticesNotUpdates(t *testing.T) {
	t.Parallel()
	s := newSite(t, thursday)
	ctx := context.Background()
	host, a1, a2 := s.missingTwo(t)
	settings := notify.DefaultSettings(time.UTC)
	env := s.env(settings)
	opt := notify.MissingOptions{Updates: []string{"KB" + a1, "KB" + a2}}
	for run := 1; run <= 3; run++ {
		res, err := notify.Missing(ctx, env, opt)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if !slices.Contains(outcomes(res, notify.OutcomeNotified), host) {
			t.Fatalf("run %d did not tell %s", run, host)
		}
		s.clock.Advance(24 * time.Hour)
	}
	if got := s.noticesTo()[host]; got != 3 {
		t.Fatalf("the lab showed %s %d notices, want 3", host, got)
	}
	check := func(when string) {
		t.Helper()
		list, err := notify.Escalations(ctx, s.j, s.db, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if e.Host != host {
				continue
			}
			if len(e.Updates) != 2 || e.Notices != 3 {
				t.Errorf("%s: %s listed with %d notices about %d updates, want 3 notices about 2", when, host, e.Notices, len(e.Updates))
			}
			for _, u := range e.Updates {
				if u.Notices != 3 {
					t.Errorf("%s: %s told %d times about %s, want 3", when, host, u.Notices, u.Ref)
				}
			}
			return
		}
		t.Errorf("%s: %s is not listed", when, host)
	}
	check("due")
	if _, err := notify.Missing(ctx, env, opt); err != nil {
		t.Fatal(err)
	}
	check("escalated")
	n := &notify.Notices{Site: s.db, Journal: s.j, Hosts: s.hosts, Settings: settings, Now: s.clock.Now, Threshold: 3}
	got, err := n.Escalated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got[strings.ToUpper(host)] != 3 {
		t.Errorf("the morning report's count for %s is %d, want 3", host, got[strings.ToUpper(host)])
	}
}

// A dry run of the Thursday notice says what the policy would do to each machine: not
// told while the site says it is offline, not told again within the minimum interval, not
// told in quiet hours; only machines that would be told are marked dry-run.
func TestMissingDryRunAppliesThePolicy(t *testing.T) {
	t.Parallel()
	s := newSite(t, thursday)
	ctx := context.Background()
	env := s.env(notify.DefaultSettings(time.UTC))
	group, office := s.groupAndOffice(t)
	opt := notify.MissingOptions{Group: group, Collection: office}
	dryRun := func(when string) []notify.MissingHost {
		t.Helper()
		before := len(s.lab.Notices())
		o := opt
		o.DryRun = true
		res, err := notify.Missing(ctx, env, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hosts) == 0 || res.Notified != 0 || len(s.lab.Notices()) != before {
			t.Fatalf("%s: %d machines, %d told, the lab showed %d", when, len(res.Hosts), res.Notified, len(s.lab.Notices())-before)
		}
		return res.Hosts
	}
	for _, h := range dryRun("Thursday 10:00") {
		want := notify.NoteDryRun
		if !h.Online {
			want = notify.NoteOffline
		}
		if h.Outcome != notify.OutcomeNotNotified || h.Note != want {
			t.Errorf("Thursday 10:00: %s (online %v) %s %q, want not-notified %q", h.Host, h.Online, h.Outcome, h.Note, want)
		}
	}
	res, err := notify.Missing(ctx, env, opt)
	if err != nil {
		t.Fatal(err)
	}
	told := outcomes(res, notify.OutcomeNotified)
	if len(told) == 0 {
		t.Fatal("nobody told")
	}
	s.clock.Advance(time.Hour)
	for _, h := range dryRun("an hour later") {
		if slices.Contains(told, h.Host) && h.Note != notify.NoteTooSoon {
			t.Errorf("an hour later: %s, told at 10:00, noted %q, want %q", h.Host, h.Note, notify.NoteTooSoon)
		}
	}
	s.clock.Set(time.Date(2026, 12, 11, 21, 0, 0, 0, time.UTC))
	for _, h := range dryRun("21:00") {
		if h.Note != notify.NoteQuietHours {
			t.Errorf("21:00: %s noted %q, want %q", h.Host, h.Note, notify.NoteQuietHours)
		}
	}
}

// An escalated machine's note says how often its users were told, also when the threshold
// was lowered since (it said the threshold).
func TestEscalationNoteSaysTimesTold(t *testing.T) {
	t.Parallel()
	s := newSite(t, thursday)
	ctx := context.Background()
	settings := notify.DefaultSettings(time.UTC)
	env := s.env(settings)
	group, office := s.groupAndOffice(t)
	opt := notify.MissingOptions{Group: group, Collection: office}
	var twice []string
	for run := 1; run <= 2; run++ {
		res, err := notify.Missing(ctx, env, opt)
		if err != nil {
			t.Fatal(err)
		}
		if run == 1 {
			twice = outcomes(res, notify.OutcomeNotified)
		} else {
			got := outcomes(res, notify.OutcomeNotified)
			twice = slices.DeleteFunc(twice, func(h string) bool { return !slices.Contains(got, h) })
		}
		s.clock.Advance(24 * time.Hour)
	}
	if len(twice) == 0 {
		t.Fatal("nobody was told twice")
	}
	lower, err := settings.WithThreshold(1)
	if err != nil {
		t.Fatal(err)
	}
	env.Settings = lower
	res, err := notify.Missing(ctx, env, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range res.Hosts {
		if !slices.Contains(twice, h.Host) {
			continue
		}
		if h.Outcome != notify.OutcomeEscalated || h.Note != "told 2 times" {
			t.Errorf("%s, told twice: %s %q, want escalated \"told 2 times\"", h.Host, h.Outcome, h.Note)
		}
	}
}

// The watcher's "online since the last pass" holds within a day: the first pass of a later
// day (next month's watcher, a loop running past midnight) takes every online machine
// behind the catalog as come online, since yesterday's machines may have been off all
// night. It skipped a machine seen at the last pass of the day before.
func TestWatcherStartsEachDayAfresh(t *testing.T) {
	t.Parallel()
	wednesday := time.Date(2026, 12, 9, 16, 45, 0, 0, time.UTC)
	s := newSite(t, wednesday)
	ctx := context.Background()
	// F: online, its scans always fail, so it stays behind.
	f, _ := s.pick(`h.Power = 'on' AND h.ScanFault <> 0`)
	env := s.env(notify.DefaultSettings(time.UTC))
	for i, tc := range []struct {
		at    time.Time
		first bool
	}{
		{wednesday, true},
		{wednesday.Add(30 * time.Minute), false},             // same day: F stayed online, left alone
		{wednesday.Add(15*time.Hour + 30*time.Minute), true}, // Thursday 08:15
	} {
		s.clock.Set(tc.at)
		p, err := notify.WatchPass(ctx, env, notify.WatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := watched(p, f)
		if p.First != tc.first || (h != nil) != tc.first {
			t.Errorf("pass %d at %s: first %v, %s handled %v; want %v", i+1, tc.at.Format("Mon 15:04"), p.First, f, h != nil, tc.first)
		}
		if tc.first && (h == nil || !h.Reached) {
			t.Errorf("pass %d: %s not reached: %+v", i+1, f, h)
		}
	}
}
