package labsite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/labsite"
)

// TestNewSessionIsWiredToTheSite: the lab session opens the lab's database, a journal on
// the lab's clock, hosts and the SMS Provider on the lab's endpoint, and a clock whose
// Sleep moves the lab's simulated time.
func TestNewSessionIsWiredToTheSite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lab.db")
	sum, err := lab.Generate(ctx, path, lab.Options{Hosts: 10, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	clock := labsite.NewClock(sum.Now)
	ls, err := labsite.Start(ctx, path, labsite.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	sess := ls.NewSession(labsite.SessionOptions{SiteCode: sum.SiteCode, StateDir: filepath.Join(t.TempDir(), "state"),
		Concurrency: 4, HostTimeout: 10 * time.Second})
	defer sess.Close()
	env, err := sess.RunnerEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if env.Site == nil || env.Journal == nil || env.Hosts == nil || env.Wol.Conn == nil || env.Wol.Relayer == nil {
		t.Fatalf("runner env not wired: %+v", env)
	}
	if env.Provider == nil || env.Wol.Site == nil {
		t.Fatal("the lab's SMS Provider is not wired")
	}
	if env.SiteCode != sum.SiteCode || env.Concurrency != 4 || env.HostTimeout != 10*time.Second {
		t.Errorf("site code %q, concurrency %d, host timeout %s", env.SiteCode, env.Concurrency, env.HostTimeout)
	}
	if _, err := env.Provider.ClientOperationStatus(ctx, 1); err != nil {
		t.Errorf("a provider call through the session: %v", err)
	}
	before := clock.Now()
	if err := sess.Clock().Sleep(ctx, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now().Sub(before); got != 30*time.Minute {
		t.Errorf("Sleep(30m) moved the lab clock by %s", got)
	}
	if !sess.Now().Equal(clock.Now()) {
		t.Errorf("session time %s, lab clock %s", sess.Now(), clock.Now())
	}
	run, _, err := env.Journal.BeginRun(ctx, journal.RunSpec{Plan: "p", Month: "2026-12", PatchTuesday: "2026-12-08", TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if !run.Started.Equal(clock.Now()) {
		t.Errorf("journal time %s, want the lab clock's %s", run.Started, clock.Now())
	}
}
