package runner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
)

// dialLog is a Hosts that records which machines were dialled and refuses each (a client
// repair the test does not need to carry out).
type dialLog struct {
	mu     sync.Mutex
	dialed []string
}

func (d *dialLog) Client(host string) (client.Runner, func(), error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, host)
	d.mu.Unlock()
	return nil, nil, errors.New("refused by the test")
}

// TestRepairAsksOnlineMachinesOnce: the follow-up asks a messed-up machine for a client
// repair only while the site shows it online (an offline one is asked on a later step that
// finds it online, not dialled to time out), and a request the client answered, even with
// a refusal or a failed script, counts toward RepairEvery as an accepted one does; only a
// request that never reached the client (no connection, no answer) is asked again.
func TestRepairAsksOnlineMachinesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _, _ := siteLab(t, false, nil)
	j, err := journal.Open(ctx, filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	now := time.Date(2026, 12, 15, 11, 40, 0, 0, time.UTC) // PT+7, a Tuesday
	p := night.Default()
	fu := *p.FollowUp
	fu.RepairClient = true
	p.FollowUp = &fu
	hosts := &dialLog{}
	r.Plan, r.Loc, r.Month = p, time.UTC, night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	r.Env.Journal, r.Env.Clock, r.Env.Hosts = j, fixedClock(now), hosts
	r.Env.Concurrency, r.Env.HostTimeout, r.Env.Log = 4, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil))
	run, _, err := j.BeginRun(ctx, journal.RunSpec{Plan: p.Name, Month: "2026-12", PatchTuesday: "2026-12-08", TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	r.run = run
	earlier, _, err := j.BeginStep(ctx, journal.StepSpec{Run: run.ID, Step: "follow-up-install-1110", Occurrence: "follow-up-install-1110-d06",
		Action: "install", Planned: now.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// Yesterday's requests: refused by the method, the script failed, no connection, no answer.
	for host, out := range map[string]journal.Outcome{"PC-REFUSED": journal.OutcomeFailed, "PC-SCRIPT": journal.Script,
		"PC-UNREACHABLE": journal.Unreachable, "PC-TIMEOUT": journal.Timeout} {
		if err := j.Record(ctx, journal.HostOutcome{Run: run.ID, Step: earlier.ID, Host: host, Action: journal.ActionRepair,
			Outcome: out, Channel: "winrm", At: now.Add(-23 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	st, _, err := j.BeginStep(ctx, journal.StepSpec{Run: run.ID, Step: "follow-up-install-1110", Occurrence: "follow-up-install-1110-d07",
		Action: "install", Planned: now.Add(-30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	occ := night.Occurrence{ID: "follow-up-install-1110-d07", StepID: "follow-up-install-1110-d07", Step: night.Step{ID: "follow-up-install-1110", Action: night.Install}}
	messed := []MessedHost{
		{Host: "PC-OFFLINE", Kind: actInstall, ErrorCode: 1},
		{Host: "PC-ONLINE", Kind: actInstall, ErrorCode: 1, online: true},
		{Host: "PC-REFUSED", Kind: actInstall, ErrorCode: 1, online: true},
		{Host: "PC-SCRIPT", Kind: actScan, ErrorCode: 1, online: true},
		{Host: "PC-UNREACHABLE", Kind: actInstall, ErrorCode: 1, online: true},
		{Host: "PC-TIMEOUT", Kind: actInstall, ErrorCode: 1, online: true},
	}
	note, err := r.followUpRepair(ctx, occ, st, messed, journal.OK)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(hosts.dialed)
	if want := []string{"PC-ONLINE", "PC-TIMEOUT", "PC-UNREACHABLE"}; !slices.Equal(hosts.dialed, want) {
		t.Errorf("dialled %v, want %v", hosts.dialed, want)
	}
	if !strings.Contains(note, "3 failed, 1 offline") {
		t.Errorf("note %q", note)
	}
}
