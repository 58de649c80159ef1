package wol

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/site"
)

// labHost is one machine of a hand-built lab database.
type labHost struct {
	id       int64
	name     string
	subnet   string // lab_subnet id (truth)
	power    string // on | off
	wol      int
	client   int
	adapters [][3]string // MAC, IPAddress list, IPSubnet list (IPEnabled = 1)
	raMAC    []string
	raIP     []string
	raSubnet []string
}

// newLabDB builds a SQLite file with the lab schema (../lab/schema.sql, the views the
// product reads) and the given machines; collection LAB00012 "Patch night" holds the
// members. It returns the path and a read-write handle for the test to play the network.
func newLabDB(t *testing.T, hosts []labHost, members []int64) (string, *sql.DB) {
	t.Helper()
	schema, err := os.ReadFile("../lab/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lab.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%v: %s", err, q)
		}
	}
	var text strings.Builder
	for line := range strings.SplitSeq(string(schema), "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		text.WriteString(line + "\n")
	}
	for stmt := range strings.SplitSeq(text.String(), ";") {
		if strings.TrimSpace(stmt) != "" {
			exec(stmt)
		}
	}
	exec(`INSERT INTO lab_location VALUES ('HQ')`)
	exec(`INSERT INTO lab_subnet VALUES ('127.3.7.0', 24, 'HQ'), ('127.3.8.0', 23, 'HQ'), ('127.3.10.0', 26, 'HQ')`)
	exec(`INSERT INTO lab_collection (CollectionID, Name) VALUES ('LAB00012', 'Patch night')`)
	for _, h := range hosts {
		exec(`INSERT INTO lab_host (ResourceID, Name, Domain, SMSGuid, Location, Subnet, FormFactor, Model, Manufacturer,
			OSName, Build, IsClient, Active, ClientCheckPass, Power, WolEnabled)
			VALUES (?, ?, 'LAB', 'guid', 'HQ', ?, 'desktop', 'm', 'v', 'Windows 11', '10.0.26100', ?, ?, 1, ?, ?)`,
			h.id, h.name, h.subnet, h.client, h.client, h.power, h.wol)
		for i, a := range h.adapters {
			exec(`INSERT INTO lab_adapter VALUES (?, ?, ?, ?, ?, NULL, 1)`, h.id, i+1, a[0], a[1], a[2])
		}
		for _, v := range h.raMAC {
			exec(`INSERT INTO lab_ra_mac VALUES (?, ?)`, h.id, v)
		}
		for _, v := range h.raIP {
			exec(`INSERT INTO lab_ra_ip VALUES (?, ?)`, h.id, v)
		}
		for _, v := range h.raSubnet {
			exec(`INSERT INTO lab_ra_subnet VALUES (?, ?)`, h.id, v)
		}
	}
	for _, id := range members {
		exec(`INSERT INTO lab_collection_member VALUES ('LAB00012', ?, 1)`, id)
	}
	return path, db
}

// dbWaker plays the simulator on the hand-built database: a magic packet that reaches a
// powered-off machine with Wake-on-LAN enabled turns it on.
type dbWaker struct {
	db *sql.DB
	mu sync.Mutex
}

func (w *dbWaker) WakeMAC(ctx context.Context, mac net.HardwareAddr) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, _ := ParseMAC(mac.String())
	r, err := w.db.ExecContext(ctx, `UPDATE lab_host SET Power = 'on' WHERE Power = 'off' AND WolEnabled = 1
		AND ResourceID IN (SELECT ResourceID FROM lab_adapter WHERE MACAddress = ?1
		                   UNION SELECT ResourceID FROM lab_ra_mac WHERE MAC_Addresses0 = ?1)`, m.String())
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n > 0, err
}

// confirmFixture covers every outcome: woke, no answer, no MAC, no route, already online.
var confirmFixture = []labHost{
	{id: 1, name: "PC1", subnet: "127.3.7.0", power: "off", wol: 1, client: 1,
		adapters: [][3]string{{"3C:52:82:00:00:01", "127.3.7.20, fe80::1", "255.255.255.0, 64"}}},
	{id: 2, name: "PC2", subnet: "127.3.7.0", power: "off", wol: 0, client: 1,
		adapters: [][3]string{{"3C:52:82:00:00:02", "127.3.7.21, fe80::2", "255.255.255.0, 64"}}},
	{id: 3, name: "VM3", subnet: "127.3.7.0", power: "off", wol: 1, client: 1,
		adapters: [][3]string{{"00:15:5D:00:00:03", "127.3.7.22", "255.255.255.0"}}},
	{id: 4, name: "PC4", subnet: "127.3.8.0", power: "off", wol: 1, client: 1,
		adapters: [][3]string{{"3C:52:82:00:00:04", "fe80::4", "64"}}},
	{id: 5, name: "PC5", subnet: "127.3.8.0", power: "on", wol: 1, client: 1,
		adapters: [][3]string{{"3C:52:82:00:00:05", "127.3.9.20", "255.255.254.0"}}},
	{id: 6, name: "PC6", subnet: "127.3.8.0", power: "off", wol: 1, client: 1,
		adapters: [][3]string{{"3C:52:82:00:00:06", "127.3.9.21", "255.255.254.0"}}},
	{id: 7, name: "PC7", subnet: "127.3.10.0", power: "off", wol: 1, client: 1, // /32 in inventory: unicast
		adapters: [][3]string{{"3C:52:82:00:00:07", "127.3.10.5", "255.255.255.255"}}},
	{id: 8, name: "PC8", subnet: "127.3.8.0", power: "off", wol: 1, client: 1, // discovery only; mask learned
		raMAC: []string{"3C:52:82:00:00:08"}, raIP: []string{"127.3.8.30", "fe80::8"}, raSubnet: []string{"127.3.8.0"}},
	{id: 9, name: "PC9", subnet: "127.3.7.0", power: "off", wol: 1, client: 1}, // outside the collection
}

func TestConfirmAgainstLabDB(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path, rw := newLabDB(t, confirmFixture, []int64{1, 2, 3, 4, 5, 6, 7, 8})
	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	for _, coll := range []string{"LAB00012", "patch NIGHT"} { // by ID and by name (any case)
		o := DefaultOptions()
		o.Collection, o.Spacing, o.BatchPause, o.SubnetRate, o.Repeat = coll, 0, 0, 1000, 2
		p, err := o.Plan(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if n := countHosts(p); n != 8 {
			t.Fatalf("%s: plan covers %d machines; want the 8 members", coll, n)
		}
	}

	o := DefaultOptions()
	o.Collection, o.Spacing, o.BatchPause, o.SubnetRate, o.Repeat = "LAB00012", 0, 0, 1000, 2
	p, err := o.Plan(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := lab.LoadWakeHosts(ctx, rw)
	if err != nil {
		t.Fatal(err)
	}
	l, conn := labNet(t, ctx, hosts, &dbWaker{db: rw})
	rep, err := Send(ctx, p, Transports{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitFor(ctx, func(s lab.WakeStats) bool { return s.Received == rep.Local && s.Pending == 0 }); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Misdirected != 0 || st.Invalid != 0 {
		t.Fatalf("listener %+v", st)
	}

	var streamed []HostResult
	c, err := Confirm(ctx, db, p, ConfirmOptions{Sent: rep, OnHost: func(r HostResult) { streamed = append(streamed, r) }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Outcome{
		"PC1": OutcomeWoke, "PC2": OutcomeNoAnswer, "VM3": OutcomeNoMAC, "PC4": OutcomeNoRoute,
		"PC5": OutcomeAlreadyOnline, "PC6": OutcomeWoke, "PC7": OutcomeWoke, "PC8": OutcomeWoke,
	}
	if len(c.Hosts) != len(want) || len(streamed) != len(want) {
		t.Fatalf("hosts %+v", c.Hosts)
	}
	for _, h := range c.Hosts {
		if h.Outcome != want[h.Name] {
			t.Errorf("%s: %s (%s); want %s", h.Name, h.Outcome, h.Reason, want[h.Name])
		}
	}
	sub := map[string]SubnetResult{}
	for _, s := range c.Subnets {
		sub[s.Subnet] = s
	}
	if s := sub["127.3.7.0/24"]; s.Woke != 1 || s.NoAnswer != 1 || s.NoMAC != 1 || s.Method != MethodDirected {
		t.Errorf("127.3.7.0/24: %+v", s)
	}
	if s := sub["127.3.8.0/23"]; s.Woke != 2 || s.AlreadyOnline != 1 {
		t.Errorf("127.3.8.0/23: %+v", s)
	}
	if s := sub["127.3.10.5/32"]; s.Woke != 1 || s.Method != MethodUnicast {
		t.Errorf("127.3.10.5/32: %+v", s)
	}
	if s := sub["unknown"]; s.NoRoute != 1 {
		t.Errorf("unknown: %+v", s)
	}
	if c.Total.Woke != 4 || c.Total.NoAnswer != 1 || c.Total.NoMAC != 1 || c.Total.NoRoute != 1 || c.Total.AlreadyOnline != 1 || c.Complete() {
		t.Errorf("total %+v", c.Total)
	}
	h, rows := c.Table()
	if len(h) != 8 || len(rows) != len(c.Subnets)+1 || rows[len(rows)-1][0] != "TOTAL" {
		t.Errorf("table %v %v", h, rows)
	}
}

func countHosts(p *Plan) int {
	ids := map[int64]bool{}
	for _, g := range p.Subnets {
		for _, w := range g.Wakes {
			ids[w.ResourceID] = true
		}
	}
	for _, h := range p.Skipped {
		ids[h.ResourceID] = true
	}
	for _, h := range p.Awake {
		ids[h.ResourceID] = true
	}
	return len(ids)
}

type probeFunc func(ctx context.Context, hosts []string) (map[string]bool, error)

func (f probeFunc) Probe(ctx context.Context, hosts []string) (map[string]bool, error) {
	return f(ctx, hosts)
}

func TestConfirmProbeAndNotSent(t *testing.T) {
	t.Parallel()
	rows, _ := fleet(3, "127.3.7.0/24")
	o := DefaultOptions()
	o.All = true
	p, err := o.PlanTargets(buildTargets(rows, Selection{}))
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	probe := probeFunc(func(_ context.Context, hosts []string) (map[string]bool, error) {
		asked = hosts
		return map[string]bool{"PC-0-000": true}, nil
	})
	sent := &SendReport{Hosts: []HostSend{
		{ResourceID: 1, Name: "PC-0-000", Packets: 3},
		{ResourceID: 2, Name: "PC-0-001", Packets: 3},
		{ResourceID: 3, Name: "PC-0-002", Error: "send magic packet: permission denied"},
	}}
	c, err := Confirm(context.Background(), nil, p, ConfirmOptions{Prober: probe, Sent: sent})
	if err != nil {
		t.Fatal(err)
	}
	if c.By != "probe" || len(asked) != 3 {
		t.Fatalf("by %s, asked %v", c.By, asked)
	}
	want := []Outcome{OutcomeWoke, OutcomeNoAnswer, OutcomeNotSent}
	for i, h := range c.Hosts {
		if h.Outcome != want[i] {
			t.Errorf("%s: %s; want %s", h.Name, h.Outcome, want[i])
		}
	}
	// A failing probe is an error, not a report of silence.
	bad := probeFunc(func(context.Context, []string) (map[string]bool, error) { return nil, errors.New("WinRM down") })
	if _, err := Confirm(context.Background(), nil, p, ConfirmOptions{Prober: bad}); err == nil {
		t.Error("probe failure not reported")
	}
	if _, err := Confirm(context.Background(), nil, p, ConfirmOptions{}); err == nil {
		t.Error("no database and no prober accepted")
	}
	// The wait honours the context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Confirm(ctx, nil, p, ConfirmOptions{Prober: probe, Wait: time.Hour}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

func TestPlanUnknownCollection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, _ := newLabDB(t, confirmFixture[:2], []int64{1, 2})
	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o := DefaultOptions()
	o.Collection = "LAB0FFFF"
	if _, err := o.Plan(ctx, db); exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "LAB0FFFF") {
		t.Fatalf("unknown collection: %v", err)
	}
	// A host list reads the whole site and names what it does not know.
	o = DefaultOptions()
	o.Hosts = []string{"pc1", "GHOST"}
	p, err := o.Plan(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if countHosts(p) != 1 || len(p.NotFound) != 1 || p.NotFound[0] != "GHOST" {
		t.Fatalf("host list plan: %+v", p)
	}
}
