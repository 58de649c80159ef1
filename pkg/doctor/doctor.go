// Package doctor checks a ConfigMgr site before patchnight's first night, read-only: the
// site database (login, version, every query of package queries described against its
// contract, vSMS_SUPSyncStatus, whether catalog versions step by one, MinSourceVersion,
// whether the site's not-required statuses follow patchnight's rule, whether the fast
// channel's times are UTC, the update group's deployment), the SMS Provider (and whether
// ObjectType 5000 holds device collection folders), a sample of clients over WinRM,
// whether inventory's address and mask lists pair by position, the Wake-on-LAN route per
// subnet and, on Windows, the scheduled tasks. Each check is a small function that
// returns results (ok, warn or fail, each with what to do); Run runs them in order.
// Nothing is written to the site: the checks only read, and their dependencies are
// injected (Options), so tests run them against a lab without the command line.
package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
	"github.com/patchnight/patchnight/queries"
)

// Status is the outcome of one check.
type Status string

// The outcomes. Run's report fails when any result is Fail; warnings do not fail it.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is one line of the report.
type Result struct {
	Check   string `json:"check"`             // sql, query, sup-sync, catalog-steps, min-source-version, not-required, fast-channel-times, update-group, exclude, plan, provider, provider-rights, folder-type, client, adapter-masks, wake, tasks
	Subject string `json:"subject,omitempty"` // the query, host, subnet or task it is about
	Status  Status `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"` // what to do; empty when there is nothing to do
	// Unconfirmed marks a check resting on a fact the reference marks unconfirmed: its
	// answer is the best read-only evidence, not a certainty.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

// Report is every result, in check order, and the counts.
type Report struct {
	Results []Result `json:"results"`
	OK      int      `json:"ok"`
	Warn    int      `json:"warn"`
	Fail    int      `json:"fail"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Fail > 0 }

func (r *Report) add(res ...Result) {
	for _, x := range res {
		switch x.Status {
		case OK:
			r.OK++
		case Warn:
			r.Warn++
		default:
			x.Status = Fail
			r.Fail++
		}
		r.Results = append(r.Results, x)
	}
}

// Grids renders the report as one table, one line per result.
func (r *Report) Grids() []output.Grid {
	g := output.Grid{Header: []string{"Status", "Check", "Subject", "Result", "What to do"}}
	for _, x := range r.Results {
		msg := x.Message
		if x.Unconfirmed {
			msg += " [unconfirmed]"
		}
		g.Rows = append(g.Rows, []string{string(x.Status), x.Check, x.Subject, msg, x.Fix})
	}
	g.Footer = []string{fmt.Sprintf("%d ok, %d warn, %d fail", r.OK, r.Warn, r.Fail), "", "", "", ""}
	return []output.Grid{g}
}

// Site is the site database as the checks read it (pkg/site.DB).
type Site interface {
	Info(ctx context.Context) (site.Info, error)
	Describe(ctx context.Context, c queries.Contract) ([]site.DescribedColumn, error)
	Each(ctx context.Context, name string, p site.Params, fn func(*sql.Rows) error) error
	LookupGroup(ctx context.Context, key string) ([]site.UpdateGroup, error)
	Clock(ctx context.Context) (site.Clock, error)
}

// Remote runs one of patchnight's scripts on a host over WinRM and decodes its one JSON
// object into out (pkg/remote.Client.Run). Every failure should be a *remote.Error.
type Remote interface {
	Run(ctx context.Context, host, script string, params, out any) error
}

// Task is a scheduled task registered under \patchnight\.
type Task struct {
	Name    string `json:"name"`     // \patchnight\...
	NextRun string `json:"next_run"` // as Task Scheduler prints it; "N/A" when none
	Status  string `json:"status"`
}

// Options are a run's inputs and dependencies. Site is required; a nil dependency skips
// its checks with a line that says so (a nil Tasks lists nothing: not on Windows).
type Options struct {
	Site Site
	// Group is the software update group of the night (plan group: a name or CI_ID);
	// empty warns.
	Group string

	// Provider and SiteCode reach the SMS Provider; Remote runs the scripts (on the
	// provider host and on clients).
	Remote   Remote
	Provider string
	SiteCode string

	// Clients: SkipClients skips the client checks; Hosts are probed when given,
	// otherwise Sample online clients (default 10). Qualify turns a site name into the
	// host name WinRM is reached at (the DNS suffix); nil leaves names alone.
	SkipClients bool
	Hosts       []string
	Sample      int
	Qualify     func(string) string
	Concurrency int // clients probed at once (default 8)

	// WakePlan plans a wake of every machine without sending anything (wol.Options.Plan
	// with the profile's mode and WakeOnline); nil skips the wake check.
	WakePlan func(ctx context.Context) (*wol.Plan, error)

	// Exclude lists the collections (IDs or names) nights leave alone, from the plan and
	// the profile; ResolveCollection looks one up (site.DB.ResolveCollection).
	Exclude           []string
	ResolveCollection func(ctx context.Context, key string) (*site.CollectionRef, error)

	// PlanWarnings are what the plan says about itself (night.Plan.Warnings: a follow-up
	// client repair that is unconfirmed), each listed as a warning.
	PlanWarnings []string

	// Tasks lists the scheduled tasks under \patchnight\; nil: the check is not listed.
	Tasks func(ctx context.Context) ([]Task, error)

	// Now is this machine's clock (time.Now when nil): the reference for clock skew and
	// the age of the last SUP sync.
	Now func() time.Time
	// Nonce is sent to each client and must come back (random when empty).
	Nonce string
}

// DefaultSample is how many online clients are probed without --host.
const DefaultSample = 10

// Run runs every check in order and returns the report. It returns an error only when
// ctx ends; a failing check is a result, not an error.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sample <= 0 {
		o.Sample = DefaultSample
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Qualify == nil {
		o.Qualify = func(s string) string { return s }
	}
	r := &Report{Results: []Result{}}
	checks := []func(context.Context, Options) []Result{
		checkSQL,
		checkQueries,
		checkSUPSync,
		checkCatalogSteps,
		checkMinSourceVersion,
		checkNotRequired,
		checkFastChannelTimes,
		checkUpdateGroup,
		checkExclusions,
		checkPlanWarnings,
		checkProvider,
		checkClients,
		checkAdapterMasks,
		checkWake,
		checkTasks,
	}
	for _, c := range checks {
		r.add(c(ctx, o)...)
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("doctor: %w", err)
		}
	}
	return r, nil
}

// oneLine folds an error text onto one line and bounds it.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}
