package lab

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// sharedLab builds one 1,000-host lab with 24 updates per test binary (small, because the
// race detector slows SQLite down a lot); tests read it or copy it.
var sharedLab = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "patchnight-lab-test-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "lab.db")
	opt := DefaultOptions()
	opt.Seed, opt.Hosts, opt.Updates = 7, 1000, 24
	_, err = Generate(context.Background(), path, opt)
	return path, err
})

func TestMain(m *testing.M) {
	code := m.Run()
	if p, err := sharedLab(); err == nil {
		os.RemoveAll(filepath.Dir(p))
	}
	os.Exit(code)
}

func labPath(t testing.TB) string {
	t.Helper()
	p, err := sharedLab()
	if err != nil {
		t.Fatalf("build shared lab: %v", err)
	}
	return p
}

// openRO opens a lab read-only, the way package site does.
func openRO(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func scalar(t testing.TB, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n.Int64
}

// dumpHash hashes every row of every table, in primary-key order.
func dumpHash(t testing.TB, path string) map[string]string {
	t.Helper()
	db := openRO(t, path)
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'lab%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, tab := range tables {
		r, err := db.Query("SELECT * FROM " + tab)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		h := sha256.New()
		n := 0
		for r.Next() {
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%v\n", vals)
			n++
		}
		r.Close()
		out[tab] = fmt.Sprintf("%d:%s", n, hex.EncodeToString(h.Sum(nil)))
	}
	return out
}

func TestGenerateDeterministic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opt := Options{Hosts: 250, Seed: 42, Updates: 12}
	build := func(name string, o Options) map[string]string {
		p := filepath.Join(dir, name)
		if _, err := Generate(context.Background(), p, o); err != nil {
			t.Fatalf("Generate %s: %v", name, err)
		}
		return dumpHash(t, p)
	}
	a, b := build("a.db", opt), build("b.db", opt)
	if len(a) < 20 {
		t.Fatalf("only %d lab tables", len(a))
	}
	for tab, h := range a {
		if b[tab] != h {
			t.Errorf("table %s differs between two builds with the same options: %s vs %s", tab, h, b[tab])
		}
	}
	other := opt
	other.Seed = 43
	c := build("c.db", other)
	for _, tab := range []string{"lab_host", "lab_adapter", "lab_update", "lab_update_state", "lab_scan_status"} {
		if c[tab] == a[tab] {
			t.Errorf("table %s is the same for seeds 42 and 43", tab)
		}
	}
}

func TestGenerateRefusesExistingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "lab.db")
	ctx := context.Background()
	if err := os.WriteFile(path, []byte("not a lab"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(ctx, path, Options{Hosts: 20})
	if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Generate over an existing file: %v (code %d), want a usage error", err, exit.Code(err))
	}
	if b, _ := os.ReadFile(path); string(b) != "not a lab" {
		t.Fatal("the existing file was changed")
	}
	sum, err := Generate(ctx, path, Options{Hosts: 20, Force: true})
	if err != nil {
		t.Fatalf("Generate with Force: %v", err)
	}
	if sum.Hosts != 20 || sum.Path != path {
		t.Errorf("summary %+v", sum)
	}
	if n := scalar(t, openRO(t, path), "SELECT COUNT(*) FROM v_R_System"); n != 20 {
		t.Errorf("v_R_System has %d rows, want 20", n)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if _, err := Generate(ctx, dir, Options{Hosts: 20, Force: true}); exit.Code(err) != exit.Usage {
		t.Errorf("Generate onto a directory: %v, want a usage error", err)
	}
	if _, err := Generate(ctx, filepath.Join(dir, "no", "such", "lab.db"), Options{Hosts: 20}); exit.Code(err) != exit.Usage {
		t.Errorf("Generate into a missing directory: %v, want a usage error", err)
	}
	for _, bad := range []string{"", "lab.db?mode=memory", "lab#1.db"} {
		if _, err := Generate(ctx, bad, Options{Hosts: 20}); exit.Code(err) != exit.Usage {
			t.Errorf("Generate(%q): %v, want a usage error", bad, err)
		}
	}
}

func TestGenerateCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join(dir, "lab.db")
	if _, err := Generate(ctx, path, Options{Hosts: 5000}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with a cancelled context: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
		t.Errorf("files left after a cancelled build: %v", left)
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  Options
		want string // "" = valid
	}{
		{"zero is defaults", Options{}, ""},
		{"lower-case site code", Options{SiteCode: "p01"}, ""},
		{"negative hosts", Options{Hosts: -1}, "lab hosts -1 is out of range"},
		{"too many hosts", Options{Hosts: 1_000_001}, "out of range"},
		{"too many updates", Options{Updates: 10_001}, "lab updates 10001 is out of range"},
		{"short site code", Options{SiteCode: "AB"}, `site code "AB" is not valid`},
		{"site code with a quote", Options{SiteCode: "A'B"}, "is not valid"},
		{"ancient Patch Tuesday", Options{PatchTuesday: time.Date(1999, 1, 12, 0, 0, 0, 0, time.UTC)}, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.opt.normalize()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("normalize: %v", err)
				}
				if got.Hosts < 1 || got.Updates < 1 || len(got.SiteCode) != 3 || got.PatchTuesday.IsZero() {
					t.Errorf("normalized options incomplete: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || exit.Code(err) != exit.Usage {
				t.Fatalf("normalize: %v, want a usage error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Generate(context.Background(), filepath.Join(t.TempDir(), "x.db"), Options{Hosts: -5}); exit.Code(err) != exit.Usage {
		t.Errorf("Generate with bad options: %v", err)
	}
}

// viewNames lists the views schema.sql defines.
func viewNames(t testing.TB) []string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^CREATE VIEW (\w+) AS`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(schemaSQL, -1) {
		out = append(out, m[1])
	}
	if len(out) < 25 {
		t.Fatalf("found only %d views in schema.sql", len(out))
	}
	return out
}

func TestEveryViewAnswers(t *testing.T) {
	t.Parallel()
	db := openRO(t, labPath(t))
	for _, v := range viewNames(t) {
		rows, err := db.Query("SELECT * FROM " + v + " WHERE 1 = 0")
		if err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		rows.Close()
		if n := scalar(t, db, "SELECT COUNT(*) FROM "+v); n == 0 && v != "v_CollectionRuleDirect" {
			t.Errorf("%s has no rows", v)
		}
	}
}

func TestGeneratedInvariants(t *testing.T) {
	t.Parallel()
	db := openRO(t, labPath(t))
	const pub = `(SELECT UpdateSource_ID FROM lab_update_source WHERE IsPublishingEnabled = 1)`
	zero := []struct{ what, q string }{
		{"Status 0 although the scan carried the update", `
			SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u ON u.CI_ID = s.CI_ID
			JOIN lab_scan_status ss ON ss.ResourceID = s.ResourceID AND ss.UpdateSource_ID = ` + pub + `
			WHERE s.Status = 0 AND ss.LastScanPackageVersion >= u.MinSourceVersion`},
		{"Status reported without a scan that carried the update", `
			SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u ON u.CI_ID = s.CI_ID
			LEFT JOIN lab_scan_status ss ON ss.ResourceID = s.ResourceID AND ss.UpdateSource_ID = ` + pub + `
			WHERE s.Status <> 0 AND (ss.ResourceID IS NULL OR ss.LastScanPackageVersion < u.MinSourceVersion)`},
		{"Status disagrees with Truth", `
			SELECT COUNT(*) FROM lab_update_state
			WHERE Status <> 0 AND Status <> CASE WHEN Truth = 2 THEN 3 WHEN AfterCI <> 0 THEN 1 ELSE 2 END`},
		{"status values outside 0, 1, 2, 3", `SELECT COUNT(*) FROM lab_update_state WHERE Status NOT IN (0, 1, 2, 3)`},
		{"not required without a chain", `SELECT COUNT(*) FROM lab_update_state WHERE Status = 1 AND AfterCI = 0`},
		{"chained behind an update the host does not have", `
			SELECT COUNT(*) FROM lab_update_state s WHERE s.AfterCI <> 0 AND NOT EXISTS (SELECT 1 FROM
			lab_update_state a WHERE a.ResourceID = s.ResourceID AND a.CI_ID = s.AfterCI AND a.Truth <> 2)`},
		{"chained update installed", `SELECT COUNT(*) FROM lab_update_state WHERE AfterCI <> 0 AND Truth <> 0`},
		{"away without a return", `SELECT COUNT(*) FROM lab_host WHERE (AwayAt IS NULL) <> (AwayUntil IS NULL) OR AwayUntil <= AwayAt`},
		{"v_UpdateComplianceStatus rows other than 2 and 3", `SELECT COUNT(*) FROM v_UpdateComplianceStatus WHERE Status NOT IN (2, 3)`},
		{"state rows of non-clients", `SELECT COUNT(*) FROM lab_update_state s JOIN lab_host h USING (ResourceID) WHERE h.IsClient = 0`},
		{"RebootPending without a pending update", `
			SELECT COUNT(*) FROM lab_host h WHERE RebootPending <>
			EXISTS (SELECT 1 FROM lab_update_state s WHERE s.ResourceID = h.ResourceID AND s.Truth = 1)`},
		{"wrong MemberCount", `
			SELECT COUNT(*) FROM lab_collection c
			WHERE MemberCount <> (SELECT COUNT(*) FROM lab_collection_member m WHERE m.CollectionID = c.CollectionID)`},
		{"address outside 127.0.0.0/8 and fe80::/64", `
			SELECT COUNT(*) FROM lab_ra_ip WHERE IP_Addresses0 NOT LIKE '127.%' AND IP_Addresses0 NOT LIKE 'fe80::%'`},
		{"subnet outside 127.0.0.0/8", `SELECT COUNT(*) FROM lab_subnet WHERE subnet_id NOT LIKE '127.%' OR subnet_id LIKE '127.0.%'`},
		{"CurrentUser on a machine that is off", `SELECT COUNT(*) FROM lab_host WHERE Power = 'off' AND CurrentUser IS NOT NULL`},
		{"non-ASCII user", `SELECT COUNT(*) FROM lab_host WHERE CurrentUser GLOB '*[^ -~]*' OR LastLogonUser GLOB '*[^ -~]*'`},
		{"deployed update outside the deployment", `
			SELECT COUNT(*) FROM lab_update u WHERE u.CIType_ID = 1 AND u.IsDeployed = 1
			AND NOT EXISTS (SELECT 1 FROM lab_assignment_ci a WHERE a.CI_ID = u.CI_ID)`},
		{"superseded update in the SUG", `
			SELECT COUNT(*) FROM lab_cirelation r JOIN lab_update u ON u.CI_ID = r.ToCIID
			WHERE r.RelationType = 1 AND u.IsSuperseded = 1`},
		{"superseded flag without a supersedence relation", `
			SELECT COUNT(*) FROM lab_update u WHERE u.IsSuperseded <>
			EXISTS (SELECT 1 FROM lab_cirelation r WHERE r.ToCIID = u.CI_ID AND r.RelationType = 6)`},
		{"duplicate host name", `SELECT COUNT(*) - COUNT(DISTINCT Name) FROM lab_host`},
		{"duplicate ArticleID", `SELECT COUNT(*) - COUNT(DISTINCT ArticleID) FROM lab_update WHERE CIType_ID = 1`},
		{"bulletin-era update without a bulletin", `SELECT COUNT(*) FROM lab_update WHERE CIType_ID = 1 AND DatePosted < '2018' AND BulletinID NOT GLOB 'MS[0-9][0-9]-[0-9][0-9][0-9]'`},
		{"modern update with a bulletin", `SELECT COUNT(*) FROM lab_update WHERE CIType_ID = 1 AND DatePosted > '2018' AND BulletinID <> ''`},
		{"v_Update_ComplianceStatusAll size", `
			SELECT (SELECT COUNT(*) FROM v_Update_ComplianceStatusAll) -
			       (SELECT COUNT(*) FROM v_UpdateCIs) * (SELECT COUNT(*) FROM v_R_System WHERE Client0 = 1)`},
		{"All view disagrees with the status rows", `
			SELECT COUNT(*) FROM v_Update_ComplianceStatusAll a
			LEFT JOIN lab_update_state s ON s.ResourceID = a.ResourceID AND s.CI_ID = a.CI_ID
			WHERE a.Status IN (2, 3) AND (s.Status IS NULL OR s.Status <> a.Status)`},
		{"scan time after now", `SELECT COUNT(*) FROM lab_scan_status WHERE LastScanTime > (SELECT value FROM lab_meta WHERE key = 'now')`},
		{"state change after now", `SELECT COUNT(*) FROM lab_update_state WHERE LastStatusChangeTime > (SELECT value FROM lab_meta WHERE key = 'now')`},
	}
	for _, z := range zero {
		if n := scalar(t, db, z.q); n != 0 {
			t.Errorf("%s: %d", z.what, n)
		}
	}

	hosts := float64(scalar(t, db, "SELECT COUNT(*) FROM lab_host"))
	clients := float64(scalar(t, db, "SELECT COUNT(*) FROM lab_host WHERE IsClient = 1"))
	shares := []struct {
		what   string
		q      string
		of     float64
		lo, hi float64
	}{
		{"desktops", "SELECT COUNT(*) FROM lab_host WHERE FormFactor = 'desktop'", hosts, 0.60, 0.70},
		{"laptops", "SELECT COUNT(*) FROM lab_host WHERE FormFactor = 'laptop'", hosts, 0.25, 0.35},
		{"virtual machines", "SELECT COUNT(*) FROM lab_host WHERE FormFactor = 'virtual' AND Name LIKE 'VM-%'", hosts, 0.01, 0.06},
		{"Hyper-V MACs of VMs", "SELECT COUNT(*) FROM lab_adapter a JOIN lab_host h USING (ResourceID) WHERE h.FormFactor = 'virtual' AND a.MACAddress LIKE '00:15:5D:%'", hosts, 0.01, 0.06},
		{"powered off", "SELECT COUNT(*) FROM lab_host WHERE Power = 'off'", hosts, 0.15, 0.25},
		{"off with WoL", "SELECT COUNT(*) FROM lab_host WHERE Power = 'off' AND WolEnabled = 1", hosts, 0.13, 0.25},
		{"WoL disabled", "SELECT COUNT(*) FROM lab_host WHERE WolEnabled = 0", hosts, 0.07, 0.13},
		{"user logged on", "SELECT COUNT(*) FROM lab_host WHERE CurrentUser IS NOT NULL", hosts, 0.33, 0.47},
		{"last logon user", "SELECT COUNT(*) FROM lab_host WHERE LastLogonUser IS NOT NULL", hosts, 0.80, 0.97},
		{"no client", "SELECT COUNT(*) FROM lab_host WHERE IsClient = 0", hosts, 0.003, 0.02},
		{"inactive clients", "SELECT COUNT(*) FROM lab_host WHERE IsClient = 1 AND Active = 0", clients, 0.015, 0.045},
		{"unhealthy clients", "SELECT COUNT(*) FROM lab_host WHERE IsClient = 1 AND ClientCheckPass = 2", clients, 0.01, 0.035},
		{"install fault", "SELECT COUNT(*) FROM lab_host WHERE InstallFault <> 0", clients, 0.015, 0.045},
		{"never scanned", "SELECT COUNT(*) FROM lab_host h WHERE IsClient = 1 AND NOT EXISTS (SELECT 1 FROM lab_scan_status s WHERE s.ResourceID = h.ResourceID AND s.UpdateSource_ID = " + pub + ")", clients, 0.01, 0.03},
		{"scan failed", "SELECT COUNT(*) FROM lab_scan_status WHERE UpdateSource_ID = " + pub + " AND LastScanState = 5 AND LastErrorCode <> 0", clients, 0.01, 0.03},
		{"one version behind", "SELECT COUNT(*) FROM lab_scan_status WHERE UpdateSource_ID = " + pub + " AND LastScanState = 3 AND LastScanPackageVersion = 411", clients, 0.06, 0.10},
		{"more behind", "SELECT COUNT(*) FROM lab_scan_status WHERE UpdateSource_ID = " + pub + " AND LastScanState = 3 AND LastScanPackageVersion < 411", clients, 0.04, 0.11}, // with machines away for days since before the syncs
		{"current", "SELECT COUNT(*) FROM lab_scan_status WHERE UpdateSource_ID = " + pub + " AND LastScanState = 3 AND LastScanPackageVersion = 412", clients, 0.74, 0.86},
		{"late scans", "SELECT COUNT(*) FROM lab_scan_status WHERE UpdateSource_ID = " + pub + " AND LastScanTime < '2026-11-24'", clients, 0.01, 0.08},
		{"second enabled adapter", "SELECT COUNT(DISTINCT ResourceID) FROM lab_adapter WHERE AdapterIndex = 3 AND IPEnabled = 1", hosts, 0.02, 0.08},
		{"disabled adapter", "SELECT COUNT(*) FROM lab_adapter WHERE IPEnabled = 0", hosts, 0.10, 0.20},
	}
	for _, s := range shares {
		got := float64(scalar(t, db, s.q)) / s.of
		if got < s.lo || got > s.hi {
			t.Errorf("share of %s = %.3f, want %.3f..%.3f", s.what, got, s.lo, s.hi)
		}
	}

	// Pre-night spread: old updates mostly installed, this month's mostly missing.
	spread := func(cond string) float64 {
		return float64(scalar(t, db, `SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u USING (CI_ID) WHERE s.Truth = 2 AND `+cond)) /
			float64(scalar(t, db, `SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u USING (CI_ID) WHERE `+cond))
	}
	if got := spread("u.BulletinID <> ''"); got < 0.95 || got > 0.99 {
		t.Errorf("bulletin-era updates installed on %.3f of applicable pairs, want about 0.97", got)
	}
	if got := spread("u.IsDeployed = 1"); got > 0.15 {
		t.Errorf("this month's updates installed on %.3f of applicable pairs, want mostly missing", got)
	}
	applicable := float64(scalar(t, db, "SELECT COUNT(*) FROM lab_update_state s JOIN lab_update u USING (CI_ID) WHERE u.ArticleID LIKE '500%'")) /
		(clients * float64(scalar(t, db, "SELECT COUNT(*) FROM lab_update WHERE ArticleID LIKE '500%'")))
	if applicable < 0.6 || applicable > 0.9 {
		t.Errorf("Office updates apply to %.3f of clients, want 0.6..0.9", applicable)
	}
	if n := scalar(t, db, "SELECT COUNT(*) FROM lab_update_state WHERE LastEnforcementMessageID = 11 AND LastErrorCode = ?", installFaultCode); n == 0 {
		t.Error("no failed-install rows")
	}
}

func TestGeneratedCatalogAndSite(t *testing.T) {
	t.Parallel()
	db := openRO(t, labPath(t))
	checks := []struct {
		what string
		q    string
		want int64
	}{
		{"update CIs", "SELECT COUNT(*) FROM v_UpdateCIs", 24},
		{"software update groups", "SELECT COUNT(*) FROM v_AuthListInfo WHERE Title = 'Patch Tuesday 2026-12'", 1},
		{"SUG members", "SELECT COUNT(*) FROM v_CIRelation r JOIN v_AuthListInfo a ON a.CI_ID = r.FromCIID WHERE r.RelationType = 1", 15},
		{"deployed updates", "SELECT COUNT(*) FROM v_UpdateInfo WHERE CIType_ID = 1 AND IsDeployed = 1", 15},
		{"assignment CIs", "SELECT COUNT(*) FROM v_CIAssignmentToCI", 15},
		{"the deployment is of the update group", `SELECT COUNT(*) FROM v_CIAssignmentToGroup ag
			JOIN v_AuthListInfo al ON al.CI_ID = ag.AssignedUpdateGroup WHERE al.Title = 'Patch Tuesday 2026-12'`, 1},
		{"targets are the deployment collection's members", `SELECT (SELECT COUNT(*) FROM v_CIAssignmentTargetedMachines) -
			(SELECT MemberCount FROM v_Collection WHERE CollectionID = 'LAB00010')`, 0},
		{"targets are clients", `SELECT COUNT(*) FROM v_CIAssignmentTargetedMachines tm
			JOIN v_R_System s ON s.ResourceID = tm.ResourceID WHERE s.Client0 <> 1`, 0},
		{"every update has its update source", "SELECT COUNT(*) FROM v_UpdateCIs WHERE UpdateSource_ID IS NULL", 0},
		{"names compare case-insensitively", "SELECT COUNT(*) FROM v_Collection WHERE Name = 'PATCH - ALL WORKSTATIONS' AND CollectionID = 'lab00010'", 1},
		{"superseded", "SELECT COUNT(*) FROM v_UpdateInfo WHERE CIType_ID = 1 AND IsSuperseded = 1 AND ArticleID LIKE '50%'", 3},
		{"MS17-010", "SELECT COUNT(*) FROM v_UpdateInfo WHERE ArticleID = '4012212' AND BulletinID = 'MS17-010'", 1},
		{"this month's updates posted at 18:00 UTC", "SELECT COUNT(*) FROM v_UpdateCIs uc JOIN v_UpdateInfo ui ON ui.CI_ID = uc.CI_ID WHERE ui.DatePosted = '2026-12-08 18:00:00' AND uc.MinSourceVersion = 412 AND ui.BulletinID = ''", 15},
		{"publishing source", "SELECT COUNT(*) FROM v_SoftwareUpdateSource WHERE IsPublishingEnabled = 1", 1},
		{"disabled source", "SELECT COUNT(*) FROM v_SoftwareUpdateSource WHERE IsPublishingEnabled = 0", 1},
		{"top SUP", "SELECT SyncCatalogVersion FROM vSMS_SUPSyncStatus WHERE WSUSSourceServer = 'Microsoft Update'", 412},
		{"SUPs", "SELECT COUNT(*) FROM vSMS_SUPSyncStatus", 2},
		{"deployment", `SELECT COUNT(*) FROM v_CIAssignment WHERE CollectionID = 'LAB00010' AND CollectionName = 'Patch - All Workstations'
			AND DesiredConfigType = 1 AND EnforcementDeadline = '2026-12-08 16:00:00'`, 1},
		{"built-in collections", "SELECT COUNT(*) FROM v_Collections WHERE IsBuiltIn = 1 AND SiteID IN ('SMS00001', 'SMSDM003')", 2},
		{"All Systems", "SELECT MemberCount FROM v_Collection WHERE CollectionID = 'SMS00001'", 1000},
		{"site collection IDs", "SELECT COUNT(*) FROM v_Collection WHERE CollectionID NOT GLOB 'SMS*' AND CollectionID NOT GLOB 'LAB[0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]'", 0},
		{"query rules", "SELECT COUNT(*) FROM v_CollectionRuleQuery WHERE QueryExpression LIKE 'select SMS_R_SYSTEM.ResourceID,%from SMS_R_System where %'", 9},
		{"patching folder", "SELECT COUNT(*) FROM v_Collections WHERE ObjectPath = '/Patching'", 3},
		{"laptop collection", `SELECT (SELECT MemberCount FROM v_Collection WHERE Name = 'Patch - Laptops') -
			(SELECT COUNT(*) FROM v_R_System WHERE Name0 LIKE 'LT-%' AND Client0 = 1)`, 0},
		{"locations partition the fleet", `SELECT SUM(MemberCount) FROM v_Collection WHERE Name LIKE 'Location - %'`, 1000},
		{"direct members of the pilot", `SELECT COUNT(*) - SUM(IsDirect) FROM v_FullCollectionMembership WHERE CollectionID = 'LAB00012'`, 0},
		{"state names", "SELECT COUNT(DISTINCT TopicType) FROM v_StateNames WHERE TopicType IN (300, 301, 302, 402, 500, 501)", 6},
		{"pending restart name", "SELECT COUNT(*) FROM v_StateNames WHERE TopicType = 402 AND StateID = 9 AND StateName = 'Pending restart'", 1},
		{"meta now", "SELECT COUNT(*) FROM lab_meta WHERE key = 'now' AND value = '2026-12-08 15:00:00'", 1},
		{"WAL after the build", "PRAGMA journal_mode", 0},
	}
	for _, c := range checks {
		if c.what == "WAL after the build" {
			var mode string
			if err := db.QueryRow(c.q).Scan(&mode); err != nil || mode != "wal" {
				t.Errorf("journal mode %q (%v), want wal", mode, err)
			}
			continue
		}
		if got := scalar(t, db, c.q); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	var title string
	if err := db.QueryRow("SELECT Title FROM v_UpdateInfo WHERE CIType_ID = 1 AND IsDeployed = 1 ORDER BY CI_ID LIMIT 1").Scan(&title); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^2026-12 Cumulative Update for Windows 11 Version 24H2 for x64-based Systems \(KB50\d{5}\)$`).MatchString(title) {
		t.Errorf("first deployed update title %q", title)
	}
}

func TestGeneratedNetworkInventory(t *testing.T) {
	t.Parallel()
	db := openRO(t, labPath(t))
	rows, err := db.Query(`SELECT ResourceID, MACAddress, IPAddress, IPSubnet FROM lab_adapter WHERE IPEnabled = 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var malformed, zero, v6only, slash31, slash32, noncontig int
	macHosts := map[string]map[int64]bool{}
	for rows.Next() {
		var rid int64
		var mac, ips, subs string
		if err := rows.Scan(&rid, &mac, &ips, &subs); err != nil {
			t.Fatal(err)
		}
		if hw, err := net.ParseMAC(mac); err != nil || len(hw) != 6 || strings.Contains(mac, "-") {
			malformed++
		} else if mac == "00:00:00:00:00:00" {
			zero++
		}
		if macHosts[mac] == nil {
			macHosts[mac] = map[int64]bool{}
		}
		macHosts[mac][rid] = true
		addrs, masks := strings.Split(ips, ", "), strings.Split(subs, ", ")
		if len(addrs) != len(masks) {
			t.Errorf("host %d: %d addresses but %d masks: %q / %q", rid, len(addrs), len(masks), ips, subs)
			continue
		}
		if net.ParseIP(addrs[0]).To4() == nil {
			v6only++
		}
		for k, a := range addrs {
			ip := net.ParseIP(a)
			switch {
			case ip == nil:
				t.Errorf("host %d: address %q does not parse", rid, a)
			case ip.To4() != nil:
				if !ip.IsLoopback() {
					t.Errorf("host %d: address %s is not loopback", rid, a)
				}
				m := net.IPMask(net.ParseIP(masks[k]).To4())
				switch ones, size := m.Size(); {
				case size == 0:
					noncontig++
				case ones == 31:
					slash31++
				case ones == 32:
					slash32++
				}
			case !ip.IsLinkLocalUnicast() || masks[k] != "64":
				t.Errorf("host %d: IPv6 %s/%s is not link-local /64", rid, a, masks[k])
			}
		}
	}
	dups := 0
	for mac, h := range macHosts {
		if len(h) > 1 && mac != "00:00:00:00:00:00" {
			dups++
		}
	}
	for _, c := range []struct {
		what     string
		got, min int
	}{
		{"malformed MACs", malformed, 3}, {"zero MACs", zero, 1}, {"duplicate MACs", dups, 1},
		{"IPv6-only adapters", v6only, 1}, {"/31 adapters", slash31, 1}, {"/32 adapters", slash32, 1},
		{"non-contiguous masks", noncontig, 1},
	} {
		if c.got < c.min {
			t.Errorf("%s: %d, want at least %d", c.what, c.got, c.min)
		}
	}
	if malformed > 10 {
		t.Errorf("%d malformed MACs in 1,000 hosts, want about 0.5%%", malformed)
	}
	// Hosts without hardware inventory still have discovery data.
	if n := scalar(t, db, `SELECT COUNT(*) FROM lab_host h WHERE IsClient = 1 AND LastHW IS NULL
		AND NOT EXISTS (SELECT 1 FROM lab_adapter a WHERE a.ResourceID = h.ResourceID)
		AND EXISTS (SELECT 1 FROM lab_ra_mac m WHERE m.ResourceID = h.ResourceID)
		AND EXISTS (SELECT 1 FROM lab_ra_subnet s WHERE s.ResourceID = h.ResourceID)`); n < 1 {
		t.Error("no client without hardware inventory that has discovery data")
	}
	// Discovery subnets agree with lab_subnet for ordinary hosts.
	if n := scalar(t, db, `SELECT COUNT(*) FROM lab_host h WHERE NOT EXISTS
		(SELECT 1 FROM lab_ra_subnet s WHERE s.ResourceID = h.ResourceID AND s.IP_Subnets0 = h.Subnet)`); n > 10 {
		t.Errorf("%d hosts whose discovery subnets miss their own subnet", n)
	}
	if n := scalar(t, db, `SELECT COUNT(*) FROM lab_subnet WHERE prefix_len NOT IN (23, 24, 25, 26)`); n != 0 {
		t.Errorf("%d subnets with unexpected prefix lengths", n)
	}
	if n := scalar(t, db, `SELECT COUNT(DISTINCT prefix_len) FROM lab_subnet`); n < 3 {
		t.Errorf("only %d distinct subnet sizes", n)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		hosts, updates int
		long           bool
	}{
		{2000, 200, false},
		{50000, 200, true},
	} {
		b.Run(fmt.Sprintf("hosts=%d/updates=%d", bc.hosts, bc.updates), func(b *testing.B) {
			if bc.long && testing.Short() {
				b.Log("the 50,000-host build runs without -short")
				return
			}
			dir := b.TempDir()
			var sum Summary
			for b.Loop() {
				var err error
				sum, err = Generate(context.Background(), filepath.Join(dir, "lab.db"),
					Options{Hosts: bc.hosts, Updates: bc.updates, Seed: 1, Force: true})
				if err != nil {
					b.Fatal(err)
				}
			}
			st, err := os.Stat(filepath.Join(dir, "lab.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(sum.StateRows), "state-rows")
			b.ReportMetric(float64(st.Size())/(1<<20), "MiB")
		})
	}
}

func TestGenerateTinyLabs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ hosts, updates int }{{1, 1}, {2, 3}, {7, 2}, {13, 9}} {
		t.Run(fmt.Sprintf("%dx%d", c.hosts, c.updates), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "lab.db")
			sum, err := Generate(context.Background(), path, Options{Hosts: c.hosts, Updates: c.updates, Seed: int64(c.hosts)})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Hosts != c.hosts || sum.Updates != c.updates || sum.Collections < 8 || sum.Locations != 6 {
				t.Errorf("summary %+v", sum)
			}
			db := openRO(t, path)
			if n := scalar(t, db, "SELECT COUNT(*) FROM v_R_System"); n != int64(c.hosts) {
				t.Errorf("%d hosts", n)
			}
			if n := scalar(t, db, "SELECT COUNT(*) FROM v_CIRelation WHERE RelationType = 1"); n < 1 {
				t.Error("empty software update group")
			}
		})
	}
}

// TestCatalogIDs checks, without a database, that every catalog size keeps ArticleIDs unique
// and BulletinIDs in MSyy-nnn form.
func TestCatalogIDs(t *testing.T) {
	t.Parallel()
	bulletin := regexp.MustCompile(`^MS1[3-7]-\d{3}$`)
	for _, n := range []int{1, 4, 40, 200, 2401, 10_000} {
		for _, seed := range []int64{0, 1, -9} {
			c := buildCatalog(Options{Updates: n, Seed: seed, PatchTuesday: DefaultOptions().PatchTuesday})
			seenKB, seenMS := map[string]bool{}, map[string]bool{}
			for _, u := range c.updates {
				if seenKB[u.article] || u.article == "" {
					t.Fatalf("%d updates, seed %d: ArticleID %q repeated or empty", n, seed, u.article)
				}
				seenKB[u.article] = true
				if u.bulletin != "" {
					if !bulletin.MatchString(u.bulletin) || seenMS[u.bulletin] {
						t.Fatalf("%d updates, seed %d: BulletinID %q malformed or repeated", n, seed, u.bulletin)
					}
					seenMS[u.bulletin] = true
				}
				if u.minVer < 1 || u.minVer > CatalogVersion {
					t.Fatalf("MinSourceVersion %d", u.minVer)
				}
			}
		}
	}
}
