package doctor

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/site"
)

// TestCheckCatalogSteps: the catalog versions clients last scanned, read from the lab's
// v_UpdateScanStatus, held against "current minus one" (how SyncCatalogVersion
// increments is unconfirmed, reference 3).
func TestCheckCatalogSteps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change string
		status Status
		words  []string
	}{
		{"clients one version behind", "", OK, []string{"right below the current 412", "step by one", "clients on the current version"}},
		{"a gap below the current version", "UPDATE lab_scan_status SET LastScanPackageVersion = 409 WHERE LastScanPackageVersion IN (410, 411)",
			Warn, []string{"no client on version 411", "nearest below the current 412 is 409, 3 versions behind", "finds nobody", "behind variant"}},
		{"everyone current", "UPDATE lab_scan_status SET LastScanPackageVersion = 412", Warn, []string{"current catalog version 412", "cannot tell", "next software update sync"}},
		{"no top SUP", "UPDATE lab_sup_sync SET WSUSSourceServer = 'sup00.lab'", Warn, []string{"no current catalog version", "sup-sync"}},
		{"SUP view unreadable", "DROP VIEW vSMS_SUPSyncStatus", Warn, []string{"no current catalog version", "vSMS_SUPSyncStatus unreadable", "sup-sync"}},
		{"nobody scanned", "DELETE FROM lab_scan_status", Warn, []string{"no client has a successful scan", "cannot tell"}},
		{"only failed scans", "UPDATE lab_scan_status SET LastScanState = 5", Warn, []string{"no client has a successful scan"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := labSite(t, tc.change)
			res := checkCatalogSteps(t.Context(), Options{Site: db})
			assertOne(t, res, "catalog-steps", tc.status, tc.words)
		})
	}
}

// TestCheckAdapterMasks: inventory's address and mask lists, read from the lab's
// v_GS_NETWORK_ADAPTER_CONFIGURATION, paired by position as the wake planner pairs them
// (inferred, reference 7).
func TestCheckAdapterMasks(t *testing.T) {
	t.Parallel()
	// some picks three IP-enabled dual-stack adapters.
	const some = `(SELECT ResourceID FROM lab_adapter WHERE IPEnabled = 1 AND IPSubnet LIKE '%, 64' ORDER BY ResourceID LIMIT 3)`
	tests := []struct {
		name   string
		change string
		status Status
		words  []string
	}{
		{"lists pair", "", OK, []string{"every IPv4 address meets a dotted mask", "every IPv6 address a prefix length"}},
		{"masks in the other order", "UPDATE lab_adapter SET IPSubnet = '64, 255.255.255.0' WHERE ResourceID IN " + some,
			Warn, []string{"3 of ", "do not pair by position", `"64, 255.255.255.0"`, "wol.mode relay or site"}},
		{"an address for a mask", "UPDATE lab_adapter SET IPSubnet = '255.255.0.255, 64' WHERE ResourceID IN " + some,
			Warn, []string{"do not pair by position", "255.255.0.255"}},
		{"some lists differ in length", "UPDATE lab_adapter SET IPSubnet = '255.255.255.0' WHERE ResourceID IN " + some,
			OK, []string{"every IPv4 address meets a dotted mask", "3 adapters whose lists differ in length get no mask"}},
		{"every list differs in length", "UPDATE lab_adapter SET IPSubnet = '255.255.255.0, 64, 64'",
			Warn, []string{"same length: cannot tell", "differ in length"}},
		{"no enabled adapter", "UPDATE lab_adapter SET IPEnabled = 0", Warn, []string{"no IP-enabled adapter", "Win32_NetworkAdapterConfiguration"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := labSite(t, tc.change)
			res := checkAdapterMasks(t.Context(), Options{Site: db})
			assertOne(t, res, "adapter-masks", tc.status, tc.words)
		})
	}
}

// TestAssumedChecksSchema: a site without the view fails the check with what to do.
func TestAssumedChecksSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		view  string
		check func(context.Context, Options) []Result
		words []string
	}{
		{"catalog-steps", "v_UpdateScanStatus", checkCatalogSteps, []string{"lacks v_UpdateScanStatus", "doctor_scan_versions"}},
		{"adapter-masks", "v_GS_NETWORK_ADAPTER_CONFIGURATION", checkAdapterMasks, []string{"lacks v_GS_NETWORK_ADAPTER_CONFIGURATION", "doctor_adapter_lists"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := labSite(t, "DROP VIEW "+tc.view)
			res := tc.check(t.Context(), Options{Site: db})
			if len(res) != 1 || res[0].Status != Fail || res[0].Check != tc.name {
				t.Fatalf("got %+v, want one failed %s", res, tc.name)
			}
			for _, w := range tc.words {
				if text := res[0].Message + " | " + res[0].Fix; !strings.Contains(text, w) {
					t.Errorf("%q lacks %q", text, w)
				}
			}
		})
	}
}

// TestMasksAddress: which mask an address takes.
func TestMasksAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr, mask string
		want       bool
	}{
		{"10.1.2.3", "255.255.255.0", true},
		{"10.1.2.3", "255.255.254.0", true},
		{"10.1.2.3", "255.255.255.255", true},
		{"10.1.2.3", "0.0.0.0", true},
		{"10.1.2.3", "64", false},
		{"10.1.2.3", "255.0.255.0", false},
		{"10.1.2.3", "10.1.2.0", false},
		{"fe80::1", "64", true},
		{"fe80::1", "128", true},
		{"fe80::1", "129", false},
		{"fe80::1", "255.255.255.0", false},
		{"not an address", "255.255.255.0", false},
	}
	for _, tc := range tests {
		if got := masksAddress(tc.addr, tc.mask); got != tc.want {
			t.Errorf("masksAddress(%q, %q) = %v, want %v", tc.addr, tc.mask, got, tc.want)
		}
	}
}

// assertOne holds the one result of a check: its name, status, words in its message or
// fix, what to do when it warns, and the unconfirmed mark.
func assertOne(t *testing.T, res []Result, check string, status Status, words []string) {
	t.Helper()
	if len(res) != 1 {
		t.Fatalf("%d results: %+v", len(res), res)
	}
	r := res[0]
	text := r.Message + " | " + r.Fix
	t.Logf("%s %s: %s", r.Check, r.Status, text)
	if r.Check != check || r.Status != status {
		t.Errorf("%s %s, want %s %s: %s", r.Check, r.Status, check, status, text)
	}
	for _, w := range words {
		if !strings.Contains(text, w) {
			t.Errorf("%q lacks %q", text, w)
		}
	}
	if r.Status != OK && r.Fix == "" {
		t.Errorf("a %s without what to do: %s", r.Status, r.Message)
	}
	if !r.Unconfirmed {
		t.Errorf("not marked unconfirmed: %+v", r)
	}
}

// TestCheckNotRequired: patchnight's rule for updates without a compliance row, held
// against the lab's v_Update_ComplianceStatusAll on online clients (the exact rule is
// unconfirmed, reference 1.2). The lab's All view follows the reference; the cases put
// another rule in its place, as a site could have one.
func TestCheckNotRequired(t *testing.T) {
	t.Parallel()
	allView := func(missing string) string {
		return `DROP VIEW v_Update_ComplianceStatusAll;
			CREATE VIEW v_Update_ComplianceStatusAll AS
			SELECT u.CI_ID, s.ResourceID, COALESCE(ucs.Status, ` + missing + `) AS Status
			FROM lab_update u CROSS JOIN lab_host s
			LEFT JOIN v_UpdateComplianceStatus ucs ON ucs.CI_ID = u.CI_ID AND ucs.ResourceID = s.ResourceID
			WHERE s.IsClient = 1 AND u.CIType_ID = 1;`
	}
	tests := []struct {
		name   string
		change string
		status Status
		words  []string
	}{
		{"the site follows the rule", "", OK, []string{"gives every one of", "update statuses as patchnight derives them"}},
		{"the site says not required without a scan", allView("1") + " DELETE FROM lab_scan_status",
			Warn, []string{"differs from patchnight's rule", "not required where patchnight says unknown", "e.g. CI_ID", "report it"}},
		{"the site says unknown without a row", allView("0"),
			Warn, []string{"differs from patchnight's rule", "unknown where patchnight says not required"}},
		{"no All view", "DROP VIEW v_Update_ComplianceStatusAll", Warn, []string{"cannot compare", "lacks v_Update_ComplianceStatusAll", "nothing patchnight runs needs", "cannot be made"}},
		{"nobody online", "UPDATE lab_host SET Power = 'off'", Warn, []string{"no client online"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := labSite(t, tc.change)
			res := checkNotRequired(t.Context(), Options{Site: db})
			assertOne(t, res, "not-required", tc.status, tc.words)
		})
	}
}

// TestCheckNotRequiredNoMinSourceVersion: without v_UpdateCIs.MinSourceVersion the rule
// cannot be held against the site; the min-source-version line says what to do.
func TestCheckNotRequiredNoMinSourceVersion(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lab.db")
	if _, err := lab.Generate(t.Context(), path, lab.Options{Hosts: 10, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.DropViewColumn(t.Context(), raw, "v_UpdateCIs", "MinSourceVersion"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := site.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res := checkNotRequired(t.Context(), Options{Site: db})
	assertOne(t, res, "not-required", Warn, []string{"cannot compare", "lacks the column MinSourceVersion", "see the min-source-version line"})
}

// TestCheckFolderType: what provider-doctor finds in console folders of ObjectType 5000
// (the community's value for device collection folders, unconfirmed, reference 5) decides
// the folder-type line.
func TestCheckFolderType(t *testing.T) {
	t.Parallel()
	const base = `{"providers":[],"namespace":"root\\sms\\site_ABC","namespacePresent":true,"owned":[],"ownedTotal":0,` +
		`"canCreate":true,"permissionError":"",`
	tests := []struct {
		name   string
		folder string // the folder part of the answer
		status Status
		words  []string
	}{
		{"device collections", `"folderItems":[{"instanceKey":"ABC00012","collectionType":2},{"instanceKey":"ABC00013","collectionType":2}],"folderTotal":40,"folderError":""`,
			OK, []string{"2 of the 40 objects in folders of ObjectType 5000 looked up: all are device collections"}},
		{"a user collection", `"folderItems":[{"instanceKey":"ABC00012","collectionType":2},{"instanceKey":"ABC00014","collectionType":1}],"folderTotal":2,"folderError":""`,
			Fail, []string{"not the device collection folder type", "1 are device collections", "ABC00014 (CollectionType 1)", "do not run collections apply"}},
		{"not a collection", `"folderItems":[{"instanceKey":"ABC00002","collectionType":null}],"folderTotal":1,"folderError":""`,
			Fail, []string{"ABC00002 (no collection)"}},
		{"a stale item beside device collections", `"folderItems":[{"instanceKey":"ABC00012","collectionType":2},{"instanceKey":"ABC000FF","collectionType":null}],"folderTotal":2,"folderError":""`,
			Warn, []string{"1 are device collections, 1 no collection: ABC000FF (no collection)", "left behind by deleted collections"}},
		{"many others", `"folderItems":[{"instanceKey":"P1","collectionType":null},{"instanceKey":"P2","collectionType":null},{"instanceKey":"P3","collectionType":null},{"instanceKey":"P4","collectionType":null}],"folderTotal":4,"folderError":""`,
			Fail, []string{"P1 (no collection), P2 (no collection), P3 (no collection), ..."}},
		{"no folders", `"folderItems":[],"folderTotal":0,"folderError":""`, Warn, []string{"nothing is in a console folder", "cannot tell", "run doctor again"}},
		{"older provider-doctor answer", `"x":0`, Warn, []string{"nothing is in a console folder"}},
		{"cannot read", `"folderItems":[],"folderTotal":0,"folderError":"SMS_ObjectContainerItem: access denied"`, Warn, []string{"could not read the console folders", "access denied"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := Options{Remote: fakeRemote{answer: base + tc.folder + "}"}, Provider: "cm01", SiteCode: "ABC"}
			var got []Result
			for _, r := range checkProvider(t.Context(), o) {
				if r.Check == "folder-type" {
					got = append(got, r)
				}
			}
			assertOne(t, got, "folder-type", tc.status, tc.words)
			if got[0].Subject != "cm01" {
				t.Errorf("subject %q", got[0].Subject)
			}
		})
	}
}
