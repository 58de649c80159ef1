package doctor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
	"github.com/patchnight/patchnight/queries"
)

// fakeRemote answers a script with a JSON text or fails with err.
type fakeRemote struct {
	answer string
	err    error
}

func (f fakeRemote) Run(_ context.Context, _, _ string, _, out any) error {
	if f.err != nil {
		return f.err
	}
	return json.Unmarshal([]byte(f.answer), out)
}

var testNow = time.Date(2026, 12, 8, 18, 0, 0, 0, time.UTC)

// probeJSON is a healthy client's probe answer with changes.
func probeJSON(change func(m map[string]any)) string {
	m := map[string]any{"computer": "PC1", "nonce": "n0nce", "psVersion": "5.1.19041.4522", "languageMode": "FullLanguage",
		"executionPolicy": "RemoteSigned", "executionPolicyScope": "LocalMachine", "client": true,
		"clientVersion": "5.00.9128.1000", "utcNow": testNow.Add(20 * time.Second).Format(time.RFC3339)}
	if change != nil {
		change(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestProbeHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		remote fakeRemote
		status Status
		words  []string // in message or fix of a result with that status
	}{
		{"healthy", fakeRemote{answer: probeJSON(nil)}, OK, []string{"PowerShell 5.1.19041.4522 FullLanguage", "RemoteSigned (LocalMachine)", "stdin round trip ok", "clock +20s"}},
		{"nonce lost", fakeRemote{answer: probeJSON(func(m map[string]any) { m["nonce"] = "" })}, Fail, []string{"stdin round trip failed"}},
		{"constrained language reported", fakeRemote{answer: probeJSON(func(m map[string]any) { m["languageMode"] = "ConstrainedLanguage" })}, Fail, []string{"ConstrainedLanguage mode", "AppLocker/WDAC"}},
		{"AllSigned from Group Policy", fakeRemote{answer: probeJSON(func(m map[string]any) {
			m["executionPolicy"], m["executionPolicyScope"] = "AllSigned", "MachinePolicy"
		})}, Warn, []string{"AllSigned from Group Policy (MachinePolicy)", "-EncodedCommand", "not block"}},
		{"AllSigned set locally", fakeRemote{answer: probeJSON(func(m map[string]any) {
			m["executionPolicy"], m["executionPolicyScope"] = "AllSigned", "LocalMachine"
		})}, OK, []string{"AllSigned (LocalMachine)"}},
		{"no client", fakeRemote{answer: probeJSON(func(m map[string]any) { m["client"], m["clientVersion"] = false, "" })}, Fail, []string{"no ConfigMgr client"}},
		{"clock ahead", fakeRemote{answer: probeJSON(func(m map[string]any) { m["utcNow"] = testNow.Add(7 * time.Minute).Format(time.RFC3339) })}, Warn, []string{"off by 7m0s", "within 5 minutes"}},
		{"clock behind", fakeRemote{answer: probeJSON(func(m map[string]any) { m["utcNow"] = testNow.Add(-6 * time.Minute).Format(time.RFC3339) })}, Warn, []string{"off by -6m0s"}},
		{"PowerShell 4", fakeRemote{answer: probeJSON(func(m map[string]any) { m["psVersion"] = "4.0" })}, Warn, []string{"PowerShell 4.0", "5.1"}},
		{"PowerShell 2", fakeRemote{answer: probeJSON(func(m map[string]any) { m["psVersion"] = "2.0" })}, Fail, []string{"need Windows PowerShell 5.1"}},
		{"auth refused", fakeRemote{err: &remote.Error{Host: "pc1", Kind: remote.KindAuth, Message: "authentication failed for pc1 as LAB\\x"}}, Fail, []string{"refused the credentials", "winrm.user"}},
		{"unreachable", fakeRemote{err: &remote.Error{Host: "pc1", Kind: remote.KindUnreachable, Message: "connection refused"}}, Fail, []string{"WinRM unreachable", "firewall"}},
		{"bootstrap in ConstrainedLanguage", fakeRemote{err: &remote.Error{Host: "pc1", Kind: remote.KindScript, Code: "exit-1",
			Message: "Cannot invoke method. Method invocation is supported only on core types in this language mode. / At line:15 char:5"}}, Fail,
			[]string{"ConstrainedLanguage mode: patchnight's bootstrap cannot run", "FullLanguage"}},
		{"other script error", fakeRemote{err: &remote.Error{Host: "pc1", Kind: remote.KindScript, Code: "cim", Message: "WMI is broken"}}, Fail, []string{"WMI is broken"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := Options{Remote: tc.remote, Now: func() time.Time { return testNow }, Qualify: func(s string) string { return s }}
			res := probeHost(t.Context(), o, "pc1", "n0nce")
			found := false
			for _, r := range res {
				if r.Status == Fail && tc.status != Fail {
					t.Errorf("unexpected fail: %+v", r)
				}
				text := r.Message + " | " + r.Fix
				ok := r.Status == tc.status
				for _, w := range tc.words {
					ok = ok && strings.Contains(text, w)
				}
				found = found || ok
				if r.Status != OK && r.Fix == "" {
					t.Errorf("%s without a fix: %+v", r.Status, r)
				}
			}
			if !found {
				t.Errorf("no %s result with %q in %+v", tc.status, tc.words, res)
			}
		})
	}
}

func TestHoldContract(t *testing.T) {
	t.Parallel()
	c := queries.Contract{Query: "q", Columns: []queries.Column{{Name: "ResourceID", Kind: queries.Int}, {Name: "Online", Kind: queries.Flag}}}
	col := func(name, typ string, fits ...queries.Kind) site.DescribedColumn {
		return site.DescribedColumn{Name: name, Type: typ, Fits: fits}
	}
	tests := []struct {
		name  string
		cols  []site.DescribedColumn
		ok    bool
		words []string
	}{
		{"as read", []site.DescribedColumn{col("ResourceID", "int", queries.Int, queries.Flag), col("Online", "int", queries.Int, queries.Flag)}, true, nil},
		{"flag as bit", []site.DescribedColumn{col("ResourceID", "int", queries.Int), col("Online", "bit", queries.Flag)}, true, nil},
		{"case differs", []site.DescribedColumn{col("resourceid", "int", queries.Int), col("ONLINE", "bit", queries.Flag)}, true, nil},
		{"untyped", []site.DescribedColumn{{Name: "ResourceID"}, {Name: "Online"}}, true, nil},
		{"bit read as int", []site.DescribedColumn{col("ResourceID", "bit", queries.Flag), col("Online", "bit", queries.Flag)}, false,
			[]string{"column ResourceID is bit", "CAST(ResourceID AS int)"}},
		{"text read as int", []site.DescribedColumn{col("ResourceID", "nvarchar(10)", queries.String), col("Online", "int", queries.Int)}, false,
			[]string{"nvarchar(10)", "cannot read as int"}},
		{"column missing", []site.DescribedColumn{col("ResourceID", "int", queries.Int)}, false, []string{"returns (ResourceID) where patchnight reads (ResourceID, Online)"}},
		{"order differs", []site.DescribedColumn{col("Online", "int", queries.Int), col("ResourceID", "int", queries.Int)}, false, []string{"returns (Online, ResourceID)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, ok := holdContract(c, tc.cols)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, r)
			}
			for _, w := range tc.words {
				if !strings.Contains(r.Message+" | "+r.Fix, w) {
					t.Errorf("%q not in %+v", w, r)
				}
			}
		})
	}
}

func TestCheckProvider(t *testing.T) {
	t.Parallel()
	answer := func(ns bool, create, modify string) string {
		return `{"providers":[{"machine":"cm01","siteCode":"ABC","namespacePath":"\\\\cm01\\root\\sms\\site_ABC"}],` +
			`"namespace":"root\\sms\\site_ABC","namespacePresent":` + map[bool]string{true: "true", false: "false"}[ns] +
			`,"owned":[{"collectionId":"ABC00012","name":"x","canModify":` + modify + `}],"ownedTotal":1,"canCreate":` + create +
			`,"permissionError":"","folderItems":[{"instanceKey":"ABC00012","collectionType":2}],"folderTotal":1,"folderError":""}`
	}
	tests := []struct {
		name     string
		o        Options
		statuses []Status
		words    string
	}{
		{"not configured", Options{}, []Status{Warn}, "set provider"},
		{"all rights", Options{Remote: fakeRemote{answer: answer(true, "true", "true")}}, []Status{OK, OK, OK}, "may create collections and change the 1 owned"},
		{"no namespace", Options{Remote: fakeRemote{answer: answer(false, "null", "null")}}, []Status{Fail}, "root\\sms\\site_ABC is not on this host"},
		{"may not create", Options{Remote: fakeRemote{answer: answer(true, "false", "true")}}, []Status{OK, Fail, OK}, "may not create collections"},
		{"may not change", Options{Remote: fakeRemote{answer: answer(true, "true", "false")}}, []Status{OK, Fail, OK}, "change ABC00012"},
		{"cannot ask", Options{Remote: fakeRemote{answer: answer(true, "null", "null")}}, []Status{OK, Warn, OK}, "could not ask"},
		{"refused", Options{Remote: fakeRemote{err: &remote.Error{Kind: remote.KindAuth, Message: "401"}}}, []Status{Fail}, "refused the credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.o.Remote != nil {
				tc.o.Provider, tc.o.SiteCode = "cm01", "ABC"
			}
			res := checkProvider(t.Context(), tc.o)
			if len(res) != len(tc.statuses) {
				t.Fatalf("%d results, want %d: %+v", len(res), len(tc.statuses), res)
			}
			text := ""
			for i, r := range res {
				if r.Status != tc.statuses[i] {
					t.Errorf("result %d: %s, want %s (%+v)", i, r.Status, tc.statuses[i], r)
				}
				if (r.Check == "provider-rights" || r.Check == "folder-type") && !r.Unconfirmed {
					t.Errorf("the %s check is not marked unconfirmed: %+v", r.Check, r)
				}
				text += r.Message + " | " + r.Fix + "\n"
			}
			if !strings.Contains(text, tc.words) {
				t.Errorf("%q not in %s", tc.words, text)
			}
		})
	}
}

func TestCheckWake(t *testing.T) {
	t.Parallel()
	plan := &wol.Plan{Subnets: []wol.SubnetPlan{
		{Subnet: "10.1.0.0/24", Method: wol.MethodDirected, Broadcast: netip.MustParseAddr("10.1.0.255"), Wakes: make([]wol.Wake, 3)},
		{Subnet: "10.2.0.0/24", Method: wol.MethodNone, Reason: "no online client on the subnet to relay"},
		{Subnet: "10.3.0.0/24", Method: wol.MethodRelay, Via: []string{"PC7"}, Wakes: make([]wol.Wake, 2)},
	}}
	res := checkWake(t.Context(), Options{WakePlan: func(context.Context) (*wol.Plan, error) { return plan, nil }})
	want := []Status{OK, Fail, OK}
	if len(res) != len(want) {
		t.Fatalf("%+v", res)
	}
	for i, r := range res {
		if r.Status != want[i] || r.Subject != plan.Subnets[i].Subnet {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if !strings.Contains(res[1].Fix, "wol.mode site") || !strings.Contains(res[2].Message, "PC7") {
		t.Errorf("%+v", res)
	}
	res = checkWake(t.Context(), Options{WakePlan: func(context.Context) (*wol.Plan, error) { return nil, errors.New("bad mode") }})
	if len(res) != 1 || res[0].Status != Fail {
		t.Errorf("plan error: %+v", res)
	}
}

func TestCheckTasks(t *testing.T) {
	t.Parallel()
	csvText := "\"HostName\",\"TaskName\",\"Next Run Time\",\"Status\",\"Logon Mode\"\r\n" +
		"\"CM01\",\"\\Microsoft\\Windows\\Defrag\\ScheduledDefrag\",\"N/A\",\"Ready\",\"Interactive/Background\"\r\n" +
		"\"HostName\",\"TaskName\",\"Next Run Time\",\"Status\",\"Logon Mode\"\r\n" +
		"\"CM01\",\"\\patchnight\\2026-12 wake\",\"12/8/2026 6:00:00 PM\",\"Ready\",\"Interactive/Background\"\r\n" +
		"\"CM01\",\"\\patchnight\\2026-12 scan-1630\",\"N/A\",\"Disabled\",\"Interactive/Background\"\r\n"
	tasks, err := parseSchtasks(csvText)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || tasks[0].Name != `\patchnight\2026-12 wake` || tasks[0].NextRun != "12/8/2026 6:00:00 PM" {
		t.Fatalf("parsed %+v", tasks)
	}
	res := checkTasks(t.Context(), Options{Tasks: func(context.Context) ([]Task, error) { return tasks, nil }})
	if len(res) != 2 || res[0].Status != OK || res[1].Status != Warn {
		t.Errorf("%+v", res)
	}
	if res := checkTasks(t.Context(), Options{}); res != nil {
		t.Errorf("no lister, yet %+v", res)
	}
	res = checkTasks(t.Context(), Options{Tasks: func(context.Context) ([]Task, error) { return nil, nil }})
	if len(res) != 1 || res[0].Status != Warn || !strings.Contains(res[0].Fix, "export-tasks") {
		t.Errorf("no tasks: %+v", res)
	}
}

// labSite generates a lab, applies change to it (SQL on the lab's tables) and opens it as
// the site database.
func labSite(t *testing.T, change string) *site.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab.db")
	if _, err := lab.Generate(t.Context(), path, lab.Options{Hosts: 30, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	if change != "" {
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(t.Context(), change); err != nil {
			t.Fatal(err)
		}
		raw.Close()
	}
	db, err := site.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCheckUpdateGroupAndSUPSync(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change string
		group  string // "@lab" = the lab's group title
		now    time.Time
		check  func(context.Context, Options) []Result
		status Status
		words  string
	}{
		{"group deployed", "", "@lab", testNow, checkUpdateGroup, OK, "deployed to LAB"},
		{"group by CI_ID", "", "@id", testNow, checkUpdateGroup, OK, "deployed to LAB"},
		{"no group configured", "", "", testNow, checkUpdateGroup, Warn, "no software update group configured"},
		{"unknown group", "", "No Such Group", testNow, checkUpdateGroup, Fail, `no software update group "No Such Group"`},
		{"group not deployed", "DELETE FROM lab_assignment_group", "@lab", testNow, checkUpdateGroup, Fail, "is not deployed"},
		{"catalog current", "", "", testNow, checkSUPSync, OK, "catalog version"},
		{"sync old", "", "", testNow.AddDate(0, 0, 5), checkSUPSync, Warn, "more than 2 days"},
		{"no top SUP", "UPDATE lab_sup_sync SET WSUSSourceServer = 'sup00.lab'", "", testNow, checkSUPSync, Fail, "none syncs from Microsoft Update"},
		{"never synced", "UPDATE lab_sup_sync SET SyncCatalogVersion = NULL", "", testNow, checkSUPSync, Fail, "has not synchronized"},
		{"MinSourceVersion", "", "", testNow, checkMinSourceVersion, OK, "exposes MinSourceVersion"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := labSite(t, tc.change)
			o := Options{Site: db, Group: tc.group, Now: func() time.Time { return tc.now }}
			if tc.group == "@lab" || tc.group == "@id" {
				// The lab's deployed group (the first group, once deployments are gone).
				var title string
				var id int64
				err := openLab(t, db).QueryRow(`SELECT ali.CI_ID, ali.Title FROM v_AuthListInfo ali
					LEFT JOIN lab_assignment_group a ON a.AssignedUpdateGroup = ali.CI_ID
					ORDER BY a.AssignmentID IS NULL, ali.CI_ID LIMIT 1`).Scan(&id, &title)
				if err != nil {
					t.Fatal(err)
				}
				o.Group = title
				if tc.group == "@id" {
					o.Group = strconv.FormatInt(id, 10)
				}
			}
			res := tc.check(t.Context(), o)
			if len(res) != 1 || res[0].Status != tc.status || !strings.Contains(res[0].Message+" | "+res[0].Fix, tc.words) {
				t.Errorf("got %+v, want %s with %q", res, tc.status, tc.words)
			}
		})
	}
}

func openLab(t *testing.T, db *site.DB) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(db.String(), "sqlite:")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func TestReport(t *testing.T) {
	t.Parallel()
	r := &Report{}
	r.add(Result{Check: "a", Status: OK}, Result{Check: "b", Status: Warn, Fix: "x"}, Result{Check: "c", Status: "odd"})
	if r.OK != 1 || r.Warn != 1 || r.Fail != 1 || !r.Failed() || r.Results[2].Status != Fail {
		t.Errorf("%+v", r)
	}
	g := r.Grids()
	if len(g) != 1 || len(g[0].Rows) != 3 || g[0].Footer[0] != "1 ok, 1 warn, 1 fail" {
		t.Errorf("%+v", g)
	}
}

// Every query pkg/doctor reads runs through its own checks with bit columns read back as
// bool, and flags of unconfirmed type as bool too in the strict pass.
func TestDoctorReadsSiteTypes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lab.db")
	if _, err := lab.Generate(t.Context(), path, lab.Options{Hosts: 30, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	for _, lo := range []site.LabOptions{{}, {FlagsAsBool: true}} {
		db, err := site.OpenLab(t.Context(), path, lo)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var title string
		if err := openLab(t, db).QueryRow(`SELECT ali.Title FROM v_AuthListInfo ali
			JOIN lab_assignment_group a ON a.AssignedUpdateGroup = ali.CI_ID ORDER BY ali.CI_ID LIMIT 1`).Scan(&title); err != nil {
			t.Fatal(err)
		}
		o := Options{Site: db, Group: title, Now: func() time.Time { return testNow }, Sample: 2,
			Remote: fakeRemote{answer: probeJSON(nil)}, Nonce: "n0nce", Concurrency: 2,
			Qualify: func(s string) string { return s }}
		for _, check := range []func(context.Context, Options) []Result{checkSUPSync, checkCatalogSteps, checkMinSourceVersion, checkNotRequired, checkFastChannelTimes, checkUpdateGroup, checkClients, checkAdapterMasks} {
			for _, r := range check(t.Context(), o) {
				if r.Status == Fail {
					t.Errorf("%+v: %s failed: %s", lo, r.Check, r.Message)
				}
			}
		}
		for _, q := range queries.ReadByPackage("pkg/doctor") {
			if !slices.Contains(db.Ran(), q) {
				t.Errorf("%+v: query %s, read by pkg/doctor, did not run", lo, q)
			}
		}
	}
}
