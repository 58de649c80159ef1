package wol

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

// The collection is resolved once, in Go, from an ID or a name in any spelling; the
// set-based queries then compare one CollectionID, and the plan carries the ID the site
// calls need (issue 11, fix 11). Both wol queries read through wol's own scanners with bit
// columns (and, in the strict pass, flags of unconfirmed type) read back as bool.
func TestWolResolvesTheCollectionAndReadsSiteTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lab.db")
	if _, err := lab.Generate(ctx, path, lab.Options{Hosts: 120, Seed: 6}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []site.LabOptions{{}, {FlagsAsBool: true}} {
		db, err := site.OpenLab(ctx, path, o)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, key := range []string{"LAB00010", "lab00010", "patch - all workstations"} {
			tg, err := LoadTargets(ctx, db, Selection{Collection: key})
			if err != nil {
				t.Fatalf("%+v: targets of %q: %v", o, key, err)
			}
			if tg.CollectionID != "LAB00010" || len(tg.Hosts) == 0 {
				t.Fatalf("%+v: targets of %q: collection %q, %d hosts", o, key, tg.CollectionID, len(tg.Hosts))
			}
			if !slices.ContainsFunc(tg.Hosts, func(h Host) bool { return h.Online }) {
				t.Errorf("%+v: no target online: the online flag was not exercised", o)
			}
			opt := DefaultOptions()
			opt.Collection = key
			p, err := opt.PlanTargets(tg)
			if err != nil {
				t.Fatal(err)
			}
			if p.Collection != "LAB00010" {
				t.Errorf("%+v: the plan for %q carries collection %q, want the ID", o, key, p.Collection)
			}
			online, err := readOnline(ctx, db, p.Collection)
			if err != nil || len(online) == 0 {
				t.Fatalf("%+v: online in %s: %d, %v", o, p.Collection, len(online), err)
			}
		}
		if _, err := LoadTargets(ctx, db, Selection{Collection: "no such collection"}); err == nil {
			t.Error("an unknown collection was accepted")
		}
		for _, q := range queries.ReadByPackage("pkg/wol") {
			if !slices.Contains(db.Ran(), q) {
				t.Errorf("%+v: query %s, read by pkg/wol, did not run", o, q)
			}
		}
	}
}
