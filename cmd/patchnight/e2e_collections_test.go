package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
)

// collectionPlan is the JSON of collections plan.
type collectionPlan struct {
	Month   string `json:"month"`
	Updates []struct {
		Ref       string  `json:"ref"`
		ArticleID string  `json:"article_id"`
		CIs       []int64 `json:"ci_ids"`
	} `json:"updates"`
	Changes []struct {
		Action       string `json:"action"`
		Family       string `json:"family"`
		Key          string `json:"key"`
		Name         string `json:"name"`
		CollectionID string `json:"collection_id"`
		Members      int64  `json:"members"`
		Current      int64  `json:"current_members"`
	} `json:"changes"`
}

func (p *collectionPlan) pending() int {
	n := 0
	for _, c := range p.Changes {
		if c.Action != "none" && c.Action != "stale" {
			n++
		}
	}
	return n
}

// TestE2ECollections is issue 4's acceptance against a lab site: collections plan for the
// lab's software update group lists one missing-update collection per update of the
// group, with member counts equal to an independent count of v_UpdateComplianceStatus
// (Status 2) in the lab file; collections apply writes them through the SMS Provider
// double over WinRM; plan then shows nothing to change and a second apply is a no-op; the
// scan-behind collection holds exactly the clients whose LastScanPackageVersion is below
// the current SyncCatalogVersion (lab tables); and collections export --format ps1 writes
// the script (into $PATCHNIGHT_PSLINT_DIR when set, where .ci/pslint.sh parses it).
func TestE2ECollections(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 300, seed: 51})
	sug := e.rows(`SELECT CI_ID, Title FROM lab_update WHERE CIType_ID = 9`)
	if len(sug) != 1 {
		t.Fatalf("the lab has %d software update groups, want 1", len(sug))
	}
	group := sug[0][1]
	const month = "2026-12"

	// Independent count: per update CI of the group, the machines v_UpdateComplianceStatus
	// says require it; per article, the distinct machines of its CIs.
	perCI := e.keyed(`SELECT r.ToCIID, COALESCE(u.ArticleID, ''), (SELECT COUNT(*) FROM v_UpdateComplianceStatus s
			WHERE s.CI_ID = r.ToCIID AND s.Status = 2)
		FROM lab_cirelation r JOIN lab_update u ON u.CI_ID = r.ToCIID
		WHERE r.FromCIID = ? AND r.RelationType = 1`, sug[0][0])
	perArticle := e.keyed(`SELECT 'KB' || u.ArticleID, COUNT(DISTINCT s.ResourceID) FROM lab_update u
		LEFT JOIN v_UpdateComplianceStatus s ON s.CI_ID = u.CI_ID AND s.Status = 2
		WHERE u.ArticleID IN (SELECT u2.ArticleID FROM lab_cirelation r JOIN lab_update u2 ON u2.CI_ID = r.ToCIID
			WHERE r.FromCIID = ? AND r.RelationType = 1)
		GROUP BY u.ArticleID`, sug[0][0])
	if len(perCI) < 5 {
		t.Fatalf("the group has %d updates", len(perCI))
	}

	var plan collectionPlan
	e.runJSON(&plan, 0, "collections", "plan", "--group", group, "--month", month)
	byRef := map[string]int64{}
	for _, c := range plan.Changes {
		if c.Family != "missing-update" {
			continue
		}
		ref := strings.TrimPrefix(c.Key, month+"/")
		if _, dup := byRef[ref]; dup {
			t.Errorf("two missing-update collections for %s", ref)
		}
		byRef[ref] = c.Members
		if c.Action != "create" || c.CollectionID != "" || !strings.Contains(c.Name, ref) || !strings.Contains(c.Name, month) {
			t.Errorf("missing-update %s: %+v, want a new collection named after the update and the month", ref, c)
		}
	}
	if len(byRef) != len(perArticle) {
		t.Errorf("%d missing-update collections for %d updates in %q", len(byRef), len(perArticle), group)
	}
	nonZero := 0
	for ref, n := range perArticle {
		want, _ := strconv.ParseInt(n, 10, 64)
		if got, ok := byRef[ref]; !ok || got != want {
			t.Errorf("missing-update %s: %d members in the plan, %d in v_UpdateComplianceStatus", ref, got, want)
		}
		if want > 0 {
			nonZero++
		}
	}
	for ci, row := range perCI {
		f := strings.Split(row, "|")
		if perArticle["KB"+f[0]] != f[1] {
			t.Errorf("CI %s (KB%s): %s required, its article %s: the lab has several CIs per article", ci, f[0], f[1], perArticle["KB"+f[0]])
		}
	}
	if nonZero < 3 {
		t.Errorf("only %d updates are missing anywhere: the test proves little", nonZero)
	}
	for _, u := range plan.Updates {
		if len(u.CIs) == 0 || perCI[strconv.FormatInt(u.CIs[0], 10)] == "" {
			t.Errorf("update %s names CIs %v that are not in the group", u.Ref, u.CIs)
		}
	}

	// apply, then plan again: nothing to change; apply again: a no-op.
	var applied struct {
		NoOp        bool `json:"no_op"`
		Collections []struct {
			Action       string `json:"action"`
			Family       string `json:"family"`
			Name         string `json:"name"`
			CollectionID string `json:"collection_id"`
			Expected     int64  `json:"expected_members"`
			Members      int64  `json:"members"`
		} `json:"collections"`
	}
	e.runJSON(&applied, 0, "collections", "apply", "--yes", "--group", group, "--month", month, "--wait", "0")
	if applied.NoOp || len(applied.Collections) != plan.pending() {
		t.Fatalf("apply wrote %d collections (no-op %v), the plan had %d changes", len(applied.Collections), applied.NoOp, plan.pending())
	}
	ids := map[string]string{}
	for _, a := range applied.Collections {
		ids[a.Name] = a.CollectionID
		if a.Members != a.Expected {
			t.Errorf("apply %s (%s): %d members, %d expected", a.Name, a.CollectionID, a.Members, a.Expected)
		}
		if got := e.count(`SELECT COUNT(*) FROM lab_collection WHERE CollectionID = ? AND Name = ? AND Comment LIKE '%[patchnight:%'`, a.CollectionID, a.Name); got != 1 {
			t.Errorf("apply %s: the lab has no owned collection %s", a.Name, a.CollectionID)
		}
	}
	var again collectionPlan
	out, _ := e.runJSON(&again, 0, "collections", "plan", "--group", group, "--month", month)
	if again.pending() != 0 {
		t.Errorf("plan after apply has %d changes:\n%s", again.pending(), out)
	}
	for _, c := range again.Changes {
		if c.Family == "missing-update" && (c.CollectionID == "" || c.Current != byRef[strings.TrimPrefix(c.Key, month+"/")]) {
			t.Errorf("after apply, %s (%s) has %d members, the plan wanted %d", c.Name, c.CollectionID, c.Current, byRef[strings.TrimPrefix(c.Key, month+"/")])
		}
	}
	if table, stderr, code := e.run("collections", "plan", "--group", group, "--month", month); code != 0 || !strings.Contains(table, ": 0 to change (no changes)") {
		t.Errorf("plan table after apply (exit %d, %s):\n%s", code, stderr, table)
	}
	var second struct {
		NoOp bool `json:"no_op"`
	}
	e.runJSON(&second, 0, "collections", "apply", "--yes", "--group", group, "--month", month, "--wait", "0")
	if !second.NoOp {
		t.Error("the second apply was not a no-op")
	}

	// The scan-behind collection holds exactly the clients behind the current catalog.
	behindName := "patchnight - Scan behind the current catalog"
	id := ids[behindName]
	if id == "" {
		t.Fatalf("apply wrote no %q; it wrote %v", behindName, ids)
	}
	var members struct {
		Collection struct {
			ID string `json:"id"`
		} `json:"collection"`
		Members []struct {
			Name   string `json:"name"`
			Direct bool   `json:"direct"`
		} `json:"members"`
	}
	e.runJSON(&members, 0, "collections", "members", behindName)
	got := map[string]bool{}
	for _, m := range members.Members {
		got[strings.ToUpper(m.Name)] = true
		if !m.Direct {
			t.Errorf("%s is not a direct member", m.Name)
		}
	}
	behind := e.set(`SELECT UPPER(h.Name) FROM lab_host h JOIN lab_scan_status s ON s.ResourceID = h.ResourceID
		AND s.UpdateSource_ID = ` + publishSource + `
		WHERE h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0
		  AND s.LastScanPackageVersion < ` + currentCatalog)
	if len(behind) == 0 {
		t.Fatal("no client of the lab is behind")
	}
	if d := diffSets(got, behind); d != "" {
		t.Errorf("members of %s vs clients behind the current catalog: %s", behindName, d)
	}
	var byID struct {
		Members []struct{} `json:"members"`
	}
	e.runJSON(&byID, 0, "collections", "members", id)
	if len(byID.Members) != len(behind) {
		t.Errorf("members %s (by ID): %d, by name %d", id, len(byID.Members), len(behind))
	}

	// export: a PowerShell script that creates the collections.
	ps1, stderr, code := e.run("collections", "export", "--format", "ps1", "--group", group, "--month", month)
	if code != 0 {
		t.Fatalf("collections export: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"New-CMDeviceCollection", "Add-CMDeviceCollectionQueryMembershipRule", "Add-CMDeviceCollectionDirectMembershipRule", behindName, "[patchnight:"} {
		if !strings.Contains(ps1, want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	if dir := os.Getenv("PATCHNIGHT_PSLINT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "e2e-collections.ps1"), []byte(ps1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, code := e.run("collections", "export", "--format", "yaml", "--group", group); code != exit.Usage || !strings.Contains(stderr, "not an export format") {
		t.Errorf("export --format yaml: exit %d %s", code, stderr)
	}
	if _, stderr, code := e.run("collections", "plan", "--group", "No such group"); code != exit.Usage || !strings.Contains(stderr, "does not exist") {
		t.Errorf("plan for an unknown group: exit %d %s", code, stderr)
	}
}
