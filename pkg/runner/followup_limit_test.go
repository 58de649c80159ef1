package runner_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/runner"
)

// stuckHosts are clients whose every call waits until its context ends: a step over them
// runs until its time limit.
type stuckHosts struct{}

func (stuckHosts) Client(string) (client.Runner, func(), error) { return stuckClient{}, func() {}, nil }

type stuckClient struct{}

func (stuckClient) Run(ctx context.Context, _ string, _, _ any) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestFollowUpInstallAtItsLimit: a follow-up install step that reaches its time limit ends
// "aborted", with the machines not reached in its note, as any step does; the follow-up's
// bookkeeping after it (the messed-up list, the needs-attention collection, client repair)
// waits for the next install step instead of running on the step's ended context (before,
// it failed there, and the step ended "failed" with "context deadline exceeded").
func TestFollowUpInstallAtItsLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := buildLab(t, 40)
	db := openLab(t, path)
	j, err := journal.Open(ctx, filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	p := night.Default()
	month := night.MonthOf(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	var occ night.Occurrence
	for _, o := range night.FollowUpTimeline(p, month, time.UTC) {
		if o.Step.Action == night.Install {
			occ = o
			break
		}
	}
	occ.Step.Limit = 300 * time.Millisecond // the clients never answer: the step runs until its limit
	r, err := runner.New(ctx, p, time.UTC, month, runner.Env{Site: db, Journal: j, Hosts: stuckHosts{},
		Clock: stillClock{t, occ.Time}, Concurrency: 4, HostTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.RunOccurrence(ctx, occ)
	if err != nil {
		t.Fatal(err)
	}
	if res.Step.Status != journal.Aborted || !strings.Contains(res.Step.Note, "not reached before the step's time limit") {
		t.Errorf("%s at its limit ended %s: %s", occ.ID, res.Step.Status, res.Step.Note)
	}
}
