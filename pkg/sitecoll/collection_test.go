package sitecoll_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab/labprovider"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/pwsh"
	"github.com/patchnight/patchnight/pkg/sitecoll"
)

// independentMissing counts, straight from v_UpdateComplianceStatus, the machines missing
// each KB article of the lab's software update group.
func independentMissing(t *testing.T, l *testLab) map[string]int64 {
	t.Helper()
	rows, err := l.rw.Query(`
		SELECT ui.ArticleID,
		       (SELECT COUNT(DISTINCT ucs.ResourceID) FROM v_UpdateComplianceStatus ucs
		        JOIN v_UpdateInfo u2 ON u2.CI_ID = ucs.CI_ID
		        WHERE u2.ArticleID = ui.ArticleID AND ucs.Status = 2)
		FROM v_UpdateInfo ui
		WHERE ui.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr JOIN v_AuthListInfo al ON al.CI_ID = cr.FromCIID
		                   WHERE al.Title = ? AND cr.RelationType = 1)
		GROUP BY ui.ArticleID`, labGroup)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var a string
		var n int64
		if err := rows.Scan(&a, &n); err != nil {
			t.Fatal(err)
		}
		out["KB"+a] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("the lab's update group has no updates")
	}
	return out
}

func labCount(t *testing.T, l *testLab, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := l.rw.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func labIDs(t *testing.T, l *testLab, q string, args ...any) []int64 {
	t.Helper()
	rows, err := l.rw.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func build(t *testing.T, l *testLab, req sitecoll.Request) *sitecoll.Plan {
	t.Helper()
	if req.Now.IsZero() {
		req.Now = labNow
	}
	p, err := sitecoll.Build(context.Background(), l.site, defs(t), req)
	if err != nil {
		t.Fatalf("Build(%+v): %v", req, err)
	}
	return p
}

func changeOf(p *sitecoll.Plan, family, key string) *sitecoll.Change {
	for i := range p.Changes {
		if p.Changes[i].Family == family && p.Changes[i].Key == key {
			return &p.Changes[i]
		}
	}
	return nil
}

// Acceptance: plan --group <lab SUG> lists one missing-update collection per update with
// member counts equal to an independent count from v_UpdateComplianceStatus.
func TestPlanGroupOneCollectionPerUpdate(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	want := independentMissing(t, l)
	p := build(t, l, sitecoll.Request{Families: []string{"missing-update"}, Group: labGroup})
	if p.Group == nil || p.Group.Title != labGroup {
		t.Fatalf("plan group = %+v", p.Group)
	}
	got := map[string]int64{}
	for _, c := range p.Changes {
		if c.Family != "missing-update" || c.Action != sitecoll.Create {
			t.Errorf("unexpected change %+v", c)
			continue
		}
		ref := strings.TrimPrefix(c.Key, "2026-12/")
		got[ref] = c.Members
		if !strings.Contains(c.Name, ref) || !strings.Contains(c.Name, "2026-12") {
			t.Errorf("name %q does not name %s and the month", c.Name, ref)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d collections for %d updates", len(got), len(want))
	}
	for ref, n := range want {
		if got[ref] != n {
			t.Errorf("%s: plan says %d members, v_UpdateComplianceStatus says %d", ref, got[ref], n)
		}
	}
	var nonzero int
	for _, n := range want {
		if n > 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("every update has 0 missing: the test proves nothing")
	}
	// The table form names every collection.
	var b bytes.Buffer
	if err := output.Write(&b, output.Table, p); err != nil {
		t.Fatal(err)
	}
	for ref := range want {
		if !strings.Contains(b.String(), ref) {
			t.Errorf("table lacks %s", ref)
		}
	}
	// Nothing was written by planning.
	if n := labCount(t, l, `SELECT COUNT(*) FROM lab_collection WHERE Comment LIKE '%patchnight:%'`); n != 0 {
		t.Fatalf("planning wrote %d collections", n)
	}
}

// Acceptance: apply, then plan again shows no changes; a second apply is a no-op; the
// members are the machines the rules select.
func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ctx := context.Background()
	prov, runner := newProvider(t, l)
	req := sitecoll.Request{Group: labGroup}
	p := build(t, l, req)
	if p.Pending() == 0 {
		t.Fatal("first plan has nothing to do")
	}
	res, err := sitecoll.Apply(ctx, p, prov, sitecoll.ApplyOptions{Wait: time.Minute, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if runner.count(provider.ScriptCollections) != 1 {
		t.Fatalf("apply made %d provider-collections calls, want 1", runner.count(provider.ScriptCollections))
	}
	if len(res.NotEvaluated) != 0 || len(res.Collections) != p.Pending() {
		t.Fatalf("result: %d written, not evaluated %v", len(res.Collections), res.NotEvaluated)
	}
	for _, a := range res.Collections {
		if !a.Evaluated || a.Members != a.Expected {
			t.Errorf("%s: evaluated %v, %d members, planned %d", a.Name, a.Evaluated, a.Members, a.Expected)
		}
	}

	again := build(t, l, req)
	if again.Pending() != 0 {
		var b bytes.Buffer
		output.Write(&b, output.Table, again)
		t.Fatalf("plan after apply still has %d changes:\n%s", again.Pending(), b.String())
	}
	res2, err := sitecoll.Apply(ctx, again, prov, sitecoll.ApplyOptions{})
	if err != nil || !res2.NoOp {
		t.Fatalf("second apply: %+v, %v", res2, err)
	}
	if runner.count(provider.ScriptCollections) != 1 {
		t.Fatal("second apply called the provider")
	}

	// collections members shows the machines missing the update (acceptance of the lab).
	want := independentMissing(t, l)
	for _, c := range again.Changes {
		if c.Family != "missing-update" {
			continue
		}
		ml, err := sitecoll.Members(ctx, l.site, c.CollectionID)
		if err != nil {
			t.Fatal(err)
		}
		ref := strings.TrimPrefix(c.Key, "2026-12/")
		if int64(len(ml.Members)) != want[ref] {
			t.Errorf("members of %s: %d, want %d", c.Name, len(ml.Members), want[ref])
		}
		article := strings.TrimPrefix(ref, "KB")
		missing := labIDs(t, l, `SELECT DISTINCT s.ResourceID FROM lab_update_state s JOIN lab_update u ON u.CI_ID = s.CI_ID
			WHERE u.ArticleID = ? AND s.Status = 2`, article)
		var got []int64
		for _, m := range ml.Members {
			got = append(got, m.ResourceID)
			if m.Direct {
				t.Errorf("%s: member %d is direct in a query collection", c.Name, m.ResourceID)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, missing) {
			t.Errorf("members of %s differ from the lab's missing machines", c.Name)
		}
	}
}

// Acceptance: the scan-behind collection after apply holds exactly the clients whose
// LastScanPackageVersion is below the current SyncCatalogVersion (from the lab tables).
func TestScanBehindMembers(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ctx := context.Background()
	prov, _ := newProvider(t, l)
	p := build(t, l, sitecoll.Request{Families: []string{"scan-behind"}})
	if _, err := sitecoll.Apply(ctx, p, prov, sitecoll.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	p = build(t, l, sitecoll.Request{Families: []string{"scan-behind"}})
	if p.Pending() != 0 {
		t.Fatalf("%d changes after apply", p.Pending())
	}
	const cur = `(SELECT MAX(SyncCatalogVersion) FROM lab_sup_sync WHERE WSUSSourceServer = 'Microsoft Update')`
	const clients = `SELECT h.ResourceID FROM lab_host h
		JOIN lab_scan_status s ON s.ResourceID = h.ResourceID
		JOIN lab_update_source src ON src.UpdateSource_ID = s.UpdateSource_ID AND src.IsPublishingEnabled = 1
		WHERE h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0 AND `
	for _, tc := range []struct {
		key, where string
	}{
		{"behind", "s.LastScanPackageVersion < " + cur},
		{"one-behind", "s.LastScanPackageVersion = " + cur + " - 1"},
		{"failed", "(s.LastScanState <> 3 OR s.LastErrorCode <> 0)"},
	} {
		c := changeOf(p, "scan-behind", tc.key)
		if c == nil {
			t.Fatalf("no scan-behind %s collection", tc.key)
		}
		want := labIDs(t, l, clients+tc.where)
		got := labIDs(t, l, `SELECT ResourceID FROM lab_collection_member WHERE CollectionID = ?`, c.CollectionID)
		if len(want) == 0 {
			t.Errorf("%s: the lab has no such clients; the test proves nothing", tc.key)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: collection %s has %d members, the lab tables say %d", tc.key, c.CollectionID, len(got), len(want))
		}
		if n := labCount(t, l, `SELECT COUNT(*) FROM lab_collection_member WHERE CollectionID = ? AND IsDirect = 1`, c.CollectionID); n != int64(len(got)) {
			t.Errorf("%s: %d of %d members are direct", tc.key, n, len(got))
		}
	}
	never := changeOf(p, "scan-behind", "never")
	want := labIDs(t, l, `SELECT h.ResourceID FROM lab_host h WHERE h.IsClient = 1 AND NOT EXISTS (
		SELECT 1 FROM lab_scan_status s JOIN lab_update_source src ON src.UpdateSource_ID = s.UpdateSource_ID
		WHERE s.ResourceID = h.ResourceID AND src.IsPublishingEnabled = 1)`)
	got := labIDs(t, l, `SELECT ResourceID FROM lab_collection_member WHERE CollectionID = ?`, never.CollectionID)
	if !slices.Equal(got, want) {
		t.Errorf("never scanned: %v, want %v", got, want)
	}

	// A client scans the current catalog: the next plan removes exactly it.
	behind := changeOf(p, "scan-behind", "behind")
	members := labIDs(t, l, `SELECT ResourceID FROM lab_collection_member WHERE CollectionID = ?`, behind.CollectionID)
	if _, err := l.rw.Exec(`UPDATE lab_scan_status SET LastScanPackageVersion = `+cur+` WHERE ResourceID = ?`, members[0]); err != nil {
		t.Fatal(err)
	}
	p = build(t, l, sitecoll.Request{Families: []string{"scan-behind"}})
	c := changeOf(p, "scan-behind", "behind")
	if c.Action != sitecoll.UpdateMembers || !slices.Equal(c.RemoveDirect, members[:1]) || len(c.AddDirect) != 0 {
		t.Fatalf("after a fresh scan: %+v", c)
	}
}

// Every bad input is refused with a usage error before anything is written.
func TestRefusedBeforeWriting(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	custom := func(yaml string) *collections.Set {
		fams, err := collections.Parse("test.yaml", []byte(yaml))
		if err != nil {
			t.Fatalf("custom definitions: %v", err)
		}
		s, err := collections.NewSet(fams...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	night := func(family, name, limit string) string {
		return "  - family: " + family + "\n    rule: logged-on\n    name: \"" + name + "\"\n    comment: c\n" +
			"    limiting_collection: " + limit + "\n    sql: night_logged_on\n"
	}
	for _, tc := range []struct {
		name string
		defs *collections.Set
		req  sitecoll.Request
		msg  string
	}{
		{"quote in update id", nil, sitecoll.Request{Updates: []string{`5071330"`}}, "is not an update id"},
		{"backslash in update id", nil, sitecoll.Request{Updates: []string{`5071330\`}}, "is not an update id"},
		{"wildcard in update id", nil, sitecoll.Request{Updates: []string{"50713%"}}, "is not an update id"},
		{"underscore wildcard", nil, sitecoll.Request{Updates: []string{"KB507133_"}}, "is not an update id"},
		{"WQL keyword in update id", nil, sitecoll.Request{Updates: []string{"5071330 or 1=1"}}, "is not an update id"},
		{"update not in the site", nil, sitecoll.Request{Updates: []string{"KB9999999"}}, "not in the site database"},
		{"group does not exist", nil, sitecoll.Request{Group: "Patch Tuesday 1999-01"}, "does not exist"},
		{"missing-update without updates", nil, sitecoll.Request{Families: []string{"missing-update"}}, "name the updates"},
		{"unknown family", nil, sitecoll.Request{Families: []string{"nope"}}, "is not defined"},
		{"bad month", nil, sitecoll.Request{Month: "2026-13"}, "month"},
		{"group without a missing-update family", nil, sitecoll.Request{Families: []string{"scan-behind"}, Group: labGroup}, "none is selected"},
		{"limiting collection does not exist", custom("families:\n" + night("a", "A", "LAB0FFFF")), sitecoll.Request{}, "limiting collection LAB0FFFF"},
		{"duplicate names", custom("families:\n" + night("a", "Same", "SMS00001") + night("b", "same", "SMS00001")), sitecoll.Request{}, "would both be named"},
		{"name held by a collection patchnight does not own", custom("families:\n" + night("a", "Patch - Pilot", "SMS00001")),
			sitecoll.Request{}, "not managed by patchnight"},
	} {
		d := tc.defs
		if d == nil {
			d = defs(t)
		}
		tc.req.Now = labNow
		_, err := sitecoll.Build(context.Background(), l.site, d, tc.req)
		if err == nil || exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v (code %d), want a usage error with %q", tc.name, err, exit.Code(err), tc.msg)
		}
	}
	if n := labCount(t, l, `SELECT COUNT(*) FROM lab_collection WHERE Comment LIKE '%patchnight:%'`); n != 0 {
		t.Fatalf("%d collections written", n)
	}
}

// A collection whose owner tag an admin removed is no longer patchnight's: the plan refuses
// to reuse its name, and the provider double refuses to change it.
func TestForeignCollectionsAreNeverTouched(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ctx := context.Background()
	prov, _ := newProvider(t, l)
	req := sitecoll.Request{Families: []string{"pending-restart"}}
	if _, err := sitecoll.Apply(ctx, build(t, l, req), prov, sitecoll.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	id := build(t, l, req).Changes[0].CollectionID
	if _, err := l.rw.Exec(`UPDATE lab_collection SET Comment = 'taken over by the desktop team' WHERE CollectionID = ?`, id); err != nil {
		t.Fatal(err)
	}
	_, err := sitecoll.Build(ctx, l.site, defs(t), sitecoll.Request{Families: []string{"pending-restart"}, Now: labNow})
	if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "not managed by patchnight") {
		t.Fatalf("plan over a foreign collection: %v", err)
	}
	// Directly: the provider double checks the tag itself.
	before := labCount(t, l, `SELECT COUNT(*) FROM lab_collection_rule_query WHERE CollectionID = ?`, id)
	_, err = prov.ApplyCollections(ctx, provider.CollectionsRequest{
		Collections: []provider.CollectionChange{{Key: "x", CollectionID: id, OwnerTag: "[patchnight:pending-restart]", RemoveQueryIDs: []uint32{1}}},
	})
	var le *labprovider.Error
	if !errors.As(err, &le) || le.Code != "not-owned" {
		t.Fatalf("provider change of a foreign collection: %v", err)
	}
	if after := labCount(t, l, `SELECT COUNT(*) FROM lab_collection_rule_query WHERE CollectionID = ?`, id); after != before {
		t.Fatal("the refused request changed rules")
	}
	_, err = prov.ApplyCollections(ctx, provider.CollectionsRequest{Deletes: []provider.CollectionDelete{{CollectionID: "LAB00012", OwnerTag: "[patchnight:x]"}}})
	if !errors.As(err, &le) || le.Code != "not-owned" {
		t.Fatalf("delete of a foreign collection: %v", err)
	}
}

// Drift on an owned collection (renamed, rule edited, direct rule removed, moved) is
// planned as an update and repaired by apply.
func TestDriftIsRepaired(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ctx := context.Background()
	prov, _ := newProvider(t, l)
	req := sitecoll.Request{Families: []string{"failed-install", "logged-on"}}
	if _, err := sitecoll.Apply(ctx, build(t, l, req), prov, sitecoll.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	p := build(t, l, req)
	failed, logged := changeOf(p, "failed-install", ""), changeOf(p, "logged-on", "")
	for _, q := range []string{
		`UPDATE lab_collection SET Name = 'renamed', ObjectPath = '/elsewhere' WHERE CollectionID = '` + failed.CollectionID + `'`,
		`UPDATE lab_collection_rule_query SET QueryExpression = 'select * from SMS_R_System' WHERE CollectionID = '` + failed.CollectionID + `'`,
		`DELETE FROM lab_collection_rule_direct WHERE ResourceID = (SELECT MIN(ResourceID) FROM lab_collection_rule_direct WHERE CollectionID = '` + logged.CollectionID + `')`,
		`INSERT INTO lab_collection_rule_direct VALUES ('` + logged.CollectionID + `', 999999999, 'ghost')`,
	} {
		if _, err := l.rw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	p = build(t, l, req)
	f := changeOf(p, "failed-install", "")
	if f.Action != sitecoll.Update || !f.SetProps || !f.SetQuery || !f.Move || len(f.RemoveQuery) != 1 {
		t.Fatalf("failed-install drift: %+v", f)
	}
	g := changeOf(p, "logged-on", "")
	if g.Action != sitecoll.UpdateMembers || len(g.AddDirect) != 1 || !slices.Equal(g.RemoveDirect, []int64{999999999}) {
		t.Fatalf("logged-on drift: %+v", g)
	}
	if _, err := sitecoll.Apply(ctx, p, prov, sitecoll.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := build(t, l, req); p.Pending() != 0 {
		t.Fatalf("drift not repaired: %+v", p.Changes)
	}
	var name, path string
	if err := l.rw.QueryRow(`SELECT Name, ObjectPath FROM lab_collection WHERE CollectionID = ?`, failed.CollectionID).Scan(&name, &path); err != nil {
		t.Fatal(err)
	}
	if name != "patchnight - Night - Failed installs" || path != "/patchnight/Night" {
		t.Fatalf("after repair: %q in %q", name, path)
	}
}

// Prune deletes owned collections of other months, only when confirmed.
func TestPrune(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ctx := context.Background()
	prov, _ := newProvider(t, l)
	nov := sitecoll.Request{Families: []string{"missing-update"}, Updates: []string{"KB" + firstArticle(t, l)}, Month: "2026-11"}
	if _, err := sitecoll.Apply(ctx, build(t, l, nov), prov, sitecoll.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	dec := sitecoll.Request{Families: []string{"missing-update"}, Group: labGroup}
	if _, err := sitecoll.Apply(ctx, build(t, l, dec), prov, sitecoll.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// Without prune, November's collection is listed as stale and left alone.
	p := build(t, l, dec)
	if p.Pending() != 0 {
		t.Fatalf("%d changes", p.Pending())
	}
	var stale *sitecoll.Change
	for i := range p.Changes {
		if p.Changes[i].Action == sitecoll.Stale {
			stale = &p.Changes[i]
		}
	}
	if stale == nil || !strings.HasPrefix(stale.Key, "2026-11/") {
		t.Fatalf("no stale November collection: %+v", p.Changes)
	}
	// Prune with only the month (no group): deletes November, keeps December.
	pr := build(t, l, sitecoll.Request{Families: []string{"missing-update"}, Prune: true}).Deletes()
	if len(pr.Changes) != 1 || pr.Changes[0].CollectionID != stale.CollectionID {
		t.Fatalf("prune plan: %+v", pr.Changes)
	}
	if _, err := sitecoll.Apply(ctx, pr, prov, sitecoll.ApplyOptions{}); exit.Code(err) != exit.Usage {
		t.Fatalf("prune without --yes or a confirmation: %v", err)
	}
	asked := 0
	res, err := sitecoll.Apply(ctx, pr, prov, sitecoll.ApplyOptions{Confirm: func(p *sitecoll.Plan) (bool, error) {
		asked++
		return false, nil
	}})
	if err != nil || !res.Cancelled || asked != 1 {
		t.Fatalf("declined prune: %+v, %v, asked %d", res, err, asked)
	}
	if n := labCount(t, l, `SELECT COUNT(*) FROM lab_collection WHERE CollectionID = ?`, stale.CollectionID); n != 1 {
		t.Fatal("declined prune deleted")
	}
	res, err = sitecoll.Apply(ctx, pr, prov, sitecoll.ApplyOptions{Yes: true})
	if err != nil || !slices.Equal(res.Deleted, []string{stale.CollectionID}) {
		t.Fatalf("prune: %+v, %v", res, err)
	}
	for _, tbl := range []string{"lab_collection", "lab_collection_member", "lab_collection_rule_query"} {
		if n := labCount(t, l, `SELECT COUNT(*) FROM `+tbl+` WHERE CollectionID = ?`, stale.CollectionID); n != 0 {
			t.Errorf("%s still has %d rows of the pruned collection", tbl, n)
		}
	}
	list, err := sitecoll.List(ctx, l.site, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Collections {
		if strings.Contains(c.Owner, "2026-11") {
			t.Errorf("still listed: %+v", c)
		}
	}
	if len(list.Collections) != len(independentMissing(t, l)) {
		t.Errorf("%d owned collections listed", len(list.Collections))
	}
}

func firstArticle(t *testing.T, l *testLab) string {
	t.Helper()
	var a string
	if err := l.rw.QueryRow(`SELECT MIN(ArticleID) FROM lab_update WHERE CIType_ID = 1 AND ArticleID <> ''`).Scan(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

// Apply waits until the provider reports the collections evaluated, within the bound.
func TestApplyWaitsForEvaluation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		slowPolls int
		wait      time.Duration
		evaluated bool
	}{
		{"ready after three polls", 3, time.Minute, true},
		{"not ready within the bound", 1 << 30, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			r := &slowStatus{labRunner: labRunner{db: l.rw, now: labNow}, slow: tc.slowPolls}
			prov, err := provider.New(r, "LAB")
			if err != nil {
				t.Fatal(err)
			}
			p := build(t, l, sitecoll.Request{Families: []string{"needs-attention"}})
			res, err := sitecoll.Apply(context.Background(), p, prov, sitecoll.ApplyOptions{Wait: tc.wait, Poll: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Collections[0].Evaluated; got != tc.evaluated || (len(res.NotEvaluated) == 0) != tc.evaluated {
				t.Fatalf("evaluated %v, not evaluated %v", got, res.NotEvaluated)
			}
			if tc.evaluated && r.count(provider.ScriptCollectionStatus) != tc.slowPolls+1 {
				t.Fatalf("%d status reads", r.count(provider.ScriptCollectionStatus))
			}
		})
	}
}

// slowStatus answers the first `slow` status reads with "refreshing".
type slowStatus struct {
	labRunner
	slow int
}

func (s *slowStatus) Run(ctx context.Context, script string, params any, out any) error {
	if err := s.labRunner.Run(ctx, script, params, out); err != nil {
		return err
	}
	if script == provider.ScriptCollectionStatus && s.count(script) <= s.slow {
		st := out.(*provider.CollectionStatusResponse)
		for i := range st.Collections {
			st.Collections[i].CurrentStatus = 2
		}
	}
	return nil
}

func TestExport(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	p := build(t, l, sitecoll.Request{Group: labGroup})
	var ps, js bytes.Buffer
	if err := p.Export(&ps, "ps1"); err != nil {
		t.Fatal(err)
	}
	if err := p.Export(&js, "json"); err != nil {
		t.Fatal(err)
	}
	if err := p.Export(&bytes.Buffer{}, "xml"); exit.Code(err) != exit.Usage {
		t.Fatalf("xml: %v", err)
	}
	script := ps.String()
	for _, want := range []string{"New-CMDeviceCollection", "Add-CMDeviceCollectionQueryMembershipRule",
		"Add-CMDeviceCollectionDirectMembershipRule", "New-CMFolder", "Move-CMObject", "Invoke-CMCollectionUpdate",
		"New-CMSchedule", pwsh.Quote("patchnight - Night - Logged on"), "[patchnight:scan-behind:one-behind]"} {
		if !strings.Contains(script, want) {
			t.Errorf("ps1 export lacks %q", want)
		}
	}
	for _, d := range p.Desired {
		if d.Query != "" && !strings.Contains(script, pwsh.Quote(d.Query)) {
			t.Errorf("ps1 export lacks the quoted query of %s", d.Name)
		}
	}
	path := filepath.Join(t.TempDir(), "collections.ps1")
	if err := os.WriteFile(path, ps.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// CI parses the generated PowerShell (node .ci/pslint/lint.mjs) from this folder.
	if dir := os.Getenv("PATCHNIGHT_PSLINT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "collections-export.ps1"), ps.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var doc struct {
		Month       string `json:"month"`
		Collections []struct {
			Name        string             `json:"name"`
			Membership  string             `json:"membership"`
			QueryRule   *map[string]string `json:"query_rule"`
			DirectRules []sitecoll.Member  `json:"direct_rules"`
			Members     int                `json:"members"`
		} `json:"collections"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Month != "2026-12" || len(doc.Collections) != len(p.Desired) {
		t.Fatalf("json export: month %q, %d collections", doc.Month, len(doc.Collections))
	}
	for _, c := range doc.Collections {
		switch c.Membership {
		case "query":
			if c.QueryRule == nil {
				t.Errorf("%s: no query rule", c.Name)
			}
		case "direct":
			if len(c.DirectRules) != c.Members {
				t.Errorf("%s: %d direct rules for %d members", c.Name, len(c.DirectRules), c.Members)
			}
		}
	}
}

func TestListMembersPreview(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ctx := context.Background()
	all, err := sitecoll.List(ctx, l.site, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Collections) == 0 || all.Collections[0].Owner != "" {
		t.Fatalf("list: %+v", all.Collections)
	}
	m, err := sitecoll.Members(ctx, l.site, "Patch - Pilot")
	if err != nil {
		t.Fatal(err)
	}
	pilot := labIDs(t, l, `SELECT ResourceID FROM lab_collection_rule_direct WHERE CollectionID = 'LAB00012'`)
	if len(m.Members) != len(pilot) || len(m.Members) == 0 || !m.Members[0].Direct {
		t.Fatalf("pilot members %+v, want %v", m.Members, pilot)
	}
	if _, err := sitecoll.Members(ctx, l.site, "no such collection"); exit.Code(err) != exit.Usage {
		t.Fatalf("unknown collection: %v", err)
	}
	pv, err := sitecoll.Preview(ctx, l.site, defs(t), sitecoll.Request{Families: []string{"nobody-logged-on"}, Now: labNow})
	if err != nil {
		t.Fatal(err)
	}
	want := labIDs(t, l, `SELECT ResourceID FROM lab_host WHERE IsClient = 1 AND Power = 'on' AND COALESCE(CurrentUser, '') = ''`)
	var got []int64
	for _, x := range pv.Collections[0].Members {
		got = append(got, x.ResourceID)
	}
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("preview of nobody-logged-on: %d members, lab says %d", len(got), len(want))
	}
	for _, v := range []output.Tabular{all, m, pv} {
		var b bytes.Buffer
		if err := output.Write(&b, output.Table, v); err != nil || b.Len() == 0 {
			t.Fatalf("render %T: %v", v, err)
		}
	}
	if n := labCount(t, l, `SELECT COUNT(*) FROM lab_collection WHERE Comment LIKE '%patchnight:%'`); n != 0 {
		t.Fatal("preview wrote")
	}
}

// The lab evaluates each query rule shape with the SQL twin its family names.
func TestLabTwinsMatchDefinitions(t *testing.T) {
	t.Parallel()
	want := map[collections.Rule]string{
		collections.MissingUpdate:  "collection_missing_update",
		collections.PendingRestart: "night_enforcement_state",
		collections.FailedInstall:  "night_enforcement_state",
	}
	for _, f := range defs(t).Families {
		if f.Membership() != collections.Query {
			continue
		}
		if want[f.Rule] != f.SQL {
			t.Errorf("family %s evaluates with %s in the lab, previews with %s", f.Name, want[f.Rule], f.SQL)
		}
	}
}

// When the fleet changes, the lab's evaluation follows it: a machine that installed the
// update leaves the missing-update collection.
func TestLabRefreshFollowsTheFleet(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	ctx := context.Background()
	prov, _ := newProvider(t, l)
	art := firstArticle(t, l)
	req := sitecoll.Request{Updates: []string{art}, Families: []string{"missing-update"}}
	if _, err := sitecoll.Apply(ctx, build(t, l, req), prov, sitecoll.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	c := build(t, l, req).Changes[0]
	before := labIDs(t, l, `SELECT ResourceID FROM lab_collection_member WHERE CollectionID = ?`, c.CollectionID)
	if len(before) == 0 {
		t.Fatal("nobody misses the update")
	}
	if _, err := l.rw.Exec(`UPDATE lab_update_state SET Status = 3, Truth = 2 WHERE ResourceID = ? AND CI_ID IN
		(SELECT CI_ID FROM lab_update WHERE ArticleID = ?)`, before[0], art); err != nil {
		t.Fatal(err)
	}
	ids, err := labprovider.Refresh(ctx, l.rw, labNow.Add(time.Hour))
	if err != nil || !slices.Contains(ids, c.CollectionID) {
		t.Fatalf("labprovider.Refresh = %v, %v", ids, err)
	}
	after := labIDs(t, l, `SELECT ResourceID FROM lab_collection_member WHERE CollectionID = ?`, c.CollectionID)
	if !slices.Equal(after, before[1:]) {
		t.Fatalf("after the install: %d members, want %d", len(after), len(before)-1)
	}
	if p := build(t, l, req); p.Pending() != 0 || p.Changes[0].Members != int64(len(after)) || p.Changes[0].Current != int64(len(after)) {
		t.Fatalf("plan after refresh: %+v", p.Changes[0])
	}
}

// Without updates, an unfiltered plan leaves missing-update out and says so; the plan
// renders as JSON with the changes.
func TestPlanWithoutUpdates(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	p := build(t, l, sitecoll.Request{})
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "missing-update") {
		t.Fatalf("notes %v", p.Notes)
	}
	for _, c := range p.Changes {
		if c.Family == "missing-update" {
			t.Fatalf("missing-update planned without updates: %+v", c)
		}
	}
	var b bytes.Buffer
	if err := output.Write(&b, output.JSON, p); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Changes []sitecoll.Change `json:"changes"`
		Notes   []string          `json:"notes"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back.Changes) != len(p.Changes) || len(back.Notes) != 1 {
		t.Fatalf("json: %v, %d changes", err, len(back.Changes))
	}
	if back.Changes[0].Action != sitecoll.Create || back.Changes[0].Members < 0 {
		t.Fatalf("first change %+v", back.Changes[0])
	}
}

// An update named by bulletin gets a rule on SMS_SoftwareUpdate.BulletinID; its members are
// the machines missing any CI of that bulletin.
func TestPlanByBulletin(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	var b string
	if err := l.rw.QueryRow(`SELECT MIN(BulletinID) FROM lab_update WHERE COALESCE(BulletinID, '') <> ''`).Scan(&b); err != nil || b == "" {
		t.Fatalf("the lab has no bulletin: %v", err)
	}
	p := build(t, l, sitecoll.Request{Updates: []string{strings.ToLower(b)}})
	c := changeOf(p, "missing-update", "2026-12/"+b)
	if c == nil {
		t.Fatalf("no collection for %s: %+v", b, p.Changes)
	}
	want := labCount(t, l, `SELECT COUNT(DISTINCT s.ResourceID) FROM lab_update_state s JOIN lab_update u ON u.CI_ID = s.CI_ID
		WHERE u.BulletinID = ? AND s.Status = 2`, b)
	if c.Members != want {
		t.Fatalf("%s: %d members, want %d", b, c.Members, want)
	}
	var q string
	for _, d := range p.Desired {
		if d.Key == c.Key {
			q = d.Query
		}
	}
	if !strings.Contains(q, `SMS_SoftwareUpdate.BulletinID = "`+b+`"`) {
		t.Fatalf("query %q", q)
	}
	prov, _ := newProvider(t, l)
	if _, err := sitecoll.Apply(context.Background(), p, prov, sitecoll.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	got := build(t, l, sitecoll.Request{Updates: []string{b}})
	if got.Pending() != 0 || changeOf(got, "missing-update", "2026-12/"+b).Current != want {
		t.Fatalf("after apply: %+v", got.Changes)
	}
}
