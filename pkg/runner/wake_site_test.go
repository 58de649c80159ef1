package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/runner"
	"github.com/patchnight/patchnight/pkg/wol"
)

// siteWake wakes through the provider's MachinesToWakeup and keeps what the site said.
type siteWake struct {
	p         *provider.Provider
	sleepers  []uint32
	requested []int
}

func (s *siteWake) WakeSite(ctx context.Context, req wol.SiteRequest) (int, error) {
	n, err := s.p.MachinesToWakeup(ctx, req.CollectionID, req.ResourceIDs)
	s.sleepers, s.requested = append(s.sleepers, n), append(s.requested, len(req.ResourceIDs))
	return int(n), err
}

// The night's wake step in site mode reports NumSleepers as the site answered it.
func TestWakeStepThroughSiteReportsNumSleepers(t *testing.T) {
	t.Parallel()
	const plan = `name: site-wake
steps:
  - id: wake
    at: PT 18:00
    action: wake
    collection: Patch - Laptops
`
	ctx := context.Background()
	p, err := night.Parse("site-wake.yaml", []byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	path := buildLab(t, 120)
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	clock := labsite.NewClock(night.Timeline(p, month, time.UTC)[0].Time.Add(-time.Minute))
	ls, err := labsite.Start(ctx, path, labsite.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	sess := ls.NewSession(labsite.SessionOptions{SiteCode: "LAB", StateDir: filepath.Join(t.TempDir(), "state"),
		Concurrency: 8, HostTimeout: 20 * time.Second})
	defer sess.Close()
	se, err := sess.RunnerEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	j := se.Journal
	sw := &siteWake{p: se.Provider}
	r, err := runner.New(ctx, p, time.UTC, month, runner.Env{Site: se.Site, Journal: j, Hosts: hosts{h: se.Hosts}, Provider: se.Provider,
		Wol: wol.Transports{Site: sw}, WolMode: wol.ModeSite, Clock: labClock{clock, ls}, SiteCode: se.SiteCode,
		Concurrency: se.Concurrency, HostTimeout: se.HostTimeout, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Night(ctx); err != nil {
		t.Fatal(err)
	}
	if len(sw.sleepers) != 1 || sw.requested[0] == 0 {
		t.Fatalf("site wake calls: sleepers %v for %v requested", sw.sleepers, sw.requested)
	}
	steps, err := j.Steps(ctx, r.Run().ID)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("the site woke through awake clients: %d sleepers", sw.sleepers[0])
	found := false
	for _, s := range steps {
		if s.Occurrence == "wake" {
			found = true
			if !strings.Contains(s.Note, want) {
				t.Errorf("wake step note %q does not say %q", s.Note, want)
			}
		}
	}
	if !found {
		t.Errorf("no wake step in the journal: %+v", steps)
	}
	t.Logf("%d requested, the site reported %d sleepers", sw.requested[0], sw.sleepers[0])
}
