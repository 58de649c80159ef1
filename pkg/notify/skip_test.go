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
	var group, office, officeID string
	if err := s.lab.DB.QueryRow(`SELECT Title FROM v_AuthListInfo ORDER BY CI_ID LIMIT 1`).Scan(&group); err != nil {
		t.Fatal(err)
	}
	if err := s.lab.DB.QueryRow(`SELECT Name, CollectionID FROM v_Collection WHERE Name LIKE 'Location - %' ORDER BY MemberCount, Name LIMIT 1`).Scan(&office, &officeID); err != nil {
		t.Fatal(err)
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
	dry, err := notify.Missing(ctx, env, notify.MissingOptions{Group: group, Collection: office, DryRun: true})
	if err != nil || len(dry.Hosts) == 0 {
		t.Fatalf("without Skip the office has %d machines to tell (%v): the test proves nothing", len(dry.Hosts), err)
	}
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
