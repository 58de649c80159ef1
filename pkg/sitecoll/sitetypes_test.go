package sitecoll_test

import (
	"context"
	"slices"
	"testing"

	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/sitecoll"
	"github.com/patchnight/patchnight/queries"
)

// Every query pkg/sitecoll reads (its own and the families' SQL twins) runs through the
// package's scanners with bit columns read back as bool, and flags of unconfirmed type as
// bool too in the strict pass: the planner reads IsExpired and IsSuperseded (bit on SQL
// Server), IsBuiltIn, IsDirect and Client0.
func TestCollectionsReadSiteTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLab(t)
	art := firstArticle(t, l)
	for _, o := range []site.LabOptions{{}, {FlagsAsBool: true}} {
		db, err := site.OpenLab(ctx, l.path, o)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		all, err := sitecoll.List(ctx, db, false)
		if err != nil {
			t.Fatalf("%+v: list: %v", o, err)
		}
		if !slices.ContainsFunc(all.Collections, func(c sitecoll.Listed) bool { return c.BuiltIn }) {
			t.Errorf("%+v: no built-in collection listed: IsBuiltIn was not exercised", o)
		}
		m, err := sitecoll.Members(ctx, db, "all systems")
		if err != nil || len(m.Members) == 0 {
			t.Fatalf("%+v: members: %v", o, err)
		}
		if !slices.ContainsFunc(m.Members, func(x sitecoll.ListedMember) bool { return x.Client }) {
			t.Errorf("%+v: no client member: Client0 was not exercised", o)
		}
		for _, req := range []sitecoll.Request{
			{Group: labGroup, Now: labNow},
			{Updates: []string{art}, Families: []string{"missing-update"}, Now: labNow},
		} {
			if _, err := sitecoll.Preview(ctx, db, defs(t), req); err != nil {
				t.Errorf("%+v: preview %+v: %v", o, req, err)
			}
		}
		for _, q := range queries.ReadByPackage("pkg/sitecoll") {
			if !slices.Contains(db.Ran(), q) {
				t.Errorf("%+v: query %s, read by pkg/sitecoll, did not run", o, q)
			}
		}
	}
}
