package runner_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/runner"
)

// settler is a test clock that also settles the lab after every action (dayClock,
// seenClock).
type settler interface {
	runner.Clock
	settle(ctx context.Context) error
}

// dayRunner builds a runner of plan p for month over e's lab on clock c, 32 hosts at once,
// with the notice steps wired to the lab's users (labNotices, the default policy); out,
// when set, takes the runner's lines.
func dayRunner(t testing.TB, e *env, p *night.Plan, month night.Month, c settler, out io.Writer) *runner.Runner {
	t.Helper()
	env := e.run.Env
	env.Clock, env.AfterAction = c, c.settle
	env.Concurrency = 32
	if out != nil {
		env.Out = out
	}
	r, err := runner.New(context.Background(), p, time.UTC, month, env)
	if err != nil {
		t.Fatal(err)
	}
	r.Env.Notifier = labNotices(e, r, notify.DefaultSettings(time.UTC))
	return r
}

// labNotices is the Notifier of r's notice steps over e's lab, as patchnight's commands wire
// it: the lab's site, journal, hosts and provider, r's clock and scope.
func labNotices(e *env, r *runner.Runner, settings *notify.Settings) *notify.Notices {
	return &notify.Notices{Site: e.db, Journal: e.j, Hosts: r.Env.Hosts, Provider: r.Env.Provider, Settings: settings,
		Now: r.Env.Clock.Now, Concurrency: 32, Threshold: settings.Threshold, Scope: r.Scope().ID}
}
