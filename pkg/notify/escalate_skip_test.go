package notify_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/notify"
)

// Escalations pending from an earlier run (recorded, not yet in the needs-attention
// collection) are not added to the collection while the machine is in the night's
// excluded collections (Skip); they stay recorded, and a run that no longer excludes the
// machine adds it. They used to be added whatever Skip said.
func TestPendingEscalationsOfExcludedMachinesWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		exclude func(escalated []string) []string
	}{
		{"one excluded", func(e []string) []string { return e[:1] }},
		{"all excluded", func(e []string) []string { return e }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, thursday)
			ctx := context.Background()
			settings, err := notify.DefaultSettings(time.UTC).WithThreshold(1)
			if err != nil {
				t.Fatal(err)
			}
			group, office := s.groupAndOffice(t)
			opt := notify.MissingOptions{Group: group, Collection: office}
			// Told once, then escalated by a run without an SMS Provider: recorded, pending.
			env := s.env(settings)
			env.Provider = nil
			if _, err := notify.Missing(ctx, env, opt); err != nil {
				t.Fatal(err)
			}
			s.clock.Advance(24 * time.Hour)
			res, err := notify.Missing(ctx, env, opt)
			if err != nil {
				t.Fatal(err)
			}
			escalated := outcomes(res, notify.OutcomeEscalated)
			if len(escalated) < 2 || res.CollectionError == "" {
				t.Fatalf("escalated %v, collection error %q: want two or more pending", escalated, res.CollectionError)
			}
			ids := map[string]int64{}
			for _, h := range res.Hosts {
				ids[h.Host] = h.ResourceID
			}
			excluded := tc.exclude(escalated)
			skip := map[int64]bool{}
			for _, h := range excluded {
				skip[ids[h]] = true
			}
			// check checks the collection's members and which escalations are still pending.
			check := func(when string, wantPending []string) {
				t.Helper()
				var want []string
				for _, h := range escalated {
					if !slices.Contains(wantPending, h) {
						want = append(want, h)
					}
				}
				if got, _ := attentionMembers(t, s); !slices.Equal(got, want) {
					t.Errorf("%s: needs-attention members %v, want %v", when, got, want)
				}
				es, err := s.j.Escalations(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var pending []string
				for _, e := range es {
					if e.CollectionID == "" && !slices.Contains(pending, e.Host) {
						pending = append(pending, e.Host)
					}
				}
				slices.Sort(pending)
				if !slices.Equal(pending, wantPending) {
					t.Errorf("%s: pending escalations of %v, want %v", when, pending, wantPending)
				}
			}
			// With the SMS Provider, some machines excluded: only the others are added.
			s.clock.Advance(24 * time.Hour)
			env.Provider = s.prov
			skipped := opt
			skipped.Skip = skip
			if _, err := notify.Missing(ctx, env, skipped); err != nil {
				t.Fatal(err)
			}
			check("excluded", slices.Sorted(slices.Values(excluded)))
			// No longer excluded: added.
			s.clock.Advance(24 * time.Hour)
			if _, err := notify.Missing(ctx, env, opt); err != nil {
				t.Fatal(err)
			}
			check("no longer excluded", nil)
		})
	}
}
