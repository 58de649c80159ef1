package runner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/runner"
)

// TestDryRunFollowUp: the dry run knows the follow-up's steps (issue 17): a follow-up step
// by its ID rehearses every day's occurrence, an occurrence ID that day's only, each with
// its action and targets read from the site; the whole night's rehearsal leaves the
// follow-up out, as Night does. It acts on nothing (no client, no wait, no journal).
func TestDryRunFollowUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := buildLab(t, 40)
	db := openLab(t, path)
	p := night.Default()
	if p.FollowUp == nil {
		t.Fatal("the default plan has no follow-up")
	}
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	r, err := runner.New(ctx, p, time.UTC, month, runner.Env{Site: db, Hosts: refuseHosts{t},
		Clock: stillClock{t, time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC)}, Concurrency: 4, HostTimeout: 20 * time.Second,
		StateDir: "/var/lib/patchnight"})
	if err != nil {
		t.Fatal(err)
	}
	follow := night.FollowUpTimeline(p, month, time.UTC)
	if len(follow) == 0 {
		t.Fatal("no follow-up occurrences")
	}
	whole, err := r.DryRun(ctx, runner.DryRunOptions{Provider: true, Notices: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Steps) != len(r.Timeline()) {
		t.Errorf("the whole night rehearses %d occurrences, the night has %d", len(whole.Steps), len(r.Timeline()))
	}
	for _, s := range whole.Steps {
		if p.IsFollowUp(s.Occurrence) {
			t.Errorf("the night's rehearsal has the follow-up occurrence %s", s.Occurrence)
		}
	}
	days := len(p.FollowUpDays(month))
	for _, st := range p.FollowUpSteps() {
		var first night.Occurrence
		for _, o := range follow {
			if o.StepID == st.ID {
				first = o
				break
			}
		}
		for _, tc := range []struct {
			only string
			want int
		}{{st.ID, days}, {first.ID, 1}} {
			t.Run(tc.only, func(t *testing.T) {
				d, err := r.DryRun(ctx, runner.DryRunOptions{Only: []string{tc.only}, Provider: true, Notices: true})
				if err != nil {
					t.Fatalf("dry run of %s: %v", tc.only, err)
				}
				if len(d.Steps) != tc.want {
					t.Fatalf("%d occurrences rehearsed, want %d", len(d.Steps), tc.want)
				}
				for _, s := range d.Steps {
					if s.Step != st.ID || s.Action != string(st.Action) || !strings.HasPrefix(s.Occurrence, st.ID+"-d") || s.At.Before(first.Time) {
						t.Errorf("rehearsed %+v for %s", s, tc.only)
					}
					if s.OnHosts && s.Targets == 0 && st.Action != night.NotifyMissing {
						t.Errorf("%s: no targets on a lab nobody patched", s.Occurrence)
					}
					// As the step runs: the follow-up acts on the machines online now.
					if s.OnHosts && st.Action != night.NotifyMissing && s.Online != s.Targets {
						t.Errorf("%s: %d targets, %d of them online: the follow-up wakes nobody", s.Occurrence, s.Targets, s.Online)
					}
					if st.RestartPrompt && (s.Restarts == nil || !s.Restarts.Prompted) {
						t.Errorf("%s: an install with the restart prompt rehearsed as %+v", s.Occurrence, s.Restarts)
					}
					if s.Problem != "" {
						t.Errorf("%s: problem %s", s.Occurrence, s.Problem)
					}
				}
				if d.Steps[0].Occurrence != first.ID || !d.Steps[0].At.Equal(first.Time) {
					t.Errorf("first occurrence %s at %s, want %s at %s", d.Steps[0].Occurrence, d.Steps[0].At, first.ID, first.Time)
				}
			})
		}
	}
	if _, err := r.DryRun(ctx, runner.DryRunOptions{Only: []string{"follow-up-nope"}}); err == nil {
		t.Error("a follow-up step the plan does not have was rehearsed")
	}
}
