package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/notify"
)

// TestSkipLeavesExcludedMachinesAlone: the machines a night excludes (Skip) are neither
// told nor counted by the Thursday notice and the watcher.
func TestSkipLeavesExcludedMachinesAlone(t *testing.T) {
	t.Parallel()
	s := newSite(t, thursday)
	ctx := context.Background()
	settings := notify.DefaultSettings(time.UTC)
	settings.Method = notify.MethodMsg
	env := s.env(settings)
	var group string
	if err := s.lab.DB.QueryRow(`SELECT Title FROM v_AuthListInfo ORDER BY CI_ID LIMIT 1`).Scan(&group); err != nil {
		t.Fatal(err)
	}
	// The office: the smallest one where, without Skip, the Thursday notice has machines to
	// tell and the watcher has machines behind on their scan (dry runs, which send and record
	// nothing); otherwise either half of the test would pass without proving anything.
	offices, err := s.lab.DB.Query(`SELECT Name, CollectionID FROM v_Collection WHERE Name LIKE 'Location - %' ORDER BY MemberCount, Name`)
	if err != nil {
		t.Fatal(err)
	}
	type loc struct{ name, id string }
	var all []loc
	for offices.Next() {
		var o loc
		if err := offices.Scan(&o.name, &o.id); err != nil {
			t.Fatal(err)
		}
		all = append(all, o)
	}
	offices.Close()
	var office, officeID string
	for _, o := range all {
		dry, err := notify.Missing(ctx, env, notify.MissingOptions{Group: group, Collection: o.name, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		watch, err := notify.WatchPass(ctx, env, notify.WatchOptions{Collection: o.name, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(dry.Hosts) > 0 && len(watch.Hosts) > 0 && watch.Pass.Behind > 0 {
			office, officeID = o.name, o.id
			break
		}
	}
	if office == "" {
		t.Fatal("no office has machines to tell and machines behind on their scan: the test proves nothing")
	}
	if n := len(s.lab.Notices()); n != 0 {
		t.Fatalf("the dry runs sent %d notices", n)
	}
	skip := map[int64]bool{}
	rows, err := s.lab.DB.Query(`SELECT ResourceID FROM v_FullCollectionMembership WHERE CollectionID = ?`, officeID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		skip[id] = true
	}
	rows.Close()
	res, err := notify.Missing(ctx, env, notify.MissingOptions{Group: group, Collection: office, Skip: skip})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hosts) != 0 || res.Notified != 0 || len(s.lab.Notices()) != 0 {
		t.Errorf("Missing with every machine skipped: %d hosts, %d told, %d lab notices", len(res.Hosts), res.Notified, len(s.lab.Notices()))
	}
	pass, err := notify.WatchPass(ctx, env, notify.WatchOptions{Collection: office, Skip: skip})
	if err != nil {
		t.Fatal(err)
	}
	if len(pass.Hosts) != 0 || pass.Pass.Behind != 0 || len(s.lab.Notices()) != 0 {
		t.Errorf("watch pass with every machine skipped: %d hosts, %d behind", len(pass.Hosts), pass.Pass.Behind)
	}
}
